"""`edge record`: capture labelled parts at a station into a dataset folder for `tools/fusion/train.py --data`.

    edge record --out parts/ [--label ok] [--max-parts 50] [--max-seconds 600]   record (live or -c CONFIG)
    edge record --demo --out parts/                                              record the bundled demo media
    edge record --list parts/                                                    label counts, unlabelled ids
    edge record --relabel parts/ --id ID [--id ID...] --label surface_defect     fix or add labels afterwards

Each part that passes the camera (same trigger and joining as the fusion stage) becomes one sample:
crops/<id>.png (the part upright, as the model sees it), snapshots/<id>.jpg (the frame), audio/<id>.wav (what
the microphone heard while the part was there), and one line in samples.jsonl with the OCR and speech event
data, the expected lots and the label. The label comes from --label, else from the operator's voice
("pass" = ok, "fail one..four" = label_missing, print_defect, wrong_code, surface_defect; a bare "fail" is kept
as a hint and needs --relabel), else it stays empty until --relabel.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from edge.config import EdgeConfig
from edge.errors import ConfigError, InputError
from edge.events import AudioChunk, Event
from edge.fusion.codes import CLASSES
from edge.fusion.features import DIGITS, speech_features
from edge.fusion.stage import PartStage, part_info, snapshot_jpeg
from edge.pipeline.stage import Item
from edge.sources.audio import write_wav
from edge.vision.trigger import PartVisit

log = logging.getLogger(__name__)
DATASET_FORMAT = "edge-fusion-dataset"
VOICE_CODES = {1: "label_missing", 2: "print_defect", 3: "wrong_code", 4: "surface_defect"}
AUDIO_KEEP_S = 60.0


def label_from_words(words: list[str]) -> tuple[str | None, str | None]:
    """(label, hint) from what the operator said: the last "pass"/"fail [n]" wins (people correct themselves)."""
    label, hint = None, None
    for i, word in enumerate(words):
        if word == "pass":
            label, hint = "ok", "pass"
        elif word == "fail":
            code = DIGITS.get(words[i + 1]) if i + 1 < len(words) else None
            label = VOICE_CODES.get(code) if code is not None else None
            hint = "fail" if label is None else f"fail {words[i + 1]}"
    return label, hint


class Dataset:
    """A dataset folder: samples.jsonl + crops/ + snapshots/ + audio/ + manifest.json."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.samples_path = self.folder / "samples.jsonl"
        self._lock = threading.Lock()

    def create(self, source: str) -> None:
        for sub in ("crops", "snapshots", "audio"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        if not (self.folder / "manifest.json").is_file():
            self._write_manifest({"format": DATASET_FORMAT, "version": 1, "classes": list(CLASSES),
                                  "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "source": source})

    def read(self) -> list[dict]:
        if not self.samples_path.is_file():
            raise InputError(f"{self.folder} is not an edge dataset (no samples.jsonl); record into it first")
        return [json.loads(line) for line in self.samples_path.read_text().splitlines() if line.strip()]

    def append(self, sample: dict) -> None:
        with self._lock, open(self.samples_path, "a") as fh:
            fh.write(json.dumps(sample) + "\n")
            fh.flush()
        self.update_manifest()

    def rewrite(self, samples: list[dict]) -> None:
        tmp = self.samples_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(s) + "\n" for s in samples))
        tmp.replace(self.samples_path)  # atomic: a crash never leaves half a file
        self.update_manifest()

    def update_manifest(self) -> None:
        path = self.folder / "manifest.json"
        manifest = json.loads(path.read_text()) if path.is_file() else {"format": DATASET_FORMAT, "version": 1}
        samples = self.read() if self.samples_path.is_file() else []
        manifest["samples"] = len(samples)
        manifest["labels"] = {c: sum(s.get("label") == c for s in samples) for c in CLASSES}
        manifest["unlabelled"] = sum(s.get("label") not in CLASSES for s in samples)
        self._write_manifest(manifest)

    def _write_manifest(self, manifest: dict) -> None:
        (self.folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


class RecordStage(PartStage):
    """Like the fusion stage, but a complete part becomes a dataset sample (and a `recorded` event)."""

    name = "record"
    consumes = ("frame", "audio", "ocr", "speech")

    def __init__(
        self,
        dataset: Dataset,
        config: EdgeConfig,
        label: str | None,
        voice_labels: bool = True,
        max_parts: int | None = None,
        on_done: Callable[[], None] | None = None,
        ocr_running: bool = True,
        speech_running: bool = True,
    ) -> None:
        super().__init__(config.fusion, ocr_running, speech_running)
        self.dataset = dataset
        self.label = label
        self.voice_labels = voice_labels
        self.max_parts = max_parts
        self.on_done = on_done
        self.source_id = config.camera.id
        self.count = 0
        self.audio: list[AudioChunk] = []

    def process(self, item: Item) -> Iterable[Event]:
        if isinstance(item, AudioChunk):
            self.audio.append(item)
            while self.audio and self.audio[0].t_mono < item.t_mono - AUDIO_KEEP_S:
                self.audio.pop(0)
            return ()
        return super().process(item)

    def _audio_clip(self, start: float, end: float) -> tuple[np.ndarray, int] | None:
        chunks = [c for c in self.audio if c.t_mono + c.duration >= start and c.t_mono <= end]
        if not chunks:
            return None
        rate = chunks[0].sample_rate
        samples = np.concatenate([c.samples for c in chunks])
        first = int(max(0.0, start - chunks[0].t_mono) * rate)
        last = int(max(0.0, end - chunks[0].t_mono) * rate)
        return samples[first:last], rate

    def complete(self, visit: PartVisit, crop: np.ndarray, ocr_events: list[Event], speech_events: list[Event]) -> Event | None:
        if self.max_parts is not None and self.count >= self.max_parts:
            return None
        ocr, speech = self.joined_inputs(ocr_events, speech_events)
        _, words = speech_features(speech)
        voice_label, hint = label_from_words(words)
        label = self.label or (voice_label if self.voice_labels else None)
        sample_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{visit.index:05d}"
        folder = self.dataset.folder
        cv2.imwrite(str(folder / "crops" / f"{sample_id}.png"), cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
        snapshot = snapshot_jpeg(visit, True, self.settings.snapshot_quality)
        if snapshot:
            (folder / "snapshots" / f"{sample_id}.jpg").write_bytes(snapshot)
        clip = self._audio_clip(visit.t_arrive - 0.5, (visit.t_leave or self.now) + self.settings.join_grace_s)
        if clip is not None and len(clip[0]):
            write_wav(folder / "audio" / f"{sample_id}.wav", clip[0], clip[1])
        sample = {
            "id": sample_id,
            "label": label,
            "label_source": "cli" if self.label else ("voice" if label else None),
            "voice_hint": hint,
            "crop": f"crops/{sample_id}.png",
            "snapshot": f"snapshots/{sample_id}.jpg" if snapshot else None,
            "audio": f"audio/{sample_id}.wav" if clip is not None and len(clip[0]) else None,
            "ocr": ocr,
            "speech": speech,
            "expected_lots": list(self.settings.expected_lots),
            "part": part_info(visit, self.now),
            "t_wall": time.time(),
        }
        self.dataset.append(sample)
        self.count += 1
        if self.max_parts is not None and self.count >= self.max_parts and self.on_done:
            self.on_done()
        return Event(kind="recorded", source_id=self.source_id, frame_id=visit.best_frame.frame_id,
                     data={"id": sample_id, "label": label, "voice_hint": hint, "words": words,
                           "dataset": str(folder)})


# ---- CLI ------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="dataset folder to record into (created if missing)")
    parser.add_argument("--label", choices=CLASSES, help="label every recorded part (else: operator's voice, or --relabel)")
    parser.add_argument("--no-voice-labels", action="store_true", help="do not take labels from pass/fail")
    parser.add_argument("--max-parts", type=int, help="stop after recording this many parts")
    parser.add_argument("--max-seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--demo", action="store_true", help="record the bundled demo media instead of the camera")
    parser.add_argument("--relabel", type=Path, metavar="DIR", help="change labels in a recorded dataset")
    parser.add_argument("--id", action="append", default=[], help="sample id for --relabel (repeatable)")
    parser.add_argument("--list", type=Path, metavar="DIR", help="show a dataset's label counts and unlabelled ids")


def relabel(folder: Path, ids: list[str], label: str | None) -> int:
    if not ids or not label:
        raise InputError("--relabel needs --id ID (one or more) and --label CLASS")
    dataset = Dataset(folder)
    samples = dataset.read()
    known = {s["id"] for s in samples}
    missing = [i for i in ids if i not in known]
    if missing:
        raise InputError(f"{folder}: no sample with id {', '.join(missing)}; see `edge record --list {folder}`")
    for sample in samples:
        if sample["id"] in ids:
            sample["label"], sample["label_source"] = label, "relabel"
    dataset.rewrite(samples)
    print(f"{len(ids)} sample(s) in {folder} labelled {label}")
    return 0


def list_dataset(folder: Path) -> int:
    samples = Dataset(folder).read()
    counts = {c: sum(s.get("label") == c for s in samples) for c in CLASSES}
    print(f"{folder}: {len(samples)} samples; " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    for s in samples:
        if s.get("label") not in CLASSES:
            heard = " ".join((s.get("speech") or {}).get("words") and [w["word"] for w in s["speech"]["words"]] or [])
            print(f"unlabelled\t{s['id']}\t{s.get('voice_hint') or ''}\t{heard}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return list_dataset(args.list)
    if args.relabel:
        return relabel(args.relabel, args.id, args.label)
    if not args.out:
        raise ConfigError("edge record needs --out DIR (the dataset folder), or --list DIR / --relabel DIR")
    from edge.app import DEMO_CONFIG, Application, build_stages
    from edge.config import load_config
    from edge.runtime import load_manifest

    config_path = DEMO_CONFIG if args.demo else getattr(args, "config", None)
    config = load_config(config_path)
    upstream = config.model_copy(update={"fusion": config.fusion.model_copy(update={"enabled": False})})
    manifest = load_manifest(config.models.dir)
    stages = build_stages(upstream, manifest, optional=True)
    names = {s.name for s in stages}
    dataset = Dataset(args.out)
    dataset.create(source=str(config_path or "defaults"))
    recorder = RecordStage(
        dataset, config, args.label, voice_labels=not args.no_voice_labels, max_parts=args.max_parts,
        ocr_running="ocr" in names, speech_running="speech" in names,
    )
    app = Application(config, Path(config_path) if config_path else None, demo=args.demo, stages=[*stages, recorder])
    recorder.on_done = app.request_stop
    log.info("recording into %s (stages: %s)", args.out, ", ".join(s.name for s in [*stages, recorder]))
    code = app.run(max_seconds=args.max_seconds)
    dataset.update_manifest()
    print(f"recorded {recorder.count} part(s) into {args.out}")
    return code
