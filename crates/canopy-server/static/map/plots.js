// Forest plots (lô rừng) on the map (issue 14): from zoom 14, where a plot of a few
// hectares is a readable shape, the plots are drawn from the server's vector tiles
// (GET /collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}, MVT, through
// Leaflet.VectorGrid), coloured by forest function, with a legend row; a tap opens the
// plot's popup (id, owner, owner category, function, origin, area, forest, cover, loss)
// built from DOM nodes (textContent only: owner names from the store are text, never
// markup). Below zoom 14 a hint says to zoom in. Nothing is added when the store has
// no plots (the tileset is missing or empty) or VectorGrid is not vendored.
// Offline, tiles are not saved: the service worker answers them 504 and the layer
// stays empty.
(function () {
  'use strict';
  const MIN_ZOOM = 14;
  const URL = '/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt';
  // Đặc dụng, phòng hộ, sản xuất: the three forest functions' colours.
  const FUNCTION_COLORS = { 'special-use': '#762a83', protection: '#1b7837', production: '#e08214' };

  async function start(canopy) {
    const map = canopy.map;
    const T = canopy.i18n.t;
    const el = canopy.el;
    const fmt = canopy.fmt;
    if (!L.vectorGrid) return;
    let tileset;
    try {
      const resp = await fetch('/collections/parcels/tiles?f=json', { headers: { Accept: 'application/json' } });
      if (!resp.ok) return; // no tiles (an older server) or offline
      tileset = await resp.json();
    } catch (_) {
      return;
    }
    const layerInfo = ((tileset.tilesets || [])[0] || {}).layers || [];
    const count = layerInfo.length ? layerInfo[0].featureCount : 0;
    if (!count) return;
    canopy.counts.plots = count;

    map.createPane('plots').style.zIndex = 415; // above zones, below alerts
    const label = (kind, code) => (code ? T(`${kind}.${code}`) : null);
    const style = (p) => {
      const c = FUNCTION_COLORS[p.function] || '#666666';
      return { fill: true, fillColor: c, fillOpacity: 0.3, color: c, weight: 1, opacity: 0.9 };
    };
    const plots = L.vectorGrid.protobuf(URL, {
      pane: 'plots',
      minZoom: MIN_ZOOM,
      maxZoom: 22,
      interactive: true,
      rendererFactory: L.svg.tile, // SVG: its paths take the taps (VectorGrid's canvas click needs Leaflet < 1.8)
      vectorTileLayerStyles: { parcels: style },
    });

    function popup(p) {
      const code = [p.compartment, p.sub_compartment, p.plot].some(Boolean)
        ? T('plot.code', { tk: p.compartment || '–', k: p.sub_compartment || '–', lo: p.plot || '–' }) : null;
      return el('div', { class: 'popup plot-popup', 'data-plot-id': p.id },
        el('h3', null, T('plot.title', { id: p.id })),
        el('table', null, [
          ['owner', T('f.owner'), p.owner],
          ['owner_category', T('f.ownerCategory'), label('owner', p.owner_category)],
          ['function', T('f.function'), label('function', p.function)],
          ['origin', T('f.origin'), label('origin', p.origin)],
          ['code', T('f.plotCode'), code],
          ['commune', T('f.commune'), p.commune_code],
          ['area', T('f.area'), fmt.ha(p.area_ha)],
          ['forest', T('f.forest'), p.forest_ha === undefined ? null : fmt.ha(p.forest_ha)],
          ['cover', T('f.cover'), p.cover_pct === undefined ? null : `${fmt.pct(p.cover_pct)}${p.epoch ? ' (' + p.epoch + ')' : ''}`],
          ['loss', T('f.loss'), p.loss_ha === undefined ? null : `${fmt.ha(p.loss_ha)}${p.change_from && p.epoch ? ' (' + p.change_from + ' → ' + p.epoch + ')' : ''}`],
        ].filter((r) => r[2] !== null && r[2] !== undefined && r[2] !== '')
          .map(([k, name, v]) => el('tr', { 'data-field': k }, el('th', null, name), el('td', null, v)))));
    }
    plots.on('click', (e) => {
      const p = (e.layer && e.layer.properties) || {};
      L.popup({ maxWidth: Math.min(340, window.innerWidth - 40) })
        .setLatLng(e.latlng).setContent(popup(p)).openOn(map);
    });
    // Leaflet takes a layer's minZoom as the map's own when the map has none: keep the
    // map free to zoom out (the layer just draws nothing below 14).
    if (map.options.minZoom === undefined) map.options.minZoom = 0;
    plots.addTo(map);
    canopy.plotsLayer = plots;
    if (canopy.layersControl) canopy.layersControl.addOverlay(plots, T('layer.plots'));

    // "Zoom in to see the plots" while the layer is on and the map is above zoom 14.
    const hint = L.control({ position: 'bottomleft' });
    hint.onAdd = () => {
      const div = L.DomUtil.create('div', 'plots-hint');
      div.id = 'plots-hint';
      div.textContent = T('plots.hint');
      L.DomEvent.on(div, 'click', () => map.setZoom(MIN_ZOOM));
      return div;
    };
    hint.addTo(map);
    const update = () => {
      hint.getContainer().hidden = !(map.hasLayer(plots) && map.getZoom() < MIN_ZOOM);
    };
    map.on('zoomend overlayadd overlayremove', update);
    update();

    // The legend's rows (map.js renders them with its own).
    canopy.legendExtras = canopy.legendExtras || [];
    canopy.legendExtras.push(() => (map.hasLayer(plots)
      ? [el('h3', null, T('legend.plots')), ...Object.entries(FUNCTION_COLORS).map(([f, c]) => el('div', { class: 'row' },
        el('span', { class: 'sw', style: `background:${c};opacity:.6` }), T('function.' + f)))]
      : []));
    if (canopy.legend) canopy.legend.render();
  }

  function wait() {
    const c = window.canopy;
    if (c && c.ready && c.map) start(c).catch((e) => c.errors.push('plots: ' + e.message));
    else setTimeout(wait, 200);
  }
  wait();
})();
