// console/capinfo.js: what an imported CAP message sent beyond the alert
// (docs/protocol.md, "Alerts in full": cap_info): the contact, web page
// and area of the block shown, the full description and instruction when
// the alert's own were cut, and every other language, folded.

import { el } from '../ui.js';

// The block in the desk's language (en-GB by default: any English one),
// else the first.
function shownBlock(blocks, lang = 'en') {
  return blocks.find((b) => (b.language || '').toLowerCase().startsWith(lang)) || blocks[0];
}

function textLines(b) {
  return [
    b.contact ? el('p', { class: 'cap-contact' }, `Contact: ${b.contact}`) : null,
    b.web ? el('p', { class: 'cap-web' }, `Web: ${b.web}`) : null,
    b.area ? el('p', { class: 'cap-area' }, `Area: ${b.area}`) : null,
  ];
}

// A folded block: its headline as the summary, its texts inside.
function folded(cls, summary, b, dataset) {
  return el('details', { class: cls, dataset }, el('summary', {}, summary),
    b.headline || b.event ? el('p', { class: 'cap-headline' }, b.headline || b.event) : null,
    b.description ? el('p', { class: 'cap-description' }, b.description) : null,
    b.instruction ? el('p', { class: 'cap-instruction' }, b.instruction) : null,
    ...textLines(b));
}

/* Fills box (the banner's .cap-info) for alert a; hidden when a carries
 * no cap_info. */
export function renderCapInfo(box, a) {
  const blocks = Array.isArray(a.cap_info) ? a.cap_info : [];
  box.replaceChildren();
  box.hidden = blocks.length === 0;
  if (!blocks.length) return;
  const main = shownBlock(blocks);
  box.append(...textLines(main).filter(Boolean));
  const cut = (full, shown) => full && shown !== full;
  if (cut(main.description, a.body) || cut(main.instruction, a.instruction) || cut(main.headline, a.headline)) {
    box.append(folded('cap-full', 'Full text as sent', main, {}));
  }
  for (const b of blocks) {
    if (b === main) continue;
    box.append(folded('cap-lang', `In ${b.language}: ${b.headline || b.event || ''}`, b, { lang: b.language }));
  }
}
