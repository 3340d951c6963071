"""What the benchmarks share: their command line, where they write, and what they record beside their numbers
(when, on what, under which load and library versions).

A run writes into benchmarks/results/local/ (untracked) unless `--out` names a file: benchmarks/results/*.json
are the published numbers, replaced only by naming one and passing `--overwrite`, e.g.
`python benchmarks/bench_procgen.py --out benchmarks/results/procgen.json --overwrite`.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

LOCAL = Path(__file__).resolve().parent / "results" / "local"


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def commit() -> str | None:
    """The checkout's commit (with "+changes" when files differ from it), so a number names the code it measured."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=30)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def machine_info(**extra) -> dict:
    """Time, platform, library versions, JAX devices and the load average now, plus `extra`."""
    import jax  # here, so a benchmark can set XLA_FLAGS after its arguments are parsed

    return {
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(), "processor": platform.processor(),
        "jax": jax.__version__, "jaxlib": version("jaxlib"), "flax": version("flax"), "numpy": np.__version__,
        "procgen": version("procgen-mirror") or version("procgen-gym") or version("procgen"),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "xla_flags": os.environ.get("XLA_FLAGS", ""), "commit": commit(), "loadavg_start": loadavg(), **extra,
    }


def parser(doc: str, name: str) -> argparse.ArgumentParser:
    """A benchmark's command line with `--out` and `--overwrite`; `name` is its results file in results/local/."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help=f"results JSON, relative to the working directory (default: "
                    f"benchmarks/results/local/{name}, untracked)")
    ap.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    return ap


def output(args: argparse.Namespace, name: str) -> Path:
    """Where the results go: `--out`, else results/local/<name>; an existing file only with `--overwrite`
    (checked before the benchmark runs, so no run is lost at its end)."""
    path = Path(os.path.abspath(args.out)) if args.out else LOCAL / name
    if path.exists() and not args.overwrite:
        sys.exit(f"error: {path} already exists; pass --overwrite to replace it, or name another --out.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def parse_args(doc: str, name: str, quick_help: str) -> tuple[argparse.Namespace, Path]:
    """`--quick`, `--note`, `--out`, `--overwrite`; returns the arguments and the results path (a quick run's
    default is <name>.quick.json)."""
    ap = parser(doc, name)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--note", default="", help="free text stored in the results (e.g. what else ran)")
    args = ap.parse_args()
    return args, output(args, name.replace(".json", ".quick.json") if args.quick else name)
