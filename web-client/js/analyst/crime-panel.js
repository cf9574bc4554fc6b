// analyst/crime-panel.js: the control room's "Crime picture" panel
// (control.html #crime-title), for analysts and controllers: the filter
// (period, categories, grid cell), the map (crime-map.js), the trend
// against the period before, the day-of-week x hour table, and a clicked
// cell's or a drawn area's records with "Crime-pattern alert", which opens
// the alert form filled in (crime-pattern.js; the room's compose), and
// the trail of a stolen item's serial (room.crimeTrail, from the inbox's
// stolen-property matches). The
// broker's answers come from crime-api.js; each is audited there.

import { el } from '../ui.js';
import { attachDrawTool } from '../map.js';
import { crimeView } from './crime-api.js';
import { setupCrimeMap } from './crime-map.js';
import { CRIME_CATEGORIES, DAYS, patternAlert } from './crime-pattern.js';

const $ = (id) => document.getElementById(id);

const state = { room: null, map: null, filter: null, picture: null, cell: null, records: [] };

const isoDay = (d) => d.toISOString().slice(0, 10);
// A police.uk record's month is the first instant of it in London.
const MONTH = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', year: 'numeric', month: 'long' });
const when = (r) => (r.at_precision === 'month' ? MONTH.format(new Date(r.at)) : new Date(r.at).toLocaleString('en-GB'));

function showError(err) {
  const box = $('crime-error');
  box.hidden = !err;
  box.textContent = err ? `${err.message}${err.field ? ` (${err.field})` : ''}` : '';
}

/* The filter as the form stands. */
function readFilter() {
  const categories = [...$('crime-categories').selectedOptions].map((o) => o.value);
  return {
    from: $('crime-from').value,
    to: $('crime-to').value,
    cell_m: Number($('crime-cell').value),
    ...(categories.length ? { categories } : {}),
  };
}

function renderTrend(trend, previous) {
  const { current, previous: before } = trend;
  const change = before ? Math.round(((current - before) / before) * 100) : null;
  $('crime-trend').textContent = `${current} records in this period, ${before} in the one before `
    + `(${previous.from} to ${previous.to})${change == null ? '' : `: ${change >= 0 ? 'up' : 'down'} ${Math.abs(change)} %`}.`;
  const rows = Object.entries(trend.by_category).sort((a, b) => b[1][0] - a[1][0]);
  const table = $('crime-trend-table');
  table.tBodies[0].replaceChildren(...rows.map(([code, [now, then]]) => el('tr', {
    class: now > then ? 'up' : now < then ? 'down' : '',
  }, el('th', { scope: 'row' }, CRIME_CATEGORIES[code] || code), el('td', {}, String(now)), el('td', {}, String(then)))));
  table.hidden = rows.length === 0;
}

/* 7 rows (Monday first) of 24 hours; a cell's level is its share of the
 * busiest slot, in five steps, for the stylesheet's shading. */
function renderTimes(times) {
  const table = $('crime-times');
  const counts = new Map(times.cells.map(([d, h, n]) => [`${d}-${h}`, n]));
  const max = times.cells.reduce((m, c) => Math.max(m, c[2]), 0);
  const head = el('tr', {}, el('th', { scope: 'col' }, ''),
    ...Array.from({ length: 24 }, (_, h) => el('th', { scope: 'col' }, String(h).padStart(2, '0'))));
  const rows = DAYS.map((day, i) => el('tr', {}, el('th', { scope: 'row' }, day.slice(0, 3)),
    ...Array.from({ length: 24 }, (_, h) => {
      const n = counts.get(`${i + 1}-${h}`) || 0;
      const level = max ? Math.ceil((n / max) * 4) : 0;
      return el('td', { class: `level-${level}`, title: `${day} ${h}:00: ${n}` }, n ? String(n) : '');
    })));
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
  table.dataset.timed = String(times.timed);
}

async function show() {
  const filter = readFilter();
  showError(null);
  $('crime-show').disabled = true;
  try {
    const picture = await crimeView('picture', filter, state.room.token);
    state.filter = picture.filter;
    state.picture = picture;
    state.map.render(picture, { heat: $('crime-show-heat').checked, grid: $('crime-show-grid').checked });
    const hot = picture.grid.cells.filter((c) => c.z >= 1.96).length;
    $('crime-summary').textContent = `${picture.records} records; ${hot} hot cell${hot === 1 ? '' : 's'} of ${picture.grid.n}.`;
    renderTrend(picture.trend, picture.previous);
    renderTimes(picture.times);
    $('crime-cell-detail').hidden = true;
  } catch (err) {
    showError(err);
  } finally {
    $('crime-show').disabled = false;
  }
}

/* Shows scope's records (a cell, or a drawn area) beside the map. */
function showScope(scope, records, title, stats) {
  state.cell = scope;
  state.records = records;
  state.map.showRecords(scope, records);
  $('crime-cell-title').textContent = title;
  $('crime-cell-stats').textContent = stats;
  $('crime-records').replaceChildren(...records.slice(0, 50).map((r) => el('li', { dataset: { recordId: String(r.id) } },
    el('strong', {}, CRIME_CATEGORIES[r.category] || r.category), ' ',
    el('span', { class: 'muted' }, `${when(r)}${r.location ? ` · ${r.location}` : ''}${r.outcome ? ` · ${r.outcome}` : ''}`))));
  $('crime-cell-detail').hidden = false;
}

async function openCell(cell) {
  if ($('crime-map').classList.contains('drawing')) return; // a corner, not a cell
  showError(null);
  try {
    const { records } = await crimeView('records', { ...state.filter, cell: [cell.i, cell.j] }, state.room.token);
    showScope(cell, records, `Cell ${cell.i}, ${cell.j}`,
      `${cell.count} record${cell.count === 1 ? '' : 's'}; Gi* z ${cell.z ?? '–'}, p ${cell.p ?? '–'}`);
    $('crime-pattern').textContent = 'Crime-pattern alert for this cell';
    $('crime-pattern').disabled = !(cell.z >= 1.96);
  } catch (err) {
    showError(err);
  }
}

/* A polygon drawn on the map: the picture's count inside it (records
 * lists at most 500) and its records, as a cell's. */
async function openArea(area) {
  showError(null);
  try {
    const filter = { ...state.filter, area };
    delete filter.cell;
    const [picture, { records }] = await Promise.all([crimeView('picture', filter, state.room.token),
      crimeView('records', filter, state.room.token)]);
    const scope = { count: picture.records, corners: area.polygon, drawn: true };
    showScope(scope, records, 'Drawn area', `${picture.records} record${picture.records === 1 ? '' : 's'} inside`);
    $('crime-pattern').textContent = 'Crime-pattern alert for this area';
    $('crime-pattern').disabled = picture.records === 0;
  } catch (err) {
    showError(err);
  }
}

/* "Draw an area": a polygon on the crime map (map.js's draw tool). */
function setupDrawing() {
  const tools = { finish: $('crime-draw-finish'), cancel: $('crime-draw-cancel') };
  const showing = (on) => { tools.finish.hidden = !on; tools.cancel.hidden = !on; };
  const draw = attachDrawTool(state.map.city, {
    onDone: (area) => { showing(false); openArea(area); },
    onHint: (text) => { $('crime-draw-hint').textContent = text; },
  });
  $('crime-draw').addEventListener('click', () => {
    if (!state.filter) return showError(new Error('Press Show first: the area is read from the picture\'s period and categories.'));
    draw.start('polygon');
    return showing(true);
  });
  tools.finish.addEventListener('click', () => draw.finish());
  tools.cancel.addEventListener('click', () => { draw.cancel(); showing(false); });
}

function publishPattern() {
  if (!state.cell) return;
  state.room.compose.startFromPattern(patternAlert(state.cell, state.records, state.filter));
}

/* The trail of record id's serial on the map, listed beside it. */
async function showTrail(id) {
  showError(null);
  try {
    const { places } = await crimeView('trail', { record_id: id }, state.room.token);
    state.map.showTrail(places);
    $('crime-trail-title').textContent = `Trail of record ${id}: ${places.length} place${places.length === 1 ? '' : 's'}`;
    $('crime-trail-list').replaceChildren(...places.map((p) => el('li', { dataset: { recordId: String(p.id) } },
      el('strong', {}, p.status || 'record'), ' ',
      el('span', { class: 'muted' }, `${when(p)} · ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}${p.org ? ` · ${p.org}` : ''}`))));
    $('crime-trail').hidden = false;
    $('crime-map').scrollIntoView({ block: 'center' });
  } catch (err) {
    showError(err);
  }
}

export function setupCrimePanel(room) {
  state.room = room;
  room.crimeTrail = showTrail;
  const to = new Date(Date.now() + 86400000);
  $('crime-to').value = isoDay(to);
  $('crime-from').value = isoDay(new Date(to.getTime() - 365 * 86400000));
  $('crime-categories').replaceChildren(...Object.entries(CRIME_CATEGORIES)
    .map(([code, name]) => el('option', { value: code }, name)));
  state.map = setupCrimeMap($('crime-map'), { onCell: openCell });
  setupDrawing();
  $('crime-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    show();
  });
  $('crime-pattern').addEventListener('click', publishPattern);
}
