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
  // The evidence: both chips decoded by the browser; for composite epochs the NDVI
  // series, one dot per scene, filled where the scene saw the pixels clear.
  for (const kind of ['before', 'after']) {
    const w = await popup.locator(`img.chip-${kind}`).evaluate((i) => new Promise((r) => (i.complete ? r(i.naturalWidth) : (i.onload = () => r(i.naturalWidth), i.onerror = () => r(0)))));
    assert.ok(w >= 96, `${kind} chip shown (${w} px)`);
  }
  const series = await fetch(`${H.base}/collections/alerts/items/${encodeURIComponent(alert.id)}/chips/series.json`);
  if (series.status === 200) {
    const pts = await series.json();
    await popup.locator('.series svg').waitFor({ timeout: 5000 });
    assert.equal(await popup.locator('.series circle.obs').count(), pts.length);
    assert.equal(await popup.locator('.series circle.obs.clear').count(), pts.filter((p) => p.ndvi !== null).length);
    assert.ok(pts.some((p) => p.ndvi !== null), 'some scene saw the alert clear');
    // The clearing: the later epoch's clear scenes from first_seen on have a lower
    // NDVI than every clear scene of the earlier epoch.
    const before = pts.filter((q) => q.epoch === p.from_epoch && q.ndvi !== null).map((q) => q.ndvi);
    const after = pts.filter((q) => q.epoch === p.to_epoch && q.ndvi !== null && q.date >= p.first_seen).map((q) => q.ndvi);
    if (before.length && after.length) assert.ok(Math.max(...after) < Math.min(...before), `NDVI after ${after} < before ${before}`);
  } else {
    assert.equal(series.status, 404, 'no series: a priority epoch');
  }
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
  assert.match(await page.locator('#offline-dialog .msg.ok').innerText(), new RegExp(`${alerts.length} cảnh báo, ${2 * alerts.length} ảnh`));
  await page.locator('#offline-dialog button.secondary').tap();

  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => window.canopy && (window.canopy.ready || window.canopy.errors.length > 0), null, { timeout: 30000 });
  assert.deepEqual(await page.evaluate(() => window.canopy.errors), []);
  const counts = await page.evaluate(() => window.canopy.counts);
  assert.equal(counts.alerts, alerts.length, 'the chosen communes\' alerts, offline');
  assert.equal(counts.communes, codes.length, 'the chosen communes, offline');
  assert.equal(await page.locator('.leaflet-alerts-pane path.alert-marker').count(), alerts.length);
  await page.locator('#banner.offline').waitFor({ state: 'visible', timeout: 5000 });
  assert.match(await page.locator('#banner').innerText(), /Ngoại tuyến/);
  // An alert's details open offline (from its saved document).
  const popup = await openAlertPopup(page, alerts[0].id);
  assert.ok((await popup.innerText()).includes(alerts[0].properties.commune_name));
  // Its evidence chips too, decoded by the browser from the phone's copy.
  for (const kind of ['before', 'after']) {
    const w = await popup.locator(`img.chip-${kind}`).evaluate((i) => new Promise((r) => (i.complete ? r(i.naturalWidth) : (i.onload = () => r(i.naturalWidth), i.onerror = () => r(0)))));
    assert.ok(w >= 24 * 4, `the ${kind} chip is shown offline (${w} px wide)`);
  }
  await page.waitForFunction(() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1');
  await shot(page, 'field-phone-vi-offline.png');
  await context.setOffline(false);
  await context.close();
});

// A photo as a camera would give it: a PNG of w×h made by the browser's canvas.
async function cameraPhoto(page, w, h) {
  const b64 = await page.evaluate(([w, h]) => {
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const g = c.getContext('2d');
    g.fillStyle = '#6b4f2a'; g.fillRect(0, 0, w, h);
    g.fillStyle = '#2e7d32'; g.fillRect(0, 0, w, h / 3);
    for (let i = 0; i < 400; i++) { g.fillStyle = `hsl(${i % 360},60%,40%)`; g.fillRect((i * 37) % w, (i * 53) % h, 9, 9); }
    return c.toDataURL('image/png').split(',')[1];
  }, [w, h]);
  return Buffer.from(b64, 'base64');
}

// The width and height of a JPEG, from its SOF marker (an independent decoder of the
// header, not the page's).
function jpegSize(buf) {
  assert.ok(buf[0] === 0xFF && buf[1] === 0xD8, 'a JPEG');
  let i = 2;
  while (i < buf.length) {
    if (buf[i] !== 0xFF) { i++; continue; }
    const m = buf[i + 1];
    const len = buf.readUInt16BE(i + 2);
    if (m >= 0xC0 && m <= 0xCF && m !== 0xC4 && m !== 0xC8 && m !== 0xCC) return { h: buf.readUInt16BE(i + 5), w: buf.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

test('offline triage with a photo is sent on reconnect; a conflict is shown; a removed alert is said so', async () => {
  const { codes, alerts } = await twoCommunes();
  const fresh = alerts.filter((a) => (a.properties.status || 'new') === 'new');
  assert.ok(fresh.length >= 2, 'two untriaged alerts in the chosen communes');
  const [a, b] = fresh;
  const { context, page, problems } = await H.openMap({ ...PHONE, locale: 'vi-VN' });
  await page.evaluate((t) => window.canopy.setToken(t), H.TOKENS['Ranger Test']);
  await page.evaluate(() => window.canopy.swReady);
  await page.evaluate((codes) => window.canopy.saveOffline(codes), codes);
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => window.canopy && window.canopy.ready, null, { timeout: 30000 });

  // Alert A: confirmed with a note and a 2400×1800 photo, plus a file that is no photo.
  let popup = await openAlertPopup(page, a.id);
  await popup.locator('.choices label[data-status="confirmed"]').click();
  await popup.locator('textarea').fill('Gốc cây mới chặt, khoảng 2 ha');
  const photo = await cameraPhoto(page, 2400, 1800);
  await popup.locator('input.photo-file').setInputFiles([
    { name: 'goc-cay.png', mimeType: 'image/png', buffer: photo },
    { name: 'ghi-chu.txt', mimeType: 'image/jpeg', buffer: Buffer.from('không phải ảnh') },
  ]);
  await popup.locator('.photo-previews img').waitFor({ timeout: 10000 });
  assert.equal(await popup.locator('.photo-previews img').count(), 1, 'the photo is kept, the text file is not');
  assert.match(await popup.locator('.photo-msg').innerText(), /“ghi-chu\.txt” không phải là ảnh/);
  await popup.locator('button.save').click();
  await popup.locator('.msg.info', { hasText: 'Không có mạng' }).waitFor({ timeout: 10000 });
  assert.equal(await page.evaluate(() => window.canopy.lastTriage.result), 'queued');

  // Alert B: dismissed offline; meanwhile another ranger confirms it on the server.
  popup = await openAlertPopup(page, b.id);
  await popup.locator('.choices label[data-status="dismissed"]').click();
  await popup.locator('button.save').click();
  await popup.locator('.msg.info', { hasText: 'Không có mạng' }).waitFor({ timeout: 10000 });
  const seen = await H.api(`/collections/alerts/items/${encodeURIComponent(b.id)}`);
  const other = await H.api(`/collections/alerts/items/${encodeURIComponent(b.id)}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${H.TOKENS['Other Ranger']}`, 'If-Match': seen.headers.get('etag') },
    body: JSON.stringify({ status: 'confirmed', note: 'Khai thác có phép' }),
  });
  assert.equal(other.status, 200);
  // A queued report for an alert a re-run removed (the server answers 404 for it).
  await page.evaluate(() => window.canopy.queueTriage({ id: '2024-2025-removedbyrerun', status: 'confirmed', note: '', etag: '"x"', photos: [] }));
  assert.equal(await page.locator('#queue li').count(), 3);
  await shot(page, 'field-phone-vi-queue-offline.png');

  // Back online: A is sent with its photo, B is a conflict, the removed one is said so.
  await context.setOffline(false);
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await page.waitForFunction(() => (window.canopy.queueState || []).length === 2
    && window.canopy.queueState.every((q) => q.state !== 'queued'), null, { timeout: 20000 });
  const state = await page.evaluate(() => window.canopy.queueState);
  assert.deepEqual(state.map((q) => q.state).sort(), ['conflict', 'gone']);
  const nowA = await H.api(`/collections/alerts/items/${encodeURIComponent(a.id)}`);
  assert.equal(nowA.json.properties.status, 'confirmed');
  assert.equal(nowA.json.properties.status_by, 'Ranger Test');
  assert.equal(nowA.json.properties.note, 'Gốc cây mới chặt, khoảng 2 ha');
  const hist = await H.api(`/collections/alerts/items/${encodeURIComponent(a.id)}/history`);
  const last = hist.json.events[hist.json.events.length - 1];
  assert.equal(last.photos.length, 1, 'the photo joined the triage event');
  const img = await fetch(last.photos[0].href.replace(/^https?:\/\/[^/]+/, H.base));
  assert.equal(img.headers.get('content-type'), 'image/jpeg');
  const bytes = Buffer.from(await img.arrayBuffer());
  assert.ok(bytes.length <= 1024 * 1024, `resized on the phone: ${bytes.length} bytes`);
  assert.deepEqual(jpegSize(bytes), { w: 1600, h: 1200 }, 'longest side 1600 px, aspect kept');
  // B: the other ranger's status stands, and the phone says who and what.
  const nowB = await H.api(`/collections/alerts/items/${encodeURIComponent(b.id)}`);
  assert.equal(nowB.json.properties.status, 'confirmed');
  assert.equal(nowB.json.properties.status_by, 'Other Ranger');
  const conflict = page.locator(`#queue li.conflict[data-alert-id="${b.id}"]`);
  assert.match(await conflict.innerText(), /Xung đột/);
  assert.match(await conflict.innerText(), /Other Ranger/);
  assert.match(await page.locator('#queue li.gone').innerText(), /lần phân tích mới đã loại bỏ/);
  await shot(page, 'field-phone-vi-queue-conflict.png');

  // The ranger chooses: send mine anyway.
  await conflict.locator('button.q-mine').click();
  await page.waitForFunction(() => window.canopy.queueState.length === 1, null, { timeout: 10000 });
  assert.equal((await H.api(`/collections/alerts/items/${encodeURIComponent(b.id)}`)).json.properties.status, 'dismissed');

  // The photo in the alert's history on the page.
  popup = await openAlertPopup(page, a.id);
  await popup.locator('button', { hasText: 'Lịch sử' }).click();
  await popup.locator('.history-photos img').waitFor({ timeout: 10000 });
  const natural = await popup.locator('.history-photos img').evaluate((i) => new Promise((r) => (i.complete ? r(i.naturalWidth) : (i.onload = () => r(i.naturalWidth)))));
  assert.equal(natural, 1600);
  // Offline fetches fail by design; blob: URLs are the page's own photo previews.
  const unexpected = problems.filter((p) => !/status of (404|412|504)|ERR_INTERNET_DISCONNECTED|net::ERR|external request: blob:/.test(p));
  assert.deepEqual(unexpected, [], unexpected.join('\n'));
  await context.close();
});
