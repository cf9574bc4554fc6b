// images.js: alert images and report photos over HTTP (docs/protocol.md
// §2b "Images"). Uploads go to POST /api/images with the sign-in token;
// an image is fetched with the same header and shown through a data: URL
// (the Content-Security-Policy allows img-src 'self' data: only, and an
// <img src="/api/images/…"> could not carry the token anyway).

import { el } from './ui.js';
import { getToken } from './session.js';

export const IMAGE_TYPES = ['image/jpeg', 'image/png'];
export const MAX_IMAGE_BYTES = 2 * 1024 * 1024;
export const MAX_ALERT_IMAGES = 4;

/* A reason the file cannot be uploaded, or ''. */
export function checkImageFile(file) {
  if (!file) return '';
  if (!IMAGE_TYPES.includes(file.type)) return `${file.name} is not a JPEG or PNG image.`;
  if (file.size > MAX_IMAGE_BYTES) return `${file.name} is larger than 2 MiB.`;
  if (file.size === 0) return `${file.name} is empty.`;
  return '';
}

/* Upload one file; resolves to the image id. Rejects with an Error that
 * carries `code` (the broker's error code, or 'network') and `status`. */
/* The token refreshed over the live connection (js/session.js keeps it in
 * memory) is newer than the one a page was started with. */
function freshest(token) {
  return getToken() || token;
}

export async function uploadImage(token, file) {
  let res;
  try {
    res = await fetch('/api/images', {
      method: 'POST',
      headers: { Authorization: `Bearer ${freshest(token)}`, 'Content-Type': file.type },
      body: file,
    });
  } catch {
    const err = new Error(`${file.name} could not be uploaded: the broker is not reachable.`);
    err.code = 'network';
    throw err;
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.ok && body && typeof body.image_id === 'string') return body.image_id;
  const e = (body && body.error) || {};
  let message = e.message || `HTTP ${res.status}`;
  if (res.status === 404 || res.status === 405) message = 'this broker does not take image uploads yet';
  const err = new Error(`${file.name} could not be uploaded: ${message}.`);
  err.code = e.code || (res.status === 404 ? 'not_implemented' : `http_${res.status}`);
  err.status = res.status;
  throw err;
}

const cache = new Map(); // image id -> Promise<data URL>

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error || new Error('unreadable'));
    reader.readAsDataURL(blob);
  });
}

/* Resolves to a data: URL; rejects with an Error carrying `status` (410
 * when the image has expired). Successful loads are kept for the page's
 * life. */
export function loadImage(token, id) {
  if (cache.has(id)) return cache.get(id);
  const p = (async () => {
    let res;
    try {
      res = await fetch(`/api/images/${encodeURIComponent(id)}`, {
        headers: { Authorization: `Bearer ${freshest(token)}` },
        cache: 'no-store',
      });
    } catch {
      const err = new Error('network');
      err.status = 0;
      throw err;
    }
    if (!res.ok) {
      const err = new Error(`HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    const blob = await res.blob();
    if (!/^image\/(jpeg|png)\b/.test(blob.type)) {
      // A data: URL of another type would not be an image anyway.
      const err = new Error('not an image');
      err.status = 415;
      throw err;
    }
    return readAsDataUrl(blob);
  })();
  cache.set(id, p);
  p.catch(() => cache.delete(id));
  return p;
}

function failureText(status) {
  if (status === 410) return 'Image expired';
  if (status === 403) return 'Image not available to this desk';
  if (status === 404) return 'Image not found';
  if (status === 401) return 'Image not shown: sign in again';
  if (status === 0) return 'Image not loaded: the broker is not reachable';
  return 'Image could not be loaded';
}

/* A <figure class="image"> for {id, expired}: "Image expired" at once when
 * the alert says so, else the picture once fetched. data-state is
 * loading | shown | expired | failed. */
export function imageFigure(token, image, alt) {
  const id = typeof image === 'string' ? image : image && image.id;
  const fig = el('figure', { class: 'image', dataset: { imageId: String(id || ''), state: 'loading' } });
  const note = el('figcaption', { class: 'image-note' }, 'Loading image…');
  fig.append(note);
  if (!id || (image && image.expired)) {
    fig.dataset.state = 'expired';
    note.textContent = 'Image expired';
    return fig;
  }
  loadImage(token, id).then((url) => {
    const img = el('img', { src: url, alt: alt || 'Image attached by the sender' });
    fig.prepend(img);
    fig.dataset.state = 'shown';
    note.textContent = '';
    note.hidden = true;
  }, (err) => {
    fig.dataset.state = err.status === 410 ? 'expired' : 'failed';
    note.textContent = failureText(err.status);
  });
  return fig;
}
