"""Algorithms written against what the first tutorial (docs/add_a_new_algorithm.md at cc06496) said in prose.

- `envs` — the training environment family, `{"train": env}`;
- "Beyond a grid search": `validators[split].evaluate(policy, stacked_params, key)` returns one summary per
  candidate; any function that returns an `AlgorithmResult` is an algorithm.
"""
import numpy as np

from duo_jax import AlgorithmResult, register_algorithm, stack_params


def every_k_up_to_num_actions(key, policy, envs, validators, config):
    """k = 1 and k = the training env's number of actions, each split's best by hand."""
    del config
    candidates = [{"k": 1}, {"k": envs["train"].num_actions}]
    return best_by_hand(key, policy, validators, candidates)


def ask_every_k_by_hand(key, policy, envs, validators, config):
    del envs
    return best_by_hand(key, policy, validators, [{"k": int(k)} for k in config.algorithm.candidates])


def best_by_hand(key, policy, validators, candidates):
    best_params, best_summary, table = {}, {}, {}
    for split, validator in validators.items():
        summaries = validator.evaluate(policy, stack_params(candidates), key)
        best = int(np.argmax([s["reward_mean"] for s in summaries]))
        best_params[split], best_summary[split] = candidates[best], summaries[best]
        table[split] = [dict(params=c, **s) for c, s in zip(candidates, summaries)]
    return AlgorithmResult(best_params, best_summary, table)


register_algorithm("every_k_up_to_num_actions_tutorial_v1", every_k_up_to_num_actions)
register_algorithm("ask_every_k_by_hand_tutorial_v1", ask_every_k_by_hand)
