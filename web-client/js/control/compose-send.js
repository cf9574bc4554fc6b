// control/compose-send.js: sending the alert form: images uploaded first
// (POST /api/images; a failed upload stops the publish and marks #images),
// then `publish`; the broker's answers: `published` clears the form, an
// error frame marks the input its `field` names and shows in
// #compose-error (or #preview-result for a preview), and a publish lost
// with the connection says it may or may not have gone out.

import { describeError, isUnsupported, unsupportedText, setInvalid } from '../ui.js';
import { uploadImage } from '../images.js';
import {
  composer, clearInvalid, showComposeError, failWith, areaKind,
} from './composer.js';
import { sendLabel, updateBodyCount } from './compose-fields.js';
import { collect } from './compose-collect.js';
import { previewMessage } from './compose-preview.js';
import { clearForm, setMode } from './compose-mode.js';

function setSending(on, text = 'Sending…') {
  const { sendBtn } = composer.dom;
  sendBtn.disabled = on;
  sendBtn.textContent = on ? text : sendLabel();
  composer.form.setAttribute('aria-busy', on ? 'true' : 'false');
}

/* Each chosen file uploaded in turn: their ids, or null (and the form
 * says why) when one fails. */
async function uploadAll(files) {
  const { imagesStatus } = composer.dom;
  composer.uploading = true;
  const ids = [];
  try {
    for (let i = 0; i < files.length; i++) {
      setSending(true, `Uploading image ${i + 1} of ${files.length}…`);
      imagesStatus.textContent = `Uploading ${files[i].name} (${i + 1} of ${files.length})…`;
      ids.push(await uploadImage(composer.token, files[i]));
    }
  } catch (err) {
    composer.uploading = false;
    setSending(false);
    imagesStatus.textContent = '';
    failWith({ message: `The alert was not sent. ${err.message}`, node: composer.f.images, kind: 'images' });
    return null;
  }
  composer.uploading = false;
  imagesStatus.textContent = `${ids.length} image${ids.length === 1 ? '' : 's'} uploaded.`;
  return ids;
}

async function onSubmit(ev) {
  ev.preventDefault();
  if (composer.publishRef || composer.uploading) return null;
  showComposeError('');
  clearInvalid();
  const r = collect('publish');
  if (r.error) return failWith(r.error);
  if (!composer.session.connected) {
    return failWith({ message: 'Not connected to the broker: the alert was not sent. Wait until the connection is back, then send again.', kind: 'connection' });
  }
  const { frame, files, days } = r;
  if (files.length) {
    const ids = await uploadAll(files);
    if (!ids) return null;
    frame.images = ids;
    frame.image_days = days;
  }
  const ref = composer.session.request('publish', frame);
  if (!ref) {
    setSending(false);
    return failWith({ message: 'Not connected to the broker: the alert was not sent.', kind: 'connection' });
  }
  composer.publishRef = ref;
  setSending(true);
  return null;
}

// The input a broker `field` names (docs/protocol.md error frames).
function fieldNode(field, req) {
  const { f, form } = composer;
  const path = String(field || '');
  const top = path.split(/[.[]/)[0];
  const direct = {
    headline: f.headline, body: f.body, severity: f.severity, status: f.status,
    category: f.category, urgency: f.urgency, certainty: f.certainty,
    instruction: f.instruction, classification: f.classification, handling: f.handling,
    expires: f.expires, effective: f.expires, images: f.images, image_days: f.imageDays,
    references: f.headline, msg_type: f.headline,
  };
  if (direct[top] && !path.startsWith('area') && !path.startsWith('request') && !path.startsWith('targets')) return direct[top];
  if (path.startsWith('area.circle.lat')) return f.areaLat;
  if (path.startsWith('area.circle.lon')) return f.areaLon;
  if (path.startsWith('area.circle.radius')) return f.areaRadius;
  if (path.startsWith('area.polygon')) return f.areaPolygon;
  if (path.startsWith('area')) return areaKind() === 'polygon' ? f.areaPolygon : f.areaLat;
  if (path.startsWith('request.options')) return f.requestOptions;
  if (path.startsWith('request.label')) return f.requestLabel;
  if (path.startsWith('request.min')) return f.requestMin;
  if (path.startsWith('request.max')) return f.requestMax;
  if (path.startsWith('request')) return f.requestKind;
  const m = /^targets\.(sites|orgs|sectors)\[(\d+)\]/.exec(path);
  if (m && req?.targets?.[m[1]]) {
    const v = req.targets[m[1]][Number(m[2])];
    const name = { sites: 'target-site', orgs: 'target-org', sectors: 'target-sector' }[m[1]];
    const box = form.querySelector(`input[name="${name}"][value="${CSS.escape(String(v))}"]`);
    if (box) return box;
  }
  if (path.startsWith('targets.sectors')) return form.querySelector('input[name="target-sector"]');
  if (path.startsWith('targets.roles')) return form.querySelector('input[name="target-role"]');
  if (path.startsWith('targets.area')) return f.targetArea;
  if (path.startsWith('targets')) return f.filter;
  return null;
}

/* The broker held the publish for a second controller: nothing was sent.
 * The form is cleared (the alert waits in the releases panel). */
export function onHeld(frame) {
  if (!frame.ref || frame.ref !== composer.publishRef) return;
  composer.publishRef = null;
  setSending(false);
  setMode(null);
  clearForm();
  showComposeError('');
  const note = document.getElementById('compose-held');
  note.textContent = `NOT SENT — awaiting a second controller: ${frame.release?.alert?.headline || ''} (${frame.release?.held_because || ''}).`;
  note.hidden = false;
}

export function onPublished(frame) {
  const held = document.getElementById('compose-held');
  if (held && frame.ref && frame.ref === composer.publishRef) held.hidden = true;
  if (frame.ref && frame.ref === composer.publishRef) {
    composer.publishRef = null;
    // a pending import is closed by the publish itself (report_updated)
    if (composer.fromReport && !composer.pendingImport && frame.alert_id) composer.onReportPublished?.(composer.fromReport, frame.alert_id);
    setSending(false);
    setMode(null);
    clearForm();
    showComposeError('');
    composer.f.headline.focus();
  }
}

/* A publish (new alert or update) or preview failed. */
export function onError(frame, req) {
  if (req?.type === 'preview') {
    composer.previewRef = null;
    if (isUnsupported(frame)) return previewMessage(unsupportedText('Previewing recipients'), 'error');
    const node = fieldNode(frame.field, req);
    if (node) setInvalid(node, true);
    return previewMessage(`No preview: ${describeError(frame)}`, 'error');
  }
  composer.publishRef = null;
  setSending(false);
  const node = fieldNode(frame.field, req);
  if (node) {
    setInvalid(node, true);
    node.focus();
  }
  let msg = describeError(frame);
  if (frame.code === 'no_recipients') msg = `No site matches these recipients: ${frame.message || ''}`.trim();
  showComposeError(`The alert was not sent: ${msg}`, 'server');
  return null;
}

export function onLost(requests) {
  if (requests.some((r) => r.type === 'publish' && r.ref === composer.publishRef)) {
    composer.publishRef = null;
    setSending(false);
    showComposeError('The connection dropped before the broker confirmed this alert: it may or may not have been sent. Check with the recipients before sending it again.', 'connection');
  }
  if (requests.some((r) => r.ref === composer.previewRef)) {
    composer.previewRef = null;
    previewMessage('The connection dropped before the preview came back. Try again when the connection is back.', 'error');
  }
}

/* The inputs' own listeners (count, marks, images), then the submit. */
export function wireSend() {
  const { f, form } = composer;
  const { composeError, imagesStatus } = composer.dom;
  f.body.addEventListener('input', updateBodyCount);
  form.addEventListener('input', (ev) => {
    if (ev.target.matches('input, textarea, select')) setInvalid(ev.target, false);
    if (composeError.dataset.kind === 'headline' && ev.target === f.headline) showComposeError('');
    if (composeError.dataset.kind === 'confirm' && ev.target === f.confirmLive) showComposeError('');
  });
  f.images.addEventListener('change', () => {
    setInvalid(f.images, false);
    const files = [...(f.images.files || [])];
    const kept = composer.updateOf?.images;
    imagesStatus.textContent = files.length
      ? `${files.length} image${files.length === 1 ? '' : 's'} chosen: ${files.map((x) => x.name).join(', ')}. Uploaded when you send.`
      : (kept?.length ? `The alert keeps its ${kept.length} image${kept.length === 1 ? '' : 's'} unless you choose new ones.` : '');
  });
  form.addEventListener('submit', onSubmit);
}
