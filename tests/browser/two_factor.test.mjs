// Two-factor authentication in the demo dashboard, in headless Chromium: turn it on by
// reading the secret from the page (as a person types it into an authenticator app) and
// computing the codes here (RFC 6238 with node:crypto, independent of latch), store the
// backup codes, sign out and in with the second step and "trust this device", sign in
// on a second browser with a backup code, then turn it off.
//
// Needs what dashboard.test.mjs needs (LATCH_BIN, Debian's chromium, npm ci here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { shots, startDashboard, waitLink, launchOptions } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/\s+/g, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    assert.ok(i >= 0, `not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// An authenticator app: each 30-second step's code, every step used once (latch accepts
// a step once per user, and one step either side of its clock).
class Authenticator {
  constructor(secret) {
    this.key = base32Decode(secret);
    this.next = 0;
  }

  codeAt(step) {
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(step));
    const h = crypto.createHmac('sha1', this.key).update(msg).digest();
    const o = h[19] & 15;
    const n = (((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1_000_000;
    return String(n).padStart(6, '0');
  }

  async code() {
    for (;;) {
      const now = Math.floor(Date.now() / 1000);
      const current = Math.floor(now / 30);
      const into = now % 30;
      const steps = [];
      if (into <= 25) steps.push(current - 1);
      if (into <= 28) steps.push(current);
      steps.push(current + 1);
      const step = steps.find((s) => s >= this.next);
      if (step !== undefined) {
        this.next = step + 1;
        return this.codeAt(step);
      }
      await new Promise((r) => setTimeout(r, (30 - into) * 1000 + 200));
    }
  }
}

test('a person turns on two-factor, signs in with a code and a backup code, trusts a device, turns it off', async () => {
  const { dash, app, outbox } = await startDashboard('latch-2fa-');

  const browser = await chromium.launch(launchOptions());
  try {
    const laptop = await browser.newContext({ viewport: { width: 1100, height: 1400 } });
    const page = await laptop.newPage();
    page.on('pageerror', (e) => console.log('pageerror:', e.message));
    const noticeOf = (p) => async (pattern) => {
      await p.locator('#notice:not(:empty), #error:not(:empty)').first().waitFor();
      const error = await p.textContent('#error');
      assert.equal(error, '', `the page showed an error: ${error}`);
      await p.locator('#notice', { hasText: pattern }).waitFor();
    };
    const notice = noticeOf(page);
    const signIn = async (p) => {
      await p.fill('#sign-in input[name=email]', 'ada@example.com');
      await p.fill('#sign-in input[name=password]', PASSWORD);
      await p.click('#sign-in button[type=submit]');
    };

    // Sign up and verify from the page.
    await page.goto(app);
    await page.fill('#sign-up input[name=name]', 'Ada Lovelace');
    await page.fill('#sign-up input[name=email]', 'ada@example.com');
    await page.fill('#sign-up input[name=password]', PASSWORD);
    await page.click('#sign-up button');
    await page.locator('#outbox-hint').waitFor();
    await page.goto(await waitLink(outbox, 'verify-email'));
    await page.waitForURL((u) => u.origin === dash);
    await page.locator('#signed-in').waitFor();

    // Turn on: the QR code and the key to type; the first code; the backup codes once.
    await page.locator('#tf-status', { hasText: 'Off' }).waitFor();
    await page.click('#tf-enable');
    await page.locator('#tf-enroll:not([hidden])').waitFor();
    const qr = await page.getAttribute('#tf-qr', 'src');
    assert.match(qr, /^data:image\/svg\+xml;base64,/);
    const svg = Buffer.from(qr.split(',')[1], 'base64').toString();
    assert.match(svg, /<svg/);
    const shown = await page.textContent('#tf-secret');
    assert.match(shown, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    const auth = new Authenticator(shown);
    await page.screenshot({ path: path.join(shots, '13-two-factor-qr.png'), fullPage: true });
    await page.fill('#tf-confirm input[name=code]', await auth.code());
    await page.click('#tf-confirm button[type=submit]');
    await notice(/Two-factor authentication is on/);
    await page.locator('#tf-codes:not([hidden])').waitFor();
    assert.match(await page.textContent('#tf-codes'), /Store these now/);
    const codes = await page.locator('#tf-code-list li').allTextContents();
    assert.equal(codes.length, 10);
    for (const c of codes) assert.match(c, /^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
    assert.ok(await page.isVisible('#tf-copy') && await page.isVisible('#tf-download'));
    const download = page.waitForEvent('download');
    await page.click('#tf-download');
    const file = await (await download).path();
    assert.match(fs.readFileSync(file, 'utf8'), new RegExp(codes[0]));
    await page.screenshot({ path: path.join(shots, '14-backup-codes.png'), fullPage: true });
    await page.click('#tf-codes-done');
    await page.locator('#tf-remaining', { hasText: '10 unused backup codes left' }).waitFor();

    // Sign out, sign in: the second step, with "trust this device".
    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();
    await signIn(page);
    await page.locator('#second-step:not([hidden])').waitFor();
    await page.screenshot({ path: path.join(shots, '15-second-step.png'), fullPage: true });
    await page.fill('#second-step input[name=code]', await auth.code());
    await page.check('#second-step input[name=trustDevice]');
    await page.click('#second-step button[type=submit]');
    await page.locator('#signed-in').waitFor();
    await notice(/Signed in/);

    // A trusted device: the next sign-in on this browser asks no code.
    await page.click('#sign-out');
    await page.locator('#signed-out').waitFor();
    await signIn(page);
    await page.locator('#signed-in').waitFor();
    assert.ok(await page.isHidden('#second-step'));

    // Another browser: the second step with a backup code, typed in capitals.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await otherPage.goto(app);
    await signIn(otherPage);
    await otherPage.locator('#second-step:not([hidden])').waitFor();
    await otherPage.fill('#second-step input[name=code]', codes[4].toUpperCase());
    await otherPage.click('#second-step button[type=submit]');
    await otherPage.locator('#signed-in').waitFor();
    await noticeOf(otherPage)(/backup code\. 9 backup codes left/);
    await page.reload();
    await page.locator('#tf-remaining', { hasText: '9 unused backup codes left' }).waitFor();

    // Turn it off (the session is fresh from the sign-in); signing in needs no code then.
    page.once('dialog', (d) => d.accept());
    await page.click('#tf-disable');
    await notice(/Two-factor authentication is off/);
    await page.locator('#tf-status', { hasText: 'Off' }).waitFor();
    await otherPage.click('#sign-out');
    await otherPage.locator('#signed-out').waitFor();
    await signIn(otherPage);
    await otherPage.locator('#signed-in').waitFor();
  } finally {
    await browser.close();
  }
});
