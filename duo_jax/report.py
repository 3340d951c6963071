"""Compare alpha sweeps by the area under the test-reward-vs-alpha curve (YRC-Bench's headline metric).

`python -m duo_jax.report SWEEP_DIR [SWEEP_DIR ...] --out reports/coinrun` reads each `sweep.json`
and writes report.json, report.md and report.png with one row per (method, selection).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# sweep.json names the validation split a policy was chosen on; the paper names the test evaluation.
SELECTIONS = {"val_sim": "eval_sim", "val_true": "eval_true"}
TEST_KEYS = ("reward_mean", "reward_ci95", "expert_fraction")


def _trapezoid(alphas: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Trapezoid rule along axis 0 (numpy 1.26 has no `np.trapezoid`); `values` may carry extra axes."""
    dx = np.diff(alphas).reshape((-1,) + (1,) * (values.ndim - 1))
    return np.sum(dx * (values[1:] + values[:-1]) / 2, axis=0)


def auc(alphas, rewards) -> float:
    alphas, rewards = np.asarray(alphas, float), np.asarray(rewards, float)
    if alphas.ndim != 1 or len(alphas) < 2 or alphas.shape != rewards.shape:
        raise ValueError(f"auc needs at least 2 alphas and one reward per alpha, got {alphas.shape} and {rewards.shape}.")
    if np.any(np.diff(alphas) <= 0):
        raise ValueError(f"auc needs strictly increasing alphas, got {alphas.tolist()}.")
    return float(_trapezoid(alphas, rewards))


def bootstrap_auc(alphas, episode_rewards: list[np.ndarray], num_samples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% interval of the AUC over episode resamples.

    Equal episode counts mean the same fixed test levels at every alpha, so one set of resampled
    indices is shared by all alphas (the paired bootstrap); otherwise each alpha is resampled alone.
    """
    episodes = [np.asarray(r, float).ravel() for r in episode_rewards]
    if any(r.size == 0 for r in episodes) or num_samples < 1:
        raise ValueError("bootstrap_auc needs at least one episode per alpha and num_samples >= 1.")
    auc(alphas, [r.mean() for r in episodes])   # validates the alphas against the episodes
    rng = np.random.default_rng(seed)
    sizes = {r.size for r in episodes}
    shared = rng.integers(0, episodes[0].size, (num_samples, episodes[0].size)) if len(sizes) == 1 else None
    means = np.stack([r[shared if shared is not None else rng.integers(0, r.size, (num_samples, r.size))].mean(axis=1)
                      for r in episodes])                                     # (alphas, samples)
    lo, hi = np.percentile(_trapezoid(np.asarray(alphas, float), means), [2.5, 97.5])
    return float(lo), float(hi)


def _check_sweep(sweep: dict, where: str) -> None:
    alphas = sweep.get("alphas")
    selections = sweep.get("selections")
    if not isinstance(alphas, list) or not isinstance(selections, dict) or "method" not in sweep:
        raise ValueError(f"{where} needs 'method', 'alphas' (a list) and 'selections' (an object).")
    if not any(k in selections for k in SELECTIONS):
        raise ValueError(f"{where} has none of the selections {list(SELECTIONS)}.")
    for key, entries in selections.items():
        if key not in SELECTIONS:
            continue
        if not isinstance(entries, list) or len(entries) != len(alphas):
            raise ValueError(f"{where} selection '{key}' needs one entry per alpha ({len(alphas)}).")
        for alpha, e in zip(alphas, entries):
            ok = isinstance(e, dict) and e.get("alpha") == alpha and isinstance(e.get("episode_rewards"), list)
            if not ok or not isinstance(e.get("test"), dict) or not all(k in e["test"] for k in TEST_KEYS):
                raise ValueError(f"{where} selection '{key}' entry for alpha {alpha} needs 'alpha', "
                                 f"'episode_rewards' and test {list(TEST_KEYS)}.")


def load_sweeps(paths: list[str]) -> list[dict]:
    sweeps = []
    for path in paths:
        file = os.path.join(path, "sweep.json") if os.path.isdir(path) else path
        if not os.path.isfile(file):
            raise ValueError(f"no sweep found at {path} (expected a sweep directory or a sweep.json file).")
        try:
            with open(file) as f:
                sweep = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{file} is not valid JSON ({e}).") from None
        if not isinstance(sweep, dict):
            raise ValueError(f"{file} should hold a JSON object.")
        _check_sweep(sweep, file)
        sweeps.append(sweep)
    return sweeps


def build_table(sweeps: list[dict], num_samples: int = 1000, seed: int = 0) -> list[dict]:
    if not sweeps:
        raise ValueError("build_table needs at least one sweep.")
    first = sweeps[0]
    for s in sweeps[1:]:
        if len(s["alphas"]) != len(first["alphas"]) or not np.allclose(s["alphas"], first["alphas"]):
            raise ValueError(f"sweeps '{first.get('name', first['method'])}' and '{s.get('name', s['method'])}' have "
                             f"different alphas ({first['alphas']} vs {s['alphas']}), so their AUCs do not compare.")
    rows = []
    for s in sweeps:
        for key, selection in SELECTIONS.items():
            if key not in s["selections"]:
                continue
            entries = s["selections"][key]
            cols = {k: [float(e["test"][k]) for e in entries] for k in TEST_KEYS}
            rows.append({
                "name": s.get("name", s["method"]), "method": s["method"], "selection": selection,
                "alphas": [float(a) for a in s["alphas"]], **cols, "auc": auc(s["alphas"], cols["reward_mean"]),
                "auc_ci95": list(bootstrap_auc(s["alphas"], [e["episode_rewards"] for e in entries], num_samples, seed)),
            })
    return rows


def _md_table(header: list[str], body: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *body]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def to_markdown(rows) -> str:
    alphas = [f"α={a:g}" for a in rows[0]["alphas"]] if rows else []
    reward = [[r["method"], r["selection"],
               *(f"{m:.2f} ± {c:.2f}" for m, c in zip(r["reward_mean"], r["reward_ci95"])),
               f"{r['auc']:.3f} [{r['auc_ci95'][0]:.3f}, {r['auc_ci95'][1]:.3f}]"] for r in rows]
    expert = [[r["method"], r["selection"], *(f"{f:.3f}" for f in r["expert_fraction"])] for r in rows]
    return ("## Test reward (mean ± 95% CI) and AUC over alpha [95% bootstrap CI]\n\n"
            + _md_table(["method", "selection", *alphas, "AUC [lo, hi]"], reward)
            + "\n\n## Expert fraction of test steps\n\n"
            + _md_table(["method", "selection", *alphas], expert) + "\n")


def plot(rows, path: str) -> None:
    fig = Figure(figsize=(14, 5.5))
    FigureCanvasAgg(fig)   # Agg without pyplot: no global figure state, no display needed
    ax_r, ax_e = fig.subplots(1, 2)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cmap = matplotlib.colormaps["tab10" if len(methods) <= 10 else "tab20"]
    colours = {m: cmap(i % cmap.N) for i, m in enumerate(methods)}
    for r in rows:
        style = dict(color=colours[r["method"]], linestyle="-" if r["selection"] == "eval_true" else "--", marker="o")
        mean, ci = np.asarray(r["reward_mean"]), np.asarray(r["reward_ci95"])
        ax_r.plot(r["alphas"], mean, label=f"{r['method']} {r['selection']} (AUC {r['auc']:.2f})", **style)
        ax_r.fill_between(r["alphas"], mean - ci, mean + ci, color=style["color"], alpha=0.08)
        ax_e.plot(r["alphas"], r["expert_fraction"], **style)
    ax_r.set(xlabel="alpha (expert cost weight)", ylabel="test reward", title="Test reward vs alpha (shaded: 95% CI)")
    ax_e.set(xlabel="alpha (expert cost weight)", ylabel="expert fraction", title="Expert fraction vs alpha")
    fig.legend(*ax_r.get_legend_handles_labels(), loc="center right", fontsize="small", frameon=False)
    fig.suptitle("Cost sweep on test: eval_true solid, eval_sim dashed")
    fig.tight_layout(rect=(0, 0, 0.76, 1))
    fig.savefig(path, format="png", dpi=120)


def _atomic(path: str, write) -> None:
    """Write to a temp file in the same directory, then rename, so readers never see half a file."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")   # umask perms, unlike mkstemp
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_text(text: str):
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)
    return write


def write_report(rows, out_dir: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f"report.{k}") for k in ("json", "md", "png")}
    _atomic(paths["json"], _write_text(json.dumps({"rows": rows}, indent=2) + "\n"))
    _atomic(paths["md"], _write_text(to_markdown(rows)))
    _atomic(paths["png"], lambda tmp: plot(rows, tmp))
    return paths


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m duo_jax.report", description="Report alpha sweeps: AUC of test reward vs alpha.")
    parser.add_argument("sweeps", nargs="+", help="sweep directories (or sweep.json files)")
    parser.add_argument("--out", required=True, help="output directory for report.{json,md,png}")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the AUC interval")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        rows = build_table(load_sweeps(args.sweeps), args.bootstrap, args.seed)
        paths = write_report(rows, args.out)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    print(to_markdown(rows))
    print("wrote " + ", ".join(paths.values()))


if __name__ == "__main__":
    main()
