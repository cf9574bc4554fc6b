// CAP geocodes from every info block (issue 18, item 1): a feed may put a
// region's codes in one language's block only. A document whose second
// info block carries the only mapped geocode reaches the sites it maps to,
// instead of waiting in the inbox as mapped to nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as bus from './lib/bus.mjs';
import { CAP, EXAMPLES, capAdapter, runCap as run, show } from './lib/cap.mjs';

describe('CAP geocodes of every info block map to sites', { timeout: 300_000 }, () => {
  let st, tmp, capArgs, site;

  before(async () => {
    st = await bus.startBusStack({ label: import.meta.url });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tocsin-117-'));
    ({ id: site } = await st.one("SELECT id FROM sites WHERE name = 'Threadneedle Exchange House'"));
    ({ args: capArgs } = await capAdapter(st, tmp, 'cap-every-info'));
    const r = await bus.tocsinctl(st, ['geocode', 'add', 'ONS', 'E05009117', '--sites', String(site)]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await st?.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the second info block carries the only mapped geocode: the alert reaches its site', async () => {
    const amber = fs.readFileSync(path.join(EXAMPLES, 'a4-amber-alert-multilingual.xml'), 'utf8')
      .replace('KAR0-0306112239-SW', 'KAR0-SECOND-BLOCK-117');
    const at = amber.indexOf('<language>es-US</language>');
    assert.ok(at > 0, 'the example has a Spanish block');
    const english = amber.slice(0, at).replaceAll('006037', '006998')
      .replaceAll('Los Angeles County', 'Nowhere County 117');
    const spanish = amber.slice(at).replace('<valueName>SAME</valueName>\n           <value>006037</value>',
      '<valueName>ONS</valueName>\n           <value>E05009117</value>');
    assert.notEqual(spanish, amber.slice(at), 'the Spanish block now carries the mapped geocode');
    const file = path.join(tmp, 'second-block.xml');
    fs.writeFileSync(file, english + spanish);

    const con = await st.connectAs('console.threadneedle');
    const r = await run(CAP, ['import', ...capArgs, file]);
    assert.equal(r.code, 0, show(r));
    const id = Number(r.out.trim());
    assert.ok(id > 0, `published, not held: ${show(r)}`);
    const m = await con.next((x) => x.type === 'alert' && x.alert.id === id, 20_000);
    assert.equal(m.alert.source.adapter, 'cap-every-info');
    const sites = await st.query('SELECT site_id FROM alert_recipients WHERE alert_id = $1 ORDER BY site_id', [id]);
    assert.deepEqual(sites.map((s) => s.site_id), [site], 'ONS E05009117 is the one mapped site');
    con.close();
  });
});
