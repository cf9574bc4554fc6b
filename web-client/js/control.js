// control.js: control.html, the force control room. Compose and publish
// alerts (js/compose.js), watch each alert's tally, answers and relays,
// update or cancel it; the status board, area totals, report-now and the
// inbox of partner reports (docs/protocol.md §2b).

import { requireSession, Session, loadCache, saveCache, mergeTally, TALLY_COUNTS } from './session.js';
import {
  el, formatTime, timeElement, setupHeader, bindConnIndicator, showError, describeError,
  isUnsupported, unsupportedText,
} from './ui.js';
import { createCompose } from './compose.js';
import { createBoard } from './board.js';
import { setupHistory } from './history.js';
import { setupComposeMap } from './composemap.js';
import { setupBoardMap } from './boardmap.js';
import { TEMPLATES, templateById } from './templates.js';
import { imageFigure } from './images.js';
import { areaText, checkLat, checkLon, checkRadius, AreaError } from './area.js';
import {
  SEVERITIES, CATEGORY_LABELS, STATE_LABELS, REPORT_KIND_LABELS, label, exerciseWord,
} from './vocab.js';

const MAX_SENT = 200;           // sent alerts kept in the list and the cache
const MAX_BUFFERED = 500;       // tallies/answers/relays waiting for their alert
const MAX_INBOX = 200;
const NOT_ACKED_SHOWN = 12;           // site names listed on a sent entry
const RECEIPTS_AFTER_TALLY_MS = 2000; // receipts again this long after a tally
// The alert model members a sent record keeps (docs/protocol.md §2b).
const MODEL = ['headline', 'body', 'severity', 'status', 'category', 'urgency', 'certainty',
  'instruction', 'expires', 'area', 'classification', 'handling', 'request'];

function main({ token, user }) {
  const $ = (id) => document.getElementById(id);
  const sentList = $('sent-alerts');
  const sentEmpty = $('sent-empty');
  const announcer = $('control-announcer');
  const isController = user.role === 'controller';

  const session = new Session(token);
  setupHeader(user, session);
  bindConnIndicator(session, $('conn'));
  $('org-name').textContent = user.org_name || '';

  let directory = { orgs: [], sites: [] };
  let directoryRetry = null;

  let composeMap = null;          // set below, once the form exists
  let boardMap = null;
  const compose = createCompose({
    session,
    token,
    onAreaChange: () => {
      renderReportNowArea();
      composeMap?.render();
    },
  });

  /* ---- Templates and drawing the area ------------------------------- */

  const templateSel = $('template');
  for (const t of TEMPLATES) templateSel.append(el('option', { value: t.id }, t.title));
  $('template-apply').addEventListener('click', () => {
    const t = templateById(templateSel.value);
    if (t) compose.applyTemplate(t);
  });

  composeMap = setupComposeMap({ compose, sites: () => directory.sites });

  const sent = new Map();          // alert id -> record (built on `published`)
  const tallyBuffer = new Map();   // alert id -> latest tally not yet matched
  const answersBuffer = new Map(); // alert id -> latest answers not yet matched
  const relayBuffer = new Map();   // alert id -> [relay_notice] not yet matched
  const relayOf = new Map();       // relay alert id -> the original's id
  const cancelling = new Map();    // ref of a cancel publish -> alert id

  function announce(text) {
    announcer.textContent = '';
    setTimeout(() => { announcer.textContent = text; }, 50);
  }

  function siteName(id) {
    return directory.sites.find((s) => s.id === id)?.name || `site ${id}`;
  }

  function orgName(id) {
    return directory.orgs.find((o) => o.id === id)?.name || (id ? `organisation ${id}` : '');
  }

  function bufferPut(map, key, value) {
    map.delete(key);
    map.set(key, value);
    if (map.size > MAX_BUFFERED) map.delete(map.keys().next().value);
  }

  /* ---- Sent alerts ---------------------------------------------------- */

  // A record: { alert_id, seq, …MODEL, msg_type, references, images:[{id}],
  //   to, sent_at, sender (when not this user), durable, recipients,
  //   delivered, acknowledged, read?, escalated? (absent until a tally
  //   carries them), escalations: [{site_id, site_name, escalated_at}],
  //   answers (latest `answers` frame), relays: [{relay_id, by_org_id,
  //   by_org_name, sites, note, at, tally}], cancelled, superseded_by }

  function persistSent() {
    boardMap?.setAlertAreas([...sent.values()]);
    saveCache('sent', [...sent.values()].slice(-MAX_SENT));
  }

  function countCell(text, cls) {
    return el('div', { class: `count count-${cls}` },
      el('dt', {}, text),
      el('dd', { class: cls }, '0'));
  }

  function renderSent(rec) {
    const sev = SEVERITIES.includes(rec.severity) ? rec.severity : 'minor';
    const from = rec.sender && rec.sender.user_id !== user.id ? rec.sender.display_name : '';
    const word = exerciseWord(rec.status);
    const receipts = el('details', { class: 'receipts' },
      el('summary', {}, 'Per-site receipts'),
      el('div', { class: 'receipts-body' }, el('p', { class: 'muted' }, 'Loading…')));
    receipts.addEventListener('toggle', () => {
      if (receipts.open) requestReceipts(rec.alert_id, { shown: true });
    });
    const updateBtn = el('button', { type: 'button', class: 'btn btn-small update' }, 'Update');
    const cancelBtn = el('button', { type: 'button', class: 'btn btn-small btn-danger cancel' }, 'Cancel alert');
    updateBtn.addEventListener('click', () => {
      const r = sent.get(rec.alert_id);
      if (r) compose.startUpdate(r);
    });
    cancelBtn.addEventListener('click', () => cancelAlert(rec.alert_id));
    const details = [
      rec.category ? label(CATEGORY_LABELS, rec.category) : '',
      rec.urgency && rec.urgency !== 'unknown' ? `urgency ${rec.urgency}` : '',
      rec.certainty && rec.certainty !== 'unknown' ? `certainty ${rec.certainty}` : '',
      rec.expires ? `expires ${formatTime(rec.expires)}` : '',
    ].filter(Boolean).join(' · ');
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
    el('div', { class: 'sent-actions' }, updateBtn, cancelBtn),
    el('p', { class: 'entry-error form-error', role: 'alert', hidden: true }),
    receipts);
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
    const about = rec.references ? sent.get(rec.references)?.headline : '';
    if (rec.msg_type === 'cancel') {
      mark = 'Cancellation';
      text = `Tells the recipients to stand down${about ? `: “${about}”` : ''}.`;
    } else if (rec.msg_type === 'update') {
      mark = 'Update';
      text = about ? `Replaces “${about}” on the recipients’ screens.` : 'Replaces an earlier alert on the recipients’ screens.';
    }
    if (rec.cancelled) {
      mark = 'Cancelled';
      text = `Cancelled${rec.cancelled_at ? ` at ${formatTime(rec.cancelled_at)}` : ''}: the recipients were told to stand down.`;
    } else if (rec.superseded_by) {
      mark = 'Updated';
      text = `Updated${rec.superseded_at ? ` at ${formatTime(rec.superseded_at)}` : ''}: the newer version is above.`;
    }
    kind.textContent = mark;
    kind.hidden = !mark;
    note.textContent = text;
    note.hidden = !text;
    item.dataset.cancelled = rec.cancelled ? 'true' : 'false';
    item.classList.toggle('is-cancelled', Boolean(rec.cancelled));
    item.classList.toggle('is-superseded', Boolean(rec.superseded_by));
    const actionable = rec.msg_type !== 'cancel' && !rec.cancelled && !rec.superseded_by && !rec.relay;
    const busy = [...cancelling.values()].includes(rec.alert_id);
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
      const byChoice = { ...(a?.by_choice || {}) };
      const options = [...(rq?.options || [])];
      for (const k of Object.keys(byChoice)) if (!options.includes(k)) options.push(k);
      parts.push(el('ul', { class: 'answer-tally' },
        ...options.map((o) => {
          const n = Number(byChoice[o]) || 0;
          return el('li', { class: 'answer-count', dataset: { option: o } },
            el('span', { class: 'answer-option-name' }, o),
            el('progress', { max: Math.max(1, answered), value: n, 'aria-label': `${o}: ${n}` }),
            el('span', { class: 'n' }, String(n)));
        })));
    }
    const bySite = Array.isArray(a?.by_site) ? a.by_site : [];
    if (bySite.length) {
      const d = el('details', { class: 'answers-sites' },
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
      d.open = Boolean(wasOpen);
      parts.push(d);
    }
    box.replaceChildren(...parts.filter(Boolean));
    box.hidden = false;
  }

  function renderRelays(item, rec) {
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
          t ? el('span', { class: 'relay-tally' },
            ` — delivered ${t.delivered ?? 0}, acknowledged ${t.acknowledged ?? 0} of ${t.recipients ?? n}`) : '');
      })));
  }

  function itemFor(id) {
    return sentList.querySelector(`[data-alert-id="${CSS.escape(String(id))}"]`);
  }

  // Newest first; alert ids increase with time.
  function addSent(rec) {
    const buffered = tallyBuffer.get(rec.alert_id);
    if (buffered) {
      tallyBuffer.delete(rec.alert_id);
      applyTallyToRecord(rec, buffered);
    }
    if (answersBuffer.has(rec.alert_id)) {
      rec.answers = answersBuffer.get(rec.alert_id);
      answersBuffer.delete(rec.alert_id);
    }
    for (const n of relayBuffer.get(rec.alert_id) || []) addRelay(rec, n);
    relayBuffer.delete(rec.alert_id);
    for (const r of rec.relays || []) relayOf.set(r.relay_id, rec.alert_id);
    sent.set(rec.alert_id, rec);
    const old = itemFor(rec.alert_id);
    const item = renderSent(rec);
    if (old) {
      old.replaceWith(item);
    } else {
      const older = [...sentList.children].find((li) => Number(li.dataset.alertId) < rec.alert_id);
      sentList.insertBefore(item, older || null);
    }
    while (sent.size > MAX_SENT) {
      const oldest = [...sent.keys()].sort((a, b) => a - b)[0];
      sent.delete(oldest);
      itemFor(oldest)?.remove();
    }
    sentEmpty.hidden = sent.size > 0;
    persistSent();
  }

  function refreshSent(rec) {
    const item = itemFor(rec.alert_id);
    if (item) {
      updateSentItem(item, rec);
      renderNotAcked(item, rec);
    }
    persistSent();
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

  const receiptsSoon = new Map();  // alert id -> timer: receipts after tallies
  function receiptsAfterTally(id) {
    if (receiptsSoon.has(id) || !sent.has(id)) return;
    receiptsSoon.set(id, setTimeout(() => {
      receiptsSoon.delete(id);
      requestReceipts(id);
    }, RECEIPTS_AFTER_TALLY_MS));
  }

  function applyTallyToRecord(rec, t) {
    const merged = mergeTally(rec, t);
    for (const k of TALLY_COUNTS) {
      if (Number.isInteger(t[k])) rec[k] = merged[k];
    }
  }

  function onTally(t) {
    const id = t.alert_id;
    const rec = sent.get(id);
    if (rec) receiptsAfterTally(id);
    if (rec) {
      applyTallyToRecord(rec, t);
      refreshSent(rec);
      return;
    }
    // A relay of one of our alerts: its counts show under the original.
    const orig = sent.get(relayOf.get(id));
    const relay = orig?.relays?.find((r) => r.relay_id === id);
    if (relay) {
      relay.tally = mergeTally(relay.tally, t);
      refreshSent(orig);
      return;
    }
    // published not seen yet (or an alert sent by a colleague of the
    // same organisation): keep the latest counts for a while.
    bufferPut(tallyBuffer, id, t);
  }

  /* ---- Answers and relays -------------------------------------------- */

  session.on('answers', (frame) => {
    const rec = sent.get(frame.alert_id);
    if (!rec) {
      bufferPut(answersBuffer, frame.alert_id, frame);
      return;
    }
    rec.answers = frame;
    refreshSent(rec);
  });

  function addRelay(rec, n) {
    rec.relays = rec.relays || [];
    let r = rec.relays.find((x) => x.relay_id === n.relay_id);
    if (!r) {
      r = { relay_id: n.relay_id, at: n.at === undefined ? new Date().toISOString() : n.at };
      rec.relays.push(r);
    }
    for (const k of ['by_org_id', 'by_org_name', 'sites', 'note']) {
      if (n[k] !== undefined && n[k] !== null) r[k] = n[k];
    }
    relayOf.set(n.relay_id, rec.alert_id);
    const t = tallyBuffer.get(n.relay_id);
    if (t) {
      r.tally = t;
      tallyBuffer.delete(n.relay_id);
    }
  }

  session.on('relay_notice', (frame) => {
    const rec = sent.get(frame.alert_id);
    if (!rec) {
      const list = relayBuffer.get(frame.alert_id) || [];
      list.push(frame);
      bufferPut(relayBuffer, frame.alert_id, list);
      return;
    }
    addRelay(rec, frame);
    refreshSent(rec);
    const n = Array.isArray(frame.sites) ? frame.sites.length : 0;
    announce(`${frame.by_org_name || 'A security company'} relayed “${rec.headline}” to ${n} site${n === 1 ? '' : 's'}.`);
  });

  /* ---- Cancel ----------------------------------------------------------- */

  function entryError(id, message) {
    const node = itemFor(id)?.querySelector('.entry-error');
    if (node) showError(node, message);
  }

  function cancelAlert(id) {
    const rec = sent.get(id);
    if (!rec) return;
    entryError(id, '');
    const word = exerciseWord(rec.status);
    const ok = window.confirm(`Cancel ${word ? `the ${word.toLowerCase()} ` : ''}alert “${rec.headline}”?\n\n` +
      `Every recipient will be told to stand down. This cannot be undone.`);
    if (!ok) return;
    const ref = session.request('publish', { msg_type: 'cancel', references: id });
    if (!ref) {
      entryError(id, 'Not connected to the broker: the cancellation was not sent. Try again when the connection is back.');
      return;
    }
    cancelling.set(ref, id);
    refreshSent(rec);
  }

  /* ---- Publishing results --------------------------------------------- */

  session.on('published', (frame, req) => {
    const mine = req && req.type === 'publish';
    const msgType = mine ? req.msg_type || 'alert' : 'alert';
    const orig = mine && req.references ? sent.get(req.references) : null;
    const rec = {
      alert_id: frame.alert_id,
      seq: frame.seq,
      headline: `Alert ${frame.alert_id}`,
      body: '',
      severity: 'minor',
      msg_type: msgType,
      to: '',
      sent_at: frame.sent_at,
      durable: frame.durable || '',
      recipients: Number.isInteger(frame.recipients) ? frame.recipients : 0,
      delivered: 0,
      acknowledged: 0,
      escalations: [],
    };
    if (mine) {
      // An update inherits what it does not change; a cancellation only
      // the marks (its details are the stand-down).
      const inherit = msgType === 'cancel' ? ['severity', 'status', 'classification', 'category'] : MODEL;
      if (orig) for (const k of inherit) if (orig[k] !== undefined) rec[k] = orig[k];
      if (orig && !req.images && msgType !== 'cancel') rec.images = orig.images;
      for (const k of MODEL) if (req[k] !== undefined) rec[k] = req[k];
      if (msgType === 'cancel') {
        delete rec.request;
        rec.headline = req.headline || `Cancelled: ${orig ? orig.headline : `alert ${req.references}`}`;
      }
      if (req.images) {
        rec.images = req.images.map((id) => ({ id }));
        rec.image_days = req.image_days;
      }
      rec.references = req.references;
      rec.to = msgType === 'alert' ? compose.describeTargets(req.targets)
        : 'the recipients of the alert it replaces';
    }
    if (orig) {
      if (msgType === 'cancel') {
        orig.cancelled = true;
        orig.cancelled_at = frame.sent_at;
      } else {
        orig.superseded_by = frame.alert_id;
        orig.superseded_at = frame.sent_at;
      }
      refreshSent(orig);
    }
    if (mine && cancelling.has(req.ref)) cancelling.delete(req.ref);
    addSent(rec);
    compose.onPublished(frame);
  });

  /* A recipient site has not acknowledged a severe or extreme alert in
   * time. The alert may be a colleague's: the frame carries all of it. */
  function onEscalation(frame) {
    let rec = sent.get(frame.alert_id);
    if (!rec && frame.alert) {
      const a = frame.alert;
      rec = {
        alert_id: a.id, seq: a.seq, sent_at: a.sent_at, sender: a.sender, to: '',
        msg_type: a.msg_type || 'alert', references: a.references,
        images: a.images, recipients: 0, delivered: 0, acknowledged: 0, escalations: [],
      };
      for (const k of MODEL) if (a[k] !== undefined && a[k] !== null) rec[k] = a[k];
      rec.body = rec.body || '';
      addSent(rec);
    }
    if (!rec) return;
    rec.escalations = rec.escalations || [];
    if (!rec.escalations.some((x) => x.site_id === frame.site_id)) {
      rec.escalations.push({ site_id: frame.site_id, site_name: frame.site_name, escalated_at: frame.escalated_at });
    }
    refreshSent(rec);
    announce(`Escalation: ${frame.site_name || `site ${frame.site_id}`} has not acknowledged “${rec.headline}”.`);
  }

  /* ---- Per-site receipts ---------------------------------------------- */

  let receiptsUnsupported = false;

  function requestReceipts(id, { shown = false } = {}) {
    const item = itemFor(id);
    const bodyBox = item?.querySelector('.receipts-body');
    if (receiptsUnsupported) {
      if (shown && bodyBox) bodyBox.replaceChildren(el('p', { class: 'muted' }, 'This broker does not give per-site receipts.'));
      return;
    }
    if (!session.request('receipts', { alert_id: id }) && shown && bodyBox) {
      bodyBox.replaceChildren(el('p', { class: 'muted' }, 'Not connected: receipts will load when the connection is back.'));
    }
  }

  function timeCell(iso) {
    return el('td', {}, iso ? timeElement(iso, 'receipt-time') : '—');
  }

  function onReceipts(frame) {
    const rec = sent.get(frame.alert_id);
    const sites = Array.isArray(frame.sites) ? frame.sites : null;
    if (!rec || !sites) return;
    // The receipts are the current truth: they also repair counts that
    // missed tallies while this page was offline.
    rec.recipients = sites.length;
    rec.delivered = sites.filter((x) => x.delivered_at).length;
    rec.acknowledged = sites.filter((x) => x.acked_at).length;
    if (sites.some((x) => 'read_at' in x)) rec.read = sites.filter((x) => x.read_at).length;
    if (sites.some((x) => 'escalated_at' in x)) rec.escalated = sites.filter((x) => x.escalated_at).length;
    // Relays missed while this page was away (relay_notice is live only).
    for (const r of Array.isArray(frame.relays) ? frame.relays : []) {
      if (Number.isFinite(r.alert_id)) {
        addRelay(rec, { relay_id: r.alert_id, by_org_id: r.by_org_id, sites: r.sites, note: r.note, at: null });
      }
    }
    refreshSent(rec);

    rec.not_acked = sites.filter((x) => !x.acked_at).map((x) => x.site_name || `site ${x.site_id}`)
      .sort((x, y) => x.localeCompare(y));
    refreshSent(rec);
    const item = itemFor(frame.alert_id);
    const bodyBox = item?.querySelector('.receipts-body');
    if (!bodyBox) return;
    const waitingFor = new Set(Array.isArray(frame.not_acknowledged) ? frame.not_acknowledged : []);
    const rows = [...sites]
      .sort((x, y) => Number(Boolean(x.acked_at)) - Number(Boolean(y.acked_at))
        || String(x.site_name).localeCompare(String(y.site_name)))
      .map((x) => el('tr', { class: waitingFor.has(x.site_id) || !x.acked_at ? 'not-acked' : 'acked' },
        el('th', { scope: 'row' }, x.site_name || `site ${x.site_id}`),
        timeCell(x.delivered_at), timeCell(x.read_at), timeCell(x.acked_at), timeCell(x.escalated_at)));
    const missing = sites.filter((x) => !x.acked_at).length;
    bodyBox.replaceChildren(
      el('p', { class: missing ? 'receipts-summary warn' : 'receipts-summary ok' },
        missing ? `${missing} of ${sites.length} site${sites.length === 1 ? '' : 's'} not acknowledged yet.`
          : `All ${sites.length} site${sites.length === 1 ? '' : 's'} acknowledged.`),
      el('table', { class: 'receipts-table' },
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, 'Site'), el('th', { scope: 'col' }, 'Delivered'),
          el('th', { scope: 'col' }, 'Read'), el('th', { scope: 'col' }, 'Acknowledged'),
          el('th', { scope: 'col' }, 'Escalated'))),
        el('tbody', {}, ...rows)));
  }

  function onReceiptsError(frame, req) {
    if (frame.code === 'unknown_type') receiptsUnsupported = true;
    const bodyBox = itemFor(req.alert_id)?.querySelector('.receipts-body');
    if (bodyBox) {
      bodyBox.replaceChildren(el('p', { class: 'muted' },
        receiptsUnsupported ? 'This broker does not give per-site receipts.'
          : `Receipts unavailable: ${describeError(frame)}`));
    }
  }

  // Counts can go stale while the page is closed or offline: ask again for
  // the recent alerts that are not complete.
  function refreshRecent() {
    const recent = [...sent.values()]
      .filter((r) => !(r.recipients > 0 && r.acknowledged >= r.recipients))
      .sort((a, b) => b.alert_id - a.alert_id)
      .slice(0, 20);
    for (const r of recent) requestReceipts(r.alert_id);
    for (const d of sentList.querySelectorAll('details.receipts[open]')) {
      const id = Number(d.closest('[data-alert-id]').dataset.alertId);
      if (!recent.some((r) => r.alert_id === id)) requestReceipts(id, { shown: true });
    }
  }

  // Alerts sent earlier in this tab survive a reload.
  for (const rec of loadCache('sent', [])) {
    if (rec && Number.isFinite(rec.alert_id)) addSent(rec);
  }

  /* ---- Status board ---------------------------------------------------- */

  const boardError = $('board-error');
  const siteHistory = setupHistory(session);
  const board = createBoard($('board'), $('board-summary'), {
    orgName, onHistory: (id, name, btn) => siteHistory.open(id, name, btn),
  });
  let boardUnsupported = false;

  function requestBoard() {
    if (boardUnsupported) return;
    if (!session.request('board')) board.message('Not connected: the board loads when the connection is back.');
  }

  session.on('board', (frame) => {
    showError(boardError, '');
    board.setSites(frame.sites);
  });
  session.on('status_update', (frame) => {
    if (frame.site) board.update(frame.site);
  });

  function onBoardError(frame) {
    if (isUnsupported(frame)) {
      boardUnsupported = true;
      board.message(unsupportedText('The status board'));
      return;
    }
    showError(boardError, `The board could not be loaded: ${describeError(frame)}`);
    board.message('');
  }

  /* ---- Area totals ----------------------------------------------------- */

  const totalsForm = $('area-totals-form');
  const totalsOut = $('area-totals');
  const totalsError = $('area-totals-error');
  const tLat = $('totals-lat');
  const tLon = $('totals-lon');
  const tRadius = $('totals-radius');
  let totalsRef = null;

  function totalsFail(message, node) {
    showError(totalsError, message);
    if (node) {
      node.setAttribute('aria-invalid', 'true');
      node.focus();
    }
  }

  for (const n of [tLat, tLon, tRadius]) n.addEventListener('input', () => n.removeAttribute('aria-invalid'));

  $('totals-use-area').addEventListener('click', () => {
    showError(totalsError, '');
    const { area, error } = compose.currentArea();
    if (error || !area?.circle) {
      totalsFail(error ? `The alert form’s area is not valid yet: ${error.message}`
        : 'The alert form has no circle: choose Area → Circle there, or type a centre and radius here.');
      return;
    }
    tLat.value = String(area.circle.lat);
    tLon.value = String(area.circle.lon);
    tRadius.value = String(area.circle.radius_m);
    tRadius.focus();
  });

  totalsForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showError(totalsError, '');
    for (const n of [tLat, tLon, tRadius]) n.removeAttribute('aria-invalid');
    let lat;
    let lon;
    let radius;
    try {
      lat = checkLat(tLat.value, 'lat');
      lon = checkLon(tLon.value, 'lon');
      radius = checkRadius(tRadius.value, 'radius');
    } catch (err) {
      if (!(err instanceof AreaError)) throw err;
      totalsFail(err.message, { lat: tLat, lon: tLon, radius: tRadius }[err.field]);
      return;
    }
    const ref = session.request('area_totals', { lat, lon, radius_m: radius });
    if (!ref) {
      totalsFail('Not connected to the broker. Try again when the connection is back.');
      return;
    }
    totalsRef = ref;
    $('totals-send').disabled = true;
  });

  session.on('area_totals', (frame, req) => {
    if (frame.ref === totalsRef) totalsRef = null;
    $('totals-send').disabled = false;
    const where = req ? areaText({ circle: { lat: req.lat, lon: req.lon, radius_m: req.radius_m } }) : '';
    const cell = (text, cls, v) => el('div', { class: `count count-${cls}` },
      el('dt', {}, text), el('dd', { class: cls }, String(Number.isFinite(v) ? v : 0)));
    const states = frame.by_state && typeof frame.by_state === 'object' ? frame.by_state : {};
    const stateText = Object.keys(STATE_LABELS)
      .map((k) => `${STATE_LABELS[k]} ${Number(states[k]) || 0}`).join(' · ');
    totalsOut.replaceChildren(
      el('p', { class: 'totals-head' }, `${where}: `,
        el('strong', { class: 'sites' }, String(frame.sites ?? 0)), ' sites, ',
        el('strong', { class: 'reported' }, String(frame.reported ?? 0)), ' reported',
        el('span', { class: 'muted' }, ` (at ${formatTime(new Date().toISOString())})`)),
      el('dl', { class: 'counts totals-grid' },
        cell('People', 'people', frame.people),
        cell('Officers', 'officers', frame.officers),
        cell('Trauma packs', 'trauma-packs', frame.trauma_packs),
        cell('First-aid kits', 'first-aid-kits', frame.first_aid_kits),
        cell('Defibrillators', 'defibrillators', frame.defibrillators),
        cell('CCTV down', 'cctv-down', frame.cctv_down)),
      el('p', { class: 'totals-states by-state' }, `States: ${stateText}`));
    totalsOut.hidden = false;
  });

  function onTotalsError(frame) {
    totalsRef = null;
    $('totals-send').disabled = false;
    if (isUnsupported(frame)) {
      totalsFail(unsupportedText('Area totals'));
      return;
    }
    const f = String(frame.field || '');
    const node = f.startsWith('lat') ? tLat : f.startsWith('lon') ? tLon : f.startsWith('radius') ? tRadius : null;
    totalsFail(`No totals: ${describeError(frame)}`, node);
  }

  // The board map: a click asks for the totals around that point.
  boardMap = setupBoardMap(session, {
    onPick: ({ lat, lon }) => {
      tLat.value = lat.toFixed(6);
      tLon.value = lon.toFixed(6);
      if (!tRadius.value) tRadius.value = '300';
      for (const n of [tLat, tLon, tRadius]) n.removeAttribute('aria-invalid');
      totalsForm.requestSubmit();
    },
  });
  boardMap.setAlertAreas([...sent.values()]);

  /* ---- Report now ------------------------------------------------------ */

  const rnBtn = $('report-now-send');
  const rnList = $('report-now');
  const rnError = $('report-now-error');
  const rnArea = $('report-now-area');
  const reportNow = new Map(loadCache('reportnow', []).map((r) => [r.request_id, r]));
  let rnRef = null;

  function renderReportNowArea() {
    const { area, error } = compose.currentArea();
    if (!isController) {
      rnArea.textContent = 'Only controllers can ask sites to report.';
      return;
    }
    if (error) rnArea.textContent = `The alert form’s area is not valid yet: ${error.message}`;
    else if (!area) rnArea.textContent = 'Set an area (circle or polygon) in the alert form first.';
    else rnArea.textContent = `Area: ${areaText(area)}.`;
  }

  function renderReportNow() {
    const list = [...reportNow.values()].sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, 10);
    rnList.replaceChildren(...list.map((r) => {
      const pending = r.pending || [];
      return el('li', { class: 'report-now-item', dataset: { requestId: r.request_id } },
        el('p', { class: 'report-now-head' },
          `Asked at ${formatTime(r.at)}`, r.area ? ` — ${r.area}` : ''),
        el('dl', { class: 'counts' },
          el('div', { class: 'count' }, el('dt', {}, 'Asked'), el('dd', { class: 'asked' }, String(r.asked.length))),
          el('div', { class: 'count' }, el('dt', {}, 'Reported'), el('dd', { class: 'reported' }, String((r.reported || []).length))),
          el('div', { class: 'count' }, el('dt', {}, 'Pending'), el('dd', { class: 'pending' }, String(pending.length)))),
        pending.length ? el('p', { class: 'report-now-pending' }, `Waiting for: ${pending.map(siteName).join(', ')}`)
          : el('p', { class: 'report-now-done ok' }, 'Every site asked has reported.'));
    }));
    saveCache('reportnow', list);
  }

  rnBtn.disabled = !isController;
  rnBtn.addEventListener('click', () => {
    showError(rnError, '');
    const { area, error } = compose.currentArea();
    if (error || !area) {
      showError(rnError, error ? `The alert form’s area is not valid: ${error.message}`
        : 'Set an area in the alert form first (Area → Circle or Polygon).');
      ($('compose').querySelector('input[name="area-kind"]:checked') || $('compose')).focus();
      return;
    }
    const ref = session.request('report_now', { area });
    if (!ref) {
      showError(rnError, 'Not connected to the broker. Try again when the connection is back.');
      return;
    }
    rnRef = ref;
    rnBtn.disabled = true;
  });

  session.on('report_now', (frame, req) => {
    if (frame.ref === rnRef) rnRef = null;
    rnBtn.disabled = !isController;
    const asked = Array.isArray(frame.asked) ? frame.asked : [];
    reportNow.set(frame.request_id, {
      request_id: frame.request_id,
      at: frame.requested_at || new Date().toISOString(),
      area: req?.area ? areaText(req.area) : '',
      asked,
      reported: [],
      pending: asked.slice(),
    });
    renderReportNow();
    announce(`${asked.length} site${asked.length === 1 ? '' : 's'} asked to report their status.`);
  });

  session.on('report_now_status', (frame) => {
    const r = reportNow.get(frame.request_id);
    if (!r) return;
    if (Array.isArray(frame.reported)) r.reported = frame.reported;
    if (Array.isArray(frame.pending)) r.pending = frame.pending;
    renderReportNow();
  });

  function onReportNowError(frame) {
    rnRef = null;
    rnBtn.disabled = !isController;
    if (isUnsupported(frame)) {
      showError(rnError, unsupportedText('Report now'));
      return;
    }
    showError(rnError, frame.code === 'no_recipients'
      ? `Nobody was asked: ${frame.message || 'no site lies inside the area'}.`
      : `Nobody was asked: ${describeError(frame)}`);
  }

  renderReportNow();
  renderReportNowArea();

  /* ---- Inbox ----------------------------------------------------------- */

  const inbox = $('inbox');
  const inboxEmpty = $('inbox-empty');
  const inboxError = $('inbox-error');
  const inboxUnread = $('inbox-unread');
  const reports = new Map();
  let unread = 0;

  function reportItem(r) {
    const from = [r.site_name, r.org_name].filter(Boolean).join(', ');
    const where = Number.isFinite(r.lat) && Number.isFinite(r.lon) ? `${r.lat.toFixed(5)}, ${r.lon.toFixed(5)}` : '';
    return el('li', { class: `report-item kind-${r.kind || 'other'}`, dataset: { reportId: String(r.id), kind: r.kind || '' } },
      el('div', { class: 'report-head' },
        el('span', { class: 'badge report-kind kind' }, label(REPORT_KIND_LABELS, r.kind) || 'Report'),
        el('span', { class: 'report-from' }, from || 'unknown sender'),
        timeElement(r.occurred_at || r.received_at, 'report-time occurred-at')),
      el('p', { class: 'report-text' }, r.text || ''),
      el('p', { class: 'report-meta muted' },
        r.by ? `By ${r.by}` : '', where ? ` · at ${where}` : '',
        r.received_at && r.occurred_at && r.received_at !== r.occurred_at ? ` · received ${formatTime(r.received_at)}` : ''),
      r.image ? imageFigure(token, r.image, `Photo with report ${r.id}`) : null);
  }

  function renderInbox() {
    const list = [...reports.values()].sort((a, b) => b.id - a.id).slice(0, MAX_INBOX);
    const keep = new Set(list.map((r) => r.id));
    for (const li of [...inbox.children]) if (!keep.has(Number(li.dataset.reportId))) li.remove();
    let prev = null;
    for (const r of list) {
      let li = inbox.querySelector(`[data-report-id="${r.id}"]`);
      if (!li) {
        li = reportItem(r);
        if (r.fresh) li.classList.add('fresh');
        if (prev) prev.after(li);
        else inbox.prepend(li);
      }
      prev = li;
    }
    inboxEmpty.hidden = reports.size > 0;
    boardMap.setReports(list);
  }

  function setUnread(n) {
    unread = n;
    inboxUnread.textContent = n ? `${n} new` : '';
    inboxUnread.hidden = !n;
  }

  session.on('inbox', (frame) => {
    showError(inboxError, '');
    for (const r of Array.isArray(frame.reports) ? frame.reports : []) {
      if (r && Number.isFinite(r.id) && !reports.has(r.id)) reports.set(r.id, r);
    }
    renderInbox();
  });

  session.on('partner_report', (frame) => {
    const r = frame.report;
    if (!r || !Number.isFinite(r.id) || reports.has(r.id)) return;
    reports.set(r.id, { ...r, fresh: true });
    renderInbox();
    setUnread(unread + 1);
    $('inbox-latest').textContent = `New ${label(REPORT_KIND_LABELS, r.kind).toLowerCase() || 'report'} from ${r.site_name || r.org_name || 'a partner'}: ${r.text || ''}`;
  });

  const inboxPanel = inbox.closest('section');
  inboxPanel.addEventListener('focusin', () => setUnread(0));
  inboxPanel.addEventListener('pointerdown', () => setUnread(0));
  if ('IntersectionObserver' in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && document.visibilityState === 'visible') setTimeout(() => setUnread(0), 2000);
    }, { threshold: 0.3 }).observe(inboxPanel);
  }

  function onInboxError(frame) {
    showError(inboxError, isUnsupported(frame) ? unsupportedText('The inbox of partner reports')
      : `The inbox could not be loaded: ${describeError(frame)}`);
  }

  /* ---- Session wiring ------------------------------------------------- */

  session.on('tally', onTally);
  session.on('escalation', onEscalation);
  session.on('receipts', onReceipts);
  session.on('preview', (frame, req) => compose.onPreview(frame, req));
  session.on('welcome', () => {
    refreshRecent();
    requestBoard();
    session.request('inbox');
  });

  session.on('error', (frame, req) => {
    const type = req ? req.type : null;
    switch (type) {
      case 'ping':
      case 'site_history': // shown in the history dialog (history.js)
        return;
      case 'receipts':
        onReceiptsError(frame, req);
        return;
      case 'directory':
        compose.showError(`The directory could not be loaded: ${describeError(frame)}. Retrying…`, 'directory');
        clearTimeout(directoryRetry);
        directoryRetry = setTimeout(() => session.request('directory'), 5000);
        return;
      case 'publish':
        if (req.msg_type === 'cancel') {
          const id = cancelling.get(req.ref) ?? req.references;
          cancelling.delete(req.ref);
          if (sent.has(id)) refreshSent(sent.get(id));
          entryError(id, `The cancellation was not sent: ${describeError(frame)}`);
          return;
        }
        compose.onError(frame, req);
        return;
      case 'preview':
        compose.onError(frame, req);
        return;
      case 'board':
        onBoardError(frame);
        return;
      case 'area_totals':
        onTotalsError(frame);
        return;
      case 'report_now':
        onReportNowError(frame);
        return;
      case 'inbox':
        onInboxError(frame);
        return;
      default:
        compose.showError(describeError(frame), 'server');
    }
  });

  session.on('lost', (requests) => {
    compose.onLost(requests);
    for (const r of requests) {
      if (r.type === 'directory') clearTimeout(directoryRetry);
      if (r.type === 'publish' && r.msg_type === 'cancel') {
        const id = cancelling.get(r.ref);
        cancelling.delete(r.ref);
        if (sent.has(id)) refreshSent(sent.get(id));
        entryError(id, 'The connection dropped before the broker confirmed the cancellation: check whether it went out before trying again.');
      }
      if (r.type === 'area_totals') {
        totalsRef = null;
        $('totals-send').disabled = false;
      }
      if (r.type === 'report_now') {
        rnRef = null;
        rnBtn.disabled = !isController;
        showError(rnError, 'The connection dropped before the broker answered: check the list before asking again.');
      }
    }
  });

  session.on('directory', (frame) => {
    clearTimeout(directoryRetry);
    if ($('compose-error').dataset.kind === 'directory') compose.showError('');
    directory = {
      orgs: Array.isArray(frame.orgs) ? frame.orgs : [],
      sites: Array.isArray(frame.sites) ? frame.sites : [],
    };
    const own = directory.orgs.find((o) => o.id === user.org_id);
    if (own) $('org-name').textContent = own.name;
    compose.setDirectory(directory);
    composeMap.render();
    board.rerender();
    for (const rec of sent.values()) {
      const item = itemFor(rec.alert_id);
      if (item && rec.relays?.length) renderRelays(item, rec);
    }
    renderReportNow();
    renderReportNowArea();
  });

  session.start();
}

const signedIn = requireSession(['controller', 'analyst']);
if (signedIn) main(signedIn);
