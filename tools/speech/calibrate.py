"""Choose `speech.min_confidence` on a development set, never on the evaluation sets.

    python tools/speech/calibrate.py

The development set is fresh utterances (new texts, new augmentation) from the TRAINING voices and the
training FSDD speakers, plus new OOV and non-speech clips: nothing here is in the held-out evaluation. Each
clip goes through the `edge listen` path once with rejection off; the threshold is then swept offline and
the lowest one whose OOV and non-speech false-accept rates stay within the targets (with a margin) is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_data import (
    ESPEAK_TRAIN,
    FLITE_TRAIN,
    UNK,
    augment,
    espeak_variants,
    load_fsdd,
    make_jobs,
    nonspeech_clip,
    synthesize,
)

from edge.config import EdgeConfig
from edge.runtime import load_manifest
from edge.speech.recognizer import Recognizer, SpeechModel, transcribe_clip


def wilson_upper(hits: int, n: int, z: float = 1.96) -> float:
    """Upper end of the 95% Wilson interval of a rate: what `hits` of `n` clips can still mean."""
    if n == 0:
        return 1.0
    p = hits / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre + spread) / (1 + z * z / n))


def dev_set(
    seed: int, fsdd_test_speakers: set[str], nonspeech_clips: int = 600
) -> dict[str, list[tuple[np.ndarray, str]]]:
    rng = np.random.default_rng(seed)
    variants = espeak_variants()
    jobs = make_jobs("espeak", ESPEAK_TRAIN, variants, 120, 60, 120, 0, seed + 1)
    jobs += make_jobs("flite", FLITE_TRAIN, [], 40, 20, 40, 0, seed + 2)
    clean = synthesize(jobs, 2)
    pool = [x for x, w, _ in clean if w and w[0] == UNK][:80]
    sets: dict[str, list[tuple[np.ndarray, str]]] = {"words": [], "oov": [], "nonspeech": []}
    for x, words, _ in clean:
        key = "oov" if UNK in words else "words"
        sets[key].append((augment(x, rng, pool, strength=0.8), " ".join(words)))
    speakers = {"george", "jackson", "lucas", "yweweler"} - fsdd_test_speakers
    fsdd = load_fsdd(speakers)
    for i in rng.choice(len(fsdd), 150, replace=False):
        x, word, _ = fsdd[i]
        sets["words"].append((augment(x, rng, pool, strength=0.5), word))
    sets["nonspeech"] = [(nonspeech_clip(rng, pool)[0], "") for _ in range(nonspeech_clips)]
    return sets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precision", default="int8")
    ap.add_argument("--models", type=Path, default=None, help="models folder (default: models/)")
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument(
        "--max-oov",
        type=float,
        default=0.13,
        help="OOV false-accept rate allowed on the dev set. Held-out voices false-accept more than the training "
        "voices of the dev set, by a factor of up to 1.5 so far (v1: 22.0%% held-out vs 19.4%% dev; its "
        "fine-tuned version: 26.0%% vs 17.5%%), so the 20%% target divided by 1.5",
    )
    ap.add_argument(
        "--max-nonspeech",
        type=float,
        default=0.05,
        help="the non-speech target, which the upper end of the 95%% interval of the dev-set rate must meet: "
        "with 150 clips a point estimate of 2.7%% (4 clips) measured 6.3%% on the held-out clips",
    )
    ap.add_argument("--nonspeech-clips", type=int, default=600, help="non-speech clips in the dev set")
    ap.add_argument("--end-silence-ms", type=int, help="endpointing silence to try (default: the config's)")
    args = ap.parse_args(argv)
    sets = dev_set(args.seed, {"nicolas", "theo"}, args.nonspeech_clips)
    cfg = EdgeConfig().speech.model_copy(update={"min_confidence": 0.0})
    if args.end_silence_ms:
        cfg = cfg.model_copy(update={"end_silence_ms": args.end_silence_ms})
    model = SpeechModel.load(load_manifest(args.models), "speech", args.precision, ["cpu"], 1)
    recognizer = Recognizer(model, cfg)
    heard: dict[str, list[tuple[str, str, float, bool]]] = {}
    for name, items in sets.items():
        heard[name] = []
        for x, ref in items:
            spoken = [u for u in transcribe_clip(recognizer, x, 16000) if u.decoded.words]
            hyp = " ".join(u.decoded.hypothesis for u in spoken)
            confidence = min((u.confidence for u in spoken), default=0.0)
            unknown = any(u.decoded.rejected for u in spoken)  # with min_confidence 0 only <unk> rejects
            p_unknown = max((u.decoded.unknown for u in spoken), default=0.0)
            heard[name].append((ref, hyp, confidence, unknown, p_unknown))
    print(f"dev set: {', '.join(f'{k} {len(v)}' for k, v in heard.items())}")
    chosen = None
    for max_unknown in (1.0, 0.2, 0.15, 0.1):
        print(f"speech.max_unknown {max_unknown}" + (" (off, the default)" if max_unknown == 1.0 else ""))
        print("threshold  words_utt_acc  oov_false_accept  nonspeech_false_accept (95% upper)")
        for threshold in np.arange(0.3, 0.96, 0.05):

            def accepted(row, threshold: float = threshold, max_unknown: float = max_unknown) -> bool:
                _, hyp, confidence, unknown, p_unknown = row
                return bool(hyp) and not unknown and confidence >= threshold and p_unknown <= max_unknown

            acc = np.mean([accepted(r) and r[1] == r[0] for r in heard["words"]])
            oov = np.mean([accepted(r) for r in heard["oov"]])
            non_hits = sum(accepted(r) for r in heard["nonspeech"])
            non, non_upper = (
                non_hits / len(heard["nonspeech"]),
                wilson_upper(non_hits, len(heard["nonspeech"])),
            )
            print(f"{threshold:9.2f}  {acc:13.3f}  {oov:16.3f}  {non:22.3f} ({non_upper:.3f})")
            if (
                max_unknown == 1.0
                and chosen is None
                and oov <= args.max_oov
                and non_upper <= args.max_nonspeech
            ):
                chosen = round(float(threshold), 2)
    print(f"lowest min_confidence within the limits (max_unknown off): {chosen}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
