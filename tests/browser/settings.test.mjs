// The settings area of the demo dashboard in headless Chromium: the profile, the list of
// signed-in devices with "sign out" per device and "everywhere else" (seen from the other
// browser contexts), an email change confirmed from the outbox, the step-up prompt when a
// stale session changes the email again, and account deletion behind its confirmation.
//
// Needs what dashboard.test.mjs needs (LATCH_BIN, Debian's chromium, npm ci here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { shots, startDashboard, waitLink, launchOptions } from './harness.mjs';

const FRESH_SECS = 3;
const PASSWORD = 'correct horse battery staple';

test('a person manages profile, devices, email and account from the dashboard', async () => {
  const { latch, dash, app, outbox } = await startDashboard('latch-settings-', { LATCH_FRESH_AUTH_SECS: String(FRESH_SECS) });

  const browser = await chromium.launch(launchOptions());
  try {
    const laptop = await browser.newContext({ viewport: { width: 1100, height: 1400 } });
    const page = await laptop.newPage();
    // The next message the page shows: a notice, or the alert that came instead.
    const notice = async () => {
      await page.locator('#notice:not(:empty), #error:not(:empty)').first().waitFor();
      const error = await page.textContent('#error');
      assert.equal(error, '', `the page showed an error: ${error}`);
      return page.textContent('#notice');
    };
    page.on('pageerror', (e) => console.log('pageerror:', e.message));

    // Sign up and verify from the page.
    await page.goto(app);
    await page.fill('#sign-up input[name=name]', 'Grace Hopper');
    await page.fill('#sign-up input[name=email]', 'grace@example.com');
    await page.fill('#sign-up input[name=password]', PASSWORD);
    await page.click('#sign-up button');
    await page.locator('#outbox-hint').waitFor();
    await page.goto(await waitLink(outbox, 'verify-email'));
    await page.waitForURL((u) => u.origin === dash);
    await page.locator('#signed-in').waitFor();

    // Profile: name and picture.
    await page.fill('#profile input[name=name]', 'Grace B. Hopper');
    await page.fill('#profile input[name=image]', `${latch}/healthz`);
    await page.click('#profile button');
    assert.match(await notice(), /Profile saved/);
    await page.locator('#me-name', { hasText: 'Grace B. Hopper' }).waitFor();
    assert.ok(await page.isVisible('#avatar'));

    // A second device signs in; the laptop sees it, tells it apart, and signs it out.
    const phone = await browser.newContext({ userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1' });
    const phonePage = await phone.newPage();
    await phonePage.goto(app);
    await phonePage.fill('#sign-in input[name=email]', 'grace@example.com');
    await phonePage.fill('#sign-in input[name=password]', PASSWORD);
    await phonePage.click('#sign-in button[type=submit]');
    await phonePage.locator('#signed-in').waitFor();
    await page.reload();
    await page.locator('#devices li').nth(1).waitFor();
    const devices = await page.locator('#devices li').allTextContents();
    assert.equal(devices.length, 2, devices.join(' | '));
    assert.match(devices[0], /this device/);
    assert.match(devices.join('\n'), /Safari on iOS/);
    assert.match(devices.join('\n'), /127\.0\.0\.1 · last active/);
    await page.screenshot({ path: path.join(shots, '10-settings.png'), fullPage: true });
    await page.locator('#devices li', { hasText: 'Safari on iOS' }).getByRole('button', { name: 'Sign out' }).click();
    assert.match(await notice(), /Safari on iOS was signed out/);
    await page.waitForFunction(() => document.querySelectorAll('#devices li').length === 1);
    await phonePage.reload();
    await phonePage.locator('#signed-out').waitFor();

    // Change the email on the fresh session: the hint, then the link from the new inbox.
    await page.fill('#change-email input[name=newEmail]', 'amazing.grace@example.com');
    await page.click('#change-email button');
    await page.locator('#email-hint:not([hidden])').waitFor();
    assert.match(await page.textContent('#email-hint'), /amazing\.grace@example\.com/);
    await page.goto(await waitLink(outbox, 'confirm-email-change'));
    await page.waitForURL((u) => u.origin === dash);
    await page.locator('#signed-in').waitFor();
    assert.match(await notice(), /email address was changed/);
    await page.locator('#current-email', { hasText: 'amazing.grace@example.com' }).waitFor();

    // Stale now: changing the email again asks for the password first, then goes on.
    await page.waitForTimeout(FRESH_SECS * 1000 + 500);
    await page.fill('#change-email input[name=newEmail]', 'grace.again@example.com');
    await page.click('#change-email button');
    await page.locator('#step-up[open]').waitFor();
    await page.screenshot({ path: path.join(shots, '11-step-up.png'), fullPage: true });
    await page.fill('#step-up input[name=password]', PASSWORD);
    await page.click('#step-up button[value=confirm]');
    await page.locator('#email-hint', { hasText: 'grace.again@example.com' }).waitFor();
    assert.ok(await waitLink(outbox, 'confirm-email-change'));

    // Sign out everywhere else.
    const tablet = await browser.newContext();
    const tabletPage = await tablet.newPage();
    await tabletPage.goto(app);
    await tabletPage.fill('#sign-in input[name=email]', 'amazing.grace@example.com');
    await tabletPage.fill('#sign-in input[name=password]', PASSWORD);
    await tabletPage.click('#sign-in button[type=submit]');
    await tabletPage.locator('#signed-in').waitFor();
    await page.reload();
    await page.locator('#sign-out-others:not([hidden])').waitFor();
    await page.click('#sign-out-others');
    assert.match(await notice(), /Signed out everywhere else \(1 session\)/);
    await tabletPage.reload();
    await tabletPage.locator('#signed-out').waitFor();

    // Delete the account behind its confirmation, which asks for the password.
    await page.click('#delete-account');
    await page.locator('#confirm-delete[open]').waitFor();
    await page.fill('#confirm-delete input[name=password]', PASSWORD);
    await page.click('#confirm-delete button[value=confirm]');
    await page.locator('#signed-out').waitFor();
    assert.match(await notice(), /account was deleted/);
    await page.screenshot({ path: path.join(shots, '12-deleted.png'), fullPage: true });
    const me = await page.evaluate(async (l) => (await fetch(`${l}/auth/me`, { credentials: 'include' })).status, latch);
    assert.equal(me, 401);
  } finally {
    await browser.close();
  }
});
