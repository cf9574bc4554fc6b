// control/chimes.js: sound in the control room (issue 17, item 6), which
// is otherwise a silent screen beside the radio: an `escalation` rings
// with the alert's severity (a site has not acknowledged a severe alert),
// a `partner_report` chimes (news for the inbox), and an `answers` frame
// whose count reaches its recipients chimes once per alert (every site
// has answered the question). The #sound button in the header is the
// visible mute, kept per browser in localStorage (js/sound.js).
//
// A burst (an alert to thirty sites escalating at once, a batch of
// reports) sounds once: a kind of sound that played less than QUIET_MS
// ago is not played again.

import { createSound } from '../sound.js';
import { room } from './room.js';

const QUIET_MS = 2500;
const MAX_DONE = 500;            // alerts whose complete tally has chimed

export function setupChimes() {
  const sound = createSound(document.getElementById('sound'), { persistKey: 'tocsin.sound.control' });
  const last = new Map();        // kind -> time it last sounded
  const complete = new Set();    // alert ids whose answers are all in

  function once(kind, play) {
    const now = Date.now();
    if (now - (last.get(kind) || 0) < QUIET_MS) return;
    last.set(kind, now);
    play();
  }

  room.session.on('escalation', (frame) => {
    once('escalation', () => sound.alert(frame.alert?.severity || 'severe'));
  });
  room.session.on('partner_report', () => once('report', () => sound.chime('report')));
  room.session.on('answers', (frame) => {
    const n = Number(frame.recipients);
    if (!(n > 0) || Number(frame.answered) < n || complete.has(frame.alert_id)) return;
    complete.add(frame.alert_id);
    if (complete.size > MAX_DONE) complete.delete(complete.values().next().value);
    once('answers', () => sound.chime('answers'));
  });
  return sound;
}
