// Evidence in the alert popup: the before and after chips the run rendered
// (GET /collections/alerts/items/{id}/chips/{before|after}.png; NDVI or forest state
// around the alert, its outline in yellow), with the epochs' dates. offline.js keeps
// them for the communes saved for offline use (canopy.chipUrls).
'use strict';

(function () {
  const canopy = window.canopy;
  if (!canopy) return;
  const url = (f, kind) => `/collections/alerts/items/${encodeURIComponent(f.id)}/chips/${kind}.png`;
  canopy.chipUrls = (f) => [url(f, 'before'), url(f, 'after')];

  canopy.popupExtras.push(function chips(entry) {
    const { el, fmt, i18n } = canopy;
    const T = i18n.t;
    const f = entry.feature, p = f.properties;
    const figure = (kind, date) => {
      const img = el('img', { src: url(f, kind), alt: T(`chips.${kind}Alt`, { date }), width: 128, height: 128, loading: 'lazy', class: `chip chip-${kind}` });
      const fig = el('figure', null, img, el('figcaption', null, T(`chips.${kind}`, { date })));
      img.addEventListener('error', () => { fig.replaceChildren(el('figcaption', { class: 'muted' }, T('chips.none'))); });
      return fig;
    };
    return el('div', { class: 'chips' },
      el('h4', null, T('chips.title')),
      el('div', { class: 'chip-pair' },
        figure('before', p.from_date ? fmt.date(p.from_date) : p.from_epoch),
        figure('after', p.to_date ? fmt.date(p.to_date) : p.to_epoch)),
      el('p', { class: 'muted chip-legend' }, T('chips.legend')));
  });
})();
