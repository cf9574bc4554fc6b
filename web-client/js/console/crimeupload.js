// console/crimeupload.js: "Upload crimes (CSV)" on a company desk
// (docs/protocol.md, "A desk's CSV of crime records"): the file goes as it
// is to POST /api/crime/upload; the broker stores every row or none and
// names the first bad line, which is shown as it comes.

import { showError } from '../ui.js';
import { getToken } from '../session.js';

const MAX_BYTES = 1024 * 1024;

/* The answer's words: "3 crimes recorded …" or the refusal. */
async function send(token, file) {
  let res;
  try {
    res = await fetch('/api/crime/upload', {
      method: 'POST',
      headers: { Authorization: `Bearer ${getToken() || token}`, 'Content-Type': 'text/csv' },
      body: file,
    });
  } catch {
    throw new Error('The broker could not be reached: nothing was recorded.');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const e = body?.error || {};
    throw new Error(`Nothing was recorded: ${e.message || `HTTP ${res.status}`}${e.field ? ` (${e.field})` : ''}.`);
  }
  const n = body.added;
  return `${n} crime${n === 1 ? '' : 's'} recorded for the police.`;
}

export function setupCrimeUpload(token) {
  const $ = (id) => document.getElementById(id);
  const panel = $('crime-upload-panel');
  if (!panel) return;
  const form = $('crime-upload-form');
  const file = $('crime-upload-file');
  const result = $('crime-upload-result');
  const error = $('crime-upload-error');
  const button = $('crime-upload-send');
  panel.hidden = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = file.files && file.files[0];
    result.hidden = true;
    showError(error, '');
    if (!f) return showError(error, 'Choose a CSV file first.');
    if (f.size > MAX_BYTES) return showError(error, 'The file is over 1 MiB: split it.');
    button.disabled = true;
    try {
      result.textContent = await send(token, f);
      result.hidden = false;
      form.reset();
    } catch (err) {
      showError(error, err.message);
    } finally {
      button.disabled = false;
    }
    return undefined;
  });
}
