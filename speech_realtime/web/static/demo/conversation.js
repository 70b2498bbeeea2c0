// A live conversation over the relay (the seed-004 protocol at /realtime).
//
// Client -> server: {"type": "user_message", "id", "text"} and binary PCM16 24 kHz mono frames.
// Server -> client: {"type": "control", "action": "connected" | "speech_started" | "text_done"},
// {"type": "text_delta", "id", "delta"}, {"type": "transcription", "id", "text"},
// {"type": "error", ...}, and binary PCM16 24 kHz mono frames of the reply audio.

import { openMicrophone, PcmPlayer, Resampler, toPcm16, join } from "./audio.js";
import { demoSession } from "./session.js";

export const RATE = 24000;
const FRAME = RATE / 25; // 40 ms of microphone audio per binary frame

export class Conversation {
  // `view` gets: state(name), line(role, id, text, append), interrupted(id), done(id), error(text), closed(text)
  constructor(view) {
    this.view = view;
    this.socket = null;
    this.microphone = null;
    this.state = "idle";
    this.replyId = null; // the assistant line being written
    this.textDone = true;
    this.pending = [];
  }

  async start() {
    const session = await demoSession(true); // its relay secret is good for one connection
    const url = new URL(session.relay.path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    this.context = new AudioContext(); // the device's rate: reply audio is resampled on playback
    await this.context.resume();
    this.resampler = new Resampler(this.context.sampleRate, RATE);
    this.player = new PcmPlayer(this.context);
    this.player.onIdle = () => {
      if (this.state === "speaking" && this.textDone) this.setState("listening");
    };
    this.socket = new WebSocket(url, session.relay.protocols || []);
    this.socket.binaryType = "arraybuffer";
    this.socket.onmessage = (event) => this.receive(event.data);
    this.socket.onclose = (event) => this.closed(event);
  }

  send(text) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      this.view.error("not connected yet");
      return false;
    }
    const id = globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `m${Date.now()}`;
    this.socket.send(JSON.stringify({ type: "user_message", id, text }));
    this.view.line("user", id, text, false);
    this.expectReply();
    return true;
  }

  stop() {
    if (this.socket) this.socket.close(1000, "stopped by the user");
  }

  setState(name) {
    this.state = name;
    this.view.state(name);
  }

  expectReply() {
    this.textDone = false;
    this.replyId = null;
    this.setState("thinking");
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      this.player.push(new Uint8Array(data), RATE);
      this.setState("speaking");
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      this.view.error(`not JSON from the relay: ${String(data).slice(0, 80)}`);
      return;
    }
    this.handle(message);
  }

  handle(message) {
    switch (message.type) {
      case "control":
        return this.control(message);
      case "transcription":
        this.view.line("user", message.id, message.text, false);
        return this.expectReply();
      case "text_delta":
        if (this.replyId !== message.id) this.textDone = false;
        this.replyId = message.id;
        this.view.line("assistant", message.id, message.delta, true);
        if (this.state === "listening") this.setState("thinking");
        return undefined;
      case "error":
        return this.view.error(`${message.code || "error"}: ${message.message || JSON.stringify(message)}`);
      default:
        return undefined; // a message type this page does not show
    }
  }

  control(message) {
    if (message.action === "connected") {
      if (message.greeting) this.view.line("assistant", "greeting", message.greeting, false);
      this.setState("listening");
      this.openMicrophone();
    } else if (message.action === "speech_started") {
      const heard = this.player.playing || this.state === "speaking";
      this.player.stop(); // barge-in: the reply stops at once
      if (heard && this.replyId) this.view.interrupted(this.replyId);
      this.textDone = true;
      this.setState("listening");
    } else if (message.action === "text_done") {
      this.textDone = true;
      if (message.id || this.replyId) this.view.done(message.id || this.replyId);
      if (!this.player.playing) this.setState("listening");
    }
  }

  async openMicrophone() {
    try {
      this.microphone = await openMicrophone(this.context, (block) => this.capture(block), {
        echoCancellation: true,
        noiseSuppression: true,
      });
    } catch (error) {
      this.view.error(`microphone: ${error.message}; typed messages still work`);
    }
  }

  capture(block) {
    this.pending.push(this.resampler.push(block));
    if (this.pending.reduce((n, b) => n + b.length, 0) < FRAME) return;
    const samples = join(this.pending);
    this.pending = [];
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(toPcm16(samples));
  }

  closed(event) {
    if (this.microphone) this.microphone.close();
    this.microphone = null;
    if (this.player) this.player.stop();
    if (this.context) this.context.close();
    this.socket = null;
    this.setState("idle");
    const reason = event.reason ? `: ${event.reason}` : "";
    this.view.closed(event.code === 1000 ? "" : `the relay closed the connection (${event.code}${reason})`);
  }
}
