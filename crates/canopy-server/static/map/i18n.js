// The map's languages: every string of the page is in i18n/vi.json and i18n/en.json
// (same keys; a test checks that). Vietnamese first: the language is `?lang=` if given,
// else the one chosen with the page's switch (kept in localStorage), else the first of
// the browser's languages that is Vietnamese or English, else Vietnamese.
//
// Numbers and dates are formatted here, as a reader of the language writes them:
// Vietnamese uses a comma as the decimal separator, a dot between thousands and
// dd/mm/yyyy dates; English a dot, commas and ISO dates (yyyy-mm-dd, as stored).
// Strings are only ever set as text (textContent / attributes), never as markup.
'use strict';

(function () {
  const LANGS = ['vi', 'en'];
  const KEY = 'canopy.lang';

  function pick() {
    const q = new URLSearchParams(location.search).get('lang');
    if (q && LANGS.includes(q)) return q;
    try {
      const saved = localStorage.getItem(KEY);
      if (saved && LANGS.includes(saved)) return saved;
    } catch (_) { /* storage blocked */ }
    for (const l of navigator.languages || [navigator.language || '']) {
      const base = String(l).toLowerCase().split('-')[0];
      if (LANGS.includes(base)) return base;
    }
    return 'vi';
  }

  const lang = pick();
  let dict = {};
  const i18n = (window.canopyI18n = { lang, langs: LANGS });

  // `{name}` placeholders are filled with the values given, as text.
  i18n.t = function t(key, vars) {
    let s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined || vars[k] === null ? '' : String(vars[k])));
    return s;
  };

  // A number with at most `digits` decimals (fewer when they are zeros) and the
  // language's separators: 1234.5 → "1.234,5" (vi), "1,234.5" (en).
  i18n.num = function num(v, digits = 1, minDigits = 0) {
    if (v === null || v === undefined || !Number.isFinite(+v)) return '–';
    const x = +v;
    let s = Math.abs(x).toFixed(digits);
    if (digits > minDigits) s = s.replace(new RegExp(`(\\.\\d{${minDigits}}\\d*?)0+$`), '$1').replace(/\.$/, '');
    let [int, frac] = s.split('.');
    int = int.replace(/\B(?=(\d{3})+(?!\d))/g, dict._group || ',');
    const neg = x < 0 && /[1-9]/.test(s) ? '-' : '';
    return neg + int + (frac ? (dict._decimal || '.') + frac : '');
  };

  // A stored date (yyyy-mm-dd, or a date-time) as the reader writes it.
  i18n.date = function date(v) {
    if (!v) return '';
    const m = String(v).match(/^(\d{4})-(\d{2})-(\d{2})/);
    if (!m) return String(v);
    return lang === 'vi' ? `${m[3]}/${m[2]}/${m[1]}` : `${m[1]}-${m[2]}-${m[3]}`;
  };

  // A moment (RFC 3339) in local time: dd/mm/yyyy HH:MM (vi), yyyy-mm-dd HH:MM (en).
  i18n.when = function when(v) {
    if (!v) return '';
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) return String(v);
    const p = (n) => String(n).padStart(2, '0');
    const day = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
    return `${i18n.date(day)} ${p(d.getHours())}:${p(d.getMinutes())}`;
  };

  // Switch language: remembered, and the page reloaded in it.
  i18n.use = function use(l) {
    try { localStorage.setItem(KEY, l); } catch (_) { /* kept in the URL only */ }
    const url = new URL(location.href);
    url.searchParams.set('lang', l);
    location.replace(url.toString());
  };

  // The static page: elements with data-i18n (text), data-i18n-title,
  // data-i18n-aria-label, data-i18n-placeholder.
  i18n.apply = function apply(root) {
    root = root || document;
    root.querySelectorAll('[data-i18n]').forEach((e) => { e.textContent = i18n.t(e.dataset.i18n); });
    for (const attr of ['title', 'aria-label', 'placeholder']) {
      root.querySelectorAll(`[data-i18n-${attr}]`).forEach((e) => e.setAttribute(attr, i18n.t(e.getAttribute(`data-i18n-${attr}`))));
    }
    document.documentElement.lang = lang;
    document.title = i18n.t('title');
  };

  i18n.ready = fetch(`/static/map/i18n/${lang}.json`)
    .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); })
    .then((d) => { dict = d; i18n.apply(); return i18n; })
    .catch((e) => {
      // The page still works with its keys; say why.
      console.error(`canopy map: the ${lang} strings could not be loaded: ${e.message}`);
      return i18n;
    });
})();
