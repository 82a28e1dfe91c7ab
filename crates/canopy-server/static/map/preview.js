// The small map of a feature's HTML page (/collections/{id}/items/{fid}): its
// geometry, fetched as GeoJSON from the same URL (nothing inlined in the page),
// drawn by Leaflet without a base map (offline), zoomed onto it.
'use strict';
(function () {
  const box = document.getElementById('preview');
  if (!box) return;
  if (typeof window.L === 'undefined') {
    box.textContent = 'No map preview: Leaflet is missing from this build (run web/build.sh).';
    return;
  }
  const url = new URL(location.href);
  url.searchParams.set('f', 'json');
  fetch(url, { headers: { Accept: 'application/geo+json' } })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((f) => {
      if (!f || !f.geometry) { box.hidden = true; return; }
      const map = L.map(box, { attributionControl: false, scrollWheelZoom: false });
      const layer = L.geoJSON(f, {
        style: () => ({ color: '#b10026', weight: 2, fillOpacity: 0.3 }),
        pointToLayer: (g, ll) => L.circleMarker(ll, { radius: 6, color: '#b10026' }),
      }).addTo(map);
      map.fitBounds(layer.getBounds(), { maxZoom: 16, padding: [12, 12] });
      box.dataset.state = 'ready';
    })
    .catch((e) => { box.textContent = `No map preview: ${e.message}`; });
})();
