"""Threshold methods: the logit metrics, the logit and OOD policies, and their percentile candidates."""
import math
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from helpers import FakeEnv, load_config

import duo_jax
from duo_jax import EXPERT, NOVICE, Agent, Costs
from duo_jax.coordinators.deep_svdd import fit_svdd
from duo_jax.coordinators.logit import confidence
from duo_jax.coordinators.novice_rollouts import novice_rollouts
from duo_jax.core.environment import EnvFamily
from duo_jax.core.task import TrainTask

KEY = jax.random.PRNGKey(0)
LOGITS = np.array([[2.0, 1.0, 0.0]])


def _probs(logits):
    e = [math.exp(x) for x in logits]
    return [x / sum(e) for x in e]


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_metrics_match_hand_computed(temperature):
    z = [x / temperature for x in LOGITS[0]]
    p = _probs(z)
    want = {
        "max_logit": max(z),
        "max_prob": max(p),
        "margin": sorted(p)[-1] - sorted(p)[-2],
        "neg_entropy": sum(q * math.log(q) for q in p),
        "neg_energy": math.log(sum(math.exp(x) for x in z)),
    }
    for metric, value in want.items():
        assert float(confidence(metric, LOGITS, temperature)[0]) == pytest.approx(value, rel=1e-6), metric


def test_hand_computed_values_at_temperature_1():
    # softmax([2, 1, 0]) = (0.6652, 0.2447, 0.0900)
    assert float(confidence("max_prob", LOGITS, 1.0)[0]) == pytest.approx(0.66524, abs=1e-5)
    assert float(confidence("margin", LOGITS, 1.0)[0]) == pytest.approx(0.42051, abs=1e-5)
    assert float(confidence("neg_entropy", LOGITS, 1.0)[0]) == pytest.approx(-0.83240, abs=1e-5)
    assert float(confidence("neg_energy", LOGITS, 1.0)[0]) == pytest.approx(2.40761, abs=1e-5)


def test_more_peaked_logits_are_more_confident():
    flat, peaked = np.array([[1.0, 1.0, 1.0]]), np.array([[5.0, 0.0, 0.0]])
    for metric in ("max_prob", "margin", "neg_entropy"):
        assert float(confidence(metric, peaked, 1.0)[0]) > float(confidence(metric, flat, 1.0)[0]), metric


def test_logit_policy_asks_below_threshold():
    policy = duo_jax.make_policy("logit", ml_collections.ConfigDict({"metric": "max_prob"}))
    logits = jnp.array([[5.0, 0.0, 0.0], [1.0, 1.0, 1.0]])          # max_prob 0.987 and 0.333
    obs = {"base_obs": jnp.zeros((2, 4, 4, 3), jnp.uint8), "novice_logits": logits}
    action, _ = jax.jit(policy.act)({"threshold": 0.5, "temperature": 1.0}, policy.init(2), obs, KEY)
    np.testing.assert_array_equal(action, [NOVICE, EXPERT])


def test_unknown_metric_is_one_sentence():
    with pytest.raises(ValueError, match="policy.metric must be one of max_logit, max_prob, margin"):
        duo_jax.make_policy("logit", ml_collections.ConfigDict({"metric": "entropy"}))


# -- a fake training split: novice logits that depend on the frame --------------------------------------

def _obs_novice() -> Agent:
    """Logits [mean pixel, 0, 0]: the confidence changes along an episode (FakeEnv frames hold t)."""

    def apply(params, obs):
        m = obs.astype(jnp.float32).mean(axis=(1, 2, 3))
        logits = jnp.stack([m * params["s"], jnp.zeros_like(m), jnp.zeros_like(m)], -1)
        return logits, jnp.zeros_like(m), jnp.stack([m, -m], -1)

    return Agent(apply, {"s": jnp.float32(0.5)}, {"model": "fake", "num_actions": 3})


LENGTHS = [3, 5, 2, 4]


def _task() -> TrainTask:
    family = EnvFamily(
        "fake", ("train",), 3, (8, 8, 3), make_train_env=None,
        make_eval_env=lambda split, num_episodes, num_envs, seed: FakeEnv(LENGTHS[:num_episodes], num_envs),
    )
    return TrainTask("train", family, _obs_novice(), _obs_novice(), Costs(0.0, 0.0, 1.0))


def test_novice_rollouts_keep_only_first_episodes():
    data = novice_rollouts(KEY, _task(), num_episodes=4, num_envs=2, max_num_steps=16, progress=False)
    # Every step t of each first episode, frames holding t: hidden = (t, -t).
    want_t = sorted(t for L in LENGTHS for t in range(L))
    assert sorted(data["novice_hidden"][:, 0].tolist()) == want_t
    assert data["novice_logits"].shape == (sum(LENGTHS), 3) and "base_obs" not in data


def test_logit_candidates_are_percentiles_of_novice_scores():
    config = load_config("logit")
    config.evaluation.num_envs, config.evaluation.max_num_steps, config.evaluation.progress = 2, 16, False
    config.algorithm.num_rollouts, config.algorithm.percentiles = 4, (0, 50, 100)
    config.algorithm.score_temps = (1.0, 2.0)
    spec = duo_jax.make_algorithm("logit")
    candidates = spec.candidates(KEY, None, _task(), config)
    t = np.array([t for L in LENGTHS for t in range(L)], np.float32)
    for i, temp in enumerate((1.0, 2.0)):
        scores = 0.5 * t / temp                                          # max_logit of [0.5 t, 0, 0] / temp
        want = [
            {"threshold": pytest.approx(float(np.percentile(scores, q))), "temperature": temp} for q in (0, 50, 100)
        ]
        assert candidates[3 * i : 3 * i + 3] == want


def _novice_scaled(s: float) -> Agent:
    agent = _obs_novice()
    return Agent(agent.apply, {"s": jnp.float32(s)}, agent.config)


def test_calibrate_on_deployed_novice_takes_its_rollouts():
    """The sensitivity analysis: thresholds from the deployed novice's own training-split rollouts, not the
    simulated novice's (here the two differ by the scale of their logits)."""
    import dataclasses

    config = load_config("logit")
    config.evaluation.num_envs, config.evaluation.max_num_steps, config.evaluation.progress = 2, 16, False
    config.algorithm.num_rollouts, config.algorithm.percentiles = 4, (0, 50, 100)
    spec = duo_jax.make_algorithm("logit")
    task = dataclasses.replace(_task(), deployed_novice=_novice_scaled(2.0))      # the sim novice's scale is 0.5
    t = np.array([t for L in LENGTHS for t in range(L)], np.float32)
    for calibrate_on, scale in (("train_novice", 0.5), ("deployed_novice", 2.0)):
        config.algorithm.calibrate_on = calibrate_on
        spec.check(config)
        want = [{"threshold": pytest.approx(float(np.percentile(scale * t, q))), "temperature": 1.0}
                for q in (0, 50, 100)]
        assert spec.candidates(KEY, None, task, config) == want, calibrate_on
    with pytest.raises(ValueError, match=r"^algorithm.calibrate_on=deployed_novice needs the deployed novice"):
        spec.candidates(KEY, None, _task(), config)
    config.algorithm.calibrate_on = "novice"
    with pytest.raises(ValueError, match=r"^algorithm.calibrate_on must be one of train_novice, deployed_novice; "
                                         r"got 'novice'\.$"):
        spec.check(config)


def test_ood_policy_asks_above_threshold_on_far_states():
    rng = np.random.default_rng(0)
    svdd = fit_svdd(KEY, {"vec": rng.normal(size=(512, 2)).astype(np.float32)}, epochs=5, hidden_dim=16, rep_dim=4)
    policy = duo_jax.make_policy(
        "ood", ml_collections.ConfigDict(dict(feature_type="hidden", hidden_dim=16, rep_dim=4))
    )
    near, far = jnp.zeros((1, 2)), jnp.full((1, 2), 50.0)
    obs = {
        "base_obs": jnp.zeros((2, 4, 4, 3), jnp.uint8),
        "novice_hidden": jnp.concatenate([near, far]),
        "novice_logits": jnp.zeros((2, 3)),
    }
    from duo_jax.coordinators.deep_svdd import svdd_score

    scores = svdd_score(svdd, {"vec": obs["novice_hidden"]}, 16, 4)
    threshold = float(scores.mean())
    action, _ = policy.act({"svdd": svdd, "threshold": threshold}, policy.init(2), obs, KEY)
    np.testing.assert_array_equal(action, [NOVICE, EXPERT])  # high anomaly score -> expert


def test_ood_candidates_are_percentiles_of_training_scores():
    config = load_config("ood")
    config.evaluation.num_envs, config.evaluation.max_num_steps, config.evaluation.progress = 2, 16, False
    config.algorithm.num_rollouts, config.algorithm.percentiles, config.algorithm.accept_rate = 4, (0, 100), 1.0
    config.algorithm.epochs, config.policy.hidden_dim, config.policy.rep_dim = 2, 8, 4
    candidates = duo_jax.make_algorithm("ood").candidates(KEY, None, _task(), config)
    assert len(candidates) == 2
    lo, hi = (c["threshold"] for c in candidates)
    assert lo < hi
    assert candidates[0]["svdd"]["center"].shape == (4,)


HELD_OUT_LENGTHS = [9, 1, 7, 6]


def _contamination_case(epochs: int):
    """A fake train split whose levels of seed 0 (fitting) and seed 1 (held out) differ, and the ood config with
    YRC-Bench's contamination rule, small enough to fit in a second."""
    family = EnvFamily(
        "fake", ("train",), 3, (8, 8, 3), make_train_env=None,
        make_eval_env=lambda split, n, num_envs, seed: FakeEnv((HELD_OUT_LENGTHS if seed else LENGTHS)[:n], num_envs),
    )
    task = TrainTask("train", family, _obs_novice(), _obs_novice(), Costs(0.0, 0.0, 1.0))
    config = load_config("ood")
    config.evaluation.num_envs, config.evaluation.max_num_steps, config.evaluation.progress = 2, 16, False
    config.algorithm.num_rollouts, config.algorithm.accept_rate = 4, 1.0
    config.algorithm.epochs, config.policy.hidden_dim, config.policy.rep_dim = epochs, 8, 4
    config.algorithm.threshold_rule = "contamination"
    return task, config


def test_ood_contamination_rule_is_one_threshold_on_held_out_scores():
    """YRC-Bench's rule: one candidate per detector, the 90th percentile of its scores on a second set of
    training-split rollouts (levels drawn with evaluation.seed + 1), not on the states it was fitted on."""
    from duo_jax.coordinators.deep_svdd import svdd_score

    task, config = _contamination_case(epochs=2)
    [candidate] = duo_jax.make_algorithm("ood").candidates(KEY, None, task, config)

    def scores(lengths):
        t = np.array([t for L in lengths for t in range(L)], np.float32)
        return np.asarray(svdd_score(candidate["svdd"], {"vec": np.stack([t, -t], -1)}, 8, 4))

    held_out = float(np.percentile(scores(HELD_OUT_LENGTHS), 90))
    assert candidate["threshold"] == pytest.approx(held_out)
    assert held_out != pytest.approx(float(np.percentile(scores(LENGTHS), 90)))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("threshold_rule", "best",
         "algorithm.threshold_rule must be one of percentile_search, contamination; got 'best'."),
        ("contamination", 1.5, "algorithm.contamination must be a number in (0, 1); got 1.5."),
    ],
)
def test_ood_threshold_rule_errors_are_one_sentence(field, value, message):
    config = load_config("ood")
    config.algorithm.threshold_rule = "contamination"
    config.algorithm[field] = value
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        duo_jax.make_algorithm("ood").check(config)


def test_ood_rows_of_a_seed_share_their_fitting_and_held_out_rollouts(monkeypatch):
    """The seven ood rows of a seed roll the novice out twice in all (fit, held out), not twice each."""
    from duo_jax.coordinators import calibration

    calls = []
    monkeypatch.setattr(calibration, "_CACHE", {})
    monkeypatch.setattr(calibration, "novice_rollouts", lambda *a, **k: calls.append(a[8]) or novice_rollouts(*a, **k))
    task, config = _contamination_case(epochs=1)
    for feature_type in ("hidden", "dist", "hidden_dist"):
        config.policy.feature_type = feature_type
        assert len(duo_jax.make_algorithm("ood").candidates(KEY, None, task, config)) == 1
    assert calls == [0, 1]   # the levels' seeds: evaluation.seed, then the held-out evaluation.seed + 1
