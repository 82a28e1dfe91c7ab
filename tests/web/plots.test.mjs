// The forest plots on the map (issue 14), in real Chromium against `canopy serve`:
// below zoom 14 a hint says to zoom in; zoomed onto a plot, the plot is drawn from the
// vector tiles and a tap opens its popup, whose fields equal the plot's row in the store
// (read by GDAL, ogrinfo); a plot whose owner name is markup shows it as text.
//
//   node --test tests/web/plots.test.mjs
//
// Uses the sample store (CANOPY_TEST_STORE, or a fresh run of the sample, as the other
// map tests), one plot's owner rewritten with ogrinfo (GDAL's SQLite).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(ROOT, 'web/package.json'));
const { chromium } = require('playwright-core');
const BIN = process.env.CANOPY_BIN || path.join(ROOT, 'target/release/canopy');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const REGION = path.join(ROOT, 'data/regions/lang-son');
const EVIL = `owner<img src=x onerror="window.__xss=1"><b class=evil>b</b>`;

let tmp, store, server, base, browser;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout;
}
const lit = (s) => `'${s.replace(/'/g, "''")}'`;

// Plots as GDAL reads them (-json is GDAL ≥ 3.7; parse the text form instead).
function plotsWhere(where, limit) {
  const fields = ['parcel_id', 'owner', 'owner_category', 'function', 'origin', 'area_ha', 'forest_ha', 'cover_pct', 'loss_ha', 'epoch', 'change_from'];
  const out = run('ogrinfo', ['-q', store, '-dialect', 'sqlite', '-sql',
    `SELECT ${fields.join(', ')}, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat FROM parcels WHERE ${where} ORDER BY area_ha DESC LIMIT ${limit}`]);
  const rows = [];
  let cur = null;
  for (const line of out.split('\n')) {
    if (/^OGRFeature/.test(line)) { cur = {}; rows.push(cur); continue; }
    const m = line.match(/^\s+(\w+) \((\w+)\) = (.*)$/);
    if (cur && m) cur[m[1]] = m[2] === 'Real' ? Number(m[3]) : m[3];
  }
  return rows;
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-plots-'));
  store = path.join(tmp, 'plots.gpkg');
  if (process.env.CANOPY_TEST_STORE) fs.copyFileSync(process.env.CANOPY_TEST_STORE, store);
  else run(path.join(ROOT, 'scripts/sample.sh'), ['--store', store, REGION]);
  // The second-largest plot gets a hostile owner name.
  const second = plotsWhere('1', 2)[1];
  run('ogrinfo', ['-q', store, '-sql', `UPDATE parcels SET owner = ${lit(EVIL)} WHERE parcel_id = ${lit(second.parcel_id)}`]);
  const port = await freePort();
  server = spawn(BIN, ['serve', '--store', store, '--bind', `127.0.0.1:${port}`], { stdio: 'ignore', env: { ...process.env, CANOPY_LOG: 'warn' } });
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(`${base}/collections`)).ok) break; } catch (_) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// Zoom onto a plot's interior point (the centre of the map) and tap there.
async function tapPlot(page, plot) {
  await page.evaluate(([lat, lon]) => window.canopy.map.setView([lat, lon], 17, { animate: false }), [plot.lat, plot.lon]);
  await page.locator('.leaflet-plots-pane path').first().waitFor({ state: 'attached', timeout: 15000 });
  await page.waitForTimeout(300);
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const popup = page.locator('.leaflet-popup .plot-popup');
  await popup.waitFor({ state: 'visible', timeout: 5000 });
  return popup;
}

async function fields(popup) {
  return popup.evaluate((root) => Object.fromEntries([...root.querySelectorAll('tr[data-field]')]
    .map((tr) => [tr.dataset.field, tr.querySelector('td').textContent])));
}

test('plots from zoom 14: the hint, the tiles, a tapped plot\'s popup equals the store, markup shown as text', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  await page.goto(`${base}/map?lang=en`);
  await page.waitForFunction(() => window.canopy && window.canopy.ready && window.canopy.plotsLayer, null, { timeout: 30000 });
  assert.deepEqual(await page.evaluate(() => window.canopy.errors), []);

  // At the province's zoom: no plot drawn, the hint shown; the legend has the functions.
  const z0 = await page.evaluate(() => window.canopy.map.getZoom());
  assert.ok(z0 < 14, `zoom ${z0}`);
  assert.equal(await page.locator('#plots-hint').isVisible(), true, JSON.stringify(await page.evaluate(() => { const h = document.getElementById('plots-hint'); return h ? { hidden: h.hidden, html: h.outerHTML, z: window.canopy.map.getZoom(), on: window.canopy.map.hasLayer(window.canopy.plotsLayer), rect: h.getBoundingClientRect() } : null; })));
  assert.equal(await page.locator('#plots-hint').innerText(), 'Zoom in to see the forest plots');
  assert.equal(await page.locator('.leaflet-plots-pane path').count(), 0);
  const legend = await page.locator('.legend').innerText();
  for (const f of ['Forest plots by function', 'Special-use', 'Protection', 'Production']) assert.ok(legend.includes(f), `legend: ${f}`);

  // The largest plot: tapped, its popup's fields are the store's values.
  const [plot] = plotsWhere('1', 1);
  const popup = await tapPlot(page, plot);
  assert.equal(await page.locator('#plots-hint').isVisible(), false);
  assert.equal(await popup.getAttribute('data-plot-id'), plot.parcel_id);
  const got = await fields(popup);
  const en = JSON.parse(fs.readFileSync(path.join(ROOT, 'crates/canopy-server/static/map/i18n/en.json'), 'utf8'));
  // Numbers as an English reader writes them (Node's ICU, not the page's formatter).
  const ha = (v) => new Intl.NumberFormat('en-US', { maximumFractionDigits: Math.abs(v) < 10 ? 2 : 1 }).format(v) + ' ha';
  const pct = (v) => new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v) + ' %';
  assert.equal(got.owner, plot.owner);
  assert.equal(got.owner_category, en[`owner.${plot.owner_category}`]);
  assert.equal(got.function, en[`function.${plot.function}`]);
  assert.equal(got.origin, en[`origin.${plot.origin}`]);
  assert.equal(got.area, ha(plot.area_ha));
  assert.equal(got.forest, ha(plot.forest_ha));
  assert.equal(got.cover, `${pct(plot.cover_pct)} (${plot.epoch})`);
  assert.equal(got.loss, `${ha(plot.loss_ha)} (${plot.change_from} → ${plot.epoch})`);
  await page.screenshot({ path: path.join(ROOT, 'target', 'plot-popup.png') }).catch(() => null);

  // The plot with markup as its owner: shown as text, nothing injected or run.
  const evil = plotsWhere(`owner = ${lit(EVIL)}`, 1)[0];
  assert.ok(evil, 'the hostile plot is in the store');
  await page.evaluate(() => window.canopy.map.closePopup());
  const popup2 = await tapPlot(page, evil);
  assert.equal((await fields(popup2)).owner, EVIL);
  const result = await page.evaluate(() => ({ xss: window.__xss || null, injected: document.querySelectorAll('.leaflet-popup img, .evil').length }));
  assert.deepEqual(result, { xss: null, injected: 0 });
  assert.deepEqual(problems, []);
  await context.close();
});
