// console/reportform.js: "Report to police" (docs/protocol.md §2b "Partner
// reports"), on the desks of site consoles and company operators: a kind,
// a text, where it happened (optional: a pin put on #report-map by a
// click, or typed in #report-lat/#report-lon, which the pin follows; it
// must lie in the force's area) and an optional photo, uploaded first
// through /api/images. Without a place a console's report is placed at
// its site. A crime (kind "Crime") is sent as a `crime_report` with its
// category, time and property (crimefields.js).

import {
  showError, describeError, clock, isUnsupported, unsupportedText, setInvalid,
} from '../ui.js';
import { checkImageFile, uploadImage } from '../images.js';
import { REPORT_KIND_LABELS } from '../vocab.js';
import { createCityMap } from '../map.js';
import { checkPlace, AreaError } from '../area.js';
import { setupCrimeFields, CrimeFieldError } from './crimefields.js';

/* The place fields and the map's pin, kept in step; the map shows the
 * desk's own sites (from `directory`) to find one's way. Returns {read()
 * ({lat, lon} | null, throws AreaError), node(field), clear()}. */
function setupPlace(session, isConsole) {
  const $ = (id) => document.getElementById(id);
  const lat = $('report-lat');
  const lon = $('report-lon');
  const note = $('report-place-note');
  const map = createCityMap($('report-map'), { label: 'Map: click where it happened' });
  const nowhere = isConsole ? 'No place: the report is placed at your site.' : 'No place given.';

  function render() {
    for (const n of [lat, lon]) setInvalid(n, false);
    if (!lat.value.trim() && !lon.value.trim()) {
      map.setPin(null);
      note.textContent = nowhere;
      return;
    }
    try {
      const p = checkPlace(lat.value, lon.value);
      map.setPin(p);
      note.textContent = `The report is placed at ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}.`;
    } catch (err) {
      if (!(err instanceof AreaError)) throw err;
      map.setPin(null);
      note.textContent = err.message;
    }
  }
  session.on('directory', (frame) => {
    map.setSites(Array.isArray(frame.sites) ? frame.sites : []);
  });
  map.onPick(({ lat: a, lon: b }) => {
    lat.value = a.toFixed(6);
    lon.value = b.toFixed(6);
    render();
  });
  for (const n of [lat, lon]) n.addEventListener('input', render);
  $('report-pin-clear').addEventListener('click', () => {
    lat.value = '';
    lon.value = '';
    render();
  });
  render();
  return {
    read() {
      if (!lat.value.trim() && !lon.value.trim()) return null;
      return checkPlace(lat.value, lon.value);
    },
    node: (field) => (field === 'lon' ? lon : lat),
    clear() {
      lat.value = '';
      lon.value = '';
      render();
    },
  };
}

export function setupReportForm(session, token, { isConsole = true } = {}) {
  const $ = (id) => document.getElementById(id);
  const form = $('report-form');
  if (!form) return null;
  const place = setupPlace(session, isConsole);
  const kind = $('report-kind');
  const text = $('report-text');
  const photo = $('report-photo');
  const send = $('report-send');
  const result = $('report-result');
  const error = $('report-error');
  const count = $('report-text-count');
  const crime = setupCrimeFields(kind);
  let pendingRef = null;
  let busy = false;

  const fields = { kind, text, image: photo };

  function fail(message, node) {
    showError(error, message);
    result.hidden = true;
    if (node) {
      setInvalid(node, true);
      node.focus();
    }
  }

  function setBusy(on, label = 'Sending…') {
    busy = on;
    send.disabled = on;
    send.textContent = on ? label : 'Send report';
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  text.addEventListener('input', () => {
    setInvalid(text, false);
    if (count) count.textContent = `${text.value.length} / 2000`;
  });
  photo.addEventListener('change', () => setInvalid(photo, false));
  kind.addEventListener('change', () => setInvalid(kind, false));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    showError(error, '');
    for (const n of [...Object.values(fields), ...crime.nodes()]) setInvalid(n, false);
    const t = text.value.trim();
    if (!t) return fail('Describe what you saw or what happened.', text);
    if (t.length > 2000) return fail('The report is longer than 2000 characters.', text);
    const file = photo.files && photo.files[0];
    const bad = checkImageFile(file);
    if (bad) return fail(bad, photo);
    let where;
    try {
      where = place.read();
    } catch (err) {
      if (!(err instanceof AreaError)) throw err;
      return fail(err.message, place.node(err.field));
    }
    let record = null;
    if (crime.active()) {
      try {
        record = crime.read();
      } catch (err) {
        if (!(err instanceof CrimeFieldError)) throw err;
        return fail(err.message, err.node);
      }
    }
    if (!session.connected) return fail('Not connected to the broker: the report was not sent. Try again when the connection is back.');

    const frame = record ? { ...record, text: t, ...(where || {}) } : { kind: kind.value, text: t, ...(where || {}) };
    if (file) {
      setBusy(true, 'Uploading photo…');
      try {
        frame.image = await uploadImage(token, file);
      } catch (err) {
        setBusy(false);
        return fail(err.message, photo);
      }
    }
    const ref = session.request(record ? 'crime_report' : 'report', frame);
    if (!ref) {
      setBusy(false);
      return fail('Not connected to the broker: the report was not sent.');
    }
    pendingRef = ref;
    setBusy(true);
  });

  function done(words) {
    setBusy(false);
    showError(error, '');
    result.textContent = words;
    result.hidden = false;
    form.reset();
    place.clear();
    crime.reset();
    if (count) count.textContent = '0 / 2000';
  }
  session.on('reported', (frame, req) => {
    if (!req || req.type !== 'report') return;
    if (frame.ref === pendingRef) pendingRef = null;
    done(`Report sent to the police at ${clock(new Date())} (${REPORT_KIND_LABELS[req.kind] || req.kind}, number ${frame.report_id}).`);
  });
  session.on('crime_reported', (frame, req) => {
    if (!req || req.type !== 'crime_report') return;
    if (frame.ref === pendingRef) pendingRef = null;
    done(`Crime recorded for the police at ${clock(new Date())} (record ${frame.record_id}).`);
  });

  session.on('lost', (requests) => {
    if (requests.some((r) => r.ref === pendingRef)) {
      pendingRef = null;
      setBusy(false);
      fail('The connection dropped before the broker confirmed this report: it may not have been sent. Send it again when the connection is back.');
    }
  });

  /* Called by the page's error handler for request types `report` and
   * `crime_report`. */
  return {
    onError(frame) {
      pendingRef = null;
      setBusy(false);
      if (isUnsupported(frame)) return fail(unsupportedText('Reporting to the police'));
      const f = String(frame.field || '');
      const node = f.startsWith('image') ? photo : f.startsWith('kind') ? kind
        : f.startsWith('text') ? text : f === 'lat' || f === 'lon' ? place.node(f) : crime.node(f);
      return fail(`The report was not sent: ${describeError(frame)}`, node);
    },
  };
}
