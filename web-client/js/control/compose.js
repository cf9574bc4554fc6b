// control/compose.js: the control room's alert form (control.html
// #compose): the alert in full (docs/protocol.md §2b), the recipient
// picker (sites, companies, sectors, roles, the area), the optional
// question, images, `preview`, the typed confirmation for live severe and
// extreme alerts, and the update mode opened from a sent alert. The
// room owns the session, the sent list and the error routing; it calls in
// here through the object createCompose returns. The form's state is
// composer.js; each part is a compose-*.js module.

import { initComposer, composer, showComposeError, readArea, areaKind } from './composer.js';
import { renderLook, renderRequestKind, wireFields } from './compose-fields.js';
import {
  describeTargets, renderTargets, renderAreaKind, wireRecipients,
} from './compose-recipients.js';
import { onPreview, wirePreview } from './compose-preview.js';
import { onPublished, onError, onLost, wireSend } from './compose-send.js';
import {
  startUpdate, startFromReport, startFromImport, startFromPattern, applyTemplate, wireMode,
} from './compose-mode.js';

export function createCompose({ session, token, onAreaChange, onReportPublished }) {
  initComposer({ session, token, onAreaChange, onReportPublished });
  wireFields();
  wireRecipients();
  wirePreview();
  wireSend();
  wireMode();
  renderAreaKind();
  renderRequestKind();
  renderLook();
  composer.ready = true;

  return {
    setDirectory(dir) {
      composer.directory = dir;
      renderTargets();
    },
    applyTemplate,
    startUpdate,
    startFromReport,
    startFromImport,
    startFromPattern,
    onPublished,
    onPreview,
    onError,
    onLost,
    describeTargets,
    showError: showComposeError,
    /* The area as typed, for Report now and Area totals. */
    currentArea: readArea,
    areaKind,
    get publishRef() { return composer.publishRef; },
  };
}
