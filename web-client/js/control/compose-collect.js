// control/compose-collect.js: the form read and checked into a frame,
// before anything goes out: `preview` (recipients, area, classification)
// or `publish` (the alert in full; an update with only what changed). A
// refusal names the input at fault ({error: {message, node, kind}}).

import { checkImageFile, MAX_ALERT_IMAGES } from '../images.js';
import { composer, problem, readArea, areaNode } from './composer.js';
import { liveConfirmNeeded, readRequest } from './compose-fields.js';
import { selectedRecipients } from './compose-recipients.js';

// A gap left in a template's wording: [place], [time], …
export const TEMPLATE_GAP = /\[[^\]\n]{1,40}\]/;

function readTargets() {
  const { f, form } = composer;
  const { orgs, sites, sectors, useArea, roles } = selectedRecipients();
  if (!orgs.length && !sites.length && !sectors.length && !useArea) {
    return problem('Choose at least one recipient: a site, a security company, a sector or the area.',
      form.querySelector('input[name="target-sector"]') || form.querySelector('input[name^="target-"]') || f.filter, 'targets');
  }
  if (orgs.length > 1000 || sites.length > 1000) {
    return problem('Too many recipients in one alert (at most 1000 companies and 1000 sites).', f.filter, 'targets');
  }
  if (!roles.length) {
    return problem('Choose who receives the alert at each site: site consoles, company desks or both.',
      form.querySelector('input[name="target-role"]'), 'targets');
  }
  const targets = {};
  if (sites.length) targets.sites = sites;
  if (orgs.length) targets.orgs = orgs;
  if (sectors.length) targets.sectors = sectors;
  if (useArea) targets.area = true;
  if (roles.length === 1) targets.roles = roles;
  return { targets };
}

/* The recipients and the area they need: {targets} or {error}. */
function readTargetsWithArea(a) {
  const t = readTargets();
  if (t.error) return t;
  if (t.targets.area && !a.area) return problem('“Every site inside the area” needs an area: choose a circle or a polygon.', composer.f.targetArea, 'targets');
  return t;
}

/* The wording: headline, details, instruction, handling, checked. */
function readWording() {
  const { f } = composer;
  const h = f.headline.value.trim();
  if (!h) return problem('Enter a headline.', f.headline, 'headline');
  // A template's […] gaps must be filled in before anything goes out.
  for (const n of [f.headline, f.body, f.instruction]) {
    const gap = n.value.match(TEMPLATE_GAP);
    if (gap) return problem(`Fill in ${gap[0]} (left from the template) before sending.`, n, 'template');
  }
  if (h.length > 200) return problem('The headline is longer than 200 characters.', f.headline, 'headline');
  if (f.body.value.length > 4000) return problem('The details are longer than 4000 characters.', f.body, 'body');
  const instruction = f.instruction.value.trim();
  if (instruction.length > 2000) return problem('What recipients should do is longer than 2000 characters.', f.instruction);
  const handling = f.handling.value.trim();
  if (handling.length > 500) return problem('The handling conditions are longer than 500 characters.', f.handling);
  return { headline: h, instruction, handling };
}

/* The expiry (datetime-local, local time) as RFC 3339 UTC, or null. */
function readExpires() {
  const { f } = composer;
  if (!f.expires.value) return { expires: null };
  const d = new Date(f.expires.value);  // datetime-local: local time
  if (Number.isNaN(d.getTime())) return problem('The expiry time is not a valid date and time.', f.expires);
  if (d.getTime() <= Date.now() + 30000) return problem('The expiry time must be in the future.', f.expires);
  return { expires: d.toISOString() };
}

function readImages() {
  const { f } = composer;
  const files = [...(f.images.files || [])];
  if (files.length > MAX_ALERT_IMAGES) return problem(`At most ${MAX_ALERT_IMAGES} images in one alert.`, f.images);
  for (const file of files) {
    const bad = checkImageFile(file);
    if (bad) return problem(bad, f.images);
  }
  const days = Number(f.imageDays.value);
  if (files.length && (!Number.isInteger(days) || days < 1 || days > 365)) {
    return problem('Keep images for 1 to 365 days.', f.imageDays);
  }
  return { files, days };
}

/* An update carries the fields that changed; the broker keeps the rest. */
function changedFields(frame, full, files) {
  const o = composer.updateOf;
  const same = (x, y) => JSON.stringify(x ?? '') === JSON.stringify(y ?? '');
  const defaults = { status: 'actual', category: 'advice', urgency: 'unknown', certainty: 'unknown', classification: 'OFFICIAL' };
  for (const k of ['headline', 'body', 'severity', 'status', 'category', 'urgency', 'certainty',
    'classification', 'instruction', 'handling']) {
    if (!same(full[k], o[k] ?? defaults[k] ?? '')) frame[k] = full[k];
  }
  if (full.expires && !same(full.expires, o.expires)) frame.expires = full.expires;
  if (full.area && !same(full.area, o.area)) frame.area = full.area;
  if (full.request && !same(full.request, o.request)) frame.request = full.request;
  if (!Object.keys(frame).length && !files.length) {
    return problem('Nothing has changed: edit the alert before sending the update.', composer.f.headline, 'headline');
  }
  frame.msg_type = 'update';
  frame.references = o.alert_id;
  return null;
}

/* mode: 'publish' (a new alert or an update) or 'preview'. Returns
 * {frame} (with files and days for a publish) or {error}. */
export function collect(mode) {
  const { f } = composer;
  const frame = {};
  const a = readArea();
  if (a.error) return problem(a.error.message, areaNode(a.error.field), 'area');
  if (mode === 'preview') {
    const t = readTargetsWithArea(a);
    if (t.error) return t;
    frame.targets = t.targets;
    if (a.area) frame.area = a.area;
    frame.classification = f.classification.value;
    return { frame };
  }

  const w = readWording();
  if (w.error) return w;
  const ex = readExpires();
  if (ex.error) return ex;
  const rq = readRequest();
  if (rq.error) return problem(rq.error, rq.node);
  const im = readImages();
  if (im.error) return im;
  const { files, days } = im;

  const full = {
    headline: w.headline,
    body: f.body.value,
    severity: f.severity.value,
    status: f.status.value,
    category: f.category.value,
    urgency: f.urgency.value,
    certainty: f.certainty.value,
    classification: f.classification.value,
    instruction: w.instruction,
    handling: w.handling,
  };
  if (ex.expires) full.expires = ex.expires;
  if (a.area) full.area = a.area;
  if (rq.request) full.request = rq.request;

  if (composer.updateOf) {
    const nothing = changedFields(frame, full, files);
    if (nothing) return nothing;
  } else {
    const t = readTargetsWithArea(a);
    if (t.error) return t;
    Object.assign(frame, full);
    if (!frame.instruction) delete frame.instruction;
    if (!frame.handling) delete frame.handling;
    frame.targets = t.targets;
    // a pending CAP import: the broker keeps its origin and closes it
    if (composer.pendingImport) frame.pending_import = composer.pendingImport;
  }

  if (liveConfirmNeeded() && !/\bSEND\b/i.test(f.confirmLive.value)) {
    return problem(`This is a live ${f.severity.value} alert: type SEND in the confirmation box to send it.`, f.confirmLive, 'confirm');
  }
  // break glass (docs/protocol.md, "Two-person release")
  const alone = document.getElementById('release-alone-justification');
  if (alone && document.getElementById('release-alone-field').open && alone.value.trim()) {
    frame.release_alone = { justification: alone.value.trim() };
  }
  return { frame, files, days };
}
