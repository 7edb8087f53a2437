import threading
import time

import numpy as np

from edge.events import AudioChunk, Event, Frame
from edge.pipeline.pipeline import Pipeline
from edge.pipeline.queues import DropOldestQueue
from edge.pipeline.stage import Stage


def frame(i: int) -> Frame:
    return Frame("cam", i, time.monotonic(), time.time(), np.zeros((4, 4, 3), np.uint8))


class Echo(Stage):
    name = "echo"
    consumes = ("frame",)

    def process(self, item):
        yield Event("seen", item.source_id, {"frame_id": item.frame_id}, frame_id=item.frame_id)


class Slow(Echo):
    name = "slow"

    def __init__(self, gate: threading.Event):
        self.gate = gate

    def process(self, item):
        self.gate.wait(5)
        yield from super().process(item)


class Counter(Stage):
    """Downstream stage consuming another stage's events; flushes a summary at shutdown."""

    name = "counter"
    consumes = ("seen",)
    drop_when_full = False

    def __init__(self):
        self.n = 0

    def process(self, item):
        self.n += 1
        return ()

    def flush(self):
        yield Event("summary", "counter", {"seen": self.n})


class Broken(Stage):
    name = "broken"
    consumes = ("frame",)

    def process(self, item):
        if item.frame_id % 2:
            raise ValueError("bad frame")
        yield Event("ok", "x", {})


def test_queue_drops_oldest_and_counts():
    q = DropOldestQueue(2)
    for i in range(5):
        q.put(i)
    assert q.dropped == 3 and [q.get(0), q.get(0)] == [3, 4]


def test_routing_to_downstream_stage_and_flush_on_drain():
    events = []
    pipeline = Pipeline([Echo(), Counter()], events.append, frame_inbox=100)
    pipeline.start()
    for i in range(20):
        pipeline.submit(frame(i))
    pipeline.drain_and_stop(5)
    kinds = [e.kind for e in events]
    assert kinds.count("seen") == 20
    assert events[-1].kind == "summary" and events[-1].data["seen"] == 20


def test_full_inbox_drops_frames_without_blocking_capture():
    gate = threading.Event()
    events = []
    pipeline = Pipeline([Slow(gate)], events.append, frame_inbox=3)
    pipeline.start()
    start = time.perf_counter()
    for i in range(50):
        pipeline.submit(frame(i))
    submit_time = time.perf_counter() - start
    gate.set()
    pipeline.drain_and_stop(5)
    worker = pipeline.workers[0]
    assert submit_time < 0.5  # capture never waited on the slow stage
    assert worker.inbox.dropped >= 45
    assert events[-1].frame_id == 49  # the newest frame was kept
    assert pipeline.health()["slow"]["dropped"] == worker.inbox.dropped


def test_stage_errors_are_counted_not_fatal():
    events = []
    pipeline = Pipeline([Broken()], events.append, frame_inbox=100)
    pipeline.start()
    for i in range(10):
        pipeline.submit(frame(i))
    pipeline.drain_and_stop(5)
    assert len(events) == 5
    assert pipeline.workers[0].stats.errors == 5


def test_audio_goes_only_to_audio_stages():
    class Ears(Stage):
        name = "ears"
        consumes = ("audio",)
        drop_when_full = False

        def process(self, item):
            yield Event("heard", item.source_id, {"offset": item.offset})

    events = []
    pipeline = Pipeline([Echo(), Ears()], events.append)
    pipeline.start()
    pipeline.submit(AudioChunk("mic", 320, 16000, time.monotonic(), time.time(), np.zeros(320, np.float32)))
    pipeline.drain_and_stop(5)
    assert [e.kind for e in events] == ["heard"] and events[0].data["offset"] == 320


def test_hung_stage_is_reported_unhealthy():
    gate = threading.Event()
    pipeline = Pipeline([Slow(gate)], lambda e: None)
    pipeline.start()
    pipeline.submit(frame(0))
    time.sleep(0.2)
    assert pipeline.workers[0].health(hang_after_s=0.1)[0] is False
    gate.set()
    pipeline.drain_and_stop(5)
    assert pipeline.workers[0].health(hang_after_s=0.1)[0] is True


def test_event_ids_are_unique_and_time_sorted():
    ids = [Event("k", "s").id for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert ids == sorted(ids)


def test_event_named_like_a_source_item_does_not_loop_back():
    class Renamer(Stage):
        name = "renamer"
        consumes = ("frame",)

        def process(self, item):
            yield Event("frame", item.source_id, {})

    events = []
    pipeline = Pipeline([Renamer()], events.append)
    pipeline.start()
    pipeline.submit(frame(0))
    pipeline.drain_and_stop(5)
    assert len(events) == 1


def test_mixed_stage_caps_frames_but_keeps_every_event():
    """Fusion-like stage: consumes frames and events; frames must not pile up (memory), events must wait."""
    gate = threading.Event()

    class Joiner(Stage):
        name = "joiner"
        consumes = ("frame", "seen")
        drop_when_full = False

        def __init__(self):
            self.frames, self.events = 0, 0

        def process(self, item):
            gate.wait(5)
            if item.kind == "frame":
                self.frames += 1
            else:
                self.events += 1
            return ()

    joiner = Joiner()
    pipeline = Pipeline([joiner], lambda e: None, frame_inbox=3, other_inbox=1000)
    pipeline.start()
    for i in range(200):
        pipeline.submit(frame(i))
        pipeline._publish(Event("seen", "upstream", {"i": i}))  # what an upstream stage would emit
    worker = pipeline.workers[0]
    assert len(worker.inbox) <= 3 + 200  # at most 3 frames plus the events
    gate.set()
    pipeline.drain_and_stop(10)
    assert joiner.events == 200  # every event of the upstream stage arrived
    assert joiner.frames <= 4 and worker.inbox.dropped_other == 0
