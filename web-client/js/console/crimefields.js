// console/crimefields.js: the crime part of "Report to police" (docs/
// protocol.md §2b "Crime records from partners"). When the kind is
// "Crime", the form also asks the category, when it happened and the
// property (kind, make, model, serial, stolen/seen/recovered), and sends a
// `crime_report` (a record on the police's crime map, and a crime in the
// force's inbox as before; a serial seen or recovered is matched against
// the stolen-property register) rather than a `report`.

import { setInvalid } from '../ui.js';
import { CRIME_CATEGORY_LABELS } from '../vocab.js';

export class CrimeFieldError extends Error {
  constructor(message, node) {
    super(message);
    this.node = node;
  }
}

/* A datetime-local input's value for the time t, in the browser's zone. */
function localValue(t) {
  const p = (n) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}`;
}

export function setupCrimeFields(kind) {
  const $ = (id) => document.getElementById(id);
  const box = $('report-crime');
  const category = $('report-category');
  const when = $('report-when');
  const prop = {
    kind: $('report-property-kind'), make: $('report-property-make'),
    model: $('report-property-model'), serial: $('report-property-serial'),
    status: $('report-property-status'),
  };
  category.add(new Option('Choose the category', ''));
  for (const [code, words] of Object.entries(CRIME_CATEGORY_LABELS)) category.add(new Option(words, code));
  const active = () => kind.value === 'crime';
  function render() {
    box.hidden = !active();
    if (active() && !when.value) when.value = localValue(new Date());
  }
  kind.addEventListener('change', render);
  for (const n of [category, when, ...Object.values(prop)]) n.addEventListener('input', () => setInvalid(n, false));
  render();

  return {
    active,
    /* {category, occurred_at, property?}; throws CrimeFieldError. */
    read() {
      if (!category.value) throw new CrimeFieldError('Choose the category of the crime (“Other crime” if none fits).', category);
      const t = when.value ? new Date(when.value) : null;
      if (!t || Number.isNaN(t.getTime())) throw new CrimeFieldError('Say when it happened.', when);
      if (t.getTime() > Date.now() + 60_000) throw new CrimeFieldError('When it happened is in the future.', when);
      const property = {};
      for (const k of ['kind', 'make', 'model', 'serial', 'status']) {
        const v = prop[k].value.trim();
        if (v) property[k] = v;
      }
      if ((property.status === 'sighted' || property.status === 'recovered') && !property.serial) {
        throw new CrimeFieldError('A phone or item seen or recovered is matched by its serial: give it.', prop.serial);
      }
      const out = { category: category.value, occurred_at: t.toISOString() };
      if (Object.keys(property).length) out.property = property;
      return out;
    },
    /* The input of a field the broker named (category, occurred_at,
     * property.serial, …), or null. */
    node(field) {
      if (field === 'category') return category;
      if (field === 'occurred_at') return when;
      if (field.startsWith('property.')) return prop[field.slice(9)] || null;
      return field === 'property' ? prop.kind : null;
    },
    nodes: () => [category, when, ...Object.values(prop)],
    reset() {
      when.value = '';
      render();
    },
  };
}
