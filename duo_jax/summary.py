"""Across environments: win counts, fractions of the skyline, paired differences, sim/true gaps, rliable.

`python -m duo_jax.report --summary reports/coinrun reports/distshift ... --out reports` reads each
environment's report.json (written by `duo_jax.report`) and writes summary.{json,md,png}.

Aggregates (rliable's IQM and optimality gap with stratified-bootstrap intervals, and performance
profiles) use a normalised AUC per environment: 0 is always_novice's AUC and 1 the AUC of the expert
if asking were free (always_expert's reward at alpha = 0 times the width of the alpha range), so the
optimality gap is the distance to "expert performance at no cost". The runs of a task are the seeds
(each seed's own AUC, normalised with the pooled constants), so the intervals resample seeds within
each environment and have zero width with one seed.
"""
from __future__ import annotations

import json
import os
import warnings

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from duo_jax import suite_config
from duo_jax.core.files import atomic_write, atomic_write_text
from duo_jax.reporting import (
    EXPERT,
    NOVICE,
    SELECTIONS,
    SKYLINE,
    format_diff,
    is_skyline,
    read_json,
    within_best,
)
from duo_jax.tables import md_table

NUM_TAUS = 21


# The fields of a report row the summary reads, with their JSON types (a number: int or float).
ROW_FIELDS = {"method": str, "selection": str, "num_seeds": int, "auc": float, "auc_per_seed": list,
              "auc_subsample": dict, "alphas": list, "reward_mean": list}


def _row_problem(row) -> str | None:
    if not isinstance(row, dict):
        return "is not an object"
    for field, kind in ROW_FIELDS.items():
        value = row.get(field)
        ok = isinstance(value, (int, float) if kind is float else kind) and not isinstance(value, bool)
        if not ok or (kind is list and not all(isinstance(v, (int, float)) for v in value)):
            return f"has no {field} ({_KINDS[kind]})"
    return None


_KINDS = {str: "a string", int: "an integer", float: "a number", list: "a list of numbers", dict: "an object"}


def load_reports(paths: list[str]) -> list[dict]:
    reports = []
    for path in paths:
        file, report = read_json(path, "report.json", "report")
        expected = "expected a report.json as python -m duo_jax.report writes it"
        if not isinstance(report, dict) or not isinstance(report.get("rows"), list) or not report["rows"]:
            raise ValueError(f"{file} holds no report rows; {expected}.")
        if isinstance(report["rows"][0], dict) and "auc_per_seed" not in report["rows"][0]:
            raise ValueError(f"{file} was written by an older duo_jax.report; rerun the report on its sweeps.")
        for i, row in enumerate(report["rows"]):
            if problem := _row_problem(row):
                raise ValueError(f"{file}: row {i} {problem}; {expected}.")
        if not isinstance(report.setdefault("env", os.path.basename(os.path.dirname(os.path.abspath(file)))), str):
            raise ValueError(f"{file}: its env is not a name; {expected}.")
        # The sensitivity rows (calibrated on the deployed novice) stand beside the tables, never in them.
        report["rows"] = [r for r in report["rows"] if not suite_config.is_sensitivity(r["method"])]
        report["sim_true_gap"] = [g for g in report.get("sim_true_gap", [])
                                  if not suite_config.is_sensitivity(g["method"])]
        reports.append(report)
    return reports


def _normaliser(report: dict, selection: str) -> tuple[tuple[float, float] | None, str | None]:
    """(lo, hi) of the normalised AUC: always_novice's AUC and the AUC of a free always_expert."""
    rows = {r["method"]: r for r in report["rows"] if r["selection"] == selection}
    if NOVICE not in rows or EXPERT not in rows:
        return None, f"{report['env']} has no {NOVICE} or no {EXPERT} sweep"
    alphas = rows[EXPERT]["alphas"]
    if alphas[0] != 0:
        return None, f"{report['env']}'s alphas start at {alphas[0]}, not 0, so the expert's free reward is unknown"
    lo, hi = rows[NOVICE]["auc"], rows[EXPERT]["reward_mean"][0] * (alphas[-1] - alphas[0])
    if hi <= lo:
        return None, f"on {report['env']} the free expert ({hi:.3f}) is no better than always_novice ({lo:.3f})"
    return (lo, hi), None


def _rliable(reports: list[dict], selection: str, num_samples: int, seed: int) -> dict:
    """IQM, optimality gap and performance profiles of the normalised AUC, with rliable's intervals."""
    from rliable import library as rly  # rliable (with pandas and arch: ~1.5 s) only when summarising
    from rliable import metrics

    bounds, excluded_envs = {}, []
    for rep in reports:
        b, why = _normaliser(rep, selection)
        if b is None:
            excluded_envs.append(why)
        else:
            bounds[rep["env"]] = b
    envs = [rep["env"] for rep in reports if rep["env"] in bounds]
    rows = {rep["env"]: {r["method"]: r for r in rep["rows"] if r["selection"] == selection} for rep in reports}
    methods = list(dict.fromkeys(m for e in envs for m in rows[e] if m == SKYLINE or not is_skyline(m)))
    scores, excluded = {}, {}
    for m in methods:
        missing = [e for e in envs if m not in rows[e]]
        seeds = {rows[e][m]["num_seeds"] for e in envs if m in rows[e]}
        if missing:
            excluded[m] = f"no {selection} row on {', '.join(missing)}"
        elif len(seeds) > 1:
            excluded[m] = f"different numbers of seeds across environments ({sorted(seeds)})"
        else:
            scores[m] = np.array([[(auc - bounds[e][0]) / (bounds[e][1] - bounds[e][0]) for auc, e in zip(seed, envs)]
                                  for seed in zip(*(rows[e][m]["auc_per_seed"] for e in envs))])  # (seeds, envs)
    out = {"envs": envs, "excluded_envs": excluded_envs, "excluded_methods": excluded, "normalised_auc": {},
           "iqm": {}, "optimality_gap": {}, "profile": {"tau": [], "fraction": {}, "ci95": {}}}
    if not scores:
        return out
    every = np.concatenate([s.ravel() for s in scores.values()])
    taus = np.linspace(min(every.min(), 0.0), max(every.max(), 1.0), NUM_TAUS)

    def aggregate(s: np.ndarray) -> np.ndarray:
        return np.concatenate([[metrics.aggregate_iqm(s), metrics.aggregate_optimality_gap(s, 1.0)],
                               rly.score_distributions(s, taus)])

    # rliable's StratifiedBootstrap draws its resamples from numpy's global RNG whatever `random_state` says,
    # so the global RNG is seeded too (and restored after): the same reports give the same intervals.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():   # arch deprecates the RandomState that rliable passes it
            warnings.simplefilter("ignore", FutureWarning)
            points, cis = rly.get_interval_estimates(scores, aggregate, reps=num_samples,
                                                     random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)
    out["profile"]["tau"] = taus.tolist()
    for m in scores:
        out["normalised_auc"][m] = scores[m].tolist()
        out["iqm"][m] = {"value": float(points[m][0]), "ci95": cis[m][:, 0].tolist()}
        out["optimality_gap"][m] = {"value": float(points[m][1]), "ci95": cis[m][:, 1].tolist()}
        out["profile"]["fraction"][m] = points[m][2:].tolist()
        out["profile"]["ci95"][m] = cis[m][:, 2:].tolist()
    return out


def _paper_within(row: dict, best: dict) -> bool:
    """Paper-style tie: the intervals mean ± 1.96 std of the subsample AUCs overlap."""
    a, b = row["auc_subsample"], best["auc_subsample"]
    return bool(a["mean"] + 1.96 * a["std"] >= b["mean"] - 1.96 * b["std"])


MEANING = ("protocol", "break_even_alpha", "ratio_to_skyline", "skyline_gate", "skyline_cells_below")


def meaning(reports: list[dict]) -> dict:
    """Per environment, what `duo_jax.report.analyses` says the numbers mean (None where a report predates it),
    and the eval_sim choices that ask at every test step or at none."""
    out = {key: {rep["env"]: rep.get(key) for rep in reports} for key in MEANING}
    out["eval_sim_asks_always_or_never"] = {
        rep["env"]: {r["method"]: r["asks"] for r in rep["rows"] if r["selection"] == "eval_sim" and r.get("asks")}
        for rep in reports
    }
    return out


def meaning_markdown(summary: dict) -> list[str]:
    """summary.md's "What the numbers mean": one row per environment."""
    envs = summary["envs"]

    def row(env: str) -> list[str]:
        p, g = summary["protocol"].get(env) or {}, summary["skyline_gate"].get(env)
        r, b = summary["ratio_to_skyline"].get(env), summary["break_even_alpha"].get(env)
        c = summary["skyline_cells_below"].get(env)
        fraction = p.get("sim_novice_fraction")
        gate = "—" if g is None else "passed" if g["passed"] else "failed at α " + ", ".join(
            f"{a:g}" for a in g["failed_alphas"])
        steps = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                          for k, v in (p.get("steps_per_alpha") or {}).items())
        degenerate = [m for m in summary["eval_sim_asks_always_or_never"].get(env, {}) if m not in (NOVICE, EXPERT)]
        return [
            env,
            "—" if fraction is None else f"{fraction:.0%}",
            "—" if b is None else f"{b:.2f}",
            "—" if r is None else f"{r['ratio']:.2f} ({r['best_eval_sim']})",
            gate + ("" if c is None else f"; {c['below']}/{c['cells']} cells below"),
            str(len(degenerate)),
            str(p.get("ood_threshold_rule", "—")),
            str(p.get("round_to_cents", "—")),
            steps or "—",
            ",".join(map(str, p.get("seeds", []))) or "—",
        ]

    return [
        "\n## What the numbers mean\n",
        "Sim novice: the simulated novice's training steps as a fraction of its novice's (the reference: 50%). "
        "Break-even: 1 − R_N/R_E; always_expert nets R_E(1 − alpha), so its AUC is R_E/2 and above this alpha "
        "always_novice beats it: asking pays only below it. Ratio: the reference's fraction of the skyline, the "
        "best eval_sim row's test AUC over the skyline's. Gate: the skyline's val_true reward is at least "
        "max(always_novice, always_expert) − its 95% CI at every alpha (else it is undertrained and ratios to it "
        "overstate the methods); cells: skyline_<feature> × seed × alpha val_true rewards below that max, no "
        "interval. Degenerate: eval_sim rows (baselines aside) whose choice asks at every test step, or at none, "
        "at every alpha.\n",
        md_table(["env", "sim novice", "break-even alpha", "ratio to skyline", "skyline gate", "degenerate eval_sim",
                  "OOD thresholds", "cents", "PPO steps per alpha", "seeds"], [row(e) for e in envs]),
    ]


def summarize(reports: list[dict], num_samples: int = 1000, seed: int = 0) -> dict:
    envs = [rep["env"] for rep in reports]
    if not reports:
        raise ValueError("a summary needs at least one report.")
    if len(set(envs)) != len(envs):
        raise ValueError(f"the reports cover environments {envs}; each environment should appear once.")
    # How many rows' eval_true − eval_sim gap has a paired 95% interval that excludes 0, per environment.
    gaps = {
        rep["env"]: {
            "rows": len(rep["sim_true_gap"]),
            "significant": sum(bool(g["paired"] and g["paired"]["significant"]) for g in rep["sim_true_gap"]),
        }
        for rep in reports
    }
    out = {"envs": envs, "sim_true_gaps": gaps, **meaning(reports), "selections": {},
           "sensitivity": {rep["env"]: rep["sensitivity"] for rep in reports if rep.get("sensitivity")}}
    for selection in SELECTIONS.values():
        per_env = {rep["env"]: [r for r in rep["rows"] if r["selection"] == selection] for rep in reports}
        methods = list(
            dict.fromkeys(
                r["method"]
                for rows in per_env.values()
                for r in rows
                if r["method"] == SKYLINE or not is_skyline(r["method"])
            )
        )
        if not methods:
            continue
        wins = {m: {"best": 0, "within_best": 0, "within_best_paper": 0, "envs": 0} for m in methods if m != SKYLINE}
        table = {m: {} for m in methods}
        for env, rows in per_env.items():
            ranked = sorted((r for r in rows if "rank" in r), key=lambda r: r["rank"])
            for r in rows:
                if r["method"] not in table:
                    continue
                table[r["method"]][env] = {
                    "auc": r["auc"],
                    "auc_ci95": r["auc_ci95"],
                    "num_seeds": r["num_seeds"],
                    "auc_subsample": r["auc_subsample"],
                    "rank": r.get("rank"),
                    "ratio_to_skyline": r["ratio_to_skyline"],
                    "vs_novice": r["vs_novice"],
                    "vs_best": r.get("vs_best"),
                    "sim_true_gap": r.get("sim_true_gap"),
                    "asks": r.get("asks"),  # "always" / "never": asks at every test step / at none, every alpha
                }
            for r in ranked:
                w = wins[r["method"]]
                w["envs"] += 1
                w["best"] += r["rank"] == 1
                w["within_best"] += bool(within_best(r))
                w["within_best_paper"] += _paper_within(r, ranked[0])
        out["selections"][selection] = {
            "methods": methods,
            "wins": wins,
            "per_env": table,
            "rliable": _rliable(reports, selection, num_samples, seed),
        }
    return out


def _cell(entry: dict | None, field: str) -> str:
    if entry is None:
        return "—"
    if field == "auc":
        s = entry["auc_subsample"]
        rank = "" if entry["rank"] is None else f" #{entry['rank']}"
        return f"{entry['auc']:.3f} ({s['mean']:.3f} ± {s['std']:.3f}){rank}"
    if field == "ratio_to_skyline":
        return "—" if entry[field] is None else f"{entry[field]:.2f}"
    c = entry[field]
    if c is None:
        return "—"
    return format_diff(c).split(" (unpaired")[0] + (" (unpaired)" if c["paired"] is None else "")


def _interval(d: dict) -> str:
    return f"{d['value']:.3f} [{d['ci95'][0]:.3f}, {d['ci95'][1]:.3f}]"


def auc_table(summary: dict) -> str:
    """Every row of every selection in one table: pooled AUC [95% bootstrap CI] (seeds), **best** = rank 1.

    The README's results tables are this table, copied verbatim (tests/test_docs.py checks that)."""
    envs = summary["envs"]

    def cell(entry: dict | None) -> str:
        if entry is None:
            return "—"
        lo, hi = entry["auc_ci95"]
        return f"{entry['auc']:.3f} [{lo:.3f}, {hi:.3f}] ({entry['num_seeds']})" + (" **best**" * (entry["rank"] == 1))

    body = sorted(
        [m, selection, *(cell(s["per_env"][m].get(e)) for e in envs)]
        for selection, s in summary["selections"].items()
        for m in s["methods"]
    )
    return md_table(["method", "selection", *envs], body)


def to_markdown(summary: dict) -> str:
    envs = summary["envs"]
    text = [
        f"# Summary over {len(envs)} environments: {', '.join(envs)}\n",
        "Paired differences and 'within best' use the paired bootstrap interval over each environment's test "
        "episodes (* = excludes 0); 'within best (paper)' means the mean ± 1.96 std intervals of the paper's "
        "subsample AUC overlap the best's. AUC cells: pooled AUC (paper's mean ± std) #rank.\n",
        "Significant eval_true − eval_sim gaps (paired CI excludes 0): "
        + ", ".join(f"{g['significant']} of {g['rows']} rows on {e}" for e, g in summary["sim_true_gaps"].items())
        + ".\n",
        *(meaning_markdown(summary) if "protocol" in summary else []),
        "\n## Every row: test AUC [95% bootstrap CI, stratified by seed] (seeds pooled)\n",
        "**best** marks the best method of its selection (the skyline aside).\n",
        auc_table(summary),
    ]
    for selection, s in summary["selections"].items():
        methods = s["methods"]
        text.append(f"\n## {selection}\n")
        wins = [
            [m, str(w["best"]), str(w["within_best"]), str(w["within_best_paper"]), str(w["envs"])]
            for m, w in sorted(s["wins"].items(), key=lambda kv: (-kv[1]["best"], -kv[1]["within_best"]))
        ]
        text += [
            "### Wins (number of environments)\n",
            md_table(["method", "best", "within best (paired CI)", "within best (paper)", "environments"], wins),
        ]
        for title, field in (
            ("Test AUC", "auc"),
            ("Fraction of the skyline's AUC", "ratio_to_skyline"),
            (f"AUC − {NOVICE} (paired)", "vs_novice"),
            ("AUC(eval_true) − AUC(eval_sim) (paired)", "sim_true_gap"),
        ):
            body = [[m, *(_cell(s["per_env"][m].get(e), field) for e in envs)] for m in methods]
            if all(c == "—" for row in body for c in row[1:]):
                continue
            text += [f"\n### {title}\n", md_table(["method", *envs], body)]
        r = s["rliable"]
        text.append("\n### Aggregates of the normalised AUC (rliable; 0 = always_novice, 1 = expert at no cost)\n")
        if r["iqm"]:
            body = [
                [m, _interval(r["iqm"][m]), _interval(r["optimality_gap"][m]), str(len(r["normalised_auc"][m]))]
                for m in sorted(r["iqm"], key=lambda m: -r["iqm"][m]["value"])
            ]
            text += [
                f"Over {', '.join(r['envs'])}; 95% stratified-bootstrap intervals over seeds.\n",
                md_table(["method", "IQM", "optimality gap", "seeds"], body),
            ]
        else:
            text.append("No method has a normalised AUC on every environment.")
        for why in r["excluded_envs"]:
            text.append(f"\n- left out: {why}")
        for m, why in r["excluded_methods"].items():
            text.append(f"\n- {m} left out: {why}")
    return "\n".join(text + sensitivity_markdown(summary)) + "\n"


def sensitivity_markdown(summary: dict) -> list[str]:
    """The reports' sensitivity rows side by side: each cell the AUC and its paired difference to the row
    calibrated on the simulated novice."""
    per_env = summary.get("sensitivity") or {}
    if not per_env:
        return []
    envs = list(per_env)
    cells = {env: {(r["method"], r["selection"]): r for r in rows} for env, rows in per_env.items()}
    keys = list(dict.fromkeys((r["method"], r["selection"]) for rows in per_env.values() for r in rows))
    body = [[m, sel, *(f"{cells[e][m, sel]['auc']:.3f} ({format_diff(cells[e][m, sel])})" if (m, sel) in cells[e]
                       else "—" for e in envs)] for m, sel in keys]
    return [
        "\n## Sensitivity (beyond the reference): logit and ood calibrated on the deployed novice\n",
        "The logit and ood rows with thresholds (and detectors) fitted on the deployed novice's own training-split "
        "rollouts (`algorithm.calibrate_on=deployed_novice`; YRC-0 allows it), outside the tables above. Each cell: "
        "test AUC (its paired difference to the row calibrated on the simulated novice: what the simulated pair "
        "costs the method).\n",
        md_table(["method", "selection", *envs], body),
    ]


def plot(summary: dict, path: str, top: int = 6) -> None:
    """Performance profiles (fraction of seed x environment scores above tau), one panel per selection."""
    selections = [(k, s) for k, s in summary["selections"].items() if s["rliable"]["iqm"]]
    fig = Figure(figsize=(7 * max(len(selections), 1), 5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, max(len(selections), 1), squeeze=False)[0]
    every = list(dict.fromkeys(m for _, s in selections for m in s["rliable"]["iqm"]))
    cmap = matplotlib.colormaps["tab10" if len(every) <= 10 else "tab20"]
    colours = {m: cmap(i % cmap.N) for i, m in enumerate(every)}  # one colour per method in every panel
    for ax, (selection, s) in zip(axes, selections):
        r = s["rliable"]
        ordered = sorted(r["iqm"], key=lambda m: -r["iqm"][m]["value"])
        shown = [m for m in ordered if m in (NOVICE, EXPERT, SKYLINE)] + [
            m for m in ordered if m not in (NOVICE, EXPERT, SKYLINE)
        ][:top]
        for m in shown:
            lo, hi = np.asarray(r["profile"]["ci95"][m])
            ax.plot(r["profile"]["tau"], r["profile"]["fraction"][m], label=m, color=colours[m])
            ax.fill_between(r["profile"]["tau"], lo, hi, color=colours[m], alpha=0.15)
        ax.set(
            xlabel="normalised AUC τ (0 = always_novice, 1 = expert at no cost)",
            ylabel="fraction of runs > τ",
            title=f"Performance profiles, {selection}",
        )
        ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)


def write_summary(summary: dict, out_dir: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f"summary.{k}") for k in ("json", "md", "png")}
    atomic_write_text(paths["json"], json.dumps(summary, indent=2) + "\n")
    atomic_write_text(paths["md"], to_markdown(summary))
    atomic_write(paths["png"], lambda tmp: plot(summary, tmp))
    return paths
