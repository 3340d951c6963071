"""What the benchmarks share: their command line, and what they record beside their numbers (when, on what,
under which load and library versions)."""
from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
from pathlib import Path

import jax
import numpy as np


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info(**extra) -> dict:
    """Time, platform, library versions, JAX devices and the load average now, plus `extra`."""
    return {
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(), "processor": platform.processor(),
        "jax": jax.__version__, "jaxlib": version("jaxlib"), "flax": version("flax"), "numpy": np.__version__,
        "procgen": version("procgen-mirror") or version("procgen"), "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "xla_flags": os.environ.get("XLA_FLAGS", ""), "loadavg_start": loadavg(), **extra,
    }


def parse_args(doc: str, results: Path, quick_help: str) -> tuple[argparse.Namespace, Path]:
    """`--quick`, `--note`, `--out`; returns the arguments and the results path (`*.quick.json` if quick)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--note", default="", help="free text stored in the results (e.g. what else ran)")
    ap.add_argument("--out", default=None, help=f"results JSON (default {results}; with --quick, *.quick.json)")
    args = ap.parse_args()
    return args, Path(args.out) if args.out else (results.with_suffix(".quick.json") if args.quick else results)
