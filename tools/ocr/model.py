"""The CRNN: a small conv stack (height 32 -> 1, width / 4) + one bidirectional LSTM + a linear CTC head.

About 0.4 M parameters and ~45 M multiply-adds for a 160-pixel line, so it runs in a few milliseconds on
one Raspberry-Pi-class core. Output: (N, T, classes) logits, class 0 = CTC blank.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_block(cin: int, cout: int, kernel=(3, 3), padding=(1, 1)) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=padding, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class CRNN(nn.Module):
    def __init__(self, num_classes: int, hidden: int = 96) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 16), nn.MaxPool2d(2, 2),            # 16 x W/2
            conv_block(16, 48), nn.MaxPool2d(2, 2),           # 8 x W/4
            conv_block(48, 64),
            nn.MaxPool2d((2, 1), (2, 1)),                     # 4 x W/4
            conv_block(64, 128),
            nn.MaxPool2d((2, 1), (2, 1)),                     # 2 x W/4
            conv_block(128, 160, kernel=(2, 3), padding=(0, 1)),  # 1 x W/4
        )
        self.rnn = nn.LSTM(160, hidden, num_layers=1, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x)                 # N, C, 1, T
        f = f.squeeze(2).permute(0, 2, 1)    # N, T, C
        f, _ = self.rnn(f)
        return self.head(f)                  # N, T, classes


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
