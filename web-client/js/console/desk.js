// console/desk.js: what the panels of console.html share, in one object
// (`desk`), and the few helpers every panel needs to read it. The desk of
// a guarded building (site_console) or of a security company
// (company_operator); main.js fills it once at start. A panel keeps what
// only it needs in its own module (the relay dialog's request, the stream
// position, …); what two panels touch lives here.

import { Session, saveCache } from '../session.js';

export const MAX_HISTORY = 200;
// Ack errors after which retrying cannot succeed: the alert leaves the queue.
export const ACK_FINAL_ERRORS = new Set(['unknown_alert', 'not_recipient', 'forbidden', 'bad_field', 'missing_field']);

export const desk = {
  token: null,
  user: null,
  session: null,           // the page's Session
  canAck: false,           // a site console (acknowledges); else a company desk
  sound: null,             // createSound() on #sound
  board: null,             // the company desk's createBoard(), or null
  statusForm: null,        // setupStatusForm() (site consoles), or null
  reportForm: null,        // setupReportForm(), or null
  directory: { orgs: [], sites: [] },

  // alert id -> { alert, status: new|acked|seen|failed|cancelled|superseded,
  //               received_at, acked_at, acked_by (another console),
  //               read_at, escalated, escalations: [{site_id, site_name,
  //               escalated_at}], answer: {value, at}, answerPending,
  //               answerError, relays: [{relay_id, recipients, note, at,
  //               tally}] (company operators) }
  entries: new Map(),
  ackQueue: new Set(),     // ids the user asked to acknowledge
  ackInFlight: new Map(),  // id -> ref of the ack request on the wire
  readInFlight: new Set(), // ids whose `read` is on the wire
  relayOf: new Map(),      // relay alert id -> original alert id

  // #alert-banner, #alerts, #alerts-empty, #all-clear, #console-error,
  // #announcer, the banner's .ack-note; actionBtn (#ack or #dismiss) and
  // bannerRelay (#banner-relay, company desks) once banner.js made them.
  dom: null,
};

export function initDesk({ token, user }) {
  const $ = (id) => document.getElementById(id);
  const banner = $('alert-banner');
  desk.token = token;
  desk.user = user;
  desk.canAck = user.role === 'site_console';
  desk.session = new Session(token);
  desk.dom = {
    banner,
    history: $('alerts'),
    historyEmpty: $('alerts-empty'),
    allClear: $('all-clear'),
    consoleError: $('console-error'),
    announcer: $('announcer'),
    ackNote: banner.querySelector('.ack-note'),
    actionBtn: $('ack'),
    bannerRelay: null,
  };
  return desk;
}

export function persist() {
  saveCache('alerts', [...desk.entries.values()].slice(-MAX_HISTORY));
}

// Alert ids increase with time (docs/protocol.md), so they order alerts
// even while `seq` is null (journaled).
export const byAge = (x, y) => x.alert.id - y.alert.id;

export const isEscalated = (e) => Boolean(e.escalated || e.escalations?.length);

export function siteName(id, fallback) {
  return desk.directory.sites.find((s) => s.id === id)?.name || fallback || `site ${id}`;
}

export function historyItem(id) {
  return desk.dom.history.querySelector(`[data-alert-id="${CSS.escape(String(id))}"]`);
}

export function referencedId(a) {
  return (a.msg_type === 'update' || a.msg_type === 'cancel') && a.references ? Number(a.references) : null;
}

export function referenced(a) {
  return Number.isFinite(Number(a.references)) ? desk.entries.get(Number(a.references))?.alert : null;
}

export function bannerShows(entry) {
  return desk.dom.banner.dataset.alertId === String(entry.alert.id);
}

export function announce(text) {
  // Clear first so that the same text twice is announced twice.
  desk.dom.announcer.textContent = '';
  setTimeout(() => { desk.dom.announcer.textContent = text; }, 50);
}
