"""Deep SVDD: out-of-distribution inputs score higher (vectors and frames), the centre avoids
|c| < eps, scoring is pure under jit and vmap, and bad input raises ValueError naming the field."""
import functools

import jax
import numpy as np
import pytest

from duo_jax.coordinators.deep_svdd import fit_svdd, svdd_score

DIMS = {"hidden_dim": 32, "rep_dim": 8}


@pytest.fixture(scope="module")
def vec_svdd():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(2000, 8)).astype(np.float32)
    return fit_svdd(jax.random.PRNGKey(0), {"vec": train}, epochs=10, **DIMS), train


def test_vectors_out_of_distribution_score_higher(vec_svdd):
    svdd, train = vec_svdd
    rng = np.random.default_rng(1)
    ind = np.asarray(svdd_score(svdd, {"vec": rng.normal(size=(500, 8))}, **DIMS))
    ood = np.asarray(svdd_score(svdd, {"vec": rng.normal(4.0, 1.0, size=(500, 8))}, **DIMS))
    train_scores = np.asarray(svdd_score(svdd, {"vec": train}, **DIMS))
    assert ood.mean() > 5 * ind.mean()
    assert (ood > np.percentile(train_scores, 95)).mean() > 0.9


def test_frames_out_of_distribution_score_higher():
    rng = np.random.default_rng(0)
    dark = lambda n: rng.integers(0, 30, size=(n, 64, 64, 3), dtype=np.uint8)  # noqa: E731
    svdd = fit_svdd(jax.random.PRNGKey(1), {"obs": dark(256)}, epochs=4, batch_size=64, hidden_dim=16, rep_dim=8)
    ind = np.asarray(svdd_score(svdd, {"obs": dark(64)}, hidden_dim=16, rep_dim=8))
    bright = rng.integers(200, 256, size=(64, 64, 64, 3), dtype=np.uint8)
    noise = rng.integers(0, 256, size=(64, 64, 64, 3), dtype=np.uint8)
    for ood in (bright, noise):
        scores = np.asarray(svdd_score(svdd, {"obs": ood}, hidden_dim=16, rep_dim=8))
        assert scores.mean() > 3 * ind.mean()
        assert (scores > ind.max()).mean() > 0.9


def test_frames_and_vectors_together_and_partial_batch():
    rng = np.random.default_rng(2)
    feats = {"obs": rng.integers(0, 30, size=(37, 64, 64, 3), dtype=np.uint8),
             "vec": rng.normal(size=(37, 3)).astype(np.float32)}
    svdd = fit_svdd(jax.random.PRNGKey(2), feats, epochs=1, batch_size=16, hidden_dim=8, rep_dim=4)
    assert svdd["vec_mean"].shape == svdd["vec_std"].shape == (3,)
    scores = svdd_score(svdd, feats, hidden_dim=8, rep_dim=4)
    assert scores.shape == (37,) and np.all(np.isfinite(scores))


def test_center_pure_jit_and_vmap(vec_svdd):
    svdd, _ = vec_svdd
    assert np.all(np.abs(np.asarray(svdd["center"])) >= 0.1)
    x = {"vec": np.random.default_rng(3).normal(size=(50, 8)).astype(np.float32)}
    plain = np.asarray(svdd_score(svdd, x, **DIMS))
    np.testing.assert_array_equal(plain, np.asarray(svdd_score(svdd, x, **DIMS)))
    score = jax.jit(functools.partial(svdd_score, **DIMS))
    np.testing.assert_allclose(np.asarray(score(svdd, x)), plain, rtol=1e-5, atol=1e-6)
    stacked = jax.tree.map(lambda a: np.stack([a, a]), svdd)
    batched = np.asarray(jax.jit(jax.vmap(score, in_axes=(0, None)))(stacked, x))
    assert batched.shape == (2, 50)
    np.testing.assert_allclose(batched, np.stack([plain, plain]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("features, kwargs, field", [
    ({}, {}, "features"),
    ({"vec": np.zeros((4, 2)), "hidden": np.zeros((4, 2))}, {}, "features"),
    ({"vec": np.zeros((4, 2)), "obs": np.zeros((3, 64, 64, 3), np.uint8)}, {}, "rows"),
    ({"vec": np.zeros((0, 2))}, {}, "rows"),
    ({"obs": np.zeros((4, 64, 64, 3), np.float32)}, {}, "features['obs']"),
    ({"vec": np.zeros(4)}, {}, "features['vec']"),
    ({"vec": np.zeros((4, 2))}, {"epochs": 0}, "epochs"),
    ({"vec": np.zeros((4, 2))}, {"batch_size": 0}, "batch_size"),
    ({"vec": np.zeros((4, 2))}, {"learning_rate": 0.0}, "learning_rate"),
])
def test_fit_bad_input(features, kwargs, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[")):
        fit_svdd(jax.random.PRNGKey(0), features, **kwargs)


def test_score_bad_input(vec_svdd):
    svdd, _ = vec_svdd
    with pytest.raises(ValueError, match="'obs'"):
        svdd_score(svdd, {"vec": np.zeros((2, 8)), "obs": np.zeros((2, 64, 64, 3), np.uint8)}, **DIMS)
    with pytest.raises(ValueError, match="'vec'"):
        svdd_score(svdd, {"obs": np.zeros((2, 64, 64, 3), np.uint8)}, **DIMS)
    with pytest.raises(ValueError, match="rep_dim"):
        svdd_score(svdd, {"vec": np.zeros((2, 8))}, hidden_dim=32, rep_dim=4)
