// The audible alarm, off until someone turns it on (browsers allow sound only after a user
// gesture, and a ward screen must not start beeping by itself). Tones after IEC 60601-1-8:
// high priority a burst of 5 + 5 pulses, medium 3 pulses, technical 1 pulse, each burst
// repeated while an unacknowledged alarm of that priority is on a bed that is not silenced.

/** Pulse onsets (s) of a burst, its pitch (Hz) and the seconds from one burst to the next. */
export const TONES = {
  high: { pulses: [0, 0.2, 0.4, 0.8, 1.0, 2.0, 2.2, 2.4, 2.8, 3.0], hz: 880, every: 8 },
  medium: { pulses: [0, 0.3, 0.6], hz: 660, every: 15 },
  technical: { pulses: [0], hz: 440, every: 20 },
};
const PULSE_S = 0.15;
const GAIN = 0.12;

export class AlarmAudio {
  constructor() {
    this.enabled = false;
    this.context = null;
    this.sounding = null; // the priority sounding now
    this.nextAt = 0; // performance.now() ms of the next burst
    this.bursts = 0;
  }

  /** Turn on or off; call only from a user's click or key press. */
  setEnabled(on) {
    this.enabled = on;
    if (on) {
      if (!this.context) {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (!Ctx) { this.enabled = false; return false; }
        this.context = new Ctx();
      }
      this.context.resume?.();
      this.nextAt = 0; // the alarm going on is heard at once
    } else {
      this.context?.suspend?.();
    }
    return this.enabled;
  }

  /** The most urgent priority that should sound now (or null); bursts when due. */
  update(priority) {
    if (priority !== this.sounding) { this.sounding = priority; this.nextAt = 0; }
    if (!this.enabled || !priority || !this.context) return;
    const now = performance.now();
    if (now < this.nextAt) return;
    const tone = TONES[priority];
    this.nextAt = now + tone.every * 1000;
    this.burst(tone);
  }

  burst(tone) {
    const ctx = this.context;
    const t0 = ctx.currentTime + 0.05;
    for (const dt of tone.pulses) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "triangle";
      osc.frequency.value = tone.hz;
      const t = t0 + dt;
      gain.gain.setValueAtTime(0, t);
      gain.gain.linearRampToValueAtTime(GAIN, t + 0.015);
      gain.gain.setValueAtTime(GAIN, t + PULSE_S - 0.03);
      gain.gain.linearRampToValueAtTime(0, t + PULSE_S);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + PULSE_S + 0.01);
    }
    this.bursts += 1;
  }

  close() {
    this.context?.close?.();
    this.context = null;
  }

  state() {
    return { enabled: this.enabled, context: this.context ? this.context.state : null,
      sounding: this.sounding, bursts: this.bursts };
  }
}
