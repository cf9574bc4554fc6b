// control/composer.js: the state of the control room's alert form
// (control.html #compose), in one object (`composer`) that the compose-*
// modules share, and the small readers of the form they all use: the
// checked boxes, the error line, the area as typed. compose.js fills it
// once (initComposer) and hands the room its API.

import { showError, setInvalid } from '../ui.js';
import { AreaError, parseCircle, parsePolygon } from '../area.js';

export const composer = {
  session: null,
  token: null,
  onAreaChange: null,    // the room's callback when the typed area changes
  form: null,            // #compose
  panel: null,           // its .compose-panel
  f: null,               // the inputs by name (see initComposer)
  dom: null,             // the other nodes the form shows things in
  directory: { orgs: [], sites: [] },
  companies: [],         // the directory's security companies, by name
  publishRef: null,      // the publish awaiting `published`
  previewRef: null,
  uploading: false,
  updateOf: null,        // the sent record being updated, or null
  fromReport: null,      // the partner report id the new alert is published from, or null
  pendingImport: null,   // the pending CAP import (report id) the alert publishes, or null
  onReportPublished: null, // the room's callback (report id, alert id) once it is
  ready: false,          // construction finished (callbacks may run)
};

export function initComposer({ session, token, onAreaChange, onReportPublished }) {
  const $ = (id) => document.getElementById(id);
  const form = $('compose');
  Object.assign(composer, {
    session, token, onAreaChange, onReportPublished, form, panel: form.closest('.compose-panel'),
  });
  composer.f = {
    status: $('status'),
    category: $('category'),
    headline: $('headline'),
    body: $('body'),
    instruction: $('instruction'),
    severity: $('severity'),
    urgency: $('urgency'),
    certainty: $('certainty'),
    classification: $('classification'),
    expires: $('expires'),
    handling: $('handling'),
    areaLat: $('area-lat'),
    areaLon: $('area-lon'),
    areaRadius: $('area-radius'),
    areaPolygon: $('area-polygon'),
    requestKind: $('request-kind'),
    requestOptions: $('request-options'),
    requestLabel: $('request-label'),
    requestMin: $('request-min'),
    requestMax: $('request-max'),
    images: $('images'),
    imageDays: $('image-days'),
    confirmLive: $('confirm-live'),
    targetArea: $('target-area'),
    filter: $('target-filter'),
  };
  composer.dom = {
    title: $('compose-title'),
    bodyCount: $('body-count'),
    targetsBox: $('targets'),
    sectorsBox: $('target-sectors'),
    targetsFieldset: form.querySelector('fieldset.targets'),
    summary: $('target-summary'),
    sendBtn: $('send'),
    composeError: $('compose-error'),
    exerciseBanner: $('exercise-banner'),
    modeBox: $('compose-mode'),
    modeText: $('compose-mode-text'),
    updateNote: $('update-targets-note'),
    previewBtn: $('preview'),
    previewBox: $('preview-result'),
    confirmField: $('confirm-live-field'),
    imagesStatus: $('images-status'),
    areaSummary: $('area-summary'),
  };
  return composer;
}

export function clearInvalid() {
  for (const n of composer.form.querySelectorAll('[aria-invalid]')) n.removeAttribute('aria-invalid');
}

export function showComposeError(message, kind = '') {
  const { composeError } = composer.dom;
  showError(composeError, message);
  composeError.dataset.kind = kind;
}

/* A client-side refusal: {message, node, kind}. */
export function problem(message, node, kind = 'field') {
  return { error: { message, node, kind } };
}

export function failWith(error, show = (m) => showComposeError(m, error.kind)) {
  show(error.message, 'error');
  if (error.node) {
    setInvalid(error.node, true);
    error.node.focus();
  }
  return null;
}

export function areaKind() {
  return composer.form.querySelector('input[name="area-kind"]:checked')?.value || 'none';
}

export function checkedValues(name) {
  return [...composer.form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
}

export function checkedIds(name) {
  return checkedValues(name).map(Number).filter(Number.isInteger);
}

/* The area as typed: {area} (null for none) or {error: AreaError}. */
export function readArea() {
  const { f } = composer;
  try {
    const kind = areaKind();
    if (kind === 'circle') return { area: parseCircle(f.areaLat.value, f.areaLon.value, f.areaRadius.value) };
    if (kind === 'polygon') return { area: parsePolygon(f.areaPolygon.value) };
    return { area: null };
  } catch (err) {
    if (err instanceof AreaError) return { error: err };
    throw err;
  }
}

export function areaNode(field) {
  const { f } = composer;
  const kind = areaKind();
  if (field === 'lat') return f.areaLat;
  if (field === 'lon') return f.areaLon;
  if (field === 'radius') return f.areaRadius;
  if (field === 'polygon') return f.areaPolygon;
  return kind === 'polygon' ? f.areaPolygon : f.areaLat;
}
