// Regressions for what fuzzing found (tests/fuzz/README.md), end to end:
// the broker's answer to each input, over a real WebSocket.
//
// 1. An error frame whose message held bytes that are not UTF-8 was never
//    sent (jansson refused to build it), so the client got no answer at
//    all: an unknown type whose quoted name was cut inside a character by
//    the 40-byte limit, or invalid JSON whose parse error quoted raw bytes.
//    Both now get their typed error (frame.c, error_string).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Stack, ROOT } from './lib/harness.mjs';

describe('fuzzing finds, end to end', { timeout: 120_000 }, () => {
  let st;
  let ctl;

  before(async () => {
    st = await Stack.create({ label: import.meta.url });
    ctl = await st.connectAs('controller');
  });
  after(async () => { await st?.cleanup(); });

  async function expectError(raw, code) {
    ctl.sendRaw(raw, { binary: false }); // a text frame, even from a Buffer
    const err = await ctl.next((m) => m.type === 'error', 5000, `an error ${code}`);
    assert.equal(err.code, code, JSON.stringify(err));
    assert.ok(typeof err.message === 'string' && err.message.length > 0);
    await ctl.ping(5000);
    return err;
  }

  it('an unknown type cut inside a character by the length limit gets unknown_type', async () => {
    const name = 'a' + 'é'.repeat(30);
    const err = await expectError(JSON.stringify({ type: name }), 'unknown_type');
    assert.equal(err.field, 'type');
    assert.ok(err.message.includes('a' + 'é'.repeat(19)), err.message);
  });

  it('invalid JSON quoting bytes that are not UTF-8 gets bad_json (the fuzzer\'s crasher)', async () => {
    const crasher = fs.readFileSync(path.join(ROOT, 'tests/fuzz/corpus/frame/crash-bad-json-utf8-in-error'));
    await expectError(crasher, 'bad_json');
    await expectError(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a]), 'bad_json');
  });

  it('the broker stopped cleanly (no sanitizer report)', async () => {
    await st.stop();
  });
});
