"""`edge listen [PATH...] [--precision int8|fp32] [--format tsv|json]`: spoken commands and digits.

With paths: each WAV file (folders: their *.wav files, sorted) becomes one line,
`path<TAB>transcript<TAB>confidence` (TSV) or one JSON object per line. Any sample rate, channel count or
PCM width is converted; an empty or unreadable file gets a one-line error on stderr, the others are still
processed, and the exit status is non-zero. Without paths: listens on the microphone and prints each
utterance as it ends, until Ctrl-C (or --seconds).
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from edge.config import EdgeConfig, load_config
from edge.errors import InputError
from edge.events import AudioChunk
from edge.runtime import load_manifest
from edge.sources.audio import read_wav
from edge.speech.recognizer import Recognizer, SpeechModel, Utterance, combine, transcribe_clip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", metavar="PATH", help="WAV files or folders; none = the microphone"
    )
    parser.add_argument("--precision", choices=["int8", "fp32"], help="model file (default: config)")
    parser.add_argument(
        "--format",
        choices=["tsv", "json"],
        default="tsv",
        help="tsv: path, transcript, confidence; json: one object per line with words and times",
    )
    parser.add_argument(
        "--grammar",
        action="append",
        metavar="PATTERN",
        help='allowed utterance, repeatable, e.g. --grammar "fail <digit>*" (default: config)',
    )
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="microphone: stop after this long (0 = Ctrl-C)"
    )


def expand_paths(paths: list[str]) -> Iterator[tuple[str, Path | None, str | None]]:
    """(shown path, file, error): folders become their WAV files, sorted; problems become errors."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".wav")
            if not files:
                yield given, None, f"{given}: folder has no .wav files"
            for f in files:
                yield str(Path(given) / f.name), f, None
        elif path.exists():
            yield given, path, None
        else:
            yield given, None, f"{given}: no such file or folder"


def format_line(fmt: str, path: str, utterances: list[Utterance]) -> str:
    transcript, confidence, rejected = combine(utterances)
    if fmt == "tsv":
        return f"{path}\t{transcript}\t{confidence:.3f}"
    return json.dumps(
        {
            "path": path,
            "transcript": transcript,
            "confidence": round(confidence, 4),
            "rejected": rejected,
            "utterances": [utterance_dict(u) for u in utterances if u.decoded.words],
        }
    )


def utterance_dict(u: Utterance) -> dict:
    return {
        "transcript": u.transcript,
        "heard": u.decoded.hypothesis,
        "confidence": round(u.confidence, 4),
        "rejected": u.decoded.rejected,
        "reason": u.decoded.reason,
        "t_start": round(u.t_start, 3),
        "t_end": round(u.t_end, 3),
        "words": u.words(),
    }


def build_recognizer(cfg: EdgeConfig, precision: str | None, grammar: list[str] | None) -> Recognizer:
    speech = cfg.speech
    if grammar:
        speech = speech.model_copy(update={"grammar": grammar})
    manifest = load_manifest(cfg.models.dir)
    chosen = precision or speech.precision or cfg.runtime.precision
    model = SpeechModel.load(manifest, speech.model, chosen, cfg.runtime.providers, cfg.runtime.threads)
    try:
        return Recognizer(model, speech)
    except ValueError as exc:  # a grammar naming words the model does not know
        raise InputError(f"{exc}; fix speech.grammar or --grammar") from None


def read_file(shown: str, path: Path) -> tuple:
    """read_wav, with any other failure of a malformed file turned into the same one-line InputError."""
    try:
        return read_wav(path)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - wave/struct/numpy errors on crafted headers
        raise InputError(
            f"{shown}: unreadable WAV file ({exc.__class__.__name__}: {exc}); re-record or convert it"
        ) from None


def listen_files(recognizer: Recognizer, paths: list[str], fmt: str, out: TextIO, err: TextIO) -> int:
    failures = 0
    for shown, path, problem in expand_paths(paths):
        try:
            if problem:
                raise InputError(problem)
            samples, rate = read_file(shown, path)
            if len(samples) == 0:
                raise InputError(f"{shown}: the WAV file holds no audio samples")
            line = format_line(fmt, shown, transcribe_clip(recognizer, samples, rate))
        except InputError as exc:
            failures += 1
            print(f"edge listen: {exc}", file=err, flush=True)
            continue
        print(line, file=out, flush=True)
    return InputError.exit_code if failures else 0


def listen_microphone(cfg: EdgeConfig, recognizer: Recognizer, fmt: str, seconds: float, out: TextIO) -> int:
    """Live: the microphone pushes hops into a queue; this thread recognises and prints as utterances end."""
    from edge.sources.microphone import MicrophoneSource, describe_device, load_sounddevice  # lazy: PortAudio

    mic_cfg = cfg.microphone.model_copy(update={"sample_rate": recognizer.sample_rate})
    # an interactive command fails at once when there is no microphone (the service keeps retrying instead)
    describe_device(load_sounddevice(), mic_cfg.device)
    chunks: queue.Queue[AudioChunk] = queue.Queue()
    source = MicrophoneSource(mic_cfg, chunks.put)
    source.start()
    print(
        f"listening on {mic_cfg.device if mic_cfg.device is not None else 'the default microphone'} "
        "(Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    deadline = time.monotonic() + seconds if seconds > 0 else None
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                chunk = chunks.get(timeout=0.1)
            except queue.Empty:
                continue
            for u in recognizer.push(chunk.samples):
                print_live(u, mic_cfg.id, fmt, out)
            if chunk.end_of_stream:
                break
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
        source.join(2.0)
    while not chunks.empty():
        for u in recognizer.push(chunks.get_nowait().samples):
            print_live(u, mic_cfg.id, fmt, out)
    for u in recognizer.flush():
        print_live(u, mic_cfg.id, fmt, out)
    return 0


def print_live(u: Utterance, source_id: str, fmt: str, out: TextIO) -> None:
    if not u.decoded.words:
        return  # noise the VAD let through: nothing was said
    if fmt == "tsv":
        print(f"{source_id}\t{u.transcript}\t{u.confidence:.3f}", file=out, flush=True)
    else:
        print(json.dumps({"source": source_id, **utterance_dict(u)}), file=out, flush=True)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(getattr(args, "config", None))
    recognizer = build_recognizer(cfg, args.precision, args.grammar)
    if args.paths:
        return listen_files(recognizer, args.paths, args.format, sys.stdout, sys.stderr)
    return listen_microphone(cfg, recognizer, args.format, args.seconds, sys.stdout)
