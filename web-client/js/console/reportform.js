// console/reportform.js: "Report to police" (docs/protocol.md §2b "Partner
// reports"), on the desks of site consoles and company operators: a kind,
// a text and an optional photo, uploaded first through /api/images.

import {
  showError, describeError, clock, isUnsupported, unsupportedText, setInvalid,
} from '../ui.js';
import { checkImageFile, uploadImage } from '../images.js';
import { REPORT_KIND_LABELS } from '../vocab.js';

export function setupReportForm(session, token) {
  const $ = (id) => document.getElementById(id);
  const form = $('report-form');
  if (!form) return null;
  const kind = $('report-kind');
  const text = $('report-text');
  const photo = $('report-photo');
  const send = $('report-send');
  const result = $('report-result');
  const error = $('report-error');
  const count = $('report-text-count');
  let pendingRef = null;
  let busy = false;

  const fields = { kind, text, image: photo };

  function fail(message, node) {
    showError(error, message);
    result.hidden = true;
    if (node) {
      setInvalid(node, true);
      node.focus();
    }
  }

  function setBusy(on, label = 'Sending…') {
    busy = on;
    send.disabled = on;
    send.textContent = on ? label : 'Send report';
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  text.addEventListener('input', () => {
    setInvalid(text, false);
    if (count) count.textContent = `${text.value.length} / 2000`;
  });
  photo.addEventListener('change', () => setInvalid(photo, false));
  kind.addEventListener('change', () => setInvalid(kind, false));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    showError(error, '');
    for (const n of Object.values(fields)) setInvalid(n, false);
    const t = text.value.trim();
    if (!t) return fail('Describe what you saw or what happened.', text);
    if (t.length > 2000) return fail('The report is longer than 2000 characters.', text);
    const file = photo.files && photo.files[0];
    const bad = checkImageFile(file);
    if (bad) return fail(bad, photo);
    if (!session.connected) return fail('Not connected to the broker: the report was not sent. Try again when the connection is back.');

    const frame = { kind: kind.value, text: t };
    if (file) {
      setBusy(true, 'Uploading photo…');
      try {
        frame.image = await uploadImage(token, file);
      } catch (err) {
        setBusy(false);
        return fail(err.message, photo);
      }
    }
    const ref = session.request('report', frame);
    if (!ref) {
      setBusy(false);
      return fail('Not connected to the broker: the report was not sent.');
    }
    pendingRef = ref;
    setBusy(true);
  });

  session.on('reported', (frame, req) => {
    if (!req || req.type !== 'report') return;
    if (frame.ref === pendingRef) pendingRef = null;
    setBusy(false);
    showError(error, '');
    result.textContent = `Report sent to the police at ${clock(new Date())} (${REPORT_KIND_LABELS[req.kind] || req.kind}, number ${frame.report_id}).`;
    result.hidden = false;
    form.reset();
    if (count) count.textContent = '0 / 2000';
  });

  session.on('lost', (requests) => {
    if (requests.some((r) => r.ref === pendingRef)) {
      pendingRef = null;
      setBusy(false);
      fail('The connection dropped before the broker confirmed this report: it may not have been sent. Send it again when the connection is back.');
    }
  });

  /* Called by the page's error handler for request type `report`. */
  return {
    onError(frame) {
      pendingRef = null;
      setBusy(false);
      if (isUnsupported(frame)) return fail(unsupportedText('Reporting to the police'));
      const f = String(frame.field || '');
      const node = f.startsWith('image') ? photo : f.startsWith('kind') ? kind
        : f.startsWith('text') ? text : null;
      return fail(`The report was not sent: ${describeError(frame)}`, node);
    },
  };
}
