// Fire layers: the communes coloured by the stored fire danger level of the
// last day (GET /stats/fire-danger), the fire events (outlines, red when they
// became an alert) and the satellite hotspots (points), with tooltips built from
// DOM nodes (textContent only: names from the store are text, never markup).
// Loaded after map.js; waits until the map is ready, adds its own layer switch
// ("Fire danger <date>", "Fire events", "Fire hotspots"), and adds nothing for
// what the store lacks (a 404 danger, empty collections).
// The burned-area layer ("Burned forest <from> → <to>", GET /stats/burned-area):
// the communes with burned forest (dNBR ≥ 0.1) shaded by their burned ha, with
// the ha per burn-severity class in the tooltip, and the outlines of the loss
// alerts whose cause is fire (from the alerts collection the map already holds).
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

  function lines(title, rows) {
    const div = document.createElement('div');
    const b = document.createElement('strong');
    b.textContent = title;
    div.appendChild(b);
    for (const r of rows) {
      const p = document.createElement('div');
      p.textContent = r;
      div.appendChild(p);
    }
    return div;
  }

  const num = (x, d) => (typeof x === 'number' ? x.toFixed(d) : '?');

  async function dangerLayer(canopy) {
    let danger;
    try {
      danger = await getJson('/stats/fire-danger?f=json');
    } catch (e) {
      if (e.status === 404) return null; // the region has no stations
      if (canopy) canopy.errors.push(e.message);
      return null;
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
    canopy.fire = { date: danger.date, communes: byCode.size, bulletin: danger.bulletin.length };
    return [window.canopyI18n.t('fire.layer', { date: window.canopyI18n.date(danger.date) }), layer];
  }

  async function eventsLayer(canopy) {
    const fc = await getJson('/collections/fire_events/items?limit=10000&f=json');
    canopy.fireEvents = fc.features.length;
    if (!fc.features.length) return null;
    const layer = L.geoJSON(fc.features, {
      style: (f) => ({
        color: f.properties.alert ? '#b10026' : '#fd8d3c',
        weight: 2,
        fillOpacity: 0.25,
      }),
      onEachFeature: (f, l) => {
        const p = f.properties;
        l.bindTooltip(() => lines(`Fire event ${String(p.event_id)}`, [
          `${String(p.first_detection)} … ${String(p.last_detection)}`,
          `${p.hotspots} hotspots, max FRP ${num(p.max_frp_mw, 1)} MW`,
          `forest ${num(p.forest_ha, 1)} ha of ${num(p.area_ha, 1)} ha; commune ${String(p.commune_code)}`,
          `severity ${String(p.severity)}${p.alert ? ' (alert)' : ''}`,
        ]), { sticky: true });
      },
    });
    return [window.canopyI18n.t('fire.events'), layer];
  }

  async function hotspotsLayer(canopy) {
    const fc = await getJson('/collections/hotspots/items?limit=10000&f=json');
    canopy.hotspots = fc.features.length;
    if (!fc.features.length) return null;
    const layer = L.geoJSON(fc.features, {
      pointToLayer: (f, latlng) => L.circleMarker(latlng, {
        radius: 4,
        color: '#7f0000',
        weight: 1,
        fillColor: f.properties.confidence === 'low' ? '#fee391' : '#ef3b2c',
        fillOpacity: 0.9,
      }),
      onEachFeature: (f, l) => {
        const p = f.properties;
        l.bindTooltip(() => lines(`Hotspot ${String(p.acquired)}`, [
          `${String(p.sensor)} ${String(p.satellite)}, confidence ${String(p.confidence)}, FRP ${num(p.frp_mw, 1)} MW`,
          `footprint ${num(p.footprint_ha, 1)} ha, forest ${num(100 * p.forest_fraction, 0)} %`,
          `commune ${String(p.commune_code)}${p.zone_species ? `, zone ${String(p.zone_species)}` : ''}`,
        ]), { sticky: true });
      },
    });
    return [window.canopyI18n.t('fire.hotspots'), layer];
  }

  // Burned forest ha → fill colour (classes of the legend: > 0, ≥ 1, ≥ 10, ≥ 50 ha).
  const BURN_BREAKS = [1, 10, 50];
  const BURN_COLORS = ['#fdd49e', '#fc8d59', '#d7301f', '#7f0000'];
  function burnColor(ha) {
    let i = 0;
    while (i < BURN_BREAKS.length && ha >= BURN_BREAKS[i]) i++;
    return BURN_COLORS[i];
  }

  async function burnedLayer(canopy) {
    let burned;
    try {
      burned = await getJson('/stats/burned-area?f=json');
    } catch (e) {
      if (e.status === 404) return null; // no epoch pair with a SWIR band
      throw e;
    }
    const I = window.canopyI18n;
    const byCode = new Map(burned.communes.filter((u) => u.burned_ha > 0).map((u) => [u.code, u]));
    const communes = await getJson('/collections/communes/items?limit=10000&f=json');
    const shown = communes.features.filter((f) => byCode.has(String(f.id)) || byCode.has(String(f.properties.code)));
    const unit = (f) => byCode.get(String(f.id)) || byCode.get(String(f.properties.code));
    const group = L.featureGroup();
    L.geoJSON(shown, {
      style: (f) => ({ color: '#7f0000', weight: 1, fillOpacity: 0.55, fillColor: burnColor(unit(f).burned_ha) }),
      onEachFeature: (f, l) => {
        const u = unit(f), c = u.classes;
        l.bindTooltip(() => lines(String(f.properties.name || u.code), [
          I.t('burn.tooltip', { ha: I.num(u.burned_ha, 2, 2), from: burned.from_epoch, to: burned.to_epoch }),
          I.t('burn.classes', {
            low: I.num(c.low_ha, 2, 2), ml: I.num(c.moderate_low_ha, 2, 2),
            mh: I.num(c.moderate_high_ha, 2, 2), high: I.num(c.high_ha, 2, 2),
          }),
          I.t('burn.noDnbr', { ha: I.num(u.no_dnbr_ha, 2, 2) }),
        ]), { sticky: true });
      },
    }).addTo(group);
    const fireLoss = ((canopy.data && canopy.data.alerts) || [])
      .filter((f) => f.properties.cause === 'fire' && f.properties.kind !== 'fire' && f.geometry);
    L.geoJSON(fireLoss, {
      style: () => ({ color: '#000000', weight: 2, dashArray: '4 3', fillColor: '#7f0000', fillOpacity: 0.6 }),
      onEachFeature: (f, l) => {
        l.bindTooltip(() => lines(I.t('burn.alert', { id: String(f.id) }), [
          `${I.num(f.properties.area_ha, 2, 2)} ha · ${String(f.properties.commune_name || f.properties.commune_code)}`,
        ]), { sticky: true });
      },
    }).addTo(group);
    canopy.burned = {
      from: burned.from_epoch, to: burned.to_epoch, communes: shown.length, fireAlerts: fireLoss.length,
      colors: BURN_COLORS, breaks: BURN_BREAKS,
    };
    return [I.t('burn.layer', { from: burned.from_epoch, to: burned.to_epoch }), group];
  }

  async function load() {
    const canopy = window.canopy;
    const overlays = {};
    for (const make of [dangerLayer, eventsLayer, hotspotsLayer, burnedLayer]) {
      try {
        const got = await make(canopy);
        if (got) overlays[got[0]] = got[1];
      } catch (e) {
        canopy.errors.push(e.message);
      }
    }
    if (!Object.keys(overlays).length) return;
    L.control.layers(null, overlays, { collapsed: false, position: 'bottomright' }).addTo(canopy.map);
  }

  function start() {
    if (window.canopy && window.canopy.ready && window.canopy.map) load();
    else setTimeout(start, 200);
  }
  start();
})();
