"""PNG charts of finished runs: a confusion matrix, and the curves of several runs overlaid."""

from __future__ import annotations

from .files import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _save(fig, path) -> None:
    plt = _pyplot()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def confusion_png(matrix, class_names, path, title: str) -> None:
    """The confusion matrix (rows: true class, columns: predicted) with its counts, as a PNG."""
    import numpy as np

    plt = _pyplot()
    matrix = np.asarray(matrix)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.6 + 0.55 * k, 1.2 + 0.5 * k))
    ax.imshow(matrix, cmap="Blues")
    ticks = range(k)
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    high = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > high else "black")
    _save(fig, path)


CURVES = (("train_loss", "training loss"), ("train_acc", "train accuracy"), ("test_acc", "test accuracy"))


def compare_png(histories: list[tuple[str, list[dict]]], path, title: str = "") -> None:
    """Loss and accuracy curves of several runs (``(label, history)`` pairs), overlaid, as a PNG."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    shown = [(key, name) for key, name in CURVES if any(m.get(key) is not None for _, h in histories for m in h)]
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(4.2 * max(1, len(shown)), 3.6), squeeze=False)
    for ax, (key, name) in zip(axes[0], shown):
        for label, history in histories:
            points = [(m["epoch"], m[key]) for m in history if m.get(key) is not None]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
    if shown:
        axes[0][-1].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    _save(fig, path)
