"""Train the speech model (word-level CTC) on the features from make_data.py, on one CPU thread.

    python tools/speech/train.py --minutes 40            # fresh run, 40 min of wall time on one thread
    python tools/speech/train.py --minutes 40 --resume   # continue from work/speech/ckpt/last.pt
    python tools/speech/train.py --minutes 40 --init work/speech/ckpt/v1_final.pt --lr 1e-3 --warp 0.12
                                                         # fine-tune a trained model with a fresh schedule

The learning rate follows the fraction of the time budget used (warm-up, then cosine decay), not a fixed
number of steps: on a CPU shared with other jobs the run still ends annealed when the budget is spent.

Prints progress, evaluates utterance accuracy (greedy decoding) on held-out synthetic voices and held-out
FSDD speakers after each epoch, keeps last.pt and best.pt (best = highest FSDD held-out accuracy + synth).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model import SpeechNet, count_parameters
from vocab import LABELS

LABEL_INDEX = {w: i for i, w in enumerate(LABELS)}


class FeatureSet:
    """All utterances of one .npz in memory (float16), sliced into padded batches on demand."""

    def __init__(self, path: Path) -> None:
        data = np.load(path)
        self.feats = data["feats"]
        self.lengths = data["lengths"].astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.texts = [str(t) for t in data["texts"]]
        self.targets = [[LABEL_INDEX[w] for w in t.split()] for t in self.texts]

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, idxs: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        lengths = self.lengths[idxs]
        x = np.zeros((len(idxs), lengths.max(), self.feats.shape[1]), np.float32)
        for row, i in enumerate(idxs):
            x[row, : lengths[row]] = self.feats[self.offsets[i] : self.offsets[i] + lengths[row]]
        targets = [self.targets[i] for i in idxs]
        flat = torch.tensor([t for tt in targets for t in tt], dtype=torch.long)
        return torch.from_numpy(x), torch.from_numpy(lengths), flat, torch.tensor([len(t) for t in targets])

    def length_batches(self, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Batches of similar length (little padding), in random order."""
        order = rng.permutation(len(self))
        chunks = [order[i : i + batch_size * 50] for i in range(0, len(order), batch_size * 50)]
        batches = []
        for chunk in chunks:
            chunk = chunk[np.argsort(self.lengths[chunk])]
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]


def spec_augment(x: torch.Tensor, lengths: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    x = x.clone()
    for row in range(x.shape[0]):
        for _ in range(2):
            width = int(rng.integers(0, 7))
            start = int(rng.integers(0, x.shape[2] - width + 1))
            x[row, :, start : start + width] = x[row, :, :].mean()
        for _ in range(2):
            width = int(rng.integers(0, 8))
            start = int(rng.integers(0, max(1, int(lengths[row]) - width)))
            x[row, start : start + width, :] = x[row, : int(lengths[row])].mean(0)
    return x


def mel_warp(x: torch.Tensor, max_warp: float, rng: np.random.Generator) -> torch.Tensor:
    """Stretch or squeeze each utterance along the mel axis by up to +-max_warp (vocal tract length
    perturbation): a cheap stand-in for the speakers with longer or shorter vocal tracts than our voices."""
    if max_warp <= 0:
        return x
    n_mels = x.shape[2]
    bins = torch.arange(n_mels, dtype=torch.float32)
    out = torch.empty_like(x)
    for row in range(x.shape[0]):
        alpha = float(rng.uniform(1.0 - max_warp, 1.0 + max_warp))
        src = (bins / alpha).clamp(0, n_mels - 1)
        lo = src.floor().long()
        hi = (lo + 1).clamp(max=n_mels - 1)
        frac = src - lo.float()
        out[row] = x[row][:, lo] * (1 - frac) + x[row][:, hi] * frac
    return out


def greedy(log_probs: np.ndarray) -> list[int]:
    best = log_probs.argmax(-1)
    out, prev = [], 0
    for b in best:
        if b != prev and b != 0:
            out.append(int(b))
        prev = b
    return out


@torch.no_grad()
def evaluate(model: SpeechNet, data: FeatureSet, batch_size: int = 64) -> float:
    model.eval()
    correct = 0
    order = np.argsort(data.lengths)
    for i in range(0, len(order), batch_size):
        idxs = order[i : i + batch_size]
        x, lengths, _, _ = data.batch(idxs)
        out = model(x, lengths)
        out_lengths = SpeechNet.output_lengths(lengths)
        for row, idx in enumerate(idxs):
            hyp = greedy(out[row, : out_lengths[row]].numpy())
            correct += hyp == data.targets[idx]
    model.train()
    return correct / len(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("work/speech/data"))
    ap.add_argument("--ckpt", type=Path, default=Path("work/speech/ckpt"))
    ap.add_argument("--minutes", type=float, default=40.0, help="training time budget (wall clock)")
    ap.add_argument("--epochs", type=int, default=100, help="upper bound; the time budget usually ends first")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--channels", type=int, default=144)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument(
        "--init", type=Path, help="start from this checkpoint's weights (fine-tuning, fresh schedule)"
    )
    ap.add_argument("--warp", type=float, default=0.0, help="mel-axis warp augmentation, e.g. 0.12 = +-12%%")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    args.ckpt.mkdir(parents=True, exist_ok=True)

    train = FeatureSet(args.data / "train.npz")
    vals = {name: FeatureSet(args.data / f"val_{name}.npz") for name in ("synth", "fsdd")}
    model = SpeechNet(n_labels=len(LABELS), channels=args.channels)
    print(f"train {len(train)} utterances; params {count_parameters(model)}", flush=True)
    budget = args.minutes * 60.0
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    start_epoch, step, best, used = 0, 0, -1.0, 0.0
    if args.resume and (args.ckpt / "last.pt").is_file():
        state = torch.load(args.ckpt / "last.pt", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start_epoch, step, best, used = state["epoch"], state["step"], state["best"], state["used"]
        rng = np.random.default_rng(args.seed + start_epoch)
        print(f"resumed at epoch {start_epoch}, step {step}", flush=True)

    if args.init and not args.resume:
        init = torch.load(args.init, map_location="cpu", weights_only=False)
        model.load_state_dict(init["model"])
        print(f"initialised from {args.init} (scores then: {init.get('scores', {})})", flush=True)
        print(
            "  " + " ".join(f"{k} {v:.3f}" for k, v in ((n, evaluate(model, d)) for n, d in vals.items())),
            flush=True,
        )

    t0 = time.time() - used

    def lr_at(fraction: float) -> float:
        if fraction < 0.05:
            return args.lr * max(0.02, fraction / 0.05)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (fraction - 0.05) / 0.95))))

    def save(name: str, epoch: int, scores: dict) -> None:
        state = {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "epoch": epoch,
            "step": step,
            "best": best,
            "used": time.time() - t0,
            "channels": args.channels,
            "init": str(args.init) if args.init else None,
            "warp": args.warp,
            "labels": LABELS,
            "scores": scores,
        }
        torch.save(state, args.ckpt / name)

    out_of_time = False
    for epoch in range(start_epoch, args.epochs):
        model.train()
        running, seen = 0.0, 0
        last_save = time.time()
        for idxs in train.length_batches(args.batch_size, rng):
            fraction = (time.time() - t0) / budget
            if fraction >= 1.0:
                out_of_time = True
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(fraction)
            x, lengths, targets, target_lengths = train.batch(idxs)
            x = spec_augment(mel_warp(x, args.warp, rng), lengths, rng)
            log_probs = model(x, lengths)
            out_lengths = SpeechNet.output_lengths(lengths)
            loss = F.ctc_loss(
                log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=0, zero_infinity=True
            )
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            running += float(loss.detach())
            seen += 1
            if step % 100 == 0:
                elapsed = time.time() - t0
                print(
                    f"epoch {epoch} step {step} loss {running / seen:.3f} lr {opt.param_groups[0]['lr']:.2e} "
                    f"{elapsed / 60:.1f}/{args.minutes:.0f} min",
                    flush=True,
                )
                running, seen = 0.0, 0
            if time.time() - last_save > 300:  # survive a kill mid-epoch (resume restarts this epoch)
                save("last.pt", epoch, {})
                last_save = time.time()
            if args.max_steps and step >= args.max_steps:
                break
        scores = {name: evaluate(model, data) for name, data in vals.items()}
        score = scores["fsdd"] + scores["synth"]
        print(
            f"== epoch {epoch} done: utterance accuracy synth {scores['synth']:.3f} fsdd {scores['fsdd']:.3f} "
            f"({(time.time() - t0) / 60:.1f} min)",
            flush=True,
        )
        if score > best:
            best = score
            save("best.pt", epoch + 1, scores)
        save("last.pt", epoch + 1, scores)
        if out_of_time or (args.max_steps and step >= args.max_steps):
            break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
