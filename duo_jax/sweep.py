"""The cost sweep: one method at every cost weight alpha, each choice evaluated on test.

    python -m duo_jax.sweep --config configs/logit.py [--config.sweep.alphas='(0.0,0.5,1.0)']
    python -m duo_jax.report experiments/*_sweep --out experiments/report   # reports/<env> are the shipped ones

Writes `experiments/<name>_sweep/sweep.json` (what `duo_jax.report` reads). A grid search's candidates
do not depend on alpha, so each split is rolled out once for all candidates and the per-episode counts
are re-scored at every alpha (costs are linear in them); the choice per alpha is read off the validation
rollouts and its test result off the test rollout. On a JAX-native env, PPO and the skyline train every
alpha at once (vmapped, `AlgorithmSpec.alpha_sweep`); elsewhere they run once per alpha as experiments
under `runs/alpha_<a>`. An interrupted sweep resumes where it stopped.
"""
from __future__ import annotations

import copy
import json
import os
import time

import jax
import numpy as np
from absl import logging

from duo_jax import cli
from duo_jax.core.coordination import Costs, charged
from duo_jax.core.evaluator import episode_rewards, format_summary, summaries
from duo_jax.core.policy import stack_params, to_python
from duo_jax.experiment import PAIR_OF_SPLIT, Setup, setup
from duo_jax.run import execute
from duo_jax.tables import sweep_markdown
from duo_jax.validate import ALPHAS


def check_alphas(alphas) -> tuple[float, ...]:
    alphas = tuple(alphas)
    if not ALPHAS.ok(alphas):
        raise ValueError(f"sweep.alphas must be {ALPHAS.allowed}; got {alphas!r}.")
    return tuple(float(a) for a in alphas)


def _entry(alpha: float, params, val_summary: dict, test_summary: dict, rewards: np.ndarray) -> dict:
    return {"alpha": alpha, "params": to_python(params), "val": val_summary, "test": test_summary,
            "episode_rewards": np.asarray(rewards).tolist()}


def _costs(s: Setup, split: str, alpha: float) -> Costs:
    return charged(s.config, s.costs[PAIR_OF_SPLIT[split]]._replace(alpha=alpha))


def _agents(s: Setup) -> dict:
    """Each agents.<field>'s run_id, train_steps and training task, from its checkpoint's metadata."""
    agents = {"train_novice": s.pairs["train"][0], "train_expert": s.pairs["train"][1],
              "test_novice": s.pairs["test"][0], "test_expert": s.pairs["test"][1]}
    return {field: {k: a.config.get(k) for k in ("run_id", "train_steps", "trained_on")} for field, a in agents.items()}


def sweep_grid(s: Setup, alphas, key) -> dict:
    """Every candidate rolled out once per split; the choice at each alpha scored from the same episodes."""
    config = s.config
    ev = config.evaluation
    candidates = s.algorithm.candidates(key, s.policy, s.task(config.algorithm.train_split), config)
    params = stack_params(candidates)
    episodes = {split: s.evaluator(split).rollout(s.policy, params) for split in (*ev.validation_splits, ev.test_split)}
    selections = {}
    for split in ev.validation_splits:
        rows = []
        for alpha in alphas:
            val = summaries(episodes[split], _costs(s, split, alpha))
            best = int(np.argmax([v["reward_mean"] for v in val]))
            test_costs = _costs(s, ev.test_split, alpha)
            test = summaries(episodes[ev.test_split], test_costs)[best]
            rows.append(
                _entry(
                    alpha, candidates[best], val[best], test, episode_rewards(episodes[ev.test_split], test_costs)[best]
                )
            )
            logging.info("alpha %.2f, chosen on %s %s: test %s", alpha, split, rows[-1]["params"], format_summary(test))
        selections[split] = rows
    return selections


def sweep_vmapped(s: Setup, alphas, key) -> dict:
    """Every alpha trained side by side; each split's choices evaluated on test in one rollout."""
    config, ev = s.config, s.config.evaluation
    validators = {split: s.evaluator(split) for split in ev.validation_splits}
    results = s.algorithm.alpha_sweep(key, s.policy, s.task(config.algorithm.train_split), validators, config, alphas)
    test, selections = s.evaluator(ev.test_split), {}
    for split in ev.validation_splits:
        chosen = [r.best_params[split] for r in results]
        episodes = test.rollout(s.policy, stack_params(chosen))
        rows = []
        for i, alpha in enumerate(alphas):
            costs = _costs(s, ev.test_split, alpha)
            summary = summaries(episodes, costs)[i]
            rows.append(
                _entry(alpha, chosen[i], results[i].best_summary[split], summary, episode_rewards(episodes, costs)[i])
            )
            logging.info("alpha %.2f, chosen on %s: test %s", alpha, split, format_summary(summary))
        selections[split] = rows
    return selections


def sweep_runs(s: Setup, alphas) -> dict:
    """One full experiment per alpha (the algorithm's choice depends on the costs), kept under runs/."""
    config, ev = s.config, s.config.evaluation
    selections = {split: [] for split in ev.validation_splits}
    for alpha in alphas:
        run = copy.deepcopy(config)
        with run.unlocked():
            run.costs.alpha, run.name, run.overwrite = alpha, f"alpha_{alpha:g}", False
            run.experiments_dir = s.experiment.path("runs")
        done = os.path.join(run.experiments_dir, run.name, "results.json")
        if os.path.isfile(done):
            logging.info("alpha %g: already finished, reading %s", alpha, done)
            with open(done) as f:
                results = json.load(f)
        else:
            results = execute(setup(run))
        for split in ev.validation_splits:
            val, test = results["splits"][split], results["splits"][f"{ev.test_split}@{split}"]
            selections[split].append(
                _entry(alpha, val["best_params"], val["summary"], test["summary"], test["episode_rewards"])
            )
    return selections


def prepare(config) -> tuple[Setup, tuple[float, ...]]:
    """All start-up checks; the sweep's directory is `<name>_sweep`."""
    alphas = check_alphas(config.sweep.alphas)
    config = copy.deepcopy(config)
    with config.unlocked():
        config.name = f"{config.name}_sweep"
    return setup(config), alphas


def execute_sweep(s: Setup, alphas) -> dict:
    config = s.config
    try:
        if s.experiment.open(config.to_dict()):
            logging.info("Resuming the interrupted sweep in %s", s.experiment.work)
        start = time.time()
        key = jax.random.PRNGKey(config.seed)
        grid = s.algorithm.candidates is not None
        if grid:
            selections = sweep_grid(s, alphas, key)
        elif s.algorithm.alpha_sweep is not None and s.env.jax_split is not None:
            selections = sweep_vmapped(s, alphas, key)
        else:
            selections = sweep_runs(s, alphas)
        result = {
            "name": config.name,
            "method": config.name[: -len("_sweep")],
            "algorithm": config.algorithm.name,
            "env": s.env.name,
            "game": config.env.get("game"),
            "alphas": list(alphas),
            "beta": s.costs["test"].beta,
            "bp": s.costs["test"].bp,
            "round_to_cents": bool(config.costs.get("round_to_cents", False)),
            "rollouts_reused": grid,
            "seed": config.seed,
            "eval_seed": config.evaluation.seed,
            "num_test_episodes": config.evaluation.num_episodes,
            "selections": selections,
            "wall_time_s": round(time.time() - start, 2),
            # What the report's protocol block reads: the config (not where or how many processes ran it),
            # and the agents' budgets and runs.
            "config": {k: v for k, v in config.to_dict().items()
                       if k not in ("experiments_dir", "overwrite", "distributed")},
            "agents": _agents(s),
        }
        s.experiment.write_json("sweep.json", result)
        table = sweep_markdown(result)
        s.experiment.write_text("sweep.md", table)
        path = s.experiment.commit()
    except BaseException:  # an error or an interrupt (Ctrl-C, SIGTERM) at any moment: the lock is released and
        s.experiment.close()  # the partial directory stays, so a rerun resumes from it
        raise
    logging.info("Wrote %s/sweep.json and sweep.md in %.1f s", path, result["wall_time_s"])
    print(table)
    return result


def run(config) -> dict:
    """Sweep a method over `config.sweep.alphas`; returns what it writes to sweep.json."""
    return execute_sweep(*prepare(config))


def main(argv=None):
    cli.run(prepare, lambda prepared: execute_sweep(*prepared), config_example="configs/logit.py", argv=argv,
            resume_from=lambda prepared: prepared[0].experiment.work)


if __name__ == "__main__":
    main()
