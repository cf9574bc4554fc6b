// The drawing rules behind the control room's map (web-client/js/draw.js),
// run in node without a browser: a circle from a centre and an edge point,
// a polygon from its corners, closed on its first corner or by Finish, and
// every refusal (too small, too large, too few corners) with its message.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  startDrawing, addPoint, finish, undo, previewRadius, hintFor,
} from '../../web-client/js/draw.js';
import { distanceM } from '../../web-client/js/area.js';

const BANK = [51.5136, -0.0895];
const near = (p, q) => distanceM(p[0], p[1], q[0], q[1]) < 5;   // "on screen": within 5 m

describe('drawing an alert area', () => {
  it('a circle: centre, then edge; radius in whole metres', () => {
    let st = startDrawing('circle');
    assert.match(hintFor(st), /centre/);
    st = addPoint(st, ...BANK);
    assert.equal(st.done, null);
    assert.match(hintFor(st), /edge/);
    const r = previewRadius(st, 51.5145, -0.0895);
    assert.ok(Math.abs(r - distanceM(...BANK, 51.5145, -0.0895)) < 1e-6);
    st = addPoint(st, 51.5145, -0.0895);
    assert.deepEqual(st.done, { circle: { lat: 51.5136, lon: -0.0895, radius_m: Math.round(distanceM(...BANK, 51.5145, -0.0895)) } });
    assert.equal(addPoint(st, 51.6, -0.1), st, 'a finished drawing takes no more points');
  });

  it('a circle refuses an edge on the centre and a radius over 50 km', () => {
    let st = addPoint(startDrawing('circle'), ...BANK);
    const same = addPoint(st, ...BANK);
    assert.equal(same.done, null);
    assert.match(same.error, /further from the centre/);
    const far = addPoint(st, 52.5, -0.0895);
    assert.equal(far.done, null);
    assert.match(far.error, /at most 50 km/);
    assert.match(hintFor(far), /at most 50 km/);
    st = addPoint(far, 51.514, -0.0895);
    assert.ok(st.done?.circle, 'a good edge after a refusal still works');
    assert.equal(st.error, null);
  });

  it('a polygon closes on its first corner, rounded to 6 decimals, first point repeated', () => {
    let st = startDrawing('polygon');
    const corners = [[51.5150001234, -0.09], [51.515, -0.085], [51.512, -0.085], [51.512, -0.09]];
    for (const c of corners) st = addPoint(st, ...c, near);
    assert.equal(st.done, null);
    assert.match(hintFor(st), /4 corners/);
    st = addPoint(st, 51.515, -0.09, near);   // on the first corner
    assert.deepEqual(st.done.polygon, [[51.515, -0.09], [51.515, -0.085], [51.512, -0.085], [51.512, -0.09], [51.515, -0.09]]);
  });

  it('a polygon: a double click adds one corner; Finish needs three distinct corners; undo takes one back', () => {
    let st = startDrawing('polygon');
    st = addPoint(st, 51.515, -0.09, near);
    st = addPoint(st, 51.515, -0.09, near);   // the second click of a double click
    assert.equal(st.points.length, 1);
    st = addPoint(st, 51.515, -0.085, near);
    const early = finish(st);
    assert.equal(early.done, null);
    assert.match(early.error, /at least three different corners/);
    st = addPoint(early, 51.512, -0.085, near);
    st = undo(st);
    assert.equal(st.points.length, 2);
    st = addPoint(st, 51.512, -0.087, near);
    st = finish(st);
    assert.equal(st.done.polygon.length, 4);
    assert.deepEqual(st.done.polygon[0], st.done.polygon[3]);
  });

  it('refuses an unknown kind and ignores points that are not numbers', () => {
    assert.throws(() => startDrawing('square'), /unknown drawing kind/);
    const st = startDrawing('polygon');
    assert.equal(addPoint(st, NaN, 1), st);
    assert.equal(finish(startDrawing('circle')).done, null, 'finish does not apply to a circle');
  });
});
