// The demo page: transcribe a recording, speak a streamed synthesis, converse over the relay.

import { openMicrophone, encodeWav, join, PcmPlayer } from "./audio.js";
import { api, demoSession, errorText } from "./session.js";
import { Conversation } from "./conversation.js";

const $ = (id) => document.getElementById(id);

// -- the session -----------------------------------------------------------------------------

async function startSession() {
  try {
    const session = await demoSession();
    const minutes = Math.round((session.expires_at - Date.now() / 1000) / 60);
    $("session-status").textContent = `demo session ready (token renewed every ${minutes} min; no key in this page)`;
    await loadVoices();
  } catch (error) {
    $("session-status").textContent = `no demo session: ${error.message}`;
    $("session-status").classList.add("error");
  }
}

async function loadVoices() {
  const response = await api("/api/speech-realtime/info");
  if (!response.ok) return;
  const info = await response.json();
  const select = $("voice");
  select.replaceChildren(...info.voices.map((name) => new Option(name, name)));
}

// -- transcribe: record, encode a WAV, POST it to /recognize ---------------------------------

const recording = { context: null, microphone: null, blocks: [], samples: 0, shown: 0 };

async function record() {
  $("record").disabled = true;
  $("recognize-text").textContent = "";
  try {
    recording.context = new AudioContext(); // the device's rate; the service resamples the WAV
    await recording.context.resume();
    Object.assign(recording, { blocks: [], samples: 0, shown: 0 });
    recording.microphone = await openMicrophone(recording.context, captured, {
      echoCancellation: false,
      noiseSuppression: false,
      autoGainControl: false,
    });
    $("record-stop").disabled = false;
    $("record-status").textContent = "recording";
  } catch (error) {
    $("record-status").textContent = `cannot record: ${error.message}`;
    $("record").disabled = false;
  }
}

// Keeps a captured block and shows how much has been recorded (about four times a second).
function captured(block) {
  recording.blocks.push(block);
  recording.samples += block.length;
  const rate = recording.context.sampleRate;
  if (recording.samples - recording.shown < rate / 4) return;
  recording.shown = recording.samples;
  const seconds = (recording.samples / rate).toFixed(1);
  $("record-status").dataset.seconds = seconds;
  $("record-status").textContent = `recording ${seconds} s`;
}

async function stopAndTranscribe() {
  $("record-stop").disabled = true;
  recording.microphone.close();
  const rate = recording.context.sampleRate;
  await recording.context.close();
  const samples = join(recording.blocks);
  const seconds = (samples.length / rate).toFixed(1);
  $("record-status").textContent = `transcribing ${seconds} s…`;
  try {
    const response = await api("/api/speech-realtime/recognize", {
      method: "POST",
      headers: { "Content-Type": "audio/wav" },
      body: encodeWav(samples, rate),
    });
    if (!response.ok) throw new Error(await errorText(response));
    const result = await response.json();
    $("recognize-text").textContent = result.text;
    $("record-status").textContent = `done: ${seconds} s recorded`;
  } catch (error) {
    $("record-status").textContent = `failed: ${error.message}`;
  } finally {
    $("record").disabled = false;
  }
}

// -- speak: play /synthesize/stream chunk by chunk as it arrives -----------------------------

async function speak() {
  const status = $("synth-status");
  $("speak").disabled = true;
  const started = performance.now();
  const context = new AudioContext();
  await context.resume();
  const player = new PcmPlayer(context);
  const report = { chunks: 0, bytes: 0, firstMs: null, endMs: null };
  const show = (phase) => {
    Object.assign(status.dataset, {
      phase,
      chunks: report.chunks,
      bytes: report.bytes,
      firstAudioMs: report.firstMs ?? "",
      endMs: report.endMs ?? "",
      scheduled: player.scheduled.toFixed(2),
      played: player.played.toFixed(2),
    });
    const first = report.firstMs === null ? "" : `, first audio after ${report.firstMs} ms`;
    const played = `${player.played.toFixed(1)} s played`;
    status.textContent = `${phase}: ${report.chunks} chunks, ${player.scheduled.toFixed(1)} s of audio received${first}, ${played}`;
  };
  try {
    const response = await api("/api/speech-realtime/synthesize/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: $("synth-text").value, voice: $("voice").value, format: "pcm" }),
    });
    if (!response.ok) throw new Error(await errorText(response));
    const rate = Number(response.headers.get("X-Audio-Sample-Rate")) || 24000;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      report.chunks += 1;
      report.bytes += value.length;
      player.push(value, rate);
      if (report.firstMs === null) report.firstMs = Math.round(performance.now() - started);
      show("playing");
    }
    report.endMs = Math.round(performance.now() - started);
    show("playing");
    await new Promise((resolve) => {
      player.onIdle = resolve;
      if (!player.playing) resolve();
    });
    show("done");
  } catch (error) {
    status.dataset.phase = "failed";
    status.textContent = `failed: ${error.message}`;
  } finally {
    $("speak").disabled = false;
    context.close();
  }
}

// -- converse: the relay, its status and its running transcript ------------------------------

const lines = new Map();
const history = ["idle"];
const timeline = ["idle@0"]; // each state with the page's clock (ms), for whoever debugs a turn

const view = {
  state(name) {
    const status = $("status");
    if (history[history.length - 1] !== name) {
      history.push(name);
      timeline.push(`${name}@${Math.round(performance.now())}`);
    }
    status.textContent = name;
    status.className = `state state-${name}`;
    status.dataset.state = name;
    status.dataset.history = history.join(",");
    status.dataset.timeline = timeline.join(",");
  },
  line(role, id, text, append) {
    const key = `${role}:${id}`;
    let item = lines.get(key);
    if (!item) {
      item = document.createElement("li");
      item.className = role;
      item.dataset.id = id;
      lines.set(key, item);
      $("transcript").append(item);
    }
    item.textContent = append ? item.textContent + text : text;
  },
  interrupted(id) {
    const item = lines.get(`assistant:${id}`);
    if (item) item.classList.add("interrupted");
  },
  done(id) {
    const item = lines.get(`assistant:${id}`);
    if (item) item.dataset.done = "true";
  },
  error(text) {
    $("conversation-error").textContent = text;
  },
  closed(text) {
    $("conversation-error").textContent = text;
    setConversing(false);
  },
};

let conversation = null;

function setConversing(on) {
  $("converse").disabled = on;
  $("converse-stop").disabled = !on;
  $("message").disabled = !on;
  $("send").disabled = !on;
}

async function converse() {
  $("conversation-error").textContent = "";
  setConversing(true);
  conversation = new Conversation(view);
  try {
    await conversation.start();
  } catch (error) {
    view.error(`cannot start: ${error.message}`);
    setConversing(false);
  }
}

function sendMessage(event) {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || !conversation) return;
  if (conversation.send(text)) $("message").value = "";
}

$("record").addEventListener("click", record);
$("record-stop").addEventListener("click", stopAndTranscribe);
$("speak").addEventListener("click", speak);
$("converse").addEventListener("click", converse);
$("converse-stop").addEventListener("click", () => conversation && conversation.stop());
$("message-form").addEventListener("submit", sendMessage);
startSession();
