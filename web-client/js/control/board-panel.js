// control/board-panel.js: the control room's picture of the sites: the
// status board #board (`board` on every welcome, then `status_update`),
// the site history dialog its rows open, the area totals form
// (`area_totals`, a circle typed or copied from the compose form), and the
// board map (boardmap.js), where a click asks for the totals around that
// point.

import {
  el, formatTime, showError, describeError, isUnsupported, unsupportedText,
} from '../ui.js';
import { createBoard } from '../board.js';
import { setupHistory } from '../history.js';
import { areaText, checkLat, checkLon, checkRadius, AreaError } from '../area.js';
import { STATE_LABELS } from '../vocab.js';
import { room, orgName, knowSites } from './room.js';
import { setupBoardMap } from './boardmap.js';

const $ = (id) => document.getElementById(id);

const panel = {
  board: null,
  boardUnsupported: false,
  totalsRef: null,
  form: null, out: null, error: null, lat: null, lon: null, radius: null,
};

export function requestBoard() {
  if (panel.boardUnsupported) return;
  if (!room.session.request('board')) panel.board.message('Not connected: the board loads when the connection is back.');
}

export function rerenderBoard() {
  panel.board.rerender();
}

export function onBoardError(frame) {
  const { board } = panel;
  if (isUnsupported(frame)) {
    panel.boardUnsupported = true;
    board.message(unsupportedText('The status board'));
    return;
  }
  showError($('board-error'), `The board could not be loaded: ${describeError(frame)}`);
  board.message('');
}

/* ---- Area totals ----------------------------------------------------- */

function totalsFail(message, node) {
  showError(panel.error, message);
  if (node) {
    node.setAttribute('aria-invalid', 'true');
    node.focus();
  }
}

function useComposeArea() {
  const { lat, lon, radius } = panel;
  showError(panel.error, '');
  const { area, error } = room.compose.currentArea();
  if (error || !area?.circle) {
    totalsFail(error ? `The alert form’s area is not valid yet: ${error.message}`
      : 'The alert form has no circle: choose Area → Circle there, or type a centre and radius here.');
    return;
  }
  lat.value = String(area.circle.lat);
  lon.value = String(area.circle.lon);
  radius.value = String(area.circle.radius_m);
  radius.focus();
}

function onTotalsSubmit(ev) {
  const { lat: tLat, lon: tLon, radius: tRadius } = panel;
  ev.preventDefault();
  showError(panel.error, '');
  for (const n of [tLat, tLon, tRadius]) n.removeAttribute('aria-invalid');
  let lat;
  let lon;
  let radius;
  try {
    lat = checkLat(tLat.value, 'lat');
    lon = checkLon(tLon.value, 'lon');
    radius = checkRadius(tRadius.value, 'radius');
  } catch (err) {
    if (!(err instanceof AreaError)) throw err;
    totalsFail(err.message, { lat: tLat, lon: tLon, radius: tRadius }[err.field]);
    return;
  }
  const ref = room.session.request('area_totals', { lat, lon, radius_m: radius });
  if (!ref) {
    totalsFail('Not connected to the broker. Try again when the connection is back.');
    return;
  }
  panel.totalsRef = ref;
  $('totals-send').disabled = true;
}

function onAreaTotals(frame, req) {
  if (frame.ref === panel.totalsRef) panel.totalsRef = null;
  $('totals-send').disabled = false;
  const where = req ? areaText({ circle: { lat: req.lat, lon: req.lon, radius_m: req.radius_m } }) : '';
  const cell = (text, cls, v) => el('div', { class: `count count-${cls}` },
    el('dt', {}, text), el('dd', { class: cls }, String(Number.isFinite(v) ? v : 0)));
  const states = frame.by_state && typeof frame.by_state === 'object' ? frame.by_state : {};
  const stateText = Object.keys(STATE_LABELS)
    .map((k) => `${STATE_LABELS[k]} ${Number(states[k]) || 0}`).join(' · ');
  panel.out.replaceChildren(
    el('p', { class: 'totals-head' }, `${where}: `,
      el('strong', { class: 'sites' }, String(frame.sites ?? 0)), ' sites, ',
      el('strong', { class: 'reported' }, String(frame.reported ?? 0)), ' reported',
      el('span', { class: 'muted' }, ` (at ${formatTime(new Date().toISOString())})`)),
    el('dl', { class: 'counts totals-grid' },
      cell('People', 'people', frame.people),
      cell('Officers', 'officers', frame.officers),
      cell('Trauma packs', 'trauma-packs', frame.trauma_packs),
      cell('First-aid kits', 'first-aid-kits', frame.first_aid_kits),
      cell('Defibrillators', 'defibrillators', frame.defibrillators),
      cell('First-aiders', 'first-aiders', frame.first_aiders),
      cell('CCTV down', 'cctv-down', frame.cctv_down)),
    el('p', { class: 'totals-states by-state' }, `States: ${stateText}`));
  panel.out.hidden = false;
}

export function onTotalsError(frame) {
  panel.totalsRef = null;
  $('totals-send').disabled = false;
  if (isUnsupported(frame)) {
    totalsFail(unsupportedText('Area totals'));
    return;
  }
  const f = String(frame.field || '');
  const node = f.startsWith('lat') ? panel.lat : f.startsWith('lon') ? panel.lon : f.startsWith('radius') ? panel.radius : null;
  totalsFail(`No totals: ${describeError(frame)}`, node);
}

/* The area totals request on the wire when the connection dropped. */
export function totalsLost() {
  panel.totalsRef = null;
  $('totals-send').disabled = false;
}

// The board map: a click asks for the totals around that point.
function pickTotals({ lat, lon }) {
  const { lat: tLat, lon: tLon, radius: tRadius } = panel;
  tLat.value = lat.toFixed(6);
  tLon.value = lon.toFixed(6);
  if (!tRadius.value) tRadius.value = '300';
  for (const n of [tLat, tLon, tRadius]) n.removeAttribute('aria-invalid');
  panel.form.requestSubmit();
}

export function setupBoardPanel() {
  const { session } = room;
  const siteHistory = setupHistory(session);
  const board = createBoard($('board'), $('board-summary'), {
    orgName,
    onHistory: (id, name, btn) => siteHistory.open(id, name, btn),
    awaiting: (id) => room.awaiting.has(id),
  });
  panel.board = board;
  session.on('board', (frame) => {
    showError($('board-error'), '');
    board.setSites(frame.sites);
    knowSites((frame.sites || []).map((s) => s?.site_id));
  });
  session.on('status_update', (frame) => {
    if (!frame.site) return;
    board.update(frame.site);
    knowSites([frame.site.site_id]);
  });

  Object.assign(panel, {
    form: $('area-totals-form'),
    out: $('area-totals'),
    error: $('area-totals-error'),
    lat: $('totals-lat'),
    lon: $('totals-lon'),
    radius: $('totals-radius'),
  });
  for (const n of [panel.lat, panel.lon, panel.radius]) n.addEventListener('input', () => n.removeAttribute('aria-invalid'));
  $('totals-use-area').addEventListener('click', useComposeArea);
  panel.form.addEventListener('submit', onTotalsSubmit);
  session.on('area_totals', onAreaTotals);

  room.boardMap = setupBoardMap(session, { onPick: pickTotals });
  room.boardMap.setAlertAreas([...room.sent.values()]);
}
