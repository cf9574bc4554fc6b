// control/compose-mode.js: what fills or empties the alert form. A new
// alert (the form cleared), update mode opened from a sent alert
// (#compose-mode: the form filled from the alert; recipients and preview
// hidden, as an update goes to the original's recipients), a template
// (js/control/templates.js) applied: the wording, the alert model's codes
// and the question; area and recipients are kept; a new alert from a
// partner report (the inbox): its text and place; a pending CAP import
// (the inbox): its wording, codes and area, to target and publish; and a
// crime-pattern
// alert from the crime picture (js/analyst/crime-panel.js).

import { formatTime, setInvalid } from '../ui.js';
import { REPORT_KIND_LABELS, label } from '../vocab.js';
import { polygonLines } from '../area.js';
import { composer, clearInvalid, showComposeError } from './composer.js';
import { renderLook, renderRequestKind, updateBodyCount } from './compose-fields.js';
import { applyFilter, renderAreaKind } from './compose-recipients.js';
import { markPreviewStale } from './compose-preview.js';
import { TEMPLATE_GAP } from './compose-collect.js';
import { templateById } from './templates.js';

export function clearForm() {
  const { f, form } = composer;
  const { imagesStatus, previewBox } = composer.dom;
  form.reset();
  composer.fromReport = null;
  composer.pendingImport = null;
  delete form.dataset.fromReport;
  delete form.dataset.pendingImport;
  document.getElementById('compose-from-report').hidden = true;
  clearInvalid();
  f.filter.value = '';
  applyFilter();
  renderAreaKind();
  renderRequestKind();
  updateBodyCount();
  imagesStatus.textContent = '';
  previewBox.hidden = true;
  previewBox.replaceChildren();
  renderLook();
}

export function setMode(rec) {
  const { form } = composer;
  const { modeBox, title, modeText, targetsFieldset, updateNote } = composer.dom;
  composer.updateOf = rec;
  const upd = Boolean(rec);
  form.dataset.msgType = upd ? 'update' : 'alert';
  if (upd) form.dataset.references = String(rec.alert_id);
  else delete form.dataset.references;
  modeBox.hidden = !upd;
  title.textContent = upd ? 'Update an alert' : 'New alert';
  modeText.textContent = upd
    ? `Updating “${rec.headline}” (sent ${formatTime(rec.sent_at)}). Change what is different: the update goes to the same recipients and takes the alert’s place on their screens.`
    : '';
  targetsFieldset.hidden = upd;
  updateNote.hidden = !upd;
  document.getElementById('preview').closest('.preview-block').hidden = upd;
  renderLook();
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/* The area and the question of a sent record, back into their fields. */
function fillAreaAndQuestion(rec) {
  const { f, form } = composer;
  const area = rec.area;
  const kind = area?.circle ? 'circle' : Array.isArray(area?.polygon) ? 'polygon' : 'none';
  form.querySelector(`input[name="area-kind"][value="${kind}"]`).checked = true;
  if (area?.circle) {
    f.areaLat.value = String(area.circle.lat);
    f.areaLon.value = String(area.circle.lon);
    f.areaRadius.value = String(area.circle.radius_m);
  }
  if (kind === 'polygon') f.areaPolygon.value = polygonLines(area.polygon);
  const rq = rec.request;
  f.requestKind.value = rq?.kind === 'choice' || rq?.kind === 'number' ? rq.kind : 'none';
  if (rq?.kind === 'choice') f.requestOptions.value = (rq.options || []).join('\n');
  if (rq?.kind === 'number') {
    f.requestLabel.value = rq.label || '';
    f.requestMin.value = String(rq.min ?? 0);
    f.requestMax.value = String(rq.max ?? 1000);
  }
}

/* Open the form on a sent alert, as msg_type update. */
export function startUpdate(rec) {
  const { f } = composer;
  if (composer.publishRef || composer.uploading) {
    showComposeError('Wait until the alert being sent is confirmed.', 'busy');
    return;
  }
  clearForm();
  showComposeError('');
  const set = (node, v, fallback) => {
    const want = v ?? fallback;
    if (node.tagName === 'SELECT' && ![...node.options].some((o) => o.value === want)) return;
    node.value = want ?? '';
  };
  set(f.headline, rec.headline, '');
  set(f.body, rec.body, '');
  set(f.instruction, rec.instruction, '');
  set(f.severity, rec.severity, 'minor');
  set(f.status, rec.status, 'actual');
  set(f.category, rec.category, 'advice');
  set(f.urgency, rec.urgency, 'unknown');
  set(f.certainty, rec.certainty, 'unknown');
  set(f.classification, rec.classification, 'OFFICIAL');
  set(f.handling, rec.handling, '');
  f.expires.value = rec.expires ? toLocalInput(rec.expires) : '';
  fillAreaAndQuestion(rec);
  setMode(rec);
  renderAreaKind();
  renderRequestKind();
  updateBodyCount();
  composer.dom.imagesStatus.textContent = rec.images?.length
    ? `The alert keeps its ${rec.images.length} image${rec.images.length === 1 ? '' : 's'} unless you choose new ones.` : '';
  composer.panel.scrollIntoView({ block: 'start' });
  f.headline.focus();
}

/* An empty form for a new alert opened from elsewhere (a report, the
 * crime picture); false, with the reason shown, while one is being sent. */
function beginNew() {
  if (composer.publishRef || composer.uploading) {
    showComposeError('Wait until the alert being sent is confirmed.', 'busy');
    return false;
  }
  setMode(null);
  clearForm();
  showComposeError('');
  return true;
}

// What a report of each kind becomes: the alert's category.
const REPORT_CATEGORY = { sighting: 'offender', suspicious: 'live_incident', crime: 'crime_pattern', other: 'advice' };
const REPORT_RADIUS_M = 200;

/* Open a new alert on a partner report: a headline naming what and where
 * (to be checked), its text as the details, and, when it has a place, a
 * circle of REPORT_RADIUS_M around it with "every site inside" ticked.
 * The room links the report to the alert once it is published. */
export function startFromReport(r) {
  const { f, form } = composer;
  if (!beginNew()) return;
  const where = r.place === 'site' || !r.place ? r.site_name || r.org_name : `near ${r.site_name || 'the place reported'}`;
  f.headline.value = `${label(REPORT_KIND_LABELS, r.kind) || 'Report'}${where ? ` ${where}` : ''}`.slice(0, 200);
  f.body.value = String(r.text || '').slice(0, 4000);
  f.category.value = REPORT_CATEGORY[r.kind] || 'advice';
  if (Number.isFinite(r.lat) && Number.isFinite(r.lon)) {
    form.querySelector('input[name="area-kind"][value="circle"]').checked = true;
    f.areaLat.value = r.lat.toFixed(6);
    f.areaLon.value = r.lon.toFixed(6);
    f.areaRadius.value = String(REPORT_RADIUS_M);
    f.targetArea.checked = true;
  }
  openFrom(r.id, `From partner report ${r.id} (${r.site_name || r.org_name || 'a partner'}): check the wording and the area; the report is linked to the alert once it is sent.`, f.headline);
}

/* The form filled from report id (a partner report or a pending import):
 * says so in #compose-from-report (note), shows the form and puts the
 * keyboard on focus. */
function openFrom(id, note, focus) {
  composer.fromReport = id;
  composer.form.dataset.fromReport = String(id);
  const box = document.getElementById('compose-from-report');
  box.textContent = note;
  box.hidden = false;
  renderAreaKind();
  updateBodyCount();
  renderLook();
  markPreviewStale();
  composer.panel.scrollIntoView({ block: 'start' });
  focus.focus();
}

/* Fill a select with value when it offers it (a CAP code this form
 * does not offer keeps the form's default). */
function pick(node, value) {
  if (value && [...node.options].some((o) => o.value === value)) node.value = value;
}

/* Open a new alert on pending CAP import r (the inbox): the import's
 * wording (headline, description as the details, instruction), its
 * severity, urgency, certainty, category and status, classification
 * OFFICIAL unless the import says otherwise, and its polygon or circle
 * when it has one (not ticked as a target: nothing here is inside it).
 * The controller picks the recipients; the publish carries
 * pending_import, so the alert keeps the import's sender, identifier and
 * sent, and the import is closed for every desk. */
export function startFromImport(r) {
  const { f, form } = composer;
  const cap = r.cap || {};
  if (!beginNew()) return;
  f.headline.value = String(cap.headline || '').slice(0, 200);
  f.body.value = String(cap.body || '').slice(0, 4000);
  f.instruction.value = String(cap.instruction || '').slice(0, 2000);
  for (const k of ['severity', 'urgency', 'certainty', 'category', 'status', 'classification']) pick(f[k], cap[k]);
  if (cap.handling) f.handling.value = String(cap.handling).slice(0, 500);
  if (cap.area?.circle) {
    form.querySelector('input[name="area-kind"][value="circle"]').checked = true;
    f.areaLat.value = String(cap.area.circle.lat);
    f.areaLon.value = String(cap.area.circle.lon);
    f.areaRadius.value = String(cap.area.circle.radius_m);
  } else if (Array.isArray(cap.area?.polygon)) {
    form.querySelector('input[name="area-kind"][value="polygon"]').checked = true;
    f.areaPolygon.value = polygonLines(cap.area.polygon);
  }
  composer.pendingImport = r.id;
  form.dataset.pendingImport = String(r.id);
  const o = cap.origin || {};
  openFrom(r.id, `Targeting CAP import ${r.id} from ${o.sender_name || o.sender || 'its sender'}: choose the recipients and send. The alert keeps the import's sender, identifier and sent time, and the import is closed for every desk.`, f.filter);
}

/* Open a crime-pattern alert from the crime picture (js/analyst/): the
 * crime_pattern template with its gaps filled from the map (p: headline,
 * body, instruction, area as a protocol polygon), "every site inside the
 * area" ticked, and the broker's preview of those sites asked at once. */
export function startFromPattern(p) {
  const { f, form } = composer;
  if (!beginNew()) return;
  const t = templateById('crime_pattern');
  applyTemplate({ ...t, headline: p.headline, body: p.body, instruction: p.instruction || t.instruction });
  form.querySelector('input[name="area-kind"][value="polygon"]').checked = true;
  f.areaPolygon.value = polygonLines(p.area.polygon);
  f.targetArea.checked = true;
  renderAreaKind();
  composer.panel.scrollIntoView({ block: 'start' });
  composer.dom.previewBtn.click();
}

/* Fill the form from a template (js/control/templates.js): the wording,
 * the alert model's codes and the question; area and recipients are
 * kept. */
export function applyTemplate(t) {
  const { f, form } = composer;
  const set = (node, value) => {
    node.value = value ?? '';
    setInvalid(node, false);
  };
  set(f.category, t.category);
  set(f.severity, t.severity);
  set(f.urgency, t.urgency);
  set(f.certainty, t.certainty);
  set(f.classification, t.classification || 'OFFICIAL');
  set(f.headline, t.headline);
  set(f.body, t.body);
  set(f.instruction, t.instruction);
  const rq = t.request;
  set(f.requestKind, rq ? rq.kind : 'none');
  if (rq?.kind === 'choice') set(f.requestOptions, rq.options.join('\n'));
  if (rq?.kind === 'number') {
    set(f.requestLabel, rq.label);
    set(f.requestMin, String(rq.min));
    set(f.requestMax, String(rq.max));
  }
  renderRequestKind();
  updateBodyCount();
  renderLook();
  markPreviewStale();
  form.dataset.template = t.id;
  const gap = f.headline.value.match(TEMPLATE_GAP);
  f.headline.focus();
  if (gap) f.headline.setSelectionRange(gap.index, gap.index + gap[0].length);
}

export function wireMode() {
  document.getElementById('compose-mode-exit').addEventListener('click', () => {
    setMode(null);
    clearForm();
    showComposeError('');
    composer.f.headline.focus();
  });
}
