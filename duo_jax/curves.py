"""Plot a run's training curves: `python -m duo_jax.curves experiments/<name> [--out curves.png] [--tags T ...]`.

One panel per logged tag of `<run>/curves/scalars.csv` (see `duo_jax.core.curves`).
"""
from __future__ import annotations

from duo_jax import cli
from duo_jax.core.curves import plot_curves


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
