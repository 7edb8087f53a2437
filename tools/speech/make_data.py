"""Make the speech training and evaluation data: synthetic voices + FSDD real digits, augmented, as log-mel.

Voices: espeak-ng English voices x its variants, espeak-ng other-language voices reading English (accents),
flite (kal, kal16, slt, rms) and festival (kal_diphone, cmu_us_slt_arctic_hts). Never mbrola (its license
forbids use in a sold product). Held out for testing only: espeak-ng en-gb-scotland and en-029, the accent
voices pl and hi, flite awb, and the FSDD speakers in --fsdd-test-speakers.

Outputs (under --out, default work/speech/data):
  train.npz, val_synth.npz, val_fsdd.npz  log-mel features (float16), lengths and transcripts
  eval/<set>/*.wav + eval/<set>/labels.tsv  waveforms for tools/speech/evaluate.py (synth, fsdd_seq, oov, nonspeech)

    python tools/speech/make_data.py --workers 2
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from math import gcd
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vocab import COMMANDS, DIGITS, NEAR_MISS, NEAR_MISS_TRAIN, OOV_WORDS, UNK, WORDS

from edge.sources.audio import write_wav
from edge.speech.frontend import SAMPLE_RATE, log_mel

FSDD_DIR = Path("/work/shared/data/speech/fsdd/recordings")
ESPEAK_TRAIN = ["en-gb", "en-us", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-gb-x-rp", "en-us-nyc"]
ESPEAK_TEST = ["en-gb-scotland", "en-029"]
ACCENT_TRAIN = ["de", "fr-fr", "es", "it", "nl", "pt-br", "ru", "sv", "cs", "tr", "fi", "el"]
ACCENT_TEST = ["pl", "hi"]
FLITE_TRAIN = ["kal", "kal16", "slt", "rms"]
FLITE_TEST = ["awb"]
FESTIVAL_TRAIN = ["kal_diphone", "cmu_us_slt_arctic_hts"]


def espeak_variants() -> list[str]:
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    names = [line.split()[4].split("/")[-1] for line in out.splitlines()[1:] if len(line.split()) >= 5]
    return [n for n in names if n not in ("fast",)]


@dataclass
class Job:
    engine: str  # espeak | flite | festival
    voice: str
    text: str
    words: list[str]  # target labels (vocabulary words or <unk>)
    seed: int
    variant: str = ""


# ---- synthesis ----------------------------------------------------------------------------------------


def to_16k(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return x.astype(np.float32)
    g = gcd(rate, SAMPLE_RATE)
    return signal.resample_poly(x, SAMPLE_RATE // g, rate // g).astype(np.float32)


def read_any_wav(path: str) -> tuple[np.ndarray, int]:
    import wave

    with wave.open(path, "rb") as w:
        rate, ch = w.getframerate(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(1)
    return x, rate


def trim(x: np.ndarray, rel_db: float = -40.0) -> np.ndarray:
    """Cut leading/trailing silence the engines add (augmentation adds its own)."""
    if len(x) == 0:
        return x
    env = np.convolve(np.abs(x), np.ones(160) / 160, mode="same")
    keep = np.nonzero(env > env.max() * 10 ** (rel_db / 20))[0]
    if len(keep) == 0:
        return x[:0]
    return x[max(0, keep[0] - 160) : keep[-1] + 160]


def synth_one(job: Job) -> np.ndarray | None:
    rng = np.random.default_rng(job.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "a.wav")
        if job.engine == "espeak":
            voice = f"{job.voice}+{job.variant}" if job.variant else job.voice
            cmd = [
                "espeak-ng",
                "-v",
                voice,
                "-s",
                str(int(rng.integers(110, 230))),
                "-p",
                str(int(rng.integers(15, 90))),
                "-g",
                str(int(rng.integers(0, 25))),
                "-a",
                "150",
                "-w",
                out,
                job.text,
            ]
        elif job.engine == "flite":
            stretch = rng.uniform(0.8, 1.35)
            f0 = rng.uniform(80, 220) if job.voice in ("slt",) else rng.uniform(70, 150)
            cmd = [
                "flite",
                "-voice",
                job.voice,
                "--setf",
                f"duration_stretch={stretch:.2f}",
                "--setf",
                f"int_f0_target_mean={f0:.0f}",
                "-t",
                job.text,
                "-o",
                out,
            ]
        else:
            raise ValueError(job.engine)
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=30)
            x, rate = read_any_wav(out)
        except Exception:  # noqa: BLE001 - a voice that fails on one text is skipped, not fatal
            return None
    x = trim(to_16k(x, rate))
    return x if len(x) > 1600 else None


def synth_festival(jobs: list[Job]) -> list[np.ndarray | None]:
    """Festival starts slowly: one batch script per voice renders many utterances."""
    results: list[np.ndarray | None] = [None] * len(jobs)
    by_voice: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        by_voice.setdefault(job.voice, []).append(i)
    for voice, idxs in by_voice.items():
        with tempfile.TemporaryDirectory() as tmp:
            lines = [f"(voice_{voice})"]
            for i in idxs:
                rng = np.random.default_rng(jobs[i].seed)
                text = jobs[i].text.replace('"', "")
                lines.append(f"(Parameter.set 'Duration_Stretch {rng.uniform(0.8, 1.35):.2f})")
                lines.append(f'(utt.save.wave (SynthText "{text}") "{tmp}/{i}.wav" \'riff)')
            script = os.path.join(tmp, "s.scm")
            Path(script).write_text("\n".join(lines) + "\n")
            subprocess.run(["festival", "-b", script], capture_output=True, timeout=3600, check=False)
            for i in idxs:
                try:
                    x, rate = read_any_wav(f"{tmp}/{i}.wav")
                    x = trim(to_16k(x, rate))
                    results[i] = x if len(x) > 1600 else None
                except Exception:  # noqa: BLE001 - festival skipped this utterance
                    results[i] = None
    return results


# ---- what to say --------------------------------------------------------------------------------------


def random_sequence(rng: np.random.Generator) -> list[str]:
    """2-4 words: mostly digit strings, else a command followed by digits or another command."""
    n = int(rng.integers(2, 5))
    kind = rng.random()
    if kind < 0.55:
        return list(rng.choice(DIGITS, n))
    if kind < 0.85:
        return [str(rng.choice(COMMANDS))] + list(rng.choice(DIGITS, n - 1))
    return list(rng.choice(WORDS, n))


def pick_voice(rng: np.random.Generator, voices: list[str], variants: list[str]) -> tuple[str, str]:
    """A voice, and for espeak-ng usually one of its variants (m1, f3, croak, ...)."""
    voice = str(rng.choice(voices))
    variant = str(rng.choice(variants)) if (variants and rng.random() < 0.85) else ""
    return voice, variant


def word_labels(words: list[str]) -> list[str]:
    """Training labels: vocabulary words as themselves, anything else as <unk>."""
    return [w if w in WORDS else UNK for w in words]


def make_jobs(
    engine: str,
    voices: list[str],
    variants: list[str],
    n_single: int,
    n_seq: int,
    n_oov: int,
    n_mixed: int,
    seed: int,
) -> list[Job]:
    rng = np.random.default_rng(seed)
    jobs: list[Job] = []

    for i in range(n_single):
        word = WORDS[i % len(WORDS)]
        voice, variant = pick_voice(rng, voices, variants)
        jobs.append(Job(engine, voice, word, [word], int(rng.integers(1 << 31)), variant))
    for _ in range(n_seq):
        words = random_sequence(rng)
        sep = ", " if rng.random() < 0.3 else " "
        voice, variant = pick_voice(rng, voices, variants)
        jobs.append(Job(engine, voice, sep.join(words), words, int(rng.integers(1 << 31)), variant))
    oov_pool = OOV_WORDS + NEAR_MISS * 2
    for _ in range(n_oov):
        k = 1 if rng.random() < 0.7 else 2
        words = [str(w) for w in rng.choice(oov_pool, k)]
        voice, variant = pick_voice(rng, voices, variants)
        jobs.append(Job(engine, voice, " ".join(words), [UNK] * k, int(rng.integers(1 << 31)), variant))
    for _ in range(n_mixed):  # "pass hello", "station four": in-vocabulary words next to unknown ones
        words = [str(rng.choice(WORDS)), str(rng.choice(oov_pool))]
        if rng.random() < 0.5:
            words.reverse()
        voice, variant = pick_voice(rng, voices, variants)
        jobs.append(
            Job(engine, voice, " ".join(words), word_labels(words), int(rng.integers(1 << 31)), variant)
        )
    return jobs


def hard_negative_jobs(engine: str, voices: list[str], variants: list[str], n: int, seed: int) -> list[Job]:
    """Near-miss words alone ("sixty") and next to a vocabulary word ("six sixteen"): the confusions that
    false-accept most on held-out voices. Training only, so the held-out test set stays as it was."""
    rng = np.random.default_rng(seed)
    pool = NEAR_MISS + NEAR_MISS_TRAIN
    jobs: list[Job] = []
    for _ in range(n):
        voice, variant = pick_voice(rng, voices, variants)
        words = [str(rng.choice(pool))]
        if rng.random() < 0.3:
            words.insert(int(rng.integers(2)), str(rng.choice(WORDS)))
        jobs.append(
            Job(engine, voice, " ".join(words), word_labels(words), int(rng.integers(1 << 31)), variant)
        )
    return jobs


# ---- augmentation -------------------------------------------------------------------------------------


def colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum)) + 1.0
    x = np.fft.irfft(spectrum / f ** (exponent / 2), n)
    return x / (np.std(x) + 1e-9)


def hum(rng: np.random.Generator, n: int) -> np.ndarray:
    base = rng.choice([50.0, 60.0, 100.0, 120.0]) * rng.uniform(0.98, 1.02)
    t = np.arange(n) / SAMPLE_RATE
    x = sum(
        rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3))
        for k in range(1, 12)
    )
    x = x + 0.1 * colored_noise(rng, n, 1.0)
    return x / (np.std(x) + 1e-9)


def clanks(rng: np.random.Generator, n: int) -> np.ndarray:
    x = 0.05 * rng.standard_normal(n)
    for _ in range(int(rng.integers(1, 6))):
        start = int(rng.integers(0, max(1, n - 1600)))
        length = int(rng.integers(800, 8000))
        t = np.arange(length) / SAMPLE_RATE
        ring = sum(np.sin(2 * np.pi * rng.uniform(300, 6000) * t) for _ in range(3))
        burst = (ring + rng.standard_normal(length)) * np.exp(-t * rng.uniform(15, 80))
        end = min(n, start + length)
        x[start:end] += 3 * burst[: end - start]
    return x / (np.std(x) + 1e-9)


def music(rng: np.random.Generator, n: int) -> np.ndarray:
    x = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rng.integers(1600, 8000))
        t = np.arange(length) / SAMPLE_RATE
        note = 0
        for _ in range(int(rng.integers(1, 4))):
            f = 110 * 2 ** (rng.integers(0, 36) / 12)
            note = note + sum(np.sin(2 * np.pi * f * h * t) / h**1.5 for h in range(1, 6))
        env = np.minimum(1, t * 50) * np.exp(-t * rng.uniform(1, 6))
        end = min(n, pos + length)
        x[pos:end] += (note * env)[: end - pos]
        pos = end
    return x / (np.std(x) + 1e-9)


def alerts(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    kind = rng.random()
    if kind < 0.4:  # beeps
        f = rng.uniform(500, 3500)
        period = rng.uniform(0.15, 0.8)
        gate = ((t % period) < period * rng.uniform(0.2, 0.6)).astype(float)
        x = np.sin(2 * np.pi * f * t) * gate
    elif kind < 0.7:  # siren / chirp
        f = rng.uniform(400, 1200) + rng.uniform(200, 800) * np.sin(2 * np.pi * rng.uniform(0.3, 3) * t)
        x = np.sin(2 * np.pi * np.cumsum(f) / SAMPLE_RATE)
    else:  # two-tone chime
        f1, f2 = rng.uniform(400, 1500, 2)
        x = np.where(t < t[-1] / 2, np.sin(2 * np.pi * f1 * t), np.sin(2 * np.pi * f2 * t)) * np.exp(
            -(t % (t[-1] / 2 + 1e-9)) * 3
        )
    x = x + 0.02 * rng.standard_normal(n)
    return x / (np.std(x) + 1e-9)


def babble(rng: np.random.Generator, n: int, pool: list[np.ndarray]) -> np.ndarray:
    x = np.zeros(n)
    for _ in range(int(rng.integers(4, 8))):
        clip = pool[int(rng.integers(len(pool)))]
        start = int(rng.integers(-len(clip) // 2, n))
        a, b = max(0, start), min(n, start + len(clip))
        if b > a:
            x[a:b] += clip[a - start : b - start] / (np.std(clip) + 1e-9)
    return x / (np.std(x) + 1e-9)


NOISES = ["white", "pink", "brown", "hum", "clanks", "music", "alerts", "babble", "machine"]


def noise_of(kind: str, rng: np.random.Generator, n: int, pool: list[np.ndarray]) -> np.ndarray:
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "pink":
        return colored_noise(rng, n, 1.0)
    if kind == "brown":
        return colored_noise(rng, n, 2.0)
    if kind == "hum":
        return hum(rng, n)
    if kind == "clanks":
        return clanks(rng, n)
    if kind == "music":
        return music(rng, n)
    if kind == "alerts":
        return alerts(rng, n)
    if kind == "babble" and pool:
        return babble(rng, n, pool)
    x = hum(rng, n) + colored_noise(rng, n, rng.uniform(0.5, 2.0)) + 0.5 * clanks(rng, n)  # machine
    return x / (np.std(x) + 1e-9)


def reverb(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    rt60 = rng.uniform(0.1, 0.8)
    t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
    ir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * rng.uniform(0.1, 0.6)
    ir[0] = 1.0
    y = signal.fftconvolve(x, ir)[: len(x) + len(ir) // 2]
    return y / (np.max(np.abs(y)) + 1e-9) * np.max(np.abs(x))


def channel(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Headset, cheap USB mic or an 8 kHz telephone line."""
    kind = rng.random()
    if kind < 0.35:
        sos = signal.butter(
            4, [rng.uniform(80, 200), rng.uniform(6000, 7500)], "bandpass", fs=SAMPLE_RATE, output="sos"
        )
        return signal.sosfilt(sos, x)
    if kind < 0.65:
        sos = signal.butter(
            3, [rng.uniform(150, 400), rng.uniform(3500, 5500)], "bandpass", fs=SAMPLE_RATE, output="sos"
        )
        y = signal.sosfilt(sos, x)
        drive = rng.uniform(1, 4)
        return np.tanh(drive * y / (np.max(np.abs(y)) + 1e-9)) / np.tanh(drive) * np.max(np.abs(y))
    sos = signal.butter(6, [300, 3400], "bandpass", fs=SAMPLE_RATE, output="sos")
    y = signal.resample_poly(signal.sosfilt(sos, x), 1, 2)
    if rng.random() < 0.5:  # mu-law 8-bit
        peak = np.max(np.abs(y)) + 1e-9
        mu = 255.0
        q = np.sign(y / peak) * np.log1p(mu * np.abs(y / peak)) / np.log1p(mu)
        q = np.round(q * 127) / 127
        y = np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu * peak
    return signal.resample_poly(y, 2, 1)


def augment(
    x: np.ndarray, rng: np.random.Generator, pool: list[np.ndarray], strength: float = 1.0
) -> np.ndarray:
    """speed -> pad/shift -> reverb -> channel -> noise at an SNR -> gain."""
    x = np.asarray(x, np.float64)
    if rng.random() < 0.6:
        factor = rng.uniform(0.85, 1.18)
        n_new = int(len(x) / factor)
        x = np.interp(np.linspace(0, len(x) - 1, n_new), np.arange(len(x)), x)
    tight = rng.random() < 0.15
    lead = int(SAMPLE_RATE * (rng.uniform(0.0, 0.05) if tight else rng.uniform(0.05, 0.5)))
    tail = int(SAMPLE_RATE * (rng.uniform(0.0, 0.05) if tight else rng.uniform(0.05, 0.5)))
    speech_power = np.mean(x**2) + 1e-12
    x = np.concatenate([np.zeros(lead), x, np.zeros(tail)])
    if rng.random() < 0.4 * strength:
        x = reverb(rng, x)
    if rng.random() < 0.5:
        x = channel(rng, x)
    if rng.random() < 0.85 * strength + 0.1:
        kind = str(rng.choice(NOISES))
        snr = rng.uniform(0, 30) if strength >= 1 else rng.uniform(5, 30)
        noise = noise_of(kind, rng, len(x), pool)
        x = x + noise * np.sqrt(speech_power / 10 ** (snr / 10))
    x = x + rng.standard_normal(len(x)) * 10 ** (rng.uniform(-90, -65) / 20)
    peak = np.max(np.abs(x)) + 1e-9
    x = x / peak * 10 ** (rng.uniform(-32, -1) / 20)
    return np.clip(x, -1, 1).astype(np.float32)


def nonspeech_clip(rng: np.random.Generator, pool: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """A clip with no vocabulary word in it, and its kind (noise colour, hum, machine, music, alerts, clanks,
    silence, or babble = several voices saying unknown words at once)."""
    n = int(SAMPLE_RATE * rng.uniform(0.5, 3.0))
    kind = str(rng.choice(NOISES + ["silence", "music", "alerts", "clanks"]))
    if kind == "silence":
        x = rng.standard_normal(n) * 10 ** (rng.uniform(-80, -50) / 20)
    else:
        x = noise_of(kind, rng, n, pool)
        if rng.random() < 0.4:
            x = channel(rng, x)
        x = x / (np.max(np.abs(x)) + 1e-9) * 10 ** (rng.uniform(-35, -1) / 20)
    return np.clip(x, -1, 1).astype(np.float32), kind


# ---- FSDD ---------------------------------------------------------------------------------------------


def load_fsdd(speakers: set[str]) -> list[tuple[np.ndarray, str, str]]:
    out = []
    for path in sorted(FSDD_DIR.glob("*.wav")):
        digit, speaker, _ = path.stem.split("_")
        if speaker in speakers:
            x, rate = read_any_wav(str(path))
            out.append((to_16k(x, rate), DIGITS[int(digit)], speaker))
    return out


def fsdd_sequences(
    clips: list[tuple[np.ndarray, str, str]], n: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, list[str]]]:
    """Digit strings from one speaker's isolated digits joined with natural pauses."""
    by_speaker: dict[str, list[int]] = {}
    for i, (_, _, speaker) in enumerate(clips):
        by_speaker.setdefault(speaker, []).append(i)
    speakers = sorted(by_speaker)
    out = []
    for _ in range(n):
        idxs = rng.choice(by_speaker[str(rng.choice(speakers))], int(rng.integers(2, 5)))
        parts, words = [], []
        for k, i in enumerate(idxs):
            if k:
                parts.append(np.zeros(int(SAMPLE_RATE * rng.uniform(0.08, 0.4)), np.float32))
            parts.append(clips[i][0])
            words.append(clips[i][1])
        out.append((np.concatenate(parts), words))
    return out


# ---- assembling ---------------------------------------------------------------------------------------


def synthesize(jobs: list[Job], workers: int) -> list[tuple[np.ndarray, list[str], str]]:
    plain = [j for j in jobs if j.engine != "festival"]
    fest = [j for j in jobs if j.engine == "festival"]
    t0 = time.time()
    with Pool(workers) as pool:
        audio = pool.map(synth_one, plain, chunksize=64)
    audio += synth_festival(fest)
    ordered = plain + fest
    out = [(x, j.words, f"{j.engine}:{j.voice}+{j.variant}") for x, j in zip(audio, ordered) if x is not None]
    print(f"  synthesized {len(out)}/{len(jobs)} utterances in {time.time() - t0:.0f}s", flush=True)
    return out


def save_features(path: Path, items: list[tuple[np.ndarray, list[str]]]) -> None:
    feats = [log_mel(x).astype(np.float16) for x, _ in items]
    lengths = np.array([len(f) for f in feats], np.int32)
    texts = np.array([" ".join(words) for _, words in items])
    np.savez(path, feats=np.concatenate(feats), lengths=lengths, texts=texts)
    print(f"  wrote {path}: {len(items)} utterances, {lengths.sum() / 100 / 3600:.2f} h", flush=True)


def write_eval_set(folder: Path, items: list[tuple[np.ndarray, list[str]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (x, words) in enumerate(items):
        name = f"{i:05d}.wav"
        write_wav(folder / name, x, SAMPLE_RATE)
        rows.append(f"{name}\t{' '.join(words)}")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    print(f"  wrote {folder}: {len(items)} files", flush=True)


def cached(path: Path, make):
    """Synthesis is the slow part: keep its result so a rerun (other augmentation) starts at once."""
    if path.is_file():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    result = make()
    with open(path, "wb") as fh:
        pickle.dump(result, fh)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("work/speech/data"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply all utterance counts")
    ap.add_argument("--copies", type=int, default=2, help="augmented copies of each training utterance")
    ap.add_argument(
        "--hard-negatives", type=int, default=3000, help="extra near-miss OOV training utterances (0 = none)"
    )
    ap.add_argument("--fsdd-test-speakers", default="nicolas,theo")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    s = args.scale

    def n(k: float) -> int:
        return max(1, int(k * s))

    variants = espeak_variants()
    print(f"espeak-ng variants: {len(variants)}", flush=True)
    train_jobs = (
        make_jobs("espeak", ESPEAK_TRAIN, variants, n(4500), n(3000), n(1400), n(500), args.seed + 1)
        + make_jobs("espeak", ACCENT_TRAIN, variants, n(1000), n(600), n(300), n(100), args.seed + 2)
        + make_jobs("flite", FLITE_TRAIN, [], n(1600), n(1000), n(500), n(150), args.seed + 3)
        + make_jobs("festival", FESTIVAL_TRAIN, [], n(600), n(400), n(200), n(60), args.seed + 4)
    )
    hard_jobs = (
        hard_negative_jobs("espeak", ESPEAK_TRAIN, variants, n(args.hard_negatives * 0.5), args.seed + 5)
        + hard_negative_jobs("espeak", ACCENT_TRAIN, variants, n(args.hard_negatives * 0.25), args.seed + 6)
        + hard_negative_jobs("flite", FLITE_TRAIN, [], n(args.hard_negatives * 0.25), args.seed + 7)
    )
    test_jobs = (
        make_jobs("espeak", ESPEAK_TEST, variants, n(250), n(120), n(120), 0, args.seed + 11)
        + make_jobs("espeak", ACCENT_TEST, variants, n(100), n(50), n(50), 0, args.seed + 12)
        + make_jobs("flite", FLITE_TEST, [], n(150), n(80), n(80), 0, args.seed + 13)
    )
    print(f"synthesizing {len(train_jobs)} training and {len(test_jobs)} test utterances", flush=True)
    train_clean = cached(
        args.out / f"clean_train_{s}_{args.seed}.pkl", lambda: synthesize(train_jobs, args.workers)
    )
    if args.hard_negatives:
        train_clean += cached(
            args.out / f"clean_hard_{args.hard_negatives}_{s}_{args.seed}.pkl",
            lambda: synthesize(hard_jobs, args.workers),
        )
    test_clean = cached(
        args.out / f"clean_test_{s}_{args.seed}.pkl", lambda: synthesize(test_jobs, args.workers)
    )

    test_speakers = set(args.fsdd_test_speakers.split(","))
    all_speakers = {p.stem.split("_")[1] for p in FSDD_DIR.glob("*.wav")}
    fsdd_train = load_fsdd(all_speakers - test_speakers)
    fsdd_test = load_fsdd(test_speakers)
    print(
        f"FSDD: {len(fsdd_train)} training clips ({sorted(all_speakers - test_speakers)}), "
        f"{len(fsdd_test)} held-out clips ({sorted(test_speakers)})",
        flush=True,
    )

    babble_pool = [x for x, words, _ in train_clean if words and words[0] == UNK][:600]
    test_babble = [x for x, words, _ in test_clean if words and words[0] == UNK][:200]

    t0 = time.time()
    train: list[tuple[np.ndarray, list[str]]] = []
    for x, words, _ in train_clean:
        for _ in range(args.copies):
            train.append((augment(x, rng, babble_pool), words))
    for x, word, _ in fsdd_train:
        for _ in range(args.copies + 1):
            train.append((augment(x, rng, babble_pool), [word]))
    for x, words in fsdd_sequences(fsdd_train, n(1200), rng):
        train.append((augment(x, rng, babble_pool), words))
    for _ in range(n(3000)):
        train.append((nonspeech_clip(rng, babble_pool)[0], []))
    order = rng.permutation(len(train))
    train = [train[i] for i in order]
    print(f"augmented {len(train)} training utterances in {time.time() - t0:.0f}s", flush=True)
    save_features(args.out / "train.npz", train)
    del train

    # held-out voices, noisy: in-vocabulary utterances for accuracy, OOV ones for false accepts
    test_rng = np.random.default_rng(args.seed + 99)
    synth = [(augment(x, test_rng, test_babble, strength=0.8), w) for x, w, _ in test_clean if UNK not in w]
    oov = [(augment(x, test_rng, test_babble, strength=0.8), w) for x, w, _ in test_clean if UNK in w]
    nonspeech_kinds = [nonspeech_clip(test_rng, test_babble) for _ in range(n(300))]
    nonspeech = [(x, []) for x, _ in nonspeech_kinds]
    fsdd_seq = fsdd_sequences(fsdd_test, n(200), test_rng)
    save_features(args.out / "val_synth.npz", synth[::2] + oov[::4] + nonspeech[::4])
    save_features(args.out / "val_fsdd.npz", [(x, [w]) for x, w, _ in fsdd_test] + fsdd_seq[:100])
    eval_dir = args.out.parent / "eval"
    write_eval_set(eval_dir / "synth", synth)
    write_eval_set(eval_dir / "oov", oov)
    write_eval_set(eval_dir / "nonspeech", nonspeech)
    # file names as write_eval_set gives them
    kinds = [f"{i:05d}.wav\t{kind}" for i, (_, kind) in enumerate(nonspeech_kinds)]
    (eval_dir / "nonspeech" / "kinds.tsv").write_text("\n".join(kinds) + "\n")
    write_eval_set(eval_dir / "fsdd_seq", fsdd_seq)
    (eval_dir / "fsdd_speakers.txt").write_text(",".join(sorted(test_speakers)) + "\n")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
