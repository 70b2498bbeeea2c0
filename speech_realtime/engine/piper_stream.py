"""Piper's voice run in three parts, so a piece's audio comes out in chunks as it is made.

A Piper voice is one VITS network: a text encoder and duration predictor over the phonemes
(the prosody: how long and how high each sound is), a normalizing flow and a HiFi-GAN decoder
over audio frames. Run whole, nothing comes out until the last sample of the piece is made.
Here the network is cut (with ``onnx``, at load) at the flow's input and the decoder's input:
the front runs once per piece, so the prosody is the piece's own, and the flow and the decoder,
both stacks of convolutions that see only a few frames around each frame, run a chunk of frames
at a time with :data:`FLOW_MARGIN` and :data:`DECODER_MARGIN` frames of context on each side.
With those margins the chunks' audio equals the whole decode's (to 1e-6: tested), so the joins
between chunks are not joins at all.

The voice's raw output is scaled by a fixed gain with a soft limit, instead of Piper's scaling of
each sentence to full range (which needs the whole sentence first, and made loudness jump by up
to 2x between sentences).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

#: Frames of context each side of a chunk: the flow's receptive field is about 32 frames (four
#: coupling layers of WaveNet convolutions), the decoder's under 16 (measured exact at these).
FLOW_MARGIN, DECODER_MARGIN = 40, 16
#: Frames in the first chunk (about 0.3 s of speech); each next chunk is twice as long, up to
#: :data:`MAX_CHUNK_FRAMES` (about 6 s): small runs cost more per frame (margins, and the
#: runtime's fixed cost: 2.1x the whole piece's processor time in chunks of 128 frames, 1.3x in
#: chunks of 512), so only the first is small.
FIRST_CHUNK_FRAMES, MAX_CHUNK_FRAMES = 24, 512
#: Gain on the voice's raw output: its sentences peak at 0.33 to 0.70, median 0.46.
GAIN = 1.8
#: Above this level the output is compressed smoothly towards 1.0 rather than clipped.
KNEE = 0.8


def split_network(model_path: str) -> tuple[bytes, bytes, bytes]:
    """The voice's ONNX network as three serialized models: front, flow, decoder."""
    import onnx
    import onnx.utils

    model = onnx.load(model_path)
    nodes = model.graph.node
    decoder_in = next(node.input[0] for node in nodes if node.name == "/dec/conv_pre/Conv")
    masking = next(node for node in nodes if decoder_in in node.output)
    flow_outputs = {name for node in nodes if node.name.startswith("/flow/") for name in node.output}
    mask = next(name for name in masking.input if name not in flow_outputs)
    flow_in = next(node.input[0] for node in nodes if node.name.startswith("/flow/"))
    inputs = [tensor.name for tensor in model.graph.input]
    extractor = onnx.utils.Extractor(model)
    parts = (
        extractor.extract_model(inputs, [flow_in, mask]),
        extractor.extract_model([flow_in, mask], [decoder_in]),
        extractor.extract_model([decoder_in], [model.graph.output[0].name]),
    )
    return tuple(part.SerializeToString() for part in parts)  # type: ignore[return-value]


def soft_limit(audio: np.ndarray) -> np.ndarray:
    """``audio`` times :data:`GAIN`, levels over :data:`KNEE` compressed smoothly below 1."""
    scaled = audio * GAIN
    over = np.abs(scaled) > KNEE
    if over.any():
        room = 1.0 - KNEE
        scaled[over] = np.sign(scaled[over]) * (KNEE + room * np.tanh((np.abs(scaled[over]) - KNEE) / room))
    return scaled.astype(np.float32, copy=False)


def chunk_bounds(frames: int) -> list[tuple[int, int]]:
    """``[start, end)`` frames of each chunk: a short first one, then each twice the last (up to
    :data:`MAX_CHUNK_FRAMES`); a remainder shorter than half the next chunk joins the last one."""
    bounds, start, size = [], 0, FIRST_CHUNK_FRAMES
    while start < frames:
        end = frames if frames - start < size * 3 // 2 else start + size
        bounds.append((start, end))
        start, size = end, min(2 * size, MAX_CHUNK_FRAMES)
    return bounds


class StreamingPiper:
    """One voice's three networks; :meth:`chunks` is one piece's audio, chunk by chunk.

    ``lock`` is held for each network run (not for the whole piece), so sessions voicing at the
    same time take turns chunk by chunk.
    """

    def __init__(self, model_path: str, hop_length: int, lock: Any) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # Idle runtime threads spin by default, waiting for the next run: a piece is many short
        # runs, and spinning made it cost 1.6x the processor time of one whole run (1.05x without).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._front, self._flow, self._decoder = (
            onnxruntime.InferenceSession(part, options, providers=["CPUExecutionProvider"])
            for part in split_network(model_path)
        )
        self._flow_inputs = [tensor.name for tensor in self._flow.get_inputs()]
        self._decoder_input = self._decoder.get_inputs()[0].name
        self._hop = hop_length
        self._lock = lock

    def chunks(self, phoneme_ids: list[int], scales: tuple[float, float, float]) -> Iterator[np.ndarray]:
        """The audio of ``phoneme_ids`` (float32 at the voice's rate), a chunk per item.

        ``scales``: Piper's noise scale, length scale and noise width.
        """
        ids = np.array([phoneme_ids], dtype=np.int64)
        front_in = {
            "input": ids,
            "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
            "scales": np.array(scales, dtype=np.float32),
        }
        with self._lock:
            latent, mask = self._front.run(None, front_in)
        frames = latent.shape[2]
        for start, end in chunk_bounds(frames):
            yield soft_limit(self._decode(latent, mask, start, end))

    def _decode(self, latent: np.ndarray, mask: np.ndarray, start: int, end: int) -> np.ndarray:
        """Audio of frames ``[start, end)``: the flow over them with both margins, the decoder
        over them with its margin, each margin's output dropped."""
        frames = latent.shape[2]
        dec_lo, dec_hi = max(0, start - DECODER_MARGIN), min(frames, end + DECODER_MARGIN)
        flow_lo, flow_hi = max(0, dec_lo - FLOW_MARGIN), min(frames, dec_hi + FLOW_MARGIN)
        flow_in = dict(
            zip(
                self._flow_inputs,
                (
                    np.ascontiguousarray(latent[:, :, flow_lo:flow_hi]),
                    np.ascontiguousarray(mask[:, :, flow_lo:flow_hi]),
                ),
                strict=True,
            )
        )
        with self._lock:
            flowed = self._flow.run(None, flow_in)[0]
            decoded = self._decoder.run(
                None,
                {
                    self._decoder_input: np.ascontiguousarray(
                        flowed[:, :, dec_lo - flow_lo : dec_hi - flow_lo]
                    )
                },
            )[0]
        audio = decoded.reshape(-1)
        return audio[(start - dec_lo) * self._hop : (end - dec_lo) * self._hop]
