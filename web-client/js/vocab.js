// vocab.js: the protocol's vocabulary, once for every page: the codes of
// the alert model (docs/protocol.md §2b "Alerts in full", "Targeting"),
// of building status and partner reports, the roles, and the words the
// consoles show for them. The broker checks the same lists
// (broker/frame_publish.c, token.c, handle_status.c, handle_report.c);
// tests/e2e/77-web-vocab.test.mjs fails when a list here and the broker's
// differ, or when a page's <select> or a template uses a code not here.
// No DOM: node imports this file.
//
// A list whose codes have words is written once, as its words: the codes
// are the keys, in the order the pages show them.

/* Least to most severe: the order ranks them (the worst alert first). */
export const SEVERITIES = ['minor', 'moderate', 'severe', 'extreme'];
/* Severe and extreme: a live one needs a typed confirmation in the control
 * room, takes over a site console's screen, and escalates (the broker). */
export const SERIOUS_SEVERITIES = SEVERITIES.slice(SEVERITIES.indexOf('severe'));

export const STATUSES = ['actual', 'exercise', 'test'];
export const MSG_TYPES = ['alert', 'update', 'cancel'];
export const CLASSIFICATIONS = ['OFFICIAL', 'OFFICIAL-SENSITIVE'];
export const REQUEST_KINDS = ['choice', 'number'];

export const CATEGORY_LABELS = {
  live_incident: 'Live incident',
  planned_event: 'Planned event',
  crime_pattern: 'Crime pattern',
  offender: 'Offender',
  request: 'Request',
  advice: 'Advice',
  major_incident: 'Major incident',
};
export const CATEGORIES = Object.keys(CATEGORY_LABELS);

export const URGENCY_LABELS = {
  immediate: 'Immediate', expected: 'Expected', future: 'Future', past: 'Past', unknown: 'Unknown',
};
export const URGENCIES = Object.keys(URGENCY_LABELS);

export const CERTAINTY_LABELS = {
  observed: 'Observed', likely: 'Likely', possible: 'Possible', unlikely: 'Unlikely', unknown: 'Unknown',
};
export const CERTAINTIES = Object.keys(CERTAINTY_LABELS);

/* Who signs in (the token's role), in words. */
export const ROLE_LABELS = {
  controller: 'Controller',
  analyst: 'Analyst',
  site_console: 'Site console',
  company_operator: 'Company operator',
  admin: 'Administrator',
  inspector: 'Duty inspector',
};
export const ROLES = Object.keys(ROLE_LABELS);
/* The roles an alert is delivered to at a site (publish targets.roles). */
export const TARGET_ROLES = ['site_console', 'company_operator'];

/* Building status (`status`): the state of the building and its CCTV. */
export const STATE_LABELS = {
  normal: 'Normal',
  heightened: 'Heightened',
  lockdown: 'Lockdown',
  evacuating: 'Evacuating',
  closed: 'Closed',
};
export const SITE_STATES = Object.keys(STATE_LABELS);

export const CCTV_LABELS = { working: 'Working', partial: 'Partial', down: 'Down' };
export const CCTV_STATES = Object.keys(CCTV_LABELS);

/* The counts of a status report, in the form's order; `stale` names
 * some of them (the ones not confirmed). first_aiders is optional. */
export const STATUS_COUNTS = ['people', 'officers', 'trauma_packs', 'first_aid_kits', 'defibrillators', 'first_aiders'];

/* Administration (`admin`): the operations, and the kinds of
 * organisation (the CHECK of organisations.kind). */
export const ADMIN_OPS = ['list', 'org_add', 'org_disable', 'site_add', 'site_update', 'site_disable',
  'user_add', 'user_update', 'user_disable', 'user_enable', 'user_password', 'device_add', 'device_revoke'];
export const ORG_KIND_LABELS = {
  police: 'Police force',
  police_unit: 'Police unit',
  security_company: 'Security company',
};
export const ORG_KINDS = Object.keys(ORG_KIND_LABELS);

/* Partner reports (`report` kind); cap_import is the CAP adapter's
 * pending import (docs/protocol.md, "Pending CAP imports"), never a
 * partner's choice (console.html lists the partners' kinds). */
export const REPORT_KIND_LABELS = {
  sighting: 'Sighting',
  suspicious: 'Suspicious activity',
  crime: 'Crime',
  other: 'Other',
  cap_import: 'CAP import to target',
};
export const REPORT_KINDS = Object.keys(REPORT_KIND_LABELS);
/* The inbox shows those and the force's own item: a partner saw or
 * recovered property whose serial is on the stolen-property register. */
export const INBOX_KIND_LABELS = { ...REPORT_KIND_LABELS, property_match: 'Stolen property seen' };

/* Crime records (`crime_report`, the crime picture): the codes of
 * crime_categories (sql/migrations/047_crime_records.sql), police.uk's 14
 * street-level types under their API slugs, then the force's own. */
export const CRIME_CATEGORY_LABELS = {
  'anti-social-behaviour': 'Anti-social behaviour',
  'bicycle-theft': 'Bicycle theft',
  burglary: 'Burglary',
  'criminal-damage-arson': 'Criminal damage and arson',
  drugs: 'Drugs',
  'other-theft': 'Other theft',
  'possession-of-weapons': 'Possession of weapons',
  'public-order': 'Public order',
  robbery: 'Robbery',
  shoplifting: 'Shoplifting',
  'theft-from-the-person': 'Theft from the person',
  'vehicle-crime': 'Vehicle crime',
  'violent-crime': 'Violence and sexual offences',
  'other-crime': 'Other crime',
  'phone-snatch': 'Mobile phone snatch',
  fraud: 'Fraud',
};
export const CRIME_CATEGORIES = Object.keys(CRIME_CATEGORY_LABELS);

/* What a crime report says of its property (crime_report.c). */
export const PROPERTY_STATUS_LABELS = {
  stolen: 'Stolen',
  sighted: 'Seen (stolen elsewhere?)',
  recovered: 'Recovered',
};
export const PROPERTY_STATUSES = Object.keys(PROPERTY_STATUS_LABELS);

/* What a partner may choose in the console's report form. */
export const PARTNER_REPORT_KINDS = REPORT_KINDS.filter((k) => k !== 'cap_import');

/* The words for a code; an unknown code as it came, nothing as ''. */
export function label(map, code) {
  if (code === null || code === undefined || code === '') return '';
  return map[code] || String(code);
}

/* "EXERCISE" or "TEST" for an alert that is not for real, else "". */
export function exerciseWord(status) {
  if (status === 'exercise') return 'EXERCISE';
  if (status === 'test') return 'TEST';
  return '';
}
