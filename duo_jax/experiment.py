"""Start-up checks, the agent pairs of each split, and the experiment directory.

Everything that can be wrong with a config is found by `setup` before any rollout, and the
experiment directory is built beside the old one (`.<name>.partial`) and swapped in only when
the run has finished: an existing experiment is never lost or half-written.
"""
from __future__ import annotations

import json
import logging as pylogging
import os
import shutil
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from absl import logging

from duo_jax import paths
from duo_jax.agents.agent import Agent, load_agent
from duo_jax.api import import_plugins, load_policy, make_algorithm, make_environment, make_policy
from duo_jax.core import distributed
from duo_jax.core.coordination import Costs, charged
from duo_jax.core.curves import check_logging
from duo_jax.core.environment import EnvFamily
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.files import atomic_write_text, swap_dir, try_lock, unlock
from duo_jax.core.jax_evaluator import JaxEvaluator
from duo_jax.core.policy import Policy
from duo_jax.core.registry import ALGORITHMS, ENVIRONMENTS, POLICIES, AlgorithmSpec
from duo_jax.core.task import TrainTask
from duo_jax.validate import validate_experiment

# YRC-0: train and val_sim use the train pair; val_true and test the test pair.
PAIR_OF_SPLIT = {"train": "train", "val_sim": "train", "val_true": "test", "test": "test"}


class ExperimentBusy(RuntimeError):
    """Another process is writing the experiment directory (or has just finished it)."""


class ExperimentDir:
    """`experiments/<name>` written atomically: work happens in a partial dir that `commit` swaps in."""

    def __init__(self, root: str, name: str, overwrite: bool):
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"name must be a non-empty directory name without '/' or a leading '.'; got {name!r}.")
        self.final = os.path.abspath(os.path.join(root, name))
        if os.path.exists(self.final) and not overwrite:
            raise ValueError(
                f"Experiment directory {self.final} already exists; set --config.overwrite=True to replace it "
                "or choose another --config.name."
            )
        self.work = os.path.join(os.path.dirname(self.final), f".{name}.partial")
        self.overwrite = overwrite
        self._lock_path = os.path.join(os.path.dirname(self.final), f".{name}.lock")
        self._lock = None
        self._handler = None

    def open(self, config: dict) -> bool:
        """Start the partial directory; returns True when it resumes an interrupted run of the same config.

        A partial directory left by a run with the same config (ignoring `overwrite`) is kept, so
        algorithms that checkpoint into it (PPO) resume; any other partial directory is discarded.
        Several processes (`duo_jax.core.distributed`): process 0 writes, the others follow its choice.
        Raises ExperimentBusy while another run holds the directory, or when one finished it meanwhile.
        """
        problem = ""
        if distributed.is_main():
            os.makedirs(os.path.dirname(self.final), exist_ok=True)
            self._lock = try_lock(self._lock_path)
            if self._lock is None:
                problem = (f"{self.final} is being written by another process (it holds {self._lock_path}); wait "
                           "for it to finish, or choose another --config.name.")
            elif os.path.exists(self.final) and not self.overwrite:
                self.close()
                problem = (f"{self.final} was written by another process meanwhile; set --config.overwrite=True "
                           "to replace it.")
        if distributed.broadcast(np.bool_(bool(problem))):
            raise ExperimentBusy(problem or "process 0 found the experiment directory busy.")
        resume = False
        if distributed.is_main():
            resume = _same_config(os.path.join(self.work, "config.json"), config)
            if not resume:
                shutil.rmtree(self.work, ignore_errors=True)
                os.makedirs(self.work)
            self.write_json("config.json", config)  # first: a run stopped from here on is one a rerun resumes
            self._handler = pylogging.FileHandler(os.path.join(self.work, "log.txt"))
            self._handler.setFormatter(pylogging.Formatter("%(asctime)s %(message)s"))
            logging.get_absl_logger().addHandler(self._handler)
        return bool(distributed.broadcast(np.bool_(resume)))

    def path(self, *parts: str) -> str:
        return os.path.join(self.work, *parts)

    def write_json(self, name: str, data: Any) -> None:
        if distributed.is_main():
            atomic_write_text(self.path(name), json.dumps(data, indent=2))

    def write_text(self, name: str, text: str) -> None:
        if distributed.is_main():
            atomic_write_text(self.path(name), text)

    def close(self) -> None:
        """Stop writing: close the log and release the directory; the partial directory stays."""
        self._close_log()
        if self._lock is not None:
            unlock(self._lock_path, self._lock)
            self._lock = None

    def _close_log(self) -> None:
        if self._handler is not None:  # process 0
            logging.get_absl_logger().removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def commit(self) -> str:
        self._close_log()
        if distributed.is_main():
            swap_dir(self.work, self.final)
        self.close()
        distributed.barrier("experiment_commit")
        return self.final


def _same_config(path: str, config: dict) -> bool:
    if not os.path.isfile(path):
        return False
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return False
    strip = lambda c: {k: v for k, v in c.items() if k not in ("overwrite", "distributed")}  # noqa: E731
    return strip(old) == strip(json.loads(json.dumps(config)))


@dataclass
class Setup:
    """Everything a run needs, built and checked at start-up."""

    config: Any
    env: EnvFamily
    policy: Policy
    algorithm: AlgorithmSpec | None
    pairs: dict[str, tuple[Agent, Agent]]
    costs: dict[str, Costs]
    experiment: ExperimentDir
    params: Any = None  # eval mode: the checkpoint's params

    def evaluator(self, split: str) -> Evaluator:
        ev, co = self.config.evaluation, self.config.coordination
        novice, expert = self.pairs[PAIR_OF_SPLIT[split]]

        def make_env(num_slots):
            return self.env.make_eval_env(split, ev.num_episodes, num_slots, ev.seed)

        args = (split, make_env, novice, expert, self.costs[PAIR_OF_SPLIT[split]], ev.num_episodes, ev.num_envs,
                ev.max_num_steps, co.open_expert, co.temperature, ev.progress, ev.seed)
        if self.env.jax_split is not None:  # JAX-native: the whole rollout is one jitted scan
            return JaxEvaluator(*args, jax_split=self.env.jax_split(split))
        return Evaluator(*args)

    def task(self, split: str) -> TrainTask:
        """The split the algorithm learns from, with that split's pair; its workdir is in the experiment dir."""
        novice, expert = self.pairs[PAIR_OF_SPLIT[split]]
        co = self.config.coordination
        return TrainTask(
            split, self.env, novice, expert, self.costs[PAIR_OF_SPLIT[split]], co.open_expert, co.temperature,
            self.experiment.path("train_state"), self.experiment.path("curves"), deployed_novice=self.pairs["test"][0],
        )


# YRC-0's pairs, by role: an empty `agents.<field>` means agents/<game>/<role>/agent.
DEFAULT_AGENTS = {
    "train_novice": "sim_novice", "train_expert": "novice", "test_novice": "novice", "test_expert": "expert"
}


def agent_path(config, field: str) -> str:
    """The absolute path of `agents.<field>`: a given path is relative to the working directory (as plugins and
    config files are); an empty one means the shipped agent, in the source tree's agents/<game>/<role>/agent."""
    if config.agents[field]:
        return os.path.abspath(config.agents[field])
    return os.path.join(paths.AGENTS, config.env.game, DEFAULT_AGENTS[field], "agent")


def _load_pair_agent(config, env: EnvFamily, field: str) -> Agent:
    path = agent_path(config, field)
    if not config.agents[field] and not os.path.exists(path):
        game_dir = os.path.join(paths.AGENTS, config.env.game)
        raise ValueError(
            f"agents.{field}: {config.env.game} has no agents in {game_dir} (no "
            f"{DEFAULT_AGENTS[field]}/agent there); train them with `python -m duo_jax.agents.suite "
            f"--game {config.env.game} --install`, or set agents.{field} to a checkpoint."
        )
    try:
        agent = load_agent(path)
    except (FileNotFoundError, ValueError) as err:
        raise ValueError(f"agents.{field}: {err}") from None
    game = agent.config.get("game")
    if game is not None and game != config.env.get("game", game):
        raise ValueError(f"agents.{field} was trained on {game!r} but env.game is {config.env.game!r}.")
    if agent.config["num_actions"] != env.num_actions:
        raise ValueError(
            f"agents.{field} has {agent.config['num_actions']} actions but {env.name} has {env.num_actions}."
        )
    trained, noise = agent.config.get("action_noise"), config.env.get("action_noise")
    if trained is not None and noise is not None and trained != noise:
        logging.warning(
            "agents.%s was trained and measured with action_noise %g, but env.action_noise is %g: "
            "its stats (and the BP derived from them) come from the other noise level.",
            field,
            trained,
            noise,
        )
    return agent


def _bp(config, expert: Agent, field: str) -> float:
    if config.costs.bp > 0:
        return float(config.costs.bp)
    stats = expert.stats
    if "reward_mean" not in stats or "episode_length_mean" not in stats:
        raise ValueError(
            f"agents.{field} has no measured test stats to derive BP from; set --config.costs.bp or run "
            "`python -m duo_jax.agents.evaluate` on it."
        )
    return stats["reward_mean"] / stats["episode_length_mean"]


def setup(config) -> Setup:
    """Check the config and load what it names; raises ValueError with one sentence on bad input."""
    validate_experiment(config)
    # An evaluation writes beside the experiment it evaluates, never over it.
    exp_name = config.name if config.mode == "train" else f"{config.name}_eval"
    experiment = ExperimentDir(config.experiments_dir, exp_name, config.overwrite)
    import_plugins(config.get("plugins", ()))
    ENVIRONMENTS.check(config.env.name, "env.name")
    env = make_environment(config.env)
    if jax.process_count() > 1 and env.jax_split is None:
        raise ValueError(
            f"distributed: several processes need a JAX-native env (gridworld); env.name {config.env.name!r} "
            "steps its envs on the host, so run it as one process."
        )
    ev = config.evaluation
    for field, splits in (
        ("evaluation.validation_splits", ev.validation_splits),
        ("evaluation.test_split", (ev.test_split,)),
        ("eval.splits", config.eval.splits),
        ("algorithm.train_split", (config.algorithm.train_split,)),
    ):
        for split in splits:
            if split not in env.splits:
                raise ValueError(
                    f"{field}: split {split!r} does not exist; the splits of {env.name} are {', '.join(env.splits)}."
                )
    check_logging(config.get("logging"))
    algorithm, params = None, None
    if config.mode == "train":
        POLICIES.check(config.policy.name, "policy.name")
        ALGORITHMS.check(config.algorithm.name, "algorithm.name")
        policy = make_policy(config.policy.name, config.policy)
        algorithm = make_algorithm(config.algorithm.name)
        algorithm.check(config)
    else:
        if not config.eval.checkpoint:
            raise ValueError(
                "eval.checkpoint must name a policy checkpoint (experiments/<name>/checkpoints/best_<split>) "
                "in eval mode."
            )
        try:
            policy, params, _ = load_policy(os.path.abspath(config.eval.checkpoint))  # errors name the full path
        except (FileNotFoundError, ValueError) as err:
            raise ValueError(f"eval.checkpoint: {err}") from None
    pairs, costs, loaded = {}, {}, {}

    def agent(field: str) -> Agent:
        # One Agent per distinct path, so pairs that share agents share compiled steps.
        path = agent_path(config, field)
        if path not in loaded:
            loaded[path] = _load_pair_agent(config, env, field)
        return loaded[path]

    for pair in ("train", "test"):
        pairs[pair] = (agent(f"{pair}_novice"), agent(f"{pair}_expert"))
    # One cost unit for every split, as in the reference: BP of the real (test) expert. The simulated
    # expert of YRC-0 can score nothing on the test distribution (DistShift's novice), which would make
    # asking free in training.
    bp = _bp(config, pairs["test"][1], "test_expert")
    length = pairs["test"][1].stats.get("episode_length_mean")
    if length is not None and length > ev.max_num_steps:
        logging.warning(
            "evaluation.max_num_steps (%d) is below the test expert's mean episode length (%.0f): many "
            "episodes will be cut off before they end; raise it (`duo_jax.suite` uses 1000 on Procgen).",
            ev.max_num_steps,
            length,
        )
    for pair in pairs:
        costs[pair] = charged(config, Costs(float(config.costs.alpha), float(config.costs.beta), bp))
    return Setup(config, env, policy, algorithm, pairs, costs, experiment, params)
