"""What `duo_jax.report` and `duo_jax.summary` share: the names of a report's baseline and skyline rows and of
its selections, the markdown of its paired differences, and reading the JSON files both read."""
from __future__ import annotations

import json
import os

# sweep.json names the validation split a policy was chosen on; the paper names the test evaluation.
SELECTIONS = {"val_sim": "eval_sim", "val_true": "eval_true"}
NOVICE, EXPERT, SKYLINE = "always_novice", "always_expert", "skyline"


def is_skyline(method: str) -> bool:
    return method == SKYLINE or method.startswith(SKYLINE + "_")


def read_json(path: str, name: str, what: str) -> tuple[str, object]:
    """(file, its JSON): `path` is the file or the directory holding `name`, which `python -m duo_jax.<what>`
    writes; one-sentence errors that name the file (a half-written one, another kind of file)."""
    file = os.path.join(path, name) if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise ValueError(f"no {what} found at {path} (expected a {what} directory or a {name} file).")
    try:
        with open(file) as f:
            return file, json.load(f)
    except json.JSONDecodeError as e:
        problem = f"is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
    except UnicodeDecodeError:
        problem = "is not a text file"
    raise ValueError(f"{file} {problem}; expected a whole {name} as python -m duo_jax.{what} writes it.")


def within_best(row: dict) -> bool | None:
    """Whether the paired interval of AUC(row) - AUC(best) holds 0; None when the two are not paired."""
    paired = row["vs_best"]["paired"]
    return None if paired is None else not paired["significant"]


def format_diff(c: dict | None) -> str:
    """'+0.31 [0.12, 0.50]*' (* = the paired interval excludes 0), or the unpaired difference and why."""
    if c is None:
        return "—"
    if c["paired"] is None:
        return f"{c['diff']:+.3f} (unpaired: {c['reason']})"
    lo, hi = c["paired"]["ci95"]
    text = f"{c['diff']:+.3f} [{lo:+.3f}, {hi:+.3f}]" + ("*" if c["paired"]["significant"] else "")
    return text if c.get("all_seeds", True) else f"{text} (seeds {','.join(map(str, c['eval_seeds']))})"
