// Evidence in the alert popup: the before and after chips the run rendered
// (GET /collections/alerts/items/{id}/chips/{before|after}.png; NDVI or forest state
// around the alert, its outline in yellow), with the epochs' dates. offline.js keeps
// them for the communes saved for offline use (canopy.chipUrls).
'use strict';

(function () {
  const canopy = window.canopy;
  if (!canopy) return;
  const url = (f, kind) => `/collections/alerts/items/${encodeURIComponent(f.id)}/chips/${kind}.png`;
  const seriesUrl = (f) => `/collections/alerts/items/${encodeURIComponent(f.id)}/chips/series.json`;
  // Fire alerts (satellite hotspots) have no image pair, so no chips are asked for.
  const hasChips = (f) => (f.properties || {}).kind !== 'fire';
  canopy.chipUrls = (f) => (hasChips(f) ? [url(f, 'before'), url(f, 'after'), seriesUrl(f)] : []);

  // The NDVI of the alert's pixels, scene by scene (composite epochs): a filled dot
  // where the scene saw the pixels clear, a hollow grey one at the bottom where it
  // did not (cloud). Built with createElementNS; no markup from data.
  const SVG = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  }
  function drawSeries(points, box) {
    const { el, fmt, i18n } = canopy;
    const T = i18n.t;
    const W = 300, H = 120, L = 30, R = 8, TOP = 8, B = 22;
    const days = points.map((p) => Date.parse(p.date));
    const d0 = Math.min(...days), d1 = Math.max(...days);
    const x = (d) => L + (d1 > d0 ? ((d - d0) / (d1 - d0)) * (W - L - R) : (W - L - R) / 2);
    const y = (v) => TOP + (1 - Math.max(0, Math.min(1, v))) * (H - TOP - B);
    const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', class: 'series-chart' });
    const title = svgEl('title', {});
    title.textContent = T('series.title');
    svg.append(title);
    for (const v of [0, 0.5, 1]) {
      svg.append(svgEl('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#ddd' }));
      const t = svgEl('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#555' });
      t.textContent = i18n.num(v, 1, 1);
      svg.append(t);
    }
    const clear = points.filter((p) => p.ndvi !== null && p.ndvi !== undefined);
    if (clear.length > 1) {
      svg.append(svgEl('polyline', { points: clear.map((p) => `${x(Date.parse(p.date))},${y(p.ndvi)}`).join(' '), fill: 'none', stroke: '#2e7d32', 'stroke-width': 1.5 }));
    }
    for (const p of points) {
      const cx = x(Date.parse(p.date));
      const ok = p.ndvi !== null && p.ndvi !== undefined;
      const c = svgEl('circle', ok
        ? { cx, cy: y(p.ndvi), r: 4, fill: '#2e7d32', class: 'obs clear' }
        : { cx, cy: H - B, r: 4, fill: 'none', stroke: '#999', class: 'obs cloudy' });
      const tip = svgEl('title', {});
      tip.textContent = ok
        ? T('series.point', { date: fmt.date(p.date), ndvi: i18n.num(p.ndvi, 2, 2), clear: i18n.num(p.clear, 0), pixels: i18n.num(p.pixels, 0) })
        : T('series.cloudy', { date: fmt.date(p.date) });
      c.append(tip);
      svg.append(c);
    }
    for (const d of [d0, d1]) {
      const t = svgEl('text', { x: x(d), y: H - 6, 'text-anchor': d === d0 ? 'start' : 'end', 'font-size': 10, fill: '#555' });
      t.textContent = fmt.date(new Date(d).toISOString().slice(0, 10));
      svg.append(t);
    }
    box.replaceChildren(el('h5', null, T('series.title')), svg, el('p', { class: 'muted chip-legend' }, T('series.legend')));
  }

  canopy.popupExtras.push(function chips(entry) {
    const { el, fmt, i18n } = canopy;
    const T = i18n.t;
    const f = entry.feature, p = f.properties;
    if (!hasChips(f)) return null;
    const figure = (kind, date) => {
      const img = el('img', { src: url(f, kind), alt: T(`chips.${kind}Alt`, { date }), width: 128, height: 128, loading: 'lazy', class: `chip chip-${kind}` });
      const fig = el('figure', null, img, el('figcaption', null, T(`chips.${kind}`, { date })));
      img.addEventListener('error', () => { fig.replaceChildren(el('figcaption', { class: 'muted' }, T('chips.none'))); });
      return fig;
    };
    const seriesBox = el('div', { class: 'series' });
    fetch(seriesUrl(f), { headers: { Accept: 'application/json' } })
      .then((r) => (r.ok ? r.json() : null))
      .then((pts) => { if (Array.isArray(pts) && pts.length) drawSeries(pts, seriesBox); })
      .catch(() => null);
    return el('div', { class: 'chips' },
      el('h4', null, T('chips.title')),
      el('div', { class: 'chip-pair' },
        figure('before', p.from_date ? fmt.date(p.from_date) : p.from_epoch),
        figure('after', p.to_date ? fmt.date(p.to_date) : p.to_epoch)),
      el('p', { class: 'muted chip-legend' }, T('chips.legend')),
      seriesBox);
  });
})();
