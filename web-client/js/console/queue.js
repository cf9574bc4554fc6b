// console/queue.js: the alerts this desk must still deal with, most urgent
// first (issue 17, item 2): by severity, then urgency, then a live alert
// before an exercise or test, then one escalated (someone waits on this
// desk), then the oldest. A stand-down (a cancellation) ranks as the alert
// it cancels (it carries its severity and urgency), so the person who was
// dealing with that alert reads at once that it is over. The banner shows
// the first; the one it displaced waits visibly ("1 more alert waiting:
// …"). Text only, no DOM.

import { SEVERITIES } from '../vocab.js';
import { desk, byAge, isEscalated } from './desk.js';
import { sevOf, isExpired } from './words.js';

/* Most to least pressing. Urgency "unknown" says nothing either way: it
 * ranks between expected and future. */
const URGENCY_RANK = ['past', 'future', 'unknown', 'expected', 'immediate'];

const urgencyOf = (a) => Math.max(0, URGENCY_RANK.indexOf(a.urgency || 'unknown'));
const isStandDown = (a) => a.msg_type === 'cancel';
const isLive = (a) => !a.status || a.status === 'actual';

/* Negative when x goes before y. */
export function moreUrgent(x, y) {
  const a = x.alert;
  const b = y.alert;
  return SEVERITIES.indexOf(sevOf(b)) - SEVERITIES.indexOf(sevOf(a))
    || urgencyOf(b) - urgencyOf(a)
    || Number(isLive(b)) - Number(isLive(a))
    || Number(isEscalated(y)) - Number(isEscalated(x))
    || byAge(x, y);
}

/* The queue: alerts waiting (new, not expired), most urgent first. */
export function waiting() {
  return [...desk.entries.values()]
    .filter((e) => e.status === 'new' && !isExpired(e.alert))
    .sort(moreUrgent);
}

/* What waits behind the alert shown: "1 more alert waiting: “…” (moderate)",
 * or "3 more alerts waiting — next: “…” (moderate)". */
export function pendingText(queue) {
  const more = queue.length - 1;
  if (more < 1) return '';
  const next = queue[1].alert;
  const what = `“${next.headline || 'Alert'}” (${isStandDown(next) ? 'stand-down' : sevOf(next)})`;
  return more === 1 ? `1 more alert waiting: ${what}`
    : `${more} more alerts waiting — next: ${what}`;
}
