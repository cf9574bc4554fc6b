// console/capinfo.js: what an imported CAP message sent beyond the alert
// (docs/protocol.md, "Alerts in full": cap_info): the contact, web page
// and area of the block shown, the full description and instruction when
// the alert's own were cut, and every other language, folded. The block
// shown is the one in the language of the console's site (the directory's
// `language`, default en-GB: issue 18); when that is not the alert's own
// (the first block), its texts are shown open above the others.

import { el } from '../ui.js';
import { desk } from './desk.js';

// The language of this console's site, lower case ('en-gb' by default).
function siteLanguage() {
  const id = desk.user?.site_id;
  const site = desk.directory.sites.find((x) => x.id === id);
  return (site?.language || 'en-GB').toLowerCase();
}

// The block in lang exactly, else in its primary language (es for es-MX),
// else the first.
function shownBlock(blocks, lang) {
  const of = (b) => (b.language || '').toLowerCase();
  const primary = lang.split('-')[0];
  return blocks.find((b) => of(b) === lang)
    || blocks.find((b) => of(b).split('-')[0] === primary) || blocks[0];
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
  const main = shownBlock(blocks, siteLanguage());
  const own = blocks[0];
  if (main !== own) {
    box.append(el('div', { class: 'cap-site-lang', dataset: { lang: main.language }, lang: main.language },
      el('p', { class: 'cap-headline' }, main.headline || main.event || ''),
      main.description ? el('p', { class: 'cap-description' }, main.description) : null,
      main.instruction ? el('p', { class: 'cap-instruction' }, main.instruction) : null));
  }
  box.append(...textLines(main).filter(Boolean));
  const cut = (full, shown) => full && shown !== full;
  if (cut(own.description, a.body) || cut(own.instruction, a.instruction) || cut(own.headline, a.headline)) {
    box.append(folded('cap-full', 'Full text as sent', own, {}));
  }
  for (const b of blocks) {
    if (b === main || (b === own && main !== own)) continue;
    box.append(folded('cap-lang', `In ${b.language}: ${b.headline || b.event || ''}`, b, { lang: b.language }));
  }
}
