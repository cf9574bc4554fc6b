// control/releases.js: the two-person release in the control room
// (docs/protocol.md, "Two-person release"). A held alert is shown,
// unmistakably NOT SENT, with exactly what would go out (text, area,
// recipients); another controller approves or rejects it with a reason;
// the author sees who released it, or why not. Break glass is in the
// compose form (compose-collect.js). The duty inspector's page
// (inspector.html) shows the same list with the same actions: the page
// gives its session, its user, whether it may decide and what to do when
// its own publish is held (setupReleases).

import { el, formatTime, describeError } from '../ui.js';
import { areaText } from '../area.js';

const items = new Map(); // alert id -> { release, node }
const desk = { session: null, user: null, mayDecide: false };

const STATE_TEXT = {
  pending: 'NOT SENT — awaiting a second controller',
  approved: 'Released',
  rejected: 'Rejected: not sent',
  expired: 'Expired: not sent',
  released_alone: 'Released alone (break glass)',
};

function decidedText(r) {
  const who = r.decided_by ? r.decided_by.display_name || r.decided_by.username : '';
  if (r.state === 'approved') return `Released by ${who}${r.reason ? `: ${r.reason}` : ''}`;
  if (r.state === 'rejected') return `Rejected by ${who}: ${r.reason || ''}`;
  if (r.state === 'expired') return 'Nobody released it in time; it was not sent.';
  if (r.state === 'released_alone') return `Released alone by ${who}: ${r.reason || ''}`;
  return '';
}

function actions(r) {
  const mine = r.author?.user_id === desk.user.id;
  if (r.state !== 'pending') return null;
  if (mine || !desk.mayDecide) {
    return el('p', { class: 'muted release-own' },
      mine ? 'You wrote this alert: another person must release it.' : 'Only a controller or a duty inspector may release it.');
  }
  const reason = el('input', { type: 'text', class: 'release-reason', maxlength: '500',
    'aria-label': 'Reason (needed to reject)', placeholder: 'Reason (needed to reject)' });
  const send = (type) => {
    const ref = desk.session.request(type, { alert_id: r.alert_id, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) });
    if (!ref) showError(r.alert_id, 'Not connected to the broker: nothing was decided.');
  };
  return el('div', { class: 'release-actions' }, reason,
    el('button', { type: 'button', class: 'btn btn-primary release-approve', onclick: () => send('release_approve') }, 'Approve and send'),
    el('button', { type: 'button', class: 'btn release-reject', onclick: () => send('release_reject') }, 'Reject'));
}

function render(r) {
  const a = r.alert || {};
  const area = areaText(a.area);
  const names = (r.recipients || []).map((s) => s.name).join(', ');
  return el('li', { class: `release-item release-${r.state}`, dataset: { alertId: String(r.alert_id), state: r.state } },
    el('p', { class: 'release-state' }, STATE_TEXT[r.state] || r.state),
    el('h3', { class: 'headline' }, `${a.severity || ''} · ${a.headline || ''}`),
    a.body ? el('p', { class: 'body' }, a.body) : null,
    area ? el('p', { class: 'area' }, `Area: ${area}`) : null,
    el('p', { class: 'recipients' }, `${r.recipient_count} sites`),
    el('details', {}, el('summary', {}, 'Recipient sites'), el('p', {}, names)),
    el('p', { class: 'muted held-because' }, `Held because ${r.held_because}. Written by ${r.author?.display_name || r.author?.username}, `,
      formatTime(r.held_at), r.state === 'pending' ? ` · expires ${formatTime(r.expires_at)}` : ''),
    r.state !== 'pending' ? el('p', { class: 'release-decided' }, decidedText(r)) : null,
    el('p', { class: 'form-error release-error', role: 'alert', hidden: true }),
    actions(r));
}

function show(r) {
  const list = document.getElementById('release-list');
  const node = render(r);
  const old = items.get(r.alert_id);
  if (old) old.node.replaceWith(node);
  else list.prepend(node);
  items.set(r.alert_id, { release: r, node });
  document.getElementById('releases-empty').hidden = items.size > 0;
}

function showError(id, text) {
  const node = items.get(id)?.node.querySelector('.release-error');
  if (!node) return;
  node.textContent = text;
  node.hidden = false;
}

/* session, user: the page's; mayDecide: its user may approve and reject
 * (a controller, a duty inspector); onHeld(frame): its own publish was held. */
export function setupReleases({ session, user, mayDecide, onHeld = () => {} }) {
  Object.assign(desk, { session, user, mayDecide });
  session.on('release_pending', (frame) => {
    if (!frame.release) return;
    show(frame.release);
    onHeld(frame);
  });
  session.on('release_decided', (frame) => { if (frame.release) show(frame.release); });
  session.on('error', (frame, req) => {
    if (req && (req.type === 'release_approve' || req.type === 'release_reject')) {
      showError(req.alert_id, `Not done: ${describeError(frame)}`);
    }
  });
}
