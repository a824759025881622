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
                ax.plot(epochs[: len(values)], values, style, marker="o" if len(values) == 1 else None,
                        label=(prefix or "train_") + key)  # one epoch is a point: a line needs two
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=FIGURE_DPI)
    plt.close(fig)


def plot_soup_curves(shared: Sequence[Path], members: dict[str, Path], soup_val_accuracy: float,
                     out_png: Path) -> None:
    """Validation and training accuracy of a soup's members: the stages they share once, then each member's
    own tail from where they branch, and the soup's validation accuracy as a line (it trains no epoch)."""
    rows, restarts = read_histories(shared) if shared else ([], [])
    branch = len(rows)
    fig, ax = plt.subplots(figsize=(10, 4))
    for epoch in restarts + ([branch + 1] if rows else []):
        ax.axvline(epoch - 0.5, color="grey", linestyle=":")
    for prefix, style in (("", "-"), ("val_", "--")):
        values = [float(r[prefix + "accuracy"]) for r in rows if r.get(prefix + "accuracy")]
        ax.plot(range(1, len(values) + 1), values, style, color="black", label=f"{(prefix or 'train_')}accuracy")
    for name, history_csv in members.items():
        tail, _ = read_histories([history_csv])
        epochs = range(branch + 1, branch + len(tail) + 1)
        line = ax.plot(epochs, [float(r["val_accuracy"]) for r in tail], "--", label=f"{name} val_accuracy")[0]
        ax.plot(epochs, [float(r["accuracy"]) for r in tail], "-", color=line.get_color(), alpha=0.5)
    ax.axhline(soup_val_accuracy, color="red", label=f"soup val_accuracy {soup_val_accuracy:.3f}")
    ax.set_xlabel("epoch")
    ax.set_title("accuracy (dotted: warm restarts and the members' branch point)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
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
