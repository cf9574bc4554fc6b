// admin/people.js: the admin page's Console devices and Users panels.
// A console device is a site_console user of one site, named
// console.<slug>[.<name>] (`admin` op `device_add`, `device_revoke`); a
// user has a role and an organisation (`user_add`, `user_disable`,
// `user_enable`, `user_password`). A new device, a new user and a new
// password come with a one-time password, shown once (password.js).

import { el } from '../ui.js';
import { ROLE_LABELS, label } from '../vocab.js';
import {
  send, onLists, stateCell, rowButton, setOptions, confirmed,
} from './desk.js';

const $ = (id) => document.getElementById(id);

function deviceRow(u, sites) {
  const site = sites.find((s) => s.id === u.site_id);
  const revoke = u.disabled ? null : rowButton('Revoke', 'device-revoke', `Revoke ${u.username}`, () => {
    if (!confirmed(`Revoke ${u.username}? It is signed out at once and cannot sign in again.`)) return;
    send('device_revoke', { username: u.username });
  });
  return el('tr', { dataset: { username: u.username } },
    el('th', { scope: 'row', class: 'username' }, u.username),
    el('td', { class: 'site' }, site ? site.name : u.site || '—'),
    el('td', { class: 'org' }, u.org || ''),
    stateCell(u.disabled),
    el('td', { class: 'actions' }, revoke));
}

function userRow(u) {
  const toggle = rowButton(u.disabled ? 'Enable' : 'Disable', 'user-toggle',
    `${u.disabled ? 'Enable' : 'Disable'} ${u.username}`, () => {
      if (!u.disabled && !confirmed(`Disable ${u.username}? Their sessions end within seconds.`)) return;
      send(u.disabled ? 'user_enable' : 'user_disable', { username: u.username });
    });
  const password = rowButton('New password', 'user-password', `A new password for ${u.username}`, () => {
    if (!confirmed(`Give ${u.username} a new password? The old one stops working and their sessions end.`)) return;
    send('user_password', { username: u.username });
  });
  return el('tr', { dataset: { username: u.username, role: u.role } },
    el('th', { scope: 'row', class: 'username' }, u.username),
    el('td', { class: 'display-name' }, u.display_name || ''),
    el('td', { class: 'role' }, label(ROLE_LABELS, u.role)),
    el('td', { class: 'org' }, u.org || ''),
    el('td', { class: 'cleared' }, u.cleared ? 'Yes' : 'No'),
    stateCell(u.disabled),
    el('td', { class: 'actions' }, toggle, ' ', password));
}

function onDevice(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const name = $('device-name').value.trim();
  send('device_add', { site: $('device-site').value, ...(name ? { name } : {}) },
    { form, error: $('device-error'), onDone: () => { $('device-name').value = ''; } });
}

function onUser(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const display = $('user-display').value.trim();
  send('user_add', {
    username: $('user-username').value.trim(),
    role: $('user-role-select').value,
    org: $('user-org').value,
    cleared: $('user-cleared').checked,
    ...(display ? { display_name: display } : {}),
  }, { form, error: $('user-error'), onDone: () => form.reset() });
}

export function setupPeople() {
  const devices = $('devices-table').tBodies[0];
  const users = $('users-table').tBodies[0];
  setOptions($('user-role-select'), Object.entries(ROLE_LABELS).filter(([r]) => r !== 'site_console'));
  $('device-form').addEventListener('submit', onDevice);
  $('user-form').addEventListener('submit', onUser);
  onLists(({ users: list, sites, orgs }) => {
    devices.replaceChildren(...list.filter((u) => u.role === 'site_console').map((u) => deviceRow(u, sites)));
    users.replaceChildren(...list.filter((u) => u.role !== 'site_console').map(userRow));
    setOptions($('device-site'), sites.filter((s) => !s.disabled && s.slug).map((s) => [s.slug, s.name]));
    setOptions($('user-org'), orgs.filter((o) => !o.disabled).map((o) => [o.name, o.name]));
  });
}
