// control/templates.js: the control room's alert templates (issue #7): a
// starting point for the form, every field still editable. Each sets the
// alert's category, severity, urgency, certainty, wording and, where the
// sites must answer, the question. `[…]` marks what the controller must
// fill in. Their codes are checked against vocab.js by
// tests/e2e/77-web-vocab.test.mjs.

export const TEMPLATES = [
  {
    id: 'live_incident',
    title: 'Live incident',
    category: 'live_incident', severity: 'severe', urgency: 'immediate', certainty: 'observed',
    headline: 'Live incident near [place]: keep people inside',
    body: 'Police are dealing with a live incident near [place]. Armed officers are deploying.',
    instruction: 'Keep staff and visitors inside, away from windows. Lock street doors. Do not let anyone in you do not know.',
    request: { kind: 'choice', options: ['Doors locked', 'Unable to lock', 'Need police'] },
  },
  {
    id: 'planned_protest',
    title: 'Planned protest',
    category: 'planned_event', severity: 'moderate', urgency: 'expected', certainty: 'likely',
    headline: 'Planned protest on [street] from [time]',
    body: 'A protest of about [number] people is planned along [route] from [time] to [time]. Police will be present.',
    instruction: 'Expect crowds and road closures. Keep entrances clear and staffed; report anything unusual.',
  },
  {
    id: 'suspicious_item',
    title: 'Suspicious item',
    category: 'live_incident', severity: 'severe', urgency: 'immediate', certainty: 'possible',
    headline: 'Suspicious item reported at [place]: cordon in place',
    body: 'Police are dealing with a suspicious item at [place]. A cordon of [100] m is in place.',
    instruction: 'Move people away from windows facing [place]. Do not use radios or phones within 15 m of the item. Check your own premises for anything out of place.',
    request: { kind: 'choice', options: ['Checked, nothing found', 'Evacuating', 'Need police'] },
  },
  {
    id: 'offender',
    title: 'Offender alert',
    category: 'offender', severity: 'moderate', urgency: 'expected', certainty: 'likely',
    headline: 'Offender alert: [description] seen in [area]',
    body: 'A person wanted for [offence] was last seen in [area] at [time]. Description: [height, build, clothing].',
    instruction: 'Do not approach. If seen, call 999 and send a report from this console with the time and place.',
    classification: 'OFFICIAL-SENSITIVE',
  },
  {
    id: 'visible_guards',
    title: 'Request for visible guards',
    category: 'request', severity: 'moderate', urgency: 'expected', certainty: 'likely',
    headline: 'Request: visible security at your entrances from [time]',
    body: 'To reassure the public after [event], the force asks sites in the area to post visible security staff at street entrances from [time] to [time].',
    instruction: 'Post uniformed officers at your street entrances and tell us how many are visible.',
    request: { kind: 'number', label: 'Guards visible at the front', min: 0, max: 100 },
  },
  {
    id: 'survivor_reception',
    title: 'Major incident: survivor reception',
    category: 'major_incident', severity: 'extreme', urgency: 'immediate', certainty: 'observed',
    headline: 'Major incident declared at [place]: survivor reception needed',
    body: 'A major incident has been declared at [place]. Survivors who are not injured need a safe, warm place to wait for police.',
    instruction: 'If you can receive survivors in your lobby, say so and have staff meet them at the door. Keep a list of names.',
    request: { kind: 'choice', options: ['Can receive survivors', 'Cannot receive', 'Need police'] },
  },
  {
    id: 'crime_pattern',
    title: 'Crime pattern (analyst)',
    category: 'crime_pattern', severity: 'minor', urgency: 'future', certainty: 'likely',
    headline: 'Crime pattern: [offence] in [area] over [period]',
    body: 'There have been [number] [offences] in [area] over [period], mostly between [time] and [time]. Method: [how].',
    instruction: 'Brief your staff, check CCTV coverage of [place], and report anything similar from this console.',
  },
];

export function templateById(id) {
  return TEMPLATES.find((t) => t.id === id) || null;
}
