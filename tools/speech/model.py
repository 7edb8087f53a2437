"""The speech network: a depthwise-separable temporal CNN (TC-ResNet/DS-CNN style) with word-level CTC.

Input: log-mel frames (batch, time, 40) every 10 ms. Output: per-frame log-probabilities over
["<blank>", vocabulary words..., "<unk>"] every 40 ms. Dilated convolutions give about 3 s of context
without recurrence, so every layer is a convolution that INT8 quantization handles well.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SeparableBlock(nn.Module):
    """Depthwise temporal conv -> pointwise conv, with a residual when the shape allows."""

    def __init__(self, channels: int, kernel: int = 5, dilation: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(
            channels,
            channels,
            kernel,
            stride=stride,
            padding=dilation * (kernel - 1) // 2,
            dilation=dilation,
            groups=channels,
            bias=False,
        )
        self.bn1 = nn.BatchNorm1d(channels)
        self.pointwise = nn.Conv1d(channels, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.residual = stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.depthwise(x)))
        y = self.bn2(self.pointwise(y))
        return F.relu(y + x) if self.residual else F.relu(y)


class SpeechNet(nn.Module):
    def __init__(
        self, n_mels: int = 40, n_labels: int = 31, channels: int = 144, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_mels)
        self.stem = nn.Sequential(
            nn.Conv1d(n_mels, channels, 5, stride=2, padding=2, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
        )
        blocks = [SeparableBlock(channels, 5, 1), SeparableBlock(channels, 5, 1, stride=2)]
        blocks += [SeparableBlock(channels, 5, d) for d in (1, 2, 4, 8, 1, 2)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Conv1d(channels, channels, 1), nn.ReLU(), nn.Dropout(dropout), nn.Conv1d(channels, n_labels, 1)
        )

    @staticmethod
    def output_lengths(lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(torch.div(lengths + 1, 2, rounding_mode="floor") + 1, 2, rounding_mode="floor")

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """feats (B, T, n_mels) -> log-probs (B, T', n_labels). Each utterance is mean-normalised per mel bin
        (cepstral mean normalisation): removes microphone colour and gain."""
        x = feats.transpose(1, 2)
        if lengths is None:
            x = x - x.mean(dim=2, keepdim=True)
        else:
            mask = (torch.arange(x.shape[2], device=x.device)[None, :] < lengths[:, None]).to(x.dtype)[
                :, None, :
            ]
            mean = (x * mask).sum(dim=2, keepdim=True) / lengths[:, None, None].to(x.dtype)
            x = (x - mean) * mask
        x = self.input_norm(x)
        x = self.blocks(self.stem(x))
        return F.log_softmax(self.head(x), dim=1).transpose(1, 2)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
