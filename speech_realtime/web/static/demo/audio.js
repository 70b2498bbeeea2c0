// Audio in and out for the demo page: microphone capture, WAV encoding, streamed PCM16 playback.

const registered = new WeakSet();

// Opens the microphone on `context` and calls `onBlock(Float32Array)` for each captured block,
// at the context's sample rate. Returns an object whose close() releases the microphone.
export async function openMicrophone(context, onBlock, constraints = {}) {
  if (!navigator.mediaDevices || !context.audioWorklet) {
    throw new Error("this page needs a secure context (https or localhost) for the microphone");
  }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, ...constraints } });
  if (!registered.has(context)) {
    await context.audioWorklet.addModule(new URL("capture-worklet.js", import.meta.url));
    registered.add(context);
  }
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "capture", { numberOfOutputs: 1 });
  node.port.onmessage = (event) => onBlock(event.data);
  source.connect(node);
  node.connect(context.destination); // pulled by the graph; it outputs silence
  return {
    close() {
      node.port.onmessage = null;
      source.disconnect();
      node.disconnect();
      stream.getTracks().forEach((track) => track.stop());
    },
  };
}

// Float samples (-1..1) as little-endian PCM16 bytes.
export function toPcm16(samples) {
  const out = new DataView(new ArrayBuffer(samples.length * 2));
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out.setInt16(i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Uint8Array(out.buffer);
}

// The blocks joined into one Float32Array.
export function join(blocks) {
  const total = blocks.reduce((sum, block) => sum + block.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const block of blocks) {
    out.set(block, offset);
    offset += block.length;
  }
  return out;
}

// Converts a stream of blocks from one sample rate to another (the relay takes 24 kHz; a
// microphone runs at the device's rate, and not every browser resamples it for a context at
// another rate). Each output sample is the mean of the input samples it spans: a box filter,
// enough against aliasing for speech.
export class Resampler {
  constructor(from, to) {
    this.ratio = from / to;
    this.position = 0; // where the next output sample starts, in `rest`
    this.rest = new Float32Array(0);
  }

  push(block) {
    const input = join([this.rest, block]);
    const out = new Float32Array(Math.max(0, Math.floor((input.length - this.position) / this.ratio)));
    let position = this.position;
    for (let j = 0; j < out.length; j++) {
      const start = Math.floor(position);
      const end = Math.min(input.length, Math.max(start + 1, Math.floor(position + this.ratio)));
      let sum = 0;
      for (let i = start; i < end; i++) sum += input[i];
      out[j] = sum / (end - start);
      position += this.ratio;
    }
    const used = Math.min(Math.floor(position), input.length);
    this.rest = input.slice(used);
    this.position = position - used;
    return out;
  }
}

// A mono PCM16 WAV file of `samples` at `rate`, as a Blob.
export function encodeWav(samples, rate) {
  const pcm = toPcm16(samples);
  const header = new DataView(new ArrayBuffer(44));
  const text = (offset, value) => [...value].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + pcm.length, true);
  text(8, "WAVE");
  text(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, rate, true);
  header.setUint32(28, rate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, pcm.length, true);
  return new Blob([header.buffer, pcm], { type: "audio/wav" });
}

// Plays PCM16 mono chunks as they come, each scheduled right after the one before.
export class PcmPlayer {
  constructor(context) {
    this.context = context;
    this.sources = new Set();
    this.next = 0;
    this.carry = null; // an odd byte left over from the last chunk
    this.scheduled = 0; // seconds of audio scheduled
    this.played = 0; // seconds of audio that finished playing
    this.onIdle = null;
  }

  get playing() {
    return this.sources.size > 0;
  }

  push(bytes, rate) {
    let data = bytes;
    if (this.carry) {
      data = new Uint8Array(bytes.length + 1);
      data.set(this.carry);
      data.set(bytes, 1);
      this.carry = null;
    }
    if (data.length % 2) {
      this.carry = data.slice(data.length - 1);
      data = data.subarray(0, data.length - 1);
    }
    if (!data.length) return;
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    const buffer = this.context.createBuffer(1, data.length / 2, rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < channel.length; i++) channel[i] = view.getInt16(i * 2, true) / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const start = Math.max(this.next, this.context.currentTime + 0.03);
    source.start(start);
    this.next = start + buffer.duration;
    this.scheduled += buffer.duration;
    this.sources.add(source);
    source.onended = () => {
      this.sources.delete(source);
      this.played += buffer.duration;
      if (!this.sources.size && this.onIdle) this.onIdle();
    };
  }

  // Stops at once: what is playing and everything scheduled after it (barge-in).
  stop() {
    for (const source of this.sources) {
      source.onended = null;
      try {
        source.stop();
      } catch (error) {
        // never started: nothing to stop
      }
    }
    this.sources.clear();
    this.next = 0;
    this.carry = null;
  }
}
