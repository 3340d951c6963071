"""The PyTorch reference's coordinated evaluation, timed: DuoAI's own `CoordEnv`, `Evaluator` and AskEveryK
policy (examples/procgen_ask_every_k.py) on coinrun, from a checkout of https://github.com/khanhptnk/yrc.

    python benchmarks/reference_duoai.py --reference PATH [--num-envs 64] [--episodes 64] [--k 5] [--reps 1]

Prints one JSON line per timed evaluation: counted steps (the summary's `steps`, the sum of episode lengths),
wall seconds, counted steps/s. With `--serve` it runs one timed evaluation per line read on stdin instead:
`bench_procgen.py --reference PATH` drives it so, in a subprocess (torch and JAX never share a process),
interleaved with its own runs. Needs torch and omegaconf (`pip install -e .[reference]`).

What stands in for what the checkout does not carry: its Procgen package (the procgenAISC submodule) is
replaced by the same C++ games through duo_jax's Procgen layer, behind procgenAISC's `ProcgenEnv` API (a
baselines VecEnv of {"rgb": frames}); the reference's own `make_env` and wrappers run on top. `gym` is
gymnasium (the reference's `GYM_BACKEND=gymnasium` switch, and the spaces its wrappers use); wandb and
its pyod fork, imported but unused by this evaluation, are empty modules. The agents are freshly
initialised IMPALA PPO models (`impala_ppo`), as in duo_jax's IMPALA rows.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
import types

import numpy as np


def _stub(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    module.__path__ = []  # a package, so submodules can be stubbed under it
    sys.modules[name] = module
    return module


class StandInProcgenEnv:
    """procgenAISC's `ProcgenEnv` (a baselines VecEnv over dict observations) over duo_jax's `Games`. An
    action of -1 on every env is the reference's hard reset: the first one is free (the games were just
    made), later ones make new games."""

    def __init__(self, env_name, num_envs, num_threads, start_level, num_levels, distribution_mode, rand_seed):
        import gymnasium as gym

        from duo_jax.envs.procgen_compat import Games

        del num_threads
        self._make = lambda seed: Games(num_envs, env_name, distribution_mode, num_levels=num_levels,
                                        start_level=start_level, rand_seed=seed)
        self._seed, self._games, self._fresh = rand_seed, self._make(rand_seed), True
        self.num_envs = num_envs
        self.observation_space = gym.spaces.Dict({"rgb": gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)})
        self.action_space = gym.spaces.Discrete(15)
        self._action = None

    def reset(self):
        return {"rgb": self._games.observe()[1]}

    def step_async(self, actions):
        self._action = np.asarray(actions)

    def step_wait(self):
        if (self._action == -1).all():
            if not self._fresh:
                self._seed += 1
                self._games = self._make(self._seed)
            self._fresh = False
            reward, obs, first = self._games.observe()
            return {"rgb": obs}, np.zeros(self.num_envs, np.float32), np.zeros(self.num_envs, bool), \
                [{} for _ in range(self.num_envs)]
        self._fresh = False
        self._games.act(self._action.astype(np.int32))
        reward, obs, first = self._games.observe()
        return {"rgb": obs}, reward.astype(np.float32), first.astype(bool), [{} for _ in range(self.num_envs)]

    def step(self, actions):
        self.step_async(actions)
        return self.step_wait()

    def close(self):
        pass


def load_reference(path: str):
    """Import the checkout's `yrc`, `environments.procgen` and the AskEveryK example with the stand-ins above."""
    os.environ.setdefault("GYM_BACKEND", "gymnasium")
    try:
        import gym  # noqa: F401
    except ImportError:
        import gymnasium

        sys.modules["gym"] = gymnasium
    for name in ("wandb", "pyod", "pyod.models"):
        if name not in sys.modules:
            try:
                __import__(name)
            except ImportError:
                _stub(name)
    real_version = importlib.metadata.version

    def version(dist):  # the checkout is imported, not installed
        return "checkout" if dist == "yrc" else real_version(dist)

    importlib.metadata.version = version
    _stub("environments.procgen.procgenAISC")
    _stub("environments.procgen.procgenAISC.procgen", ProcgenEnv=StandInProcgenEnv)
    sys.path.insert(0, os.path.abspath(path))
    sys.path.insert(0, os.path.join(os.path.abspath(path), "examples"))
    import procgen_ask_every_k as example
    import torch
    import yrc
    from environments.procgen import ProcgenConfig, make_env
    from yrc.utils.global_variables import set_global_variable

    set_global_variable("device", torch.device("cpu"))
    return yrc, example, ProcgenConfig, make_env, torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="a checkout of khanhptnk/yrc (DuoAI)")
    ap.add_argument("--game", default="coinrun")
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--episodes", type=int, default=64)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--max-num-steps", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=1, help="timed evaluations after one untimed warm-up")
    ap.add_argument("--serve", action="store_true", help="one timed evaluation per line read on stdin")
    ap.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    args = ap.parse_args()

    yrc, example, ProcgenConfig, make_env, torch = load_reference(args.reference)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    yrc.utils.global_variables.set_global_variable("device", device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = ProcgenConfig(task=args.game, num_envs=args.num_envs)
    env = make_env("test", config)  # coinrun hard, levels 0..99999: the reference's test split
    agents = [yrc.policies.PPOPolicy(yrc.policies.ppo.PPOPolicyConfig(model="impala_ppo"), env) for _ in range(2)]
    coord = yrc.CoordEnv(yrc.core.environment.CoordinationConfig(), env, *agents)
    coord.set_costs(0.0)
    policy = example.AskEveryKPolicy(example.AskEveryKPolicyConfig(), coord)
    policy.set_params({"k": args.k})
    evaluator = yrc.Evaluator(yrc.core.evaluator.EvaluatorConfig(max_num_steps=args.max_num_steps), coord)
    evaluator.config.max_num_steps = 8  # warm-up: a few steps (nothing to compile)
    evaluator.evaluate(policy, num_episodes=args.num_envs)
    evaluator.config.max_num_steps = args.max_num_steps
    print(json.dumps({"ready": True}), flush=True)
    for _ in (sys.stdin if args.serve else range(args.reps)):
        t = time.perf_counter()
        summary = evaluator.evaluate(policy, num_episodes=args.episodes)
        wall = time.perf_counter() - t
        print(json.dumps({"counted_steps": summary["steps"], "wall_s": wall, "counted_steps_per_s":
                          summary["steps"] / wall, "expert_fraction": summary["action_1_frac"],
                          "torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
                          "loadavg": [round(x, 2) for x in os.getloadavg()]}), flush=True)


if __name__ == "__main__":
    main()
