"""Write the tiny test recordings in tests/fixtures/speech/ (voices and speakers the model never trained on).

    python tools/speech/make_fixtures.py

File names hold the expected transcript (`nine_one__scotland.wav`); `oov_*` files must be rejected.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_data import read_any_wav, to_16k, trim

from edge.sources.audio import write_wav

OUT = ROOT / "tests" / "fixtures" / "speech"
FSDD = Path("/work/shared/data/speech/fsdd/recordings")
ESPEAK = [  # (text, voice, file stem)
    ("pass", "en-gb-scotland+m3", "pass__scotland"),
    ("nine one", "en-gb-scotland", "nine_one__scotland"),
    ("stop", "en-029+f2", "stop__caribbean"),
    ("coffee", "en-gb-scotland", "oov_coffee__scotland"),
]
FSDD_FILES = ["7_theo_12.wav", "5_nicolas_20.wav"]  # held-out speakers; 8 kHz originals, copied unchanged


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for text, voice, stem in ESPEAK:
            raw = Path(tmp) / "a.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(raw), text], check=True)
            x, rate = read_any_wav(str(raw))
            write_wav(OUT / f"{stem}.wav", trim(to_16k(x, rate)), 16000)
    for name in FSDD_FILES:
        digit, speaker, index = Path(name).stem.split("_")
        words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        shutil.copy(FSDD / name, OUT / f"{words[int(digit)]}__fsdd_{speaker}_{index}.wav")
    for path in sorted(OUT.glob("*.wav")):
        print(path.relative_to(ROOT), path.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
