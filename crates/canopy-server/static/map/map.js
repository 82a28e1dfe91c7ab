// Canopy web map: communes by forest cover, planting zones by species, forest-loss
// alerts by severity, and ranger triage (PATCH with a bearer token and If-Match).
//
// Everything comes from the server's own OGC API - Features collections (same origin);
// no external URL is loaded unless the user picks the optional OpenStreetMap basemap.
// For tests, `window.canopy` exposes the state: `ready`, `counts`, `errors`, `openAlert`.
'use strict';

(async function () {
  const canopy = (window.canopy = { ready: false, counts: {}, errors: [], alerts: {}, popupExtras: [] });
  // The language's strings first (static/map/i18n.js): every text below goes through T.
  const I = await window.canopyI18n.ready;
  const T = I.t;
  canopy.lang = I.lang;
  canopy.i18n = I;
  document.getElementById('btn-lang').addEventListener('click', () => I.use(I.lang === 'vi' ? 'en' : 'vi'));

  function fatal(message) {
    canopy.errors.push(message);
    document.body.dataset.state = 'error';
    const banner = document.getElementById('banner');
    banner.textContent = message;
    banner.className = '';
    banner.hidden = false;
    console.error('canopy map: ' + message);
  }

  if (typeof window.L === 'undefined') {
    // The vendor files are copied from npm by web/build.sh before cargo embeds them.
    fatal(T('load.leafletMissing'));
    return;
  }

  // ---------------------------------------------------------------- styles and legends

  // Forest cover rate classes (%), fixed so that maps of different dates compare.
  const COVER_BREAKS = [30, 40, 50, 60, 70, 80];
  const COVER_COLORS = ['#ffffcc', '#d9f0a3', '#addd8e', '#78c679', '#41ab5d', '#238443', '#005a32'];
  const SEVERITY_COLORS = { high: '#d7191c', medium: '#f07c00', low: '#f2d21b' };
  const SEVERITY_ORDER = { high: 0, medium: 1, low: 2 };
  const FIRE_RING = '#7f0000';
  const SPECIES_COLORS = { pine: '#3b6fb6', anise: '#8856a7', acacia: '#1c9e94', cinnamon: '#a6611a' };
  const SPECIES_LABELS = Object.fromEntries(['pine', 'anise', 'acacia', 'cinnamon'].map((s) => [s, T('species.' + s)]));
  // Severity and status values are stored in English; shown in the page's language.
  const sevName = (s) => (s ? T('sev.' + s) : '?');
  const statusName = (s) => T('status.' + (s || 'new'));
  const speciesName = (s) => SPECIES_LABELS[s] || s;
  const EXTRA_SPECIES_COLORS = ['#c51b7d', '#4d4d4d', '#7570b3', '#b35806', '#01665e'];
  const STATUSES = ['new', 'confirmed', 'dismissed'];

  function coverColor(pct) {
    if (pct === null || pct === undefined || Number.isNaN(+pct)) return null;
    let i = 0;
    while (i < COVER_BREAKS.length && +pct >= COVER_BREAKS[i]) i++;
    return COVER_COLORS[i];
  }

  const extraSpecies = {};
  function speciesColor(species) {
    const key = (species || '').toLowerCase();
    if (SPECIES_COLORS[key]) return SPECIES_COLORS[key];
    if (!extraSpecies[key]) {
      extraSpecies[key] = EXTRA_SPECIES_COLORS[Object.keys(extraSpecies).length % EXTRA_SPECIES_COLORS.length];
    }
    return extraSpecies[key];
  }

  const mobile = L.Browser.mobile || window.matchMedia('(pointer: coarse)').matches;

  function alertMarkerStyle(p) {
    const status = p.status || 'new';
    const base = {
      radius: (mobile ? 10 : 7) + (p.severity === 'high' ? 2 : 0),
      fillColor: SEVERITY_COLORS[p.severity] || '#999',
      fillOpacity: 0.95, color: '#ffffff', weight: 2, opacity: 1, dashArray: null,
    };
    if (status === 'confirmed') Object.assign(base, { color: '#111111', weight: 3 });
    // A loss alert caused by fire (mostly burned, dNBR) or a fire-event alert: a dark red ring.
    if (p.cause === 'fire' && status === 'new') Object.assign(base, { color: FIRE_RING, weight: 3 });
    if (status === 'dismissed') Object.assign(base, { fillOpacity: 0.3, color: '#444444', opacity: 0.6, dashArray: '3 3' });
    return base;
  }

  function alertShapeStyle(p) {
    return { color: SEVERITY_COLORS[p.severity] || '#999', weight: 2, fillOpacity: p.status === 'dismissed' ? 0.1 : 0.35 };
  }

  // ---------------------------------------------------------------- small helpers

  // Leaflet inserts string content (tooltips, popups) as HTML: every string that
  // comes from the store goes in as a DOM node holding text, never as a string.
  function textNode(s) {
    const span = document.createElement('span');
    span.textContent = String(s);
    return span;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const fmt = {
    ha(v) { return v === null || v === undefined ? '–' : I.num(v, Math.abs(v) < 10 ? 2 : 1) + ' ha'; },
    pct(v) { return v === null || v === undefined ? T('nodata') : I.num(v, 1, 1) + ' %'; },
    signedHa(v) { return v === null || v === undefined ? '–' : (v > 0 ? '+' : '') + fmt.ha(v); },
    when: I.when,
    coord(v) { return I.num(v, 5, 5); },
    date: I.date,
  };
  canopy.fmt = fmt;
  canopy.el = el;
  canopy.popupExtras = canopy.popupExtras || [];

  function tableRows(rows) {
    return el('table', null, rows.filter((r) => r && r[1] !== null && r[1] !== undefined && r[1] !== '')
      .map(([k, v]) => el('tr', null, el('th', null, k), el('td', null, v))));
  }

  // The server answers errors as JSON; take whatever field says what went wrong.
  async function errorText(resp) {
    let text = '';
    try { text = await resp.text(); } catch (_) { /* body unreadable */ }
    try {
      const j = JSON.parse(text);
      const m = j.detail || j.description || j.message || j.error || j.title;
      if (m) return typeof m === 'string' ? m : JSON.stringify(m);
    } catch (_) { /* not JSON */ }
    return text.slice(0, 300) || resp.statusText;
  }

  // Fetch a whole collection, following rel=next links.
  async function fetchCollection(id) {
    let url = `/collections/${id}/items?limit=10000&f=json`;
    const features = [];
    for (let page = 0; url && page < 1000; page++) {
      const resp = await fetch(url, { headers: { Accept: 'application/geo+json, application/json' } });
      if (!resp.ok) {
        const err = new Error(`GET ${url}: HTTP ${resp.status}: ${await errorText(resp)}`);
        err.status = resp.status;
        throw err;
      }
      const body = await resp.json();
      if (!body || !Array.isArray(body.features)) throw new Error(`GET ${url}: not a GeoJSON FeatureCollection`);
      features.push(...body.features);
      const next = (body.links || []).find((l) => l.rel === 'next');
      url = next && body.features.length > 0 ? next.href : null;
    }
    return features;
  }

  // ---------------------------------------------------------------- the map

  // Phones zoom by pinching: no zoom buttons there (they would sit under popups).
  const map = L.map('map', { zoomControl: !mobile, preferCanvas: false, tap: true, zoomSnap: 0.25 });
  canopy.map = map;
  map.setView([21.85, 106.6], 9);
  L.control.scale({ imperial: false }).addTo(map);

  // Panes keep the drawing order fixed whatever the user toggles: communes < zones < alerts.
  map.createPane('communes').style.zIndex = 400;
  map.createPane('zones').style.zIndex = 410;
  map.createPane('alert-shapes').style.zIndex = 420;
  map.createPane('alerts').style.zIndex = 430;

  // Base layers: none by default (the page works offline); OpenStreetMap on request.
  const plain = L.layerGroup();
  const osm = L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png', {
    maxZoom: 19, attribution: '© OpenStreetMap contributors',
  });
  plain.addTo(map);

  const communesLayer = L.geoJSON(null, {
    pane: 'communes',
    style: (f) => {
      const c = coverColor(f.properties.cover_pct);
      return { color: '#4a4a4a', weight: 1, fillColor: c || '#cccccc', fillOpacity: c ? 0.75 : 0.4, dashArray: c ? null : '4 3' };
    },
    onEachFeature: (f, layer) => {
      const p = f.properties;
      layer.bindTooltip(() => textNode(`${p.name || p.code}: ${fmt.pct(p.cover_pct)}`), { sticky: true, direction: 'top' });
      layer.bindPopup(() => communePopup(p), { maxWidth: popupWidth() });
      layer.on('mouseover', () => layer.setStyle({ weight: 3, color: '#000' }));
      layer.on('mouseout', () => communesLayer.resetStyle(layer));
    },
  });

  const zonesLayer = L.geoJSON(null, {
    pane: 'zones',
    style: (f) => ({ color: speciesColor(f.properties.species), weight: 1.5, fillColor: speciesColor(f.properties.species), fillOpacity: 0.45 }),
    onEachFeature: (f, layer) => {
      const p = f.properties;
      layer.bindTooltip(() => textNode(T('zone.tooltip', { species: speciesName(p.species), code: p.zone_code ? ' ' + p.zone_code : '' })), { sticky: true });
      layer.bindPopup(() => zonePopup(p), { maxWidth: popupWidth() });
    },
  });

  // Alerts: a marker at each alert (visible at any zoom) plus its exact outline.
  const alertsLayer = L.layerGroup();
  const alertShapes = L.layerGroup();
  const alertsGroup = L.layerGroup([alertsLayer, alertShapes]);
  const alertIndex = new Map(); // id -> { feature, marker, shape, etag }

  function popupWidth() { return Math.min(340, window.innerWidth - 40); }

  // ---------------------------------------------------------------- popups

  function communePopup(p) {
    const change = p.change_from && p.change_to ? `${p.change_from} → ${p.change_to}` : null;
    return el('div', { class: 'popup commune-popup' },
      el('h3', null, p.name || p.code),
      tableRows([
        [T('f.code'), p.code],
        [T('f.cover'), `${fmt.pct(p.cover_pct)}${p.epoch ? ' (' + p.epoch + ')' : ''}`],
        [T('f.forest'), fmt.ha(p.forest_ha)],
        [T('f.natural'), fmt.ha(p.natural_ha)],
        change && [T('f.change'), change],
        change && [T('f.loss'), fmt.ha(p.loss_ha)],
        change && [T('f.gain'), fmt.ha(p.gain_ha)],
        change && [T('f.net'), fmt.signedHa(p.net_ha)],
      ]));
  }

  function zonePopup(p) {
    return el('div', { class: 'popup zone-popup' },
      el('h3', null, T('zone.title', { species: speciesName(p.species) })),
      tableRows([
        [T('f.zoneCode'), p.zone_code],
        [T('f.commune'), p.commune_name ? `${p.commune_name} (${p.commune_code})` : p.commune_code],
        [T('f.area'), fmt.ha(p.area_ha)],
        [T('f.forest'), fmt.ha(p.forest_ha)],
        [T('f.cover'), p.cover_pct === undefined ? null : fmt.pct(p.cover_pct)],
      ]));
  }

  function alertDetails(p) {
    const natural = p.natural_lost === true || p.natural_lost === 1 ? T('yes') : p.natural_lost === false || p.natural_lost === 0 ? T('no') : null;
    const statusLine = el('span', null, el('span', { class: 'status', 'data-status': p.status || 'new' }, statusName(p.status)),
      p.status_by ? T('by', { who: p.status_by }) : '', p.status_at ? `, ${fmt.when(p.status_at)}` : '');
    return tableRows([
      [T('f.commune'), p.commune_name ? `${p.commune_name} (${p.commune_code})` : p.commune_code],
      [T('f.lossBetween'), T('between', { a: p.from_date ? fmt.date(p.from_date) : p.from_epoch, b: p.to_date ? fmt.date(p.to_date) : p.to_epoch })],
      [T('f.area'), fmt.ha(p.area_ha)],
      [T('f.zone'), p.zone_species ? `${speciesName(p.zone_species)}${p.zone_code ? ' · ' + p.zone_code : ''}` : T('zone.outside')],
      [T('f.naturalLost'), natural],
      [T('f.cause'), p.cause === 'fire' ? T(p.kind === 'fire' ? 'cause.fireEvent' : 'cause.fire')
        : p.cause ? T('cause.unknown') : null],
      [T('f.firstSeen'), p.first_seen ? fmt.date(p.first_seen) : null],
      [T('f.status'), statusLine],
      [T('f.note'), p.note],
    ]);
  }

  // The alert popup: details, then the triage form (or how to sign in).
  function alertPopup(entry) {
    const f = entry.feature, p = f.properties;
    const root = el('div', { class: 'popup alert-popup', 'data-alert-id': f.id });
    const details = el('div', { class: 'details' }, alertDetails(p));
    root.append(
      el('h3', null, el('span', { class: `sev ${p.severity}` }, T('alert.title', { sev: sevName(p.severity) }))),
      el('div', { class: 'muted' }, String(f.id)),
      details);

    // Sections other scripts add (go.js: the way there; chips.js: the evidence).
    for (const extra of canopy.popupExtras) {
      try { const node = extra(entry); if (node) root.append(node); } catch (e) { console.error('canopy map: ' + e.message); }
    }

    const triage = el('div', { class: 'triage' });
    root.append(triage);
    const msg = el('p', { class: 'msg', hidden: true, role: 'status' });
    const show = (kind, ...text) => {
      msg.className = 'msg ' + kind; msg.replaceChildren(...text); msg.hidden = false;
      // The popup grew: lay it out again, keep it on screen and the message in view.
      // (setContent with this very node: a content function would rebuild the popup.)
      const popup = entry.marker.getPopup();
      if (popup && popup.isOpen() && root.isConnected) popup.setContent(root);
      if (msg.scrollIntoView) msg.scrollIntoView({ block: 'nearest' });
    };

    const historyList = el('ol', { class: 'history', hidden: true });
    const historyBtn = el('button', { type: 'button', class: 'secondary', onclick: () => loadHistory(f.id, historyList) }, T('alert.history'));

    if (!token()) {
      triage.append(
        el('p', { class: 'muted' }, T('alert.signInText')),
        el('div', { class: 'actions' }, historyBtn, el('button', { type: 'button', class: 'sign-in', onclick: openTokenDialog }, T('alert.signIn'))),
        historyList);
      return root;
    }

    const name = 'status-' + String(f.id).replace(/[^A-Za-z0-9_-]/g, '_');
    const choices = el('div', { class: 'choices', role: 'radiogroup', 'aria-label': T('alert.statusAria') },
      STATUSES.map((s) => el('label', { 'data-status': s },
        el('input', { type: 'radio', name, value: s, checked: (p.status || 'new') === s }),
        el('span', null, statusName(s)))));
    const note = el('textarea', { name: 'note', placeholder: T('alert.notePlaceholder'), maxlength: 2000 });
    note.value = p.note || '';
    const photoField = canopy.photoInput ? canopy.photoInput() : null; // queue.js
    const save = el('button', { type: 'button', class: 'save' }, T('alert.save'));
    save.addEventListener('click', async () => {
      const status = (choices.querySelector('input:checked') || {}).value;
      save.disabled = true;
      show('info', T('alert.saving'));
      try {
        const photos = photoField ? photoField.photos() : [];
        if (await triageAlert(entry, status, note.value, { show, details, choices }, photos) && photoField) photoField.clear();
      } finally {
        save.disabled = false;
      }
    });
    triage.append(el('h4', null, T('alert.groundCheck')), choices, note, photoField ? photoField.node : null,
      el('div', { class: 'actions' }, historyBtn, save), msg, historyList);
    return root;
  }

  async function loadHistory(id, list) {
    list.hidden = false;
    list.replaceChildren(el('li', null, T('history.loading')));
    try {
      const resp = await fetch(`/collections/alerts/items/${encodeURIComponent(id)}/history`, { headers: { Accept: 'application/json' } });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}: ${await errorText(resp)}`);
      const body = await resp.json();
      const events = Array.isArray(body) ? body : body.events || body.history || body.features || [];
      list.replaceChildren(...(events.length ? events.map((e) => {
        const ev = e.properties || e;
        return el('li', null, el('b', null, ev.status ? statusName(ev.status) : '?'), ev.by || ev.status_by ? T('by', { who: ev.by || ev.status_by }) : '',
          ev.at || ev.status_at ? `, ${fmt.when(ev.at || ev.status_at)}` : '', ev.note ? `: “${ev.note}”` : '',
          Array.isArray(ev.photos) && ev.photos.length ? el('div', { class: 'history-photos' }, ev.photos.map((ph, i) =>
            el('a', { href: ph.href, target: '_blank' }, el('img', { src: ph.href, alt: T('photo.alt', { n: i + 1 }), loading: 'lazy', width: 96 })))) : null);
      }) : [el('li', null, T('history.none'))]));
    } catch (e) {
      list.replaceChildren(el('li', null, T('history.unavailable', { msg: e.message })));
    }
  }

  // The latest version of an alert and its ETag.
  async function fetchAlert(id) {
    const resp = await fetch(`/collections/alerts/items/${encodeURIComponent(id)}`, { headers: { Accept: 'application/geo+json, application/json' } });
    if (!resp.ok) throw new Error(`HTTP ${resp.status}: ${await errorText(resp)}`);
    return { feature: await resp.json(), etag: resp.headers.get('ETag') };
  }

  function updateAlert(entry, feature, etag) {
    if (feature && feature.properties) {
      entry.feature.properties = Object.assign({}, entry.feature.properties, feature.properties);
    }
    if (etag) entry.etag = etag;
    const p = entry.feature.properties;
    entry.marker.setStyle(alertMarkerStyle(p));
    if (entry.shape) entry.shape.setStyle(alertShapeStyle(p));
    renderList();
  }

  // PATCH the alert with If-Match; say clearly what happened, above all on a conflict.
  // Returns true when the triage was saved or queued (the form's photos can go).
  async function triageAlert(entry, status, note, ui, photos = []) {
    const id = entry.feature.id;
    if (!entry.etag) {
      try {
        const latest = await fetchAlert(id);
        updateAlert(entry, latest.feature, latest.etag);
      } catch (e) {
        ui.show('error', T('triage.readFailed', { msg: e.message }));
        return;
      }
    }
    let resp;
    try {
      resp = await fetch(`/collections/alerts/items/${encodeURIComponent(id)}`, {
        method: 'PATCH',
        headers: {
          'Content-Type': 'application/json', Accept: 'application/geo+json, application/json',
          Authorization: 'Bearer ' + token(), 'If-Match': entry.etag,
        },
        body: JSON.stringify({ status, note }),
      });
    } catch (e) {
      // No network: queue it (queue.js) with the ETag seen, to be sent on reconnect.
      if (!canopy.queueTriage) { ui.show('error', T('triage.offline')); return false; }
      try {
        await canopy.queueTriage({ id: String(id), status, note, etag: entry.etag, photos });
      } catch (qe) {
        ui.show('error', qe.message);
        canopy.lastTriage = { id, status, result: 'not queued' };
        return false;
      }
      ui.show('info', T('queue.queued'));
      canopy.lastTriage = { id, status, result: 'queued' };
      return true;
    }
    if (resp.ok) {
      const feature = await resp.json().catch(() => null);
      let etag = resp.headers.get('ETag');
      if (!feature || !etag) {
        const latest = await fetchAlert(id).catch(() => null);
        if (latest) updateAlert(entry, latest.feature, latest.etag);
      } else {
        updateAlert(entry, feature, etag);
      }
      const p = entry.feature.properties;
      ui.details.replaceChildren(alertDetails(p));
      if (photos.length && canopy.sendPhotos) {
        let pr;
        try { pr = await canopy.sendPhotos(id, entry.etag, photos); } catch (_) { pr = null; }
        if (!pr) {
          await canopy.queueTriage({ id: String(id), status, note, etag: entry.etag, photos, state: 'photos' }).catch(() => null);
          ui.show('info', T('queue.photosQueued'));
          return true;
        }
        if (!pr.ok) {
          ui.show('error', T('photo.refused', { status: pr.status, reason: await errorText(pr) }));
          canopy.lastTriage = { id, status: p.status, result: 'photos refused' };
          return false;
        }
        const latest = await fetchAlert(id).catch(() => null);
        if (latest) updateAlert(entry, latest.feature, latest.etag);
      }
      ui.show('ok', T('triage.saved', { status: statusName(p.status), by: p.status_by ? T('by', { who: p.status_by }) : '' }));
      canopy.lastTriage = { id, status: p.status, result: 'saved' };
      return true;
    }
    const reason = await errorText(resp);
    if (resp.status === 412) {
      // Someone else changed the alert since it was read: show their change, keep ours
      // in the form, and take the new ETag so that a second Save is a deliberate choice.
      let latest = null;
      try { latest = await fetchAlert(id); } catch (_) { /* shown below */ }
      if (latest) updateAlert(entry, latest.feature, latest.etag);
      const p = entry.feature.properties;
      ui.details.replaceChildren(alertDetails(p));
      ui.show('conflict',
        el('b', null, T('triage.conflict')),
        latest ? T('triage.conflictNow', {
          status: statusName(p.status), by: p.status_by ? T('by', { who: p.status_by }) : '',
          at: p.status_at ? T('triage.conflictAt', { when: fmt.when(p.status_at) }) : '',
          note: p.note ? T('triage.conflictNote', { note: p.note }) : '',
        }) : '',
        T('triage.conflictKeep'));
      canopy.lastTriage = { id, status, result: 'conflict' };
      return;
    }
    if (resp.status === 401 || resp.status === 403) {
      ui.show('error', T('triage.refused', { status: resp.status, reason }),
        el('button', { type: 'button', class: 'secondary', onclick: openTokenDialog }, T('triage.changeToken')));
      canopy.lastTriage = { id, status, result: 'unauthorized' };
      return;
    }
    ui.show('error', T('triage.error', { status: resp.status, reason }));
    canopy.lastTriage = { id, status, result: 'error ' + resp.status };
  }

  // ---------------------------------------------------------------- alerts on the map

  // Where the marker goes: the server's centroid if given, else the middle of the bbox.
  function centroidOf(feature) {
    const p = feature.properties;
    if (Number.isFinite(p.centroid_lat) && Number.isFinite(p.centroid_lon)) return L.latLng(p.centroid_lat, p.centroid_lon);
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const walk = (c) => {
      if (typeof c[0] === 'number') { x0 = Math.min(x0, c[0]); x1 = Math.max(x1, c[0]); y0 = Math.min(y0, c[1]); y1 = Math.max(y1, c[1]); } else c.forEach(walk);
    };
    if (feature.geometry && feature.geometry.coordinates) walk(feature.geometry.coordinates);
    return Number.isFinite(x0) ? L.latLng((y0 + y1) / 2, (x0 + x1) / 2) : null;
  }

  // The exact outline of an alert, made when first needed.
  function shapeOf(entry) {
    if (!entry.shape && entry.feature.geometry) {
      entry.shape = L.geoJSON(entry.feature, { pane: 'alert-shapes', style: () => alertShapeStyle(entry.feature.properties) });
      entry.shape.on('click', () => entry.marker.openPopup());
    }
    return entry.shape;
  }

  function addAlerts(features) {
    // Thousands of SVG markers would stall a phone: past that, draw them on a canvas.
    const renderer = features.length > 3000 ? L.canvas({ pane: 'alerts', tolerance: mobile ? 8 : 3 }) : undefined;
    for (const f of features) {
      if (f.id === undefined || f.id === null) f.id = f.properties.alert_id;
      const at = centroidOf(f);
      if (!at) continue;
      const marker = L.circleMarker(at, Object.assign({ pane: 'alerts', className: 'alert-marker', renderer }, alertMarkerStyle(f.properties)));
      const entry = { feature: f, marker, shape: null, etag: null };
      // The alert id on the drawn element, for tests and for styling.
      if (!renderer) marker.on('add', () => marker.getElement() && marker.getElement().setAttribute('data-alert-id', f.id));
      alertIndex.set(String(f.id), entry);
      marker.bindTooltip(() => textNode(`${sevName(entry.feature.properties.severity)} · ${fmt.ha(entry.feature.properties.area_ha)} · ${entry.feature.properties.commune_name || ''}`), { direction: 'top', offset: [0, -6] });
      const popupContent = () => alertPopup(entry);
      marker.bindPopup(popupContent, {
        maxWidth: popupWidth(), minWidth: Math.min(260, window.innerWidth - 60),
        maxHeight: Math.max(240, map.getSize().y - 70), // scrolls inside on short screens
        autoPanPaddingTopLeft: [10, 60], autoPanPaddingBottomRight: [10, 20],
      });
      // Fresh status and ETag each time the popup opens (another ranger may have triaged it).
      marker.on('popupopen', async () => {
        try {
          const latest = await fetchAlert(f.id);
          const before = JSON.stringify(entry.feature.properties);
          updateAlert(entry, latest.feature, latest.etag);
          if (JSON.stringify(entry.feature.properties) !== before && marker.isPopupOpen()) marker.setPopupContent(alertPopup(entry));
        } catch (e) {
          console.warn(`canopy map: could not refresh alert ${f.id}: ${e.message}`);
        }
      });
      // Built afresh at each opening (the token or the alert may have changed meanwhile).
      marker.on('popupclose', () => marker.getPopup().setContent(popupContent));
      alertsLayer.addLayer(marker);
    }
    applyFilters();
  }

  // Alert outlines are tiny at province scale: draw them from zoom 12 on, in and around
  // the view only (a province may have many thousands).
  function updateShapesVisibility() {
    alertShapes.clearLayers();
    if (map.getZoom() < 12 || !map.hasLayer(alertsGroup)) return;
    const around = map.getBounds().pad(0.5);
    for (const e of alertIndex.values()) {
      if (e.visible && around.contains(e.marker.getLatLng())) {
        const shape = shapeOf(e);
        if (shape) alertShapes.addLayer(shape);
      }
    }
  }
  map.on('moveend', updateShapesVisibility);

  function openAlert(id) {
    const entry = alertIndex.get(String(id));
    if (!entry) return false;
    if (!map.hasLayer(alertsGroup)) alertsGroup.addTo(map);
    if (!alertsLayer.hasLayer(entry.marker)) alertsLayer.addLayer(entry.marker);
    map.setView(entry.marker.getLatLng(), Math.max(map.getZoom(), 14));
    entry.marker.openPopup();
    return true;
  }
  canopy.openAlert = openAlert;
  canopy.alertUpdated = (id, feature, etag) => { const e = alertIndex.get(String(id)); if (e) updateAlert(e, feature, etag); };
  canopy.alertMarker = (id) => (alertIndex.get(String(id)) || {}).marker;

  // ---------------------------------------------------------------- the list and filters

  const filters = { severity: new Set(['high', 'medium', 'low']), status: new Set(STATUSES) };
  document.querySelectorAll('.filters input').forEach((input) => input.addEventListener('change', () => {
    filters[input.name][input.checked ? 'add' : 'delete'](input.value);
    applyFilters();
  }));

  function applyFilters() {
    let shown = 0;
    for (const e of alertIndex.values()) {
      const p = e.feature.properties;
      e.visible = filters.severity.has(p.severity) && filters.status.has(p.status || 'new');
      if (e.visible) { shown++; if (!alertsLayer.hasLayer(e.marker)) alertsLayer.addLayer(e.marker); }
      else alertsLayer.removeLayer(e.marker);
    }
    canopy.counts.alertsShown = shown;
    alertShapes.clearLayers();
    updateShapesVisibility();
    renderList();
  }

  function renderList() {
    const entries = [...alertIndex.values()].filter((e) => e.visible);
    entries.sort((a, b) => {
      const pa = a.feature.properties, pb = b.feature.properties;
      const sa = (pa.status || 'new') === 'new' ? 0 : 1, sb = (pb.status || 'new') === 'new' ? 0 : 1;
      return sa - sb || (SEVERITY_ORDER[pa.severity] ?? 9) - (SEVERITY_ORDER[pb.severity] ?? 9) || (pb.area_ha || 0) - (pa.area_ha || 0);
    });
    const all = [...alertIndex.values()];
    const open = all.filter((e) => (e.feature.properties.status || 'new') === 'new').length;
    document.getElementById('alert-count').textContent = String(open);
    document.getElementById('list-summary').textContent =
      T('list.summary', { shown: I.num(entries.length, 0), all: I.num(all.length, 0), open: I.num(open, 0) });
    const shownMax = 500;
    document.getElementById('alert-list').replaceChildren(...entries.slice(0, shownMax).map((e) => {
      const p = e.feature.properties;
      return el('li', { class: p.status === 'dismissed' ? 'dismissed' : null },
        el('button', { type: 'button', 'data-alert-id': e.feature.id, onclick: () => { if (narrow()) closePanel(); openAlert(e.feature.id); } },
          el('i', { class: `dot sev-${p.severity}` }),
          el('span', { class: 'where' }, p.commune_name || p.commune_code || '?'),
          el('span', null, fmt.ha(p.area_ha)),
          el('span', { class: 'meta' }, `${sevName(p.severity)} · ${statusName(p.status)} · ${p.from_epoch}→${p.to_epoch}${p.zone_species ? T('list.zone', { species: speciesName(p.zone_species) }) : ''}`)));
    }), entries.length > shownMax ? el('li', { class: 'muted' }, T('list.more', { n: I.num(entries.length - shownMax, 0) })) : '');
  }

  const panel = document.getElementById('panel');
  const listBtn = document.getElementById('btn-list');
  const narrow = () => window.matchMedia('(max-width: 700px)').matches;
  function openPanel() { panel.hidden = false; listBtn.setAttribute('aria-expanded', 'true'); map.invalidateSize(); }
  function closePanel() { panel.hidden = true; listBtn.setAttribute('aria-expanded', 'false'); map.invalidateSize(); }
  listBtn.addEventListener('click', () => (panel.hidden ? openPanel() : closePanel()));
  document.getElementById('panel-close').addEventListener('click', closePanel);

  // ---------------------------------------------------------------- the token

  const TOKEN_KEY = 'canopy.token';
  function token() { try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return canopy._token || ''; } }
  function setToken(t) {
    try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch (_) { canopy._token = t; }
    const btn = document.getElementById('btn-token');
    btn.textContent = t ? T('btn.signedIn') : T('btn.token');
    btn.classList.toggle('signed-in', !!t);
    map.closePopup();
  }
  canopy.setToken = setToken;
  canopy.token = token;
  const dialog = document.getElementById('token-dialog');
  const tokenInput = document.getElementById('token-input');
  function openTokenDialog() {
    tokenInput.value = token();
    if (typeof dialog.showModal === 'function') dialog.showModal(); else dialog.setAttribute('open', '');
    tokenInput.focus();
  }
  const closeDialog = () => (typeof dialog.close === 'function' ? dialog.close() : dialog.removeAttribute('open'));
  document.getElementById('btn-token').addEventListener('click', openTokenDialog);
  document.getElementById('token-form').addEventListener('submit', (ev) => { ev.preventDefault(); setToken(tokenInput.value.trim()); closeDialog(); });
  document.getElementById('token-cancel').addEventListener('click', closeDialog);
  document.getElementById('token-forget').addEventListener('click', () => { setToken(''); closeDialog(); });
  document.getElementById('token-show').addEventListener('change', (ev) => { tokenInput.type = ev.target.checked ? 'text' : 'password'; });
  setToken(token());

  // ---------------------------------------------------------------- legend

  function legendControl() {
    const ctl = L.control({ position: 'bottomright' });
    ctl.onAdd = () => {
      const div = L.DomUtil.create('div', 'legend');
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      ctl.div = div;
      return div;
    };
    ctl.render = () => {
      const rows = [];
      if (map.hasLayer(communesLayer)) {
        const labels = COVER_COLORS.map((c, i) => i === 0 ? `< ${COVER_BREAKS[0]} %`
          : i === COVER_BREAKS.length ? `≥ ${COVER_BREAKS[i - 1]} %` : `${COVER_BREAKS[i - 1]}–${COVER_BREAKS[i]} %`);
        rows.push(el('h3', null, `${T('legend.cover')}${canopy.epoch ? ' ' + canopy.epoch : ''}`));
        COVER_COLORS.slice().reverse().forEach((c, i) => rows.push(el('div', { class: 'row' },
          el('span', { class: 'sw', style: `background:${c}` }), labels[labels.length - 1 - i])));
        rows.push(el('div', { class: 'row' }, el('span', { class: 'sw nodata' }), T('nodata')));
      }
      if (map.hasLayer(zonesLayer) && canopy.species && canopy.species.length) {
        rows.push(el('h3', null, T('legend.zones')));
        canopy.species.forEach((s) => rows.push(el('div', { class: 'row' },
          el('span', { class: 'sw', style: `background:${speciesColor(s)};opacity:.75` }), speciesName(s))));
      }
      if (map.hasLayer(alertsGroup)) {
        rows.push(el('h3', null, T('legend.alerts')));
        ['high', 'medium', 'low'].forEach((s) => rows.push(el('div', { class: 'row' },
          el('span', { class: 'mk', style: `background:${SEVERITY_COLORS[s]}` }), sevName(s))));
        if ((canopy.data && canopy.data.alerts || []).some((f) => f.properties.cause === 'fire')) {
          rows.push(el('div', { class: 'row cause-fire' }, el('span', { class: 'mk', style: `background:#bbb;border:3px solid ${FIRE_RING}` }), T('legend.causeFire')));
        }
        rows.push(el('div', { class: 'row' }, el('span', { class: 'mk confirmed', style: 'background:#bbb' }), statusName('confirmed')));
        rows.push(el('div', { class: 'row' }, el('span', { class: 'mk dismissed', style: 'background:#bbb' }), statusName('dismissed')));
      }
      for (const extra of canopy.legendExtras || []) rows.push(...extra()); // e.g. plots.js
      const details = el('details', { open: !narrow() }, el('summary', null, T('legend.title')), rows);
      ctl.div.replaceChildren(details);
      ctl.div.hidden = rows.length === 0;
    };
    return ctl;
  }
  const legend = legendControl().addTo(map);
  canopy.legend = legend;
  ['overlayadd', 'overlayremove'].forEach((e) => map.on(e, () => { legend.render(); updateShapesVisibility(); }));

  // ---------------------------------------------------------------- load

  const info = (text) => {
    const banner = document.getElementById('banner');
    if (!banner.hidden && banner.className !== 'info') return;
    banner.textContent = text + T('load.tapHide'); banner.className = 'info'; banner.hidden = !text;
    banner.onclick = () => { if (banner.className === 'info') { banner.hidden = true; map.invalidateSize(); } };
    map.invalidateSize();
  };

  async function load() {
    const [communes, alerts, zones] = await Promise.allSettled(
      ['communes', 'alerts', 'zones'].map((id) => fetchCollection(id)));
    const failed = [];
    if (communes.status === 'fulfilled') {
      communesLayer.addData(communes.value);
      canopy.counts.communes = communes.value.length;
      const epochs = [...new Set(communes.value.map((f) => f.properties.epoch).filter(Boolean))];
      canopy.epoch = epochs.length === 1 ? epochs[0] : null;
    } else failed.push(`communes (${communes.reason.message})`);
    if (alerts.status === 'fulfilled') {
      addAlerts(alerts.value);
      canopy.counts.alerts = alertIndex.size;
    } else failed.push(`alerts (${alerts.reason.message})`);
    // A store written before planting zones existed has no zones collection: not an error.
    if (zones.status === 'rejected' && zones.reason.status === 404) zones.value = [];
    if (zones.status === 'fulfilled' || zones.value) {
      zonesLayer.addData(zones.value);
      canopy.counts.zones = zones.value.length;
      canopy.species = [...new Set(zones.value.map((f) => f.properties.species).filter(Boolean))]
        .sort((a, b) => (SPECIES_COLORS[a] ? 0 : 1) - (SPECIES_COLORS[b] ? 0 : 1) || a.localeCompare(b));
    } else failed.push(`zones (${zones.reason.message})`);

    canopy.data = {
      communes: communes.status === 'fulfilled' ? communes.value : [],
      alerts: alerts.status === 'fulfilled' ? alerts.value : [],
      zones: zones.value || [],
    };
    communesLayer.addTo(map);
    zonesLayer.addTo(map);
    alertsGroup.addTo(map);
    canopy.layersControl = L.control.layers(
      { [T('layer.none')]: plain, [T('layer.osm')]: osm },
      { [T('layer.communes')]: communesLayer, [T('layer.zones')]: zonesLayer, [T('layer.alerts')]: alertsGroup },
      { collapsed: narrow(), position: 'topright' }).addTo(map);
    legend.render();

    const bounds = communesLayer.getLayers().length ? communesLayer.getBounds()
      : alertsLayer.getLayers().length ? L.featureGroup(alertsLayer.getLayers()).getBounds() : null;
    if (bounds && bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10], animate: false });

    if (failed.length) {
      fatal(T('load.failed', { what: failed.join('; ') }));
      return;
    }
    if (canopy.counts.zones === 0) info(T('load.noZones'));
    canopy.ready = true;
    document.body.dataset.state = 'ready';

    const m = location.hash.match(/alert=([^&]+)/);
    if (m) openAlert(decodeURIComponent(m[1]));
  }

  load().catch((e) => fatal(T('load.crashed', { msg: e.message })));
})();
