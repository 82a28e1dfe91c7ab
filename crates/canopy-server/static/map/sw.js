// The map's service worker, served at /sw.js (scope /: it answers for /map and for the
// API the page reads). Network first, always: online, the ranger sees the server's
// current data and nothing is cached but the page's own files. Offline (or when the
// server cannot be reached), the answer comes from
//   - `canopy-shell`: the page, its scripts, styles, strings and Leaflet (cached at
//     install, refreshed on every successful load), and
//   - `canopy-data`: what the ranger saved for offline use (static/map/offline.js
//     writes it: the chosen communes' alerts, outlines, chips, zones), under the very
//     URLs the page asks for.
// Writes (PATCH, POST) are never answered from a cache: the page queues them.
'use strict';

const SHELL = 'canopy-shell-v1';
const DATA = 'canopy-data';
const SHELL_FILES = [
  '/map',
  '/static/map/map.js', '/static/map/map.css', '/static/map/i18n.js', '/static/map/go.js',
  '/static/map/fire.js', '/static/map/plots.js', '/static/map/offline.js', '/static/map/queue.js', '/static/map/chips.js',
  '/static/map/i18n/vi.json', '/static/map/i18n/en.json',
  '/static/map/icon.svg', '/static/map/manifest.webmanifest',
  '/static/vendor/leaflet/leaflet.js', '/static/vendor/leaflet/leaflet.css',
  '/static/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js',
  '/static/vendor/leaflet/images/layers.png', '/static/vendor/leaflet/images/layers-2x.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL)
    // One missing file (e.g. chips.js in an older build) must not stop the others.
    .then((c) => Promise.all(SHELL_FILES.map((u) => c.add(u).catch(() => null))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('canopy-shell-') && k !== SHELL).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

function isShell(url) {
  return url.pathname === '/map' || url.pathname === '/map/' || url.pathname.startsWith('/static/');
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    try {
      const resp = await fetch(req);
      if (resp.ok && isShell(url)) {
        const key = url.pathname === '/map/' || url.pathname === '/map' ? '/map' : url.pathname;
        const copy = resp.clone();
        caches.open(SHELL).then((c) => c.put(key, copy)).catch(() => null);
      }
      return resp;
    } catch (err) {
      // No network: the saved copy, if any.
      if (isShell(url)) {
        const key = url.pathname === '/map/' ? '/map' : url.pathname;
        const hit = await caches.match(key, { cacheName: SHELL, ignoreSearch: true, ignoreVary: true });
        if (hit) return hit;
      }
      const data = await caches.match(url.pathname + url.search, { cacheName: DATA, ignoreVary: true });
      if (data) return data;
      return new Response(JSON.stringify({
        code: 'Offline', description: `offline, and ${url.pathname} was not saved for offline use`,
      }), { status: 504, headers: { 'Content-Type': 'application/json', 'X-Canopy-Offline': '1' } });
    }
  })());
});
