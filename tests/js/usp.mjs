// Drives the official Azure Speech JavaScript SDK against the service; prints one JSON line.
//   node usp.mjs synthesize ws://127.0.0.1:PORT "text"
//   node usp.mjs recognize  ws://127.0.0.1:PORT file.wav
import { readFileSync } from "node:fs";
import sdk from "microsoft-cognitiveservices-speech-sdk";

const [operation, host, argument] = process.argv.slice(2);
const config = sdk.SpeechConfig.fromHost(new URL(host));

function finish(result, extra = {}) {
  const details = result.reason === sdk.ResultReason.Canceled
    ? sdk.CancellationDetails.fromResult(result).errorDetails : undefined;
  console.log(JSON.stringify({ reason: sdk.ResultReason[result.reason], details, ...extra }));
  process.exit(0);
}

if (operation === "synthesize") {
  config.speechSynthesisOutputFormat = sdk.SpeechSynthesisOutputFormat.Riff24Khz16BitMonoPcm;
  const synthesizer = new sdk.SpeechSynthesizer(config, null);
  const words = [];
  synthesizer.wordBoundary = (_, event) => words.push({
    text: event.text, offset: event.audioOffset, textOffset: event.textOffset, wordLength: event.wordLength,
  });
  synthesizer.speakTextAsync(argument, (result) => {
    finish(result, { bytes: result.audioData.byteLength, words });
  }, (error) => { console.log(JSON.stringify({ error: String(error) })); process.exit(1); });
} else if (operation === "recognize") {
  config.speechRecognitionLanguage = "en-US";
  const audio = sdk.AudioConfig.fromWavFileInput(readFileSync(argument));
  const recognizer = new sdk.SpeechRecognizer(config, audio);
  recognizer.recognizeOnceAsync((result) => {
    finish(result, { text: result.text, offset: result.offset, duration: result.duration });
  }, (error) => { console.log(JSON.stringify({ error: String(error) })); process.exit(1); });
} else {
  console.error(`unknown operation ${operation}`);
  process.exit(2);
}
