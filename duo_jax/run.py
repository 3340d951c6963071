"""One experiment from its set-up to results.json: train (the algorithm on the validation splits, saving each
split's choice, then every choice on the test split in one batched rollout) or evaluate (a saved policy).

`duo_jax.main` is its command line; `duo_jax.sweep` runs one per alpha for algorithms that sweep no other way.
"""
from __future__ import annotations

import time

import jax
from absl import logging

from duo_jax.core.checkpoint import save_policy
from duo_jax.core.evaluator import episode_rewards, format_summary, summaries
from duo_jax.core.policy import stack_params, to_python
from duo_jax.experiment import Setup, setup
from duo_jax.tables import results_markdown

# The per-split fields of results.json.
SPLIT_KEYS = ("reward_mean", "reward_ci95", "base_reward_mean", "episode_length_mean", "expert_fraction", "episodes")


def _split_entry(params, summary: dict) -> dict:
    return {"best_params": to_python(params), **{k: summary[k] for k in SPLIT_KEYS}, "summary": summary}


def _header(s: Setup) -> dict:
    return {
        "name": s.config.name, "mode": s.config.mode, "env": s.env.name,
        "alpha": float(s.config.costs.alpha), "beta": float(s.config.costs.beta), "bp": s.costs["test"].bp,
        "round_to_cents": bool(s.config.costs.get("round_to_cents", False)),
    }


def train(s: Setup, key) -> dict:
    config = s.config
    validators = {split: s.evaluator(split) for split in config.evaluation.validation_splits}
    result = s.algorithm.run(key, s.policy, s.task(config.algorithm.train_split), validators, config)
    splits = {split: _split_entry(result.best_params[split], result.best_summary[split]) for split in validators}
    for split, params in result.best_params.items():
        save_policy(
            s.experiment.path("checkpoints", f"best_{split}"), config.policy.name, params, config.policy.to_dict(),
            algorithm=config.algorithm.name, selected_on=split, summary=result.best_summary[split],
        )
    # Each validation split's choice on the test split, all in one batched rollout.
    chosen = list(result.best_params.values())
    test = s.evaluator(config.evaluation.test_split)
    episodes = test.rollout(s.policy, stack_params(chosen))  # the split's own stream, as in the sweep
    rewards = episode_rewards(episodes, test.costs)
    for i, (split, params, summary) in enumerate(zip(result.best_params, chosen, summaries(episodes, test.costs))):
        splits[f"{test.split}@{split}"] = dict(_split_entry(params, summary), episode_rewards=rewards[i].tolist())
    return {**_header(s), "algorithm": config.algorithm.name, "candidates": result.candidates, "splits": splits}


def evaluate(s: Setup) -> dict:
    params = stack_params([s.params])
    splits = {}
    for split in s.config.eval.splits:
        summary = s.evaluator(split).evaluate(s.policy, params)[0]
        splits[split] = _split_entry(s.params, summary)
    return {**_header(s), "checkpoint": s.config.eval.checkpoint, "splits": splits}


def run(config) -> dict:
    """Run an experiment from a config; returns what it writes to results.json."""
    return execute(setup(config))


def execute(s: Setup) -> dict:
    config = s.config
    try:
        if s.experiment.open(config.to_dict()):
            logging.info("Resuming the interrupted run in %s", s.experiment.work)
        start = time.time()
        logging.info("Experiment %s (%s) on %s; costs %s", config.name, config.mode, s.env.name, s.costs)
        key = jax.random.PRNGKey(config.seed)
        results = train(s, key) if config.mode == "train" else evaluate(s)
        results["wall_time_s"] = round(time.time() - start, 2)
        for split, entry in results["splits"].items():
            logging.info("RESULT %s %s: %s", split, entry["best_params"], format_summary(entry["summary"]))
        s.experiment.write_json("results.json", results)
        table = results_markdown(results)
        s.experiment.write_text("results.md", table)
        path = s.experiment.commit()
    except BaseException:  # an error or an interrupt (Ctrl-C, SIGTERM) at any moment: the lock is released, the
        s.experiment.close()  # partial directory stays (a rerun resumes from it) and the old one is untouched
        raise
    logging.info("Wrote %s/results.json and results.md in %.1f s", path, results["wall_time_s"])
    print(table)
    return results
