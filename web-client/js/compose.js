// compose.js: the control room's alert form (control.html #compose): the
// alert in full (docs/protocol.md §2b), the recipient picker (sites,
// companies, sectors, roles, the area), the optional question, images,
// `preview`, the typed confirmation for live severe and extreme alerts,
// and the update mode opened from a sent alert. control.js owns the
// session, the sent list and the error routing; it calls in here.

import {
  el, formatTime, showError, describeError, isUnsupported, unsupportedText, setInvalid,
} from './ui.js';
import {
  AreaError, parseCircle, parsePolygon, areaText, inArea, polygonLines,
} from './area.js';
import { checkImageFile, uploadImage, MAX_ALERT_IMAGES } from './images.js';
import { exerciseWord, SERIOUS_SEVERITIES } from './vocab.js';

const REQUEST_OPTION_MAX = 40;
// A gap left in a template's wording: [place], [time], …
const TEMPLATE_GAP = /\[[^\]\n]{1,40}\]/;

export function createCompose({ session, token, onAreaChange }) {
  const $ = (id) => document.getElementById(id);
  const form = $('compose');
  const panel = form.closest('.compose-panel');
  const title = $('compose-title');
  const f = {
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
  const bodyCount = $('body-count');
  const targetsBox = $('targets');
  const sectorsBox = $('target-sectors');
  const targetsFieldset = form.querySelector('fieldset.targets');
  const summary = $('target-summary');
  const sendBtn = $('send');
  const composeError = $('compose-error');
  const exerciseBanner = $('exercise-banner');
  const modeBox = $('compose-mode');
  const modeText = $('compose-mode-text');
  const updateNote = $('update-targets-note');
  const previewBtn = $('preview');
  const previewBox = $('preview-result');
  const confirmField = $('confirm-live-field');
  const imagesStatus = $('images-status');
  const areaSummary = $('area-summary');

  let directory = { orgs: [], sites: [] };
  let companies = [];
  let sitesByOrg = new Map();
  let publishRef = null;       // the publish awaiting `published`
  let previewRef = null;
  let uploading = false;
  let updateOf = null;         // the sent record being updated, or null
  let ready = false;           // construction finished (callbacks may run)

  /* ---- Small helpers ---------------------------------------------------- */

  function clearInvalid() {
    for (const n of form.querySelectorAll('[aria-invalid]')) n.removeAttribute('aria-invalid');
  }

  function showComposeError(message, kind = '') {
    showError(composeError, message);
    composeError.dataset.kind = kind;
  }

  function areaKind() {
    return form.querySelector('input[name="area-kind"]:checked')?.value || 'none';
  }

  function checkedValues(name) {
    return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  }

  function checkedIds(name) {
    return checkedValues(name).map(Number).filter(Number.isInteger);
  }

  /* The area as typed: {area} (null for none) or {error: AreaError}. */
  function readArea() {
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

  function areaNode(field) {
    const kind = areaKind();
    if (field === 'lat') return f.areaLat;
    if (field === 'lon') return f.areaLon;
    if (field === 'radius') return f.areaRadius;
    if (field === 'polygon') return f.areaPolygon;
    return kind === 'polygon' ? f.areaPolygon : f.areaLat;
  }

  /* ---- Status, severity, classification: how the form looks ------------ */

  function liveConfirmNeeded() {
    return f.status.value === 'actual' && SERIOUS_SEVERITIES.includes(f.severity.value);
  }

  function sendLabel() {
    const w = exerciseWord(f.status.value);
    return `Send ${w ? `${w} ` : ''}${updateOf ? 'update' : 'alert'}`;
  }

  function renderLook() {
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
    $('confirm-live-severity').textContent = f.severity.value;
    if (!need) {
      f.confirmLive.value = '';
      setInvalid(f.confirmLive, false);
    }
  }

  f.status.addEventListener('change', renderLook);
  f.severity.addEventListener('change', () => {
    setInvalid(f.severity, false);
    renderLook();
  });
  f.classification.addEventListener('change', renderLook);

  /* ---- Area -------------------------------------------------------------- */

  function renderAreaKind() {
    const kind = areaKind();
    $('area-circle').hidden = kind !== 'circle';
    $('area-polygon-field').hidden = kind !== 'polygon';
    renderAreaSummary();
  }

  function renderAreaSummary() {
    const kind = areaKind();
    const { area, error } = readArea();
    if (kind === 'none') areaSummary.textContent = 'No area: the alert is not tied to a place.';
    else if (error) areaSummary.textContent = `Not yet a valid area: ${error.message}`;
    else {
      const n = directory.sites.filter((s) => inArea(area, s.lat, s.lon)).length;
      areaSummary.textContent = `${areaText(area)} — about ${n} known site${n === 1 ? '' : 's'} inside.`;
    }
    areaSummary.classList.toggle('warn', Boolean(error) && kind !== 'none');
    updateSummary();
    if (onAreaChange && ready) onAreaChange();
  }

  for (const r of form.querySelectorAll('input[name="area-kind"]')) r.addEventListener('change', renderAreaKind);
  for (const n of [f.areaLat, f.areaLon, f.areaRadius, f.areaPolygon]) {
    n.addEventListener('input', () => {
      setInvalid(n, false);
      renderAreaSummary();
    });
  }

  /* ---- Question ---------------------------------------------------------- */

  function renderRequestKind() {
    const kind = f.requestKind.value;
    $('request-choice').hidden = kind !== 'choice';
    $('request-number').hidden = kind !== 'number';
  }
  f.requestKind.addEventListener('change', renderRequestKind);

  function readRequest() {
    const kind = f.requestKind.value;
    if (kind === 'choice') {
      const options = f.requestOptions.value.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      if (options.length < 2 || options.length > 8) {
        return { error: 'A choice needs 2 to 8 options, one a line.', node: f.requestOptions };
      }
      const long = options.find((o) => o.length > REQUEST_OPTION_MAX);
      if (long) return { error: `The option “${long.slice(0, 50)}…” is longer than ${REQUEST_OPTION_MAX} characters.`, node: f.requestOptions };
      if (new Set(options).size !== options.length) return { error: 'The options must differ.', node: f.requestOptions };
      return { request: { kind: 'choice', options } };
    }
    if (kind === 'number') {
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
    return { request: null };
  }

  /* ---- Recipients ------------------------------------------------------- */

  function describeTargets(targets) {
    if (!targets) return '';
    const names = [];
    for (const id of targets.sites || []) {
      const site = directory.sites.find((s) => s.id === id);
      names.push(site ? site.name : `site ${id}`);
    }
    const filters = [];
    if (targets.orgs?.length) {
      filters.push(targets.orgs.map((id) => {
        const org = directory.orgs.find((o) => o.id === id);
        return `${org ? org.name : `organisation ${id}`} (all its sites)`;
      }).join(' or '));
    }
    if (targets.sectors?.length) filters.push(`sector ${targets.sectors.join(' or ')}`);
    if (targets.area) filters.push('inside the area');
    if (filters.length) names.push(filters.join(', '));
    let text = names.join(', ');
    if (Array.isArray(targets.roles) && targets.roles.length === 1) {
      text += targets.roles[0] === 'site_console' ? ' (site consoles only)' : ' (company desks only)';
    }
    return text;
  }

  function renderTargets() {
    const keepOrgs = new Set(checkedIds('target-org'));
    const keepSites = new Set(checkedIds('target-site'));
    const keepSectors = new Set(checkedValues('target-sector'));

    companies = directory.orgs
      .filter((o) => o.kind === 'security_company')
      .sort((a, b) => a.name.localeCompare(b.name));
    sitesByOrg = new Map();
    for (const s of directory.sites) {
      if (!sitesByOrg.has(s.guard_org_id)) sitesByOrg.set(s.guard_org_id, []);
      sitesByOrg.get(s.guard_org_id).push(s);
    }
    for (const list of sitesByOrg.values()) list.sort((a, b) => a.name.localeCompare(b.name));

    // Sectors: the codes present in the directory's sites.
    const sectorCounts = new Map();
    for (const s of directory.sites) {
      if (s.sector) sectorCounts.set(s.sector, (sectorCounts.get(s.sector) || 0) + 1);
    }
    const sectors = [...sectorCounts.keys()].sort();
    sectorsBox.replaceChildren(...sectors.map((code) => el('label', { class: 'target target-sector' },
      el('input', { type: 'checkbox', name: 'target-sector', value: code, checked: keepSectors.has(code) }),
      el('span', { class: 'target-name' }, code),
      el('span', { class: 'target-meta' }, String(sectorCounts.get(code))))));
    if (!sectors.length) sectorsBox.append(el('p', { class: 'muted' }, 'No sectors in the directory.'));

    const groups = [];
    const companyIds = new Set(companies.map((c) => c.id));
    for (const c of companies) {
      groups.push(renderGroup(c, sitesByOrg.get(c.id) || [], keepOrgs, keepSites));
    }
    const others = directory.sites.filter((s) => !companyIds.has(s.guard_org_id));
    if (others.length) groups.push(renderGroup(null, others, keepOrgs, keepSites));

    targetsBox.replaceChildren(...groups);
    if (!groups.length) {
      targetsBox.append(el('p', { class: 'muted' }, 'The directory lists no companies or sites.'));
    }
    applyFilter();
    renderAreaSummary();
  }

  function renderGroup(company, sites, keepOrgs, keepSites) {
    const group = el('div', {
      class: 'company-group',
      role: 'group',
      dataset: company ? { orgId: String(company.id) } : { orgId: 'other' },
    });
    const name = company ? company.name : 'Other sites';
    group.setAttribute('aria-label', name);
    if (!company) group.append(el('h3', { class: 'company-name' }, name));
    if (company) {
      const n = sites.length;
      group.append(el('label', { class: 'target target-org' },
        el('input', {
          type: 'checkbox', name: 'target-org', value: String(company.id),
          checked: keepOrgs.has(company.id),
        }),
        el('span', { class: 'target-name' }, company.name),
        el('span', { class: 'target-meta' },
          `all its sites (${n} site${n === 1 ? '' : 's'})`)));
    }
    const list = el('ul', { class: 'site-list' });
    for (const s of sites) {
      list.append(el('li', { class: 'site-entry', dataset: { siteId: String(s.id) } },
        el('label', { class: 'target target-site', title: s.address || '' },
          el('input', {
            type: 'checkbox', name: 'target-site', value: String(s.id),
            checked: keepSites.has(s.id),
          }),
          el('span', { class: 'target-name' }, s.name),
          el('span', { class: 'target-meta' }, s.sector || ''))));
    }
    group.append(list);
    return group;
  }

  function applyFilter() {
    const term = f.filter.value.trim().toLowerCase();
    for (const group of targetsBox.querySelectorAll('.company-group')) {
      const orgId = group.dataset.orgId;
      const company = companies.find((c) => String(c.id) === orgId);
      const companyMatch = !term || (company && company.name.toLowerCase().includes(term));
      let anySite = false;
      for (const li of group.querySelectorAll('.site-entry')) {
        const site = directory.sites.find((s) => String(s.id) === li.dataset.siteId);
        const hay = site ? `${site.name} ${site.sector || ''} ${site.address || ''}`.toLowerCase() : '';
        const show = companyMatch || hay.includes(term);
        li.hidden = !show;
        anySite ||= show;
      }
      group.hidden = !(companyMatch || anySite);
    }
  }

  /* What the picker says, and the sites it covers by the page's estimate
   * (named sites, plus the sites matching every filter chosen). */
  function selectedRecipients() {
    const orgs = checkedIds('target-org');
    const sites = checkedIds('target-site');
    const sectors = checkedValues('target-sector');
    const useArea = f.targetArea.checked;
    const roles = checkedValues('target-role');
    const { area } = readArea();
    const covered = new Set(sites);
    if (orgs.length || sectors.length || useArea) {
      for (const s of directory.sites) {
        if (orgs.length && !orgs.includes(s.guard_org_id)) continue;
        if (sectors.length && !sectors.includes(s.sector)) continue;
        if (useArea && !(area && inArea(area, s.lat, s.lon))) continue;
        covered.add(s.id);
      }
    }
    return { orgs, sites, sectors, useArea, roles, covered };
  }

  function updateSummary() {
    const { orgs, sites, sectors, useArea, roles, covered } = selectedRecipients();
    const orgSet = new Set(orgs);
    for (const group of targetsBox.querySelectorAll('.company-group')) {
      group.classList.toggle('org-selected', orgSet.has(Number(group.dataset.orgId)));
    }
    if (!orgs.length && !sites.length && !sectors.length && !useArea) {
      summary.textContent = 'No recipients selected.';
      summary.dataset.count = '0';
      return;
    }
    const parts = [];
    if (sites.length) parts.push(`${sites.length} named site${sites.length === 1 ? '' : 's'}`);
    const filters = [];
    if (orgs.length) filters.push(`${orgs.length} compan${orgs.length === 1 ? 'y' : 'ies'} (all their sites)`);
    if (sectors.length) filters.push(`sector${sectors.length === 1 ? '' : 's'} ${sectors.join(', ')}`);
    if (useArea) filters.push('inside the area');
    if (filters.length) parts.push(filters.join(' × '));
    const n = covered.size;
    let text = `${n} site${n === 1 ? '' : 's'} will receive this alert: ${parts.join(' and ')}.`;
    if (roles.length === 1) text += roles[0] === 'site_console' ? ' Site consoles only.' : ' Company desks only.';
    if (useArea || f.classification.value !== 'OFFICIAL') text += ' An estimate: Preview recipients asks the broker.';
    summary.textContent = text;
    summary.dataset.count = String(n);
  }

  form.addEventListener('change', (ev) => {
    if (ev.target.matches('input[type="checkbox"]')) {
      setInvalid(ev.target, false);
      updateSummary();
      if (!composeError.hidden && composeError.dataset.kind === 'targets') showComposeError('');
    }
  });
  f.filter.addEventListener('input', applyFilter);
  $('targets-clear').addEventListener('click', () => {
    for (const i of form.querySelectorAll('input[name="target-org"]:checked, input[name="target-site"]:checked, input[name="target-sector"]:checked')) {
      i.checked = false;
    }
    f.targetArea.checked = false;
    updateSummary();
  });

  /* ---- Preview ------------------------------------------------------------ */

  function markPreviewStale() {
    if (!previewBox.hidden && previewBox.dataset.state === 'shown') {
      previewBox.dataset.stale = 'true';
      previewBox.querySelector('.preview-stale')?.removeAttribute('hidden');
    }
  }
  form.addEventListener('input', markPreviewStale);
  form.addEventListener('change', markPreviewStale);

  function previewMessage(text, state) {
    previewBox.hidden = false;
    previewBox.dataset.state = state;
    delete previewBox.dataset.stale;
    previewBox.replaceChildren(el('p', { class: state === 'error' ? 'form-error' : 'muted' }, text));
  }

  previewBtn.addEventListener('click', () => {
    if (previewRef) return;
    clearInvalid();
    showComposeError('');
    const r = collect('preview');
    if (r.error) return failWith(r.error, previewMessage);
    const ref = session.request('preview', r.frame);
    if (!ref) return previewMessage('Not connected to the broker: no preview. Try again when the connection is back.', 'error');
    previewRef = ref;
    previewMessage('Asking the broker…', 'loading');
    return null;
  });

  function orgName(id) {
    return directory.orgs.find((o) => o.id === id)?.name || '';
  }

  function onPreview(frame, req) {
    if (frame.ref && frame.ref === previewRef) previewRef = null;
    const recipients = Array.isArray(frame.recipients) ? frame.recipients : [];
    const excluded = Array.isArray(frame.excluded) ? frame.excluded : [];
    const count = Number.isInteger(frame.count) ? frame.count : recipients.length;
    previewBox.hidden = false;
    previewBox.dataset.state = 'shown';
    delete previewBox.dataset.stale;
    const rolesNote = Array.isArray(req?.targets?.roles) && req.targets.roles.length === 1
      ? (req.targets.roles[0] === 'site_console' ? ' (site consoles only)' : ' (company desks only)') : '';
    previewBox.replaceChildren(...[
      el('p', { class: 'preview-stale notice', hidden: true }, 'The form has changed since this preview: preview again before sending.'),
      el('p', { class: 'preview-count', dataset: { count: String(count) } },
        el('strong', {}, String(count)), ` site${count === 1 ? '' : 's'} would receive this alert${rolesNote}.`),
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

  /* ---- Collecting the form -------------------------------------------- */

  /* A client-side refusal: {message, node, kind}. */
  function problem(message, node, kind = 'field') {
    return { error: { message, node, kind } };
  }

  function failWith(error, show = (m) => showComposeError(m, error.kind)) {
    show(error.message, 'error');
    if (error.node) {
      setInvalid(error.node, true);
      error.node.focus();
    }
    return null;
  }

  function readTargets() {
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

  /* mode: 'publish' (a new alert or an update) or 'preview'. Returns
   * {frame} or {error}. */
  function collect(mode) {
    const frame = {};
    const a = readArea();
    if (a.error) return problem(a.error.message, areaNode(a.error.field), 'area');
    if (mode === 'preview') {
      const t = readTargets();
      if (t.error) return t;
      if (t.targets.area && !a.area) return problem('“Every site inside the area” needs an area: choose a circle or a polygon.', f.targetArea, 'targets');
      frame.targets = t.targets;
      if (a.area) frame.area = a.area;
      frame.classification = f.classification.value;
      return { frame };
    }

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

    let expires = null;
    if (f.expires.value) {
      const d = new Date(f.expires.value);  // datetime-local: local time
      if (Number.isNaN(d.getTime())) return problem('The expiry time is not a valid date and time.', f.expires);
      if (d.getTime() <= Date.now() + 30000) return problem('The expiry time must be in the future.', f.expires);
      expires = d.toISOString();
    }

    const rq = readRequest();
    if (rq.error) return problem(rq.error, rq.node);

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

    const full = {
      headline: h,
      body: f.body.value,
      severity: f.severity.value,
      status: f.status.value,
      category: f.category.value,
      urgency: f.urgency.value,
      certainty: f.certainty.value,
      classification: f.classification.value,
      instruction,
      handling,
    };
    if (expires) full.expires = expires;
    if (a.area) full.area = a.area;
    if (rq.request) full.request = rq.request;

    if (updateOf) {
      // An update carries the fields that changed; the broker keeps the rest.
      const o = updateOf;
      const same = (x, y) => JSON.stringify(x ?? '') === JSON.stringify(y ?? '');
      const defaults = { status: 'actual', category: 'advice', urgency: 'unknown', certainty: 'unknown', classification: 'OFFICIAL' };
      for (const k of ['headline', 'body', 'severity', 'status', 'category', 'urgency', 'certainty',
        'classification', 'instruction', 'handling']) {
        if (!same(full[k], o[k] ?? defaults[k] ?? '')) frame[k] = full[k];
      }
      if (expires && !same(expires, o.expires)) frame.expires = expires;
      if (a.area && !same(a.area, o.area)) frame.area = a.area;
      if (rq.request && !same(rq.request, o.request)) frame.request = rq.request;
      if (!Object.keys(frame).length && !files.length) {
        return problem('Nothing has changed: edit the alert before sending the update.', f.headline, 'headline');
      }
      frame.msg_type = 'update';
      frame.references = o.alert_id;
    } else {
      const t = readTargets();
      if (t.error) return t;
      if (t.targets.area && !a.area) return problem('“Every site inside the area” needs an area: choose a circle or a polygon.', f.targetArea, 'targets');
      Object.assign(frame, full);
      if (!frame.instruction) delete frame.instruction;
      if (!frame.handling) delete frame.handling;
      frame.targets = t.targets;
    }

    if (liveConfirmNeeded() && !/\bSEND\b/i.test(f.confirmLive.value)) {
      return problem(`This is a live ${f.severity.value} alert: type SEND in the confirmation box to send it.`, f.confirmLive, 'confirm');
    }
    return { frame, files, days };
  }

  /* ---- Publishing ----------------------------------------------------- */

  function setSending(on, text = 'Sending…') {
    sendBtn.disabled = on;
    sendBtn.textContent = on ? text : sendLabel();
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function updateBodyCount() {
    bodyCount.textContent = `${f.body.value.length} / 4000`;
  }
  f.body.addEventListener('input', updateBodyCount);
  form.addEventListener('input', (ev) => {
    if (ev.target.matches('input, textarea, select')) setInvalid(ev.target, false);
    if (composeError.dataset.kind === 'headline' && ev.target === f.headline) showComposeError('');
    if (composeError.dataset.kind === 'confirm' && ev.target === f.confirmLive) showComposeError('');
  });
  f.images.addEventListener('change', () => {
    setInvalid(f.images, false);
    const files = [...(f.images.files || [])];
    imagesStatus.textContent = files.length
      ? `${files.length} image${files.length === 1 ? '' : 's'} chosen: ${files.map((x) => x.name).join(', ')}. Uploaded when you send.`
      : (updateOf?.images?.length ? `The alert keeps its ${updateOf.images.length} image${updateOf.images.length === 1 ? '' : 's'} unless you choose new ones.` : '');
  });

  function clearForm() {
    form.reset();
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

  function setMode(rec) {
    updateOf = rec;
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
    $('preview').closest('.preview-block').hidden = upd;
    renderLook();
  }

  $('compose-mode-exit').addEventListener('click', () => {
    setMode(null);
    clearForm();
    showComposeError('');
    f.headline.focus();
  });

  function toLocalInput(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  /* Open the form on a sent alert, as msg_type update. */
  function startUpdate(rec) {
    if (publishRef || uploading) {
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
    setMode(rec);
    renderAreaKind();
    renderRequestKind();
    updateBodyCount();
    imagesStatus.textContent = rec.images?.length
      ? `The alert keeps its ${rec.images.length} image${rec.images.length === 1 ? '' : 's'} unless you choose new ones.` : '';
    panel.scrollIntoView({ block: 'start' });
    f.headline.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (publishRef || uploading) return;
    showComposeError('');
    clearInvalid();
    const r = collect('publish');
    if (r.error) return failWith(r.error);
    if (!session.connected) {
      return failWith({ message: 'Not connected to the broker: the alert was not sent. Wait until the connection is back, then send again.', kind: 'connection' });
    }
    const { frame, files, days } = r;
    if (files.length) {
      uploading = true;
      const ids = [];
      try {
        for (let i = 0; i < files.length; i++) {
          setSending(true, `Uploading image ${i + 1} of ${files.length}…`);
          imagesStatus.textContent = `Uploading ${files[i].name} (${i + 1} of ${files.length})…`;
          ids.push(await uploadImage(token, files[i]));
        }
      } catch (err) {
        uploading = false;
        setSending(false);
        imagesStatus.textContent = '';
        return failWith({ message: `The alert was not sent. ${err.message}`, node: f.images, kind: 'images' });
      }
      uploading = false;
      imagesStatus.textContent = `${ids.length} image${ids.length === 1 ? '' : 's'} uploaded.`;
      frame.images = ids;
      frame.image_days = days;
    }
    const ref = session.request('publish', frame);
    if (!ref) {
      setSending(false);
      return failWith({ message: 'Not connected to the broker: the alert was not sent.', kind: 'connection' });
    }
    publishRef = ref;
    setSending(true);
    return null;
  });

  /* ---- Broker answers ------------------------------------------------- */

  // The input a broker `field` names (docs/protocol.md error frames).
  function fieldNode(field, req) {
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

  function onPublished(frame) {
    if (frame.ref && frame.ref === publishRef) {
      publishRef = null;
      setSending(false);
      setMode(null);
      clearForm();
      showComposeError('');
      f.headline.focus();
    }
  }

  /* A publish (new alert or update) or preview failed. */
  function onError(frame, req) {
    if (req?.type === 'preview') {
      previewRef = null;
      if (isUnsupported(frame)) return previewMessage(unsupportedText('Previewing recipients'), 'error');
      const node = fieldNode(frame.field, req);
      if (node) setInvalid(node, true);
      return previewMessage(`No preview: ${describeError(frame)}`, 'error');
    }
    publishRef = null;
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

  function onLost(requests) {
    if (requests.some((r) => r.type === 'publish' && r.ref === publishRef)) {
      publishRef = null;
      setSending(false);
      showComposeError('The connection dropped before the broker confirmed this alert: it may or may not have been sent. Check with the recipients before sending it again.', 'connection');
    }
    if (requests.some((r) => r.ref === previewRef)) {
      previewRef = null;
      previewMessage('The connection dropped before the preview came back. Try again when the connection is back.', 'error');
    }
  }

  function setDirectory(dir) {
    directory = dir;
    renderTargets();
  }

  /* Fill the form from a template (js/templates.js): the wording, the
   * alert model's codes and the question; area and recipients are kept. */
  function applyTemplate(t) {
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

  renderAreaKind();
  renderRequestKind();
  renderLook();
  ready = true;

  return {
    setDirectory,
    applyTemplate,
    startUpdate,
    onPublished,
    onPreview,
    onError,
    onLost,
    describeTargets,
    showError: showComposeError,
    /* The area as typed, for Report now and Area totals. */
    currentArea: readArea,
    areaKind,
    get publishRef() { return publishRef; },
  };
}
