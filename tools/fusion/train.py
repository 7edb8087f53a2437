"""Train the fusion model on generated parts or on data recorded at a station.

    python tools/fusion/train.py --data work/fusion/data --out work/fusion/run            # generated data
    python tools/fusion/train.py --data ~/edge-dataset --out work/fusion/mine --epochs 30   # recorded (edge record)
    python tools/fusion/train.py ... --resume                                              # continue after a stop

`--data` is a dataset folder (samples.jsonl) or a folder with train/ and val/ dataset folders; give it several
times to mix generated and recorded parts. Without a val/ folder a random 15% is held out for validation.
One CPU thread (the machine is shared); progress every 50 steps; checkpoints last.pt (every epoch) and best.pt
(best validation macro-F1) in --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as ds
from metrics import accuracy, macro_f1
from model import FusionNet

from edge.fusion.codes import CLASSES

# modality dropout: (probability, present mask) drawn per training sample; the rest keep what they have
DROPOUT_PATTERNS = (
    (0.10, (1, 0, 0)),  # image only
    (0.08, (0, 1, 0)),  # text only
    (0.08, (0, 0, 1)),  # speech only
    (0.08, (1, 1, 0)),  # no speech
    (0.08, (1, 0, 1)),  # no text
    (0.04, (0, 1, 1)),  # no image
)


def concat(parts: list[ds.Arrays]) -> ds.Arrays:
    fields = ("image", "classic", "text", "chars", "char_conf", "speech", "present", "labels")
    return ds.Arrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields), [i for p in parts for i in p.ids])


def load_splits(folders: list[Path], seed: int) -> tuple[ds.Arrays, ds.Arrays]:
    """Train and validation arrays from one or more dataset folders."""
    train, val = [], []
    for folder in folders:
        if (folder / "train" / "samples.jsonl").is_file():
            train.append(ds.load(folder / "train"))
            if (folder / "val" / "samples.jsonl").is_file():
                val.append(ds.load(folder / "val"))
            continue
        data = ds.load(folder)
        order = np.random.default_rng(seed).permutation(len(data))
        n_val = max(1, round(0.15 * len(data))) if len(data) > 1 else 0
        val.append(data.subset(order[:n_val]))
        train.append(data.subset(order[n_val:]))
    train_all = concat(train)
    return train_all, concat(val) if val else train_all.subset(np.zeros(0, np.int64))


def to_tensors(arrays: ds.Arrays, index: np.ndarray) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.feeds(index).items()}


def modality_dropout(present: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    out = present.clone()
    probs = np.array([p for p, _ in DROPOUT_PATTERNS])
    choice = rng.choice(len(probs) + 1, size=len(present), p=np.append(probs, 1 - probs.sum()))
    for i, c in enumerate(choice):
        if c < len(DROPOUT_PATTERNS):
            out[i] = out[i] * torch.tensor(DROPOUT_PATTERNS[c][1], dtype=out.dtype)
    return out


def learning_rate(peak: float, step: int, total: int) -> float:
    """Linear warm-up over the first 5% of steps, then cosine decay to 2% of the peak (stateless, so --resume
    with a different --epochs just stretches the schedule)."""
    warm = max(1, int(0.05 * total))
    if step < warm:
        return peak * (step + 1) / warm
    progress = min(1.0, (step - warm) / max(1, total - warm))
    return peak * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * progress)))


def predict(model: nn.Module, arrays: ds.Arrays, present_mask: tuple[int, int, int] = (1, 1, 1), batch: int = 256) -> np.ndarray:
    """Class probabilities [N, C] with the given modalities switched on."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(arrays), batch):
            feeds = to_tensors(arrays, np.arange(start, min(start + batch, len(arrays))))
            feeds["present"] = feeds["present"] * torch.tensor(present_mask, dtype=torch.float32)
            out.append(torch.softmax(model(**feeds), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(CLASSES)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("work/fusion/run"))
    parser.add_argument("--epochs", type=int, default=14)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)")
    parser.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    train, val = load_splits([Path(d) for d in args.data], args.seed)
    print(f"train {len(train)} samples, val {len(val)} samples", flush=True)
    if len(train) == 0:
        raise SystemExit("no training samples; record some with `edge record` first")
    model = FusionNet()
    model.classic_mean.copy_(torch.from_numpy(train.classic.mean(axis=0)))
    model.classic_std.copy_(torch.from_numpy(train.classic.std(axis=0) + 1e-3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = max(1, int(np.ceil(len(train) / args.batch)))
    total_steps = args.epochs * steps_per_epoch
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    epoch, step, best = 0, 0, -1.0
    last_path, best_path = args.out / "last.pt", args.out / "best.pt"
    if args.resume and last_path.is_file():
        state = torch.load(last_path, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, step, best = state["epoch"], state["step"], state["best"]
        rng = np.random.default_rng([args.seed, epoch])
        print(f"resumed from {last_path}: epoch {epoch}, step {step}, best val macro-F1 {best:.4f}", flush=True)
    elif args.resume:
        print(f"no {last_path} yet; starting fresh", flush=True)

    start = time.time()
    while epoch < args.epochs:
        model.train()
        order = rng.permutation(len(train))
        running, seen = 0.0, 0
        for b in range(steps_per_epoch):
            index = order[b * args.batch : (b + 1) * args.batch]
            feeds = to_tensors(train, index)
            feeds["present"] = modality_dropout(feeds["present"], rng)
            labels = torch.from_numpy(train.labels[index])
            loss = loss_fn(model(**feeds), labels)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(args.lr, step, total_steps)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            running += loss.item() * len(index)
            seen += len(index)
            if step % 50 == 0:
                print(f"epoch {epoch + 1}/{args.epochs} step {step} loss {running / seen:.4f} "
                      f"lr {optimizer.param_groups[0]['lr']:.2e} {time.time() - start:.0f} s", flush=True)
            if args.max_steps and step >= args.max_steps:
                break
        epoch += 1
        val_f1 = macro_f1(val.labels, predict(model, val).argmax(1), len(CLASSES)) if len(val) else 0.0
        val_acc = accuracy(val.labels, predict(model, val).argmax(1)) if len(val) else 0.0
        print(f"epoch {epoch} done: train loss {running / max(seen, 1):.4f} val macro-F1 {val_f1:.4f} "
              f"acc {val_acc:.4f} ({time.time() - start:.0f} s)", flush=True)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "epoch": epoch, "step": step, "best": max(best, val_f1), "args": vars(args) | {"data": [str(d) for d in args.data], "out": str(args.out)}}
        if val_f1 > best or not best_path.is_file():
            best = val_f1
            state["best"] = best
            torch.save(state, best_path)
        torch.save(state, last_path)
        if args.max_steps and step >= args.max_steps:
            break
    summary = {"best_val_macro_f1": round(best, 4), "epochs": epoch, "steps": step, "train": len(train), "val": len(val),
               "seconds": round(time.time() - start, 1)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
