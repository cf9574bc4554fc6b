// console/answers.js: the control room's question on an alert and this
// site console's answer (docs/protocol.md §2b "Requests"): the answer
// controls in the banner and in the history item (kept in step), `answer`
// → `answered`, and the answer's errors. Company desks see the question
// only.

import { el, formatTime, describeError, isUnsupported, unsupportedText } from '../ui.js';
import { desk, persist, announce } from './desk.js';
import { requestQuestion, answerValue, isExpired } from './words.js';

const answerInFlight = new Map(); // ref -> alert id

function boxesOf(id) {
  return document.querySelectorAll(`.request-box[data-alert-id="${CSS.escape(String(id))}"]`);
}

/* A number answer's form: checked here before it goes out. */
function numberForm(entry, box) {
  const rq = entry.alert.request;
  const id = entry.alert.id;
  const inputId = `answer-number-${id}-${Math.random().toString(36).slice(2, 7)}`;
  const input = el('input', {
    id: inputId, class: 'answer-number', type: 'number', inputmode: 'numeric', step: '1',
    min: String(rq.min ?? 0), max: rq.max !== undefined ? String(rq.max) : undefined,
  });
  const f = el('form', { class: 'answer-form', novalidate: true },
    el('label', { for: inputId }, rq.label || 'Number'),
    input,
    el('button', { type: 'submit', class: 'btn answer-submit' }, 'Send answer'));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const raw = input.value.trim();
    const v = Number(raw);
    const min = Number.isFinite(rq.min) ? rq.min : 0;
    const max = Number.isFinite(rq.max) ? rq.max : Infinity;
    if (raw === '' || !Number.isInteger(v) || v < min || v > max) {
      entry.answerError = `Enter a whole number from ${min}${Number.isFinite(max) ? ` to ${max}` : ' up'}.`;
      input.setAttribute('aria-invalid', 'true');
      syncAnswers(id);
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    sendAnswer(id, v);
  });
  input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
  box.append(f);
}

// The answer controls for an alert with a request: buttons for a
// choice, a number field for a number. Company desks see the question
// only. Built once per place (banner, history item); syncRequest keeps
// them current.
export function requestBlock(entry) {
  const a = entry.alert;
  const rq = a.request;
  const id = a.id;
  const box = el('div', { class: 'request-box', dataset: { alertId: String(id), kind: rq.kind } });
  if (!desk.canAck) {
    const what = rq.kind === 'choice' ? (rq.options || []).join(' / ') : `${rq.label || 'a number'}`;
    box.append(el('p', { class: 'request-info' }, `The control room asks each site to answer: ${what}.`));
    return box;
  }
  box.append(el('p', { class: 'request-question' }, requestQuestion(rq)));
  if (rq.kind === 'choice') {
    const group = el('div', { class: 'answer-options', role: 'group', 'aria-label': 'Answer' });
    for (const o of rq.options || []) {
      const b = el('button', { type: 'button', class: 'btn answer-option', dataset: { option: o }, 'aria-pressed': 'false' }, o);
      b.addEventListener('click', () => sendAnswer(id, o));
      group.append(b);
    }
    box.append(group);
  } else if (rq.kind === 'number') {
    numberForm(entry, box);
  }
  box.append(
    el('p', { class: 'answer-current', 'aria-live': 'polite' }),
    el('p', { class: 'answer-error', role: 'alert', hidden: true }));
  syncRequest(box, entry);
  return box;
}

export function syncRequest(box, entry) {
  if (!desk.canAck) return;
  const cur = entry.answer;
  const pending = entry.answerPending;
  // An alert updated, cancelled or expired takes no more answers.
  const closed = Boolean(entry.replaced) || entry.status === 'cancelled' || entry.status === 'superseded' ||
    isExpired(entry.alert);
  const busy = closed || (pending !== undefined && pending !== null);
  box.dataset.closed = closed ? 'true' : 'false';
  for (const b of box.querySelectorAll('.answer-option')) {
    const chosen = cur && answerValue(cur.value) === b.dataset.option;
    b.setAttribute('aria-pressed', chosen ? 'true' : 'false');
    b.classList.toggle('chosen', Boolean(chosen));
    b.disabled = busy;
  }
  const numInput = box.querySelector('.answer-number');
  if (numInput) numInput.disabled = closed;
  const num = box.querySelector('.answer-number');
  if (num && cur && document.activeElement !== num && num.value === '') num.value = answerValue(cur.value);
  const sub = box.querySelector('.answer-submit');
  if (sub) {
    sub.disabled = busy;
    sub.textContent = cur ? 'Change answer' : 'Send answer';
  }
  const curEl = box.querySelector('.answer-current');
  if (pending !== undefined && pending !== null) curEl.textContent = `Sending “${answerValue(pending)}”…`;
  else if (cur) curEl.textContent = `Your answer: ${answerValue(cur.value)}${cur.at ? ` (sent ${formatTime(cur.at)})` : ''}.${closed ? '' : ' You can change it.'}`;
  else curEl.textContent = 'Not answered yet.';
  if (closed) {
    const how = entry.replaced || (entry.status === 'superseded' ? 'update' : entry.status === 'cancelled' ? 'cancel' : '');
    curEl.textContent += how === 'update' ? ' This alert was updated: answer on the newer version.'
      : how === 'cancel' ? ' This alert was cancelled.' : ' This alert has expired.';
  }
  box.dataset.answered = cur ? 'true' : 'false';
  const err = box.querySelector('.answer-error');
  err.textContent = entry.answerError || '';
  err.hidden = !entry.answerError;
  if (!entry.answerError) num?.removeAttribute('aria-invalid');
}

export function syncAnswers(id) {
  const entry = desk.entries.get(id);
  if (!entry) return;
  for (const box of boxesOf(id)) syncRequest(box, entry);
}

function sendAnswer(id, value) {
  const entry = desk.entries.get(id);
  if (!entry || !entry.alert.request) return;
  entry.answerError = '';
  const field = entry.alert.request.kind === 'number' ? { number: value } : { choice: value };
  const ref = desk.session.request('answer', { alert_id: id, ...field });
  if (!ref) {
    entry.answerError = 'Not connected: the answer was not sent. Answer again when the connection is back.';
  } else {
    answerInFlight.set(ref, id);
    entry.answerPending = value;
  }
  syncAnswers(id);
}

export function setupAnswers() {
  desk.session.on('answered', (frame, req) => {
    const id = answerInFlight.get(frame.ref) ?? frame.alert_id;
    answerInFlight.delete(frame.ref);
    const entry = desk.entries.get(id);
    if (!entry) return;
    const value = req ? (req.choice ?? req.number) : entry.answerPending;
    entry.answer = { value, at: frame.answered_at || new Date().toISOString() };
    entry.answerPending = null;
    entry.answerError = '';
    persist();
    syncAnswers(id);
    announce(`Answer sent: ${answerValue(value)}.`);
  });
}

export function onAnswerError(frame, req) {
  const id = answerInFlight.get(req.ref) ?? req.alert_id;
  answerInFlight.delete(req.ref);
  const entry = desk.entries.get(id);
  if (!entry) return;
  entry.answerPending = null;
  entry.answerError = isUnsupported(frame) ? unsupportedText('Answering') : `The answer was not sent: ${describeError(frame)}`;
  syncAnswers(id);
  if (String(frame.field || '').startsWith('number')) {
    for (const box of boxesOf(id)) {
      for (const n of box.querySelectorAll('.answer-number')) n.setAttribute('aria-invalid', 'true');
    }
  }
}

/* An answer on the wire when the connection dropped. */
export function answerLost(r) {
  answerInFlight.delete(r.ref);
  const entry = desk.entries.get(r.alert_id);
  if (entry) {
    entry.answerPending = null;
    entry.answerError = 'The connection dropped before the answer was confirmed: answer again when the connection is back.';
    syncAnswers(r.alert_id);
  }
}
