// control/compose-preview.js: "Preview recipients": the broker's own
// answer (`preview`) to who would receive the alert as the form stands,
// in #preview-result (loading, shown, error); marked stale once the form
// changes.

import { el } from '../ui.js';
import { composer, clearInvalid, showComposeError, failWith } from './composer.js';
import { collect } from './compose-collect.js';
import { rolesNote } from './compose-recipients.js';

export function markPreviewStale() {
  const { previewBox } = composer.dom;
  if (!previewBox.hidden && previewBox.dataset.state === 'shown') {
    previewBox.dataset.stale = 'true';
    previewBox.querySelector('.preview-stale')?.removeAttribute('hidden');
  }
}

export function previewMessage(text, state) {
  const { previewBox } = composer.dom;
  previewBox.hidden = false;
  previewBox.dataset.state = state;
  delete previewBox.dataset.stale;
  previewBox.replaceChildren(el('p', { class: state === 'error' ? 'form-error' : 'muted' }, text));
}

function askPreview() {
  if (composer.previewRef) return null;
  clearInvalid();
  showComposeError('');
  const r = collect('preview');
  if (r.error) return failWith(r.error, previewMessage);
  const ref = composer.session.request('preview', r.frame);
  if (!ref) return previewMessage('Not connected to the broker: no preview. Try again when the connection is back.', 'error');
  composer.previewRef = ref;
  previewMessage('Asking the broker…', 'loading');
  return null;
}

function orgName(id) {
  return composer.directory.orgs.find((o) => o.id === id)?.name || '';
}

export function onPreview(frame, req) {
  const { previewBox } = composer.dom;
  if (frame.ref && frame.ref === composer.previewRef) composer.previewRef = null;
  const recipients = Array.isArray(frame.recipients) ? frame.recipients : [];
  const excluded = Array.isArray(frame.excluded) ? frame.excluded : [];
  const count = Number.isInteger(frame.count) ? frame.count : recipients.length;
  previewBox.hidden = false;
  previewBox.dataset.state = 'shown';
  delete previewBox.dataset.stale;
  previewBox.replaceChildren(...[
    el('p', { class: 'preview-stale notice', hidden: true }, 'The form has changed since this preview: preview again before sending.'),
    el('p', { class: 'preview-count', dataset: { count: String(count) } },
      el('strong', {}, String(count)), ` site${count === 1 ? '' : 's'} would receive this alert${rolesNote(req?.targets)}.`),
    recipients.length ? el('ul', { class: 'preview-recipients' },
      ...recipients.map((x) => el('li', { dataset: { siteId: String(x.site_id) } },
        el('span', { class: 'preview-name' }, x.name || `site ${x.site_id}`),
        el('span', { class: 'preview-meta' }, [x.sector, orgName(x.guard_org_id)].filter(Boolean).join(' · '))))) : null,
    excluded.length ? el('p', { class: 'preview-excluded-title' },
      `${excluded.length} site${excluded.length === 1 ? '' : 's'} left out:`) : null,
    excluded.length ? el('ul', { class: 'preview-excluded' },
      ...excluded.map((x) => el('li', { dataset: { siteId: String(x.site_id) } },
        el('span', { class: 'preview-name' }, x.name || `site ${x.site_id}`),
        el('span', { class: 'reason' }, x.reason || 'left out')))) : null,
  ].filter(Boolean));
}

export function wirePreview() {
  const { form } = composer;
  form.addEventListener('input', markPreviewStale);
  form.addEventListener('change', markPreviewStale);
  composer.dom.previewBtn.addEventListener('click', askPreview);
}
