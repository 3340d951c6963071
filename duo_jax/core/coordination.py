"""One coordination step, jitted: novice + expert forward, coordinator decision, base action, costs.

Costs (DESIGN.md): every expert step costs alpha*BP; a switch of agent costs beta*BP when it
happens inside an episode (never at an episode's first step).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from duo_jax.core.agent import Agent, sample_action
from duo_jax.core.policy import EXPERT, FEATURES, NOVICE, Policy, check_reads, reads_expert, reads_novice


class Costs(NamedTuple):
    alpha: float | jnp.ndarray
    beta: float | jnp.ndarray
    bp: float | jnp.ndarray


class CoordState(NamedTuple):
    policy_state: object       # leaves shaped [C, N, ...]
    prev_action: jnp.ndarray   # [C*N] last coordinator action


def switched(action, prev_action, first):
    """A switch of agent inside an episode (never at its first step); numpy or jax arrays."""
    return (action != prev_action) & ~first


def cost_of(expert_steps, switches, costs: Costs):
    """Cost of `expert_steps` expert steps and `switches` switches: per step, or summed over an episode."""
    return (costs.alpha * expert_steps + costs.beta * switches) * costs.bp


def round_to_cents(costs: Costs) -> Costs:
    """The reference's prices (YRC-Bench, CoordEnv.set_costs): alpha*BP and beta*BP rounded to 2 decimals, so a
    price below 0.005 is 0. Kept as the weights that charge them (alpha' = round(alpha*BP, 2) / BP), so every
    caller of `cost_of` charges the rounded price. BP <= 0 (no cost unit): unchanged."""
    bp = float(costs.bp)
    if bp <= 0:
        return costs
    return costs._replace(alpha=round(float(costs.alpha) * bp, 2) / bp, beta=round(float(costs.beta) * bp, 2) / bp)


def charged(config, costs: Costs) -> Costs:
    """The costs a run charges: rounded to cents where `config.costs.round_to_cents` asks for the reference's prices."""
    return round_to_cents(costs) if config.costs.get("round_to_cents", False) else costs


def step_cost(action, prev_action, first, costs: Costs) -> jnp.ndarray:
    expert = (action == EXPERT).astype(jnp.float32)
    return cost_of(expert, switched(action, prev_action, first).astype(jnp.float32), costs)


def coordinator_obs(obs, novice_out: tuple, expert_out: tuple | None, open_expert: bool) -> dict:
    cobs = {"base_obs": obs, "novice_hidden": novice_out[2], "novice_logits": novice_out[0]}
    if open_expert:
        cobs.update(expert_hidden=expert_out[2], expert_logits=expert_out[0])
    return cobs


def observe(novice_apply, expert_apply, novice_params, expert_params, obs, open_expert: bool,
            expert_on_all: bool = True):
    """The agents' forward passes and the coordinator observation built from them. The expert runs here on
    every env when the coordinator reads it (`open_expert`) or `expert_on_all`; otherwise its output is None
    and `acting_expert_logits` runs it after the decision, on the envs that asked only. (Under `vmap`, as
    in the all-JAX trainers, keep `expert_on_all`: a vmapped switch runs every branch.)"""
    novice_out = novice_apply(novice_params, obs)
    expert_out = expert_apply(expert_params, obs) if open_expert or expert_on_all else None
    return novice_out, expert_out, coordinator_obs(obs, novice_out, expert_out, open_expert)


def acting_expert_logits(expert_apply, expert_params, obs, expert_out, action):
    """The expert's logits for the base action: from `observe`'s full pass, or, where it skipped the
    expert, from a pass over the envs that asked (`masked_logits`)."""
    if expert_out is not None:
        return expert_out[0]
    return masked_logits(expert_apply, expert_params, obs, action == EXPERT)


def base_action(action, novice_logits, expert_logits, key, temperature: float):
    """The environment action, sampled from the expert's logits where the coordinator asked for it, else from
    the novice's: one draw per env, not one per agent. `key`: one key, or one key per env (`is_key_batch`)."""
    logits = jnp.where((action == EXPERT)[:, None], expert_logits, novice_logits)
    if is_key_batch(key):
        return jax.vmap(lambda k, x: sample_action(x, k, temperature))(key, logits)
    return sample_action(logits, key, temperature)


def is_key_batch(key) -> bool:
    """One key per env (raw uint32 [B, 2], or typed [B]) rather than one key."""
    typed = jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
    return key.ndim == (1 if typed else 2)


def episode_keys(key, episode, t):
    """One key per env for step `t` of episode `episode` ([B] each). An episode's random stream depends on
    its index only, never on the slot that plays it: any scheduling of episodes onto slots gives the same
    results, and every candidate meets the same stream on the same episode (common random numbers)."""
    return jax.vmap(lambda e, s: jax.random.fold_in(jax.random.fold_in(key, e), s))(episode, t)


def buckets(num_envs: int) -> tuple[int, ...]:
    """Batch sizes an agent may run at in evaluation: none, an eighth, a quarter, a half, or all of the envs."""
    return tuple(sorted({0, *(max(1, num_envs // d) for d in (8, 4, 2)), num_envs}))


def masked_logits(apply, params, obs, ask):
    """An agent's logits where `ask` (zeros elsewhere), from a forward pass over those envs only: they are
    gathered into the smallest of `buckets` that holds them (fixed shapes, one compiled branch per size,
    chosen at run time by `lax.switch`), so at a 5% expert fraction the expert costs about an eighth of a
    full pass. `obs` stays uint8 until the agent reads it."""
    B = ask.shape[0]
    sizes = buckets(B)
    num_actions = jax.eval_shape(apply, params, obs[:1])[0].shape[-1]
    row = jnp.clip(jnp.cumsum(ask) - 1, 0)  # each asking env's row in the bucket

    def branch(size):
        def run(obs):
            if size == 0:
                return jnp.zeros((B, num_actions), jnp.float32)
            if size == B:
                return apply(params, obs)[0].astype(jnp.float32)
            idx = jnp.nonzero(ask, size=size, fill_value=0)[0]
            logits = apply(params, obs[idx])[0].astype(jnp.float32)
            return jnp.where(ask[:, None], logits[jnp.minimum(row, size - 1)], 0.0)

        return run

    which = jnp.searchsorted(jnp.asarray(sizes), ask.sum())  # the first size >= the number that asked
    return jax.lax.switch(which, [branch(s) for s in sizes], obs)


def coord_step_fn(policy: Policy, novice_apply, expert_apply, C: int, open_expert: bool, temperature: float,
                  bucket_expert: bool = False, bucket_novice: bool = False):
    """The coordination step as a pure function (not jitted): a host loop jits it, a JAX rollout scans it.

    `key` is one key, or one key per env (see `episode_keys`). The policy acts on each env as a batch of
    one (`vmap` over envs), so its draws come from that env's key alone, and sees only the parts of the
    coordinator observation it `reads`. `bucket_expert` runs the expert only on the envs that asked, unless
    the policy reads its outputs; `bucket_novice` runs the novice only on the envs it acts for, unless the
    policy reads its outputs (`masked_logits`; under `vmap` a switch would run every branch, so the vmapped
    trainers set neither). `active` (optional, [B] bool): slots whose step counts; the agents skip the
    others, whose env actions are then arbitrary. `cand` (optional, [B] int): the candidate each slot plays,
    for slots in any order (the policy state is then [C, B, ...] and every candidate acts on every slot, the
    slot's own action kept); without it slots are candidate-major.
    """
    check_reads(policy)
    novice_on_all = reads_novice(policy) or not bucket_novice
    expert_on_all = (open_expert and reads_expert(policy)) or not bucket_expert
    available = set(FEATURES) if open_expert else {"base_obs", "novice_hidden", "novice_logits"}
    shown = policy.reads & available

    def split_c(x):
        return x.reshape(C, x.shape[0] // C, *x.shape[1:])

    def act_one(params, pstate, cobs, key):  # one env's leaves, without their batch axis
        def one(tree):
            return jax.tree_util.tree_map(lambda x: x[None], tree)

        try:
            action, pstate = policy.act(params, one(pstate), one(cobs), key)
        except KeyError as err:
            name = err.args[0] if err.args else None
            if name in FEATURES and name not in policy.reads:
                raise KeyError(f"The policy's act reads obs[{name!r}], which its Policy.reads "
                               f"({sorted(policy.reads)}) leaves out; add {name!r} to reads.") from None
            raise
        return action[0], jax.tree_util.tree_map(lambda x: x[0], pstate)

    def step(params, novice_params, expert_params, state: CoordState, obs, first, costs: Costs, key, active=None,
             cand=None):
        B = obs.shape[0]
        if cand is None:  # candidate-major slots: candidate c plays slots c*N .. c*N + N-1
            per_c, pick = split_c, (lambda a: a.reshape(-1))
        else:  # slot b plays candidate cand[b]: every candidate acts on every slot, the slot's own is kept
            per_c = lambda x: jnp.broadcast_to(x[None], (C, *x.shape))  # noqa: E731
            pick = lambda a: jnp.take_along_axis(a, cand[None], axis=0)[0]  # noqa: E731
        keys = key if is_key_batch(key) else jax.random.split(key, B)
        keys = jax.vmap(jax.random.split)(keys)  # [B, 2, 2]: the policy's and the base action's
        novice_out = novice_apply(novice_params, obs) if novice_on_all else None
        expert_out = expert_apply(expert_params, obs) if expert_on_all else None
        cobs = {"base_obs": obs}
        if novice_out is not None:
            cobs.update(novice_hidden=novice_out[2], novice_logits=novice_out[0])
        if expert_out is not None:
            cobs.update(expert_hidden=expert_out[2], expert_logits=expert_out[0])
        cobs = {name: cobs[name] for name in shown}
        pstate = jax.vmap(policy.reset)(state.policy_state, per_c(first))
        action, pstate = jax.vmap(jax.vmap(act_one, in_axes=(None, 0, 0, 0)))(
            params, pstate, jax.tree_util.tree_map(per_c, cobs), per_c(keys[:, 0])
        )
        action = pick(action).astype(jnp.int32)
        live = jnp.ones(B, bool) if active is None else active
        novice_logits = novice_out[0] if novice_out is not None else masked_logits(
            novice_apply, novice_params, obs, (action == NOVICE) & live)
        expert_logits = expert_out[0] if expert_out is not None else masked_logits(
            expert_apply, expert_params, obs, (action == EXPERT) & live)
        env_action = base_action(action, novice_logits, expert_logits, keys[:, 1], temperature)
        cost = step_cost(action, state.prev_action, first, costs)
        return env_action, action, cost, CoordState(pstate, action)

    return step


def init_coord_state(policy: Policy, C: int, num_envs: int) -> CoordState:
    if num_envs % C:
        raise ValueError(f"num_envs ({num_envs}) must be a multiple of the number of candidates ({C}).")
    single = policy.init(num_envs // C)
    pstate = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (C, *jnp.shape(x))), single)
    return CoordState(pstate, jnp.zeros((num_envs,), jnp.int32))


@functools.lru_cache(maxsize=64)
def _compiled_step(policy: Policy, novice_apply, expert_apply, C: int, open_expert: bool, temperature: float,
                   bucket_expert: bool, bucket_novice: bool = False):
    """The jitted step, cached so that repeated evaluations (splits, sweeps) compile once."""
    return jax.jit(coord_step_fn(policy, novice_apply, expert_apply, C, open_expert, temperature, bucket_expert,
                                 bucket_novice))


def make_coord_step(policy: Policy, novice: Agent, expert: Agent, num_candidates: int,
                    open_expert: bool = False, temperature: float = 1.0, bucket_expert: bool = False,
                    bucket_novice: bool = False):
    """Returns (init, step). The env batch is candidate-major: slot c*N + i runs candidate c.

    `step(params, state, obs, first, costs, key) -> (env_action, coord_action, cost, state)` where
    `params` has a leading candidate axis, `first[j]` says obs j starts an episode, and `key` is one key
    or one key per slot (`episode_keys`). `bucket_expert` / `bucket_novice`: see `coord_step_fn`.
    """
    C = num_candidates
    check_reads(policy)
    core = _compiled_step(policy, novice.apply, expert.apply, C, bool(open_expert), float(temperature),
                          bool(bucket_expert), bool(bucket_novice))

    def init(num_envs: int) -> CoordState:
        return init_coord_state(policy, C, num_envs)

    def step(params, state: CoordState, obs, first, costs: Costs, key):
        return core(params, novice.params, expert.params, state, obs, first, costs, key)

    return init, step
