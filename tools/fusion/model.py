"""The fusion network: four branches (image CNN, classic HOG/LBP vector, OCR text, speech words) fused into
class probabilities. Each branch's embedding is multiplied by its modality's `present` flag, and the flags
themselves are fed to the head, so a missing modality is an input the model was trained on (modality
dropout), not a zero vector it has never seen.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from edge.fusion.codes import CLASSES
from edge.fusion.features import CHARSET, CLASSIC_DIM, MAX_CHARS, SPEECH_DIM, TEXT_DIM

INPUT_NAMES = ("image", "classic", "text", "chars", "char_conf", "speech", "present")


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FusionNet(nn.Module):
    def __init__(self, num_classes: int = len(CLASSES)) -> None:
        super().__init__()
        self.image = nn.Sequential(
            _conv(1, 8), nn.MaxPool2d(2),  # 32 x 48
            _conv(8, 16), nn.MaxPool2d(2),  # 16 x 24
            _conv(16, 32), nn.MaxPool2d(2),  # 8 x 12
            _conv(32, 48),
        )
        self.image_fc = nn.Sequential(nn.Linear(96, 64), nn.ReLU(inplace=True))
        # HOG/LBP standardisation measured on the training set; kept in the graph so the runtime feeds raw features
        self.register_buffer("classic_mean", torch.zeros(CLASSIC_DIM))
        self.register_buffer("classic_std", torch.ones(CLASSIC_DIM))
        self.classic = nn.Sequential(nn.Dropout(0.2), nn.Linear(CLASSIC_DIM, 64), nn.ReLU(inplace=True))
        self.char_embed = nn.Embedding(len(CHARSET) + 2, 16, padding_idx=0)
        self.char_conv = nn.Sequential(nn.Conv1d(17, 32, 3, padding=1), nn.ReLU(inplace=True))
        self.text = nn.Sequential(nn.Linear(TEXT_DIM + 32, 64), nn.ReLU(inplace=True))
        self.speech = nn.Sequential(nn.Linear(SPEECH_DIM, 32), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Linear(64 + 64 + 64 + 32 + 3, 96), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(96, num_classes)
        )

    def forward(
        self,
        image: torch.Tensor,
        classic: torch.Tensor,
        text: torch.Tensor,
        chars: torch.Tensor,
        char_conf: torch.Tensor,
        speech: torch.Tensor,
        present: torch.Tensor,
    ) -> torch.Tensor:
        """Logits [B, classes]."""
        has_image, has_text, has_speech = present[:, 0:1], present[:, 1:2], present[:, 2:3]
        fmap = self.image(image)
        pooled = torch.cat([fmap.mean(dim=(2, 3)), fmap.amax(dim=(2, 3))], dim=1)
        img = self.image_fc(pooled) * has_image
        cls = self.classic((classic - self.classic_mean) / self.classic_std) * has_image
        seq = torch.cat([self.char_embed(chars), char_conf.unsqueeze(-1)], dim=-1).transpose(1, 2)  # B, 17, L
        char_vec = self.char_conv(seq).amax(dim=2)
        txt = self.text(torch.cat([text, char_vec], dim=1)) * has_text
        spk = self.speech(speech) * has_speech
        return self.head(torch.cat([img, cls, txt, spk, present], dim=1))


def example_inputs(batch: int = 1) -> tuple[torch.Tensor, ...]:
    return (
        torch.zeros(batch, 1, 64, 96),
        torch.zeros(batch, CLASSIC_DIM),
        torch.zeros(batch, TEXT_DIM),
        torch.zeros(batch, MAX_CHARS, dtype=torch.int64),
        torch.zeros(batch, MAX_CHARS),
        torch.zeros(batch, SPEECH_DIM),
        torch.ones(batch, 3),
    )
