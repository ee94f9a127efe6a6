// A small client of latch's GraphQL API, served from its own origin. Every call goes
// to latch with `credentials: 'include'`, so the session cookie latch sets travels.
//
// The one setting comes from the address bar: ?latch=http://127.0.0.1:8080 (latch's base
// URL). Everything else (the social providers, the Turnstile bot check) the page asks
// latch with the `signInMethods` query.
import { setupPasskeySignIn } from './passkeys.js';
import { setupSettings } from './settings.js';
import { hideSecondStep, setupSecondStep, showSecondStep } from './two-factor.js';

const DEFAULT_LATCH = 'http://127.0.0.1:8080';
const params = new URLSearchParams(location.search);

// `?latch=` decides where this page posts passwords and where its "API" link points, and
// anyone can send a link with it. Only an absolute http: or https: URL without userinfo is
// taken: a `javascript:` URL in the link would run on click, and anything unparsable is
// no server at all. Otherwise the page falls back to the default and says so.
function apiBase(raw) {
  if (raw === null || raw.trim() === '') return { base: DEFAULT_LATCH, refused: false };
  let url;
  try {
    url = new URL(raw);
  } catch {
    return { base: DEFAULT_LATCH, refused: true };
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password) {
    return { base: DEFAULT_LATCH, refused: true };
  }
  // Query and fragment mean nothing for an API base; a path prefix (behind a proxy) is kept.
  return { base: (url.origin + url.pathname).replace(/\/+$/, ''), refused: false };
}
const { base: LATCH, refused: LATCH_REFUSED } = apiBase(params.get('latch'));

// This page's address as latch should send the browser back to it: without `error` and
// anything else latch added, and with `latch` only when it was accepted.
const keep = new URLSearchParams();
if (params.get('latch') && !LATCH_REFUSED) keep.set('latch', LATCH);
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

// A fetch that fails outright (TypeError) is a network error or a CORS refusal: the browser
// does not tell which. A `no-cors` request tells them apart: it succeeds (with an opaque
// answer) whenever the server answers at all, whatever its CORS headers say.
async function unreachableMessage() {
  const fix = `latch's LATCH_ALLOWED_ORIGINS must include this page's origin, ${location.origin}`;
  try {
    await fetch(`${LATCH}/healthz`, { mode: 'no-cors', credentials: 'omit', cache: 'no-store' });
  } catch {
    return `latch at ${LATCH} did not answer this page. Check that latch runs at that address; `
      + `if it does, the likely cause is the allowed origins: ${fix}.`;
  }
  return `latch at ${LATCH} answers, but the browser kept its answers from this page. `
    + `The likely cause: ${fix} (then restart latch).`;
}

async function gql(query, variables = {}, headers = {}) {
  let res;
  try {
    res = await fetch(`${LATCH}/graphql`, {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new LatchError({ code: 'NETWORK', message: await unreachableMessage() });
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

// Errors go to the alert region, everything else to the status region; a new message of
// either kind replaces both, so the page never shows a stale one next to a fresh one.
function clearMessages() {
  $('error').textContent = '';
  $('notice').textContent = '';
}

function flash(text) {
  $('error').textContent = '';
  $('notice').textContent = text;
}

function alertText(text) {
  $('notice').textContent = '';
  $('error').textContent = text;
}

// latch's headline message of a validation error already joins the field messages (so a
// client that reads only `message` still says what to change): list each problem once.
function errorLines(err) {
  const message = err.message || 'Something went wrong.';
  const details = [...new Set(err.fields ? Object.values(err.fields).flat() : [])];
  if (details.length && details.every((d) => message.includes(d))) return details;
  return [message, ...details.filter((d) => !message.includes(d))];
}

function showError(err) {
  alertText(errorLines(err).join('\n'));
}

function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// What latch offers, from `signInMethods`; until it answers, password sign-in only.
let methods = { password: true, passkey: false, providers: [], turnstile: null };

function providerName(id) {
  if (id === 'credential') return 'Password';
  const p = methods.providers.find((x) => x.id === id);
  return p ? p.displayName : id;
}

// --- Turnstile -------------------------------------------------------------------------
// When latch says a flow is guarded, the form of that flow shows Cloudflare's widget
// (explicit rendering) and its mutation carries the widget's token as `turnstileToken`.
// The forgot-password button lives in the sign-in form, so it uses that form's widget.
const CHECK_BOX = { 'sign-in': 'sign-in-check', 'forget-password': 'sign-in-check', 'passkey-sign-in': 'sign-in-check', 'sign-up': 'sign-up-check' };
const widgets = new Map(); // box id -> Turnstile widget id
let turnstileScript = null;

function guarded(flow) {
  return Boolean(methods.turnstile && (methods.turnstile.flows || []).includes(flow));
}

function loadTurnstile() {
  turnstileScript ??= new Promise((resolve, reject) => {
    window.onLatchTurnstileLoad = () => resolve(window.turnstile);
    const s = document.createElement('script');
    s.src = 'https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit&onload=onLatchTurnstileLoad';
    s.async = true;
    s.onerror = () => reject(new Error('Turnstile did not load'));
    document.head.append(s);
  });
  return turnstileScript;
}

async function showBotChecks() {
  const boxes = [...new Set(Object.keys(CHECK_BOX).filter(guarded).map((f) => CHECK_BOX[f]))];
  if (!boxes.length) return;
  for (const id of boxes) $(id).hidden = false;
  const { siteKey } = methods.turnstile;
  const note = (text) => { for (const id of boxes) if (!widgets.has(id)) $(id).textContent = text; };
  if (!siteKey) {
    note('latch asks for a bot check here but publishes no site key (LATCH_TURNSTILE_SITE_KEY is unset), so it will refuse this form.');
    return;
  }
  let turnstile;
  try {
    turnstile = await loadTurnstile();
  } catch {
    note('The bot check (Cloudflare Turnstile) could not load, so latch will refuse this form. Check your connection or content blocker, then reload the page.');
    return;
  }
  for (const id of boxes) {
    if (widgets.has(id)) continue;
    $(id).textContent = '';
    // No hidden `cf-turnstile-response` input: the token goes into the mutation input only.
    const widgetId = turnstile.render($(id), { sitekey: siteKey, 'response-field': false });
    if (widgetId !== undefined && widgetId !== null) widgets.set(id, widgetId);
  }
}

// Runs `send(input)` with the bot-check token added when `flow` is guarded. A token is
// good for one verification, so the widget is reset after every attempt.
async function withBotCheck(flow, input, send) {
  if (!guarded(flow)) return send(input);
  const widgetId = widgets.get(CHECK_BOX[flow]);
  if (widgetId === undefined) {
    throw new LatchError({ message: 'latch asks for a bot check here, but it is not available (see the note above the button).' });
  }
  const token = window.turnstile.getResponse(widgetId);
  if (!token) throw new LatchError({ message: 'Complete the bot check above the button first, then try again.' });
  try {
    return await send({ ...input, turnstileToken: token });
  } finally {
    window.turnstile.reset(widgetId);
  }
}

// --- Views -----------------------------------------------------------------------------
const METHODS = '{ signInMethods { password passkey providers { id displayName } turnstile { siteKey flows } } }';
const ME = '{ me { user { id name email image } workspaces { id name role } activeWorkspaceId } linkedAccounts { provider accountId } }';

async function refresh() {
  try {
    renderSignedIn(await gql(ME));
  } catch (err) {
    if (err.code !== 'UNAUTHORIZED') showError(err);
    renderSignedOut();
  }
}

function renderSignedOut() {
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  for (const el of document.querySelectorAll('.password-only')) el.hidden = methods.password === false;
  $('providers').replaceChildren(...methods.providers.map((p) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `Sign in with ${p.displayName}`;
    // A top-level navigation: latch sets its `oauth_state` cookie as a first party.
    b.onclick = () => {
      const q = new URLSearchParams({ callbackURL: HERE, errorCallbackURL: HERE });
      location.href = `${LATCH}/auth/sign-in/social/${encodeURIComponent(p.id)}?${q}`;
    };
    return b;
  }));
  showBotChecks().catch(showError);
  passkeySignIn.shown();
}

function renderSignedIn({ me, linkedAccounts }) {
  passkeySignIn.left();
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
    li.textContent = `${providerName(a.provider)} `;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small';
    b.textContent = 'Remove';
    b.onclick = () => run(async () => {
      await gql('mutation($i: UnlinkProviderInput!) { unlinkProvider(input: $i) { status } }',
        { i: { provider: a.provider, accountId: a.accountId } });
      flash(a.provider === 'credential' ? 'Password removed.' : `${providerName(a.provider)} unlinked.`);
      await refresh();
    });
    li.append(b);
    return li;
  }));
  const linked = new Set(linkedAccounts.map((a) => a.provider));
  $('link-providers').replaceChildren(...methods.providers.filter((p) => !linked.has(p.id)).map((p) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `Link ${p.displayName}`;
    b.onclick = () => run(async () => {
      const { linkSocial } = await gql('mutation($i: LinkSocialInput!) { linkSocial(input: $i) { url } }',
        { i: { provider: p.id, callbackURL: HERE, errorCallbackURL: HERE } });
      location.href = linkSocial.url;
    });
    return b;
  }));
  // An account signed up through a provider has no password (no `credential` entry): it
  // cannot give a current password, so it is offered set-password instead.
  const hasPassword = linked.has('credential');
  $('change-password-card').hidden = !hasPassword;
  $('set-password-card').hidden = hasPassword;
  settings.render(me, linkedAccounts).catch(showError);
}

async function run(action) {
  clearMessages();
  try {
    await action();
  } catch (err) {
    if (err.quiet) flash(err.message); // a cancelled browser prompt
    else showError(err);
  }
}

const shared = { gql, run, flash, refresh, methods: () => methods, withBotCheck };
const passkeySignIn = setupPasskeySignIn(shared);
const settings = setupSettings({ ...shared, signedOut: () => renderSignedOut(), here: HERE });
setupSecondStep({ gql, run, flash, refresh });

// --- Forms -----------------------------------------------------------------------------
$('sign-in').onsubmit = (e) => {
  e.preventDefault();
  const form = e.target;
  run(async () => {
    const { email, password } = formData(form);
    const { signInEmail } = await withBotCheck('sign-in', { email, password }, (i) =>
      gql('mutation($i: SignInEmailInput!) { signInEmail(input: $i) { twoFactorRequired twoFactor { methods } } }', { i }));
    form.reset();
    if (signInEmail.twoFactorRequired) {
      passkeySignIn.pause();
      showSecondStep(signInEmail.twoFactor.methods);
      return;
    }
    flash('Signed in.');
    await refresh();
  });
};

// The emailed link opens latch's own reset page (latch's origin is allowed too).
$('forgot').onclick = () => run(async () => {
  const email = $('sign-in').elements.email.value;
  if (!email) throw new LatchError({ message: 'Enter your email address first.' });
  await withBotCheck('forget-password', { email, redirectTo: `${LATCH}/reset-password` }, (i) =>
    gql('mutation($i: ForgetPasswordInput!) { forgetPassword(input: $i) { status } }', { i }));
  flash('If an account exists for this address, a reset link is on its way (in development: the outbox folder).');
});

$('sign-up').onsubmit = (e) => {
  e.preventDefault();
  const form = e.target;
  run(async () => {
    const { name, email, password } = formData(form);
    await withBotCheck('sign-up', { name, email, password, callbackURL: HERE }, (i) =>
      gql('mutation($i: SignUpEmailInput!) { signUpEmail(input: $i) { verificationSent } }', { i }));
    form.reset();
    flash('Account created. Follow the link in the verification email to finish.');
    $('outbox-hint').hidden = false;
  });
};

$('change-password').onsubmit = (e) => {
  e.preventDefault();
  const form = e.target;
  run(async () => {
    const { currentPassword, newPassword } = formData(form);
    await gql('mutation($i: ChangePasswordInput!) { changePassword(input: $i) { status } }',
      { i: { currentPassword, newPassword } });
    form.reset();
    flash('Password changed. Your other sessions were signed out.');
  });
};

// set-password is a step-up route: a session from a recent sign-in is the proof here (an
// account without a password has none to give).
$('set-password').onsubmit = (e) => {
  e.preventDefault();
  const form = e.target;
  run(async () => {
    const { newPassword } = formData(form);
    try {
      await settings.guarded(() => gql('mutation($i: SetPasswordInput!) { setPassword(input: $i) { status } }', { i: { newPassword } }));
    } catch (err) {
      if (err.reason === 'PASSWORD_ALREADY_SET') await refresh();
      throw err;
    }
    form.reset();
    flash('Password set. You can now also sign in with your email address and this password.');
    await refresh();
  });
};

$('sign-out').onclick = () => run(async () => {
  await gql('mutation { logout }');
  flash('Signed out.');
  hideSecondStep();
  renderSignedOut();
});

// --- Start -----------------------------------------------------------------------------
// Where latch sends the browser back with `?error=`: social sign-in and link failures
// (errorCallbackURL) and a bad verification link (callbackURL). The value comes from the
// address bar, so only known codes get their sentence; it is never echoed.
const RETURNED = {
  PROVIDER_ERROR: 'Signing in with the provider did not finish: it was cancelled, or the provider could not confirm who you are. Try again, or use another way to sign in.',
  INVALID_STATE: 'The sign-in expired, or it was started in another browser or tab, so it was stopped for your safety. Start it again from this page.',
  EMAIL_NOT_VERIFIED: 'Your email address is not verified yet. Look for the verification email in your inbox (and spam folder) and follow its link; then you can sign in.',
  ACCOUNT_NOT_LINKED: 'An account with this email address already exists, and the provider did not confirm that the address is yours, so the two were not connected. Sign in with your password, then link the provider under "Ways to sign in".',
  ACCOUNT_ALREADY_LINKED: 'That provider account is already connected to another user, so it was not linked to yours.',
  TWO_FACTOR_LOCKED: 'Too many wrong two-factor codes: signing in to this account is paused. Try again later.',
  INVALID_TOKEN: 'This link is invalid, has expired or was already used. Sign in, or ask for a new email.',
  USER_EXISTS: 'Another account already uses that email address.',
  NOT_FOUND: 'That sign-in provider is not set up on this server.',
  UNAUTHORIZED: 'Your session ended before the provider answered. Sign in and try again.',
  RATE_LIMITED: 'Too many attempts from your network. Wait a moment, then try again.',
  INTERNAL: 'latch ran into a problem finishing the sign-in. Try again in a moment.',
  UNAVAILABLE: 'latch is not able to finish the sign-in right now. Try again in a moment.',
};

$('latch-link').href = LATCH;
$('latch-link').textContent = LATCH;
if (LATCH_REFUSED) {
  $('api-notice').textContent = `The address named an API server that is not an http(s) URL; it was ignored, and this page talks to ${LATCH} instead.`;
}

const returned = params.get('error');
// A social sign-in of an account with two-factor on comes back here with
// `twoFactor=required`; the pending sign-in is in latch's cookie.
const secondStepAsked = !returned && params.get('twoFactor') === 'required';
if (!returned && params.get('emailChanged')) {
  flash('Your email address was changed. Sign in with the new address from now on.');
  history.replaceState(null, '', HERE);
}
if (returned) {
  alertText(Object.hasOwn(RETURNED, returned) ? RETURNED[returned] : 'Sign-in did not complete. Try again, or use another way to sign in.');
  if (returned === 'EMAIL_NOT_VERIFIED') $('outbox-hint').hidden = false;
  history.replaceState(null, '', HERE); // a reload does not show it again
}

(async () => {
  const [found, me] = await Promise.allSettled([gql(METHODS), gql(ME)]);
  if (found.status === 'fulfilled') methods = found.value.signInMethods;
  if (me.status === 'fulfilled') renderSignedIn(me.value);
  else renderSignedOut();
  if (secondStepAsked && me.status !== 'fulfilled') {
    showSecondStep(null);
    history.replaceState(null, '', HERE);
  }
  const failed = [found, me].find((r) => r.status === 'rejected' && r.reason.code !== 'UNAUTHORIZED');
  if (failed) showError(failed.reason);
})();
