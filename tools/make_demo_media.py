"""Write the bundled demo media: edge/demo/demo.mp4, demo.wav and demo_truth.json.

Ten parts ride an indexing conveyor past the camera (in from the left, a stop under the camera, out to the
right); some are defective. The operator's voice (espeak-ng) says "pass", "fail", "fail three", "next" while a
part stands still, and sometimes says nothing. demo_truth.json records what each part really is and when it
was under the camera, so the demo's inspection records can be checked.

    python tools/make_demo_media.py [--out edge/demo]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "fusion"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from render import apply_light, conveyor_background, place_part, random_spec, render_part

from edge.sources.audio import read_wav, resample, write_wav

WIDTH, HEIGHT, FPS = 640, 480, 10
CYCLE_S, MOVE_S = 2.5, 0.6  # each part: MOVE_S in, CYCLE_S - 2*MOVE_S standing still, MOVE_S out
LEAD_S = 1.0  # empty belt first: the part detector learns the background from it
RATE = 16000
EXPECTED_LOT = "2411-B07"
# (class, defect, severity, operator utterance or "" for silence)
PARTS = (
    ("ok", "none", 0.0, "pass"),
    ("ok", "none", 0.0, ""),
    ("surface_defect", "scratch", 0.9, "fail four"),
    ("ok", "none", 0.0, "pass"),
    ("wrong_code", "bad_check", 0.5, ""),
    ("print_defect", "smudge", 0.8, "fail two"),
    ("ok", "none", 0.0, "pass next"),
    ("label_missing", "bare", 0.5, "fail one"),
    ("wrong_code", "other_batch", 0.5, "fail three"),
    ("surface_defect", "stain", 0.8, "fail"),
)


def part_x(t_in_cycle: float) -> float:
    """Horizontal centre of the part: eases in from off-screen left, stops in the middle, leaves right."""
    left, mid, right = -180.0, WIDTH / 2, WIDTH + 180.0
    if t_in_cycle < MOVE_S:
        u = t_in_cycle / MOVE_S
        return left + (mid - left) * (1 - (1 - u) ** 2)
    if t_in_cycle < CYCLE_S - MOVE_S:
        return mid
    u = (t_in_cycle - (CYCLE_S - MOVE_S)) / MOVE_S
    return mid + (right - mid) * u**2


def make_specs(seed: int) -> list:
    rng = np.random.default_rng(seed)
    specs = []
    for cls, defect, severity, _ in PARTS:
        spec = random_spec(rng, cls, expected_lot=EXPECTED_LOT)
        if cls == "wrong_code" and spec.defect != defect:  # redraw until the codes carry the wanted defect
            while spec.defect != defect:
                spec = random_spec(rng, cls, expected_lot=EXPECTED_LOT)
        specs.append(dataclasses.replace(spec, defect=defect, severity=severity))
    return specs


def write_video(path: Path, specs: list, seed: int) -> list[dict]:
    """Render every frame and write mp4v; returns per-part timing for the truth file."""
    rng = np.random.default_rng(seed + 1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit("cv2.VideoWriter cannot write mp4v here; is this opencv build missing FFmpeg?")
    rendered = [render_part(spec) for spec in specs]
    poses = [(rng.uniform(-8, 8), rng.uniform(0.97, 1.03), rng.uniform(-15, 15)) for _ in specs]
    lights = [int(rng.integers(0, 2**31 - 1)) for _ in specs]
    base = conveyor_background(WIDTH, HEIGHT, np.random.default_rng(seed))
    n_frames = round((LEAD_S + len(specs) * CYCLE_S) * FPS)
    phase = 0.0
    for i in range(n_frames):
        t = i / FPS - LEAD_S
        if t < 0:
            writer.write(apply_light(base, np.random.default_rng(lights[0]), strength=0.3))
            continue
        k = min(int(t // CYCLE_S), len(specs) - 1)
        tc = t - k * CYCLE_S
        moving = tc < MOVE_S or tc >= CYCLE_S - MOVE_S
        phase += 14.0 if moving else 0.0
        background = conveyor_background(WIDTH, HEIGHT, rng, phase=phase) if moving else base
        if moving:
            base = background
        angle, scale, dy = poses[k]
        part, alpha = rendered[k]
        frame, _ = place_part(background, part, alpha, (part_x(tc), HEIGHT / 2 + dy), angle, scale)
        light = np.random.default_rng(lights[k])
        frame = apply_light(frame, light, strength=0.3)
        writer.write(frame)
    writer.release()
    timings = []
    for k, spec in enumerate(specs):
        start = LEAD_S + k * CYCLE_S
        timings.append({"t_arrive": round(start + MOVE_S, 2), "t_leave": round(start + CYCLE_S - MOVE_S, 2)})
    return timings


def speak(text: str, voice: str) -> np.ndarray:
    """espeak-ng -> float32 mono at RATE."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", tmp.name, text], check=True)
        samples, rate = read_wav(tmp.name)
    return resample(samples, rate, RATE)


def write_audio(path: Path, timings: list[dict], seed: int) -> list[dict]:
    """Utterances start 0.3 s after the part stops; a quiet hum and hiss underneath."""
    rng = np.random.default_rng(seed + 2)
    total = int((LEAD_S + len(PARTS) * CYCLE_S) * RATE)
    t = np.arange(total) / RATE
    audio = 0.004 * np.sin(2 * np.pi * 50 * t) + 0.002 * rng.standard_normal(total)
    voices = ("en-us", "en-us+m3", "en", "en-us+f2")
    spoken = []
    for k, (_, _, _, text) in enumerate(PARTS):
        if not text:
            spoken.append({"utterance": "", "t_start": None, "t_end": None})
            continue
        clip = speak(text, voices[k % len(voices)])
        start = int((timings[k]["t_arrive"] + 0.3) * RATE)
        clip = clip[: total - start] * (0.5 / max(1e-6, float(np.abs(clip).max())))
        audio[start : start + len(clip)] += clip
        spoken.append({"utterance": text, "t_start": round(start / RATE, 2), "t_end": round((start + len(clip)) / RATE, 2)})
    write_wav(path, audio.astype(np.float32), RATE)
    return spoken


def check_video(path: Path) -> int:
    """Read the file back with cv2.VideoCapture, the way the camera source will."""
    cap = cv2.VideoCapture(str(path))
    count = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (HEIGHT, WIDTH, 3)
        count += 1
    cap.release()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "edge" / "demo")
    parser.add_argument("--seed", type=int, default=2411)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    specs = make_specs(args.seed)
    timings = write_video(args.out / "demo.mp4", specs, args.seed)
    frames = check_video(args.out / "demo.mp4")
    expected = round((LEAD_S + len(PARTS) * CYCLE_S) * FPS)
    if frames != expected:
        raise SystemExit(f"demo.mp4 reads back {frames} frames, expected {expected}")
    spoken = write_audio(args.out / "demo.wav", timings, args.seed)
    truth = {
        "video": {"file": "demo.mp4", "fps": FPS, "frames": frames, "size": [WIDTH, HEIGHT]},
        "audio": {"file": "demo.wav", "sample_rate": RATE},
        "expected_lots": [EXPECTED_LOT],
        "parts": [
            {"index": k, "class": s.cls, "defect": s.defect, "serial": s.serial, "lot": s.lot, **timings[k], **spoken[k]}
            for k, s in enumerate(specs)
        ],
    }
    (args.out / "demo_truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir()) if p.is_file()}
    print(f"wrote {args.out}: {frames} frames read back; " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
