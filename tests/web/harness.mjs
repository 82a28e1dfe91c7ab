// Shared set-up of the web tests that need their own server (tests/web/field.test.mjs):
// the same steps as map.test.mjs (a fresh `canopy run` of the Lạng Sơn sample, the real
// `canopy serve` with two rangers' tokens, Debian's Chromium through playwright-core).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  throw new Error('playwright-core is not installed: run web/build.sh (or scripts/setup.sh), which runs npm ci in web/');
}

export const BIN = process.env.CANOPY_BIN || path.join(ROOT, 'target/release/canopy');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.resolve(ROOT, process.env.SCREENSHOT_DIR || 'target/screenshots');
const REGION = path.join(ROOT, 'data/regions/lang-son');
// Two rangers' tokens, given to the server the way an administrator would.
export const TOKENS = { 'Ranger Test': 'map-test-token-1', 'Other Ranger': 'map-test-token-2' };

export let tmp, server, base, browser;
const serverLog = [];

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// A sample generated before the SWIR band (band 4, burned area) is regenerated, as
// scripts/demo.sh does.
function hasSwirBand(dir) {
  const tif = fs.readdirSync(dir).filter((f) => f.endsWith('.tif')).sort()[0];
  if (!tif) return false;
  const r = spawnSync('gdalinfo', [path.join(dir, tif)], { encoding: 'utf8' });
  return r.status === 0 && /^Band 4 /m.test(r.stdout);
}

// The store the page is tested on: a copy of CANOPY_TEST_STORE, or a fresh run of the sample.
function prepareStore() {
  const store = path.join(tmp, 'lang-son.gpkg');
  if (process.env.CANOPY_TEST_STORE) {
    fs.copyFileSync(process.env.CANOPY_TEST_STORE, store);
    return store;
  }
  if (!fs.existsSync(path.join(REGION, 'truth/truth.json')) || !fs.existsSync(path.join(REGION, 'zones.geojson'))
    || !fs.existsSync(path.join(REGION, 'tiles/2025/scenes'))
    || !fs.existsSync(path.join(REGION, 'weather/stations.csv'))
    || !hasSwirBand(path.join(REGION, 'tiles/2025'))) {
    // Same arguments as scripts/demo.sh.
    run(BIN, ['synth', REGION, '--communes', path.join(REGION, 'communes.geojson'), '--name', 'Lạng Sơn',
      '--pixel-size', '30', '--seed', '7', '--scenes', '3', '--targets', path.join(REGION, 'targets.toml'), '--parcels']);
  }
  if (!fs.existsSync(path.join(REGION, 'parcels.geojson'))) {
    // A sample from before forest plots: only parcels.geojson is written.
    run(BIN, ['synth', REGION, '--communes', path.join(REGION, 'communes.geojson'), '--name', 'Lạng Sơn',
      '--pixel-size', '30', '--seed', '7', '--scenes', '3', '--targets', path.join(REGION, 'targets.toml'), '--parcels-only']);
  }
  run(BIN, ['run', path.join(REGION, 'region.toml'), '--store', store]);
  return store;
}

async function startServer(store) {
  const port = await freePort();
  // The server keeps only SHA-256 hashes of the tokens: `name:sha256hex` entries.
  const hashed = Object.entries(TOKENS).map(([name, t]) => `${name}:${crypto.createHash('sha256').update(t).digest('hex')}`);
  server = spawn(BIN, ['serve', '--store', store, '--bind', `127.0.0.1:${port}`], {
    env: { ...process.env, CANOPY_TOKENS: hashed.join(','), CANOPY_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout.on('data', (d) => serverLog.push(String(d)));
  server.stderr.on('data', (d) => serverLog.push(String(d)));
  const exited = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r(undefined), 100))]);
    if (code !== undefined) throw new Error(`canopy serve exited with ${code}:\n${serverLog.join('')}`);
    try {
      const r = await fetch(`${base}/collections`);
      if (r.ok) return;
    } catch (_) { /* not up yet */ }
  }
  throw new Error(`canopy serve did not answer on ${base} within 30 s:\n${serverLog.join('')}`);
}

export async function api(p, opts) {
  const r = await fetch(base + p, opts);
  const body = await r.text();
  return { status: r.status, headers: r.headers, json: body ? JSON.parse(body) : null };
}

export async function setUp() {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-field-test-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  if (process.env.CANOPY_TEST_URL) {
    base = process.env.CANOPY_TEST_URL.replace(/\/$/, '');
  } else {
    assert.ok(fs.existsSync(BIN), `${BIN} is missing: build it first (scripts/setup.sh)`);
    const store = prepareStore();
    await startServer(store);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}

export async function tearDown() {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { server.on('exit', r); setTimeout(r, 5000); });
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

// A page with its console errors, page errors, failed and off-machine requests recorded.
export async function openMap(contextOptions = {}, query = '') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`external request: ${r.url()}`);
  });
  await page.goto(`${base}/map${query}`);
  await page.waitForFunction(() => window.canopy && (window.canopy.ready || window.canopy.errors.length > 0), null, { timeout: 30000 });
  const errors = await page.evaluate(() => window.canopy.errors);
  assert.deepEqual(errors, [], `the page reported errors: ${errors.join('; ')}`);
  return { context, page, problems };
}

