"""Accuracy, per-class and macro F1, confusion matrix (numpy only, no scikit-learn needed)."""

from __future__ import annotations

import numpy as np


def confusion(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def f1_per_class(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix).astype(float)
    precision = tp / np.maximum(matrix.sum(axis=0), 1)
    recall = tp / np.maximum(matrix.sum(axis=1), 1)
    return np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)


def macro_f1(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    """Mean F1 over the classes present in `labels` (a class never seen cannot be scored)."""
    matrix = confusion(labels, predicted, num_classes)
    seen = matrix.sum(axis=1) > 0
    return float(f1_per_class(matrix)[seen].mean()) if seen.any() else 0.0


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float((labels == predicted).mean()) if len(labels) else 0.0
