"""Plot a run's training curves: `python -m duo_jax.curves experiments/<name> [--out curves.png] [--tags T ...]`.

One panel per logged tag of `<run>/curves/scalars.csv` (see `duo_jax.core.curves`).
"""
from __future__ import annotations

import math
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from duo_jax import cli
from duo_jax.core.curves import CSV_NAME, read_csv
from duo_jax.core.files import atomic_write


def _curves_dir(run_dir: str) -> str:
    """`run_dir` itself if it holds the CSV, else its `curves/` (an experiment directory)."""
    for path in (run_dir, os.path.join(run_dir, "curves")):
        if os.path.isfile(os.path.join(path, CSV_NAME)):
            return path
    raise ValueError(f"{run_dir} holds no {CSV_NAME} (nor curves/{CSV_NAME}); pass an experiment or curves directory.")


def plot_curves(run_dir: str, out: str, tags: list[str] | None = None) -> str:
    """One panel per tag (or per `tags`, in that order) of a run's CSV, saved to `out`; returns `out`."""
    curves = read_csv(_curves_dir(run_dir))
    if tags:
        missing = [t for t in tags if t not in curves]
        if missing:
            tags = ", ".join(sorted(curves))
            raise ValueError(f"--tags {missing[0]!r} is not in the run's curves; its tags are {tags}.")
    tags = list(tags) if tags else sorted(curves)
    if not tags:
        raise ValueError(f"{run_dir} has no logged scalars yet.")
    cols = min(3, len(tags))
    rows = math.ceil(len(tags) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, tag in zip(axes.flat, tags):
        steps, values = curves[tag]
        ax.plot(steps, values, marker="." if len(steps) < 30 else None)
        ax.set_title(tag, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tags) :]:
        ax.axis("off")
    fig.tight_layout()
    suffix = os.path.splitext(out)[1].lstrip(".") or "png"  # a temporary name hides the suffix from matplotlib
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=120, format=suffix))
    return out


@cli.interruptible()  # Ctrl-C: one line; the image is written atomically, so never half-written
def main(argv: list[str] | None = None) -> None:
    parser = cli.ArgumentParser(prog="python -m duo_jax.curves", description="Plot a run's training curves.")
    parser.add_argument("run_dir", help="an experiment directory (experiments/<name>) or its curves/ directory")
    parser.add_argument("--out", default="curves.png", help="image to write; its suffix picks the format")
    parser.add_argument("--tags", nargs="*", default=None, help="only these tags, in this order")
    args = parser.parse_args(argv)
    try:
        print(plot_curves(args.run_dir, args.out, args.tags))
    except (ValueError, OSError) as err:  # bad input: one sentence, no traceback
        cli.fail(err)


if __name__ == "__main__":
    main()
