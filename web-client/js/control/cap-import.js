// control/cap-import.js: a pending CAP import in the inbox (kind
// cap_import, docs/protocol.md "Pending CAP imports"): the CAP message as
// it was sent, in full, so that a controller can decide where it goes
// without opening the XML: who sent it and when, event, urgency, severity
// and certainty, every info block by language (headline, description,
// instruction, contact, web, parameters, resources; long texts folded),
// its areas (descriptions and geocodes) and its polygon or circle drawn
// to scale on a small sketch; then how it was closed (published as which
// alert, or rejected and why, by whom) and the reject form. The item's
// other controls are inbox-item.js's.

import { el, formatTime } from '../ui.js';

const FOLD_AT = 280;   // characters: a longer text is folded to its start
const SKETCH = 160;    // px: the side of the area's sketch
const SVG = 'http://www.w3.org/2000/svg';

/* A text shown whole when short, folded to its first FOLD_AT characters
 * when long. */
function text(cls, label, value) {
  if (!value) return null;
  const v = String(value);
  if (v.length <= FOLD_AT) return el('p', { class: cls }, el('strong', {}, `${label}: `), v);
  return el('details', { class: `${cls} cap-fold` },
    el('summary', {}, el('strong', {}, `${label}: `), `${v.slice(0, FOLD_AT)}…`),
    el('p', {}, v));
}

function line(cls, label, value) {
  return value ? el('p', { class: cls }, el('strong', {}, `${label}: `), String(value)) : null;
}

/* The parameters or resources of a block, as "name: value" lines. */
function list(cls, label, items, show) {
  if (!Array.isArray(items) || !items.length) return null;
  return el('div', { class: cls }, el('strong', {}, `${label}:`),
    el('ul', {}, ...items.map((x) => el('li', {}, show(x)))));
}

/* One info block: the first open, the other languages folded. */
function block(b, first) {
  const body = [
    line('cap-event', 'Event', b.event),
    line('cap-headline', 'Headline', b.headline),
    line('cap-sender-name', 'Sender name', b.sender_name),
    text('cap-description', 'Description', b.description),
    text('cap-instruction', 'Instruction', b.instruction),
    line('cap-contact', 'Contact', b.contact),
    line('cap-web', 'Web', b.web),
    line('cap-audience', 'Audience', b.audience),
    line('cap-area', 'Area', b.area),
    list('cap-parameters', 'Parameters', b.parameters, (p) => `${p.name ?? ''}: ${p.value ?? ''}`),
    list('cap-resources', 'Resources', b.resources,
      (r) => [r.description, r.mime, r.uri].filter(Boolean).join(' · ')),
  ];
  const lang = b.language || 'en-US';
  return el('details', { class: 'cap-block', dataset: { lang }, lang, open: first },
    el('summary', {}, `${lang}: ${b.headline || b.event || 'info'}`), ...body);
}

/* The SVG path of a polygon or circle fitted into the sketch, north up,
 * longitudes shrunk by cos(latitude) so the shape keeps its proportions. */
function sketchShape(area) {
  const c = area.circle;
  let pts;
  if (c) {
    const dLat = c.radius_m / 111320;
    const dLon = dLat / Math.cos((c.lat * Math.PI) / 180);
    pts = Array.from({ length: 36 }, (_, i) => {
      const t = (i / 36) * 2 * Math.PI;
      return [c.lat + dLat * Math.sin(t), c.lon + dLon * Math.cos(t)];
    });
  } else {
    pts = area.polygon;
  }
  const k = Math.cos((pts[0][0] * Math.PI) / 180);
  const xs = pts.map((p) => p[1] * k);
  const ys = pts.map((p) => p[0]);
  const [x0, y1] = [Math.min(...xs), Math.max(...ys)];
  const span = Math.max(Math.max(...xs) - x0, y1 - Math.min(...ys)) || 1e-6;
  const pad = 10;
  const scale = (SKETCH - 2 * pad) / span;
  return pts.map((p, i) => `${i ? 'L' : 'M'}${(pad + (p[1] * k - x0) * scale).toFixed(1)},${(pad + (y1 - p[0]) * scale).toFixed(1)}`)
    .join(' ') + ' Z';
}

/* The area's polygon or circle drawn to scale, with its place in words;
 * null when the import has neither. */
function sketch(area) {
  const ok = area && ((area.circle && Number.isFinite(area.circle.lat))
    || (Array.isArray(area.polygon) && area.polygon.length >= 3));
  if (!ok) return null;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${SKETCH} ${SKETCH}`);
  svg.setAttribute('width', String(SKETCH));
  svg.setAttribute('height', String(SKETCH));
  svg.setAttribute('class', 'cap-sketch');
  svg.setAttribute('role', 'img');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', sketchShape(area));
  path.setAttribute('class', 'cap-sketch-area');
  svg.append(path);
  const where = area.circle
    ? `Circle of ${(area.circle.radius_m / 1000).toFixed(1)} km around ${area.circle.lat.toFixed(4)}, ${area.circle.lon.toFixed(4)}`
    : `Polygon of ${area.polygon.length} points from ${area.polygon[0][0].toFixed(4)}, ${area.polygon[0][1].toFixed(4)}`;
  svg.setAttribute('aria-label', `The import's area: ${where}`);
  return el('figure', { class: 'cap-map' }, svg, el('figcaption', { class: 'muted' }, where));
}

/* The import's areas: descriptions and geocodes (targets.geocodes,
 * "NAME=VALUE"), and the sketch. */
function areas(cap) {
  const codes = Array.isArray(cap.targets?.geocodes) ? cap.targets.geocodes : [];
  const desc = codes.filter((g) => g.startsWith('areaDesc=')).map((g) => g.slice(9));
  const geo = codes.filter((g) => !g.startsWith('areaDesc='));
  return el('div', { class: 'cap-areas' },
    desc.length ? line('cap-area-desc', 'Area', desc.join('; ')) : null,
    geo.length ? line('cap-geocodes', 'Geocodes', geo.join(', ')) : null,
    sketch(cap.area));
}

/* The CAP message of pending import r, in full. */
export function capImportView(r) {
  const cap = r.cap || {};
  const o = cap.origin || {};
  const infos = Array.isArray(cap.cap_info) && cap.cap_info.length ? cap.cap_info
    : [{ language: 'en-US', headline: cap.headline, description: cap.body, instruction: cap.instruction }];
  const codes = ['urgency', 'severity', 'certainty'].map((k) => cap[k] || 'unknown').join(' · ');
  return el('div', { class: 'cap-import' },
    el('p', { class: 'cap-sender' }, el('strong', {}, 'Sent by: '),
      [o.sender_name, o.sender].filter(Boolean).join(' — ') || 'unknown sender',
      o.sent ? ` · sent ${o.sent}` : '', o.identifier ? ` · identifier ${o.identifier}` : ''),
    el('p', { class: 'cap-codes' }, el('strong', {}, 'Urgency · severity · certainty: '), codes,
      cap.msg_type && cap.msg_type !== 'alert' ? ` · ${cap.msg_type}` : '',
      cap.expires ? ` · expires ${formatTime(cap.expires)}` : ''),
    ...infos.map((b, i) => block(b, i === 0)),
    areas(cap));
}

/* How a closed import was closed, in words ('' while open). */
export function capImportState(r, alertName) {
  if (!r.handled_at) return '';
  const who = r.handled_by || 'a colleague';
  const when = formatTime(r.handled_at);
  if (r.reject_reason) return `Rejected by ${who} at ${when}: ${r.reject_reason}`;
  if (r.alert_id) return `Published as alert ${alertName(r.alert_id)} by ${who} at ${when}`;
  return `Closed by ${who} at ${when}`;
}

/* The reject form: a required reason (1 to 500 characters), then
 * onReject(reason); without one, onProblem(message). */
export function rejectForm(r, onReject, onProblem) {
  const reason = el('input', { type: 'text', class: 'import-reason', maxlength: '500', required: true,
    'aria-label': `Why import ${r.id} is rejected`, placeholder: 'Why it is rejected (required)' });
  const form = el('form', { class: 'import-reject', novalidate: true },
    reason, el('button', { type: 'submit', class: 'btn btn-small import-reject-btn' }, 'Reject'));
  reason.addEventListener('input', () => onProblem(''));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const why = reason.value.trim();
    reason.setAttribute('aria-invalid', why ? 'false' : 'true');
    if (!why) {
      onProblem('Give a reason to reject the import: it is kept with the item and in the audit.');
      reason.focus();
      return;
    }
    onReject(why);
  });
  return form;
}
