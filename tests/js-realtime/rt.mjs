// One rt-client (Azure OpenAI Realtime, preview protocol) session against the service.
// Usage: node rt.mjs <service base URL> <key or client secret> <deployment> <text>
// Sends a session update, a user message and a response request, then an event the service's
// policy refuses; prints one JSON line: the server event types seen, and the refusal's error.
import { LowLevelRTClient } from "rt-client";

const [base, key, deployment, text] = process.argv.slice(2);
const client = new LowLevelRTClient(new URL(base), { key }, { deployment });
const seen = [];
let refusal = null;
let transcript = "";

await client.send({ type: "session.update", session: { voice: "alloy", modalities: ["audio", "text"] } });
await client.send({
  type: "conversation.item.create",
  item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
});
await client.send({ type: "response.create" });
for await (const message of client.messages()) {
  seen.push(message.type);
  if (message.type === "response.audio_transcript.done") {
    transcript = message.transcript;
  }
  if (message.type === "response.done") {
    await client.send({ type: "session.update", session: { tools: [{ type: "function", name: "shell" }] } });
  }
  if (message.type === "error") {
    refusal = message.error;
    break;
  }
}
await client.close();
console.log(JSON.stringify({ seen, transcript, refusal }));
