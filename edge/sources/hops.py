"""The part of the audio path shared by the microphone and WAV replay.

`AudioRing` decouples the sound card's callback (which must never wait) from the consumer thread: the
callback writes blocks of whatever size the device chose, and when the consumer falls more than the ring's
capacity behind, the oldest samples are dropped and the loss is reported instead of blocking.

`HopCutter` turns a stream of blocks of any size at the device rate into fixed hops at the rate the stages
want, resampling on the way. It is the single place where hops, offsets and timestamps are made, so a
live microphone and a replayed file produce identical chunks for identical samples.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.events import AudioChunk
from edge.sources.audio import StreamResampler

# how fast the start-time estimate may move later (s per s): sound card clocks are within ~100 ppm
CLOCK_DRIFT_ALLOWANCE = 1e-3


@dataclass
class RingRead:
    """What one read from the ring returns."""

    samples: np.ndarray  # float32, oldest first
    lost: int  # samples dropped just before these because the reader fell behind (0 normally)
    t_mono: float  # monotonic time of the newest block's arrival (the end of the newest sample)
    t_wall: float


class AudioRing:
    """Single-producer single-consumer ring of float32 blocks with absolute sample indices.

    The producer (the sound card's callback) only copies its block and appends it: no lock, no waiting,
    which matters because that thread runs dozens of times per second on a loaded machine. When more than
    `capacity` samples wait, the oldest blocks are dropped; the reader sees the jump in sample indices and
    reports it as lost, so offsets downstream can skip the gap instead of hiding it.
    """

    def __init__(self, capacity: int, wake_after: int = 1) -> None:
        self.capacity = max(1, int(capacity))
        # the reader is woken once this many samples wait, not on every small block
        self.wake_after = max(1, min(int(wake_after), self.capacity))
        self._blocks: deque[tuple[int, np.ndarray, float, float]] = deque()
        self._written = 0  # producer: absolute index one past the newest sample
        self._read = 0  # reader: absolute index of the next sample to read
        self._carry: tuple[int, np.ndarray, float, float] | None = None  # reader: block after a gap
        self._wake = threading.Event()
        self._t_mono = time.monotonic()
        self._t_wall = time.time()
        self.overruns = 0  # reads that found samples dropped (reader side)
        self.lost_samples = 0

    def write(self, samples: np.ndarray, t_mono: float | None = None, t_wall: float | None = None) -> None:
        """Copy a block in (called from the audio callback; never blocks)."""
        block = np.array(samples, np.float32).reshape(-1)
        start = self._written
        if len(block) > self.capacity:
            start += len(block) - self.capacity
            block = block[-self.capacity :]
        self._blocks.append(
            (start, block, time.monotonic() if t_mono is None else t_mono, time.time() if t_wall is None else t_wall)
        )
        self._written = start + len(block)
        self._drop_beyond_capacity()
        if self._written - self._read >= self.wake_after and not self._wake.is_set():
            self._wake.set()

    def _drop_beyond_capacity(self) -> None:
        while True:
            try:
                oldest = self._blocks[0][0]
            except IndexError:
                return
            if self._written - oldest <= self.capacity:
                return
            try:
                self._blocks.popleft()
            except IndexError:  # the reader took it meanwhile
                return

    def read(self, timeout: float) -> RingRead:
        """What was written since the last read, waiting up to `timeout` s for `wake_after` samples.

        A gap (dropped blocks) is reported in `lost` before the samples that follow it."""
        if self._written - self._read < self.wake_after:
            self._wake.wait(timeout)
        self._wake.clear()
        pieces: list[np.ndarray] = []
        lost = 0
        expected = self._read
        while True:
            item, self._carry = self._carry, None
            if item is None:
                try:
                    item = self._blocks.popleft()
                except IndexError:
                    break
            start, block, t_mono, t_wall = item
            if start > expected:
                if pieces:  # a gap after what was collected: report it with the next read
                    self._carry = item
                    break
                lost += start - expected
            pieces.append(block)
            expected = start + len(block)
            self._t_mono, self._t_wall = t_mono, t_wall
        self._read = expected
        if lost:
            self.overruns += 1
            self.lost_samples += lost
        samples = np.concatenate(pieces) if len(pieces) > 1 else (pieces[0] if pieces else np.zeros(0, np.float32))
        return RingRead(samples, lost, self._t_mono, self._t_wall)

    def wake(self) -> None:
        """Release a waiting reader (used at stop)."""
        self._wake.set()


class HopCutter:
    """Blocks at `in_rate` -> AudioChunks of exactly `hop` samples at `out_rate`, offsets counted from 0.

    Timestamps: a chunk's t_mono/t_wall are those of its first sample: stream start + offset / rate. The
    start is estimated from each block's arrival time minus the audio seen so far; late deliveries (a busy
    machine, bursts) only make that estimate later, so the earliest one is kept, and it may creep forward
    slowly so the sound card's clock cannot drift away from the monotonic clock. Timestamps never decrease.
    At the end of a stream `finish()` flushes the resampler and pads the last hop with silence, marking
    it end_of_stream.
    """

    def __init__(self, source_id: str, in_rate: int, out_rate: int, hop: int) -> None:
        self.source_id = source_id
        self.out_rate = int(out_rate)
        self.hop = int(hop)
        self._set_input_rate(in_rate)
        self.offset = 0  # index (at out_rate) of the first sample of the next chunk
        self._pending = np.zeros(0, np.float32)
        self._seconds_in = 0.0  # input time seen so far, including gaps
        self._start: float | None = None  # estimated monotonic time of sample 0
        self._last_seen = 0.0
        self._wall_offset = 0.0
        self._last_t = float("-inf")

    def _set_input_rate(self, in_rate: int) -> None:
        self.in_rate = int(in_rate)
        self._resampler = StreamResampler(self.in_rate, self.out_rate)

    def push(self, block: np.ndarray, t_mono: float, t_wall: float) -> list[AudioChunk]:
        """Add a block whose last sample arrived at (t_mono, t_wall); return the hops now complete."""
        self._seconds_in += len(block) / self.in_rate
        self._observe(t_mono, t_wall)
        out = self._resampler.process(block)
        return self._cut(out, final=False)

    def _observe(self, t_mono: float, t_wall: float) -> None:
        start = t_mono - self._seconds_in
        if self._start is None:
            self._start = start
        else:
            self._start = min(start, self._start + (t_mono - self._last_seen) * CLOCK_DRIFT_ALLOWANCE)
        self._last_seen = t_mono
        self._wall_offset = t_wall - t_mono

    def finish(self, t_mono: float, t_wall: float) -> list[AudioChunk]:
        """End of stream: the remaining samples, padded to a full hop, as the end_of_stream chunk."""
        if self._start is None:
            self._observe(t_mono, t_wall)
        out = self._resampler.process(np.zeros(0, np.float32), final=True)
        return self._cut(out, final=True)

    def gap(self, seconds: float, in_rate: int | None = None) -> None:
        """Samples were lost (overrun, device reconnect): drop the partial hop and resampler state and
        advance the offset by the missing time, so offsets keep measuring time since the start."""
        self._seconds_in += max(0.0, seconds)
        self._set_input_rate(in_rate or self.in_rate)
        self._pending = np.zeros(0, np.float32)
        self.offset = max(self.offset, round(self._seconds_in * self.out_rate))
        self._start = None  # the gap's length is an estimate: anchor the clock afresh

    def _cut(self, out: np.ndarray, final: bool) -> list[AudioChunk]:
        data = np.concatenate([self._pending, out]) if len(self._pending) else out
        chunks = []
        start = 0
        while len(data) - start >= self.hop:
            chunks.append(self._chunk(data[start : start + self.hop], False))
            start += self.hop
        rest = data[start:]
        if final:
            padded = np.zeros(self.hop, np.float32)
            padded[: len(rest)] = rest
            chunks.append(self._chunk(padded, True))
            rest = np.zeros(0, np.float32)
        self._pending = np.array(rest, np.float32)
        return chunks

    def _chunk(self, samples: np.ndarray, eos: bool) -> AudioChunk:
        t_mono = max(self._start + self.offset / self.out_rate, self._last_t)
        self._last_t = t_mono
        chunk = AudioChunk(
            source_id=self.source_id,
            offset=self.offset,
            sample_rate=self.out_rate,
            t_mono=t_mono,
            t_wall=t_mono + self._wall_offset,
            samples=np.array(samples, np.float32),
            end_of_stream=eos,
        )
        self.offset += self.hop
        return chunk


def hop_samples(sample_rate: int, hop_ms: int) -> int:
    """Samples per hop; hop_ms is chosen so this is exact for the usual rates (20 ms at 16 kHz = 320)."""
    return max(1, round(sample_rate * hop_ms / 1000))
