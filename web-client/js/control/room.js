// control/room.js: what the panels of control.html share, in one object
// (`room`), and the few helpers every panel needs to read it. main.js
// fills it once at start. A panel keeps what only it needs in its own
// module (the area totals request, the inbox, …); what two panels touch
// lives here: the directory, the sent alerts and the frames buffered
// until their alert is known.

import { Session } from '../session.js';

export const MAX_SENT = 200;           // sent alerts kept in the list and the cache
const MAX_BUFFERED = 500;              // tallies/answers/relays waiting for their alert
const DIRECTORY_AGAIN_MS = 5000;       // at most one directory request for new sites this often
// The alert model members a sent record keeps (docs/protocol.md §2b).
export const MODEL = ['headline', 'body', 'severity', 'status', 'category', 'urgency', 'certainty',
  'instruction', 'expires', 'area', 'classification', 'handling', 'request'];

export const room = {
  token: null,
  user: null,
  session: null,          // the page's Session
  isController: false,    // controllers may ask sites to report; analysts may not
  directory: { orgs: [], sites: [] },
  compose: null,          // createCompose(): the alert form
  composeMap: null,       // setupComposeMap()
  boardMap: null,         // setupBoardMap(), once the board panel is set up
  crimeTrail: null,       // (record id) => draws a serial's trail (analyst/crime-panel.js)

  // alert id -> record (built on `published`): { alert_id, seq, …MODEL,
  //   msg_type, references, images:[{id}], to, sent_at, sender (when not
  //   this user), durable, recipients, delivered, acknowledged, read?,
  //   escalated? (absent until a tally carries them), escalations:
  //   [{site_id, site_name, escalated_at}], answers (latest `answers`
  //   frame), relays: [{relay_id, by_org_id, by_org_name, sites, note, at,
  //   tally}], cancelled, superseded_by }
  sent: new Map(),
  tallyBuffer: new Map(),   // alert id -> latest tally not yet matched
  answersBuffer: new Map(), // alert id -> latest answers not yet matched
  relayBuffer: new Map(),   // alert id -> [relay_notice] not yet matched
  relayOf: new Map(),       // relay alert id -> the original's id
  cancelling: new Map(),    // ref of a cancel publish -> alert id
  // Sites a recent report-now of this page asked that have not answered
  // (reportnow.js keeps it; the board puts them first).
  awaiting: new Set(),
  directoryAskedAt: 0,      // knowSites: when it last asked for the directory
  directoryTimer: null,     // knowSites: its next ask, waiting its turn

  dom: null,                // #sent-alerts, #sent-empty, #control-announcer
};

export function initRoom({ token, user }) {
  const $ = (id) => document.getElementById(id);
  room.token = token;
  room.user = user;
  room.isController = user.role === 'controller';
  room.session = new Session(token);
  room.dom = {
    sentList: $('sent-alerts'),
    sentEmpty: $('sent-empty'),
    announcer: $('control-announcer'),
  };
  return room;
}

export function announce(text) {
  const { announcer } = room.dom;
  announcer.textContent = '';
  setTimeout(() => { announcer.textContent = text; }, 50);
}

export function siteName(id) {
  return room.directory.sites.find((s) => s.id === id)?.name || `site ${id}`;
}

export function orgName(id) {
  return room.directory.orgs.find((o) => o.id === id)?.name || (id ? `organisation ${id}` : '');
}

/* Site ids a frame named: a site the directory does not list was added
 * while the page is open, so ask for the directory again (at most every
 * few seconds: a later ask waits its turn), and every panel names it
 * once the answer is in. */
export function knowSites(ids) {
  const known = new Set(room.directory.sites.map((s) => s.id));
  if (room.directoryTimer || !ids.some((id) => Number.isFinite(id) && !known.has(id))) return;
  const wait = Math.max(0, room.directoryAskedAt + DIRECTORY_AGAIN_MS - Date.now());
  room.directoryTimer = setTimeout(() => {
    room.directoryTimer = null;
    if (room.session.request('directory')) room.directoryAskedAt = Date.now();
  }, wait);
}

export function bufferPut(map, key, value) {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_BUFFERED) map.delete(map.keys().next().value);
}

/* The sent list's entry of an alert, or null. */
export function itemFor(id) {
  return room.dom.sentList.querySelector(`[data-alert-id="${CSS.escape(String(id))}"]`);
}
