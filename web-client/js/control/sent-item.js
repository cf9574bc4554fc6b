// control/sent-item.js: one entry of the sent list #sent-alerts: the alert
// in full with its marks (exercise, update, cancellation), its counts
// (recipients, delivered, read, acknowledged, escalated), escalations, the
// answers to its question, the relays by security companies, the sites
// not acknowledged yet, and its Update / Cancel buttons (cancel.js wires
// them). Also keeps the cache and the board map's alert areas in step.

import { el, formatTime, timeElement } from '../ui.js';
import { saveCache } from '../session.js';
import { areaText } from '../area.js';
import { sourceText, fromAdapter } from '../source.js';
import { SEVERITIES, CATEGORY_LABELS, label, exerciseWord } from '../vocab.js';
import { room, MAX_SENT, siteName, orgName, itemFor } from './room.js';
import { requestReceipts } from './receipts.js';
import { signatureWords, signatureMarkClass } from '../signed.js';

const NOT_ACKED_SHOWN = 12;           // site names listed on a sent entry

export function persistSent() {
  room.boardMap?.setAlertAreas([...room.sent.values()]);
  saveCache('sent', [...room.sent.values()].slice(-MAX_SENT));
}

function countCell(text, cls) {
  return el('div', { class: `count count-${cls}` },
    el('dt', {}, text),
    el('dd', { class: cls }, '0'));
}

function detailsText(rec) {
  return [
    rec.category ? label(CATEGORY_LABELS, rec.category) : '',
    rec.urgency && rec.urgency !== 'unknown' ? `urgency ${rec.urgency}` : '',
    rec.certainty && rec.certainty !== 'unknown' ? `certainty ${rec.certainty}` : '',
    rec.expires ? `expires ${formatTime(rec.expires)}` : '',
  ].filter(Boolean).join(' · ');
}

function receiptsDetails(rec) {
  const receipts = el('details', { class: 'receipts' },
    el('summary', {}, 'Per-site receipts'),
    el('div', { class: 'receipts-body' }, el('p', { class: 'muted' }, 'Loading…')));
  receipts.addEventListener('toggle', () => {
    if (receipts.open) requestReceipts(rec.alert_id, { shown: true });
  });
  return receipts;
}

export function renderSent(rec) {
  const sev = SEVERITIES.includes(rec.severity) ? rec.severity : 'minor';
  // an import names its real source, even when this controller is the
  // adapter's bound user (an ANPR camera, a CAP feed)
  const from = fromAdapter(rec) ? sourceText(rec)
    : rec.sender && rec.sender.user_id !== room.user.id
      ? [rec.sender.display_name, rec.sender.org_id !== room.user.org_id ? rec.sender.org_name : ''].filter(Boolean).join(', ')
      : '';
  const word = exerciseWord(rec.status);
  const details = detailsText(rec);
  const item = el('li', {
    class: `sent-item sev-${sev}${word ? ' is-exercise' : ''}`,
    dataset: {
      alertId: String(rec.alert_id),
      severity: sev,
      alertStatus: rec.status || 'actual',
      msgType: rec.msg_type || 'alert',
    },
  },
  word ? el('p', { class: 'exercise-strip', 'aria-hidden': 'true' }, `${word} · ${word} · ${word}`) : null,
  el('div', { class: 'sent-head' },
    el('span', { class: `severity badge sev-${sev}` }, rec.severity),
    el('span', { class: 'exercise-mark badge', hidden: !word }, word),
    el('span', { class: 'kind-mark badge', hidden: true }),
    rec.classification === 'OFFICIAL-SENSITIVE'
      ? el('span', { class: 'classification badge' }, rec.classification) : null,
    el('h3', { class: 'headline' }, rec.headline),
    timeElement(rec.sent_at, 'sent-at')),
  details ? el('p', { class: 'sent-meta category' }, details) : null,
  from ? el('p', { class: 'sent-by' }, `Sent by ${from}`) : null,
  rec.body ? el('p', { class: 'sent-body' }, rec.body) : null,
  rec.instruction ? el('p', { class: 'sent-instruction' }, `What to do: ${rec.instruction}`) : null,
  rec.area ? el('p', { class: 'sent-area' }, `Area: ${areaText(rec.area)}`) : null,
  rec.handling ? el('p', { class: 'sent-handling' }, `Handling: ${rec.handling}`) : null,
  rec.to ? el('p', { class: 'sent-to' }, `To: ${rec.to}`) : null,
  rec.images?.length ? el('p', { class: 'sent-images' },
    `${rec.images.length} image${rec.images.length === 1 ? '' : 's'} attached${rec.image_days ? `, kept ${rec.image_days} days` : ''}`) : null,
  el('p', { class: 'signature-mark', hidden: true }),
  el('p', { class: 'state-note', hidden: true }),
  el('p', { class: 'durable-note', hidden: true },
    'Held in the broker\'s journal: the database is unreachable. Counts update when it is back.'),
  el('p', { class: 'escalations', hidden: true }),
  el('dl', { class: 'counts' },
    countCell('Recipients', 'recipients'),
    countCell('Delivered', 'delivered'),
    countCell('Read', 'read'),
    countCell('Acknowledged', 'acknowledged'),
    countCell('Escalated', 'escalated')),
  el('progress', { class: 'ack-progress', max: 1, value: 0, 'aria-label': 'Sites that acknowledged' }),
  el('section', { class: 'answers', hidden: true, 'aria-label': 'Answers' }),
  el('section', { class: 'relays', hidden: true, 'aria-label': 'Relays by security companies' }),
  el('div', { class: 'sent-actions' },
    el('button', { type: 'button', class: 'btn btn-small update' }, 'Update'),
    el('button', { type: 'button', class: 'btn btn-small btn-danger cancel' }, 'Cancel alert')),
  el('p', { class: 'entry-error form-error', role: 'alert', hidden: true }),
  receiptsDetails(rec));
  updateSentItem(item, rec);
  return item;
}

function updateSentItem(item, rec) {
  for (const k of ['recipients', 'delivered', 'read', 'acknowledged', 'escalated']) {
    const known = Number.isInteger(rec[k]);
    item.querySelector(`.${k}`).textContent = String(known ? rec[k] : 0);
    // read and escalated appear once the broker counts them.
    if (k === 'read' || k === 'escalated') item.querySelector(`.count-${k}`).hidden = !known;
  }
  const bar = item.querySelector('.ack-progress');
  bar.max = Math.max(1, rec.recipients);
  bar.value = Math.min(rec.acknowledged, bar.max);
  const complete = rec.recipients > 0 && rec.acknowledged >= rec.recipients;
  item.dataset.complete = complete ? 'true' : 'false';
  item.dataset.durable = rec.durable || '';
  item.classList.toggle('complete', complete);
  item.classList.toggle('undelivered', rec.delivered < rec.recipients);
  item.querySelector('.durable-note').hidden = rec.durable !== 'journal';
  const mark = item.querySelector('.signature-mark');
  mark.className = signatureMarkClass(rec.signature);
  mark.textContent = signatureWords(rec.signature);
  mark.hidden = !rec.signature;
  const esc = item.querySelector('.escalations');
  const list = rec.escalations || [];
  esc.textContent = list.length
    ? `Not acknowledged in time: ${list.map((x) => `${x.site_name || `site ${x.site_id}`} (${formatTime(x.escalated_at)})`).join(', ')}`
    : '';
  esc.hidden = !list.length;
  item.classList.toggle('has-escalation', list.length > 0 || rec.escalated > 0);
  renderState(item, rec);
  renderAnswers(item, rec);
  renderRelays(item, rec);
}

// Update/cancel marks and the buttons that still make sense.
function renderState(item, rec) {
  const kind = item.querySelector('.kind-mark');
  const note = item.querySelector('.state-note');
  let mark = '';
  let text = '';
  const about = rec.references ? room.sent.get(rec.references)?.headline : '';
  if (rec.msg_type === 'cancel') {
    mark = 'Cancellation';
    text = `Tells the recipients to stand down${about ? `: “${about}”` : ''}.`;
  } else if (rec.msg_type === 'update') {
    mark = 'Update';
    text = about ? `Replaces “${about}” on the recipients’ screens.` : 'Replaces an earlier alert on the recipients’ screens.';
  }
  if (rec.released_alone) {
    mark = 'Released alone';
    text = 'Sent without a second controller (break glass): recorded with your justification, ' +
      'and shown to every controller who signs in next.';
  }
  if (rec.cancelled) {
    mark = 'Cancelled';
    text = `Cancelled${rec.cancelled_at ? ` at ${formatTime(rec.cancelled_at)}` : ''}: the recipients were told to stand down.`;
  } else if (rec.superseded_by) {
    mark = 'Updated';
    text = `Updated${rec.superseded_at ? ` at ${formatTime(rec.superseded_at)}` : ''}: the newer version is above.`;
  } else if (rec.ended === 'expired') {
    mark = 'Expired';
    text = `Expired${rec.ended_at ? ` at ${formatTime(rec.ended_at)}` : ''}: no longer in force.`;
  } else if (rec.ended) {
    mark = 'Ended';
    text = 'No longer in force (it ended while this page was closed).';
  }
  kind.textContent = mark;
  kind.hidden = !mark;
  note.textContent = text;
  note.hidden = !text;
  item.dataset.cancelled = rec.cancelled ? 'true' : 'false';
  item.dataset.inForce = rec.in_force ? 'true' : 'false';
  item.classList.toggle('is-cancelled', Boolean(rec.cancelled));
  item.classList.toggle('is-superseded', Boolean(rec.superseded_by));
  item.classList.toggle('is-ended', Boolean(rec.ended));
  // any controller may update or cancel a force alert; an analyst, its
  // own organisation's (docs/protocol.md, "Alerts in full")
  const mayChange = room.isController || !rec.sender || rec.sender.org_id === room.user.org_id;
  const actionable = rec.msg_type !== 'cancel' && !rec.cancelled && !rec.superseded_by && !rec.relay &&
    !rec.ended && mayChange;
  const busy = [...room.cancelling.values()].includes(rec.alert_id);
  const cancelBtn = item.querySelector('.cancel');
  item.querySelector('.sent-actions').hidden = !actionable;
  cancelBtn.disabled = busy;
  cancelBtn.textContent = busy ? 'Cancelling…' : 'Cancel alert';
}

function requestText(rq) {
  if (!rq) return '';
  if (rq.kind === 'choice') return `Asked: ${(rq.options || []).join(' / ')}`;
  if (rq.kind === 'number') return `Asked for a number: ${rq.label || ''} (${rq.min ?? 0} to ${rq.max ?? '…'})`;
  return '';
}

/* A choice question: per-option counts with a bar. */
function choiceTally(rq, a, answered) {
  const byChoice = { ...(a?.by_choice || {}) };
  const options = [...(rq?.options || [])];
  for (const k of Object.keys(byChoice)) if (!options.includes(k)) options.push(k);
  return el('ul', { class: 'answer-tally' },
    ...options.map((o) => {
      const n = Number(byChoice[o]) || 0;
      return el('li', { class: 'answer-count', dataset: { option: o } },
        el('span', { class: 'answer-option-name' }, o),
        el('progress', { max: Math.max(1, answered), value: n, 'aria-label': `${o}: ${n}` }),
        el('span', { class: 'n' }, String(n)));
    }));
}

function answersBySite(bySite) {
  return el('details', { class: 'answers-sites' },
    el('summary', {}, 'Answers by site'),
    el('table', { class: 'receipts-table answers-by-site' },
      el('thead', {}, el('tr', {},
        el('th', { scope: 'col' }, 'Site'), el('th', { scope: 'col' }, 'Answer'), el('th', { scope: 'col' }, 'At'))),
      el('tbody', {}, ...[...bySite]
        .sort((x, y) => String(x.site_name).localeCompare(String(y.site_name)))
        .map((x) => el('tr', { dataset: { siteId: String(x.site_id) } },
          el('th', { scope: 'row' }, x.site_name || siteName(x.site_id)),
          el('td', { class: 'answer' }, String(x.answer ?? '')),
          el('td', {}, x.at ? timeElement(x.at, 'receipt-time') : '—'))))));
}

function renderAnswers(item, rec) {
  const box = item.querySelector('.answers');
  const rq = rec.request;
  const a = rec.answers;
  if (!rq && !a) {
    box.hidden = true;
    return;
  }
  const wasOpen = box.querySelector('details')?.open;
  const answered = Number.isInteger(a?.answered) ? a.answered : 0;
  const of = Number.isInteger(a?.recipients) ? a.recipients : rec.recipients;
  const parts = [
    el('p', { class: 'answers-head' },
      el('strong', {}, 'Answers: '),
      el('span', { class: 'answered' }, String(answered)),
      ` of ${of} site${of === 1 ? '' : 's'}`),
    rq ? el('p', { class: 'answers-question muted' }, requestText(rq)) : null,
  ];
  if (rq?.kind === 'number' || (a && a.sum !== null && a.sum !== undefined)) {
    parts.push(el('p', { class: 'answers-sum-line' }, 'Total: ',
      el('strong', { class: 'answers-sum' }, String(a?.sum ?? 0))));
  } else {
    parts.push(choiceTally(rq, a, answered));
  }
  const bySite = Array.isArray(a?.by_site) ? a.by_site : [];
  if (bySite.length) {
    const d = answersBySite(bySite);
    d.open = Boolean(wasOpen);
    parts.push(d);
  }
  box.replaceChildren(...parts.filter(Boolean));
  box.hidden = false;
}

export function renderRelays(item, rec) {
  const box = item.querySelector('.relays');
  const list = rec.relays || [];
  box.hidden = !list.length;
  if (!list.length) return;
  box.replaceChildren(
    el('p', { class: 'relays-title' }, `Relayed by security companies (${list.length})`),
    el('ul', { class: 'relay-list' }, ...list.map((r) => {
      const n = Array.isArray(r.sites) ? r.sites.length : 0;
      const t = r.tally;
      return el('li', { class: 'relay', dataset: { relayId: String(r.relay_id) } },
        el('span', { class: 'relay-by' }, r.by_org_name || orgName(r.by_org_id)),
        ` to ${n} site${n === 1 ? '' : 's'}`,
        r.at ? ` at ${formatTime(r.at)}` : '',
        r.note ? el('span', { class: 'relay-note' }, `: “${r.note}”`) : '',
        r.signature ? el('span', { class: signatureMarkClass(r.signature) },
          r.signature === 'valid' ? ' ✓ Verified' : ' ⚠ UNVERIFIED: confirm this relay by phone') : '',
        t ? el('span', { class: 'relay-tally' },
          ` — delivered ${t.delivered ?? 0}, acknowledged ${t.acknowledged ?? 0} of ${t.recipients ?? n}`) : '');
    })));
}

/* The sites that have not acknowledged, on the entry itself (from the
 * latest receipts; asked again shortly after each tally). */
function renderNotAcked(item, rec) {
  let p = item.querySelector('.not-acked');
  const names = Array.isArray(rec.not_acked) ? rec.not_acked : null;
  const done = rec.recipients > 0 && rec.acknowledged >= rec.recipients;
  if (!names || done || rec.msg_type === 'cancel') {
    if (p) p.hidden = true;
    return;
  }
  if (!p) {
    p = el('p', { class: 'not-acked' });
    const anchor = item.querySelector('details.receipts');
    if (anchor) anchor.before(p);
    else item.append(p);
  }
  const shown = names.slice(0, NOT_ACKED_SHOWN);
  const more = names.length - shown.length;
  p.textContent = `Not acknowledged yet (${names.length}): ${shown.join(', ')}${more ? ` and ${more} more` : ''}`;
  p.dataset.count = String(names.length);
  p.hidden = !names.length;
}

/* A record changed: its entry and the cache follow. */
export function refreshSent(rec) {
  const item = itemFor(rec.alert_id);
  if (item) {
    updateSentItem(item, rec);
    renderNotAcked(item, rec);
  }
  persistSent();
}
