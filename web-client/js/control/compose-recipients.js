// control/compose-recipients.js: who receives the alert. The picker
// (named sites grouped by their security company, whole companies, the
// sectors present in the directory, "Every site inside the area", the
// two roles), its filter, and #target-summary: the page's estimate of the
// sites covered (named sites ∪ sites matching every filter chosen); with
// the area or OFFICIAL-SENSITIVE it says to ask the broker with Preview.
// Also the area's kind and #area-summary (the known sites inside it).

import { el, setInvalid } from '../ui.js';
import { areaText, inArea } from '../area.js';
import {
  composer, showComposeError, areaKind, checkedValues, checkedIds, readArea,
} from './composer.js';

const rolesText = (roles) => (roles[0] === 'site_console' ? ' (site consoles only)' : ' (company desks only)');

export function describeTargets(targets) {
  const { directory } = composer;
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
  if (Array.isArray(targets.roles) && targets.roles.length === 1) text += rolesText(targets.roles);
  return text;
}

/* " (site consoles only)" when the frame's targets name one role. */
export function rolesNote(targets) {
  return Array.isArray(targets?.roles) && targets.roles.length === 1 ? rolesText(targets.roles) : '';
}

// Sectors: the codes present in the directory's sites.
function renderSectors() {
  const { sectorsBox } = composer.dom;
  const keepSectors = new Set(checkedValues('target-sector'));
  const sectorCounts = new Map();
  for (const s of composer.directory.sites) {
    if (s.sector) sectorCounts.set(s.sector, (sectorCounts.get(s.sector) || 0) + 1);
  }
  const sectors = [...sectorCounts.keys()].sort();
  sectorsBox.replaceChildren(...sectors.map((code) => el('label', { class: 'target target-sector' },
    el('input', { type: 'checkbox', name: 'target-sector', value: code, checked: keepSectors.has(code) }),
    el('span', { class: 'target-name' }, code),
    el('span', { class: 'target-meta' }, String(sectorCounts.get(code))))));
  if (!sectors.length) sectorsBox.append(el('p', { class: 'muted' }, 'No sectors in the directory.'));
}

export function renderTargets() {
  const { directory } = composer;
  const { targetsBox } = composer.dom;
  const keepOrgs = new Set(checkedIds('target-org'));
  const keepSites = new Set(checkedIds('target-site'));

  composer.companies = directory.orgs
    .filter((o) => o.kind === 'security_company')
    .sort((a, b) => a.name.localeCompare(b.name));
  const sitesByOrg = new Map();
  for (const s of directory.sites) {
    if (!sitesByOrg.has(s.guard_org_id)) sitesByOrg.set(s.guard_org_id, []);
    sitesByOrg.get(s.guard_org_id).push(s);
  }
  for (const list of sitesByOrg.values()) list.sort((a, b) => a.name.localeCompare(b.name));

  renderSectors();

  const groups = [];
  const companyIds = new Set(composer.companies.map((c) => c.id));
  for (const c of composer.companies) {
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

export function applyFilter() {
  const term = composer.f.filter.value.trim().toLowerCase();
  for (const group of composer.dom.targetsBox.querySelectorAll('.company-group')) {
    const orgId = group.dataset.orgId;
    const company = composer.companies.find((c) => String(c.id) === orgId);
    const companyMatch = !term || (company && company.name.toLowerCase().includes(term));
    let anySite = false;
    for (const li of group.querySelectorAll('.site-entry')) {
      const site = composer.directory.sites.find((s) => String(s.id) === li.dataset.siteId);
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
export function selectedRecipients() {
  const orgs = checkedIds('target-org');
  const sites = checkedIds('target-site');
  const sectors = checkedValues('target-sector');
  const useArea = composer.f.targetArea.checked;
  const roles = checkedValues('target-role');
  const { area } = readArea();
  const covered = new Set(sites);
  if (orgs.length || sectors.length || useArea) {
    for (const s of composer.directory.sites) {
      if (orgs.length && !orgs.includes(s.guard_org_id)) continue;
      if (sectors.length && !sectors.includes(s.sector)) continue;
      if (useArea && !(area && inArea(area, s.lat, s.lon))) continue;
      covered.add(s.id);
    }
  }
  return { orgs, sites, sectors, useArea, roles, covered };
}

function updateSummary() {
  const { summary, targetsBox } = composer.dom;
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
  if (useArea || composer.f.classification.value !== 'OFFICIAL') text += ' An estimate: Preview recipients asks the broker.';
  summary.textContent = text;
  summary.dataset.count = String(n);
}

/* ---- Area -------------------------------------------------------------- */

export function renderAreaKind() {
  const kind = areaKind();
  document.getElementById('area-circle').hidden = kind !== 'circle';
  document.getElementById('area-polygon-field').hidden = kind !== 'polygon';
  renderAreaSummary();
}

function renderAreaSummary() {
  const { areaSummary } = composer.dom;
  const kind = areaKind();
  const { area, error } = readArea();
  if (kind === 'none') areaSummary.textContent = 'No area: the alert is not tied to a place.';
  else if (error) areaSummary.textContent = `Not yet a valid area: ${error.message}`;
  else {
    const n = composer.directory.sites.filter((s) => inArea(area, s.lat, s.lon)).length;
    areaSummary.textContent = `${areaText(area)} — about ${n} known site${n === 1 ? '' : 's'} inside.`;
  }
  areaSummary.classList.toggle('warn', Boolean(error) && kind !== 'none');
  updateSummary();
  if (composer.onAreaChange && composer.ready) composer.onAreaChange();
}

/* The area inputs, then the picker's boxes, filter and Clear. */
export function wireRecipients() {
  const { f, form } = composer;
  const { composeError } = composer.dom;
  for (const r of form.querySelectorAll('input[name="area-kind"]')) r.addEventListener('change', renderAreaKind);
  for (const n of [f.areaLat, f.areaLon, f.areaRadius, f.areaPolygon]) {
    n.addEventListener('input', () => {
      setInvalid(n, false);
      renderAreaSummary();
    });
  }
  form.addEventListener('change', (ev) => {
    if (ev.target.matches('input[type="checkbox"]')) {
      setInvalid(ev.target, false);
      updateSummary();
      if (!composeError.hidden && composeError.dataset.kind === 'targets') showComposeError('');
    }
  });
  f.filter.addEventListener('input', applyFilter);
  document.getElementById('targets-clear').addEventListener('click', () => {
    for (const i of form.querySelectorAll('input[name="target-org"]:checked, input[name="target-site"]:checked, input[name="target-sector"]:checked')) {
      i.checked = false;
    }
    f.targetArea.checked = false;
    updateSummary();
  });
}
