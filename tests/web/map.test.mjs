// The web map in a real browser: Debian's Chromium driven by playwright-core (from npm,
// web/node_modules; no browser download), against the real `canopy serve` on the sample
// store. Run by scripts/test.sh after the cargo tests:
//
//   node --test tests/web/
//
// Environment:
//   CANOPY_BIN         the binary (default target/release/canopy)
//   CANOPY_TEST_STORE  a store to serve (copied first); default: a fresh `canopy run` of
//                      the Lạng Sơn sample region (its imagery generated once, like
//                      scripts/demo.sh does)
//   CHROMIUM           the browser (default /usr/bin/chromium)
//   SCREENSHOT_DIR     default target/screenshots
//   CANOPY_TEST_URL    test an already running server instead (it must accept the two
//                      tokens in TOKENS below); the triage test changes its data
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  throw new Error('playwright-core is not installed: run web/build.sh (or scripts/setup.sh), which runs npm ci in web/');
}

const BIN = process.env.CANOPY_BIN || path.join(ROOT, 'target/release/canopy');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.SCREENSHOT_DIR || 'target/screenshots');
const REGION = path.join(ROOT, 'data/regions/lang-son');
// Two rangers' tokens, given to the server the way an administrator would.
const TOKENS = { 'Ranger Test': 'map-test-token-1', 'Other Ranger': 'map-test-token-2' };

let tmp, server, base, browser;
const serverLog = [];

function run(cmd, args, opts = {}) {
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

// The store the page is tested on: a copy of CANOPY_TEST_STORE, or a fresh run of the sample.
function prepareStore() {
  const store = path.join(tmp, 'lang-son.gpkg');
  if (process.env.CANOPY_TEST_STORE) {
    fs.copyFileSync(process.env.CANOPY_TEST_STORE, store);
    return store;
  }
  if (!fs.existsSync(path.join(REGION, 'truth/truth.json')) || !fs.existsSync(path.join(REGION, 'zones.geojson'))
    || !fs.existsSync(path.join(REGION, 'tiles/2025/scenes'))
    || !fs.existsSync(path.join(REGION, 'weather/stations.csv'))) {
    // Same arguments as scripts/demo.sh.
    run(BIN, ['synth', REGION, '--communes', path.join(REGION, 'communes.geojson'), '--name', 'Lạng Sơn',
      '--pixel-size', '30', '--seed', '7', '--scenes', '3', '--targets', path.join(REGION, 'targets.toml')]);
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

async function api(p, opts) {
  const r = await fetch(base + p, opts);
  const body = await r.text();
  return { status: r.status, headers: r.headers, json: body ? JSON.parse(body) : null };
}

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-map-test-'));
  fs.mkdirSync(SHOTS, { recursive: true });
  if (process.env.CANOPY_TEST_URL) {
    base = process.env.CANOPY_TEST_URL.replace(/\/$/, '');
  } else {
    assert.ok(fs.existsSync(BIN), `${BIN} is missing: build it first (scripts/setup.sh)`);
    const store = prepareStore();
    await startServer(store);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  if (browser) await browser.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => { server.on('exit', r); setTimeout(r, 5000); });
  }
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// A page with its console errors, page errors, failed and off-machine requests recorded.
async function openMap(contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', ...contextOptions });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`external request: ${r.url()}`);
  });
  await page.goto(`${base}/map`);
  await page.waitForFunction(() => window.canopy && (window.canopy.ready || window.canopy.errors.length > 0), null, { timeout: 30000 });
  const errors = await page.evaluate(() => window.canopy.errors);
  assert.deepEqual(errors, [], `the page reported errors: ${errors.join('; ')}`);
  return { context, page, problems };
}

async function numberMatched(collection) {
  const r = await api(`/collections/${collection}/items?limit=1&f=json`);
  assert.equal(r.status, 200, `GET /collections/${collection}/items: ${JSON.stringify(r.json)}`);
  assert.equal(typeof r.json.numberMatched, 'number', `${collection}: numberMatched missing`);
  return r.json.numberMatched;
}

// Zoom the map onto one alert (as a user would) and click its marker.
async function clickAlert(page, id) {
  await page.evaluate((id) => {
    const m = window.canopy.alertMarker(id);
    if (!m) throw new Error(`alert ${id} is not on the map`);
    window.canopy.map.setView(m.getLatLng(), 14, { animate: false });
  }, id);
  const marker = page.locator(`path.alert-marker[data-alert-id="${id}"]`);
  await marker.waitFor({ state: 'visible' });
  await marker.click();
  const popup = page.locator(`.leaflet-popup .alert-popup[data-alert-id="${id}"]`);
  await popup.waitFor({ state: 'visible', timeout: 5000 });
  return popup;
}

test('the map draws every commune, alert and zone, with a legend, and no errors', async () => {
  const { context, page, problems } = await openMap();
  const [communes, alerts, zones] = await Promise.all(['communes', 'alerts', 'zones'].map(numberMatched));
  assert.ok(communes > 0 && alerts > 0, `the sample store must have communes and alerts (got ${communes}, ${alerts})`);
  const counts = await page.evaluate(() => window.canopy.counts);
  assert.equal(counts.communes, communes, 'communes on the page vs numberMatched');
  assert.equal(counts.alerts, alerts, 'alerts on the page vs numberMatched');
  assert.equal(counts.zones, zones, 'zones on the page vs numberMatched');

  // What is actually drawn: one SVG path per commune polygon and one marker per alert.
  assert.ok(await page.locator('.leaflet-communes-pane path').count() >= communes, 'commune shapes drawn');
  assert.equal(await page.locator('.leaflet-alerts-pane path.alert-marker').count(), alerts, 'alert markers drawn');
  if (zones > 0) assert.ok(await page.locator('.leaflet-zones-pane path').count() >= zones, 'zone shapes drawn');

  // A choropleth: communes get different fills, and each fill is its cover class's colour.
  const fills = await page.evaluate(() => [...new Set([...document.querySelectorAll('.leaflet-communes-pane path')].map((p) => p.getAttribute('fill')))]);
  assert.ok(fills.length >= 3, `communes coloured by cover %: only ${fills.length} distinct fills (${fills})`);
  const legend = await page.locator('.legend').innerText();
  assert.match(legend, /Forest cover/);
  assert.match(legend, /high/);
  assert.match(legend, /medium/);
  assert.match(legend, /low/);
  if (zones > 0) assert.match(legend, /Planting zones/);

  // The layer switcher toggles the alerts off and on.
  // The main switcher has the three layers; a store with fire danger adds its own
  // switch for the fire layer (static/map/fire.js).
  const overlays = page.locator('.leaflet-control-layers-overlays label');
  const names = (await overlays.allInnerTexts()).map((t) => t.trim());
  const fire = await page.evaluate(async () => (await fetch('/stats/fire-danger?f=json')).status);
  assert.equal(names.filter((n) => n.startsWith('Fire danger')).length, fire === 200 ? 1 : 0, `overlays: ${names}`);
  assert.equal(names.filter((n) => !n.startsWith('Fire')).length, 3, `overlays: ${names}`);
  await page.locator('.leaflet-control-layers-overlays label', { hasText: 'Alerts' }).locator('input').uncheck();
  assert.equal(await page.locator('.leaflet-alerts-pane path.alert-marker').count(), 0, 'alerts hidden by the layer switcher');
  await page.locator('.leaflet-control-layers-overlays label', { hasText: 'Alerts' }).locator('input').check();
  assert.equal(await page.locator('.leaflet-alerts-pane path.alert-marker').count(), alerts);

  const shot = path.join(SHOTS, 'map.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('clicking an alert opens its details', async () => {
  const { context, page, problems } = await openMap();
  const list = await api('/collections/alerts/items?limit=10000&f=json');
  const alert = list.json.features.find((f) => f.properties.severity === 'high') || list.json.features[0];
  const popup = await clickAlert(page, alert.id);
  const text = await popup.innerText();
  const p = alert.properties;
  assert.match(text, new RegExp(p.severity));
  assert.ok(text.includes(String(alert.id)), 'the popup shows the alert id');
  assert.ok(text.includes(p.commune_name), `the popup names the commune ${p.commune_name}`);
  assert.ok(text.includes(p.from_date) && text.includes(p.to_date), 'the popup shows both dates');
  assert.match(text, /Sign in to triage/, 'without a token the popup offers to sign in');
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
  const shot = path.join(SHOTS, 'map-popup.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('a ranger triages an alert; a concurrent change is shown, not overwritten', async () => {
  const { context, page, problems } = await openMap();
  const list = await api('/collections/alerts/items?limit=10000&f=json');
  const alert = list.json.features.find((f) => f.properties.status === 'new' && f.properties.severity !== 'high') || list.json.features[0];
  const id = alert.id;

  // Sign in through the dialog.
  await page.locator('#btn-token').click();
  await page.locator('#token-input').fill(TOKENS['Ranger Test']);
  await page.locator('#token-save').click();
  assert.equal(await page.locator('#btn-token').innerText(), 'Signed in');

  // Confirm with a note.
  let popup = await clickAlert(page, id);
  await popup.locator('.choices label', { hasText: 'confirmed' }).click();
  await popup.locator('textarea').fill('Cleared on the ground, 2 ha, fresh stumps');
  await popup.locator('button.save').click();
  await popup.locator('.msg.ok').waitFor({ timeout: 10000 });
  let now = await api(`/collections/alerts/items/${encodeURIComponent(id)}`);
  assert.equal(now.json.properties.status, 'confirmed');
  assert.equal(now.json.properties.note, 'Cleared on the ground, 2 ha, fresh stumps');
  assert.equal(now.json.properties.status_by, 'Ranger Test');
  assert.match(await page.locator(`path.alert-marker[data-alert-id="${id}"]`).getAttribute('stroke'), /#111111/i, 'confirmed alerts get a dark outline');

  // Another ranger dismisses it meanwhile (through the API, with a fresh ETag).
  const other = await api(`/collections/alerts/items/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKENS['Other Ranger']}`, 'If-Match': now.headers.get('etag') },
    body: JSON.stringify({ status: 'dismissed', note: 'Harvest with a permit' }),
  });
  assert.equal(other.status, 200, JSON.stringify(other.json));

  // This page still holds the old ETag: its next save must be refused and explained.
  await popup.locator('.choices label', { hasText: 'new' }).click();
  await popup.locator('button.save').click();
  const conflict = popup.locator('.msg.conflict');
  await conflict.waitFor({ timeout: 10000 });
  const conflictText = await conflict.innerText();
  assert.match(conflictText, /someone else changed this alert/i);
  assert.match(conflictText, /dismissed/);
  assert.match(conflictText, /Other Ranger/);
  now = await api(`/collections/alerts/items/${encodeURIComponent(id)}`);
  assert.equal(now.json.properties.status, 'dismissed', "the other ranger's change was not overwritten");
  const shot = path.join(SHOTS, 'map-conflict.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);

  // Saving again after seeing the conflict is a deliberate overwrite, and it works.
  await popup.locator('.choices label', { hasText: 'confirmed' }).click();
  await popup.locator('button.save').click();
  await popup.locator('.msg.ok').waitFor({ timeout: 10000 });
  now = await api(`/collections/alerts/items/${encodeURIComponent(id)}`);
  assert.equal(now.json.properties.status, 'confirmed');

  // The history lists all three events.
  await popup.locator('button', { hasText: 'History' }).click();
  await page.waitForFunction((id) => {
    const items = document.querySelectorAll(`.alert-popup[data-alert-id="${id}"] .history li`);
    return items.length >= 3;
  }, id, { timeout: 5000 });

  // A wrong token is refused, clearly.
  await page.evaluate(() => window.canopy.setToken('not-a-valid-token'));
  popup = await clickAlert(page, id);
  await popup.locator('.choices label', { hasText: 'dismissed' }).click();
  await popup.locator('button.save').click();
  const refused = popup.locator('.msg.error');
  await refused.waitFor({ timeout: 10000 });
  assert.match(await refused.innerText(), /Token refused \(HTTP 401/);
  now = await api(`/collections/alerts/items/${encodeURIComponent(id)}`);
  assert.equal(now.json.properties.status, 'confirmed', 'nothing written with a bad token');

  // The browser logs failed HTTP answers (401, 412) as console errors: those are expected here.
  const unexpected = problems.filter((p) => !/status of (401|412)/.test(p));
  assert.deepEqual(unexpected, [], unexpected.join('\n'));
  await context.close();
});

test('on a phone: the list, a tap on an alert, no horizontal scrolling', async () => {
  const { context, page, problems } = await openMap({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const alerts = await numberMatched('alerts');
  assert.equal(await page.locator('.leaflet-alerts-pane path.alert-marker').count(), alerts);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px on a phone`);
  assert.equal(await page.locator('.leaflet-control-zoom').count(), 0, 'no zoom buttons on touch screens (pinch)');
  const shot = path.join(SHOTS, 'map-phone.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);

  await page.locator('#btn-list').tap();
  const first = page.locator('#alert-list button').first();
  await first.waitFor({ state: 'visible' });
  assert.equal(await page.locator('#alert-list button').count(), alerts);
  const id = await first.getAttribute('data-alert-id');
  await first.tap();
  const popup = page.locator(`.leaflet-popup .alert-popup[data-alert-id="${id}"]`);
  await popup.waitFor({ state: 'visible', timeout: 5000 });
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
  const box = await page.locator('.leaflet-popup').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the popup fits the phone's width (${box.x}..${box.x + box.width})`);
  const shot2 = path.join(SHOTS, 'map-phone-popup.png');
  await page.screenshot({ path: shot2 });
  console.log(`screenshot: ${shot2}`);
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('without the vendored Leaflet the page says what to run', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route('**/static/vendor/leaflet/leaflet.js', (r) => r.fulfill({ status: 404, body: 'missing' }));
  await page.goto(`${base}/map`);
  const banner = page.locator('#banner');
  await banner.waitFor({ state: 'visible', timeout: 10000 });
  assert.match(await banner.innerText(), /web\/build\.sh/);
  await context.close();
});
