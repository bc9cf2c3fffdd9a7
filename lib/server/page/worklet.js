/* global AudioWorkletProcessor, sampleRate, registerProcessor */
// The microphone's audio as 16 kHz mono s16 in 100 ms chunks, posted to the page as ArrayBuffers.
// The context runs at 16 kHz where the browser allows it; otherwise each output sample is the
// average of the input samples it covers, a crude low-pass that keeps aliasing out of speech.
const TARGET_RATE = 16000;
const CHUNK_SAMPLES = 1600;

class PcmEncoder extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / TARGET_RATE;
    this.phase = 0;
    this.sum = 0;
    this.count = 0;
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
    this.peak = 0;
    this.port.onmessage = (event) => {
      if (event.data === 'flush') {
        this.post();
        this.port.postMessage('flushed');
      }
    };
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const frames = channels[0].length;
    for (let i = 0; i < frames; i++) {
      let sample = 0;
      for (const channel of channels) sample += channel[i];
      this.take(sample / channels.length);
    }
    return true;
  }

  take(sample) {
    this.sum += sample;
    this.count += 1;
    this.phase += 1;
    if (this.phase < this.step) return;
    this.phase -= this.step;
    const value = Math.max(-1, Math.min(1, this.sum / this.count));
    this.sum = 0;
    this.count = 0;
    this.peak = Math.max(this.peak, Math.abs(value));
    this.chunk[this.filled++] = Math.round(value * 32767);
    if (this.filled === CHUNK_SAMPLES) this.post();
  }

  post() {
    if (this.filled === 0) return;
    const pcm = this.chunk.slice(0, this.filled);
    this.port.postMessage({ pcm: pcm.buffer, peak: this.peak }, [pcm.buffer]);
    this.filled = 0;
    this.peak = 0;
  }
}

registerProcessor('pcm-encoder', PcmEncoder);
