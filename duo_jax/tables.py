"""The results tables every run prints at its end and writes beside its JSON (results.md, sweep.md)."""
from __future__ import annotations

from typing import Any


def _md(header: list[str], rows: list[list[str]]) -> str:
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
    title = (f"# {results['name']} ({results['mode']}, {results.get('algorithm') or results.get('checkpoint')}) on "
             f"{results['env']}\n\nalpha = {results['alpha']:g}, beta = {results['beta']:g}, BP = {results['bp']:.4g}\n")
    rows = [[_label(split), format_params(e["best_params"]), *_cells(e)] for split, e in results["splits"].items()]
    return title + "\n" + _md(["split", "chosen params", *SUMMARY_HEADER], rows) + "\n"


def sweep_markdown(sweep: dict) -> str:
    """sweep.json of `duo_jax.sweep`: per alpha and validation split, the choice and its test result."""
    title = (f"# {sweep['name']} ({sweep['algorithm']}) on {sweep['env']}\n\nTest results of the policy chosen on each "
             f"validation split at each alpha; beta = {sweep['beta']:g}, BP = {sweep['bp']:.4g}\n")
    rows = [[f"{e['alpha']:g}", split, format_params(e["params"]), *_cells(e["test"])]
            for split, entries in sweep["selections"].items() for e in entries]
    return title + "\n" + _md(["alpha", "chosen on", "chosen params", *SUMMARY_HEADER], rows) + "\n"


def agent_table(path: str, stats: dict) -> str:
    """`duo_jax.agents.evaluate`'s measurement of one agent."""
    return _md(["agent", "split", "reward", "episode length", "episodes"], [[
        path, stats["split"], f"{stats['reward_mean']:.3f} ± {stats['reward_ci95']:.3f}",
        f"{stats['episode_length_mean']:.1f}", str(stats["episodes"])]])
