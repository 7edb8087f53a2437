"""Evaluate the speech model (INT8 and FP32) side by side with pocketsphinx, and write the benchmark table.

    python tools/speech/evaluate.py                     # all systems, all sets, writes docs/BENCHMARKS.md
    python tools/speech/evaluate.py --limit 50 --no-write   # quick look

Sets (made by make_data.py, never seen in training):
  synth      held-out synthetic voices (espeak-ng en-gb-scotland, en-029, pl, hi; flite awb) with noise,
             reverberation and channel effects; single words and 2-4 word sequences
  fsdd       real human speech: every FSDD recording of the held-out speakers (isolated digits)
  fsdd_seq   the same speakers' digits joined into 2-4 digit strings with pauses
  oov        held-out voices saying out-of-vocabulary words: any accepted word is a false accept
  nonspeech  noise, hum, machine noise, clanks, music, alerts, babble: any accepted word is a false accept
Systems: ours (the `edge listen` path: VAD + model + greedy decoding + rejection) at int8 and fp32;
pocketsphinx with a JSGF grammar of one vocabulary word, and with a grammar of word sequences.
Each system runs in its own process (one thread) so its peak RSS is its own. Audio is resampled to
16 kHz once beforehand, identically for every system.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from math import gcd
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vocab import DIGITS, WORDS

from edge.textdistance import edit_distance

SETS = ("synth", "fsdd", "fsdd_seq", "oov", "nonspeech")
SYSTEMS = ("ours-int8", "ours-fp32", "ours-int8-strict", "pocketsphinx-word", "pocketsphinx-seq")
STRICT_MAX_UNKNOWN = 0.15  # "ours-int8-strict": the opt-in speech.max_unknown rejection
FSDD_DIR = Path("/work/shared/data/speech/fsdd/recordings")
RATE = 16000


def load_set(eval_dir: Path, name: str, limit: int) -> list[tuple[str, np.ndarray, str]]:
    """(id, 16 kHz float32 audio, reference transcript) for one evaluation set."""
    from scipy.signal import resample_poly

    from edge.sources.audio import read_wav

    items = []
    if name == "fsdd":
        speakers = (eval_dir / "fsdd_speakers.txt").read_text().strip().split(",")
        rows = [
            (p, DIGITS[int(p.stem.split("_")[0])])
            for p in sorted(FSDD_DIR.glob("*.wav"))
            if p.stem.split("_")[1] in speakers
        ]
    else:
        rows = []
        for line in (eval_dir / name / "labels.tsv").read_text().splitlines():
            file, _, text = line.partition("\t")
            rows.append((eval_dir / name / file, text))
    if limit:
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    for path, text in rows:
        x, rate = read_wav(path)
        if rate != RATE:
            g = gcd(rate, RATE)
            x = resample_poly(x, RATE // g, rate // g).astype(np.float32)
        items.append((path.name, x, text))
    return items


# ---- systems ------------------------------------------------------------------------------------------


def ours(precision: str, strict: bool = False):
    from edge.config import EdgeConfig
    from edge.runtime import load_manifest
    from edge.speech.recognizer import Recognizer, SpeechModel, combine, transcribe_clip

    cfg = EdgeConfig().speech
    if strict:
        cfg = cfg.model_copy(update={"max_unknown": STRICT_MAX_UNKNOWN})
    model = SpeechModel.load(load_manifest(), "speech", precision, ["cpu"], threads=1)
    recognizer = Recognizer(model, cfg)

    def recognize(x: np.ndarray) -> str:
        transcript, _, _ = combine(transcribe_clip(recognizer, x, RATE))
        return transcript

    return recognize


def pocketsphinx(kind: str):
    from pocketsphinx import Decoder

    alternatives = " | ".join(WORDS)
    if kind == "word":
        grammar = f"#JSGF V1.0;\ngrammar cmd;\npublic <utt> = {alternatives};\n"
    else:
        grammar = f"#JSGF V1.0;\ngrammar cmd;\n<w> = {alternatives};\npublic <utt> = <w>+;\n"
    decoder = Decoder(jsgf=None, loglevel="FATAL", samprate=RATE)
    decoder.add_jsgf_string("cmd", grammar)
    decoder.activate_search("cmd")

    def recognize(x: np.ndarray) -> str:
        pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return " ".join(w for w in (hyp.hypstr.split() if hyp else []) if w in WORDS)

    return recognize


def make_system(system: str):
    parts = system.split("-")
    return ours(parts[1], strict=parts[-1] == "strict") if parts[0] == "ours" else pocketsphinx(parts[1])


def run_system(system: str, eval_dir: Path, limit: int) -> dict:
    """One system over every set: transcripts, processing time, audio seconds, peak RSS."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    recognize = make_system(system)
    result = {"system": system, "sets": {}}
    for name in SETS:
        items = load_set(eval_dir, name, limit)
        hyps, seconds, audio = [], 0.0, 0.0
        for _, x, _ in items:
            start = time.perf_counter()
            hyps.append(recognize(x))
            seconds += time.perf_counter() - start
            audio += len(x) / RATE
        result["sets"][name] = {
            "refs": [r for _, _, r in items],
            "hyps": hyps,
            "seconds": seconds,
            "audio": audio,
        }
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


# ---- metrics ------------------------------------------------------------------------------------------


def scores(refs: list[str], hyps: list[str]) -> dict:
    words = sum(len(r.split()) for r in refs)
    errors = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps))
    return {
        "n": len(refs),
        "utt_acc": sum(r == h for r, h in zip(refs, hyps)) / max(1, len(refs)),
        "wer": errors / max(1, words),
        "empty": sum(h == "" for h in hyps) / max(1, len(refs)),  # rejected or nothing heard
    }


def false_accepts(hyps: list[str]) -> float:
    return sum(h != "" for h in hyps) / max(1, len(hyps))


CHATTER = "babble"  # several voices at once saying unknown words: speech, unlike the other non-speech kinds


def nonspeech_kinds(eval_dir: Path, limit: int) -> list[str]:
    """Kind of each non-speech clip, in the order load_set reads them (kinds.tsv is written by make_data.py)."""
    rows = [line.split("\t") for line in (eval_dir / "nonspeech" / "kinds.tsv").read_text().splitlines()]
    if limit:
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    return [kind for _, kind in rows]


def nonspeech_split(hyps: list[str], kinds: list[str]) -> tuple[float, float]:
    """False accepts on noise, music, alerts, machines and silence (what the issue calls non-speech), and on
    background chatter, separately: a station cares about both, and they fail for different reasons."""
    noise = [h for h, kind in zip(hyps, kinds) if kind != CHATTER]
    chatter = [h for h, kind in zip(hyps, kinds) if kind == CHATTER]
    return false_accepts(noise), false_accepts(chatter)


def model_bytes(system: str) -> int:
    if system.startswith("ours"):
        return (ROOT / "models" / f"speech-v1-{system.split('-')[1]}.onnx").stat().st_size
    from pocketsphinx import get_model_path

    # what a grammar search loads: the acoustic model and the pronunciation dictionary (not the n-gram LM)
    folder = Path(get_model_path()) / "en-us"
    files = [p for p in (folder / "en-us").rglob("*") if p.is_file()] + [folder / "cmudict-en-us.dict"]
    return sum(p.stat().st_size for p in files)


def speed(systems: list[str], eval_dir: Path, per_set: int) -> dict[str, float]:
    """Real-time factor, measured clip by clip in rotating order so that the load of a shared machine
    falls on every system alike."""
    recognizers = {name: make_system(name) for name in systems}
    clips = [x for name in SETS for _, x, _ in load_set(eval_dir, name, per_set)]
    busy = {name: 0.0 for name in systems}
    for i, x in enumerate(clips):
        order = systems[i % len(systems) :] + systems[: i % len(systems)]
        for name in order:
            start = time.perf_counter()
            recognizers[name](x)
            busy[name] += time.perf_counter() - start
    audio = sum(len(x) for x in clips) / RATE
    return {name: busy[name] / audio for name in systems} | {"clips": len(clips), "audio_s": audio}


def latency(limit: int) -> dict:
    """End of utterance -> event: FSDD digit strings fed to the stage in 20 ms hops, like the microphone."""
    from edge.config import EdgeConfig
    from edge.events import AudioChunk
    from edge.runtime import load_manifest
    from edge.speech.recognizer import quiet
    from edge.speech.stage import build_stage

    cfg = EdgeConfig()
    stage = build_stage(cfg, load_manifest())
    items = load_set(Path("work/speech/eval"), "fsdd_seq", limit)
    offset = 0
    hop = 320
    for _, x, _ in items:
        audio = np.concatenate([quiet(0.5, RATE, 1), x, quiet(1.0, RATE, 2)])
        for start in range(0, len(audio) - hop + 1, hop):
            chunk = AudioChunk(
                "mic0", offset, RATE, time.monotonic(), time.time(), audio[start : start + hop]
            )
            offset += hop
            list(stage.process(chunk))
    values = np.array(stage.latencies) * 1000
    return {
        "events": len(values),
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "max_ms": float(values.max()),
        "end_silence_ms": cfg.speech.end_silence_ms,
    }


def table(results: list[dict], rtf: dict, lat: dict, command: str, kinds: list[str]) -> str:
    lines = [
        "## Speech",
        "",
        (
            f"Command: `{command}` (tools/speech/evaluate.py; sets made by tools/speech/make_data.py). Machine: 2-core "
            "x86-64 VM, no GPU, shared with other jobs while measured; every system at 1 thread. Utterance accuracy "
            "counts a rejected utterance as wrong; false accepts = share of clips for which any vocabulary word was "
            "reported. pocketsphinx (the English model shipped with the `pocketsphinx` wheel) has no rejection. "
            f"ours-int8-strict = the INT8 model with the opt-in `speech.max_unknown: {STRICT_MAX_UNKNOWN}` (default off)."
        ),
        "",
        (
            "| system | synth held-out voices utt acc / WER | FSDD held-out speakers utt acc / WER "
            "| FSDD digit strings utt acc / WER | OOV false accepts | non-speech false accepts: noise, music, "
            "alerts, machines / chatter / all | RTF (1 thread) "
            "| model MB | peak RSS MB |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r["sets"]
        sc = {n: scores(s[n]["refs"], s[n]["hyps"]) for n in ("synth", "fsdd", "fsdd_seq")}
        noise, chatter = nonspeech_split(s["nonspeech"]["hyps"], kinds)
        lines.append(
            f"| {r['system']} | {100 * sc['synth']['utt_acc']:.1f}% / {100 * sc['synth']['wer']:.1f}% "
            f"| {100 * sc['fsdd']['utt_acc']:.1f}% / {100 * sc['fsdd']['wer']:.1f}% "
            f"| {100 * sc['fsdd_seq']['utt_acc']:.1f}% / {100 * sc['fsdd_seq']['wer']:.1f}% "
            f"| {100 * false_accepts(s['oov']['hyps']):.1f}% | {100 * noise:.1f}% / {100 * chatter:.1f}% / "
            f"{100 * false_accepts(s['nonspeech']['hyps']):.1f}% "
            f"| {rtf[r['system']]:.4f} | {model_bytes(r['system']) / 1e6:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    from edge.speech.settings import SpeechConfig

    threshold = SpeechConfig().min_confidence
    lines += [
        "",
        (
            f"Rejection threshold `speech.min_confidence` = {threshold}, chosen on a development set of the training "
            "voices (new utterances) by `python tools/speech/calibrate.py` as the lowest value whose false accepts "
            "there stay at most 13% (OOV: the 20% target divided by 1.5, the largest ratio of held-out to "
            "development-set false accepts seen before) and whose non-speech rate is below 5% even at the upper "
            "end of its 95% interval (600 clips); a lower value trades false accepts for accuracy."
        ),
        "",
        *targets(results, rtf, lat, kinds),
    ]
    n = {name: len(results[0]["sets"][name]["refs"]) for name in SETS}
    speakers = Path("work/speech/eval/fsdd_speakers.txt").read_text().strip()
    lines += [
        "",
        (
            f"Clips: synth {n['synth']}, FSDD {n['fsdd']} (speakers {speakers}), FSDD strings {n['fsdd_seq']}, "
            f"OOV {n['oov']}, non-speech {n['nonspeech']}. RTF = processing time / audio time, measured on "
            f"{rtf['clips']} clips ({rtf['audio_s']:.0f} s of audio, every set) with the systems taking turns clip by "
            "clip, so the shared machine's load falls on all alike; ours includes front end, VAD, model and decoding."
        ),
        "",
        (
            f"End of utterance to event (stage fed 20 ms hops of {lat['events']} FSDD digit strings): processing after "
            f"the endpoint p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, max {lat['max_ms']:.1f} ms; the "
            f"endpointer waits for {lat['end_silence_ms']} ms of silence (`speech.end_silence_ms`) before it declares "
            "the end."
        ),
        "",
    ]
    return "\n".join(lines)


def targets(results: list[dict], rtf: dict, lat: dict, kinds: list[str]) -> list[str]:
    """The issue's targets, met or missed, from this run's numbers."""
    by = {r["system"]: r["sets"] for r in results}
    if "ours-int8" not in by or "pocketsphinx-word" not in by:
        return []
    ours, ps = by["ours-int8"], by["pocketsphinx-word"]
    ps_acc = scores(ps["fsdd"]["refs"], ps["fsdd"]["hyps"])["utt_acc"]

    def rates(sets: dict) -> tuple[float, float, float, float]:
        """(FSDD gain over pocketsphinx-word in points, OOV, non-speech and chatter false accepts in %)"""
        gain = 100 * (scores(sets["fsdd"]["refs"], sets["fsdd"]["hyps"])["utt_acc"] - ps_acc)
        noise, chatter = nonspeech_split(sets["nonspeech"]["hyps"], kinds)
        return gain, 100 * false_accepts(sets["oov"]["hyps"]), 100 * noise, 100 * chatter

    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    gain, oov, non, chatter = rates(ours)
    ratio = rtf["ours-int8"] / rtf["pocketsphinx-word"]
    size = model_bytes("ours-int8") / 1e6
    lines = [
        "Targets (issue 4), INT8:",
        (
            f"- real human speech (FSDD held-out): {gain:+.1f} points over pocketsphinx one-word grammar "
            f"(target >= +15): {mark(gain >= 15)}"
        ),
        (
            f"- OOV false accepts {oov:.1f}% (target <= 20%): {mark(oov <= 20)}; non-speech (noise, music, alerts, "
            f"machines, silence) {non:.1f}% (target <= 5%): {mark(non <= 5)}; background chatter (no target) "
            f"{chatter:.1f}%"
        ),
        f"- RTF {ratio:.2f} x pocketsphinx one-word (target <= 0.33): {mark(ratio <= 1 / 3)}",
        (
            f"- end of utterance to event: p95 {lat['p95_ms']:.1f} ms processing + {lat['end_silence_ms']} ms "
            f"endpoint silence (target <= 300 ms): processing {mark(lat['p95_ms'] <= 300)}, including the silence "
            f"wait {mark(lat['p95_ms'] + lat['end_silence_ms'] <= 300)}"
        ),
        f"- INT8 file {size:.2f} MB (target <= 1 MB): {mark(size <= 1)}",
    ]
    if "ours-int8-strict" in by:
        gain, oov, non, chatter = rates(by["ours-int8-strict"])
        lines.append(
            f"- with `speech.max_unknown: {STRICT_MAX_UNKNOWN}` (ours-int8-strict): FSDD {gain:+.1f} points "
            f"({mark(gain >= 15)}), OOV false accepts {oov:.1f}% ({mark(oov <= 20)}), non-speech {non:.1f}% "
            f"({mark(non <= 5)}), chatter {chatter:.1f}%"
        )
    return lines


def write_section(path: Path, section: str) -> None:
    """Replace only the `## Speech` section (others edit theirs at the same time)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find("## Speech")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=Path("work/speech/eval"))
    ap.add_argument("--limit", type=int, default=0, help="at most this many clips per set (0 = all)")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--system", help=argparse.SUPPRESS)  # internal: run one system, print JSON
    ap.add_argument("--speed-clips", type=int, default=30, help="clips per set in the interleaved speed pass")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse transcripts cached by an earlier run (same --limit)"
    )
    ap.add_argument("--accuracy-only", action="store_true", help="only compute and cache transcripts")
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch docs/ and the manifest")
    args = ap.parse_args(argv)
    if args.system:
        print(json.dumps(run_system(args.system, args.eval_dir, args.limit)))
        return 0
    results = []
    cache = Path("work/speech/eval_cache")
    cache.mkdir(parents=True, exist_ok=True)
    systems = args.systems.split(",")
    for system in systems:
        cached = cache / f"{system}-{args.limit}.json"
        if args.reuse and cached.is_file():
            results.append(json.loads(cached.read_text()))
            continue
        cmd = [
            sys.executable,
            __file__,
            "--system",
            system,
            "--eval-dir",
            str(args.eval_dir),
            "--limit",
            str(args.limit),
        ]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return 1
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        cached.write_text(json.dumps(results[-1]))
        print(f"{system}: done", file=sys.stderr, flush=True)
    if args.accuracy_only:
        return 0
    rtf = speed(systems, args.eval_dir, args.speed_clips)
    lat = latency(min(args.limit or 60, 60))
    command = "python tools/speech/evaluate.py" + (f" --limit {args.limit}" if args.limit else "")
    command += f" --speed-clips {args.speed_clips}" if args.speed_clips != 30 else ""
    kinds = nonspeech_kinds(args.eval_dir, args.limit)
    section = table(results, rtf, lat, command, kinds)
    print(section)
    Path("work/speech").mkdir(parents=True, exist_ok=True)
    Path("work/speech/eval_results.json").write_text(
        json.dumps({"results": results, "rtf": rtf, "latency": lat})
    )
    if not args.no_write:
        write_section(ROOT / "docs" / "BENCHMARKS.md", section)
        record_metrics(results, rtf, lat, command, kinds)
    return 0


def record_metrics(results: list[dict], rtf: dict, lat: dict, command: str, kinds: list[str]) -> None:
    from edge.runtime import update_manifest_entry

    metrics = {"command": command, "machine": "2-core x86-64 VM, no GPU, 1 thread"}
    for r in results:
        if not r["system"].startswith("ours"):
            continue
        s = r["sets"]
        entry = {
            n: {k: round(v, 4) for k, v in scores(s[n]["refs"], s[n]["hyps"]).items()}
            for n in ("synth", "fsdd", "fsdd_seq")
        }
        entry["oov_false_accept"] = round(false_accepts(s["oov"]["hyps"]), 4)
        noise, chatter = nonspeech_split(s["nonspeech"]["hyps"], kinds)
        entry["nonspeech_false_accept"] = round(noise, 4)  # noise, music, alerts, machines, silence
        entry["chatter_false_accept"] = round(chatter, 4)
        entry["nonspeech_and_chatter_false_accept"] = round(false_accepts(s["nonspeech"]["hyps"]), 4)
        entry["rtf_1_thread"] = round(rtf[r["system"]], 5)
        metrics[r["system"].split("-", 1)[1]] = entry
    metrics["end_of_utterance_to_event_ms"] = {k: round(v, 1) for k, v in lat.items() if k.endswith("_ms")}
    update_manifest_entry(ROOT / "models", "speech", {"metrics": metrics})


if __name__ == "__main__":
    raise SystemExit(main())
