// control/composemap.js: the control room's compose map (control.html
// #compose-map). It shows the area typed in the compose form and the sites
// inside it, and lets the controller draw a circle or polygon instead of
// typing it: a finished drawing is written into the typed area fields (the
// one source of truth, and the keyboard's way in) and ticks "Every site
// inside the area", so the compose form (compose.js) never knows it was
// drawn.

import { createCityMap, attachDrawTool } from '../map.js';
import { areaText, inArea, polygonLines } from '../area.js';

function fire(node, type) {
  node.dispatchEvent(new Event(type, { bubbles: true }));
}

/* compose: the createCompose() object (for currentArea()); sites(): the
 * directory's sites. Returns {render()} to call when the area or the
 * directory changes. */
export function setupComposeMap({ compose, sites }) {
  const $ = (id) => document.getElementById(id);
  const container = $('compose-map');
  const hint = $('draw-hint');
  const cityMap = createCityMap(container, { label: 'Map for drawing the alert area' });
  const draw = attachDrawTool(cityMap, {
    onDone: fillDrawnArea,
    onHint: (text) => { hint.textContent = text; },
  });

  // Finish and Stop show only while drawing.
  function showDrawing(kind) {
    $('draw-finish').hidden = kind !== 'polygon';
    $('draw-cancel').hidden = !kind;
  }

  for (const kind of ['circle', 'polygon']) {
    $(`draw-${kind}`).addEventListener('click', () => {
      draw.start(kind);
      showDrawing(kind);
    });
  }
  $('draw-finish').addEventListener('click', () => draw.finish());
  $('draw-cancel').addEventListener('click', () => {
    draw.cancel();
    showDrawing(null);
  });
  container.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') showDrawing(draw.active);
  });

  // The drawing becomes the typed area, and targets every site inside it.
  function fillDrawnArea(area) {
    showDrawing(null);
    draw.clearDraft();
    const kind = area.circle ? 'circle' : 'polygon';
    const radio = document.querySelector(`input[name="area-kind"][value="${kind}"]`);
    radio.checked = true;
    fire(radio, 'change');
    if (area.circle) {
      $('area-lat').value = String(area.circle.lat);
      $('area-lon').value = String(area.circle.lon);
      $('area-radius').value = String(area.circle.radius_m);
      fire($('area-radius'), 'input');
    } else {
      $('area-polygon').value = polygonLines(area.polygon);
      fire($('area-polygon'), 'input');
    }
    const everySite = $('target-area');
    if (!everySite.checked) {
      everySite.checked = true;
      fire(everySite, 'change');
    }
    hint.textContent = `${areaText(area)}: drawn; “Every site inside the area” is ticked.`;
  }

  // The typed area (valid or not yet) and the sites it covers.
  function render() {
    const { area } = compose.currentArea();
    const exercise = $('status').value !== 'actual';
    cityMap.setAreas(area ? [{ area, className: `area-shape${exercise ? ' is-exercise' : ''}` }] : []);
    cityMap.setSites(sites(), (s) => (area && inArea(area, s.lat, s.lon) ? 'in-area' : ''));
  }
  $('status').addEventListener('change', render);

  return { render };
}
