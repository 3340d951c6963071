"""Compare cost sweeps by the area under the test-reward-vs-alpha curve (YRC-Bench's headline metric).

    python -m duo_jax.report SWEEP_DIR [SWEEP_DIR ...] --out reports/<env>      # report.{json,md,png}
    python -m duo_jax.report --summary REPORT_DIR [...] --out reports           # summary.{json,md,png}

A report or summary already in --out (the shipped reports/<env>, say) is replaced only with --overwrite.

A method's sweeps (one per seed) are pooled: its test episodes at each alpha are the concatenation over
seeds. Rows are (method, selection); each has the AUC with a bootstrap interval, the paper's subsample
statistic, its paired AUC difference to always_novice and to the best method (on the test episodes of the
eval seeds both ran), and its fraction of the skyline's AUC. The statistics are in `duo_jax.stats`, the
cross-environment summary in `duo_jax.summary`.
"""
from __future__ import annotations

import json
import os

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from duo_jax import cli, paths, stats, suite_config, summary
from duo_jax.agents.agent import load_agent
from duo_jax.core.files import atomic_write, atomic_write_text
from duo_jax.experiment import DEFAULT_AGENTS
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
from duo_jax.stats import auc, bootstrap_auc
from duo_jax.tables import md_table

TEST_KEYS = ("reward_mean", "reward_ci95", "expert_fraction")
BASELINES = (NOVICE, EXPERT, "random_fixed")
PAPER_SUBSAMPLES = 1000


def method_name(sweep: dict) -> str:
    """The sweep's method without the game prefix the gridworld configs add (distshift_ppo -> ppo)."""
    method, game = sweep["method"], sweep.get("game")
    return method[len(game) + 1:] if isinstance(game, str) and method.startswith(game + "_") else method


def _label(sweep: dict) -> str:
    return sweep.get("name", sweep["method"])


def _check_sweep(sweep: dict, where: str) -> None:
    alphas = sweep.get("alphas")
    selections = sweep.get("selections")
    if not isinstance(alphas, list) or not isinstance(selections, dict) or not isinstance(sweep.get("method"), str):
        raise ValueError(f"{where} needs 'method', 'alphas' (a list) and 'selections' (an object).")
    for field in ("seed", "eval_seed"):
        if not isinstance(sweep.get(field, 0), int):
            raise ValueError(f"{where} has {field} {sweep[field]!r}; it should be an integer.")
    if not any(k in selections for k in SELECTIONS):
        raise ValueError(f"{where} has none of the selections {list(SELECTIONS)}.")
    for key, entries in selections.items():
        if key not in SELECTIONS:
            continue
        if not isinstance(entries, list) or len(entries) != len(alphas):
            raise ValueError(f"{where} selection '{key}' needs one entry per alpha ({len(alphas)}).")
        for alpha, e in zip(alphas, entries):
            ok = isinstance(e, dict) and e.get("alpha") == alpha and _numbers(e.get("episode_rewards"))
            test = e.get("test") if isinstance(e, dict) else None
            if not ok or not isinstance(test, dict) or not _numbers(
                    [test.get(k) for k in TEST_KEYS] + [test.get("episode_length_mean", 1.0)]):
                raise ValueError(f"{where} selection '{key}', alpha {alpha}: expected numbers for 'alpha', "
                                 f"'episode_rewards' (a list) and the test's {', '.join(TEST_KEYS)}.")


def _numbers(values) -> bool:
    return isinstance(values, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def load_sweeps(paths: list[str]) -> list[dict]:
    sweeps = []
    for path in paths:
        file, sweep = read_json(path, "sweep.json", "sweep")
        if not isinstance(sweep, dict):
            raise ValueError(f"{file} holds no JSON object; expected a sweep.json as python -m duo_jax.sweep "
                             "writes it.")
        _check_sweep(sweep, file)
        sweeps.append(sweep)
    return sweeps


# ---------------------------------------------------------------- pooling seeds

def _weighted(values, weights) -> float:
    return float(np.dot(values, weights) / np.sum(weights))


def _pooled_ci(cis, counts) -> float:
    """The 95% half-width of the episode-weighted mean of seeds' means, from each seed's own half-width."""
    return float(np.sqrt(np.sum((np.asarray(counts, float) * np.asarray(cis, float)) ** 2)) / np.sum(counts))


def _pool_selection(group: list[dict], key: str, alphas) -> dict:
    """One selection of a method's sweeps, pooled over seeds (sorted by eval_seed)."""
    per_seed = []
    for s in group:
        try:
            per_seed.append(stats.episode_matrix(alphas, [e["episode_rewards"] for e in s["selections"][key]]))
        except ValueError as e:
            raise ValueError(f"sweep '{_label(s)}' selection '{key}': {e}") from None
    counts = [m.shape[1] for m in per_seed]
    entries = [[s["selections"][key][j] for s in group] for j in range(len(alphas))]   # [alpha][seed]
    steps = [[e["test"].get("episode_length_mean", 1.0) * n for e, n in zip(row, counts)] for row in entries]
    val = val_ci = None
    if all(isinstance(e.get("val"), dict) and "reward_mean" in e["val"] for row in entries for e in row):
        val = [_weighted([e["val"]["reward_mean"] for e in row], [e["val"].get("episodes", 1) for e in row])
               for row in entries]
        if all("reward_ci95" in e["val"] for row in entries for e in row):
            val_ci = [_pooled_ci([e["val"]["reward_ci95"] for e in row], [e["val"].get("episodes", 1) for e in row])
                      for row in entries]
    return {
        "episodes": np.concatenate(per_seed, axis=1),
        "strata": np.repeat([s.get("eval_seed", 0) for s in group], counts),
        "per_seed": per_seed,
        "episodes_per_seed": counts,
        "expert_fraction": [
            _weighted([e["test"]["expert_fraction"] for e in row], w) for row, w in zip(entries, steps)
        ],
        "val_reward_mean": val,
        "val_reward_ci95": val_ci,
    }


def pool_sweeps(sweeps: list[dict]) -> list[dict]:
    """Group sweeps by method and pool each method's seeds; returns one entry per method, in input order."""
    if not sweeps:
        raise ValueError("a report needs at least one sweep.")
    first = sweeps[0]
    for s in sweeps[1:]:
        if len(s["alphas"]) != len(first["alphas"]) or not np.allclose(s["alphas"], first["alphas"]):
            raise ValueError(
                f"sweeps '{_label(first)}' and '{_label(s)}' have different alphas "
                f"({first['alphas']} vs {s['alphas']}), so their AUCs do not compare."
            )
        if (s.get("env"), s.get("game")) != (first.get("env"), first.get("game")):
            raise ValueError(
                f"sweeps '{_label(first)}' and '{_label(s)}' ran on different environments "
                f"({first.get('game') or first.get('env')} vs {s.get('game') or s.get('env')}); "
                "report one environment at a time."
            )
    alphas = [float(a) for a in first["alphas"]]
    groups: dict[str, list[dict]] = {}
    for s in sweeps:
        groups.setdefault(method_name(s), []).append(s)
    pooled = []
    for method, group in groups.items():
        group = sorted(group, key=lambda s: s.get("eval_seed", 0))
        for a, b in zip(group, group[1:]):
            if a.get("eval_seed", 0) == b.get("eval_seed", 0):
                raise ValueError(
                    f"sweeps '{_label(a)}' and '{_label(b)}' of method '{method}' share eval_seed "
                    f"{a.get('eval_seed', 0)}; pool only sweeps run with different seeds."
                )
        keys = [k for k in SELECTIONS if k in group[0]["selections"]]
        for s in group[1:]:
            other = [k for k in SELECTIONS if k in s["selections"]]
            if other != keys:
                raise ValueError(
                    f"sweeps '{_label(group[0])}' and '{_label(s)}' of method '{method}' have different "
                    f"selections ({keys} vs {other}), so their seeds do not pool."
                )
        pooled.append(
            {
                "method": method,
                "sweeps": [_label(s) for s in group],
                "alphas": alphas,
                "env": first.get("game") or first.get("env"),
                "seeds": [s.get("seed", 0) for s in group],
                "eval_seeds": [s.get("eval_seed", 0) for s in group],
                "selections": {SELECTIONS[k]: _pool_selection(group, k, alphas) for k in keys},
            }
        )
    return pooled


# ---------------------------------------------------------------- rows and their comparisons


def asks(expert_fraction) -> str | None:
    """"always" or "never" when the chosen policy asks at every test step, or at none, at every alpha: a choice
    that degenerated to a baseline (e.g. a simulated novice so weak that asking always wins on val_sim)."""
    if all(f >= 1 - 1e-9 for f in expert_fraction):
        return "always"
    if all(f <= 1e-9 for f in expert_fraction):
        return "never"
    return None


def _row(p: dict, selection: str, d: dict, num_samples: int, seed: int) -> dict:
    alphas, episodes = p["alphas"], d["episodes"]
    n = episodes.shape[1]
    return {
        "env": p["env"],
        "method": p["method"],
        "selection": selection,
        "sweeps": p["sweeps"],
        "seeds": p["seeds"],
        "eval_seeds": p["eval_seeds"],
        "num_seeds": len(p["seeds"]),
        "episodes_per_seed": d["episodes_per_seed"],
        "num_episodes": n,
        "alphas": alphas,
        "reward_mean": episodes.mean(axis=1).tolist(),
        "reward_ci95": (1.96 * episodes.std(axis=1) / np.sqrt(n)).tolist(),  # as the evaluator's summary
        "expert_fraction": d["expert_fraction"],
        "val_reward_mean": d["val_reward_mean"],
        "val_reward_ci95": d["val_reward_ci95"],
        "asks": asks(d["expert_fraction"]),
        "auc": auc(alphas, episodes.mean(axis=1)),
        "auc_ci95": list(bootstrap_auc(alphas, episodes, num_samples, seed, strata=d["strata"])),
        "auc_per_seed": [auc(alphas, m.mean(axis=1)) for m in d["per_seed"]],
        "auc_subsample": stats.subsample_auc(alphas, episodes, PAPER_SUBSAMPLES, seed=seed),
    }


def _shared_seeds(a: dict, b: dict) -> tuple[list[int], str | None]:
    """The eval seeds on which rows a and b met the same test episodes, or why there are none."""
    per_a = dict(zip(a["eval_seeds"], a["episodes_per_seed"]))
    per_b = dict(zip(b["eval_seeds"], b["episodes_per_seed"]))
    shared = [s for s in a["eval_seeds"] if s in per_b]
    if not shared:
        return [], f"{a['method']} has eval seeds {a['eval_seeds']} and {b['method']} {b['eval_seeds']}"
    if any(per_a[s] != per_b[s] for s in shared):
        return [], (
            f"{a['method']} has {[per_a[s] for s in shared]} test episodes per seed and "
            f"{b['method']} {[per_b[s] for s in shared]}"
        )
    return shared, None


def _compare(a: dict, b: dict, data: dict, num_samples: int, seed: int) -> dict:
    """AUC(a) - AUC(b), with a paired bootstrap interval over the test episodes both met: those of the eval
    seeds they share (`eval_seeds`; all of a's when both ran the same seeds). Without shared seeds the
    difference is of the two AUCs, unpaired, with the `reason`."""
    out = {"to": b["method"], "diff": a["auc"] - b["auc"], "paired": None}
    shared, reason = _shared_seeds(a, b)
    if reason is not None:
        out["reason"] = reason
        return out
    (ea, sa), (eb, sb) = data[a["method"], a["selection"]], data[b["method"], b["selection"]]
    ma, mb = np.isin(sa, shared), np.isin(sb, shared)
    d = stats.paired_difference(a["alphas"], ea[:, ma], eb[:, mb], sa[ma], num_samples, seed)
    out["diff"], out["paired"] = d["diff"], {"ci95": d["ci95"], "significant": d["significant"]}
    out["eval_seeds"], out["all_seeds"] = shared, shared == a["eval_seeds"] == b["eval_seeds"]
    return out


def _skyline(rows: list[dict], data: dict) -> tuple[dict | None, str | None]:
    """The skyline row: of the skyline_<feature> rows, the one with the best val_true reward (mean over alphas)."""
    candidates = [r for r in rows if is_skyline(r["method"]) and r["selection"] == "eval_true"]
    if not candidates:
        return None, None
    plain = [r for r in candidates if r["method"] == SKYLINE]
    if plain:
        if len(candidates) > 1:
            raise ValueError(
                f"sweeps of method '{SKYLINE}' and of {[r['method'] for r in candidates if r not in plain]} "
                "both claim the skyline; name each skyline sweep skyline_<feature>."
            )
        plain[0].update(chosen_feature=None, skyline_candidates={SKYLINE: None}, skyline_not_weighed={})
        return plain[0], None
    missing = [r["method"] for r in candidates if r["val_reward_mean"] is None]
    if missing:
        raise ValueError(
            f"skyline sweeps {missing} have no val reward_mean in their entries, so no skyline can be chosen."
        )
    scores = {r["method"]: float(np.mean(r["val_reward_mean"])) for r in candidates}
    # A candidate scored on fewer seeds than the others would be chosen on a different sample: weigh only
    # those with the most seeds, and name the others.
    most = max(r["num_seeds"] for r in candidates)
    not_weighed = {r["method"]: f"{r['num_seeds']} of {most} seeds" for r in candidates if r["num_seeds"] < most}
    chosen = max((r for r in candidates if r["num_seeds"] == most), key=lambda r: scores[r["method"]])
    row = {
        **chosen,
        "method": SKYLINE,
        "chosen_method": chosen["method"],
        "chosen_feature": chosen["method"][len(SKYLINE) + 1 :],
        "skyline_candidates": scores,
        "skyline_not_weighed": not_weighed,
    }
    data[SKYLINE, "eval_true"] = data[chosen["method"], "eval_true"]
    return row, rows.index(candidates[0])


def build_table(sweeps: list[dict], num_samples: int = 1000, seed: int = 0) -> list[dict]:
    """One row per (method, selection) with every per-environment statistic (see the module docstring)."""
    rows, data = [], {}
    for p in pool_sweeps(sweeps):
        for selection, d in p["selections"].items():
            rows.append(_row(p, selection, d, num_samples, seed))
            data[p["method"], selection] = (d["episodes"], d["strata"])
    sky, at = _skyline(rows, data)
    if sky is not None and at is not None:
        rows.insert(at, sky)
    by_key = {(r["method"], r["selection"]): r for r in rows}
    for selection in SELECTIONS.values():
        ranked = sorted(
            (r for r in rows if r["selection"] == selection and not is_skyline(r["method"])
             and not suite_config.is_sensitivity(r["method"])),
            key=lambda r: -r["auc"],
        )
        for rank, r in enumerate(ranked, 1):
            r["rank"] = rank
            r["vs_best"] = _compare(r, ranked[0], data, num_samples, seed)
    for r in rows:
        novice = by_key.get((NOVICE, r["selection"]))
        r["vs_novice"] = _compare(r, novice, data, num_samples, seed) if novice else None
        r["ratio_to_skyline"] = (r["auc"] / sky["auc"]) if sky is not None and sky["auc"] > 0 else None
        sim = by_key.get((r["method"], "eval_sim"))
        if r["selection"] == "eval_true" and sim is not None:
            r["sim_true_gap"] = _compare(r, sim, data, num_samples, seed)
        base = by_key.get((r["method"].removesuffix(suite_config.DEPLOYED), r["selection"]))
        if suite_config.is_sensitivity(r["method"]) and base is not None:  # what calibrating on the real novice gives
            r["vs_sim_calibrated"] = _compare(r, base, data, num_samples, seed)
    return rows


# ---------------------------------------------------------------- what the numbers mean

def _by_method(rows: list[dict], selection: str = "eval_true") -> dict[str, dict]:
    return {r["method"]: r for r in rows if r["selection"] == selection}


def _baselines(rows: list[dict]) -> tuple[dict | None, dict | None]:
    """always_novice's and always_expert's rows (both selections hold the same episodes)."""
    pick = lambda m: _by_method(rows).get(m) or _by_method(rows, "eval_sim").get(m)  # noqa: E731
    return pick(NOVICE), pick(EXPERT)


def break_even_alpha(rows: list[dict]) -> float | None:
    """1 - R_N/R_E: always_expert nets R_E(1 - alpha), so above this alpha always_novice beats it and asking
    cannot pay. R_N: always_novice's mean test reward; R_E: always_expert's at alpha = 0."""
    novice, expert = _baselines(rows)
    if novice is None or expert is None or expert["alphas"][0] != 0 or expert["reward_mean"][0] <= 0:
        return None
    return 1 - float(np.mean(novice["reward_mean"])) / expert["reward_mean"][0]


def _is_ppo(method: str) -> bool:
    return method == "ppo" or method.startswith("ppo_")


def reference_ratio(rows: list[dict]) -> dict | None:
    """YRC-Bench's fraction of the skyline (its fig. 4): the best eval_sim row's test AUC over the skyline's;
    also without the PPO rows, as the paper's "best method" bar (no RL) has it."""
    sky = _by_method(rows).get(SKYLINE)
    sim = [r for r in rows if r["selection"] == "eval_sim" and not is_skyline(r["method"])
           and not suite_config.is_sensitivity(r["method"])]
    if sky is None or sky["auc"] <= 0 or not sim:
        return None
    out = {"skyline_auc": sky["auc"]}
    for suffix, pool in (("", sim), ("_without_ppo", [r for r in sim if not _is_ppo(r["method"])])):
        if pool:
            best = max(pool, key=lambda r: r["auc"])
            out |= {f"best_eval_sim{suffix}": best["method"], f"auc{suffix}": best["auc"],
                    f"ratio{suffix}": best["auc"] / sky["auc"]}
    return out


def skyline_gate(rows: list[dict]) -> dict | None:
    """Passed when the skyline's val_true reward at every alpha is at least max(always_novice, always_expert)
    there minus the skyline's 95% CI: a skyline below that, on its own selection split, is undertrained."""
    sky = _by_method(rows).get(SKYLINE)
    by = _by_method(rows)
    novice, expert = by.get(NOVICE), by.get(EXPERT)
    if sky is None or novice is None or expert is None:
        return None
    vals = [sky["val_reward_mean"], sky.get("val_reward_ci95"), novice["val_reward_mean"], expert["val_reward_mean"]]
    if any(v is None for v in vals):
        return None
    floor = [max(n, e) for n, e in zip(vals[2], vals[3])]
    failed = [a for a, s, ci, f in zip(sky["alphas"], vals[0], vals[1], floor) if s < f - ci]
    return {"passed": not failed, "failed_alphas": failed, "skyline_val_true": vals[0], "skyline_ci95": vals[1],
            "baseline_val_true": floor}


def skyline_cells_below(sweeps: list[dict]) -> dict | None:
    """Over every skyline_<feature> sweep, seed and alpha: how many val_true rewards are below max(always_novice,
    always_expert) of the same seed and alpha (no interval), the count issue 38 quotes."""
    val = {}
    for s in sweeps:
        if "val_true" in s["selections"]:
            entries = s["selections"]["val_true"]
            val[method_name(s), s.get("seed", 0)] = [(e.get("val") or {}).get("reward_mean") for e in entries]
    cells = below = 0
    for (method, seed), rewards in val.items():
        floor = (val.get((NOVICE, seed)), val.get((EXPERT, seed)))
        if not is_skyline(method) or None in floor:
            continue
        for r, n, e in zip(rewards, *floor):
            if None not in (r, n, e):
                cells, below = cells + 1, below + (r < max(n, e))
    return {"cells": cells, "below": below} if cells else None


def _one(values):
    """A setting's value when every sweep agrees, else the sorted distinct values."""
    distinct = sorted({json.dumps(v, sort_keys=True) for v in values})
    values = [json.loads(v) for v in distinct]
    return values[0] if len(values) == 1 else (values or None)


def _recorded_or_suite_config(sweep: dict) -> tuple[dict | None, bool]:
    """The sweep's config as sweep.json records it, else (older sweeps) today's `duo_jax.suite` config of its row."""
    if isinstance(sweep.get("config"), dict):
        return sweep["config"], True
    game, method = sweep.get("game"), method_name(sweep)
    if game not in suite_config.ENVS or method not in suite_config.all_methods(game):
        return None, False
    return suite_config.build_config(game, method, sweep.get("seed", 0), "experiments/suite", ()).to_dict(), False


def _shipped_agents(game: str) -> dict | None:
    """Older sweeps: the metadata of the agents the package ships for `game` (those an empty agents.* means)."""
    out = {}
    for field, role in DEFAULT_AGENTS.items():
        path = os.path.join(paths.AGENTS, game, role, "agent")
        if not os.path.isdir(path):
            return None
        config = load_agent(path).config
        out[field] = {k: config.get(k) for k in ("run_id", "train_steps", "trained_on")}
    return out


def protocol(sweeps: list[dict]) -> dict:
    """The settings behind an environment's numbers: seeds, the agents' budgets and the simulated novice's
    fraction of its novice's run, the OOD threshold rule, cost rounding, PPO and skyline steps per alpha.
    Read from each sweep.json; for sweeps older than those fields, from today's suite configs and shipped
    agents, and `recorded` says so."""
    configs = [(_recorded_or_suite_config(s), s) for s in sweeps]
    recorded = all(ok for (_, ok), _ in configs) and all(isinstance(s.get("agents"), dict) for s in sweeps)
    game = sweeps[0].get("game") if sweeps else None
    agents = sweeps[0].get("agents") if sweeps and isinstance(sweeps[0].get("agents"), dict) else None
    shipped = all(c is not None and not any((c.get("agents") or {}).values()) for (c, _), _ in configs)
    if agents is None and isinstance(game, str) and shipped:   # empty agents.* fields: the shipped agents
        agents = _shipped_agents(game)
    sim, novice = (agents or {}).get("train_novice") or {}, (agents or {}).get("test_novice") or {}
    steps = {}
    for (config, _), s in configs:
        if config is not None and s.get("algorithm") == "ppo":
            name = "skyline" if is_skyline(method_name(s)) else "ppo"
            steps.setdefault(name, []).append(config.get("algorithm", {}).get("total_steps"))
    ood = [(c or {}).get("algorithm", {}).get("threshold_rule", "percentile_search")
           for (c, _), s in configs if s.get("algorithm") == "ood"]
    return {
        "seeds": sorted({s.get("seed", 0) for s in sweeps}),
        "eval_seeds": sorted({s.get("eval_seed", 0) for s in sweeps}),
        "agents": None if agents is None else {
            "sim_novice": agents.get("train_novice"), "novice": agents.get("test_novice"),
            "expert": agents.get("test_expert"),
        },
        "sim_novice_fraction": sim["train_steps"] / novice["train_steps"]
        if sim.get("train_steps") and novice.get("train_steps") else None,
        "sim_novice_same_run": bool(sim.get("run_id")) and sim.get("run_id") == novice.get("run_id"),
        "ood_threshold_rule": _one(ood),
        "round_to_cents": _one([bool(s.get("round_to_cents", False)) for s in sweeps]),
        "steps_per_alpha": {k: _one(v) for k, v in steps.items()},
        "num_test_episodes": _one([s.get("num_test_episodes") for s in sweeps]),
        "recorded": recorded,
    }


def analyses(rows: list[dict], sweeps: list[dict] | None = None) -> dict:
    """What report.json holds besides the rows: rankings, the skyline's choice, the eval_sim/eval_true gaps,
    and what the numbers mean (break-even alpha, the reference's ratio to the skyline, the skyline's gate,
    the choices that ask always or never, and the protocol when the sweeps are given)."""
    ranking = {}
    for selection in SELECTIONS.values():
        ranked = sorted((r for r in rows if r["selection"] == selection and "rank" in r), key=lambda r: r["rank"])
        if ranked:
            ranking[selection] = [
                {
                    "method": r["method"],
                    "auc": r["auc"],
                    "ratio_to_skyline": r["ratio_to_skyline"],
                    "within_best": within_best(r),
                }
                for r in ranked
            ]
    sky = next((r for r in rows if r["method"] == SKYLINE and r["selection"] == "eval_true"), None)
    return {
        "env": rows[0]["env"] if rows else None,
        "ranking": ranking,
        "skyline": None
        if sky is None
        else {
            "auc": sky["auc"],
            "chosen_feature": sky["chosen_feature"],
            "val_true_reward_by_candidate": sky["skyline_candidates"],
            "not_weighed": sky["skyline_not_weighed"],
        },
        "sim_true_gap": [{"method": r["method"], **r["sim_true_gap"]} for r in rows if "sim_true_gap" in r],
        "break_even_alpha": break_even_alpha(rows),
        "ratio_to_skyline": reference_ratio(rows),
        "skyline_gate": skyline_gate(rows),
        "asks_always_or_never": {
            selection: {r["method"]: r["asks"] for r in rows if r["selection"] == selection and r.get("asks")}
            for selection in SELECTIONS.values()
        },
        "sensitivity": [
            {"method": r["method"], "selection": r["selection"], "auc": r["auc"], **r["vs_sim_calibrated"]}
            for r in rows
            if "vs_sim_calibrated" in r
        ],
        "skyline_cells_below": None if sweeps is None else skyline_cells_below(sweeps),
        "protocol": None if sweeps is None else protocol(sweeps),
    }


# ---------------------------------------------------------------- markdown and plot


def _paper(r: dict) -> str:
    s = r["auc_subsample"]
    return f"{s['mean']:.3f} ± {s['std']:.3f}"


def _protocol_lines(p: dict) -> list[str]:
    agents = p["agents"] or {}
    budget = ", ".join(f"{role} {a['train_steps']:,} steps" for role, a in agents.items() if a and a.get("train_steps"))
    fraction = p["sim_novice_fraction"]
    lines = [
        f"- Seeds {', '.join(map(str, p['seeds']))}; {p['num_test_episodes']} test episodes per seed and alpha.",
        f"- Agents: {budget or 'unknown'}. The simulated novice is "
        + ("unknown" if fraction is None else f"{fraction:.0%} of its novice's steps")
        + (" (a snapshot of the same run)" if p["sim_novice_same_run"] else "")
        + "; the reference's is 50% (40M of 80M).",
        f"- OOD thresholds: {p['ood_threshold_rule']}; prices rounded to cents (round_to_cents): "
        f"{p['round_to_cents']}; PPO/skyline steps per alpha: "
        + (", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in p["steps_per_alpha"].items())
           or "none") + ".",
    ]
    if not p["recorded"]:
        lines.append("- These sweeps predate sweep.json's config and agents fields: the settings above are today's "
                     "suite configs and shipped agents.")
    return lines


def meaning_markdown(info: dict) -> list[str]:
    """The report's "What the numbers mean" section, from `analyses`."""
    text = ["\n## What the numbers mean\n"]
    b = info.get("break_even_alpha")
    if b is not None:
        text.append(f"- Break-even alpha 1 − R_N/R_E = {b:.2f}: always_expert nets R_E(1 − alpha) (its AUC is R_E/2 "
                    "over alpha in [0, 1]), so above this alpha always_novice beats it and asking cannot pay.")
    g = info.get("skyline_gate")
    if g is not None:
        failed = ", ".join(f"{a:g}" for a in g["failed_alphas"])
        text.append("- Skyline gate (val_true reward ≥ max(always_novice, always_expert) − its 95% CI at every "
                    "alpha): " + ("passed." if g["passed"] else f"FAILED at alpha {failed}: the skyline is "
                                  "undertrained there, and fractions of it overstate the methods."))
    c = info.get("skyline_cells_below")
    if c is not None:
        text.append(f"- Every skyline_<feature> × seed × alpha: {c['below']} of {c['cells']} val_true rewards are "
                    "below max(always_novice, always_expert) of the same seed and alpha (no interval).")
    r = info.get("ratio_to_skyline")
    if r is not None:
        text.append(f"- The reference's fraction of the skyline: best eval_sim row {r['best_eval_sim']} "
                    f"{r['ratio']:.2f}" + (f"; without PPO rows {r['best_eval_sim_without_ppo']} "
                                            f"{r['ratio_without_ppo']:.2f}" if "ratio_without_ppo" in r else "") + ".")
    asks = info.get("asks_always_or_never", {}).get("eval_sim", {})
    flagged = {k: v for k, v in asks.items() if k not in (NOVICE, EXPERT)}
    if flagged:
        text.append("- eval_sim choices that ask at every test step or at none, at every alpha (a baseline in "
                    "disguise): " + ", ".join(f"{m} ({v})" for m, v in sorted(flagged.items())) + ".")
    if info.get("protocol"):
        text += _protocol_lines(info["protocol"])
    return text if len(text) > 1 else []


def to_markdown(rows, info: dict | None = None) -> str:
    if not rows:
        return ""
    sensitivity = [r for r in rows if "vs_sim_calibrated" in r]
    rows = [r for r in rows if not suite_config.is_sensitivity(r["method"])]  # beside the main table, not in it
    alphas = [f"α={a:g}" for a in rows[0]["alphas"]]
    reward = [
        [
            r["method"],
            r["selection"],
            *(f"{m:.2f} ± {c:.2f}" for m, c in zip(r["reward_mean"], r["reward_ci95"])),
            f"{r['auc']:.3f} [{r['auc_ci95'][0]:.3f}, {r['auc_ci95'][1]:.3f}]",
            _paper(r),
            ",".join(map(str, r["eval_seeds"])),
            str(r["num_episodes"]),
        ]
        for r in rows
    ]
    expert = [[r["method"], r["selection"], *(f"{f:.3f}" for f in r["expert_fraction"])] for r in rows]
    size = rows[0]["auc_subsample"]["size"]
    text = [
        f"# Cost sweep on {rows[0]['env']}\n",
        "## Test reward (mean ± 95% CI) and AUC over alpha\n",
        "AUC [95% bootstrap over test episodes, stratified by seed]; paper: mean ± std of the AUC over "
        f"{PAPER_SUBSAMPLES} subsamples of {size} episodes per alpha (YRC-Bench's statistic).\n",
        md_table(["method", "selection", *alphas, "AUC [95% CI]", "AUC (paper)", "eval seeds", "episodes"], reward),
        "\n## Expert fraction of test steps\n",
        md_table(["method", "selection", *alphas], expert),
    ]
    for selection in SELECTIONS.values():
        ranked = sorted((r for r in rows if r["selection"] == selection and "rank" in r), key=lambda r: r["rank"])
        if not ranked:
            continue
        body = [
            [
                str(r["rank"]),
                r["method"],
                f"{r['auc']:.3f}",
                format_diff(r["vs_novice"]),
                format_diff(r["vs_best"]),
                "—" if r["ratio_to_skyline"] is None else f"{r['ratio_to_skyline']:.2f}",
            ]
            for r in ranked
        ]
        text += [
            f"\n## Ranking on {selection} by test AUC (best: {ranked[0]['method']})\n",
            "Differences are paired (the same test episodes), with 95% bootstrap intervals; * = the interval "
            "excludes 0.\n",
            md_table(["rank", "method", "AUC", f"AUC − {NOVICE}", "AUC − best", "fraction of skyline"], body),
        ]
    gaps = [[r["method"], format_diff(r["sim_true_gap"])] for r in rows if "sim_true_gap" in r]
    if gaps:
        text += [
            "\n## eval_true − eval_sim (choice on the real pair minus choice on the simulated pair)\n",
            md_table(["method", "AUC(eval_true) − AUC(eval_sim)"], gaps),
        ]
    if sensitivity:
        body = [[r["method"], r["selection"], f"{r['auc']:.3f} [{r['auc_ci95'][0]:.3f}, {r['auc_ci95'][1]:.3f}]",
                 format_diff(r["vs_sim_calibrated"])] for r in sensitivity]
        text += [
            "\n## Sensitivity (beyond the reference): logit and ood calibrated on the deployed novice\n",
            "The same rows with thresholds (and OOD detectors) fitted on the deployed novice's own training-split "
            "rollouts instead of the simulated novice's (`algorithm.calibrate_on=deployed_novice`; YRC-0 allows "
            "it). The difference is paired, to the row calibrated on the simulated novice: what the simulated "
            "pair costs the method.\n",
            md_table(["method", "selection", "AUC [95% CI]", "AUC − sim-calibrated row"], body),
        ]
    sky = next((r for r in rows if r["method"] == SKYLINE and r["selection"] == "eval_true"), None)
    if sky is not None and sky["chosen_feature"] is not None:
        body = [
            [
                m,
                f"{v:.3f}",
                "chosen"
                if m == sky["chosen_method"]
                else (f"not weighed: {sky['skyline_not_weighed'][m]}" if m in sky["skyline_not_weighed"] else ""),
            ]
            for m, v in sky["skyline_candidates"].items()
        ]
        text += [
            f"\n## Skyline: {sky['chosen_method']}, the best val_true reward (mean over alphas)\n",
            md_table(["skyline feature", "val_true reward", ""], body),
        ]
    text += meaning_markdown(analyses(rows) if info is None else info)
    return "\n".join(text) + "\n"


def _plotted(rows, top: int = 5) -> list[str]:
    """Methods on the plot: all when few, else the baselines, the skyline and the `top` best others."""
    methods = list(dict.fromkeys(r["method"] for r in rows if not suite_config.is_sensitivity(r["method"])))
    if any(m == SKYLINE for m in methods):
        methods = [m for m in methods if m == SKYLINE or not is_skyline(m)]
    if len(methods) <= 10:
        return methods
    best = {}
    for r in rows:
        best[r["method"]] = max(best.get(r["method"], -np.inf), r["auc"])
    others = sorted((m for m in methods if m not in BASELINES and m != SKYLINE), key=lambda m: -best[m])[:top]
    return [m for m in methods if m in BASELINES or m == SKYLINE or m in others]


def plot(rows, path: str) -> None:
    fig = Figure(figsize=(14, 5.5))
    FigureCanvasAgg(fig)  # Agg without pyplot: no global figure state, no display needed
    ax_r, ax_e = fig.subplots(1, 2)
    methods = _plotted(rows)
    cmap = matplotlib.colormaps["tab10" if len(methods) <= 10 else "tab20"]
    colours = {m: cmap(i % cmap.N) for i, m in enumerate(methods)}
    for r in rows:
        if r["method"] not in colours:
            continue
        style = dict(color=colours[r["method"]], linestyle="-" if r["selection"] == "eval_true" else "--", marker="o")
        mean, ci = np.asarray(r["reward_mean"]), np.asarray(r["reward_ci95"])
        ax_r.plot(r["alphas"], mean, label=f"{r['method']} {r['selection']} (AUC {r['auc']:.2f})", **style)
        ax_r.fill_between(r["alphas"], mean - ci, mean + ci, color=style["color"], alpha=0.08)
        ax_e.plot(r["alphas"], r["expert_fraction"], **style)
    ax_r.set(xlabel="alpha (expert cost weight)", ylabel="test reward", title="Test reward vs alpha (shaded: 95% CI)")
    ax_e.set(xlabel="alpha (expert cost weight)", ylabel="expert fraction", title="Expert fraction vs alpha")
    fig.legend(*ax_r.get_legend_handles_labels(), loc="center right", fontsize="small", frameon=False)
    shown = "" if len(methods) == len({r["method"] for r in rows}) else " (baselines, skyline and the top 5 by AUC)"
    fig.suptitle(f"Cost sweep on test{shown}: eval_true solid, eval_sim dashed")
    fig.tight_layout(rect=(0, 0, 0.76, 1))
    fig.savefig(path, format="png", dpi=120)


def check_out(out_dir: str, kind: str, overwrite: bool, flag: str = "--out") -> None:
    """A report already in `out_dir` (the shipped reports/<env>, say) is replaced only on request: `kind`
    "report" or "summary" names the files that would be written."""
    found = [f"{kind}.{ext}" for ext in ("json", "md", "png") if os.path.exists(os.path.join(out_dir, f"{kind}.{ext}"))]
    if found and not overwrite:
        raise ValueError(f"{flag}: {out_dir} already holds a {kind} ({', '.join(found)}); pass --overwrite to replace "
                         f"it, or choose another {flag}.")


def write_report(rows, out_dir: str, sweeps: list[dict] | None = None) -> dict:
    """report.{json,md,png}; with the `sweeps` the rows came from, report.json and .md say their protocol."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: os.path.join(out_dir, f"report.{k}") for k in ("json", "md", "png")}
    info = analyses(rows, sweeps)
    atomic_write_text(paths["json"], json.dumps({**info, "rows": rows}, indent=2) + "\n")
    atomic_write_text(paths["md"], to_markdown(rows, info))
    atomic_write(paths["png"], lambda tmp: plot(rows, tmp))
    return paths


@cli.interruptible()  # each file is written whole: a rerun starts over
def main(argv=None) -> None:
    parser = cli.ArgumentParser(prog="python -m duo_jax.report", description=__doc__.split("\n\nA method")[0])
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="DIR",
        help="sweep directories (or sweep.json files); with --summary, report directories",
    )
    parser.add_argument("--summary", action="store_true", help="summarise report directories across environments")
    parser.add_argument("--out", required=True, help="output directory for report.* (or summary.*)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    parser.add_argument("--overwrite", action="store_true", help="replace a report (or summary) already in --out")
    args = parser.parse_args(argv)
    if args.bootstrap < 1:
        cli.fail(f"--bootstrap must be a positive integer; got {args.bootstrap}.")
    try:
        check_out(args.out, "summary" if args.summary else "report", args.overwrite)
        if args.summary:
            result = summary.summarize(summary.load_reports(args.inputs), args.bootstrap, args.seed)
            paths, text = summary.write_summary(result, args.out), summary.to_markdown(result)
        else:
            sweeps = load_sweeps(args.inputs)
            rows = build_table(sweeps, args.bootstrap, args.seed)
            paths = write_report(rows, args.out, sweeps)
            with open(paths["md"]) as f:
                text = f.read()
    except (ValueError, OSError) as e:
        cli.fail(e)
    print(text)
    print("wrote " + ", ".join(paths.values()))


if __name__ == "__main__":
    main()
