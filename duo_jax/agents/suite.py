"""A Procgen game's whole agent set (novice, simulated novice, expert) in one command, resumable.

    python -m duo_jax.agents.suite --game climber                  # the CPU budget, into experiments/agents/climber
    python -m duo_jax.agents.suite --game climber --budget paper   # YRC-Bench's budget and IMPALA CNN (a GPU)
    python -m duo_jax.agents.suite --game coinrun --override expert.ppo.total_steps=1638400
    python -m duo_jax.agents.suite --game climber --install        # ... and ship it as agents/climber
    python -m duo_jax.agents.suite --game jumper --expert agents/jumper/expert/agent \
        --override=novice.ppo.total_steps=1966080                 # a new novice beside a trained expert

It trains the novice on easy train levels (snapshotting its run at `sim_novice.snapshots` of its budget) and
the expert on hard levels (or takes a trained one, `--expert`), measures every agent on the fixed levels of
val_sim and test (stored in each checkpoint), checks the simulated pair (before the expert trains, so its
verdict comes early), and writes `<out>/<game>/agents.{md,json}`. The simulated novice is the novice run's own
snapshot at `sim_novice.fraction` of its steps (the reference's: 40M of 80M); the pair is clear when the novice,
acting as the simulated expert, beats it on val_sim by more than the two 95% intervals together and by at least
`MIN_GAP` (YRC-0 needs a pair whose expert is worth asking). When it is not, the log and agents.md say so, and a
smaller novice budget (still learning at half of it) is the remedy. Rerun after an interruption, it resumes each
trainer where its checkpoint left it and measures nothing twice. It writes into `agents/` only with `--install`,
and only a set whose two pairs are clear; a game whose agents are already there (a shipped one) only with
`--install --overwrite`, which is checked before any training.
"""
from __future__ import annotations

import json
import os
import shutil

import ml_collections
from absl import logging

from duo_jax import cli, paths
from duo_jax.agents import evaluate, ppo
from duo_jax.agents.agent import load_agent, training_identity
from duo_jax.agents.train import check as check_training
from duo_jax.core import checkpoint
from duo_jax.core.files import atomic_write_text, swap_dir
from duo_jax.envs import procgen
from duo_jax.envs.gridworld.family import GAMES as GRID_GAMES
from duo_jax.tables import agent_set_markdown
from duo_jax.validate import EXPERIMENT_RULES, check_rules

SPLITS = ("val_sim", "test")
BUDGETS = ("cpu", "paper")  # configs/agent_suite.py's


def _is_fraction(f) -> bool:
    return isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 1


def _steps_at(config, fraction: float) -> int:
    """`fraction` of the novice's budget, rounded down to a whole iteration (at least one)."""
    per_iter = config.novice.ppo.num_envs * config.novice.ppo.num_steps
    return max(1, int(fraction * ppo.num_iterations(config.novice.ppo))) * per_iter


def snapshot_steps(config) -> tuple[int, ...]:
    """The novice's snapshots: `sim_novice.snapshots` and `sim_novice.fraction` of its budget, in env steps."""
    fractions = tuple(config.sim_novice.snapshots)
    if not all(_is_fraction(f) for f in fractions):
        raise ValueError(
            f"sim_novice.snapshots must be fractions of the novice's budget between 0 and 1, e.g. "
            f"(0.25, 0.5); got {fractions!r}."
        )
    return tuple(sorted({_steps_at(config, f) for f in (*fractions, sim_novice_fraction(config))}))


def sim_novice_fraction(config) -> float:
    fraction = config.sim_novice.get("fraction", 0.5)
    if not _is_fraction(fraction):
        raise ValueError(f"sim_novice.fraction must be a fraction of the novice's budget between 0 and 1 (the "
                         f"reference's is 0.5); got {fraction!r}.")
    return fraction


def _differing_field(a: dict, b: dict, prefix: str = "") -> str | None:
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            found = _differing_field(x, y, f"{prefix}{k}.")
            if found:
                return found
        elif x != y:
            return f"{prefix}{k} is {x!r} there and {y!r} here"
    return None


def check_resumable(train_config, role: str) -> None:
    """An out_dir with a run in it must hold this same run: resuming another would mix two trainings."""
    state = os.path.join(train_config.out_dir, "state")
    if checkpoint.latest_step(state) is None:
        return
    _, meta = checkpoint.load_checkpoint(state)
    theirs = training_identity(ml_collections.ConfigDict(meta["config"]))
    differs = _differing_field(theirs, training_identity(train_config))
    if differs:
        article = "an" if role[0] in "aeiou" else "a"
        raise ValueError(
            f"{train_config.out_dir} holds {article} {role} run with other settings ({differs}); "
            "pass another --out or remove that directory."
        )


def build(args) -> ml_collections.ConfigDict:
    """The suite's config for `args.game` and `args.budget`, every override and field checked."""
    if args.game in GRID_GAMES:
        raise ValueError(
            f"--game {args.game} is a gridworld; its agents are trained by scripts/train_grid_agents.sh. "
            f"--game must be a Procgen game: {', '.join(procgen.GAMES)}."
        )
    if args.game not in procgen.GAMES:
        raise ValueError(f"--game must be a Procgen game, one of {', '.join(procgen.GAMES)}; got {args.game!r}.")
    config = cli.config_with_overrides(f"{os.path.join(paths.CONFIGS, 'agent_suite.py')}:{args.budget}", args.override)
    config.game = args.game
    if getattr(args, "expert", ""):
        check_expert_agent(args.expert, args.game)
        config.expert_agent = os.path.abspath(args.expert)
    root = os.path.join(os.path.abspath(args.out), args.game)
    config.novice.ppo.snapshots = snapshot_steps(config)
    if config.get("expert_agent") and not getattr(args, "expert", ""):  # --override=expert_agent=PATH
        check_expert_agent(config.expert_agent, args.game)
    for role in ("novice", "expert"):
        train = config[role]
        train.env.game, train.out_dir = args.game, os.path.join(root, role)
        try:
            check_training(train)  # its out_dir may hold this suite's finished run: the suite skips it
        except ValueError as err:  # its sentences start with the field (ppo.num_envs ...): name the section too
            first = str(err).split(" ", 1)[0]
            raise ValueError(f"{role}.{err}" if first.split(".")[0] in train else f"{role}: {err}") from None
        check_resumable(train, role)
    ev = config.evaluation
    check_rules(
        config,
        {
            f"evaluation.{f}": EXPERIMENT_RULES[f"evaluation.{f}"]
            for f in ("num_episodes", "num_envs", "max_num_steps", "seed")
        },
    )
    if ev.num_episodes % min(ev.num_envs, ev.num_episodes):
        raise ValueError(
            f"evaluation.num_episodes ({ev.num_episodes}) must be divisible by evaluation.num_envs ({ev.num_envs})."
        )
    return config


def train(train_config, role: str) -> None:
    """Train (or resume, or skip when finished) one of the suite's two runs."""
    if checkpoint.latest_step(os.path.join(train_config.out_dir, "state")) == ppo.num_iterations(train_config.ppo):
        logging.info("%s: trained (%s)", role, train_config.out_dir)
        return
    logging.info("%s: training into %s", role, train_config.out_dir)
    ppo.train(train_config, lambda game, split, n, seed: procgen.ProcgenEnv(game, split, n, seed=seed))


def check_expert_agent(path: str, game: str) -> None:
    """`--expert`: an agent checkpoint of `game` trained on its test (hard) levels."""
    try:
        config = load_agent(path).config
    except (ValueError, OSError) as err:
        raise ValueError(f"--expert {path}: {str(err).rstrip('.')}.") from None
    if config.get("game") != game or config.get("trained_on") != "test":
        raise ValueError(f"--expert {path} is an agent of {config.get('game')!r} trained on "
                         f"{config.get('trained_on')!r}; it must be an agent of {game!r} trained on 'test' (hard "
                         "levels).")


def use_expert(path: str, dest: str) -> None:
    """The expert `path` (checked by `check_expert_agent`) as the set's: copied to `dest` once, so that its
    measurements are stored in the suite's copy, not in the original."""
    if os.path.exists(dest):
        logging.info("expert: %s (from --expert)", dest)
        return
    tmp = dest + ".copying"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(path, tmp)
    os.replace(tmp, dest)
    logging.info("expert: %s copied to %s", path, dest)


def measured(path: str, splits, ev) -> dict:
    """The agent at `path` measured on `splits` (stored in its checkpoint; reused when already there)."""
    agent, out = load_agent(path), {}
    for split in splits:
        logging.info("measuring %s on %s", path, split)
        agent, out[split] = evaluate.measure(
            path, agent, split, ev.num_episodes, ev.max_num_steps, ev.seed, ev.num_envs
        )
    return {
        "path": path,
        "run_id": agent.config.get("run_id"),
        "train_steps": agent.config.get("train_steps"),
        "trained_on": _levels(agent.config.get("trained_on")),
        "model": agent.config.get("model"),
        **out,
    }


def _levels(split: str | None) -> str | None:
    return f"{split} ({procgen.SPLITS[split].distribution_mode})" if split in procgen.SPLITS else split


MIN_GAP = 0.1  # a clear gap is also at least this much reward: narrow intervals alone do not make a pair


def margin(better: dict, worse: dict, split: str) -> dict:
    """`better` beats `worse` on `split` clearly: by more than the two 95% intervals together, and by `MIN_GAP`."""
    gap = better[split]["reward_mean"] - worse[split]["reward_mean"]
    both = better[split]["reward_ci95"] + worse[split]["reward_ci95"]
    return {"split": split, "gap": gap, "intervals": both, "clear": bool(gap > both and gap >= MIN_GAP)}


def choose_sim_novice(novice: dict, snapshots: list[dict], steps: int) -> tuple[dict, dict]:
    """The snapshot at `steps` (the novice's own run at `sim_novice.fraction` of it), with the novice's margin
    over it on val_sim."""
    (sim,) = [s for s in snapshots if s["train_steps"] == steps]
    return sim, margin(novice, sim, "val_sim")


def run(config) -> dict:
    """Train, snapshot, measure and choose; writes `agents.{json,md}` beside the two runs."""
    ev = config.evaluation
    novice_dir, expert_dir = config.novice.out_dir, config.expert.out_dir
    train(config.novice, "novice")
    # The simulated pair is measured before the expert trains: its verdict comes an expert's training earlier.
    novice = measured(os.path.join(novice_dir, "agent"), SPLITS, ev)
    snapshots = [
        measured(os.path.join(novice_dir, f"snapshot_{s}"), ("val_sim",), ev) for s in config.novice.ppo.snapshots
    ]
    sim, sim_margin = choose_sim_novice(novice, snapshots, _steps_at(config, sim_novice_fraction(config)))
    logging.info(
        "sim_novice: %s; the novice beats it on val_sim by %.2f, against %.2f for both intervals: %s",
        sim["path"],
        sim_margin["gap"],
        sim_margin["intervals"],
        "a clear pair" if sim_margin["clear"] else "NOT a clear pair (a smaller novice budget, one the novice is "
        "still learning at half of, may make one)",
    )
    sim = measured(sim["path"], SPLITS, ev)
    if config.get("expert_agent"):
        use_expert(config.expert_agent, os.path.join(expert_dir, "agent"))
    else:
        train(config.expert, "expert")
    expert = measured(os.path.join(expert_dir, "agent"), SPLITS, ev)
    result = {
        "game": config.game,
        "budget": config.budget,
        "evaluation": ev.to_dict(),
        "agents": {"sim_novice": sim, "novice": novice, "expert": expert},
        "snapshots": [dict(s, margin=margin(novice, s, "val_sim")) for s in snapshots],
        "margins": {"novice_over_sim_novice": sim_margin, "expert_over_novice": margin(expert, novice, "test")},
        "config": config.to_dict(),
    }
    root = os.path.dirname(novice_dir)
    atomic_write_text(os.path.join(root, "agents.json"), json.dumps(result, indent=1, default=str) + "\n")
    atomic_write_text(os.path.join(root, "agents.md"), agent_set_markdown(result) + "\n")
    return result


def install(result: dict, repo_agents: str) -> str:
    """Copy the set's params to `<repo_agents>/<game>/<role>/agent` (the training states stay in the suite's
    `--out`, where training continues: they would triple the shipped tree's size); the old set is replaced only
    once the new one is complete. A set whose pairs are not both clear is refused (ValueError): it would break
    the shipped agents' rule (tests/test_shipped_agents.py)."""
    unclear = [name for name, m in result["margins"].items() if not m["clear"]]
    if unclear:
        raise ValueError(
            f"--install: {result['game']}'s set is not shipped, its {' and '.join(unclear)} margin is "
            f"not clear (a gap over both 95% intervals and of at least {MIN_GAP})."
        )
    dest = os.path.join(repo_agents, result["game"])
    tmp = dest + ".installing"
    shutil.rmtree(tmp, ignore_errors=True)
    for role, agent in result["agents"].items():
        shutil.copytree(agent["path"], os.path.join(tmp, role, "agent"))
    shutil.copy(
        os.path.join(os.path.dirname(os.path.dirname(result["agents"]["novice"]["path"])), "agents.md"),
        os.path.join(tmp, "agents.md"),
    )
    swap_dir(tmp, dest)
    return dest


@cli.interruptible("run the same command again to resume: each training continues from its last checkpoint")
def main(argv=None) -> None:
    parser = cli.ArgumentParser(prog="python -m duo_jax.agents.suite", description=__doc__.split("\n\nIt trains")[0])
    parser.add_argument("--game", required=True, help=f"a Procgen game: {', '.join(procgen.GAMES)}")
    parser.add_argument(
        "--budget", default="cpu", choices=BUDGETS, help="cpu or paper (configs/agent_suite.py)"
    )
    parser.add_argument("--out", default="experiments/agents", help="the runs go to <out>/<game>/{novice,expert}")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a field of configs/agent_suite.py, e.g. --override=expert.ppo.total_steps=1638400",
    )
    parser.add_argument(
        "--expert",
        default="",
        metavar="PATH",
        help="a trained expert of the game (an agent checkpoint such as agents/jumper/expert/agent) to use "
        "instead of training one",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="copy the finished set to agents/<game> if both its pairs are clear",
    )
    parser.add_argument("--overwrite", action="store_true", help="with --install: replace the agents in agents/<game>")
    args = parser.parse_args(argv)
    logging.set_verbosity(logging.INFO)
    try:
        config = build(args)
        shipped = os.path.join(paths.AGENTS, args.game)
        if args.install and os.path.exists(shipped) and not args.overwrite:  # before hours of training
            raise ValueError(f"--install: {shipped} already holds {args.game}'s agents; pass --overwrite to replace "
                             "them, or leave out --install (the set stays in --out).")
    except (ValueError, OSError) as err:
        cli.fail(err)
    try:
        result = run(config)
    except ppo.Diverged as err:
        cli.fail(err)
    print(agent_set_markdown(result))
    print(f"wrote {os.path.join(os.path.abspath(args.out), args.game, 'agents.md')}")
    if args.install:
        try:
            print(f"installed {install(result, paths.AGENTS)}")
        except ValueError as err:
            cli.fail(f"{str(err).rstrip('.')}; the runs stay in {args.out}.")


if __name__ == "__main__":
    main()
