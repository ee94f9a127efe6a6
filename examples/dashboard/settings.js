// The settings area: profile, email address, passkeys (passkeys.js), signed-in devices,
// two-factor (two-factor.js), account deletion, and the step-up prompt that latch's
// REAUTHENTICATION_REQUIRED asks for.
//
// `api` is what app.js shares: { gql, run, flash, refresh, signedOut, here, methods, withBotCheck }.

import { passkeyProof, passkeyProofOffered, setupPasskeySettings } from './passkeys.js';
import { setupTwoFactor } from './two-factor.js';

const $ = (id) => document.getElementById(id);

// --- Step-up ---------------------------------------------------------------------------
// A sensitive action on a session that is not fresh is refused with
// REAUTHENTICATION_REQUIRED: ask for the password (or, with two-factor on, a code; or, with
// a passkey, that passkey), prove it with `reauthenticate`, and run the action again.
// Cancelling the prompt stops it.
function askProof(hasPassword, hasTwoFactor, hasPasskey) {
  const dialog = $('step-up');
  const form = $('step-up-form');
  $('step-up-password-row').hidden = !hasPassword;
  $('step-up-code-row').hidden = !hasTwoFactor;
  $('step-up-confirm').hidden = !(hasPassword || hasTwoFactor);
  $('step-up-passkey').hidden = !hasPasskey;
  $('step-up-passkey-only').hidden = !hasPasskey || hasPassword || hasTwoFactor;
  $('step-up-no-password').hidden = hasPassword || hasTwoFactor || hasPasskey;
  form.reset();
  dialog.returnValue = ''; // Escape keeps the last value: it must not repeat an earlier choice
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.onclose = () => {
      if (dialog.returnValue === 'passkey') return resolve({ passkey: true });
      if (dialog.returnValue !== 'confirm') return resolve(null);
      const code = form.elements.code.value.trim();
      const password = form.elements.password.value;
      if (code) return resolve({ code });
      return resolve(password ? { password } : null);
    };
  });
}

export function stepUp(api, hasPassword, hasTwoFactor = () => false, hasPasskey = () => false) {
  return async (action) => {
    try {
      return await action();
    } catch (err) {
      if (err.reason !== 'REAUTHENTICATION_REQUIRED') throw err;
      let proof = await askProof(hasPassword(), hasTwoFactor(), hasPasskey());
      if (proof && proof.passkey) proof = await passkeyProof(api);
      if (!proof) throw Object.assign(new Error('Cancelled: nothing was changed.'), { code: 'CANCELLED' });
      await api.gql('mutation($i: ReauthenticateInput) { reauthenticate(input: $i) { freshUntil } }',
        { i: proof });
      return action();
    }
  };
}

// --- Devices ---------------------------------------------------------------------------
// A readable name from a user agent: enough to tell a laptop from a phone.
export function deviceName(ua) {
  if (!ua) return 'Unknown device';
  const browser = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'],
    [/Safari\//, 'Safari'], [/curl\//, 'curl']].find(([re]) => re.test(ua));
  const os = [[/Windows/, 'Windows'], [/iPhone|iPad/, 'iOS'], [/Mac OS X/, 'macOS'], [/Android/, 'Android'],
    [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']].find(([re]) => re.test(ua));
  if (!browser && !os) return ua.slice(0, 60);
  return [browser ? browser[1] : 'A browser', os ? `on ${os[1]}` : ''].join(' ').trim();
}

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

const SESSIONS = '{ sessions { id current userAgent lastIpAddress lastActiveAt createdAt } }';

async function renderDevices(api, guarded) {
  const { sessions } = await api.gql(SESSIONS);
  $('devices').replaceChildren(...sessions.map((s) => {
    const li = document.createElement('li');
    li.className = 'device';
    const name = document.createElement('strong');
    name.textContent = deviceName(s.userAgent);
    const detail = document.createElement('span');
    detail.className = 'role';
    detail.textContent = `${s.lastIpAddress || 'unknown IP'} · last active ${when(s.lastActiveAt)}`;
    li.append(name, detail);
    if (s.current) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'this device';
      li.append(tag);
    } else {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'small';
      b.textContent = 'Sign out';
      b.onclick = () => api.run(async () => {
        await api.gql('mutation($i: RevokeSessionInput!) { revokeSession(input: $i) { status } }', { i: { sessionId: s.id } });
        api.flash(`${deviceName(s.userAgent)} was signed out.`);
        await renderDevices(api, guarded);
      });
      li.append(b);
    }
    return li;
  }));
  $('sign-out-others').hidden = sessions.length < 2;
}

// --- Wiring ----------------------------------------------------------------------------
export function setupSettings(api) {
  let current = null; // { me, hasPassword }
  let twoFactor = null;
  let passkeys = null;
  const guarded = stepUp(api, () => Boolean(current && current.hasPassword),
    () => Boolean(twoFactor && twoFactor.enabled()),
    () => Boolean(passkeys && passkeys.count() > 0 && passkeyProofOffered(api)));
  twoFactor = setupTwoFactor(api, guarded);
  passkeys = setupPasskeySettings(api, guarded);

  $('profile').onsubmit = (e) => {
    e.preventDefault();
    api.run(async () => {
      const { name, image } = Object.fromEntries(new FormData(e.target).entries());
      await api.gql('mutation($i: UpdateUserInput) { updateUser(input: $i) { user { name image } } }',
        { i: { name, image: image.trim() === '' ? null : image.trim() } });
      api.flash('Profile saved.');
      await api.refresh();
    });
  };

  $('change-email').onsubmit = (e) => {
    e.preventDefault();
    const form = e.target;
    api.run(async () => {
      const { newEmail } = Object.fromEntries(new FormData(form).entries());
      const back = new URL(api.here);
      back.searchParams.set('emailChanged', '1');
      await guarded(() => api.gql('mutation($i: ChangeEmailInput!) { changeEmail(input: $i) { status } }',
        { i: { newEmail, callbackURL: back.toString() } }));
      form.reset();
      $('email-hint').hidden = false;
      $('email-hint').textContent = `Check the inbox of ${newEmail}: follow the link there to confirm the change. `
        + 'Until then, your address stays as it is. (In development, the email is a file in latch\'s outbox folder.)';
    });
  };

  $('sign-out-others').onclick = () => api.run(async () => {
    const { revokeOtherSessions } = await api.gql('mutation { revokeOtherSessions { revoked } }');
    api.flash(`Signed out everywhere else (${revokeOtherSessions.revoked} session${revokeOtherSessions.revoked === 1 ? '' : 's'}).`);
    await renderDevices(api, guarded);
  });

  $('delete-account').onclick = () => {
    const dialog = $('confirm-delete');
    const form = $('confirm-delete-form');
    form.reset();
    $('confirm-delete-password-row').hidden = !(current && current.hasPassword);
    dialog.showModal();
    dialog.onclose = () => {
      if (dialog.returnValue !== 'confirm') return;
      api.run(async () => {
        const password = form.elements.password.value;
        const input = current && current.hasPassword ? { password } : {};
        await guarded(() => api.gql('mutation($i: DeleteUserInput) { deleteUser(input: $i) { success } }', { i: input }));
        api.signedOut();
        api.flash('Your account was deleted. A confirmation went to your email address.');
      });
    };
  };

  return {
    async render(me, linkedAccounts) {
      current = { me, hasPassword: linkedAccounts.some((a) => a.provider === 'credential') };
      $('profile').elements.name.value = me.user.name;
      $('profile').elements.image.value = me.user.image || '';
      $('avatar').hidden = !me.user.image;
      if (me.user.image) $('avatar').src = me.user.image;
      $('current-email').textContent = me.user.email;
      await Promise.all([renderDevices(api, guarded), twoFactor.render(), passkeys.render()]);
    },
    guarded,
  };
}
