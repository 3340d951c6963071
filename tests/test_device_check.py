"""benchmarks/device_check.sh, the one command a session with a GPU runs: here on CPU, at its smoke size, it
writes the Procgen and gridworld-suite JSON into the folder it is given, each naming the JAX backend it ran on."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import REPO

SCRIPT = os.path.join(REPO, "benchmarks", "device_check.sh")


def test_device_check_writes_the_benchmarks_json(tmp_path):
    out = tmp_path / "device"
    proc = subprocess.run(["bash", SCRIPT, str(out), "--smoke"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable}, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    procgen = json.loads((out / "procgen.json").read_text())
    suite = json.loads((out / "suite_quick.json").read_text())
    for result in (procgen, suite):
        assert result["meta"]["backend"] == "cpu"
        assert result["meta"]["devices"] and result["meta"]["jax"]
        assert result["meta"]["note"] == "device_check.sh --smoke"
    assert [(c["model"], c["batch"]) for c in procgen["forward_ceilings"]] == [("small_cnn", 64), ("impala_cnn", 64)]
    assert all(c["images_per_s"] > 0 for c in procgen["forward_ceilings"])
    assert procgen["skipped"].endswith("--ceilings-only") and procgen["evaluation"] == procgen["training"] == []
    distshift = suite["envs"]["distshift"]
    assert (distshift["rows"], distshift["seeds"], distshift["suite_over_ceiling"]) == (1, [0], None)
    steps = json.loads((out / "device_check.json").read_text())["steps"]
    assert [(s["step"], s["rc"]) for s in steps] == [("procgen", 0), ("suite_quick", 0)]


def test_device_check_names_its_arguments(tmp_path):
    proc = subprocess.run(["bash", SCRIPT, str(tmp_path), "--fast"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "usage: bash benchmarks/device_check.sh OUTDIR [--quick | --smoke]" in proc.stderr


def test_device_check_skips_what_its_budget_leaves_no_time_for(tmp_path):
    """A step runs only with 30 s of the budget left (under `timeout`, never past the budget); a skipped one is
    recorded, and without the JSON files the command fails."""
    proc = subprocess.run(["bash", SCRIPT, str(tmp_path), "--smoke"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": sys.executable, "DEVICE_CHECK_BUDGET_S": "20"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    steps = json.loads((tmp_path / "device_check.json").read_text())["steps"]
    assert [(s["step"], s["rc"], s["note"].split(":")[0]) for s in steps] == [("procgen", None, "skipped"),
                                                                               ("suite_quick", None, "skipped")]
    assert not (tmp_path / "procgen.json").exists()
