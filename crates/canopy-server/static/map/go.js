// Go to the alert: the phone's position on the map (navigator.geolocation, asked for
// only when the ranger presses the button), the distance and compass bearing from
// there to the alert, and links that open the alert's location in the phone's
// navigation app (a `geo:` URI, OpenStreetMap and Google Maps directions). The links
// are only followed when tapped: nothing here loads anything from another server.
'use strict';

(function () {
  const canopy = window.canopy;
  if (!canopy) return;
  const R = 6371008.8; // mean Earth radius (m)
  const rad = (d) => (d * Math.PI) / 180;

  // Great-circle distance (m) and initial bearing (degrees from north) from a to b.
  function distanceBearing(a, b) {
    const φ1 = rad(a.lat), φ2 = rad(b.lat), dφ = φ2 - φ1, dλ = rad(b.lng - a.lng);
    const h = Math.sin(dφ / 2) ** 2 + Math.cos(φ1) * Math.cos(φ2) * Math.sin(dλ / 2) ** 2;
    const d = 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
    const y = Math.sin(dλ) * Math.cos(φ2);
    const x = Math.cos(φ1) * Math.sin(φ2) - Math.sin(φ1) * Math.cos(φ2) * Math.cos(dλ);
    const bearing = ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
    return { distance: d, bearing };
  }
  canopy.distanceBearing = distanceBearing;

  const here = { pos: null, watch: null, marker: null, circle: null, waiting: [] };
  canopy.here = here;

  function compass(bearing) {
    const T = canopy.i18n.t;
    return T('go.dir' + Math.round(bearing / 45) % 8);
  }

  function show(pos) {
    const L = window.L, map = canopy.map;
    const at = L.latLng(pos.coords.latitude, pos.coords.longitude);
    here.pos = { lat: at.lat, lng: at.lng, accuracy: pos.coords.accuracy };
    if (!here.marker) {
      here.circle = L.circle(at, { radius: pos.coords.accuracy || 0, color: '#1a73e8', weight: 1, fillOpacity: 0.12, interactive: false }).addTo(map);
      here.marker = L.circleMarker(at, { radius: 8, color: '#fff', weight: 3, fillColor: '#1a73e8', fillOpacity: 1, className: 'here-marker', interactive: false }).addTo(map);
    } else {
      here.marker.setLatLng(at);
      here.circle.setLatLng(at).setRadius(pos.coords.accuracy || 0);
    }
    here.waiting.splice(0).forEach((f) => f());
  }

  function locate(onError) {
    if (!navigator.geolocation) { onError(canopy.i18n.t('go.unsupported')); return; }
    if (here.watch !== null) return;
    here.watch = navigator.geolocation.watchPosition(show, (e) => {
      navigator.geolocation.clearWatch(here.watch);
      here.watch = null;
      onError(canopy.i18n.t(e.code === 1 ? 'go.denied' : 'go.unavailable', { msg: e.message }));
    }, { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  }
  canopy.locate = locate;

  function section(entry) {
    const { el, fmt, i18n } = canopy;
    const T = i18n.t;
    const at = entry.marker.getLatLng();
    const lat = at.lat.toFixed(6), lon = at.lng.toFixed(6);
    const out = el('p', { class: 'go-where', role: 'status' });
    const label = `${entry.feature.properties.commune_name || ''} ${entry.feature.id}`.trim();
    const update = () => {
      if (!here.pos) return;
      const { distance, bearing } = distanceBearing(here.pos, at);
      const dist = distance < 1000 ? `${i18n.num(distance, 0)} m` : `${i18n.num(distance / 1000, distance < 10000 ? 2 : 1)} km`;
      out.dataset.distance = String(Math.round(distance));
      out.dataset.bearing = String(Math.round(bearing));
      out.textContent = T('go.distance', { dist, dir: compass(bearing), deg: i18n.num(bearing, 0), acc: i18n.num(here.pos.accuracy || 0, 0) });
      osmLink.href = `https://www.openstreetmap.org/directions?engine=fossgis_osrm_foot&route=${here.pos.lat.toFixed(6)}%2C${here.pos.lng.toFixed(6)}%3B${lat}%2C${lon}`;
    };
    const osmLink = el('a', { class: 'go-osm', href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`, target: '_blank', rel: 'noopener noreferrer' }, T('go.osm'));
    const btn = el('button', { type: 'button', class: 'secondary go-locate' }, T('go.locate'));
    btn.addEventListener('click', () => {
      out.textContent = T('go.locating');
      here.waiting.push(update);
      if (here.pos) update();
      locate((msg) => { out.textContent = msg; });
      if (here.pos && here.marker) canopy.map.fitBounds(window.L.latLngBounds([here.marker.getLatLng(), at]), { padding: [40, 40], maxZoom: 16 });
    });
    // Keep the figure fresh while the ranger walks.
    const tick = () => { if (out.isConnected) { update(); here.waiting.push(tick); } };
    here.waiting.push(tick);
    if (here.pos) update();
    return el('div', { class: 'go' },
      el('h4', null, T('go.title')),
      el('div', { class: 'muted' }, `${fmt.coord(at.lat)}, ${fmt.coord(at.lng)}`),
      el('div', { class: 'actions' }, btn),
      out,
      el('div', { class: 'go-links' },
        el('a', { class: 'go-geo', href: `geo:${lat},${lon}?q=${lat},${lon}(${encodeURIComponent(label)})` }, T('go.app')),
        ' · ', osmLink, ' · ',
        el('a', { class: 'go-google', href: `https://www.google.com/maps/dir/?api=1&destination=${lat}%2C${lon}&travelmode=walking`, target: '_blank', rel: 'noopener noreferrer' }, T('go.google'))));
  }
  canopy.popupExtras.push(section);
})();
