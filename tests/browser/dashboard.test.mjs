// The demo dashboard (examples/dashboard) in headless Chromium, served from another
// origin than latch: sign-up, verification from the outbox, sign-in, the `me` view,
// change-password, sign-out, social sign-in at the loopback OpenID provider, and a page
// served from an origin latch does not allow, which can neither read `me` nor sign in.
//
// Needs: LATCH_BIN (the latch binary), Debian's chromium (CHROMIUM, default
// /usr/bin/chromium), node_modules here (npm ci) and in ../idp. Screenshots go to
// SCREENSHOTS (default artifacts/screenshots at the repository root).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const shots = process.env.SCREENSHOTS || path.join(root, 'artifacts/screenshots');
const latchBin = process.env.LATCH_BIN;
assert.ok(latchBin, 'LATCH_BIN must name the latch binary');
fs.mkdirSync(shots, { recursive: true });

const children = [];
after(() => { for (const c of children) c.kill('SIGTERM'); });

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function waitHttp(url) {
  for (let i = 0; i < 200; i++) {
    try { const r = await fetch(url); if (r.status < 500) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer`);
}

function start(cmd, args, opts = {}, quiet = false) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', quiet ? 'ignore' : 'inherit'], ...opts });
  children.push(c);
  return c;
}

function newestLink(outbox, needle) {
  if (!fs.existsSync(outbox)) return null;
  const files = fs.readdirSync(outbox).filter((f) => f.endsWith('.eml'))
    .map((f) => path.join(outbox, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const f of files) {
    const m = fs.readFileSync(f, 'utf8').match(new RegExp(`^(http\\S*${needle}\\S*)$`, 'm'));
    if (m) return m[1].trim();
  }
  return null;
}

async function waitLink(outbox, needle) {
  for (let i = 0; i < 200; i++) {
    const l = newestLink(outbox, needle);
    if (l) return l;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${needle} email`);
}

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
  start(latchBin, ['serve'], {
    cwd: work,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${work}/latch.db?mode=rwc`,
      LATCH_BIND: `127.0.0.1:${latchPort}`,
      LATCH_APP_URL: dash,
      LATCH_ALLOWED_ORIGINS: `${dash},${latch}`,
      LATCH_MAIL_OUTBOX: outbox,
      LATCH_RATE_LIMIT_PER_SEC: '0',
      LATCH_ARGON2_MEMORY_KIB: '1024',
      LATCH_ARGON2_ITERATIONS: '1',
      LATCH_OIDC_TEST_ISSUER: `http://127.0.0.1:${idpPort}`,
      LATCH_OIDC_TEST_CLIENT_ID: 'dashboard',
      LATCH_OIDC_TEST_CLIENT_SECRET: 'dashboard-secret',
    },
  });
  await waitHttp(`${latch}/healthz`);
  const dir = path.join(root, 'examples/dashboard');
  // The dashboard's own origin, and another one that latch does not allow (localhost is
  // another site than 127.0.0.1 to the browser).
  start('python3', ['-m', 'http.server', String(dashPort), '--bind', '127.0.0.1', '--directory', dir], {}, true);
  start('python3', ['-m', 'http.server', String(otherPort), '--bind', '127.0.0.1', '--directory', dir], {}, true);
  await waitHttp(`${dash}/index.html`);
  await waitHttp(`http://127.0.0.1:${otherPort}/index.html`);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const app = `${dash}/?latch=${encodeURIComponent(latch)}&providers=test`;

    // Sign up; the page explains where the email is.
    await page.goto(app);
    await page.locator('#signed-out').waitFor();
    await page.screenshot({ path: path.join(shots, '01-signed-out.png'), fullPage: true });
    await page.fill('#sign-up input[name=name]', 'Ada Lovelace');
    await page.fill('#sign-up input[name=email]', 'ada@example.com');
    await page.fill('#sign-up input[name=password]', 'short');
    await page.click('#sign-up button');
    await page.locator('#flash.error').waitFor();
    assert.match(await page.textContent('#flash'), /at least 12 characters/, 'contract messages, not raw JSON');
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

    // Change the password, sign out, sign in with the new one.
    await page.fill('#change-password input[name=currentPassword]', 'correct horse battery staple');
    await page.fill('#change-password input[name=newPassword]', 'violet submarine orchestra 1987');
    await page.click('#change-password button');
    await page.locator('#flash.ok', { hasText: 'Password changed' }).waitFor();
    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();
    await page.fill('#sign-in input[name=email]', 'ada@example.com');
    await page.fill('#sign-in input[name=password]', 'correct horse battery staple');
    await page.click('#sign-in button');
    await page.locator('#flash.error').waitFor();
    assert.match(await page.textContent('#flash'), /incorrect/);
    await page.fill('#sign-in input[name=password]', 'violet submarine orchestra 1987');
    await page.click('#sign-in button');
    await page.locator('#signed-in').waitFor();
    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();

    // Forgot password: the emailed link opens latch's own reset page.
    await page.fill('#sign-in input[name=email]', 'ada@example.com');
    await page.click('#forgot');
    await page.locator('#flash.ok', { hasText: 'reset link' }).waitFor();
    const reset = await waitLink(outbox, 'reset-password');
    assert.ok(reset.startsWith(`${latch}/reset-password?token=`), reset);

    // Social sign-in at the loopback provider's login page.
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
    assert.match(await page.textContent('#accounts'), /test/);
    await page.screenshot({ path: path.join(shots, '05-social.png'), fullPage: true });

    // The same page from an origin latch does not allow: no `me`, no sign-in.
    const other = await browser.newContext();
    const foreign = await other.newPage();
    await foreign.goto(`http://localhost:${otherPort}/?latch=${encodeURIComponent(latch)}`);
    await foreign.locator('#signed-out').waitFor();
    await foreign.fill('#sign-in input[name=email]', 'ada@example.com');
    await foreign.fill('#sign-in input[name=password]', 'violet submarine orchestra 1987');
    await foreign.click('#sign-in button');
    await foreign.locator('#flash.error').waitFor();
    assert.ok(await foreign.isHidden('#signed-in'));
    await foreign.screenshot({ path: path.join(shots, '06-foreign-origin.png'), fullPage: true });
    await other.close();
  } finally {
    await browser.close();
  }
});
