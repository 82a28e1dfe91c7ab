// Offline use. The page registers the service worker (/sw.js, which keeps the page's
// own files), and the ranger picks communes to keep: their polygons, planting zones,
// alerts (every alert touching a chosen commune, with each alert's own document and
// ETag for triage), the alerts' evidence chips and the fire danger are written to the
// Cache API (`canopy-data`) under the URLs the page reads, so the same page works
// without network. The saved pack is refreshed each time the page loads online.
// A full storage quota is said in words, and the previous pack is kept whole.
'use strict';

(function () {
  const canopy = window.canopy;
  if (!canopy) return;
  const DATA = 'canopy-data';
  const META = 'canopy.offline';
  const ITEMS = (id) => `/collections/${id}/items?limit=10000&f=json`;

  if ('serviceWorker' in navigator) {
    canopy.swReady = navigator.serviceWorker.register('/sw.js', { scope: '/' })
      .then(() => navigator.serviceWorker.ready)
      .catch((e) => { console.warn(`canopy map: no offline support: ${e.message}`); return null; });
  }

  function meta() {
    try { return JSON.parse(localStorage.getItem(META) || 'null'); } catch (_) { return null; }
  }

  // The codes of every commune an alert touches (`communes` is comma-separated).
  function alertCommunes(p) {
    return String(p.communes || p.commune_code || '').split(',').map((s) => s.trim()).filter(Boolean);
  }

  async function getJson(url) {
    const r = await fetch(url, { headers: { Accept: 'application/geo+json, application/json' }, cache: 'no-store' });
    if (!r.ok) { const e = new Error(`GET ${url}: HTTP ${r.status}`); e.status = r.status; throw e; }
    // Kept decoded: the server may have sent it compressed (gzip/br), and a cached
    // response served later must not claim an encoding or a length its body lost.
    const headers = new Headers(r.headers);
    headers.delete('Content-Encoding');
    headers.delete('Content-Length');
    return new Response(await r.blob(), { status: r.status, headers });
  }

  const jsonResponse = (doc, type) => new Response(JSON.stringify(doc), { headers: { 'Content-Type': type || 'application/geo+json' } });

  function isQuota(e) {
    return e && (e.name === 'QuotaExceededError' || e.code === 22 || /quota/i.test(e.message || ''));
  }

  // Save the chosen communes. Everything is fetched first and written to a new cache,
  // which replaces the old one only when complete.
  async function save(codes, progress) {
    const T = canopy.i18n.t;
    if (!('caches' in window)) throw new Error(T('offline.unsupported'));
    const chosen = new Set(codes.map(String));
    const [communes, alerts, zones] = await Promise.all(['communes', 'alerts', 'zones'].map(async (id) => {
      try { return (await (await getJson(ITEMS(id))).json()).features; } catch (e) { if (e.status === 404) return []; throw e; }
    }));
    const keepCommunes = communes.filter((f) => chosen.has(String(f.properties.code ?? f.id)));
    const keepAlerts = alerts.filter((f) => alertCommunes(f.properties).some((c) => chosen.has(c)));
    const keepZones = zones.filter((f) => chosen.has(String(f.properties.commune_code)));
    const entries = [
      [ITEMS('communes'), jsonResponse({ type: 'FeatureCollection', features: keepCommunes, numberMatched: keepCommunes.length, links: [] })],
      [ITEMS('alerts'), jsonResponse({ type: 'FeatureCollection', features: keepAlerts, numberMatched: keepAlerts.length, links: [] })],
      [ITEMS('zones'), jsonResponse({ type: 'FeatureCollection', features: keepZones, numberMatched: keepZones.length, links: [] })],
    ];
    try { entries.push(['/stats/fire-danger?f=json', await getJson('/stats/fire-danger?f=json')]); } catch (_) { /* no fire danger */ }
    let chips = 0, done = 0;
    for (const f of keepAlerts) {
      const id = encodeURIComponent(f.id);
      entries.push([`/collections/alerts/items/${id}`, await getJson(`/collections/alerts/items/${id}`)]);
      for (const u of canopy.chipUrls ? canopy.chipUrls(f) : []) {
        try { entries.push([u, await getJson(u)]); if (u.endsWith('.png')) chips++; } catch (_) { /* this alert has no chip (or no series) */ }
      }
      if (progress) progress(++done, keepAlerts.length);
    }
    const tmp = DATA + '-new';
    await caches.delete(tmp);
    try {
      const c = await caches.open(tmp);
      for (const [url, resp] of entries) await c.put(url, resp);
      // Swap: copy into the live cache only once everything fitted.
      await caches.delete(DATA);
      const live = await caches.open(DATA);
      for (const req of await c.keys()) await live.put(req, await c.match(req));
    } catch (e) {
      await caches.delete(tmp).catch(() => null);
      if (isQuota(e)) throw new Error(T('offline.quota'));
      throw e;
    }
    await caches.delete(tmp);
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => null);
    const m = {
      codes: [...chosen], names: keepCommunes.map((f) => f.properties.name || f.properties.code),
      alerts: keepAlerts.length, chips, at: new Date().toISOString(),
    };
    localStorage.setItem(META, JSON.stringify(m));
    canopy.offline = m;
    return m;
  }
  canopy.saveOffline = save;

  function summary(m) {
    const { i18n } = canopy;
    return m ? i18n.t('offline.saved', {
      n: i18n.num(m.codes.length, 0), names: m.names.join(', '), alerts: i18n.num(m.alerts, 0),
      chips: i18n.num(m.chips, 0), when: i18n.when(m.at),
    }) : i18n.t('offline.none');
  }

  // The dialog: one checkbox per commune (names as text), Save.
  function openDialog() {
    const { el, i18n } = canopy;
    const T = i18n.t;
    let dlg = document.getElementById('offline-dialog');
    if (dlg) dlg.remove();
    const m = meta();
    const kept = new Set(m ? m.codes : []);
    const communes = ((canopy.data && canopy.data.communes) || []).slice()
      .sort((a, b) => String(a.properties.name).localeCompare(String(b.properties.name), 'vi'));
    const status = el('p', { class: 'msg info', role: 'status' }, summary(m));
    const list = el('div', { class: 'offline-communes' }, communes.map((f) => {
      const code = String(f.properties.code ?? f.id);
      const n = canopy.data.alerts.filter((a) => alertCommunes(a.properties).includes(code)).length;
      return el('label', { 'data-code': code },
        el('input', { type: 'checkbox', value: code, checked: kept.has(code) }),
        ` ${f.properties.name || code} `, el('span', { class: 'muted' }, T('offline.alertsN', { n: i18n.num(n, 0) })));
    }));
    const saveBtn = el('button', { type: 'button', class: 'save', id: 'offline-save' }, T('offline.save'));
    const close = el('button', { type: 'button', class: 'secondary' }, T('offline.close'));
    dlg = el('dialog', { id: 'offline-dialog' },
      el('h2', null, T('offline.title')), el('p', null, T('offline.text')), list, status,
      el('div', { class: 'dialog-buttons' }, close, saveBtn));
    document.body.append(dlg);
    close.addEventListener('click', () => dlg.close());
    saveBtn.addEventListener('click', async () => {
      const codes = [...list.querySelectorAll('input:checked')].map((i) => i.value);
      if (!codes.length) { status.className = 'msg error'; status.textContent = T('offline.pick'); return; }
      saveBtn.disabled = true;
      status.className = 'msg info';
      status.textContent = T('offline.saving');
      try {
        const saved = await save(codes, (i, n) => { status.textContent = T('offline.progress', { i: i18n.num(i, 0), n: i18n.num(n, 0) }); });
        status.className = 'msg ok';
        status.textContent = summary(saved);
      } catch (e) {
        status.className = 'msg error';
        status.textContent = T('offline.failed', { msg: e.message });
      } finally {
        saveBtn.disabled = false;
      }
    });
    dlg.showModal();
  }

  function start() {
    if (!(canopy.ready || canopy.errors.length) || !canopy.i18n) { setTimeout(start, 200); return; }
    const btn = document.getElementById('btn-offline');
    btn.hidden = false;
    btn.addEventListener('click', openDialog);
    const m = meta();
    canopy.offline = m;
    if (!navigator.onLine && m) {
      const banner = document.getElementById('banner');
      banner.textContent = canopy.i18n.t('offline.using', { when: canopy.i18n.when(m.at), names: m.names.join(', ') });
      banner.className = 'info offline';
      banner.hidden = false;
      canopy.map.invalidateSize();
    } else if (navigator.onLine && m && canopy.ready) {
      // Keep the pack fresh (new alerts, triage) while there is network.
      save(m.codes).catch((e) => console.warn(`canopy map: the offline pack was not refreshed: ${e.message}`));
    }
  }
  start();
})();
