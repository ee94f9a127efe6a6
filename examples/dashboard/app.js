// A small client of latch's GraphQL API, served from its own origin. Every call goes
// to latch with `credentials: 'include'`, so the session cookie latch sets travels.
//
// Settings come from the address bar: ?latch=http://127.0.0.1:8080&providers=google,github
const params = new URLSearchParams(location.search);
const LATCH = (params.get('latch') || 'http://127.0.0.1:8080').replace(/\/$/, '');
const PROVIDERS = (params.get('providers') || '').split(',').map((p) => p.trim()).filter(Boolean);
// This page's address without `error` (where latch sends the browser back).
const keep = new URLSearchParams();
for (const k of ['latch', 'providers']) if (params.get(k)) keep.set(k, params.get(k));
const HERE = location.origin + location.pathname + (keep.toString() ? `?${keep}` : '');

const $ = (id) => document.getElementById(id);

class LatchError extends Error {
  constructor(body) {
    super(body.message || 'Something went wrong.');
    this.code = body.code;
    this.reason = body.reason;
    this.fields = body.fields;
  }
}

async function gql(query, variables = {}) {
  let res;
  try {
    res = await fetch(`${LATCH}/graphql`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new LatchError({ message: `latch (${LATCH}) cannot be reached from this page.` });
  }
  const body = await res.json().catch(() => null);
  if (!body) throw new LatchError({ message: 'latch answered with something unexpected.' });
  if (!res.ok) throw new LatchError(body); // REST-shaped: Origin check, body limit
  if (body.errors && body.errors.length) {
    const e = body.errors[0];
    throw new LatchError({ ...(e.extensions || {}), message: e.message });
  }
  return body.data;
}

function flash(text, kind = 'ok') {
  const el = $('flash');
  el.textContent = text;
  el.className = kind;
  el.hidden = !text;
}

function showError(err) {
  const details = err.fields ? Object.values(err.fields).flat() : [];
  const lines = [err.message, ...details.filter((d) => d !== err.message)];
  flash([...new Set(lines)].join('\n'), 'error');
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

const ME = `{ me { user { id name email } workspaces { id name role } activeWorkspaceId } linkedAccounts { provider accountId } }`;

async function refresh() {
  try {
    const data = await gql(ME);
    renderSignedIn(data);
  } catch (err) {
    if (err.code !== 'UNAUTHORIZED') showError(err);
    renderSignedOut();
  }
}

function renderSignedOut() {
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  const box = $('providers');
  box.replaceChildren(...PROVIDERS.map((p) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `Sign in with ${p}`;
    b.onclick = () => {
      const q = new URLSearchParams({ callbackURL: HERE, errorCallbackURL: HERE });
      location.href = `${LATCH}/auth/sign-in/social/${encodeURIComponent(p)}?${q}`;
    };
    return b;
  }));
}

function renderSignedIn({ me, linkedAccounts }) {
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('me-name').textContent = me.user.name;
  $('me-email').textContent = me.user.email;
  $('workspaces').replaceChildren(...me.workspaces.map((w) => {
    const li = document.createElement('li');
    li.textContent = w.name + (w.id === me.activeWorkspaceId ? ' (active)' : '');
    const role = document.createElement('span');
    role.className = 'role';
    role.textContent = w.role;
    li.append(role);
    return li;
  }));
  $('accounts').replaceChildren(...linkedAccounts.map((a) => {
    const li = document.createElement('li');
    li.textContent = a.provider === 'credential' ? 'Password ' : `${a.provider} `;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small';
    b.textContent = 'Remove';
    b.onclick = () => run(async () => {
      await gql('mutation($i: UnlinkProviderInput!) { unlinkProvider(input: $i) { status } }',
        { i: { provider: a.provider, accountId: a.accountId } });
      flash(a.provider === 'credential' ? 'Password removed.' : `${a.provider} unlinked.`);
      await refresh();
    });
    li.append(b);
    return li;
  }));
  const linked = new Set(linkedAccounts.map((a) => a.provider));
  $('link-providers').replaceChildren(...PROVIDERS.filter((p) => !linked.has(p)).map((p) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `Link ${p}`;
    b.onclick = () => run(async () => {
      const { linkSocial } = await gql('mutation($i: LinkSocialInput!) { linkSocial(input: $i) { url } }',
        { i: { provider: p, callbackURL: HERE, errorCallbackURL: HERE } });
      location.href = linkSocial.url;
    });
    return b;
  }));
}

async function run(action) {
  try {
    await action();
  } catch (err) {
    showError(err);
  }
}

$('sign-in').onsubmit = (e) => {
  e.preventDefault();
  run(async () => {
    await gql('mutation($i: SignInEmailInput!) { signInEmail(input: $i) { user { name } } }', { i: formData(e.target) });
    e.target.reset();
    flash('Signed in.');
    await refresh();
  });
};

// The emailed link opens latch's own reset page (latch's origin is allowed too).
$('forgot').onclick = () => run(async () => {
  const email = $('sign-in').elements.email.value;
  if (!email) throw new LatchError({ message: 'Enter your email address first.' });
  await gql('mutation($i: ForgetPasswordInput!) { forgetPassword(input: $i) { status } }',
    { i: { email, redirectTo: `${LATCH}/reset-password` } });
  flash('If an account exists for this address, a reset link is on its way (in development: the outbox folder).');
});

$('sign-up').onsubmit = (e) => {
  e.preventDefault();
  run(async () => {
    const input = { ...formData(e.target), callbackURL: HERE };
    await gql('mutation($i: SignUpEmailInput!) { signUpEmail(input: $i) { verificationSent } }', { i: input });
    e.target.reset();
    flash('Account created. Follow the link in the verification email to finish.');
    $('outbox-hint').hidden = false;
  });
};

$('change-password').onsubmit = (e) => {
  e.preventDefault();
  run(async () => {
    await gql('mutation($i: ChangePasswordInput!) { changePassword(input: $i) { status } }', { i: formData(e.target) });
    e.target.reset();
    flash('Password changed. Your other sessions were signed out.');
  });
};

$('sign-out').onclick = () => run(async () => {
  await gql('mutation { logout }');
  flash('Signed out.');
  renderSignedOut();
});

$('latch-link').href = LATCH;
const returned = params.get('error');
if (returned) flash(`Sign-in did not complete (${returned}).`, 'error');
refresh();
