"""The suite's rows: an environment's methods and variants (as the paper reports them) and the config of each
row's sweep. `duo_jax.suite` runs them; `duo_jax.report` reads them for sweeps older than a recorded config."""
from __future__ import annotations

import os

from duo_jax import cli, paths
from duo_jax.coordinators.features import FEATURE_TYPES
from duo_jax.coordinators.logit import METRICS
from duo_jax.envs import procgen
from duo_jax.envs.gridworld.family import GAMES as GRID_GAMES

ENVS = (*procgen.GAMES, *GRID_GAMES)


def methods(env: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (method config, its overrides): the paper's rows (always_novice ... skyline_<feature>)."""
    table = {
        "always_novice": ("always", ("algorithm.agent=novice",)),
        "always_expert": ("always", ("algorithm.agent=expert",)),
        "random_fixed": ("random_fixed", ()),
        "random": ("random", ()),
        "ask_every_k": ("ask_every_k", ("algorithm.candidates=(1,2,3,5,10,20)",)),
        **{f"logit_{m}": ("logit", (f"policy.metric={m}",)) for m in METRICS},
        **{f"ood_{f}": ("ood", (f"policy.feature_type={f}", "algorithm.threshold_rule=contamination"))
           for f in FEATURE_TYPES},
        **{f"ppo_{f}": ("ppo", (f"policy.feature_type={f}",)) for f in FEATURE_TYPES},
        **{f"skyline_{f}": ("skyline", (f"policy.feature_type={f}",)) for f in FEATURE_TYPES},
    }
    if env in procgen.GAMES:
        # Episodes run to Procgen's own time limit (jumper's last about 600 steps), and PPO steps Procgen on
        # the host: half a million steps per alpha (30 iterations, validated every 3) keeps it to minutes.
        own = (f"env.game={env}", "evaluation.max_num_steps=1000")
        ppo = ("algorithm.total_steps=491520", "algorithm.eval_every=3")
        table = {k: (c, own + o + (ppo if c in ("ppo", "skyline") else ())) for k, (c, o) in table.items()}
    # YRC-Bench's prices: round(alpha * BP, 2) per expert step.
    return {k: (c, ("costs.round_to_cents=True", *o)) for k, (c, o) in table.items()}


# Beyond the reference (issue 38): the logit and ood rows again, calibrated on the deployed novice's own
# training-split rollouts instead of the simulated novice's, to show what the simulated pair costs them.
SENSITIVITY = "sensitivity"
DEPLOYED = "_deployed"


def sensitivity_methods(env: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (method config, its overrides): `<logit or ood row>_deployed`, run with `--methods sensitivity`."""
    return {f"{name}{DEPLOYED}": (c, (*o, "algorithm.calibrate_on=deployed_novice"))
            for name, (c, o) in methods(env).items() if c in ("logit", "ood")}


def all_methods(env: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The paper's rows and the sensitivity rows."""
    return {**methods(env), **sensitivity_methods(env)}


def is_sensitivity(method: str) -> bool:
    return method.endswith(DEPLOYED)


def config_path(env: str, method_config: str) -> str:
    if env in procgen.GAMES:
        return os.path.join(paths.CONFIGS, f"{method_config}.py")
    return f"{os.path.join(paths.CONFIGS, 'gridworld.py')}:{env},{method_config}"


def build_config(env: str, name: str, seed: int, out: str, extra: tuple[str, ...]):
    """The sweep's config, with every override checked as on the command line."""
    method_config, overrides = all_methods(env)[name]
    own = (f"name={name}", f"seed={seed}", f"evaluation.seed={seed}",
           f"experiments_dir={os.path.join(out, env, f'seed_{seed}')}", "evaluation.progress=False")
    return cli.config_with_overrides(config_path(env, method_config), extra, before=overrides, after=own)
