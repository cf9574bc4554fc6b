// sound.js: a short alarm tone through Web Audio, and the #sound toggle.
// Browsers may refuse to start audio until the user has interacted with
// the page; nothing here may throw because of that. The first click or key
// press anywhere on the page unlocks the audio context.

const PATTERNS = {          // beeps per severity: [frequency Hz, count]
  minor: [660, 1],
  moderate: [760, 2],
  severe: [880, 3],
  extreme: [988, 4],
};

const RING_EVERY_MS = 4000;  // an urgent alert rings again this often

export function createSound(button) {
  let ctx = null;
  let ringTimer = null;     // repeating tone of an urgent alert, until stopped
  let ringSeverity = null;
  let enabled = true;
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
  }

  function tones(severity) {
    try {
      if (!ctx || ctx.state !== 'running') return;
      const [freq, count] = PATTERNS[severity] || PATTERNS.minor;
      const t0 = ctx.currentTime + 0.02;
      for (let i = 0; i < count; i++) {
        const start = t0 + i * 0.28;
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = 'square';
        osc.frequency.setValueAtTime(freq, start);
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(0.25, start + 0.015);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
        osc.connect(gain).connect(ctx.destination);
        osc.start(start);
        osc.stop(start + 0.22);
        playing.push(osc);
        osc.onended = () => { playing = playing.filter((o) => o !== osc); };
      }
    } catch {
      /* audio refused or unsupported: the banner is the alarm */
    }
  }

  function unlock() {
    if (enabled) context();
    render();
  }
  document.addEventListener('pointerdown', unlock, { capture: true });
  document.addEventListener('keydown', unlock, { capture: true });

  if (button) {
    button.addEventListener('click', () => {
      if (!enabled || (ctx && ctx.state === 'running')) enabled = !enabled;
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
      if (!enabled) return;
      try {
        const c = context();
        if (!c) return;
        if (c.state === 'running') tones(severity);
        else c.resume().then(() => tones(severity)).catch(() => {});
      } catch {
        /* ignore */
      }
    },
  };
}
