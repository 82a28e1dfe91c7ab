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
import path from 'node:path';
// Store, server, browser and tokens: the same set-up as the field test (harness.mjs).
import { SHOTS, TOKENS, base, browser, api, setUp, tearDown } from './harness.mjs';

before(setUp);
after(tearDown);

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
  const fire = await page.evaluate(async () => (await fetch('/stats/fire-danger?f=json')).status);
  // fire.js adds its switch after its own requests, once the page is ready.
  if (fire === 200) await overlays.filter({ hasText: 'Fire danger' }).first().waitFor({ timeout: 30000 });
  const names = (await overlays.allInnerTexts()).map((t) => t.trim());
  assert.equal(names.filter((n) => n.startsWith('Fire danger')).length, fire === 200 ? 1 : 0, `overlays: ${names}`);
  assert.equal(names.filter((n) => !n.startsWith('Fire') && !n.startsWith('Forest plots')).length, 3, `overlays: ${names}`);
  assert.equal(names.filter((n) => n.startsWith('Forest plots')).length, 1, `the plots overlay (plots.js): ${names}`);
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

test('the burned-area layer and the cause of a loss alert (fire) are on the map', async () => {
  const burned = await api('/stats/burned-area?f=json');
  if (burned.status === 404) return; // a store without SWIR: nothing to show
  const { context, page, problems } = await openMap();
  await page.waitForFunction(() => window.canopy.burned !== undefined, null, { timeout: 15000 });
  const list = await api('/collections/alerts/items?limit=10000&f=json');
  const fireLoss = list.json.features.filter((f) => f.properties.cause === 'fire' && f.properties.kind !== 'fire');
  const withBurn = burned.json.communes.filter((u) => u.burned_ha > 0);
  const got = await page.evaluate(() => window.canopy.burned);
  assert.equal(got.fireAlerts, fireLoss.length, 'burned loss alerts outlined');
  assert.equal(got.communes, withBurn.length, 'communes with burned forest shaded');
  assert.equal(`${got.from} → ${got.to}`, `${burned.json.from_epoch} → ${burned.json.to_epoch}`);
  const names = (await page.locator('.leaflet-control-layers-overlays label').allInnerTexts()).map((t) => t.trim());
  assert.ok(names.includes(`Fire: burned forest ${burned.json.from_epoch} → ${burned.json.to_epoch}`), `overlays: ${names}`);
  if (fireLoss.length) {
    assert.match(await page.locator('.legend').innerText(), /cause: fire/);
    const popup = await clickAlert(page, fireLoss[0].id);
    assert.match(await popup.innerText(), /cause\s+fire \(burned area\)/);
    // The layer on: the burned alert's outline and the commune's fill are drawn.
    await page.locator('.leaflet-control-layers-overlays label', { hasText: 'Fire: burned forest' }).locator('input').check();
    const dark = await page.evaluate(() => [...document.querySelectorAll('path')].filter((p) => p.getAttribute('stroke-dasharray') === '4 3' && p.getAttribute('fill') === '#7f0000').length);
    assert.equal(dark, fireLoss.length, 'one dashed outline per burned loss alert');
    const shot = path.join(SHOTS, 'map-burned.png');
    await page.screenshot({ path: shot });
    console.log(`screenshot: ${shot}`);
  }
  assert.deepEqual(problems, [], problems.join('\n'));
  await context.close();
});

test('the API viewer (Swagger UI) lists the paths; an item page previews its geometry', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`external request: ${r.url()}`);
  });
  await page.goto(`${base}/api?f=html`);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30000 });
  await page.waitForSelector('.opblock-summary-path', { timeout: 30000 });
  const shown = new Set((await page.locator('.opblock-summary-path').allInnerTexts()).map((t) => t.replace(/\u200b/g, '').trim()));
  const doc = await api('/api?f=json');
  const paths = Object.keys(doc.json.paths);
  const missing = paths.filter((p) => !shown.has(p));
  assert.deepEqual(missing, [], `paths the viewer does not list (it lists ${shown.size})`);
  let shot = path.join(SHOTS, 'api-viewer.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);

  const alerts = await api('/collections/alerts/items?limit=1&f=json');
  const id = alerts.json.features[0].id;
  await page.goto(`${base}/collections/alerts/items/${encodeURIComponent(id)}?f=html`);
  await page.waitForSelector('#preview[data-state="ready"]', { timeout: 15000 });
  assert.ok(await page.locator('#preview path.leaflet-interactive').count() >= 1, 'the alert outline is drawn');
  assert.ok((await page.locator('body').innerText()).includes(String(id)));
  shot = path.join(SHOTS, 'item-preview.png');
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
