// Bad CAP over the bus (issue 18, "Bad input"): a document that is not
// XML, not CAP 1.2, over the size limit, with an external entity or a
// billion-laughs expansion, or with a polygon of more points than Tocsin
// holds, is refused by tocsin-cap import with the element and line named;
// nothing is half-imported (no alert, no image, no adapter submission),
// and the broker (ASan) stays up.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as bus from './lib/bus.mjs';
import { CAP, EXAMPLES, runCap as run, capAdapter } from './lib/cap.mjs';

const EXAMPLE = fs.readFileSync(path.join(EXAMPLES, 'a1-homeland-security-advisory.xml'), 'utf8');
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAAABJRU5ErkJggg==';


// A polygon of n points (closed) around the City.
function polygon(n) {
  const pts = [];
  for (let i = 0; i < n - 1; i++) {
    const t = (2 * Math.PI * i) / (n - 1);
    pts.push(`${(51.51 + 0.01 * Math.sin(t)).toFixed(6)},${(-0.09 + 0.01 * Math.cos(t)).toFixed(6)}`);
  }
  pts.push(pts[0]);
  return pts.join(' ');
}

// An image first (it would be uploaded before the publish), then the fault.
const withImage = (xml) => xml.replace('<area>',
  `<resource><resourceDesc>Photo</resourceDesc><mimeType>image/png</mimeType><derefUri>${PNG_1X1}</derefUri></resource>\n    <area>`);

const CASES = [
  ['not XML', 'this is not XML at all\n', /rejected: document \(line 1\): not well-formed XML/],
  ['not CAP 1.2 (the CAP 1.1 namespace)', EXAMPLE.replace('urn:oasis:names:tc:emergency:cap:1.2', 'urn:oasis:names:tc:emergency:cap:1.1'),
    /rejected: alert \(line 2\): .*No matching global declaration/],
  ['an external entity (XXE)', EXAMPLE.replace('<alert', '<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<alert')
    .replace('Homeland Security Sets Code ORANGE', '&xxe;'), /rejected: document \(line \d\): a DOCTYPE is not allowed in CAP/],
  ['a billion laughs', EXAMPLE.replace('<alert', '<!DOCTYPE alert [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    + '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>\n<alert')
    .replace('Homeland Security Sets Code ORANGE', '&d;'), /rejected: document \(line \d\): (a DOCTYPE is not allowed in CAP|not well-formed XML)/],
  ['a polygon of 501 points', withImage(EXAMPLE.replace('<areaDesc>', `<polygon>${polygon(501)}</polygon>\n      <areaDesc>`)
    .replace(/<areaDesc>([^<]*)<\/areaDesc>\n\s*<polygon>/, '<areaDesc>$1</areaDesc>\n      <polygon>')),
  /rejected: (polygon|alert|area) \(line \d+\)/],
  ['over the size limit', EXAMPLE.replace('</description>', `${'x'.repeat(9 * 1024 * 1024)}</description>`),
    /rejected: document: over 8 MiB/],
];

describe('bad CAP is refused naming element and line, and nothing is half-imported', { timeout: 300_000 }, () => {
  let st;
  let tmp;
  let capArgs;

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-113-'));
    const site = (await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'")).id;
    ({ args: capArgs } = await capAdapter(st, tmp, 'cap-bad', [site]));
  });
  after(async () => {
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const counts = async () => st.one(`SELECT (SELECT count(*)::int FROM alerts) AS alerts,
    (SELECT count(*)::int FROM images) AS images, (SELECT count(*)::int FROM adapter_submissions) AS submissions`);

  for (const [what, xml, want] of CASES) {
    it(`refuses ${what}`, async () => {
      const before = await counts();
      const file = path.join(tmp, `${what.replace(/\W+/g, '-')}.xml`);
      fs.writeFileSync(file, xml);
      const r = await run(CAP, ['import', ...capArgs, file]);
      assert.equal(r.code, 1, `exit 1 (refused): ${r.err}`);
      assert.match(r.err, want);
      assert.equal(r.out, '', 'no alert id printed');
      assert.deepEqual(await counts(), before, 'nothing stored');
    });
  }

  it('a valid document still imports afterwards (the broker is up)', async () => {
    const file = path.join(tmp, 'good.xml');
    fs.writeFileSync(file, EXAMPLE);
    const r = await run(CAP, ['import', ...capArgs, file]);
    assert.equal(r.code, 0, r.err);
    assert.ok(Number(r.out.trim()) > 0);
  });
});
