// labels.js: the words the consoles show for the protocol's codes
// (docs/protocol.md §2b), and small helpers about alerts and errors that
// both the control room and the desks need.

export const STATUSES = ['actual', 'exercise', 'test'];
export const CATEGORIES = ['live_incident', 'planned_event', 'crime_pattern', 'offender',
  'request', 'advice', 'major_incident'];
export const URGENCIES = ['immediate', 'expected', 'future', 'past', 'unknown'];
export const CERTAINTIES = ['observed', 'likely', 'possible', 'unlikely', 'unknown'];
export const CLASSIFICATIONS = ['OFFICIAL', 'OFFICIAL-SENSITIVE'];

export const CATEGORY_LABELS = {
  live_incident: 'Live incident',
  planned_event: 'Planned event',
  crime_pattern: 'Crime pattern',
  offender: 'Offender',
  request: 'Request',
  advice: 'Advice',
  major_incident: 'Major incident',
};

export const URGENCY_LABELS = {
  immediate: 'Immediate', expected: 'Expected', future: 'Future', past: 'Past', unknown: 'Unknown',
};

export const CERTAINTY_LABELS = {
  observed: 'Observed', likely: 'Likely', possible: 'Possible', unlikely: 'Unlikely', unknown: 'Unknown',
};

export const CCTV_LABELS = { working: 'Working', partial: 'Partial', down: 'Down' };

export const STATE_LABELS = {
  normal: 'Normal',
  heightened: 'Heightened',
  lockdown: 'Lockdown',
  evacuating: 'Evacuating',
  closed: 'Closed',
};

export const REPORT_KIND_LABELS = {
  sighting: 'Sighting',
  suspicious: 'Suspicious activity',
  crime: 'Crime',
  other: 'Other',
};

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

/* The broker does not know this request yet (an older broker, or a part
 * still being built): the page says so and carries on. */
export function isUnsupported(frame) {
  return Boolean(frame) && (frame.code === 'unknown_type' ||
    /not implemented/i.test(String(frame.message || '')));
}

export function unsupportedText(what) {
  return `${what} is not available on this broker yet. Everything else keeps working.`;
}
