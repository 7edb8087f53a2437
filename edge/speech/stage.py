"""Pipeline stage: audio hops in, one `speech` event per utterance out.

Event data (the fusion stage relies on exactly these keys):
    transcript  accepted words joined by spaces ("" when rejected)
    words       [{word, confidence, start, end}] (stream seconds), the hypothesis even when rejected
    confidence  the weakest word's confidence
    t_start, t_end   the utterance in stream seconds (sample offset / rate)
    rejected    true when something was said but not accepted (unknown word, low confidence, off-grammar)
Event.t_mono is the monotonic time of the utterance's last sample. Segments in which the model hears no
word at all (a door, a cough the VAD let through) produce no event.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from edge.config import EdgeConfig
from edge.errors import ConfigError
from edge.events import AudioChunk, Event
from edge.pipeline.stage import Stage
from edge.runtime import Manifest
from edge.sources.audio import StreamResampler
from edge.speech.recognizer import Recognizer, SpeechModel, Utterance


class _Stream:
    """Per-source state: recogniser, optional resampler and the clock of the stream."""

    def __init__(self, recognizer: Recognizer, in_rate: int) -> None:
        self.recognizer = recognizer
        self.in_rate = in_rate
        rate = recognizer.sample_rate
        self.resampler = StreamResampler(in_rate, rate) if in_rate != rate else None
        self.first_offset: int | None = None  # stream offset (at in_rate) of the first chunk seen
        self.t_mono_ref = 0.0  # mono time of the latest chunk's first sample
        self.offset_ref = 0


class SpeechStage(Stage):
    name = "speech"
    consumes = ("audio",)
    drop_when_full = False

    def __init__(self, make_recognizer, precision: str = "int8") -> None:
        self._make_recognizer = make_recognizer
        self._streams: dict[str, _Stream] = {}
        self.precision = precision
        self.latencies: list[float] = []  # seconds from the chunk that ended an utterance to its event

    def _stream(self, chunk: AudioChunk) -> _Stream:
        stream = self._streams.get(chunk.source_id)
        if stream is None or stream.in_rate != chunk.sample_rate:
            stream = _Stream(self._make_recognizer(), chunk.sample_rate)
            self._streams[chunk.source_id] = stream
        if stream.first_offset is None:
            stream.first_offset = chunk.offset
        stream.t_mono_ref, stream.offset_ref = chunk.t_mono, chunk.offset
        return stream

    def process(self, item: AudioChunk) -> Iterable[Event]:
        started = time.perf_counter()
        stream = self._stream(item)
        samples = item.samples
        if stream.resampler is not None:
            samples = stream.resampler.process(samples, final=item.end_of_stream)
        utterances = stream.recognizer.push(samples)
        if item.end_of_stream:
            utterances += stream.recognizer.flush()
            self._streams.pop(item.source_id, None)
        events = [self._event(item.source_id, stream, u) for u in utterances if u.decoded.words]
        if events:
            self.latencies.append(time.perf_counter() - started)
        return events

    def flush(self) -> Iterable[Event]:
        events = []
        for source_id, stream in list(self._streams.items()):
            events += [
                self._event(source_id, stream, u) for u in stream.recognizer.flush() if u.decoded.words
            ]
        self._streams.clear()
        return events

    def _event(self, source_id: str, stream: _Stream, u: Utterance) -> Event:
        """Times: the recogniser counts from the first sample it saw; shift to the stream's own offsets."""
        base = (stream.first_offset or 0) / stream.in_rate
        t_start, t_end = base + u.t_start, base + u.t_end
        words = [
            {**w, "start": round(base + w["start"], 3), "end": round(base + w["end"], 3)} for w in u.words()
        ]
        t_mono = stream.t_mono_ref + (t_end - stream.offset_ref / stream.in_rate)
        return Event(
            kind="speech",
            source_id=source_id,
            t_mono=t_mono,
            t_wall=time.time() - (time.monotonic() - t_mono),
            data={
                "transcript": u.transcript,
                "words": words,
                "confidence": round(float(u.confidence), 4),
                "t_start": round(t_start, 3),
                "t_end": round(t_end, 3),
                "rejected": bool(u.decoded.rejected),
            },
        )

    def close(self) -> None:
        self._streams.clear()


def build_stage(config: EdgeConfig, manifest: Manifest) -> Stage:
    """The model is loaded once; each audio source gets its own recogniser state."""
    speech = config.speech
    precision = speech.precision or config.runtime.precision
    model = SpeechModel.load(
        manifest, speech.model, precision, config.runtime.providers, config.runtime.threads
    )
    try:
        Recognizer(model, speech)  # fail now (bad grammar) rather than at the first audio chunk
    except ValueError as exc:
        raise ConfigError(f"speech.grammar: {exc}") from None
    return SpeechStage(lambda: Recognizer(model, speech), precision)
