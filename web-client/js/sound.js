// sound.js: a short alarm tone through Web Audio, and the #sound toggle.
// Browsers may refuse to start audio until the user has interacted with
// the page; nothing here may throw because of that. The first click or key
// press anywhere on the page unlocks the audio context. Alarms (alert,
// ring) are square beeps by severity; chimes are softer sine notes for
// news that needs a look, not an action (the control room's partner
// reports and complete answers). With persistKey the toggle is kept in
// localStorage, so a muted desk stays muted across reloads. The page
// learns at once whether audio is blocked (the context is made at start:
// it stays "suspended" under the browser's autoplay policy) and says so in
// a clear banner (opts.banner, with its button opts.unblock) until a click
// unlocks it: a kiosk set as docs/operations.md says never shows it.

const PATTERNS = {          // beeps per severity: [frequency Hz, count]
  minor: [660, 1],
  moderate: [760, 2],
  severe: [880, 3],
  extreme: [988, 4],
};

const CHIMES = {            // notes of a chime: [frequency Hz, start s]
  report: [[784, 0], [1047, 0.16]],
  answers: [[523, 0], [659, 0.14], [784, 0.28]],
};

const RING_EVERY_MS = 4000;  // an urgent alert rings again this often

/* The toggle as last chosen in this browser (true when never chosen). */
function loadEnabled(key) {
  try {
    return !key || localStorage.getItem(key) !== 'off';
  } catch {
    return true;
  }
}

function saveEnabled(key, on) {
  if (!key) return;
  try {
    localStorage.setItem(key, on ? 'on' : 'off');
  } catch {
    /* storage disabled: this page's life only */
  }
}

export function createSound(button, { persistKey = null, banner = null, unblock = null } = {}) {
  let ctx = null;
  let ringTimer = null;     // repeating tone of an urgent alert, until stopped
  let ringSeverity = null;
  let enabled = loadEnabled(persistKey);
  let playing = [];         // oscillators scheduled and not yet finished

  function context() {
    try {
      if (!ctx) {
        const Ctor = window.AudioContext || window.webkitAudioContext;
        if (!Ctor) return null;
        ctx = new Ctor();
        ctx.onstatechange = render;
      }
      if (ctx.state === 'suspended') ctx.resume().catch(() => {}).finally(render);
    } catch {
      ctx = null;
    }
    return ctx;
  }

  function render() {
    if (!button) return;
    let state;
    if (!enabled) state = 'off';
    else if (ctx && ctx.state === 'running') state = 'on';
    else state = 'blocked';
    button.dataset.state = state;
    button.setAttribute('aria-pressed', enabled ? 'true' : 'false');
    button.textContent = state === 'on' ? 'Sound on'
      : state === 'off' ? 'Sound off' : 'Sound: click to enable';
    if (banner) banner.hidden = state !== 'blocked';
  }

  /* notes: [[type, frequency, start s, length s, peak gain], …] */
  function play(notes) {
    try {
      if (!ctx || ctx.state !== 'running') return;
      const t0 = ctx.currentTime + 0.02;
      for (const [type, freq, at, len, peak] of notes) {
        const start = t0 + at;
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = type;
        osc.frequency.setValueAtTime(freq, start);
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(peak, start + 0.015);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + len - 0.02);
        osc.connect(gain).connect(ctx.destination);
        osc.start(start);
        osc.stop(start + len);
        playing.push(osc);
        osc.onended = () => { playing = playing.filter((o) => o !== osc); };
      }
    } catch {
      /* audio refused or unsupported: the page's text is the alarm */
    }
  }

  function tones(severity) {
    const [freq, count] = PATTERNS[severity] || PATTERNS.minor;
    play(Array.from({ length: count }, (_, i) => ['square', freq, i * 0.28, 0.22, 0.25]));
  }

  /* Plays when the context runs (resuming it first if it must). */
  function whenRunning(fn) {
    if (!enabled) return;
    try {
      const c = context();
      if (!c) return;
      if (c.state === 'running') fn();
      else c.resume().then(fn).catch(() => {});
    } catch {
      /* ignore */
    }
  }

  function unlock() {
    if (enabled) context();
    render();
  }
  document.addEventListener('pointerdown', unlock, { capture: true });
  document.addEventListener('keydown', unlock, { capture: true });
  if (unblock) {
    unblock.addEventListener('click', () => {
      enabled = true;
      saveEnabled(persistKey, true);
      const c = context();
      if (c) Promise.resolve(c.state === 'running' ? null : c.resume()).catch(() => {}).then(() => tones('minor'));
      render();
    });
  }
  context(); // learn now whether the browser lets the page sound

  if (button) {
    button.addEventListener('click', () => {
      if (!enabled || (ctx && ctx.state === 'running')) enabled = !enabled;
      saveEnabled(persistKey, enabled);
      if (enabled) {
        const c = context();
        if (c) {
          Promise.resolve(c.state === 'running' ? null : c.resume())
            .catch(() => {})
            .then(() => tones('minor'));
        }
      }
      render();
    });
  }
  render();

  return {
    /* 'on', 'off' (the user turned it off) or 'blocked' (the browser). */
    get state() { return button?.dataset.state || 'off'; },
    /* Silence the tones still sounding or scheduled (the alert was
     * acknowledged, here or at another console of the site). */
    stop() {
      this.stopRinging();
      for (const osc of playing) {
        try { osc.stop(); } catch { /* already stopped */ }
      }
      playing = [];
    },
    /* Ring every few seconds until stop() or stopRinging(): an urgent
     * alert on a screen that may be unattended for a moment. */
    ring(severity) {
      if (ringTimer && ringSeverity === severity) return;
      clearInterval(ringTimer);
      ringSeverity = severity;
      ringTimer = setInterval(() => this.alert(severity), RING_EVERY_MS);
      if (button) button.dataset.ringing = 'true';
    },
    stopRinging() {
      clearInterval(ringTimer);
      ringTimer = null;
      ringSeverity = null;
      if (button) button.dataset.ringing = 'false';
    },
    alert(severity) {
      whenRunning(() => tones(severity));
    },
    /* A soft chime (CHIMES: 'report', 'answers'). */
    chime(kind) {
      const notes = CHIMES[kind] || CHIMES.report;
      whenRunning(() => play(notes.map(([freq, at]) => ['sine', freq, at, 0.35, 0.2])));
    },
  };
}
