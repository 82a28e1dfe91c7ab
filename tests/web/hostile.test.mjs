// Every text field of a store holds markup: the map page must show it as text and
// run nothing (issue 11, 3). Before the fix, a commune named `C0<img src=x onerror=…>`
// ran script on hover (Leaflet inserts tooltip strings as HTML) and could read the
// ranger's token from localStorage.
//
//   node --test tests/web/hostile.test.mjs
//
// Uses the sample store (CANOPY_TEST_STORE, or a fresh `canopy run` of the sample
// region), rewritten with ogrinfo (GDAL's SQLite, so the GeoPackage triggers work).
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

// Markup that runs script if inserted as HTML (inline handlers, and a tag a CSP
// without 'unsafe-inline' would block, so the DOM check below is what counts).
const EVIL = (tag) => `${tag}<img src=x onerror="window.__xss=(window.__xss||[]).concat('${tag}')"><b class=evil>b</b>`;

let tmp, server, base, browser;

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout;
}

function sql(store, q) { run('ogrinfo', ['-q', store, '-sql', q]); }
const lit = (s) => `'${s.replace(/'/g, "''")}'`;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-hostile-'));
  const store = path.join(tmp, 'hostile.gpkg');
  if (process.env.CANOPY_TEST_STORE) {
    fs.copyFileSync(process.env.CANOPY_TEST_STORE, store);
  } else {
    // scripts/sample.sh prepares the sample (the one owner of how it is made) and runs it.
    run(path.join(ROOT, 'scripts/sample.sh'), ['--store', store, REGION]);
  }
  sql(store, `UPDATE communes SET name = ${lit(EVIL('commune'))} || code`);
  sql(store, `UPDATE zones SET zone_code = ${lit(EVIL('zone'))}, species = ${lit(EVIL('species'))}, commune_name = ${lit(EVIL('zonecommune'))}`);
  sql(store, `UPDATE alerts SET zone_code = ${lit(EVIL('alertzone'))}, zone_species = ${lit(EVIL('alertspecies'))}`);
  sql(store, `INSERT INTO alert_triage (alert_id, status, note, "by", "at") SELECT alert_id, 'confirmed', ${lit(EVIL('note'))}, ${lit(EVIL('by'))}, '2026-01-01T00:00:00Z' FROM alerts`);
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

test('markup in every stored string is shown as text on the map and runs nothing', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.addInitScript(() => localStorage.setItem('canopy.token', 'secret-token'));
  await page.goto(`${base}/map`);
  await page.waitForFunction(() => window.canopy && (window.canopy.ready || window.canopy.errors.length > 0), null, { timeout: 30000 });
  // Show every tooltip and popup the page can show: communes, zones, alerts. The
  // commune under the mouse too, as a user would hover it.
  const shown = await page.evaluate(async () => {
    const map = window.canopy.map;
    const layers = [];
    map.eachLayer((l) => { if (l.getTooltip && (l.getTooltip() || l.getPopup())) layers.push(l); });
    const texts = [];
    let popups = 0;
    for (const l of layers) {
      const at = l.getBounds ? l.getBounds().getCenter() : l.getLatLng();
      if (l.getTooltip()) { l.openTooltip(at); texts.push(l.getTooltip().getElement()?.textContent || ''); }
      if (l.getPopup() && popups++ < 60) { l.openPopup(at); await new Promise((r) => setTimeout(r, 0)); texts.push(l.getPopup().getElement()?.textContent || ''); }
    }
    return { count: layers.length, texts };
  });
  const box = await page.locator('.leaflet-communes-pane path').first().boundingBox();
  if (box) await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForTimeout(500);
  const result = await page.evaluate(() => ({
    xss: window.__xss || null,
    injected: document.querySelectorAll('.leaflet-tooltip img, .leaflet-popup img, .evil, #alert-list img, .leaflet-control img').length,
  }));
  const all = shown.texts.join('\n');
  assert.ok(shown.count > 10, `tooltips/popups opened: ${shown.count}`);
  assert.deepEqual(result.xss, null, 'script from the store ran');
  assert.equal(result.injected, 0, 'markup from the store became elements');
  assert.deepEqual(dialogs, []);
  for (const tag of ['commune', 'zone', 'species']) {
    assert.ok(all.includes(`${tag}<img src=x onerror=`), `the ${tag} markup is shown as text`);
  }
  await context.close();
});

test('the map page and HTML views are served with a Content-Security-Policy without inline script', async () => {
  for (const p of ['/map', '/collections?f=html', '/collections/communes/items?f=html']) {
    const r = await fetch(base + p);
    assert.equal(r.status, 200, p);
    const csp = r.headers.get('content-security-policy') || '';
    const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src')) || '';
    assert.equal(scriptSrc, "script-src 'self'", `${p}: ${csp}`);
  }
  // The HTML view escapes the names too.
  const html = await (await fetch(`${base}/collections/communes/items?f=html&limit=3`)).text();
  assert.ok(!html.includes('<img src=x'), 'HTML view inserted markup');
  assert.ok(html.includes('&lt;img src=x'), 'HTML view shows the names escaped');
});
