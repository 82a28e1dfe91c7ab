// Fire danger layer: the communes coloured by the stored fire danger level of
// the last day (GET /stats/fire-danger), with a tooltip built from DOM nodes
// (textContent only: names from the store are text, never markup). Loaded after
// map.js; waits until the map is ready, adds its own layer switch, and does
// nothing when the store has no fire danger (404).
(function () {
  'use strict';
  const COLORS = { 1: '#2b83ba', 2: '#abdda4', 3: '#ffffbf', 4: '#fdae61', 5: '#d7191c' };
  const NAMES = { 1: 'I', 2: 'II', 3: 'III', 4: 'IV', 5: 'V' };

  async function getJson(url) {
    const resp = await fetch(url, { headers: { Accept: 'application/json, application/geo+json' } });
    if (!resp.ok) {
      const err = new Error(`GET ${url}: HTTP ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    return resp.json();
  }

  function tooltip(name, row) {
    const div = document.createElement('div');
    const b = document.createElement('strong');
    b.textContent = name;
    div.appendChild(b);
    const p = document.createElement('div');
    const I = window.canopyI18n;
    p.textContent = row
      ? I.t('fire.tooltip', {
        level: NAMES[row.level] || '?', index: I.num(Math.round(row.index), 0), forest: I.num(row.forest_ha, 1, 1) + ' ha',
        station: row.station, km: I.num(row.distance_km, 1, 1),
      })
      : I.t('fire.none');
    div.appendChild(p);
    return div;
  }

  async function load() {
    const canopy = window.canopy;
    let danger;
    try {
      danger = await getJson('/stats/fire-danger?f=json');
    } catch (e) {
      if (e.status === 404) return; // the region has no [fire]
      if (canopy) canopy.errors.push(e.message);
      return;
    }
    const byCode = new Map(danger.communes.map((r) => [r.commune_code, r]));
    const communes = await getJson('/collections/communes/items?limit=10000&f=json');
    const layer = L.geoJSON(communes.features, {
      style: (f) => {
        const row = byCode.get(String(f.id)) || byCode.get(String(f.properties.code));
        return { color: '#555', weight: 1, fillOpacity: 0.6, fillColor: row ? COLORS[row.level] : '#ccc' };
      },
      onEachFeature: (f, l) => {
        const code = byCode.has(String(f.id)) ? String(f.id) : String(f.properties.code);
        l.bindTooltip(() => tooltip(String(f.properties.name || code), byCode.get(code)), { sticky: true });
      },
    });
    L.control.layers(null, { [window.canopyI18n.t('fire.layer', { date: window.canopyI18n.date(danger.date) })]: layer }, { collapsed: false, position: 'bottomright' })
      .addTo(canopy.map);
    canopy.fire = { date: danger.date, communes: byCode.size, bulletin: danger.bulletin.length };
  }

  function start() {
    if (window.canopy && window.canopy.ready && window.canopy.map) load();
    else setTimeout(start, 200);
  }
  start();
})();
