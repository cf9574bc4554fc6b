// analyst/crime-pattern.js: the words of a crime-pattern alert from a hot
// cell of the crime picture: the control room's crime_pattern template
// (js/control/templates.js) with its gaps filled: the categories, the
// place, the period, the prevalent times and the statistics. Pure: no DOM,
// so the wording can be read and tested alone.

// The categories' words (vocab.js), under the name this page reads.
import { CRIME_CATEGORY_LABELS as CRIME_CATEGORIES } from '../vocab.js';

export { CRIME_CATEGORIES };

export const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

const LONDON = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London', weekday: 'long', hour: '2-digit', hourCycle: 'h23',
});

/* [[name, count], …] most frequent first. */
function ranked(values) {
  const n = new Map();
  for (const v of values) if (v) n.set(v, (n.get(v) || 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
}

/* "Friday 21:00-22:00 (4)" for the records with a time, at most three. */
export function prevalentTimes(records) {
  const slots = records.filter((r) => r.at_precision === 'minute').map((r) => {
    const parts = Object.fromEntries(LONDON.formatToParts(new Date(r.at)).map((p) => [p.type, p.value]));
    const h = Number(parts.hour);
    return `${parts.weekday} ${String(h).padStart(2, '0')}:00-${String((h + 1) % 24).padStart(2, '0')}:00`;
  });
  return ranked(slots).slice(0, 3).map(([slot, n]) => `${slot} (${n})`);
}

/* "on or near Corbet Court" from police.uk's "On or near Corbet Court";
 * "around X" for any other place. */
function wherePhrase(place) {
  if (!place) return 'in this area';
  const m = /^on or near (.*)$/i.exec(place);
  return m ? `on or near ${m[1]}` : `around ${place}`;
}

/* The alert: {headline, body, instruction, area} for cell (of the
 * picture's grid: {count, z, p, corners}; or an area drawn on the map:
 * {count, corners, drawn: true}, no statistic), its records and the
 * filter the picture was drawn with. */
export function patternAlert(cell, records, filter) {
  const cats = ranked(records.map((r) => CRIME_CATEGORIES[r.category] || r.category));
  const place = ranked(records.map((r) => r.location))[0]?.[0] || '';
  const where = wherePhrase(place);
  const what = cats[0]?.[0].toLowerCase() || 'crime';
  const times = prevalentTimes(records);
  const p = cell.p < 0.001 ? 'p < 0.001' : `p = ${cell.p}`;
  const why = cell.drawn ? 'This area was drawn on the force\'s crime map around them.'
    : `This ${filter.cell_m} m square is a hot spot (Getis-Ord Gi* z = ${cell.z}, ${p}).`;
  const body = [
    `There have been ${cell.count} recorded crimes ${where} over ${filter.from} to ${filter.to}`
      + (cats.length ? `, mostly ${cats.slice(0, 3).map(([c, n]) => `${c.toLowerCase()} (${n})`).join(', ')}.` : '.'),
    times.length ? `Prevalent times: ${times.join(', ')}.`
      : 'No times recorded for these crimes (police.uk gives the month only).',
    why,
  ].join(' ');
  return {
    headline: `Crime pattern: ${what} ${where}`.slice(0, 200),
    body: body.slice(0, 4000),
    instruction: `Brief your staff, check CCTV coverage ${where}, and report anything similar from this console.`,
    area: { polygon: cell.corners },
  };
}
