"""The results tables every run prints at its end and writes beside its JSON (results.md, sweep.md)."""
from __future__ import annotations

from typing import Any


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table (every table of results.md, sweep.md and the reports)."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def format_params(params: Any) -> str:
    """`k=20`, `threshold=0.5, temperature=1`; a network's weights are not a number to print."""
    if isinstance(params, dict) and params and all(isinstance(v, (int, float)) for v in params.values()):
        return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    return "(network weights)"


def _label(split: str) -> str:
    test, _, chosen_on = split.partition("@")
    return f"{test}, chosen on {chosen_on}" if chosen_on else split


def _cells(s: dict) -> list[str]:
    return [f"{s['reward_mean']:.2f} ± {s['reward_ci95']:.2f}", f"{s['base_reward_mean']:.2f}",
            f"{s['expert_fraction']:.3f}", f"{s['episode_length_mean']:.1f}", str(s["episodes"])]


SUMMARY_HEADER = ["reward (net of costs)", "base reward", "expert fraction", "episode length", "episodes"]


def results_markdown(results: dict) -> str:
    """results.json of `duo_jax.main` as a markdown table: one row per split, test rows per selection."""
    title = (
        f"# {results['name']} ({results['mode']}, {results.get('algorithm') or results.get('checkpoint')}) on "
        f"{results['env']}\n\nalpha = {results['alpha']:g}, beta = {results['beta']:g}, BP = {results['bp']:.4g}\n"
    )
    rows = [[_label(split), format_params(e["best_params"]), *_cells(e)] for split, e in results["splits"].items()]
    return title + "\n" + md_table(["split", "chosen params", *SUMMARY_HEADER], rows) + "\n"


def sweep_markdown(sweep: dict) -> str:
    """sweep.json of `duo_jax.sweep`: per alpha and validation split, the choice and its test result."""
    title = (
        f"# {sweep['name']} ({sweep['algorithm']}) on {sweep['env']}\n\nTest results of the policy chosen on each "
        f"validation split at each alpha; beta = {sweep['beta']:g}, BP = {sweep['bp']:.4g}\n"
    )
    rows = [
        [f"{e['alpha']:g}", split, format_params(e["params"]), *_cells(e["test"])]
        for split, entries in sweep["selections"].items()
        for e in entries
    ]
    return title + "\n" + md_table(["alpha", "chosen on", "chosen params", *SUMMARY_HEADER], rows) + "\n"


def agent_table(path: str, stats: dict) -> str:
    """`duo_jax.agents.evaluate`'s measurement of one agent."""
    return md_table(
        ["agent", "split", "reward", "episode length", "episodes"],
        [
            [
                path,
                stats["split"],
                f"{stats['reward_mean']:.3f} ± {stats['reward_ci95']:.3f}",
                f"{stats['episode_length_mean']:.1f}",
                str(stats["episodes"]),
            ]
        ],
    )


def _reward(stats: dict | None) -> str:
    return "—" if not stats else f"{stats['reward_mean']:.2f} ± {stats['reward_ci95']:.2f}"


def agent_set_markdown(result: dict) -> str:
    """`duo_jax.agents.suite`'s agents.md: the set's table, its two margins and the novice's snapshots."""
    ev = result["evaluation"]
    rows = [
        [
            role,
            a["trained_on"],
            f"{a['train_steps']:,}",
            a["model"],
            f"`{a['run_id']}`",
            _reward(a.get("val_sim")),
            _reward(a.get("test")),
            f"{a['test']['episode_length_mean']:.1f}",
        ]
        for role, a in result["agents"].items()
    ]
    table = md_table(
        ["agent", "trained on", "PPO steps", "model", "run_id", "val_sim reward", "test reward", "test episode length"],
        rows,
    )
    snaps = md_table(
        ["snapshot", "val_sim reward", "novice's gap", "both intervals", "clear pair"],
        [
            [
                f"{s['train_steps']:,}",
                _reward(s["val_sim"]),
                f"{s['margin']['gap']:.2f}",
                f"{s['margin']['intervals']:.2f}",
                "yes" if s["margin"]["clear"] else "no",
            ]
            for s in result["snapshots"]
        ],
    )
    lines = [
        f"# {result['game']} agents ({result['budget']} budget)",
        "",
        f"Rewards: mean ± 95% CI over {ev['num_episodes']} fixed levels of each split (evaluation seed "
        f"{ev['seed']}, at most {ev['max_num_steps']} steps an episode).",
        "",
        table,
        "",
    ]
    for name, m in result["margins"].items():
        better, worse = name.split("_over_")
        verdict = "clearly" if m["clear"] else "NOT clearly"
        lines.append(
            f"- The {better} beats the {worse} on {m['split']} {verdict}: by {m['gap']:.2f}, against "
            f"{m['intervals']:.2f} for both intervals together."
        )
    fraction = result["config"].get("sim_novice", {}).get("fraction")
    which = (f"the simulated novice is the one at {fraction:g} of the novice's steps" if fraction
             else "the simulated novice is the latest clear one")  # sets chosen before sim_novice.fraction
    lines += ["", f"The novice's snapshots ({which}):", "", snaps]
    return "\n".join(lines)
