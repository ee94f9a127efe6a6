// Passkeys in the demo dashboard: "Sign in with a passkey", the browser's own passkey
// autofill on the email field (conditional UI), the Passkeys card of the settings (add,
// rename, remove) and a passkey as the step-up proof.
//
// Every ceremony is latch's: it hands out WebAuthn options in their JSON form with a
// `ceremonyId`, the browser parses them (`PublicKeyCredential.parse…OptionsFromJSON`) and
// the page sends back `credential.toJSON()` with that id. `api` is what app.js shares:
// { gql, run, flash, refresh, methods, withBotCheck }; the settings part also gets
// `guarded`, which runs an action behind the step-up prompt (settings.js).

const $ = (id) => document.getElementById(id);

const FIELDS = 'id name createdAt lastUsedAt backedUp';
const LIST = `{ passkeys { ${FIELDS} } }`;
const REGISTER_OPTIONS = 'mutation { generatePasskeyRegistrationOptions { ceremonyId options expiresAt } }';
const REGISTER = `mutation($i: VerifyPasskeyRegistrationInput!) { verifyPasskeyRegistration(input: $i) { passkey { ${FIELDS} } } }`;
const SIGN_IN_OPTIONS = 'mutation { generatePasskeyAuthenticationOptions { ceremonyId options expiresAt } }';
const SIGN_IN = 'mutation($i: SignInPasskeyInput!) { signInPasskey(input: $i) { twoFactorRequired } }';
const RENAME = `mutation($i: UpdatePasskeyInput!) { updatePasskey(input: $i) { passkey { ${FIELDS} } } }`;
const REMOVE = 'mutation($i: DeletePasskeyInput!) { deletePasskey(input: $i) { status } }';

// What latch offers (`signInMethods.passkey`) and what this browser can do here: WebAuthn
// needs a secure context (https, or http on localhost) and the Level 3 JSON helpers.
export function passkeysOn(api) {
  return Boolean(api.methods().passkey);
}

function browserCan() {
  return window.isSecureContext && typeof window.PublicKeyCredential?.parseRequestOptionsFromJSON === 'function';
}

// When latch guards passkey sign-in with the bot check, its options need the widget's
// token, which only the sign-in form has: no autofill and no passkey step-up then.
function botChecked(api) {
  const t = api.methods().turnstile;
  return Boolean(t && (t.flows || []).includes('passkey-sign-in'));
}

// The browser's refusals, as sentences. A cancelled prompt (NotAllowedError: the person
// closed it, or it timed out) is `quiet`: a short notice, not an alert.
function browserError(err) {
  const say = (message, extra = {}) => Object.assign(new Error(message), { code: 'BROWSER', ...extra });
  switch (err && err.name) {
    case 'NotAllowedError': return say('Cancelled: no passkey was used.', { code: 'CANCELLED', quiet: true });
    case 'AbortError': return say('Stopped: no passkey was used.', { code: 'CANCELLED', quiet: true });
    case 'InvalidStateError': return say('This device or password manager already holds a passkey for your account: use that one, or add one elsewhere.');
    case 'SecurityError': return say(`This page (${location.host}) is not one of the sites latch accepts passkeys from: check LATCH_WEBAUTHN_RP_ID and LATCH_WEBAUTHN_ORIGINS.`);
    case 'NotSupportedError': return say('This device has no authenticator that can keep a passkey for this site.');
    default: return err;
  }
}

// latch sends the options themselves; a `{publicKey: …}` wrapper is unwrapped too.
const unwrap = (options) => (options && options.publicKey) || options;

async function webauthn(call) {
  try {
    return await call();
  } catch (err) {
    throw browserError(err);
  }
}

// Options for a sign-in ceremony; with `token` the bot check's token travels in the header.
async function signInOptions(api, token) {
  const headers = token ? { 'X-Turnstile-Token': token } : {};
  return (await api.gql(SIGN_IN_OPTIONS, {}, headers)).generatePasskeyAuthenticationOptions;
}

// A passkey assertion for latch: { ceremonyId, credential }; null when aborted.
async function assertion(ceremony, mediation, signal) {
  const request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(unwrap(ceremony.options)) };
  if (mediation) request.mediation = mediation;
  if (signal) request.signal = signal;
  const credential = await webauthn(() => navigator.credentials.get(request));
  return credential && { ceremonyId: ceremony.ceremonyId, credential: credential.toJSON() };
}

/** The step-up proof with a passkey: the fields `reauthenticate` takes. */
export async function passkeyProof(api) {
  return assertion(await signInOptions(api), null, null);
}

/** Whether the step-up prompt may offer a passkey. */
export function passkeyProofOffered(api) {
  return passkeysOn(api) && browserCan() && !botChecked(api);
}

// --- Sign-in ---------------------------------------------------------------------------
const SIGN_IN_REFUSED = {
  INVALID_CREDENTIALS: 'latch did not accept this passkey. If you removed it from your account, delete it from your device too, and sign in another way.',
  INVALID_CEREMONY: 'The passkey request expired. Try again.',
};

// The button, and the autofill request that waits in the background while the sign-in
// screen shows: `mediation: 'conditional'` with an AbortController, aborted (and its end
// awaited: a browser takes one request at a time) before the button's own request and
// when the screen is left. latch's ceremony lives five minutes, so a waiting request is
// renewed before it expires.
export function setupPasskeySignIn(api) {
  let shown = false;
  let waiting = null; // { controller, settled, timer }
  let signingIn = false; // a chosen passkey is on its way to latch: no new autofill meanwhile

  async function signIn(proof) {
    signingIn = true;
    try {
      let signInPasskey;
      try {
        ({ signInPasskey } = await api.gql(SIGN_IN, { i: proof }));
      } catch (err) {
        throw Object.assign(err, { message: SIGN_IN_REFUSED[err.reason] || err.message });
      }
      if (signInPasskey.twoFactorRequired) throw new Error('latch asked for a second step after a passkey.');
      api.flash('Signed in with a passkey.');
      await api.refresh();
    } finally {
      signingIn = false;
    }
  }

  async function wait(entry) {
    if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
    if (entry.controller.signal.aborted) return;
    let ceremony;
    try {
      ceremony = await signInOptions(api);
    } catch (err) {
      console.warn('passkey autofill not started:', err.message); // the sign-in form still works
      return;
    }
    if (entry.controller.signal.aborted) return;
    const renewIn = Date.parse(ceremony.expiresAt) - Date.now() - 15_000;
    entry.timer = setTimeout(async () => {
      if (waiting !== entry) return;
      await stop();
      start();
    }, Math.max(renewIn, 30_000));
    let proof;
    try {
      proof = await assertion(ceremony, 'conditional', entry.controller.signal);
    } catch (err) {
      if (err.code !== 'CANCELLED') console.warn('passkey autofill failed:', err.message);
      return;
    } finally {
      clearTimeout(entry.timer);
    }
    if (!proof || entry.controller.signal.aborted) return;
    // Chosen from the autofill: this request is done, so leaving the screen must not wait on
    // it. After a refusal the autofill comes back on the email field's next focus (not at
    // once: an authenticator that answers by itself would go round and round).
    if (waiting === entry) waiting = null;
    await api.run(() => signIn(proof));
  }

  function start() {
    if (!shown || waiting || signingIn || !passkeysOn(api) || !browserCan() || botChecked(api)) return;
    const entry = { controller: new AbortController(), timer: null };
    entry.settled = wait(entry).catch((err) => console.warn('passkey autofill:', err)).finally(() => {
      if (waiting === entry) waiting = null;
    });
    waiting = entry;
  }

  async function stop() {
    const entry = waiting;
    if (!entry) return;
    waiting = null;
    clearTimeout(entry.timer);
    entry.controller.abort();
    await entry.settled;
  }

  $('passkey-sign-in').onclick = () => api.run(async () => {
    await stop();
    try {
      const ceremony = await api.withBotCheck('passkey-sign-in', {}, (i) => signInOptions(api, i.turnstileToken));
      await signIn(await assertion(ceremony));
    } finally {
      start();
    }
  });
  // The autofill comes back whenever the email field is used again (after a refused passkey,
  // or a cancelled second step).
  $('sign-in').elements.email.addEventListener('focus', () => start());

  return {
    /** The sign-in screen shows: offer the button and start the autofill. */
    shown() {
      shown = true;
      $('passkey-sign-in-row').hidden = !(passkeysOn(api) && browserCan());
      start();
    },
    /** The sign-in screen is left: signed in. */
    left() {
      shown = false;
      return stop();
    },
    /** The sign-in form gives way to the second step: the autofill comes back on the email field's next focus. */
    pause: stop,
  };
}

// --- Settings --------------------------------------------------------------------------
function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A default name for a new passkey from the platform: "Passkey on Linux", "Passkey on Mac"… */
export function defaultPasskeyName(nav = navigator) {
  const platform = (nav.userAgentData && nav.userAgentData.platform) || nav.platform || '';
  const known = [[/iphone/i, 'iPhone'], [/ipad/i, 'iPad'], [/android/i, 'Android'], [/cros|chrome ?os/i, 'ChromeOS'],
    [/mac/i, 'Mac'], [/win/i, 'Windows'], [/linux/i, 'Linux']].find(([re]) => re.test(platform));
  return known ? `Passkey on ${known[1]}` : 'Passkey';
}

function refused(err) {
  return err.reason === 'LAST_LOGIN_METHOD' || err.code === 'LAST_LOGIN_METHOD';
}

export function setupPasskeySettings(api, guarded) {
  let passkeys = [];
  const form = $('add-passkey');

  function item(p) {
    const li = document.createElement('li');
    li.className = 'device passkey-item';
    li.dataset.id = p.id;
    const name = document.createElement('strong');
    name.className = 'passkey-name';
    name.textContent = p.name;
    const detail = document.createElement('span');
    detail.className = 'role';
    detail.textContent = `added ${when(p.createdAt)} · last used ${p.lastUsedAt ? when(p.lastUsedAt) : 'never'}`;
    li.append(name, detail);
    if (p.backedUp) {
      const tag = document.createElement('span');
      tag.className = 'tag synced';
      tag.textContent = 'synced';
      tag.title = 'Backed up by your password manager: it works on your other devices too.';
      li.append(tag);
    }
    const actions = document.createElement('span');
    actions.className = 'actions';
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'secondary';
    rename.textContent = 'Rename';
    rename.onclick = () => renameForm(li, p);
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'small';
    remove.textContent = 'Remove';
    remove.onclick = () => removePasskey(p);
    actions.append(rename, remove);
    li.append(actions);
    return li;
  }

  // Rename in place: the name becomes a field with Save and Cancel.
  function renameForm(li, p) {
    if (li.querySelector('form')) return;
    const f = document.createElement('form');
    f.className = 'passkey-rename';
    const input = document.createElement('input');
    input.name = 'name';
    input.value = p.name;
    input.maxLength = 64;
    input.required = true;
    input.setAttribute('aria-label', `New name of ${p.name}`);
    const save = document.createElement('button');
    save.textContent = 'Save';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'secondary';
    cancel.textContent = 'Cancel';
    cancel.onclick = () => f.remove();
    f.append(input, save, cancel);
    f.onsubmit = (e) => {
      e.preventDefault();
      api.run(async () => {
        const { updatePasskey } = await api.gql(RENAME, { i: { id: p.id, name: input.value } });
        api.flash(`Passkey renamed to "${updatePasskey.passkey.name}".`);
        await render();
      });
    };
    li.append(f);
    input.focus();
    input.select();
  }

  function removePasskey(p) {
    if (!window.confirm(`Remove the passkey "${p.name}"? It will no longer sign you in.`)) return;
    api.run(async () => {
      try {
        await api.gql(REMOVE, { i: { id: p.id } });
      } catch (err) {
        if (refused(err)) {
          throw Object.assign(new Error('This passkey is your only way to sign in, so it was kept: set a password or add another passkey first.'), { code: err.code, reason: err.reason });
        }
        throw err;
      }
      api.flash(`Passkey "${p.name}" removed. Your device may still list it: you can delete it there too.`);
      await render();
    });
  }

  form.onsubmit = (e) => {
    e.preventDefault();
    api.run(async () => {
      const name = form.elements.name.value;
      const ceremony = (await guarded(() => api.gql(REGISTER_OPTIONS))).generatePasskeyRegistrationOptions;
      const credential = await webauthn(() => navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(unwrap(ceremony.options)),
      }));
      const { verifyPasskeyRegistration } = await api.gql(REGISTER,
        { i: { ceremonyId: ceremony.ceremonyId, credential: credential.toJSON(), name } });
      form.elements.name.value = '';
      api.flash(`Passkey "${verifyPasskeyRegistration.passkey.name}" added: you can sign in with it now.`);
      await render();
    });
  };

  async function render() {
    const on = passkeysOn(api);
    $('passkeys-card').hidden = !on;
    if (!on) {
      passkeys = [];
      return;
    }
    ({ passkeys } = await api.gql(LIST));
    $('passkeys').replaceChildren(...passkeys.map(item));
    $('passkeys-none').hidden = passkeys.length > 0;
    $('passkeys-unsupported').hidden = browserCan();
    form.hidden = !browserCan();
    if (!form.elements.name.value) form.elements.name.value = defaultPasskeyName();
  }

  return {
    render,
    count: () => passkeys.length,
  };
}
