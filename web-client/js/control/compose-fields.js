// control/compose-fields.js: how the alert form looks and what its own
// fields say. Status, severity and classification: an exercise or test
// turns the panel violet-striped, shows #exercise-banner and relabels the
// send button; a live severe or extreme alert shows the typed
// confirmation box. The optional question (a choice or a number) and the
// details' character count.

import { setInvalid } from '../ui.js';
import { exerciseWord, SERIOUS_SEVERITIES } from '../vocab.js';
import { composer } from './composer.js';

const REQUEST_OPTION_MAX = 40;

/* ---- Status, severity, classification: how the form looks ------------ */

export function liveConfirmNeeded() {
  const { f } = composer;
  return f.status.value === 'actual' && SERIOUS_SEVERITIES.includes(f.severity.value);
}

export function sendLabel() {
  const w = exerciseWord(composer.f.status.value);
  return `Send ${w ? `${w} ` : ''}${composer.updateOf ? 'update' : 'alert'}`;
}

export function renderLook() {
  const { f, form, panel } = composer;
  const { exerciseBanner, sendBtn, confirmField } = composer.dom;
  const status = f.status.value;
  const word = exerciseWord(status);
  form.dataset.status = status;
  form.dataset.severity = f.severity.value;
  form.dataset.classification = f.classification.value;
  panel.classList.toggle('is-exercise', Boolean(word));
  exerciseBanner.hidden = !word;
  exerciseBanner.textContent = word
    ? `${word} — not a real incident. Every screen will mark this alert ${word}.`
    : '';
  if (!sendBtn.disabled) sendBtn.textContent = sendLabel();
  const need = liveConfirmNeeded();
  confirmField.hidden = !need;
  document.getElementById('confirm-live-severity').textContent = f.severity.value;
  if (!need) {
    f.confirmLive.value = '';
    setInvalid(f.confirmLive, false);
  }
}

/* ---- Question ---------------------------------------------------------- */

export function renderRequestKind() {
  const kind = composer.f.requestKind.value;
  document.getElementById('request-choice').hidden = kind !== 'choice';
  document.getElementById('request-number').hidden = kind !== 'number';
}

function readChoices() {
  const { f } = composer;
  const options = f.requestOptions.value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (options.length < 2 || options.length > 8) {
    return { error: 'A choice needs 2 to 8 options, one a line.', node: f.requestOptions };
  }
  const long = options.find((o) => o.length > REQUEST_OPTION_MAX);
  if (long) return { error: `The option “${long.slice(0, 50)}…” is longer than ${REQUEST_OPTION_MAX} characters.`, node: f.requestOptions };
  if (new Set(options).size !== options.length) return { error: 'The options must differ.', node: f.requestOptions };
  return { request: { kind: 'choice', options } };
}

function readNumberQuestion() {
  const { f } = composer;
  const lab = f.requestLabel.value.trim();
  if (!lab) return { error: 'Say what the sites should count (for example “Guards visible at the front”).', node: f.requestLabel };
  const min = Number(f.requestMin.value);
  const max = Number(f.requestMax.value);
  if (f.requestMin.value.trim() === '' || !Number.isInteger(min) || min < 0 || min > 1000000) {
    return { error: 'The lowest answer must be a whole number from 0 to 1,000,000.', node: f.requestMin };
  }
  if (f.requestMax.value.trim() === '' || !Number.isInteger(max) || max < min || max > 1000000) {
    return { error: 'The highest answer must be a whole number, at least the lowest and at most 1,000,000.', node: f.requestMax };
  }
  return { request: { kind: 'number', label: lab, min, max } };
}

/* The question as typed: {request} (null for none) or {error, node}. */
export function readRequest() {
  const kind = composer.f.requestKind.value;
  if (kind === 'choice') return readChoices();
  if (kind === 'number') return readNumberQuestion();
  return { request: null };
}

export function updateBodyCount() {
  composer.dom.bodyCount.textContent = `${composer.f.body.value.length} / 4000`;
}

export function wireFields() {
  const { f } = composer;
  f.status.addEventListener('change', renderLook);
  f.severity.addEventListener('change', () => {
    setInvalid(f.severity, false);
    renderLook();
  });
  f.classification.addEventListener('change', renderLook);
  f.requestKind.addEventListener('change', renderRequestKind);
}
