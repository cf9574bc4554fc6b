// console/sites.js: the sites around the desk. A site console's "Our
// history" (its own site only); a company desk's status board of its
// sites (`board` on every welcome, then `status_update`), with console
// presence asked again every PRESENCE_POLL_MS, and its map: its sites by
// latest state and console presence, and the areas of the alerts in its
// history that are still in force (not cancelled, replaced or expired).

import { showError, describeError, isUnsupported, unsupportedText } from '../ui.js';
import { createBoard } from '../board.js';
import { setupHistory } from '../history.js';
import { createCityMap } from '../map.js';
import { desk, byAge } from './desk.js';
import { isExpired } from './words.js';

// How often a company desk asks again which of its sites are connected.
const PRESENCE_POLL_MS = 15000;

const map = {
  deskMap: null,
  sites: new Map(),    // site id -> latest board row
  fitted: false,       // zoomed to our sites once
};
let boardUnsupported = false;

function consolesOnline(id) {
  return desk.directory.sites.find((x) => x.id === id)?.consoles_online;
}

function renderDeskMap() {
  const { deskMap, sites } = map;
  if (!deskMap) return;
  if (!map.fitted && sites.size) {
    map.fitted = true;
    deskMap.fitTo([...sites.values()]);
  }
  deskMap.setSites([...sites.values()].map((x) => ({
    id: x.site_id, name: x.site_name, lat: x.lat, lon: x.lon, state: x.state, reported_at: x.reported_at,
  })), (x) => [x.reported_at ? `state-${x.state}` : 'never', consolesOnline(x.id) === 0 ? 'console-offline' : ''].join(' '));
  const live = [...desk.entries.values()]
    .filter((e) => e.alert.area && e.alert.msg_type !== 'cancel' && !e.replaced && e.status !== 'cancelled' && !isExpired(e.alert))
    .sort(byAge).slice(-20);
  deskMap.setAreas(live.map((e) => ({
    area: e.alert.area, id: e.alert.id, className: `area-shape${e.alert.status && e.alert.status !== 'actual' ? ' is-exercise' : ''}`,
  })));
}

function setupCompanyBoard(siteHistory) {
  const $ = (id) => document.getElementById(id);
  const { session } = desk;
  $('board-panel').hidden = false;
  const board = createBoard($('board'), $('board-summary'), {
    onHistory: (id, name, btn) => siteHistory.open(id, name, btn),
    orgName: (id) => desk.directory.orgs.find((o) => o.id === id)?.name || '',
    // consoles_online (docs/protocol.md `directory`), asked again every
    // PRESENCE_POLL_MS while connected.
    presence: (id) => {
      const n = consolesOnline(id);
      return Number.isFinite(n) ? n : null;
    },
  });
  desk.board = board;
  setInterval(() => {
    if (session.connected && document.visibilityState !== 'hidden') session.request('directory');
  }, PRESENCE_POLL_MS);
  session.on('board', (frame) => {
    showError($('board-error'), '');
    board.setSites(frame.sites);
    map.sites.clear();
    for (const x of Array.isArray(frame.sites) ? frame.sites : []) if (x && Number.isFinite(x.site_id)) map.sites.set(x.site_id, x);
    renderDeskMap();
  });
  session.on('status_update', (frame) => {
    if (frame.site) board.update(frame.site);
    const x = frame.site;
    if (x && Number.isFinite(x.site_id)) map.sites.set(x.site_id, { ...map.sites.get(x.site_id), ...x });
    renderDeskMap();
  });
  session.on('directory', () => renderDeskMap());
  session.on('alert', () => renderDeskMap());
  session.on('welcome', () => {
    if (!boardUnsupported && !session.request('board')) board.message('Not connected.');
  });
}

export function setupSites() {
  const siteHistory = setupHistory(desk.session);
  if (desk.canAck) {
    // The building console's "Our history": its own site only.
    const ours = document.getElementById('our-history');
    ours.hidden = false;
    ours.addEventListener('click', () => siteHistory.open(desk.user.site_id,
      desk.directory.sites.find((s) => s.id === desk.user.site_id)?.name || desk.user.site_name, ours));
    return;
  }
  setupCompanyBoard(siteHistory);
  map.deskMap = createCityMap(document.getElementById('desk-map'), { label: 'Map of our sites and the alert areas' });
}

export function onBoardError(frame) {
  const { board } = desk;
  if (!board) return;
  if (isUnsupported(frame)) {
    boardUnsupported = true;
    board.message(unsupportedText('The status board'));
    return;
  }
  board.message('');
  showError(document.getElementById('board-error'), `The board could not be loaded: ${describeError(frame)}`);
}
