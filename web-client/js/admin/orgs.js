// admin/orgs.js: the admin page's Organisations panel: the police force,
// its units and the security companies (#orgs-table), #org-form to add
// one (`admin` op `org_add`), and Disable (`org_disable`: every user of it
// is disabled and signed out; its sites stay, as buildings do).

import { el } from '../ui.js';
import { ORG_KIND_LABELS, label } from '../vocab.js';
import {
  send, onLists, stateCell, rowButton, setOptions, confirmed,
} from './desk.js';

const $ = (id) => document.getElementById(id);

function orgRow(o) {
  const disable = o.disabled ? null : rowButton('Disable', 'org-disable', `Disable ${o.name}`, () => {
    if (!confirmed(`Disable ${o.name}? Every user of it is disabled and signed out.`)) return;
    send('org_disable', { org: String(o.id) });
  });
  return el('tr', { dataset: { orgId: String(o.id), kind: o.kind } },
    el('th', { scope: 'row', class: 'name' }, o.name),
    el('td', { class: 'kind' }, label(ORG_KIND_LABELS, o.kind)),
    el('td', { class: 'sites' }, String(o.sites ?? 0)),
    el('td', { class: 'users' }, String(o.active_users ?? 0)),
    stateCell(o.disabled),
    el('td', { class: 'actions' }, disable));
}

function onSubmit(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const parent = $('org-parent').value;
  send('org_add', { name: $('org-name').value.trim(), kind: $('org-kind').value, ...(parent ? { parent } : {}) },
    { form, error: $('org-error'), onDone: () => form.reset() });
}

export function setupOrgs() {
  const tbody = $('orgs-table').tBodies[0];
  setOptions($('org-kind'), Object.entries(ORG_KIND_LABELS));
  $('org-form').addEventListener('submit', onSubmit);
  onLists(({ orgs }) => {
    tbody.replaceChildren(...orgs.map(orgRow));
    setOptions($('org-parent'), [['', 'None'], ...orgs.filter((o) => !o.disabled).map((o) => [String(o.id), o.name])]);
  });
}
