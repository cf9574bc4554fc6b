// control/boardmap.js: the control room's status board as a map
// (control.html #board-map): every site coloured by its latest status
// report (`board`, then `status_update`), the areas of the live alerts
// sent from this page, partner reports, and the circle of the last area
// totals. A click on the map asks for the area totals around that point
// (onPick).

import { createCityMap } from '../map.js';

/* session: the page's Session; onPick({lat, lon}) on a click. Returns
 * {setAlertAreas(records), setReports(reports)}. */
export function setupBoardMap(session, { onPick }) {
  const cityMap = createCityMap(document.getElementById('board-map'),
    { label: 'Map of the sites, their state, alert areas and partner reports' });
  const rows = new Map();       // site id -> latest board row
  const fresh = new Set();      // sites with a live update since the board

  function renderSites() {
    cityMap.setSites([...rows.values()].map((s) => ({
      id: s.site_id, name: s.site_name, lat: s.lat, lon: s.lon, state: s.state, reported_at: s.reported_at,
    })), (s) => `${s.reported_at ? `state-${s.state}` : 'never'}${fresh.has(s.id) ? ' fresh' : ''}`);
  }

  session.on('board', (frame) => {
    rows.clear();
    fresh.clear();
    for (const s of Array.isArray(frame.sites) ? frame.sites : []) if (s && Number.isFinite(s.site_id)) rows.set(s.site_id, s);
    renderSites();
  });
  session.on('status_update', (frame) => {
    const s = frame.site;
    if (!s || !Number.isFinite(s.site_id)) return;
    rows.set(s.site_id, { ...rows.get(s.site_id), ...s });
    fresh.add(s.site_id);
    renderSites();
  });
  session.on('area_totals', (frame, req) => {
    if (req) cityMap.setMark({ circle: { lat: req.lat, lon: req.lon, radius_m: req.radius_m } });
  });
  cityMap.onPick(onPick);

  return {
    /* Sent records ({alert_id, area, status, cancelled, superseded_by,
     * msg_type}): the areas of those still in force, newest 20. */
    setAlertAreas(records) {
      const live = records
        .filter((r) => r.area && !r.cancelled && !r.superseded_by && r.msg_type !== 'cancel')
        .sort((a, b) => b.alert_id - a.alert_id).slice(0, 20);
      cityMap.setAreas(live.map((r) => ({
        area: r.area, id: r.alert_id, className: `area-shape${r.status && r.status !== 'actual' ? ' is-exercise' : ''}`,
      })));
    },
    setReports(reports) {
      cityMap.setReports(reports);
    },
  };
}
