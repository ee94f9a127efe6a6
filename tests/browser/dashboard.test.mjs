// The demo dashboard (examples/dashboard) in headless Chromium, served from another
// origin than latch: the providers it learns from `signInMethods`, sign-up (a weak
// password's problems listed once, as an alert), verification from the outbox, sign-in,
// the `me` view, change-password, sign-out, social sign-in at the loopback OpenID provider
// as a new identity and set-password for that password-less account, a provider that
// refuses (a sentence, not a code), a `?latch=` that is not an http(s) URL (ignored), and a
// page served from an origin latch does not allow, which can neither read `me` nor sign in
// and names LATCH_ALLOWED_ORIGINS as the likely cause.
//
// Needs: LATCH_BIN (the latch binary), Debian's chromium (CHROMIUM, default
// /usr/bin/chromium), node_modules here (npm ci) and in ../idp. Screenshots go to
// SCREENSHOTS (default artifacts/screenshots at the repository root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { root, shots, freePort, waitHttp, start, startLatch, waitLink, launchOptions } from './harness.mjs';

test('the dashboard works across origins, and a foreign origin gets nothing', async () => {
  const [latchPort, dashPort, idpPort, otherPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const latch = `http://127.0.0.1:${latchPort}`;
  const dash = `http://127.0.0.1:${dashPort}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'latch-browser-'));
  const outbox = path.join(work, 'outbox');

  start('node', ['idp-server.mjs', String(idpPort)], {
    cwd: path.join(root, 'tests/idp'),
    env: { ...process.env, IDP_REDIRECT_URIS: `${latch}/auth/callback/test` },
  });
  await waitHttp(`http://127.0.0.1:${idpPort}/.well-known/openid-configuration`);
  await startLatch({
    work, port: latchPort, appUrl: dash, outbox,
    env: {
      LATCH_OIDC_TEST_ISSUER: `http://127.0.0.1:${idpPort}`,
      LATCH_OIDC_TEST_CLIENT_ID: 'dashboard',
      LATCH_OIDC_TEST_CLIENT_SECRET: 'dashboard-secret',
    },
  });
  const dir = path.join(root, 'examples/dashboard');
  // The dashboard's own origin, and another one that latch does not allow (localhost is
  // another site than 127.0.0.1 to the browser).
  start('python3', ['-m', 'http.server', String(dashPort), '--bind', '127.0.0.1', '--directory', dir], {}, true);
  start('python3', ['-m', 'http.server', String(otherPort), '--bind', '127.0.0.1', '--directory', dir], {}, true);
  await waitHttp(`${dash}/index.html`);
  await waitHttp(`http://127.0.0.1:${otherPort}/index.html`);

  const browser = await chromium.launch(launchOptions());
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const app = `${dash}/?latch=${encodeURIComponent(latch)}`;
    const errorBox = (p) => p.locator('#error:not(:empty)');

    // The providers come from latch (`signInMethods`), not from the address; the page says
    // which server it talks to.
    await page.goto(app);
    await page.locator('#signed-out').waitFor();
    await page.locator('#providers button', { hasText: 'Sign in with Test' }).waitFor();
    assert.equal((await page.textContent('#api')).trim(), `API: ${latch}`);
    assert.equal(await page.getAttribute('#latch-link', 'href'), latch);
    await page.screenshot({ path: path.join(shots, '01-signed-out.png'), fullPage: true });

    // Sign up; a weak password's problems are an alert, each listed once.
    await page.fill('#sign-up input[name=name]', 'Ada Lovelace');
    await page.fill('#sign-up input[name=email]', 'ada@example.com');
    await page.fill('#sign-up input[name=password]', 'short');
    await page.click('#sign-up button');
    await errorBox(page).waitFor();
    const weak = await page.getByRole('alert').textContent();
    assert.match(weak, /at least 12 characters/, 'contract messages, not raw JSON');
    assert.equal(weak.match(/at least 12 characters/g).length, 1, `listed once: ${weak}`);
    const problems = weak.split('\n');
    assert.equal(new Set(problems).size, problems.length, `no problem twice: ${weak}`);
    await page.fill('#sign-up input[name=password]', 'correct horse battery staple');
    await page.click('#sign-up button');
    await page.locator('#outbox-hint').waitFor();
    assert.match(await page.textContent('#outbox-hint'), /outbox/);
    await page.screenshot({ path: path.join(shots, '02-signed-up.png'), fullPage: true });

    // The verification link: latch signs in and sends the browser back to the dashboard.
    const link = await waitLink(outbox, 'verify-email');
    await page.goto(link);
    await page.waitForURL((u) => u.origin === dash);
    await page.locator('#signed-in').waitFor();
    assert.equal(await page.textContent('#me-name'), 'Ada Lovelace');
    assert.match(await page.textContent('#workspaces'), /workspace.*owner/s);
    await page.screenshot({ path: path.join(shots, '03-signed-in.png'), fullPage: true });
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState: await context.storageState() });
    const phonePage = await phone.newPage();
    await phonePage.goto(app);
    await phonePage.locator('#signed-in').waitFor();
    await phonePage.screenshot({ path: path.join(shots, '04-signed-in-phone.png'), fullPage: true });
    await phone.close();

    // An account with a password is offered change-password, not set-password.
    assert.ok(await page.isVisible('#change-password-card'));
    assert.ok(await page.isHidden('#set-password-card'));

    // Change the password, sign out, sign in with the new one.
    await page.fill('#change-password input[name=currentPassword]', 'correct horse battery staple');
    await page.fill('#change-password input[name=newPassword]', 'violet submarine orchestra 1987');
    await page.click('#change-password button');
    await page.locator('#notice', { hasText: 'Password changed' }).waitFor();
    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();
    await page.fill('#sign-in input[name=email]', 'ada@example.com');
    await page.fill('#sign-in input[name=password]', 'correct horse battery staple');
    await page.click('#sign-in button');
    await errorBox(page).waitFor();
    assert.match(await page.getByRole('alert').textContent(), /incorrect/);
    await page.fill('#sign-in input[name=password]', 'violet submarine orchestra 1987');
    await page.click('#sign-in button');
    await page.locator('#signed-in').waitFor();
    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();

    // Forgot password: the emailed link opens latch's own reset page.
    await page.fill('#sign-in input[name=email]', 'ada@example.com');
    await page.click('#forgot');
    await page.locator('#notice', { hasText: 'reset link' }).waitFor();
    const reset = await waitLink(outbox, 'reset-password');
    assert.ok(reset.startsWith(`${latch}/reset-password?token=`), reset);

    // Social sign-in at the loopback provider's login page, as a new verified identity:
    // the account has no password, so the page offers "Set a password".
    await page.click('#providers button');
    await page.waitForURL((u) => u.port === String(idpPort));
    await page.fill('input[name=sub]', 'grace-1');
    await page.fill('input[name=email]', 'grace@example.com');
    await page.selectOption('select[name=email_verified]', 'true');
    await page.fill('input[name=name]', 'Grace Hopper');
    await page.click('#login button');
    await page.waitForURL((u) => u.origin === dash);
    await page.locator('#signed-in').waitFor();
    assert.equal(await page.textContent('#me-name'), 'Grace Hopper');
    assert.match(await page.textContent('#accounts'), /Test/);
    await page.locator('#set-password-card').waitFor();
    assert.ok(await page.isHidden('#change-password-card'));
    assert.match(await page.textContent('#set-password-card h2'), /Set a password/);
    await page.screenshot({ path: path.join(shots, '05-social.png'), fullPage: true });

    // Set a password (the fresh social session is the step-up): latch now lists the
    // password, the page offers change-password, and the password signs in.
    await page.fill('#set-password input[name=newPassword]', 'amber lighthouse quartet 2041');
    await page.click('#set-password button');
    await page.locator('#notice', { hasText: 'Password set' }).waitFor();
    await page.locator('#change-password-card').waitFor();
    assert.ok(await page.isHidden('#set-password-card'));
    assert.match(await page.textContent('#accounts'), /Password/);
    const ways = await page.evaluate(async (base) => {
      const r = await fetch(`${base}/graphql`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: '{ linkedAccounts { provider } }' }),
      });
      return (await r.json()).data.linkedAccounts.map((a) => a.provider).sort();
    }, latch);
    assert.deepEqual(ways, ['credential', 'test']);
    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();
    await page.fill('#sign-in input[name=email]', 'grace@example.com');
    await page.fill('#sign-in input[name=password]', 'amber lighthouse quartet 2041');
    await page.click('#sign-in button');
    await page.locator('#signed-in').waitFor();
    assert.equal(await page.textContent('#me-name'), 'Grace Hopper');

    // The provider refuses (the person presses Deny), in a browser without a provider
    // session: the page says so in a sentence, not with latch's code, and drops `error`
    // from the address.
    const denied = await browser.newContext();
    const deny = await denied.newPage();
    await deny.goto(app);
    await deny.locator('#providers button').waitFor();
    await deny.click('#providers button');
    await deny.waitForURL((u) => u.port === String(idpPort));
    await deny.click('#deny button');
    await deny.waitForURL((u) => u.origin === dash);
    await errorBox(deny).waitFor();
    const refused = await deny.getByRole('alert').textContent();
    assert.match(refused, /did not finish/, refused);
    assert.doesNotMatch(refused, /[A-Z]{2,}_[A-Z]{2,}/, `no raw code: ${refused}`);
    assert.ok(!new URL(deny.url()).searchParams.has('error'), deny.url());
    assert.ok(await deny.isVisible('#signed-out'));
    await deny.screenshot({ path: path.join(shots, '06-provider-refused.png'), fullPage: true });
    // An unverified email sends the person to the verification email.
    await deny.goto(`${app}&error=EMAIL_NOT_VERIFIED`);
    await errorBox(deny).waitFor();
    assert.match(await deny.getByRole('alert').textContent(), /verification email/);
    await denied.close();

    // `?latch=` that is not an http(s) URL: ignored, with a notice, and never in a link.
    const odd = await browser.newContext();
    const oddPage = await odd.newPage();
    let dialogs = 0;
    oddPage.on('dialog', (d) => { dialogs += 1; d.dismiss(); });
    await oddPage.goto(`${dash}/?latch=${encodeURIComponent('javascript:alert(1)')}`);
    await oddPage.locator('#api-notice:not(:empty)').waitFor();
    assert.match(await oddPage.textContent('#api-notice'), /not an http\(s\) URL/);
    assert.equal((await oddPage.textContent('#api')).trim(), 'API: http://127.0.0.1:8080');
    const href = await oddPage.getAttribute('#latch-link', 'href');
    assert.ok(['http:', 'https:'].includes(new URL(href).protocol), href);
    assert.equal(dialogs, 0);
    await odd.close();

    // The same page from an origin latch does not allow: no `me`, no sign-in.
    const other = await browser.newContext();
    const foreign = await other.newPage();
    await foreign.goto(`http://localhost:${otherPort}/?latch=${encodeURIComponent(latch)}`);
    await foreign.locator('#signed-out').waitFor();
    await foreign.fill('#sign-in input[name=email]', 'ada@example.com');
    await foreign.fill('#sign-in input[name=password]', 'violet submarine orchestra 1987');
    await foreign.click('#sign-in button');
    await errorBox(foreign).waitFor();
    assert.ok(await foreign.isHidden('#signed-in'));
    const cause = await foreign.getByRole('alert').textContent();
    assert.match(cause, /LATCH_ALLOWED_ORIGINS/, cause);
    assert.ok(cause.includes(`http://localhost:${otherPort}`), cause);
    await foreign.screenshot({ path: path.join(shots, '07-foreign-origin.png'), fullPage: true });
    await other.close();

    // latch's own reset page runs its script under its Content-Security-Policy (the
    // inline script is allowed by its hash): a bogus token gets latch's answer shown.
    const resetContext = await browser.newContext();
    const resetPage = await resetContext.newPage();
    const violations = [];
    resetPage.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text()); });
    await resetPage.goto(`${latch}/reset-password?token=not-a-real-token`);
    await resetPage.fill('#newPassword', 'a fresh lantern over quiet hills');
    await resetPage.fill('#confirm', 'a fresh lantern over quiet hills');
    await resetPage.click('#reset button');
    await resetPage.locator('#message.error').waitFor();
    assert.match(await resetPage.textContent('#message'), /link|token/i);
    assert.deepEqual(violations, []);
    await resetContext.close();
  } finally {
    await browser.close();
  }
});
