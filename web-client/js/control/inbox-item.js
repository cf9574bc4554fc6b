// control/inbox-item.js: one partner report in the inbox (#inbox >
// li[data-report-id]) and what the force does with it: mark it handled
// or open it again, assign it to a colleague, link it to an alert (each a
// `report_update`), or publish an alert from it (the compose form,
// prefilled). The item shows where the report was made (the sighting's
// place or the site's) and how it is being worked. A stolen-property
// match (kind property_match) also offers its serial's trail of places
// on the crime picture's map (room.crimeTrail, analyst/crime-panel.js).
// A pending CAP import (kind cap_import) shows the CAP message in full
// (cap-import.js) and is targeted and published (the compose form,
// prefilled; publish's pending_import) or rejected with a reason
// (`import_reject`); once closed it says how, by whom.

import { el, formatTime, timeElement } from '../ui.js';
import { imageFigure } from '../images.js';
import { INBOX_KIND_LABELS, label } from '../vocab.js';
import { room } from './room.js';
import { capImportView, capImportState, rejectForm } from './cap-import.js';

/* An alert by its headline when this desk knows it, else its id. */
function alertName(id) {
  const rec = room.sent.get(id);
  return rec ? `“${rec.headline}”` : String(id);
}

/* Where the report places itself, in words. */
function placeText(r) {
  if (!Number.isFinite(r.lat) || !Number.isFinite(r.lon)) return 'No place given';
  const at = `${r.lat.toFixed(5)}, ${r.lon.toFixed(5)}`;
  return r.place === 'sighting' ? `Sighting place: ${at}` : `At ${r.site_name || 'the site'} (${at})`;
}

/* How the report is being worked, in words ('' when untouched). */
function stateText(r) {
  const parts = [];
  const closed = r.kind === 'cap_import' ? capImportState(r, alertName) : '';
  if (closed) parts.push(closed);
  else if (r.handled_at) parts.push(`Handled by ${r.handled_by || 'a colleague'} at ${formatTime(r.handled_at)}`);
  if (r.assigned_to) parts.push(`Assigned to ${r.assigned_to_name || `user ${r.assigned_to}`}`);
  if (r.alert_id && !closed) parts.push(`Linked to alert ${alertName(r.alert_id)}`);
  return parts.join(' · ');
}

/* A <select> of choices [value, text] with `current` chosen. */
function picker(cls, name, choices, current, onPick) {
  const sel = el('select', { class: cls, 'aria-label': name });
  for (const [value, text] of choices) sel.append(el('option', { value: String(value) }, text));
  if (current != null && !choices.some(([v]) => String(v) === String(current))) {
    sel.append(el('option', { value: String(current) }, `#${current}`));
  }
  sel.value = current == null ? '' : String(current);
  sel.addEventListener('change', () => onPick(sel.value === '' ? null : Number(sel.value)));
  return sel;
}

/* A pending import's controls: while open, target and publish (the
 * compose form) or reject with a reason; once rejected, open it again (a
 * published one is done: it is an alert now). */
function importActions(r, ctx) {
  const box = el('div', { class: 'report-actions', role: 'group', 'aria-label': `Work CAP import ${r.id}` });
  if (r.handled_at && r.alert_id && !r.reject_reason) return null;
  if (r.handled_at) {
    const reopen = el('button', { type: 'button', class: 'btn btn-small report-handle' }, 'Open again');
    reopen.addEventListener('click', () => ctx.update({ handled: false }));
    box.append(reopen);
    return box;
  }
  const publish = el('button', { type: 'button', class: 'btn btn-primary btn-small import-publish' }, 'Target and publish');
  publish.addEventListener('click', () => ctx.publishImport());
  box.append(publish, rejectForm(r, (reason) => ctx.reject(reason), ctx.problem));
  return box;
}

/* The item's controls: handled, assign, link, publish. ctx: {colleagues,
 * update(fields), publish(), publishImport(), reject(reason),
 * problem(message)}. */
function actions(r, ctx) {
  if (r.kind === 'cap_import') return importActions(r, ctx);
  const handle = el('button', { type: 'button', class: 'btn btn-small report-handle' },
    r.handled_at ? 'Open again' : 'Mark handled');
  handle.addEventListener('click', () => ctx.update({ handled: !r.handled_at }));
  const mates = [['', 'Not assigned'], ...ctx.colleagues.map((c) => [c.id, c.display_name])];
  const alerts = [['', 'No alert'], ...[...room.sent.values()]
    .filter((a) => a.msg_type !== 'cancel').sort((a, b) => b.alert_id - a.alert_id).slice(0, 30)
    .map((a) => [a.alert_id, a.headline])];
  const publish = el('button', { type: 'button', class: 'btn btn-small report-publish' }, 'Publish an alert from this');
  publish.addEventListener('click', () => ctx.publish());
  let trail = null;
  if (r.kind === 'property_match' && r.crime_record_id && room.crimeTrail) {
    trail = el('button', { type: 'button', class: 'btn btn-small report-trail' }, 'Show the trail on the crime map');
    trail.addEventListener('click', () => room.crimeTrail(r.crime_record_id));
  }
  return el('div', { class: 'report-actions', role: 'group', 'aria-label': `Work report ${r.id}` },
    handle,
    picker('report-assign', `Assign report ${r.id} to`, mates, r.assigned_to, (v) => ctx.update({ assigned_to: v })),
    picker('report-link', `Link report ${r.id} to an alert`, alerts, r.alert_id, (v) => ctx.update({ alert_id: v })),
    publish, trail);
}

/* The list item of report r. */
export function reportItem(r, ctx) {
  // a CAP import is from its CAP sender, not from the adapter's bound user
  const imp = r.kind === 'cap_import';
  const o = (imp && r.cap?.origin) || {};
  const from = imp ? `CAP: ${o.sender_name || o.sender || 'unknown sender'}`
    : [r.site_name, r.org_name].filter(Boolean).join(', ');
  const state = stateText(r);
  const li = el('li', {
    class: ['report-item', `kind-${r.kind || 'other'}`, r.handled_at ? 'handled' : ''].filter(Boolean).join(' '),
    dataset: {
      reportId: String(r.id), kind: r.kind || '', place: r.place || 'none',
      handled: r.handled_at ? 'true' : 'false',
    },
  },
  el('div', { class: 'report-head' },
    el('span', { class: 'badge report-kind kind' }, label(INBOX_KIND_LABELS, r.kind) || 'Report'),
    r.cap?.origin?.signature === 'failed'
      ? el('span', { class: 'badge sig-failed', title: 'A registered CAP sender\'s signature did not verify: do not trust it as genuine' }, 'Signature FAILED')
      : null,
    el('span', { class: 'report-from' }, from || 'unknown sender'),
    timeElement(r.occurred_at || r.received_at, 'report-time occurred-at')),
  el('p', { class: 'report-text' }, r.text || ''),
  imp ? null : el('p', { class: 'report-meta muted' },
    r.by ? `By ${r.by}` : '',
    r.received_at && r.occurred_at && r.received_at !== r.occurred_at ? ` · received ${formatTime(r.received_at)}` : ''),
  imp ? null : el('p', { class: 'report-place muted' }, placeText(r)),
  el('p', { class: 'report-state', hidden: !state }, state),
  imp ? capImportView(r) : null,
  r.image ? imageFigure(room.token, r.image, `Photo with report ${r.id}`) : null,
  actions(r, ctx),
  el('p', { class: 'entry-error form-error', role: 'alert', hidden: true }));
  return li;
}
