// console/family.js: a relay is one alert with the force's alert it relays
// (issue 17, item 5). When this desk has the alert a relay names
// (relay.of, or the update that replaced it), the relay becomes the
// security company's note on that alert: it waits in no queue of its own
// and is not listed twice, and the one acknowledgement and answer of the
// alert count for both (the broker copies them: docs/protocol.md,
// "Relay"). A relay whose alert this desk never got is shown on its own,
// with its note.

import { desk } from './desk.js';

/* relay id -> the id of the alert it is a note on. */
const noteOf = new Map();

/* The entry a relay's note goes on: the alert it relays, or the newest
 * update of it that this desk has; null when the desk has neither. */
function home(a) {
  let entry = desk.entries.get(Number(a.relay?.of));
  for (let hops = 0; hops < 20 && entry?.replaced_by?.kind === 'update'; hops++) {
    const next = desk.entries.get(Number(entry.replaced_by.id));
    if (!next) break;
    entry = next;
  }
  return entry || null;
}

/* Puts relay a on the alert it relays as a note; returns that alert's
 * entry, or null when a stays an alert of its own. Once is enough: a
 * replay or an in-force frame of the same relay changes nothing. */
export function attachRelay(a) {
  if (!a?.relay || !desk.canAck || desk.entries.has(a.id)) return null;
  if (noteOf.has(a.id)) return desk.entries.get(noteOf.get(a.id)) || null;
  const entry = home(a);
  if (!entry) return null;
  entry.relay_notes = entry.relay_notes || [];
  entry.relay_notes.push({
    relay_id: a.id, of: a.relay.of, note: a.relay.note || '',
    by_org_id: a.relay.by_org_id, by_org_name: a.relay.by_org_name,
  });
  noteOf.set(a.id, entry.alert.id);
  return entry;
}

/* Whether id is a relay this desk shows as a note. */
export function isNote(id) {
  return noteOf.has(Number(id));
}

/* After a reload: the notes the cached entries carry. */
export function restoreNotes() {
  for (const e of desk.entries.values()) {
    for (const r of e.relay_notes || []) noteOf.set(r.relay_id, e.alert.id);
  }
}

/* An update replaced the alert: its notes stay with the newer version. */
export function moveNotes(from, to) {
  if (!from?.relay_notes?.length || !to) return;
  to.relay_notes = [...(to.relay_notes || []), ...from.relay_notes];
  for (const r of from.relay_notes) noteOf.set(r.relay_id, to.alert.id);
  from.relay_notes = [];
}
