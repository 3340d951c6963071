"""PPO's one core: the loss, GAE, the optimizer chain, the update, and the checks every trainer shares.

Two update paths with one loss: `scan_update` runs the epochs of minibatch steps inside `lax.scan` (models
without convolutions, trained wholly inside jit: `duo_jax.rl.jax_actor`), `make_update` runs each minibatch
step as its own jit call (XLA:CPU runs convolutions inside `lax.scan` several times slower than at top level:
the host-stepped trainers, whose CNNs see Procgen frames). Both give the same update from the same batch.
"""
from __future__ import annotations

import base64
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from duo_jax.core import checkpoint


class Batch(NamedTuple):
    obs: jnp.ndarray      # [T, B, ...] uint8
    action: jnp.ndarray   # [T, B]
    logp: jnp.ndarray     # [T, B]
    value: jnp.ndarray    # [T, B]
    reward: jnp.ndarray   # [T, B] (normalised)
    done: jnp.ndarray     # [T, B] episode ended at step t
    truncated: jnp.ndarray | None = None         # [T, B] it ended by a time limit (see `gae`)
    truncation_value: jnp.ndarray | None = None  # [T, B] value to bootstrap from there


def gae(reward, value, done, last_value, gamma: float, lam: float, truncated=None, truncation_value=None):
    """Advantages and returns over [T, B]; the bootstrap value is V(s_T), the state after the last step.

    `done[t]`: the episode ended at step t. Where it ended by truncation (`truncated[t]`, a time limit,
    not a terminal state) the step still bootstraps, from `truncation_value[t]` (the value of the
    episode's last state), while the trace is cut as at any episode end.
    """
    if truncated is None:
        truncated, truncation_value = jnp.zeros_like(done), jnp.zeros_like(value)

    def body(carry, x):
        next_adv, next_value = carry
        r, v, d, tr, tv = x
        bootstrap = jnp.where(tr > 0, tv, next_value * (1.0 - d))
        delta = r + gamma * bootstrap - v
        adv = delta + gamma * lam * (1.0 - d) * next_adv
        return (adv, v), adv

    xs = (reward, value, done, truncated, truncation_value)
    _, adv = jax.lax.scan(body, (jnp.zeros_like(last_value), last_value), xs, reverse=True)
    return adv, adv + value


def normalize(adv):
    return (adv - adv.mean()) / (adv.std() + 1e-8)


def ppo_loss(apply, params, obs, action, old_logp, adv, ret, cfg, normalize_adv: bool = True):
    """The clipped PPO loss, means over the batch; advantages are normalised over it unless the caller
    already normalised them over a larger minibatch (`normalize_adv=False`)."""
    logits, value, _ = apply(params, obs)
    logp_all = jax.nn.log_softmax(logits)
    logp = jnp.take_along_axis(logp_all, action[:, None], axis=-1)[:, 0]
    ratio = jnp.exp(logp - old_logp)
    adv = normalize(adv) if normalize_adv else adv
    pg = -jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps) * adv).mean()
    vf = 0.5 * ((value - ret) ** 2).mean()
    entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
    loss = pg + cfg.vf_coef * vf - cfg.ent_coef * entropy
    return loss, {"pg_loss": pg, "vf_loss": vf, "entropy": entropy, "approx_kl": ((ratio - 1) - jnp.log(ratio)).mean()}


def scan_update(apply, tx, cfg, params, opt_state, data, key):
    """PPO epochs of shuffled minibatch steps as nested `lax.scan`s, for trainers that jit whole
    (models without convolutions); `data` = (obs, action, logp, adv, ret), flat over [T*B].
    Returns (params, opt_state, losses [num_epochs, num_minibatches])."""
    n = jax.tree_util.tree_leaves(data[1])[0].shape[0]
    mb = n // cfg.num_minibatches

    def sgd_step(carry, batch):
        params, opt_state = carry
        grads, metrics = jax.grad(partial(ppo_loss, apply), has_aux=True)(params, *batch, cfg)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    def epoch(carry, key):
        perm = jax.random.permutation(key, n)
        shuffled = jax.tree.map(lambda x: x[perm].reshape(cfg.num_minibatches, mb, *x.shape[1:]), data)
        return jax.lax.scan(sgd_step, carry, shuffled)

    (params, opt_state), losses = jax.lax.scan(epoch, (params, opt_state), jax.random.split(key, cfg.num_epochs))
    return params, opt_state, losses


MICROBATCH = 256  # samples per gradient pass inside a minibatch step


def minibatch_grads(apply, params, data, cfg):
    """The minibatch's gradient as the mean of micro-batch gradients of MICROBATCH samples each, unrolled in
    one jit (advantages normalised over the whole minibatch first, so it is the same gradient); `obs` may be
    a pytree (the coordinator's observation dict). XLA:CPU runs the convolutions' backward passes about 1.6x
    faster this way than on one 2048-sample batch; a `lax.map` over micro-batches ran 20x slower."""
    obs, action, logp, adv, ret = data
    data = (obs, action, logp, normalize(adv), ret)
    n = action.shape[0]
    k = n // MICROBATCH if n % MICROBATCH == 0 and n > MICROBATCH else 1
    loss = partial(ppo_loss, apply, cfg=cfg, normalize_adv=False)
    m = n // k
    outs = [jax.grad(loss, has_aux=True)(params, *jax.tree_util.tree_map(lambda x, i=i: x[i * m:(i + 1) * m], data))
            for i in range(k)]
    return jax.tree_util.tree_map(lambda *xs: sum(xs) / k, *outs)


def make_update(apply, tx, cfg):
    """One PPO update. Minibatch steps are separate jit calls: XLA:CPU runs convolutions
    inside `lax.scan` several times slower than at top level (measured 4x)."""

    @jax.jit
    def prepare(batch: Batch, last_value):
        adv, ret = gae(
            batch.reward, batch.value, batch.done, last_value, cfg.gamma, cfg.gae_lambda, batch.truncated,
            batch.truncation_value,
        )
        return jax.tree_util.tree_map(
            lambda x: x.reshape(-1, *x.shape[2:]), (batch.obs, batch.action, batch.logp, adv, ret)
        )

    @jax.jit
    def sgd_step(params, opt_state, flat, idx):
        # The minibatch is gathered inside the jit: one dispatch per step instead of one per array.
        data = jax.tree_util.tree_map(lambda x: x[idx], flat)
        grads, metrics = minibatch_grads(apply, params, data, cfg)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, metrics

    def update(params, opt_state, batch: Batch, last_value, key):
        flat = prepare(batch, last_value)
        n = flat[1].shape[0]
        mb = n // cfg.num_minibatches
        rng = np.random.default_rng(np.asarray(key))
        metrics = []
        for _ in range(cfg.num_epochs):
            perm = rng.permutation(n)
            for i in range(cfg.num_minibatches):
                params, opt_state, m = sgd_step(params, opt_state, flat, perm[i * mb : (i + 1) * mb].astype(np.int32))
                metrics.append(m)
        return params, opt_state, jax.tree_util.tree_map(lambda *xs: jnp.mean(jnp.stack(xs)), *metrics)

    return update


class ReturnNormalizer:
    """Scales rewards by the running std of the discounted return (as Procgen's PPO baseline does)."""

    def __init__(self, num_envs: int, gamma: float, state: dict | None = None):
        self.gamma = gamma
        self.ret = np.zeros(num_envs)
        self.count, self.mean, self.var = 1e-4, 0.0, 1.0
        if state:
            self.count, self.mean, self.var = state["count"], state["mean"], state["var"]
            if "ret" in state:  # checkpoints before the per-env returns were saved restart them at 0
                self.ret = np.asarray(state["ret"], np.float64)

    def __call__(self, reward: np.ndarray, done: np.ndarray) -> np.ndarray:
        self.ret = self.ret * self.gamma + reward
        b_mean, b_var, b_count = self.ret.mean(), self.ret.var(), len(self.ret)
        delta, tot = b_mean - self.mean, self.count + b_count
        self.mean += delta * b_count / tot
        self.var = (self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / tot) / tot
        self.count = tot
        self.ret[done] = 0.0
        return np.clip(reward / np.sqrt(self.var + 1e-8), -10, 10).astype(np.float32)

    def state(self) -> dict:
        """JSON-ready and exact (floats round-trip through JSON)."""
        return {"count": float(self.count), "mean": float(self.mean), "var": float(self.var), "ret": self.ret.tolist()}


class Diverged(RuntimeError):
    """A loss or the params stopped being finite; the last checkpoint was left as it was."""


@jax.jit
def _all_finite(tree) -> jnp.ndarray:
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in jax.tree_util.tree_leaves(tree)]))


def num_iterations(cfg) -> int:
    """Whole PPO iterations of `cfg` (a `ppo` section): `total_steps` rounded down to `num_envs * num_steps`."""
    return cfg.total_steps // (cfg.num_envs * cfg.num_steps)


def check_snapshots(snapshots, total_steps: int) -> tuple[int, ...]:
    """`ppo.snapshots`, checked against the env steps the run will take (whole iterations)."""
    snapshots = tuple(snapshots)
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= total_steps for s in snapshots):
        raise ValueError(f"ppo.snapshots must be env-step counts between 1 and the run's {total_steps} steps; "
                         f"got {snapshots!r}.")
    return snapshots


def check_finite(metrics: dict, params, iteration: int, checkpoint_dir: str) -> None:
    """Raise `Diverged` (one sentence) if a loss or a param is not finite after `iteration`'s update; checked on
    the host before anything is saved, so the checkpoint in `checkpoint_dir` stays the last good one."""
    values = {k: np.asarray(v).ravel() for k, v in metrics.items()}
    bad = [
        (k, float(v[~np.isfinite(v)][0]))
        for k, v in sorted(values.items(), key=lambda kv: not kv[0].endswith("loss"))
        if not np.isfinite(v).all()
    ]  # the losses first
    if not bad and not bool(_all_finite(params)):
        bad = [("a parameter", "not finite")]
    if bad:
        name, value = bad[0]
        where = (
            f"the last good checkpoint is at {checkpoint_dir}"
            if checkpoint.latest_step(checkpoint_dir) is not None
            else "no checkpoint had been written yet"
        )
        raise Diverged(f"training diverged at iteration {iteration}: {name} is {value}; {where}.")


def save_env_state(env) -> list[str] | None:
    """The envs' own states as JSON text (base64), or None for an env without `get_state`."""
    get = getattr(env, "get_state", None)
    return None if get is None else [base64.b64encode(s).decode("ascii") for s in get()]


def restore_env_state(env, states: list[str] | None, obs):
    """Put the envs back where `save_env_state` left them and return their observations; an env that cannot save
    its state starts afresh (the run then resumes, but not exactly)."""
    if states is not None and hasattr(env, "set_state"):
        return env.set_state([base64.b64decode(s) for s in states])
    why = "the checkpoint holds no env states" if states is None else "the env has no set_state"
    logging.warning("The envs start afresh (%s), so the resumed run will differ from an uninterrupted one.", why)
    return obs


def optimizer(cfg, num_iters: int) -> optax.GradientTransformation:
    """The optimizer chain of every PPO trainer: clip by global norm, then Adam (eps 1e-5). With
    `cfg.final_lr_fraction` (the agents' configs) the learning rate decays linearly to that fraction of itself over
    the run's updates; without it (the coordinator's configs/ppo.py) it is constant. The two keep their optimizer
    states' structures, so earlier checkpoints restore."""
    lr = cfg.learning_rate
    if "final_lr_fraction" in cfg:
        lr = optax.linear_schedule(
            cfg.learning_rate, cfg.learning_rate * cfg.final_lr_fraction,
            num_iters * cfg.num_epochs * cfg.num_minibatches,
        )
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.adam(lr, eps=1e-5))
