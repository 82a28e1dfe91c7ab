// Triage from the field: photos and the offline queue.
//
// Photos are resized on the phone (canvas, longest side ≤ 1600 px, JPEG, at most
// MAX_PHOTO bytes) before anything is stored or sent; a file that is not an image is
// refused by name. A triage that cannot reach the server (no network) is queued in
// IndexedDB with its status, note, photos and the ETag the ranger saw, and sent when
// the network is back (the `online` event, the next load, or "Send now") with that
// ETag as If-Match: a 412 is kept and shown as a conflict (who changed the alert, and
// a choice: send mine anyway, or discard), a 404 (a re-run removed the alert) is kept
// with a clear message; nothing leaves the queue without a 2xx or the ranger's choice.
// Photos go with `POST …/photos` and the ETag the PATCH answered, so they join that
// very triage event.
'use strict';

(function () {
  const canopy = window.canopy;
  if (!canopy) return;
  const MAX_SIDE = 1600;
  const MAX_PHOTO = 1024 * 1024; // the server's cap too
  const MAX_PHOTOS = 4;
  const DB = 'canopy', STORE = 'queue';

  function db() {
    return new Promise((resolve, reject) => {
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: 'key', autoIncrement: true });
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  async function tx(mode, fn) {
    const d = await db();
    return new Promise((resolve, reject) => {
      const t = d.transaction(STORE, mode);
      let out;
      Promise.resolve(fn(t.objectStore(STORE))).then((v) => { out = v; });
      t.oncomplete = () => resolve(out);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error || new Error('aborted'));
    });
  }
  const req = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  const all = () => tx('readonly', (s) => req(s.getAll()));
  const put = (item) => tx('readwrite', (s) => req(s.put(item)));
  const remove = (key) => tx('readwrite', (s) => req(s.delete(key)));
  canopy.queue = { all };

  const T = (k, v) => canopy.i18n.t(k, v);
  const isQuota = (e) => e && (e.name === 'QuotaExceededError' || /quota/i.test(e.message || ''));

  // ------------------------------------------------------------------ photos

  // One file → a JPEG blob of at most MAX_PHOTO bytes, or an Error naming the file.
  async function resize(file) {
    let bmp;
    try {
      bmp = await createImageBitmap(file);
    } catch (_) {
      throw new Error(T('photo.notImage', { name: file.name }));
    }
    let scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
    for (let quality = 0.85; ; quality -= 0.15) {
      const c = document.createElement('canvas');
      c.width = Math.max(1, Math.round(bmp.width * scale));
      c.height = Math.max(1, Math.round(bmp.height * scale));
      c.getContext('2d').drawImage(bmp, 0, 0, c.width, c.height);
      const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', Math.max(0.4, quality)));
      if (blob && blob.size <= MAX_PHOTO) return blob;
      if (quality < 0.5) { scale *= 0.7; quality = 0.85 + 0.15; }
      if (scale < 0.05) throw new Error(T('photo.tooLarge', { name: file.name }));
    }
  }
  canopy.resizePhoto = resize;

  // The photo field of the triage form: pick (or take) photos, see them, remove them.
  canopy.photoInput = function photoInput() {
    const { el } = canopy;
    const photos = [];
    const previews = el('div', { class: 'photo-previews' });
    const msg = el('p', { class: 'photo-msg muted', role: 'status' });
    const input = el('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp,image/*', capture: 'environment', multiple: true, class: 'photo-file' });
    const draw = () => previews.replaceChildren(...photos.map((b, i) => {
      const url = URL.createObjectURL(b);
      const img = el('img', { src: url, alt: T('photo.alt', { n: i + 1 }), width: 72, height: 72 });
      img.onload = () => URL.revokeObjectURL(url);
      return el('span', { class: 'photo' }, img,
        el('button', { type: 'button', class: 'icon', 'aria-label': T('photo.remove'), onclick: () => { photos.splice(i, 1); draw(); } }, '✕'));
    }));
    input.addEventListener('change', async () => {
      const errors = [];
      for (const f of input.files) {
        if (photos.length >= MAX_PHOTOS) { errors.push(T('photo.tooMany', { n: MAX_PHOTOS })); break; }
        try { photos.push(await resize(f)); } catch (e) { errors.push(e.message); }
      }
      input.value = '';
      msg.textContent = errors.join(' ');
      msg.className = errors.length ? 'photo-msg error' : 'photo-msg muted';
      draw();
    });
    const node = el('div', { class: 'photos' }, el('label', null, T('photo.label'), ' ', input), previews, msg);
    return { node, photos: () => photos.slice(), clear: () => { photos.splice(0); draw(); } };
  };

  async function sendPhotos(id, etag, photos) {
    let tag = etag;
    for (const b of photos) {
      const r = await fetch(`/collections/alerts/items/${encodeURIComponent(id)}/photos`, {
        method: 'POST', body: b,
        headers: { 'Content-Type': b.type || 'image/jpeg', Authorization: 'Bearer ' + canopy.token(), 'If-Match': tag },
      });
      if (!r.ok) return r;
      tag = r.headers.get('ETag') || tag;
    }
    return { ok: true, etag: tag };
  }
  canopy.sendPhotos = sendPhotos;

  // ------------------------------------------------------------------ the queue

  canopy.queueTriage = async function queueTriage(item) {
    try {
      await put(Object.assign({ state: 'queued', queuedAt: new Date().toISOString() }, item));
    } catch (e) {
      throw new Error(isQuota(e) ? T('queue.quota') : T('queue.storeFailed', { msg: e.message }));
    }
    await render();
  };

  async function errorText(r) {
    try { const j = await r.json(); return j.description || j.detail || j.message || r.statusText; } catch (_) { return r.statusText; }
  }

  async function current(id) {
    try {
      const r = await fetch(`/collections/alerts/items/${encodeURIComponent(id)}`, { cache: 'no-store', headers: { Accept: 'application/geo+json' } });
      if (!r.ok) return null;
      return { p: (await r.json()).properties, etag: r.headers.get('ETag') };
    } catch (_) { return null; }
  }

  // Send one queued item; returns false when the network is (still) away.
  async function sendOne(item) {
    const id = item.id;
    let r;
    if (item.state !== 'photos') {
      try {
        r = await fetch(`/collections/alerts/items/${encodeURIComponent(id)}`, {
          method: 'PATCH',
          headers: { 'Content-Type': 'application/json', Accept: 'application/geo+json', Authorization: 'Bearer ' + canopy.token(), 'If-Match': item.etag || '' },
          body: JSON.stringify({ status: item.status, note: item.note }),
        });
      } catch (_) { return false; }
      if (r.status === 412 || r.status === 428) {
        const now = await current(id);
        Object.assign(item, { state: 'conflict', theirs: now && now.p, freshEtag: now && now.etag });
        await put(item);
        return true;
      }
      if (r.status === 404) { Object.assign(item, { state: 'gone', message: await errorText(r) }); await put(item); return true; }
      if (!r.ok) { Object.assign(item, { state: 'error', message: `HTTP ${r.status}: ${await errorText(r)}` }); await put(item); return true; }
      item.etag = r.headers.get('ETag');
      const f = await r.json().catch(() => null);
      if (f && canopy.alertUpdated) canopy.alertUpdated(id, f, item.etag);
      item.state = 'photos';
    }
    if (item.photos && item.photos.length) {
      let pr;
      try { pr = await sendPhotos(id, item.etag, item.photos); } catch (_) { await put(item); return false; }
      if (!pr.ok) {
        Object.assign(item, { state: 'photoError', message: `HTTP ${pr.status}: ${await errorText(pr)}` });
        await put(item);
        return true;
      }
    }
    await remove(item.key);
    canopy.lastSent = { id, status: item.status, photos: (item.photos || []).length };
    return true;
  }

  let flushing = null;
  async function flush() {
    if (flushing) return flushing;
    flushing = (async () => {
      for (const item of await all()) {
        if (!['queued', 'photos'].includes(item.state)) continue;
        if (!(await sendOne(item))) break;
      }
    })().finally(() => { flushing = null; });
    await flushing;
    await render();
  }
  canopy.flushQueue = flush;

  // The queue, above the map: every item with its state, in words, and its choices.
  async function render() {
    const { el, fmt } = canopy;
    const box = document.getElementById('queue');
    let items = [];
    try { items = await all(); } catch (e) { box.hidden = false; box.replaceChildren(el('p', { class: 'msg error' }, T('queue.storeFailed', { msg: e.message }))); return; }
    canopy.queueState = items.map((i) => ({ id: i.id, state: i.state }));
    box.hidden = items.length === 0;
    const stateText = (i) => {
      const who = i.theirs ? T('queue.theirs', {
        status: T('status.' + (i.theirs.status || 'new')), by: i.theirs.status_by || '?', at: fmt.when(i.theirs.status_at),
        note: i.theirs.note ? `: “${i.theirs.note}”` : '',
      }) : '';
      switch (i.state) {
        case 'conflict': return T('queue.conflict') + ' ' + who;
        case 'gone': return T('queue.gone');
        case 'photoError': return T('queue.photoError', { msg: i.message || '' });
        case 'error': return T('queue.error', { msg: i.message || '' });
        default: return navigator.onLine ? T('queue.sending') : T('queue.waiting');
      }
    };
    box.replaceChildren(
      el('div', { class: 'queue-head' }, el('b', null, T('queue.title', { n: canopy.i18n.num(items.length, 0) })),
        el('button', { type: 'button', class: 'secondary', onclick: flush }, T('queue.sendNow'))),
      el('ul', null, items.map((i) => el('li', { class: `q-item ${i.state}`, 'data-alert-id': i.id },
        el('div', null, el('b', null, T('status.' + i.status)), ` · ${i.id}`, i.note ? ` · “${i.note}”` : '',
          i.photos && i.photos.length ? ' · ' + T('queue.photos', { n: i.photos.length }) : '', ` · ${fmt.when(i.queuedAt)}`),
        el('div', { class: `msg ${['conflict', 'gone', 'error', 'photoError'].includes(i.state) ? 'conflict' : 'info'}` }, stateText(i)),
        i.state === 'conflict' ? el('button', { type: 'button', class: 'q-mine', onclick: async () => {
          Object.assign(i, { state: 'queued', etag: i.freshEtag }); await put(i); await flush();
        } }, T('queue.sendMine')) : null,
        ['conflict', 'gone', 'error', 'photoError'].includes(i.state) ? el('button', { type: 'button', class: 'secondary q-discard', onclick: async () => {
          if (confirm(T('queue.discardSure'))) { await remove(i.key); await render(); }
        } }, T('queue.discard')) : null))));
    if (canopy.map) canopy.map.invalidateSize();
  }
  canopy.renderQueue = render;

  window.addEventListener('online', () => flush());
  window.addEventListener('offline', () => render());
  function start() {
    if (!canopy.ready || !canopy.i18n) { setTimeout(start, 200); return; }
    if (navigator.onLine) flush(); else render();
  }
  start();
})();
