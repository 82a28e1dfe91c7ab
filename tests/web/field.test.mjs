// Rangers in the field (issue 18): the map on a phone in Vietnamese and English, going
// to an alert, offline use, offline triage with photos, and the alerts' evidence chips.
// Real `canopy serve` on a fresh run of the sample, Debian's Chromium (tests/web/harness.mjs).
//
//   node --test tests/web/field.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as H from './harness.mjs';

before(H.setUp);
after(H.tearDown);

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

async function shot(page, name) {
  const file = path.join(H.SHOTS, name);
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
}

// An alert with a date range and an area of more than 1 ha (so that the decimal
// separator shows), high severity first.
async function someAlert() {
  const list = await H.api('/collections/alerts/items?limit=10000&f=json');
  const fs_ = list.json.features;
  return fs_.find((f) => f.properties.severity === 'high' && f.properties.area_ha % 1 !== 0) || fs_[0];
}

async function openAlertPopup(page, id) {
  await page.evaluate((id) => window.canopy.openAlert(id), id);
  const popup = page.locator(`.leaflet-popup .alert-popup[data-alert-id="${id}"]`);
  await popup.waitFor({ state: 'visible', timeout: 5000 });
  return popup;
}

test('both languages have the same strings, and every key the page uses', () => {
  const dir = path.join(H.ROOT, 'crates/canopy-server/static/map');
  const vi = JSON.parse(fs.readFileSync(path.join(dir, 'i18n/vi.json'), 'utf8'));
  const en = JSON.parse(fs.readFileSync(path.join(dir, 'i18n/en.json'), 'utf8'));
  assert.deepEqual(Object.keys(vi).sort(), Object.keys(en).sort());
  const used = new Set();
  for (const f of fs.readdirSync(dir).filter((f) => /\.(js|html)$/.test(f))) {
    const src = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const m of src.matchAll(/\b(?:T|\.t)\('([\w.]+)'[,)]|data-i18n(?:-[\w-]+)?="([\w.]+)"/g)) used.add(m[1] || m[2]);
  }
  // Keys made from stored values or numbers.
  for (const s of ['high', 'medium', 'low']) used.add(`sev.${s}`);
  for (const s of ['new', 'confirmed', 'dismissed']) used.add(`status.${s}`);
  for (const s of ['pine', 'anise', 'acacia', 'cinnamon']) used.add(`species.${s}`);
  for (let i = 0; i < 8; i++) used.add(`go.dir${i}`);
  assert.ok(used.size > 50, `only ${used.size} keys found in use`);
  const missing = [...used].filter((k) => !(k in vi));
  assert.deepEqual(missing, [], 'keys used by the page but missing from the dictionaries');
  for (const [k, v] of Object.entries(vi)) assert.ok(v !== '' || k === 'token.text', `vi.json: ${k} is empty`);
});

test('on a phone in Vietnamese: strings, numbers and dates as a Vietnamese reader writes them', async () => {
  const { context, page, problems } = await H.openMap({ ...PHONE, locale: 'vi-VN' });
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'vi');
  assert.equal((await page.locator('#btn-list').innerText()).replace(/\s*\d+$/, '').trim(), 'Cảnh báo');
  assert.equal(await page.locator('#btn-token').innerText(), 'Đăng nhập');
  await shot(page, 'field-phone-vi.png');

  const alert = await someAlert();
  const p = alert.properties;
  const popup = await openAlertPopup(page, alert.id);
  const text = await popup.innerText();
  // The expected strings from Node's own ICU (vi-VN), not from the page's formatter.
  const area = new Intl.NumberFormat('vi-VN', { maximumFractionDigits: p.area_ha < 10 ? 2 : 1 }).format(p.area_ha) + ' ha';
  assert.ok(text.includes(area), `the area as ${area}: ${text}`);
  assert.match(area, /,/, 'the sample alert has a decimal area');
  const dmy = (d) => d.slice(0, 10).split('-').reverse().join('/');
  assert.ok(text.includes(dmy(p.from_date)) && text.includes(dmy(p.to_date)), `dates dd/mm/yyyy (${dmy(p.from_date)}): ${text}`);
  assert.ok(!text.includes(p.from_date.slice(0, 10)), 'no ISO date in the Vietnamese popup');
  assert.ok(text.includes(p.commune_name.normalize('NFC')), `the commune as stored: ${p.commune_name}`);
  assert.match(text, /Cảnh báo mức (cao|trung bình|thấp)/);
  assert.match(text, /Đăng nhập để xử lý/);
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
  await shot(page, 'field-phone-vi-popup.png');

  // The list's summary, the legend and the layer names are Vietnamese too.
  const legend = await page.locator('.legend').textContent(); // folded on a phone
  assert.match(legend, /Độ che phủ rừng/);
  assert.match(legend, /Cảnh báo mất rừng/);
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('the language: ?lang= over the switch over the browser language; the switch is remembered', async () => {
  // An English browser gets English.
  let { context, page } = await H.openMap({ ...PHONE, locale: 'en-US' });
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.equal(await page.locator('#btn-token').innerText(), 'Sign in');
  const alert = await someAlert();
  const popup = await openAlertPopup(page, alert.id);
  const area = new Intl.NumberFormat('en-US', { maximumFractionDigits: alert.properties.area_ha < 10 ? 2 : 1 }).format(alert.properties.area_ha) + ' ha';
  assert.ok((await popup.innerText()).includes(area), `the area as ${area}`);
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
  await shot(page, 'field-phone-en-popup.png');
  await page.evaluate(() => window.canopy.map.closePopup());
  await shot(page, 'field-phone-en.png');

  // The switch: Vietnamese, kept after a reload without ?lang=.
  await page.locator('#btn-lang').tap();
  await page.waitForFunction(() => window.canopy && window.canopy.ready && document.documentElement.lang === 'vi', null, { timeout: 30000 });
  assert.equal(await page.locator('#btn-token').innerText(), 'Đăng nhập');
  await page.goto(`${H.base}/map`);
  await page.waitForFunction(() => window.canopy && window.canopy.ready, null, { timeout: 30000 });
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'vi', 'the choice is remembered');
  await context.close();

  // ?lang=en wins over a Vietnamese browser.
  ({ context, page } = await H.openMap({ ...PHONE, locale: 'vi-VN' }, '?lang=en'));
  assert.equal(await page.locator('#btn-token').innerText(), 'Sign in');
  await context.close();
  // A browser in neither language: Vietnamese first.
  ({ context, page } = await H.openMap({ ...PHONE, locale: 'fr-FR' }));
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'vi');
  await context.close();
});

test('server-rendered pages: Vietnamese by default, English by Accept-Language or ?lang=, a bad lang is a 400', async () => {
  const get = async (p, headers = {}) => {
    const r = await fetch(H.base + p, { headers: { Accept: 'text/html', ...headers } });
    return { status: r.status, text: await r.text() };
  };
  let r = await get('/collections');
  assert.equal(r.status, 200);
  assert.match(r.text, /<html lang="vi"/);
  assert.match(r.text, /<h1>Các lớp dữ liệu<\/h1>/);
  assert.match(r.text, /Tài liệu này dạng JSON/);
  r = await get('/collections', { 'Accept-Language': 'en-GB,en;q=0.9' });
  assert.match(r.text, /<html lang="en"/);
  assert.match(r.text, /<h1>Collections<\/h1>/);
  r = await get('/collections?lang=en', { 'Accept-Language': 'vi' });
  assert.match(r.text, /<h1>Collections<\/h1>/);
  // Numbers in the Vietnamese view: the item count with a comma decimal / dot thousands.
  const items = await H.api('/collections/alerts/items?limit=1&f=json');
  r = await get('/collections/alerts/items?limit=1&f=html&lang=vi');
  const area = items.json.features[0].properties.area_ha;
  const vi = String(area).replace('.', ',');
  assert.ok(r.text.includes(`<td>${vi}</td>`), `area ${area} written ${vi} in the Vietnamese page`);
  r = await get('/collections?lang=fr');
  assert.equal(r.status, 400);
  assert.match(r.text, /lang=fr/);
});

// The distance (m) and forward azimuth (°) on the WGS84 ellipsoid, by pyproj's Geod
// (GeographicLib): an independent check of the page's great-circle figures.
function geodInv(lat1, lon1, lat2, lon2) {
  const py = path.join(H.ROOT, '.venv/bin/python');
  const python = fs.existsSync(py) ? py : '/work/main/.venv/bin/python';
  const out = H.run(python, ['-c',
    `from pyproj import Geod; az, _, d = Geod(ellps='WGS84').inv(${lon1}, ${lat1}, ${lon2}, ${lat2}); print(d, az % 360)`]);
  const [d, az] = out.trim().split(/\s+/).map(Number);
  return { distance: d, bearing: az };
}

test('go to the alert: the phone\'s position, distance and bearing, and links for the navigation app', async () => {
  const alert = await someAlert();
  const p = alert.properties;
  assert.ok(Number.isFinite(p.centroid_lat) && Number.isFinite(p.centroid_lon), 'alerts have a centroid');
  // The ranger stands 2 km or so south-west of the alert.
  const me = { latitude: p.centroid_lat - 0.012, longitude: p.centroid_lon - 0.015, accuracy: 12 };
  for (const [locale, dir] of [['en-US', /north-east/], ['vi-VN', /hướng Đông Bắc/]]) {
    const { context, page, problems } = await H.openMap({ ...PHONE, locale, geolocation: me, permissions: ['geolocation'] });
    const popup = await openAlertPopup(page, alert.id);
    await popup.locator('button.go-locate').tap();
    const where = popup.locator('.go-where[data-distance]');
    await where.waitFor({ timeout: 10000 });
    const shown = { distance: +(await where.getAttribute('data-distance')), bearing: +(await where.getAttribute('data-bearing')) };
    const want = geodInv(me.latitude, me.longitude, p.centroid_lat, p.centroid_lon);
    assert.ok(Math.abs(shown.distance - want.distance) / want.distance < 0.005, `distance ${shown.distance} m vs geod ${want.distance} m`);
    assert.ok(Math.abs(shown.bearing - want.bearing) < 1, `bearing ${shown.bearing}° vs geod ${want.bearing}°`);
    const text = await where.innerText();
    assert.match(text, dir);
    const km = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(Math.round(shown.distance) / 1000);
    assert.ok(text.includes(`${km} km`), `${km} km in "${text}"`);
    // The position is drawn, and the links point at the alert.
    assert.equal(await page.locator('path.here-marker').count(), 1, 'the phone\'s position on the map');
    const lat = p.centroid_lat.toFixed(6), lon = p.centroid_lon.toFixed(6);
    assert.match(await popup.locator('a.go-geo').getAttribute('href'), new RegExp(`^geo:${lat},${lon}\\?q=${lat},${lon}\\(`));
    assert.ok((await popup.locator('a.go-osm').getAttribute('href')).includes(`route=${me.latitude.toFixed(6)}%2C${me.longitude.toFixed(6)}%3B${lat}%2C${lon}`));
    assert.ok((await popup.locator('a.go-google').getAttribute('href')).includes(`destination=${lat}%2C${lon}`));
    if (locale === 'vi-VN') {
      await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
      await shot(page, 'field-phone-vi-go.png');
    }
    assert.deepEqual(problems, [], problems.join('\n'));
    await context.close();
  }
});

// Communes chosen for offline use: the two with the most alerts.
async function twoCommunes() {
  const alerts = (await H.api('/collections/alerts/items?limit=10000&f=json')).json.features;
  const n = new Map();
  for (const a of alerts) for (const c of String(a.properties.communes || a.properties.commune_code).split(',')) n.set(c, (n.get(c) || 0) + 1);
  const codes = [...n.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([c]) => c);
  // The expected set from the server's own filter (alerts touching these communes).
  const kept = (await H.api(`/collections/alerts/items?commune=${codes.join(',')}&limit=10000&f=json`)).json.features;
  return { codes, alerts: kept, all: alerts.length };
}

test('offline: choose communes, go offline, reload: their alerts are still there', async () => {
  const { codes, alerts, all } = await twoCommunes();
  assert.ok(alerts.length > 0 && alerts.length < all, `the two communes have some but not all alerts (${alerts.length}/${all})`);
  const { context, page } = await H.openMap({ ...PHONE, locale: 'vi-VN' });
  assert.ok(await page.evaluate(() => window.canopy.swReady.then((r) => !!r)), 'the service worker is active');
  // The manifest and the worker are served with the right types.
  const sw = await fetch(`${H.base}/sw.js`);
  assert.match(sw.headers.get('content-type'), /^text\/javascript/);
  assert.equal(sw.headers.get('service-worker-allowed'), '/');
  const mf = await fetch(`${H.base}/static/map/manifest.webmanifest`);
  assert.match(mf.headers.get('content-type'), /^application\/manifest\+json/);
  assert.equal((await mf.json()).start_url, '/map');

  await page.locator('#btn-offline').tap();
  for (const c of codes) await page.locator(`#offline-dialog label[data-code="${c}"] input`).check();
  await shot(page, 'field-phone-vi-offline-choose.png');
  await page.locator('#offline-save').tap();
  await page.locator('#offline-dialog .msg.ok').waitFor({ timeout: 60000 });
  assert.match(await page.locator('#offline-dialog .msg.ok').innerText(), new RegExp(`${alerts.length} cảnh báo`));
  await page.locator('#offline-dialog button.secondary').tap();

  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => window.canopy && (window.canopy.ready || window.canopy.errors.length > 0), null, { timeout: 30000 });
  assert.deepEqual(await page.evaluate(() => window.canopy.errors), []);
  const counts = await page.evaluate(() => window.canopy.counts);
  assert.equal(counts.alerts, alerts.length, 'the chosen communes\' alerts, offline');
  assert.equal(counts.communes, codes.length, 'the chosen communes, offline');
  assert.equal(await page.locator('.leaflet-alerts-pane path.alert-marker').count(), alerts.length);
  assert.match(await page.locator('#banner').innerText(), /Ngoại tuyến/);
  // An alert's details open offline (from its saved document).
  const popup = await openAlertPopup(page, alerts[0].id);
  assert.ok((await popup.innerText()).includes(alerts[0].properties.commune_name));
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
  await shot(page, 'field-phone-vi-offline.png');
  await context.setOffline(false);
  await context.close();
});
