// ui.js: small DOM helpers shared by the pages. Text is always set through
// textContent (never innerHTML): alert text comes from other people.

import { signOut } from './session.js';
import { ROLE_LABELS } from './vocab.js';

/* el('li', {class: 'x', dataset: {alertId: 4}}, 'text', child, …) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'text') node.textContent = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const pad = (n) => String(n).padStart(2, '0');

/* 14:32:05, local time. */
export function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/* A broker time (RFC 3339) as local "14:32:05", with the date in front
 * when it is not today. */
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso ? String(iso) : '';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  if (sameDay) return clock(d);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(d)}`;
}

export function timeElement(iso, className) {
  return el('time', { class: className, datetime: iso || '' }, formatTime(iso));
}

export function roleLabel(role) {
  return ROLE_LABELS[role] || role || '';
}

/* Fill the common header: #user-name, #user-role, #org-name and wire
 * #signout. `session` may be null (admin page). */
export function setupHeader(user, session) {
  const name = document.getElementById('user-name');
  const role = document.getElementById('user-role');
  if (name) name.textContent = user.display_name || user.username || '';
  if (role) role.textContent = roleLabel(user.role);
  const out = document.getElementById('signout');
  if (out) out.addEventListener('click', () => signOut(session));
}

/* Keep #conn in step with the session: data-state plus human text.
 * Reconnecting for longer than OFFLINE_AFTER_MS (or the browser says it
 * is offline) reads "Offline since 14:32": a desk screen watched from a
 * distance must say plainly that alerts cannot reach it. */
const OFFLINE_AFTER_MS = 30000;

export function bindConnIndicator(session, conn) {
  if (!conn) return;
  let timer = null;
  const render = (state) => {
    clearTimeout(timer);
    timer = null;
    const since = session.offlineSince;
    const long = since && (Date.now() - since.getTime() >= OFFLINE_AFTER_MS || navigator.onLine === false);
    if (state === 'connected') {
      conn.dataset.state = 'connected';
      conn.textContent = 'Connected';
    } else if (state === 'reconnecting' && long) {
      conn.dataset.state = 'offline';
      conn.textContent = `Offline since ${clock(since).slice(0, 5)}`;
    } else if (state === 'reconnecting') {
      conn.dataset.state = 'reconnecting';
      conn.textContent = `Reconnecting…${since ? ` offline since ${clock(since)}` : ''}`;
      if (since) timer = setTimeout(() => render(session.state), OFFLINE_AFTER_MS - (Date.now() - since.getTime()) + 50);
    } else {
      conn.dataset.state = 'connecting';
      conn.textContent = 'Connecting…';
    }
    if (since && state !== 'connected') conn.dataset.offlineSince = since.toISOString();
    else delete conn.dataset.offlineSince;
  };
  session.on('state', render);
  window.addEventListener('offline', () => render(session.state));
  render(session.state);
}

/* Mark an input as refused (aria-invalid, which the stylesheet and screen
 * readers show) or clear the mark. */
export function setInvalid(node, bad) {
  if (!node) return;
  if (bad) node.setAttribute('aria-invalid', 'true');
  else node.removeAttribute('aria-invalid');
}

/* Show a message in an error region (role="alert" in the markup); an empty
 * message hides it. */
export function showError(node, message) {
  if (!node) return;
  node.textContent = message || '';
  node.hidden = !message;
}

export function describeError(frame) {
  const msg = frame.message || frame.code || 'error';
  const parts = [msg];
  if (frame.field) parts.push(`(field: ${frame.field})`);
  return parts.join(' ');
}

/* The broker does not know this request yet (an older broker, or a part
 * still being built): the page says so and carries on. */
export function isUnsupported(frame) {
  return Boolean(frame) && (frame.code === 'unknown_type' ||
    /not implemented/i.test(String(frame.message || '')));
}

export function unsupportedText(what) {
  return `${what} is not available on this broker yet. Everything else keeps working.`;
}
