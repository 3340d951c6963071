"""One-class Deep SVDD (Ruff et al., ICML 2018): an anomaly score for coordinator features.

A network phi maps features near a fixed centre c; the score is ||phi(x) - c||^2, so states unlike
the training data (the novice's familiar states) score high and the coordinator can ask for help.
The paper's guards against the trivial solution phi(x) = c for every x are kept: no bias terms
(FeatureEncoder(use_bias=False) and bias-free Dense layers), unbounded activations, and a centre
fixed before training from the initial network, with entries |c| < eps pushed to +-eps.
Everything the score needs (weights, centre, "vec" standardization) is in one params pytree, so
`svdd_score` is pure and can be vmapped over stacked candidate params.
"""
from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from duo_jax.coordinators.features import FeatureEncoder

EPS = 0.1


class SVDDNet(nn.Module):
    """FeatureEncoder(use_bias=False) -> bias-free Dense layers -> [B, rep_dim] embedding."""

    hidden_dim: int = 128
    rep_dim: int = 32

    @nn.compact
    def __call__(self, features: dict) -> jnp.ndarray:
        x = FeatureEncoder(self.hidden_dim, use_bias=False, name="encoder")(features)
        x = nn.leaky_relu(nn.Dense(self.hidden_dim, use_bias=False, name="hidden")(x))
        return nn.Dense(self.rep_dim, use_bias=False, name="out")(x)


def _check_features(features: dict, field: str) -> dict:
    """Host copies of a valid features dict (keys "obs" uint8 [N, H, W, C] and/or "vec" [N, D])."""
    if not isinstance(features, dict) or not features or set(features) - {"obs", "vec"}:
        raise ValueError(f"{field} must be a non-empty dict with keys 'obs' and/or 'vec'; got {features!r:.80}.")
    features = {k: np.asarray(v) for k, v in features.items()}
    if "obs" in features and (features["obs"].ndim != 4 or features["obs"].dtype != np.uint8):
        raise ValueError(f"{field}['obs'] must be uint8 frames [N, H, W, C]; got {features['obs'].dtype} "
                         f"{features['obs'].shape}.")
    if "vec" in features and features["vec"].ndim != 2:
        raise ValueError(f"{field}['vec'] must be a [N, D] array; got shape {features['vec'].shape}.")
    rows = {k: v.shape[0] for k, v in features.items()}
    if len(set(rows.values())) != 1 or 0 in rows.values():
        raise ValueError(f"{field} arrays must have the same, non-zero number of rows; got {rows}.")
    return features


def _standardize(svdd: dict, features: dict) -> dict:
    if ("vec" in features) != ("vec_mean" in svdd):
        raise ValueError(f"features must have 'vec' exactly when the SVDD was fit with it; got {sorted(features)}.")
    if ("obs" in features) != ("encoder" in svdd["net"]):
        raise ValueError(f"features must have 'obs' exactly when the SVDD was fit with it; got {sorted(features)}.")
    if "vec" not in features:
        return features
    return dict(features, vec=(features["vec"].astype(jnp.float32) - svdd["vec_mean"]) / svdd["vec_std"])


def svdd_score(svdd: dict, features: dict, hidden_dim: int = 128, rep_dim: int = 32) -> jnp.ndarray:
    """[B] squared distance of the embedding to the centre; higher = more anomalous.

    Pure and jit-able (hidden_dim/rep_dim static); vmappable over a leading axis of every `svdd` leaf.
    """
    if svdd["center"].shape[-1] != rep_dim or svdd["net"]["hidden"]["kernel"].shape[-1] != hidden_dim:
        raise ValueError(f"hidden_dim={hidden_dim}, rep_dim={rep_dim} differ from those the SVDD was fit with.")
    z = SVDDNet(hidden_dim, rep_dim).apply({"params": svdd["net"]}, _standardize(svdd, features))
    return jnp.sum(jnp.square(z - svdd["center"]), axis=-1)


def _batches(n: int, batch_size: int, order: np.ndarray):
    """Index batches of one fixed size (one compile); the last is padded with weight-0 rows, none dropped."""
    pad = -n % batch_size
    idx = np.concatenate([order, np.zeros(pad, np.int64)])
    w = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
    for s in range(0, n + pad, batch_size):
        yield idx[s:s + batch_size], w[s:s + batch_size]


def fit_svdd(key, features: dict, epochs: int = 20, batch_size: int = 256, learning_rate: float = 1e-3,
             weight_decay: float = 1e-6, hidden_dim: int = 128, rep_dim: int = 32,
             log: Callable[[int, dict], None] | None = None) -> dict:
    """Trains Deep SVDD on host arrays; returns {"net", "center", and "vec_mean"/"vec_std" iff "vec" given}.

    Frames stay uint8 on the host; each minibatch is copied to the device and run by one jitted step
    (no lax.scan: XLA:CPU runs convolutions inside scan much slower). After each epoch, `log(updates,
    {"loss": the epoch's mean loss})` if given (e.g. a `CurveWriter.write`), `updates` counting gradient steps.
    """
    features = _check_features(features, "features")
    n = len(next(iter(features.values())))
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("hidden_dim", hidden_dim, 1),
                             ("rep_dim", rep_dim, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    if not learning_rate > 0 or not weight_decay >= 0:
        raise ValueError(f"learning_rate must be > 0 and weight_decay >= 0; got {learning_rate}, {weight_decay}.")
    batch_size = min(int(batch_size), n)
    host, svdd = {}, {}
    if "obs" in features:
        host["obs"] = features["obs"]
    if "vec" in features:
        vec = np.asarray(features["vec"], np.float64)
        mean, std = vec.mean(0), vec.std(0)
        std = np.where(std < 1e-6, 1.0, std)        # constant features are only centred
        svdd["vec_mean"], svdd["vec_std"] = jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32)
        host["vec"] = ((vec - mean) / std).astype(np.float32)
    init_key, seed_key = jax.random.split(key)
    rng = np.random.default_rng(int(jax.random.randint(seed_key, (), 0, 2**31 - 1)))
    net = SVDDNet(hidden_dim, rep_dim)
    params = net.init(init_key, {k: jnp.asarray(v[:1]) for k, v in host.items()})["params"]

    def batch(idx):
        return {k: jnp.asarray(v[idx]) for k, v in host.items()}

    @jax.jit
    def embed_sum(params, x, w):
        return jnp.sum(net.apply({"params": params}, x) * w[:, None], axis=0)

    center = sum(embed_sum(params, batch(i), w) for i, w in _batches(n, batch_size, np.arange(n))) / n
    center = jnp.where(jnp.abs(center) < EPS, jnp.where(center < 0, -EPS, EPS), center)
    opt = optax.adamw(learning_rate, weight_decay=weight_decay)

    @jax.jit
    def step(params, opt_state, x, w):
        def loss_fn(p):
            d = jnp.sum(jnp.square(net.apply({"params": p}, x) - center), axis=-1)
            return jnp.sum(d * w) / jnp.sum(w)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss * jnp.sum(w)

    opt_state, updates = opt.init(params), 0
    for _ in range(epochs):
        loss_sum = 0.0
        for idx, w in _batches(n, batch_size, rng.permutation(n)):
            params, opt_state, batch_loss = step(params, opt_state, batch(idx), jnp.asarray(w))
            loss_sum, updates = loss_sum + batch_loss, updates + 1
        if log is not None:
            log(updates, {"loss": float(loss_sum) / n})
    return dict(svdd, net=params, center=center)
