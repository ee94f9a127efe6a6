// What the browser tests share: the binaries and folders they use, free ports, child
// processes stopped at the end, and the links latch writes to its outbox.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const shots = process.env.SCREENSHOTS || path.join(root, 'artifacts/screenshots');
export const latchBin = process.env.LATCH_BIN;
assert.ok(latchBin, 'LATCH_BIN must name the latch binary');
fs.mkdirSync(shots, { recursive: true });

const children = [];
after(() => { for (const c of children) c.kill('SIGTERM'); });

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export async function waitHttp(url) {
  for (let i = 0; i < 200; i++) {
    try { const r = await fetch(url); if (r.status < 500) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer`);
}

export function start(cmd, args, opts = {}, quiet = false) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', quiet ? 'ignore' : 'inherit'], ...opts });
  children.push(c);
  return c;
}

export function newestLink(outbox, needle) {
  if (!fs.existsSync(outbox)) return null;
  const files = fs.readdirSync(outbox).filter((f) => f.endsWith('.eml'))
    .map((f) => path.join(outbox, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const f of files) {
    const m = fs.readFileSync(f, 'utf8').match(new RegExp(`^(http\\S*${needle}\\S*)$`, 'm'));
    if (m) return m[1].trim();
  }
  return null;
}

export async function waitLink(outbox, needle) {
  for (let i = 0; i < 200; i++) {
    const l = newestLink(outbox, needle);
    if (l) return l;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${needle} email`);
}

/** Starts latch on `port` with a fresh SQLite file in `work`, test-cheap hashing and no
 * rate limit, for a dashboard at `appUrl`; `env` adds or overrides variables. latch binds
 * 127.0.0.1 and calls itself `http://<host>:<port>` (`host` 'localhost' for passkeys: an IP
 * address is no WebAuthn RP ID). */
export function startLatch({ work, port, appUrl, outbox, env = {}, host = '127.0.0.1' }) {
  const latch = `http://${host}:${port}`;
  start(latchBin, ['serve'], {
    cwd: work,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${work}/latch.db?mode=rwc`,
      LATCH_BIND: `127.0.0.1:${port}`,
      LATCH_PUBLIC_URL: latch,
      LATCH_APP_URL: appUrl,
      LATCH_ALLOWED_ORIGINS: `${appUrl},${latch}`,
      LATCH_MAIL_OUTBOX: outbox,
      LATCH_RATE_LIMIT_PER_SEC: '0',
      LATCH_ARGON2_MEMORY_KIB: '1024',
      LATCH_ARGON2_ITERATIONS: '1',
      ...env,
    },
  });
  return waitHttp(`http://127.0.0.1:${port}/healthz`);
}

/** latch and the demo dashboard on free ports, latch with a fresh database in a new
 * folder (`prefix`) and `env` added: { latch, dash, app (the dashboard's address naming
 * latch), outbox }. Both bind 127.0.0.1; `host` is the name the browser uses for them
 * ('localhost' for passkeys: one site, and a secure context with a domain RP ID). */
export async function startDashboard(prefix, env = {}, { host = '127.0.0.1' } = {}) {
  const [latchPort, dashPort] = await Promise.all([freePort(), freePort()]);
  const latch = `http://${host}:${latchPort}`;
  const dash = `http://${host}:${dashPort}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const outbox = path.join(work, 'outbox');
  await startLatch({ work, port: latchPort, appUrl: dash, outbox, env, host });
  start('python3', ['-m', 'http.server', String(dashPort), '--bind', '127.0.0.1', '--directory',
    path.join(root, 'examples/dashboard')], {}, true);
  await waitHttp(`http://127.0.0.1:${dashPort}/index.html`);
  return { latch, dash, app: `${dash}/?latch=${encodeURIComponent(latch)}`, outbox };
}

/** Headless Debian Chromium (CHROMIUM, default /usr/bin/chromium). */
export function launchOptions() {
  return {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  };
}
