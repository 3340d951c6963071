"""The Procgen evaluation step: agents run only where their outputs are used, with the same results, one
jitted call per env step, compiled once."""
import contextlib
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from helpers import REPO

import duo_jax
from duo_jax.agents.agent import init_agent
from duo_jax.core.coordination import Costs
from duo_jax.core.evaluator import Evaluator, evaluation_step
from duo_jax.core.policy import READS_ALL, Policy, stack_params
from duo_jax.envs.procgen import NUM_ACTIONS, OBS_SHAPE, make_eval_env

EPISODES, SLOTS = 16, 8  # 8 slots per candidate: MIN_SLOTS, so the batch never shrinks (one shape)
NOVICE = init_agent(jax.random.PRNGKey(1), "small_cnn", NUM_ACTIONS, OBS_SHAPE)
EXPERT = init_agent(jax.random.PRNGKey(2), "small_cnn", NUM_ACTIONS, OBS_SHAPE)


def evaluator(open_expert=False, max_num_steps=48) -> Evaluator:
    return Evaluator("test", lambda n: make_eval_env("coinrun", "test", EPISODES, n), NOVICE, EXPERT,
                     Costs(0.3, 0.1, 1.0), num_episodes=EPISODES, num_envs=SLOTS, max_num_steps=max_num_steps,
                     open_expert=open_expert, progress=False)


@contextlib.contextmanager
def backend_compiles():
    """Counts XLA compilations while the block runs."""
    count = []

    def listen(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            count.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield count
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


@pytest.mark.parametrize("name, params", [
    ("ask_every_k", [{"k": 2}, {"k": 3}]),
    ("random", [{"prob": 0.3}, {"prob": 0.7}]),
])
def test_reading_less_changes_no_result(name, params):
    """A policy that reads neither agent (each agent runs only where it acts, in buckets) and the same policy
    reading everything (both agents on every env) play the same episodes, step for step."""
    lean = duo_jax.make_policy(name)
    assert not lean.reads & {"novice_logits", "novice_hidden", "expert_logits", "expert_hidden"}
    full = lean._replace(reads=READS_ALL)
    stacked = stack_params(params)
    got = evaluator().rollout(lean, stacked)
    want = evaluator(open_expert=True).rollout(full, stacked)
    for field in want:
        np.testing.assert_array_equal(got[field], want[field], err_msg=field)
    assert 0 < got["expert_steps"].sum() < got["length"].sum()   # both agents acted


def test_one_compiled_step_whatever_the_ask_pattern():
    """After a first evaluation, others with other ask patterns (other k, hence other bucket sizes each step)
    compile nothing: the bucket sizes are branches of the one program."""
    policy = duo_jax.make_policy("ask_every_k")
    ev = evaluator(max_num_steps=24)
    ev.rollout(policy, stack_params([{"k": 1}, {"k": 2}]))
    step = evaluation_step(policy, NOVICE.apply, EXPERT.apply, 2, False, 1.0)
    assert step._cache_size() == 1
    with backend_compiles() as compiles:
        for ks in ((3, 5), (2, 1), (4, 4)):
            ev.rollout(policy, stack_params([{"k": k} for k in ks]))
    assert compiles == []
    assert step._cache_size() == 1


def test_reads_are_checked():
    def act(params, state, obs, key):
        return (obs["novice_logits"].sum(-1) > 0).astype(np.int32), state

    init, reset = lambda n: np.zeros(n, np.int32), lambda state, done: state
    with pytest.raises(ValueError, match="Policy.reads must be a frozenset of base_obs"):
        evaluator().rollout(Policy(init, reset, act, reads={"logits"}), stack_params([{"unused": 0}]))
    with pytest.raises(KeyError, match="reads obs\\['novice_logits'\\], which its Policy.reads"):
        evaluator().rollout(Policy(init, reset, act, reads=frozenset({"base_obs"})), stack_params([{"unused": 0}]))


def test_bench_procgen_names_a_bad_reference(tmp_path):
    """`--reference` must be a DuoAI checkout: one sentence, before anything is measured."""
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "bench_procgen.py"), "--reference",
                           str(tmp_path), "--out", str(tmp_path / "p.json")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    assert f"--reference {tmp_path} is not a checkout of khanhptnk/yrc" in proc.stderr
    assert not (tmp_path / "p.json").exists()


class FrameEnv:
    """A host vector env of fixed random frames that records the actions it is given."""

    def __init__(self, num_envs: int):
        self.num_envs, self.actions = num_envs, []
        self.obs = np.random.default_rng(0).integers(0, 255, (num_envs, *OBS_SHAPE), dtype=np.uint8)

    def reset(self):
        return self.obs

    def step(self, action):
        self.actions.append(np.asarray(action))
        return self.obs, np.ones(self.num_envs, np.float32), np.zeros(self.num_envs, bool)


@pytest.mark.parametrize("reads", [("base_obs",), ("novice_hidden",)])
def test_host_coordination_env_acts_as_with_both_agents_everywhere(reads):
    """The host coordination env with features that read no agent (`obs`): the novice runs only where it acts,
    the expert where asked; reading the novice, it runs everywhere. Either way the env actions are those drawn
    from both agents' full passes, and the reward is the env's net of the costs (asking, then switching)."""
    from duo_jax.core.coord_env import HostCoordEnv
    from duo_jax.core.coordination import base_action

    base, costs = FrameEnv(16), Costs(0.3, 0.1, 1.0)
    env = HostCoordEnv(base, NOVICE, EXPERT, costs, reads=reads, seed=3)
    cobs = env.reset()
    assert set(cobs) == set(reads)
    full = NOVICE.apply(NOVICE.params, base.obs)[0], EXPERT.apply(EXPERT.params, base.obs)[0]
    first = np.arange(16) % 2
    _, reward, _, info = env.step(first)
    want = base_action(first, *full, jax.random.fold_in(jax.random.PRNGKey(3), 0), 1.0)
    np.testing.assert_array_equal(base.actions[0], want)
    np.testing.assert_allclose(reward, 1.0 - 0.3 * first, rtol=1e-6)
    np.testing.assert_array_equal(info["expert"], first)
    second = np.ones(16, np.int32)  # half of the envs switch to the expert
    _, reward, _, _ = env.step(second)
    want = base_action(second, *full, jax.random.fold_in(jax.random.PRNGKey(3), 1), 1.0)
    np.testing.assert_array_equal(base.actions[1], want)
    np.testing.assert_allclose(reward, 1.0 - 0.3 - 0.1 * (1 - first), rtol=1e-6)
    assert env.carry() == {"step": 2, "first": [False] * 16, "prev_action": [1] * 16}
