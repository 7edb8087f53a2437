"""Train the CRNN with CTC on CPU, one thread, for a fixed wall-clock budget.

The learning rate follows a cosine over the time budget (not a step count), so the run always ends annealed
on time however busy the shared machine is. Checkpoints every few minutes; `--resume` continues one.

    python tools/ocr/train.py --data work/ocr/data/train_a.npz work/ocr/data/train_b.npz \
        --heldout work/ocr/data/heldout.npz --real-train 4 --budget-min 40 --out work/ocr/run1
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

import realdata
from make_data import load
from metrics import cer_and_accuracy
from model import CRNN, count_parameters

from edge.ocr.charset import CHARSET
from edge.ocr.preprocess import normalize_line, to_tensor

INDEX = {c: i + 1 for i, c in enumerate(CHARSET)}
MAX_PIXELS_PER_BATCH = 32 * 200 * 48  # batch of ~48 typical lines; long lines make smaller batches


def encode(text: str) -> list[int]:
    return [INDEX[c] for c in text if c in INDEX]


def greedy(logits: torch.Tensor, widths: list[int]) -> list[str]:
    best = logits.argmax(-1).numpy()
    out = []
    for row, w in zip(best, widths):
        prev, chars = 0, []
        for k in row[: w // 4]:
            if k != prev and k != 0:
                chars.append(CHARSET[k - 1])
            prev = k
        out.append("".join(chars))
    return out


def ctc_steps_needed(target: list[int]) -> int:
    """CTC needs one frame per label plus a blank between equal neighbours."""
    return len(target) + sum(a == b for a, b in itertools.pairwise(target))


def make_batches(widths: np.ndarray, rng: random.Random) -> list[list[int]]:
    """Batches of similar width (little padding), shuffled."""
    order = np.argsort(widths + np.array([rng.random() * 8 for _ in widths]))
    batches, cur = [], []
    for i in order:
        if cur and (len(cur) + 1) * max(widths[cur[-1]], widths[i]) * 32 > MAX_PIXELS_PER_BATCH:
            batches.append(cur)
            cur = []
        cur.append(int(i))
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def augment(line: np.ndarray, rng: random.Random) -> np.ndarray:
    """Cheap extra variety on stored lines: polarity, horizontal stretch."""
    if rng.random() < 0.15:
        line = 255 - line
    if rng.random() < 0.3:
        import cv2

        w = max(16, int(line.shape[1] * rng.uniform(0.8, 1.25)) // 4 * 4)
        line = cv2.resize(line, (w, line.shape[0]), interpolation=cv2.INTER_LINEAR)
    return line


def load_training_set(paths: list[Path], real_repeat: int) -> tuple[list[np.ndarray], list[str]]:
    images, labels = [], []
    for path in paths:
        im, lb = load(path)
        images += im
        labels += lb
        print(f"loaded {len(im)} synthetic lines from {path}", flush=True)
    if real_repeat > 0:
        real = realdata.load_lines("train")
        for line in real:
            normalised = normalize_line(realdata.read_image(line))
            for _ in range(real_repeat):
                images.append(normalised)
                labels.append(realdata.training_label(line))
        print(f"added {len(real)} real train-split lines x{real_repeat}", flush=True)
    keep = [i for i, t in enumerate(labels) if encode(t) and ctc_steps_needed(encode(t)) <= images[i].shape[1] // 4]
    print(f"dropped {len(labels) - len(keep)} lines too narrow for their label", flush=True)
    return [images[i] for i in keep], [labels[i] for i in keep]


def evaluate(model: nn.Module, images: list[np.ndarray], refs: list[str], folder: list[str] | None = None) -> str:
    """Greedy CER/accuracy (real lines scored per folder as the data README says)."""
    model.eval()
    preds = []
    with torch.no_grad():
        for start in range(0, len(images), 32):
            chunk = images[start: start + 32]
            logits = model(torch.from_numpy(to_tensor(chunk)))
            preds += greedy(logits, [c.shape[1] for c in chunk])
    model.train()
    if folder is None:
        cer, acc, n = cer_and_accuracy(zip(preds, refs))
        return f"CER {cer:.3f} acc {acc:.3f} (n={n})"
    parts = []
    for name in sorted(set(folder)):
        pairs = [(realdata.normalise_for_scoring(p, f), realdata.normalise_for_scoring(r, f))
                 for p, r, f in zip(preds, refs, folder) if f == name]
        cer, acc, n = cer_and_accuracy(pairs)
        parts.append(f"{name} CER {cer:.3f} acc {acc:.3f} (n={n})")
    return "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--heldout", type=Path, help="synthetic held-out-font set for progress reports")
    parser.add_argument("--real-train", type=int, default=4, help="repeat the real train split N times (0: none)")
    parser.add_argument("--budget-min", type=float, default=40.0)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out", type=Path, default=Path("work/ocr/run"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    images, labels = load_training_set(args.data, args.real_train)
    widths = np.array([im.shape[1] for im in images])
    print(f"training lines: {len(images)}", flush=True)
    held_im, held_lb = load(args.heldout) if args.heldout else ([], [])
    held_im, held_lb = held_im[:600], held_lb[:600]
    real_dev = realdata.load_lines("heldout")
    real_im = [normalize_line(realdata.read_image(x)) for x in real_dev]

    model = CRNN(len(CHARSET) + 1)
    print(f"parameters: {count_parameters(model)}", flush=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    elapsed, step, epoch = 0.0, 0, 0
    checkpoint = args.out / "last.pt"
    if args.resume and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        elapsed, step, epoch = state["elapsed"], state["step"], state["epoch"]
        print(f"resumed at step {step}, {elapsed / 60:.1f} min", flush=True)

    def save() -> None:
        torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "elapsed": elapsed,
                    "step": step, "epoch": epoch, "charset": CHARSET}, checkpoint)

    budget = args.budget_min * 60
    session_start = time.time() - elapsed
    last_save = last_report = time.time()
    running = None
    model.train()
    while elapsed < budget:
        for batch in make_batches(widths, rng):
            elapsed = time.time() - session_start
            if elapsed >= budget:
                break
            fraction = elapsed / budget
            warm = min(1.0, step / 300)
            lr = args.lr * warm * 0.5 * (1 + math.cos(math.pi * fraction))
            for group in optimiser.param_groups:
                group["lr"] = lr
            lines = [augment(images[i], rng) for i in batch]
            targets = [encode(labels[i]) for i in batch]
            x = torch.from_numpy(to_tensor(lines))
            logits = model(x)  # N, T, C
            log_probs = logits.log_softmax(-1).permute(1, 0, 2)
            in_len = torch.tensor([min(line.shape[1] // 4, logits.shape[1]) for line in lines])
            tgt_len = torch.tensor([len(t) for t in targets])
            loss = ctc(log_probs, torch.tensor([c for t in targets for c in t]), in_len, tgt_len)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
            step += 1
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            if time.time() - last_report > 60:
                last_report = time.time()
                print(f"step {step} epoch {epoch} {elapsed / 60:.1f}/{args.budget_min:.0f} min lr {lr:.2e} "
                      f"loss {running:.3f}", flush=True)
            if time.time() - last_save > 300:
                last_save = time.time()
                save()
                report = evaluate(model, real_im, [x.label for x in real_dev], [x.folder for x in real_dev])
                print(f"  real-dev heldout: {report}", flush=True)
                if held_im:
                    print(f"  synthetic heldout: {evaluate(model, held_im, held_lb)}", flush=True)
        else:
            epoch += 1
    save()
    torch.save({"model": model.state_dict(), "charset": CHARSET, "step": step}, args.out / "final.pt")
    print(f"done: step {step}, {elapsed / 60:.1f} min", flush=True)
    print(f"  real-dev heldout: {evaluate(model, real_im, [x.label for x in real_dev], [x.folder for x in real_dev])}")
    if held_im:
        print(f"  synthetic heldout: {evaluate(model, held_im, held_lb)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
