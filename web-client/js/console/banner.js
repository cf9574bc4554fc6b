// console/banner.js: #alert-banner, the alert the desk must deal with now
// (the most urgent one still waiting: queue.js), and what goes with it:
// the takeover of a site console's screen by an urgent alert, which a
// more urgent arrival takes over at once (the one displaced waits,
// visibly), the calm stand-down of a cancellation, the tone, the page
// title, the header's place, and raising a new alert (ring, announce,
// focus on the action button).

import { el, formatTime } from '../ui.js';
import { areaText } from '../area.js';
import { SEVERITIES, SERIOUS_SEVERITIES, exerciseWord } from '../vocab.js';
import { desk, referenced, announce } from './desk.js';
import { waiting, pendingText } from './queue.js';
import {
  exerciseText, categoryText, handlingText, kindText, sevOf, senderText, siteNames,
  escalationText, relayable, relayedText, ownSitesText, isStandDown, standDownWhat,
  standDownReason, cancelAsks, needsAck, relayNotes,
} from './words.js';
import { requestBlock, syncRequest } from './answers.js';
import { fillImages, signatureText, signatureClass } from './items.js';
import { maybeSendRead } from './read.js';
import { renderCapInfo } from './capinfo.js';

/* Company operators do not acknowledge: their banner has a local
 * "Dismiss" instead of #ack, and a button to relay a force alert to their
 * sites (relay.js opens the dialog). */
export function setupBanner() {
  if (desk.canAck) return;
  const dismiss = el('button', { id: 'dismiss', type: 'button', class: 'btn btn-ack' }, 'Dismiss');
  desk.dom.actionBtn.replaceWith(dismiss);
  desk.dom.actionBtn = dismiss;
  const bannerRelay = el('button', { id: 'banner-relay', type: 'button', class: 'btn btn-relay relay' }, 'Relay to our sites…');
  dismiss.after(bannerRelay);
  desk.dom.bannerRelay = bannerRelay;
}

/* ---- Header: where this desk is ----------------------------------------- */

export function renderPlace() {
  const { directory, user } = desk;
  const name = document.getElementById('place-name');
  const detail = document.getElementById('place-detail');
  if (desk.canAck) {
    const site = directory.sites.find((s) => s.id === user.site_id);
    const guard = site && directory.orgs.find((o) => o.id === site.guard_org_id);
    name.textContent = site ? site.name : (user.site_name || 'Site console');
    detail.textContent = site ? [site.address, guard && `guarded by ${guard.name}`].filter(Boolean).join(' · ') : '';
  } else {
    const org = directory.orgs.find((o) => o.id === user.org_id);
    name.textContent = org ? org.name : (user.org_name || 'Company desk');
    const n = directory.sites.filter((s) => s.guard_org_id === user.org_id).length;
    detail.textContent = org ? `${n} guarded site${n === 1 ? '' : 's'}` : '';
  }
  detail.hidden = !detail.textContent;
  updateTitle();
}

// "(2) Tocsin · Bank Tower" while two alerts wait: visible in the tab.
function updateTitle() {
  const n = waiting().length;
  const place = document.getElementById('place-name').textContent || 'Console';
  document.title = `${n ? `(${n}) ` : ''}Tocsin · ${place}`;
}

/* ---- The banner ------------------------------------------------------------ */

function setText(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

function hideBanner() {
  const { banner, allClear } = desk.dom;
  banner.hidden = true;
  delete banner.dataset.alertId;
  delete banner.dataset.rendered;
  allClear.hidden = desk.session.state === 'reconnecting';
  document.body.classList.remove('alerting');
  document.body.classList.remove('alerting-exercise');
  setTakeover(null);
}

/* The marks at the top: severity (or the stand-down), live or exercise. */
function fillMarks(a) {
  const { banner } = desk.dom;
  const calm = isStandDown(a);
  banner.querySelector('.severity').textContent = calm ? 'stand down' : a.severity || '';
  const ex = exerciseText(a);
  setText(banner.querySelector('.live-mark'), !ex && !calm ? 'LIVE' : '');
  setText(banner.querySelector('.exercise-mark'), ex);
  const w = exerciseWord(a.status);
  setText(banner.querySelector('.exercise-strip'), ex ? `${w} · ${w} · ${w} — not a real incident` : '');
  banner.classList.toggle('is-exercise', Boolean(ex));
  banner.classList.toggle('stand-down', calm);
  banner.dataset.standDown = calm ? 'true' : 'false';
  document.body.classList.toggle('alerting-exercise', Boolean(ex));
  setText(banner.querySelector('.category'), calm ? '' : categoryText(a));
  setText(banner.querySelector('.classification'), a.classification === 'OFFICIAL-SENSITIVE' ? a.classification : '');
}

/* The alert's words: kind, headline, what to do, area, relay, escalation;
 * for a cancellation, the stand-down: what was cancelled, and why. */
function fillBannerText(entry) {
  const { banner } = desk.dom;
  const a = entry.alert;
  const calm = isStandDown(a);
  fillMarks(a);
  banner.querySelector('.headline').textContent = calm ? 'Stand down — all clear' : a.headline || '';
  setText(banner.querySelector('.body'), calm ? standDownReason(a) : a.body);
  setText(banner.querySelector('.instruction'), !calm && a.instruction ? `What to do: ${a.instruction}` : '');
  setText(banner.querySelector('.handling'), handlingText(a));
  const area = calm ? '' : areaText(a.area);
  setText(banner.querySelector('.area'), area ? `Area: ${area}` : '');
  setText(banner.querySelector('.relay-note'), relayNotes(entry));
  setText(banner.querySelector('.kind-mark'), calm ? standDownWhat(a) : kindText(a, referenced(a)));
  const sites = siteNames(a);
  setText(banner.querySelector('.sites'), sites ? `Sites: ${sites}` : '');
  const escEl = banner.querySelector('.escalation');
  let esc = escalationText(entry);
  if (!esc && entry.escalated) esc = 'Reminder: the control room is waiting for this desk to acknowledge.';
  setText(escEl, calm ? '' : esc);
  banner.classList.toggle('escalated', Boolean(esc) && !calm);
  const mark = banner.querySelector('.signature-mark');
  mark.className = signatureClass(entry);
  setText(mark, signatureText(entry));
  renderCapInfo(banner.querySelector('.cap-info'), a);
  banner.querySelector('.sender').textContent = senderText(a);
  const sentAt = banner.querySelector('.sent-at');
  sentAt.dateTime = a.sent_at || '';
  sentAt.textContent = formatTime(a.sent_at);
  banner.querySelector('.expires').textContent = a.expires && !calm ? ` · expires ${formatTime(a.expires)}` : '';
}

// Images and the answer controls are rebuilt only when another alert
// takes the banner (so that typing and focus survive re-renders).
function fillBannerParts(entry) {
  const { banner } = desk.dom;
  const a = entry.alert;
  const full = !isStandDown(a) || cancelAsks(a);
  const reqBox = banner.querySelector('.request');
  if (banner.dataset.rendered !== String(a.id)) {
    banner.dataset.rendered = String(a.id);
    fillImages(banner.querySelector('.images'), isStandDown(a) ? {} : a);
    const ask = full && a.request;
    reqBox.replaceChildren(...(ask ? [requestBlock(entry)] : []));
    reqBox.hidden = !ask;
  } else {
    const box = reqBox.querySelector('.request-box');
    if (box) syncRequest(box, entry);
  }
}

/* The action button and the line under it: acknowledging (site consoles;
 * a stand-down only closes, unless the controller asked for an answer) or
 * dismiss, relay and the relays' counts (company desks). */
function fillBannerActions(entry) {
  const { banner, actionBtn, ackNote, bannerRelay } = desk.dom;
  const a = entry.alert;
  if (desk.canAck && needsAck(entry)) {
    const sending = desk.ackQueue.has(a.id);
    actionBtn.disabled = sending && desk.ackInFlight.has(a.id);
    actionBtn.textContent = sending ? 'Acknowledging…' : 'Acknowledge';
    ackNote.textContent = sending && !desk.session.connected
      ? 'Offline: the acknowledgement will be sent when the connection is back.'
      : desk.sound.state === 'blocked' ? 'Sound is blocked by this browser: this alert cannot ring.' : '';
  } else if (desk.canAck) {
    actionBtn.disabled = false;
    actionBtn.textContent = 'Close';
    ackNote.textContent = 'No acknowledgement needed.';
  } else {
    ackNote.textContent = 'Company desks do not acknowledge; the sites do.';
    bannerRelay.hidden = !relayable(entry);
    bannerRelay.dataset.alertId = String(a.id);
    const r = relayedText(entry);
    if (r) ackNote.textContent = r;
  }
  const own = banner.querySelector('.own-sites-summary');
  if (own) {
    own.textContent = desk.canAck ? '' : ownSitesText(entry);
    own.hidden = !own.textContent;
  }
}

export function renderBanner() {
  const { banner, allClear } = desk.dom;
  const queue = waiting();
  updateTitle();
  if (!queue.length) {
    hideBanner();
    return;
  }
  const entry = queue[0];
  const a = entry.alert;
  const sev = sevOf(a);
  banner.hidden = false;
  allClear.hidden = true;
  banner.dataset.alertId = String(a.id);
  banner.dataset.severity = sev;
  banner.dataset.alertStatus = a.status || 'actual';
  for (const s of SEVERITIES) banner.classList.toggle(`sev-${s}`, s === sev && !isStandDown(a));
  document.body.classList.add('alerting');

  fillBannerText(entry);
  fillBannerParts(entry);
  setText(banner.querySelector('.pending-count'), pendingText(queue));
  fillBannerActions(entry);
  setTakeover(a);
  maybeSendRead();
}

/* ---- Takeover ------------------------------------------------------------- */

/* An urgent alert (severe, extreme or immediate) at a site console takes
 * the whole screen, rings until it is acknowledged, and keeps the
 * keyboard inside it: the page behind is inert until then. A more urgent
 * alert that arrives takes its place at once (queue.js) and rings with its
 * own severity. */
function isUrgent(a) {
  return !isStandDown(a) && (SERIOUS_SEVERITIES.includes(sevOf(a)) || a.urgency === 'immediate');
}

function setTakeover(a) {
  const { banner } = desk.dom;
  const on = Boolean(a) && desk.canAck && isUrgent(a);
  banner.classList.toggle('takeover', on);
  banner.dataset.takeover = on ? 'true' : 'false';
  document.body.classList.toggle('taken-over', on);
  for (const n of document.querySelectorAll('body > header, body > main')) n.inert = on;
  if (on) desk.sound.ring(sevOf(a));
  else desk.sound.stopRinging();
}

// Ring, announce and put the keyboard on the action button. A stand-down
// sounds once, softly.
export function raise(a, text) {
  renderBanner();
  announce(text);
  desk.sound.alert(isStandDown(a) ? 'minor' : sevOf(a));
  refocusAction();
}

/* Focus back on the action button if the banner still shows an alert. */
export function refocusAction() {
  if (!desk.dom.banner.hidden) desk.dom.actionBtn.focus();
}
