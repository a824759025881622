"""Report figures (matplotlib, Agg): training curves and confusion matrices."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

FIGURE_DPI = 110


def read_histories(history_csvs: Sequence[Path]) -> tuple[list[dict], list[int]]:
    """Keras CSV histories of consecutive stages (a run and its warm restarts) as one list of rows, with the
    epoch numbers running on across stages, plus the first epoch of every stage after the first."""
    rows: list[dict] = []
    restarts: list[int] = []
    for history_csv in history_csvs:
        with history_csv.open(newline="") as handle:
            stage = list(csv.DictReader(handle))
        if rows:
            restarts.append(len(rows) + 1)
        rows.extend(stage)
    return rows, restarts


def plot_curves(history_csvs: Path | Sequence[Path], out_png: Path) -> None:
    """Accuracy and loss per epoch, training and validation, from Keras' CSV histories; with several stages
    (a warm restart continues an earlier run) the epochs run on and each restart is marked."""
    paths = [history_csvs] if isinstance(history_csvs, Path) else list(history_csvs)
    rows, restarts = read_histories(paths)
    epochs = list(range(1, len(rows) + 1))
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("accuracy", acc_ax), ("loss", loss_ax)):
        for epoch in restarts:
            ax.axvline(epoch - 0.5, color="grey", linestyle=":", label="warm restart" if epoch == restarts[0] else None)
        for prefix, style in (("", "-"), ("val_", "--")):
            values = [float(r[prefix + key]) for r in rows if r.get(prefix + key)]
            if values:
                ax.plot(epochs[: len(values)], values, style, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=FIGURE_DPI)
    plt.close(fig)


def plot_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str, out_png: Path) -> None:
    """Row-normalised confusion matrix with counts, rows true and columns predicted."""
    counts = np.asarray(matrix, dtype=float)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(len(labels)):
        for j in range(len(labels)):
            colour = "white" if rates[i, j] > 0.5 else "black"
            ax.text(j, i, f"{rates[i, j]:.2f}\n{int(counts[i, j])}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out_png, dpi=FIGURE_DPI)
    plt.close(fig)
