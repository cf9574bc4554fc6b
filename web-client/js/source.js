// source.js: who really sent an alert (docs/protocol.md, "Alerts in full":
// source), in words, for the consoles (console/words.js) and the control
// room's list (control/sent-item.js): a person by name and organisation;
// an import by its original sender (a CAP message's senderName or sender,
// an ANPR camera and where it stands) and the adapter that brought it,
// never the adapter's bound user as if they had written it; and for a
// registered CAP sender, whether its signature verified.

export function sourceText(alert) {
  const s = alert.sender || {};
  const src = alert.source || {};
  if (src.kind === 'adapter') {
    const o = src.origin || {};
    const who = o.sender_name || o.sender;
    const sig = signatureText(o);
    const via = `${who ? 'imported by' : 'adapter'} ${src.adapter}${s.org_name ? `, ${s.org_name}` : ''}${sig ? `; ${sig}` : ''}`;
    return who ? `${who} (${via})` : via;
  }
  return [s.display_name, s.org_name].filter(Boolean).join(', ') || 'unknown sender';
}

// 1 when an adapter, not a person, sent it.
export function fromAdapter(alert) {
  return (alert.source || {}).kind === 'adapter';
}

// What the CAP importer found of a registered sender's XML Signature
// (docs/security.md, "Signed CAP from registered senders"): '' for a
// sender nobody registered.
export function signatureText(origin) {
  if (origin?.signature === 'verified') return `signature verified (sender ${origin.sender})`;
  if (origin?.signature === 'failed') return 'signature FAILED, published after review';
  return '';
}
