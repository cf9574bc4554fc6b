// admin/sites.js: the admin page's Sites panel: the sites (#sites-table,
// rows tr[data-site-id] with a Disable button) and #site-form, which adds
// one (`admin` op `site_add`). Its place is a pin on #site-map (a click
// fills the latitude and longitude, and typing them moves the pin), which
// shows the other sites too; it must lie in the force's area.

import { el } from '../ui.js';
import { createCityMap } from '../map.js';
import { checkPlace, AreaError } from '../area.js';
import {
  send, onLists, stateCell, rowButton, setOptions, confirmed,
} from './desk.js';

const $ = (id) => document.getElementById(id);

function siteRow(s) {
  const disable = s.disabled ? null : rowButton('Disable', 'site-disable', `Disable ${s.name}`, () => {
    if (!confirmed(`Disable ${s.name}? Its console devices are disabled and signed out.`)) return;
    send('site_disable', { site: String(s.id) });
  });
  return el('tr', { dataset: { siteId: String(s.id), slug: s.slug || '' } },
    el('th', { scope: 'row', class: 'name' }, s.name, el('span', { class: 'admin-sub' }, s.address || '')),
    el('td', { class: 'slug' }, s.slug || '—'),
    el('td', { class: 'sector' }, s.sector || ''),
    el('td', { class: 'guard' }, s.guard_org || ''),
    el('td', { class: 'cleared' }, s.cleared ? 'Yes' : 'No'),
    stateCell(s.disabled),
    el('td', { class: 'actions' }, disable));
}

/* The pin and the typed place, in step. */
function setupPlace(map) {
  const lat = $('site-lat');
  const lon = $('site-lon');
  const note = $('site-map-note');
  const render = () => {
    if (!lat.value.trim() || !lon.value.trim()) {
      map.setPin(null);
      note.textContent = 'Click the map where the building is, or type its latitude and longitude.';
      return;
    }
    try {
      const p = checkPlace(lat.value, lon.value);
      map.setPin(p);
      note.textContent = `The site is at ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}.`;
    } catch (err) {
      if (!(err instanceof AreaError)) throw err;
      map.setPin(null);
      note.textContent = err.message;
    }
  };
  map.onPick((p) => {
    lat.value = p.lat.toFixed(6);
    lon.value = p.lon.toFixed(6);
    render();
  });
  for (const n of [lat, lon]) n.addEventListener('input', render);
  return render;
}

function onSubmit(ev, renderPlace) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const error = $('site-error');
  const v = (id) => $(id).value.trim();
  let place;
  try {
    place = checkPlace($('site-lat').value, $('site-lon').value);
  } catch (err) {
    if (!(err instanceof AreaError)) throw err;
    error.textContent = err.message;
    error.hidden = false;
    $(err.field === 'lon' ? 'site-lon' : 'site-lat').focus();
    return;
  }
  const fields = {
    name: v('site-name'), slug: v('site-slug'), address: v('site-address'), sector: v('site-sector'),
    guard: v('site-guard'), lat: place.lat, lon: place.lon, cleared: $('site-cleared').checked,
  };
  send('site_add', { fields }, {
    form,
    error,
    onDone: (frame) => {
      form.reset();
      renderPlace();
      $('admin-announcer').textContent = `Site ${frame.rows?.[0]?.name || ''} added.`;
    },
  });
}

export function setupSites() {
  const tbody = $('sites-table').tBodies[0];
  const map = createCityMap($('site-map'), { label: 'Map: click where the site is' });
  const renderPlace = setupPlace(map);
  $('site-form').addEventListener('submit', (ev) => onSubmit(ev, renderPlace));
  onLists(({ sites, sectors, orgs }) => {
    tbody.replaceChildren(...sites.map(siteRow));
    map.setSites(sites.filter((s) => !s.disabled));
    setOptions($('site-sector'), sectors.map((x) => [x.code, x.name]));
    setOptions($('site-guard'), orgs.filter((o) => o.kind === 'security_company' && !o.disabled)
      .map((o) => [o.name, o.name]));
  });
}
