// Passkeys in the demo dashboard, in headless Chromium with a virtual authenticator (CDP
// WebAuthn domain): add one from the settings behind the step-up prompt (password), see it
// listed (synced, never used) and kept as a discoverable credential, a cancelled prompt
// (user verification refused) answered with a short notice, sign in with the button, a
// passkey as the step-up proof (then the authenticator refuses a second passkey for the
// same account), sign in through the email field's autofill (conditional UI), rename,
// remove, and a removed passkey that signs in no more.
//
// WebAuthn needs a secure context and a domain as RP ID: the dashboard and latch are both
// reached as http://localhost:<port> (one site, so latch's SameSite=Lax cookie travels),
// and latch derives LATCH_WEBAUTHN_RP_ID=localhost from the app URL.
//
// Chromium's virtual authenticator answers a conditional (autofill) request at once, as
// if the person picked the passkey. So that the button has a waiting autofill request to
// abort, as it would with a person who does not pick, the page's conditional requests are
// held (they wait until aborted, and are logged) except while the autofill sign-in is
// tested.
//
// Needs what dashboard.test.mjs needs (LATCH_BIN, Debian's chromium, npm ci here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { shots, startDashboard, waitLink, launchOptions } from './harness.mjs';

const FRESH_SECS = 3;
const PASSWORD = 'correct horse battery staple';

test('a person adds a passkey, signs in with it (button and autofill), renames and removes it', async () => {
  const { latch, dash, app, outbox } = await startDashboard('latch-passkeys-',
    { LATCH_FRESH_AUTH_SECS: String(FRESH_SECS) }, { host: 'localhost' });
  const methods = await (await fetch(`${latch.replace('localhost', '127.0.0.1')}/auth/sign-in-methods`)).json();
  assert.equal(methods.passkey, true, `latch has passkeys off: ${JSON.stringify(methods)}`);

  const browser = await chromium.launch(launchOptions());
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1400 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log('pageerror:', e.message));
    // The next message the page shows: a notice matching `pattern`, and no alert.
    const notice = async (pattern) => {
      await page.locator('#notice:not(:empty), #error:not(:empty)').first().waitFor();
      const error = await page.textContent('#error');
      assert.equal(error, '', `the page showed an error: ${error}`);
      await page.locator('#notice', { hasText: pattern }).waitFor();
    };
    const alert = async (pattern) => {
      await page.locator('#error', { hasText: pattern }).waitFor();
    };
    const items = () => page.locator('#passkeys li');
    const signOut = async () => {
      await page.click('#sign-out');
      await page.locator('#signed-out').waitFor();
    };
    const stale = () => page.waitForTimeout(FRESH_SECS * 1000 + 500);
    const authMethods = () => page.evaluate(async (l) => {
      const r = await fetch(`${l}/auth/session`, { credentials: 'include' });
      return r.ok ? (await r.json()).session.authMethods : r.status;
    }, latch);

    // The sign-in screen offers passkeys: the button, and autofill on the email field.
    await page.goto(app);
    await page.locator('#signed-out').waitFor();
    await page.locator('#passkey-sign-in').waitFor();
    assert.equal(await page.getAttribute('#sign-in input[name=email]', 'autocomplete'), 'username webauthn');
    assert.ok(await page.evaluate(() => window.isSecureContext), 'http://localhost is a secure context');

    // Sign up and verify from the page.
    await page.fill('#sign-up input[name=name]', 'Katherine Johnson');
    await page.fill('#sign-up input[name=email]', 'katherine@example.com');
    await page.fill('#sign-up input[name=password]', PASSWORD);
    await page.click('#sign-up button');
    await page.locator('#outbox-hint').waitFor();
    await page.goto(await waitLink(outbox, 'verify-email'));
    await page.waitForURL((u) => u.origin === dash);
    await page.locator('#signed-in').waitFor();

    // A platform authenticator with user verification (a laptop's fingerprint reader),
    // whose passkeys are backed up (a synced password manager). It belongs to this page's
    // target, so the rest of the test stays on this page without reloading it.
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
        defaultBackupEligibility: true, defaultBackupState: true,
      },
    });
    const userVerified = (isUserVerified) => cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified });
    await page.evaluate(() => {
      const get = navigator.credentials.get.bind(navigator.credentials);
      window.webauthnLog = [];
      window.holdAutofill = true;
      navigator.credentials.get = (request) => {
        const conditional = request.mediation === 'conditional';
        window.webauthnLog.push(conditional ? 'autofill' : 'modal');
        if (!conditional || !window.holdAutofill) return get(request);
        return new Promise((resolve, reject) => request.signal.addEventListener('abort', () => {
          window.webauthnLog.push('aborted');
          reject(new DOMException('The operation was aborted.', 'AbortError'));
        }));
      };
    });
    const webauthnLog = () => page.evaluate(() => window.webauthnLog.splice(0));
    const holdAutofill = (hold) => page.evaluate((h) => { window.holdAutofill = h; }, hold);

    // Add a passkey once the sign-in is no longer fresh: the step-up prompt asks for the
    // password first (no passkey to offer yet). The name comes from the platform.
    await page.locator('#passkeys-card:not([hidden])').waitFor();
    await page.locator('#passkeys-none:not([hidden])').waitFor();
    assert.equal(await page.inputValue('#add-passkey input[name=name]'), 'Passkey on Linux');
    await stale();
    await page.click('#add-passkey button[type=submit]');
    await page.locator('#step-up[open]').waitFor();
    assert.ok(await page.isHidden('#step-up-passkey'));
    await page.fill('#step-up input[name=password]', PASSWORD);
    await page.click('#step-up button[value=confirm]');
    await notice(/Passkey "Passkey on Linux" added/);
    await page.waitForFunction(() => document.querySelectorAll('#passkeys li').length === 1);
    const first = await items().first().textContent();
    assert.match(first, /Passkey on Linux/);
    assert.match(first, /last used never/);
    assert.match(first, /synced/);
    assert.ok(await page.isHidden('#passkeys-none'));
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0].isResidentCredential, true, 'a discoverable credential (username-less sign-in)');
    assert.equal(credentials[0].rpId, 'localhost');
    await page.screenshot({ path: path.join(shots, '16-passkeys.png'), fullPage: true });

    // Sign out: the sign-in screen starts an autofill request. A refused prompt (no user
    // verification) is a short notice, not an alert.
    assert.deepEqual(await webauthnLog(), []);
    await signOut();
    await page.waitForFunction(() => window.webauthnLog.length === 1);
    await page.screenshot({ path: path.join(shots, '17-passkey-sign-in.png'), fullPage: true });
    await userVerified(false);
    await page.click('#passkey-sign-in');
    await notice(/Cancelled: no passkey was used/);
    assert.ok(await page.isVisible('#signed-out'));
    await page.waitForFunction(() => window.webauthnLog.length === 4); // the autofill is back
    await userVerified(true);

    // The button signs in: a passkey session, and the passkey's last use is shown. Each
    // press aborted the waiting autofill request first; the screen starts a new one after
    // a failure, and none once signed in.
    await page.click('#passkey-sign-in');
    await page.locator('#signed-in').waitFor();
    await notice(/Signed in with a passkey/);
    assert.deepEqual(await webauthnLog(), ['autofill', 'aborted', 'modal', 'autofill', 'aborted', 'modal']);
    assert.deepEqual(await authMethods(), ['passkey']);
    await items().first().waitFor();
    assert.doesNotMatch(await items().first().textContent(), /last used never/);
    assert.match(await items().first().textContent(), /last used \S/);

    // Stale again: the step-up prompt offers the passkey, which proves it; the
    // authenticator then refuses a second passkey for the same account (excludeCredentials).
    await stale();
    await page.click('#add-passkey button[type=submit]');
    await page.locator('#step-up[open]').waitFor();
    await page.click('#step-up-passkey');
    await alert(/already holds a passkey/);
    assert.equal(await items().count(), 1);

    // Sign out, then the email field's autofill (conditional UI), no button pressed: the
    // person focuses the field and picks the passkey (the virtual authenticator picks it).
    await holdAutofill(false);
    await webauthnLog();
    await signOut();
    await page.focus('#sign-in input[name=email]');
    await page.locator('#signed-in').waitFor();
    await notice(/Signed in with a passkey/);
    assert.deepEqual(await webauthnLog(), ['autofill']);
    assert.deepEqual(await authMethods(), ['passkey']);
    await holdAutofill(true);

    // Rename in place.
    await items().first().getByRole('button', { name: 'Rename' }).click();
    await page.fill('#passkeys li form.passkey-rename input', 'Work laptop');
    await page.locator('#passkeys li form.passkey-rename').getByRole('button', { name: 'Save' }).click();
    await notice(/renamed to "Work laptop"/);
    await page.locator('#passkeys li', { hasText: 'Work laptop' }).waitFor();
    assert.equal(await page.locator('#passkeys li form').count(), 0);

    // Remove it (the account keeps its password, so this is not its last way in).
    page.once('dialog', (d) => d.accept());
    await items().first().getByRole('button', { name: 'Remove' }).click();
    await notice(/Passkey "Work laptop" removed/);
    await page.locator('#passkeys-none:not([hidden])').waitFor();
    assert.equal(await items().count(), 0);
    const listed = await page.evaluate(async (l) =>
      (await (await fetch(`${l}/auth/passkey/list-user-passkeys`, { credentials: 'include' })).json()).passkeys, latch);
    assert.deepEqual(listed, []);

    // The authenticator still holds it, but latch no longer accepts it.
    await signOut();
    await page.click('#passkey-sign-in');
    await alert(/did not accept this passkey/);
    assert.equal((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length, 1);
    assert.ok(await page.isVisible('#signed-out'));
    assert.equal(await authMethods(), 401);
  } finally {
    await browser.close();
  }
});
