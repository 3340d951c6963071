"""AskEveryK from Python: load configs/ask_every_k.py, override a few fields, run, print the results.

Runs from any directory: the config and the shipped agents are found from the source tree, and the experiment
goes to --experiments-dir (relative to the working directory). A finished run is replaced only with --overwrite.

    python examples/ask_every_k.py --episodes 64
    python examples/ask_every_k.py --episodes 16 --max-steps 32 --candidates 2,5,10 --bp 0.1 --overwrite
"""
import argparse
import os
import sys

from duo_jax.config import load_config
from duo_jax.main import run

CONFIG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "ask_every_k.py")


def parse_args(argv, config):
    """The flags, each with the config's default in its help."""
    ev = config.evaluation
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, help=f"evaluation.num_episodes (default: {ev.num_episodes}; one env "
                   "slot per episode unless --num-envs)")
    p.add_argument("--num-envs", type=int, help=f"evaluation.num_envs; must divide --episodes (default: {ev.num_envs})")
    p.add_argument("--max-steps", type=int, help=f"evaluation.max_num_steps (default: {ev.max_num_steps})")
    p.add_argument("--candidates", help="comma-separated values of k, e.g. 5,10,20 (default: "
                   f"{','.join(map(str, config.algorithm.candidates))})")
    p.add_argument("--bp", type=float, help="costs.bp (default: derived from the expert's test stats)")
    p.add_argument("--experiments-dir", help=f"experiments_dir (default: {config.experiments_dir})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing <experiments-dir>/ask_every_k")
    return p.parse_args(argv)


def main(argv=None) -> None:
    config = load_config(CONFIG_FILE)
    args = parse_args(argv, config)
    if args.episodes is not None:
        config.evaluation.num_episodes = args.episodes
        config.evaluation.num_envs = args.num_envs or args.episodes
    elif args.num_envs is not None:
        config.evaluation.num_envs = args.num_envs
    if args.max_steps is not None:
        config.evaluation.max_num_steps = args.max_steps
    if args.candidates:
        config.algorithm.candidates = tuple(int(k) for k in args.candidates.split(","))
    if args.bp is not None:
        config.costs.bp = args.bp
    if args.experiments_dir:
        config.experiments_dir = args.experiments_dir
    config.overwrite = args.overwrite
    target = os.path.abspath(os.path.join(config.experiments_dir, config.name))
    if os.path.exists(target) and not args.overwrite:  # this script's flag, not the config's --config.overwrite
        sys.exit(f"error: {target} already exists; pass --overwrite to replace it, or --experiments-dir to write "
                 "elsewhere.")

    try:
        results = run(config)  # = execute(setup(config)); setup checks everything before any rollout
    except (ValueError, OSError) as err:
        sys.exit(f"error: {err}")

    print(
        f"\n{results['name']} on {results['env']}: "
        f"alpha={results['alpha']} beta={results['beta']} bp={results['bp']:.4f}"
    )
    for split, rows in results["candidates"].items():
        grid = "  ".join(f"k={row['params']['k']}: {row['reward_mean']:.3f}" for row in rows)
        print(f"  {split:<8} candidates  {grid}")
    for split, entry in results["splits"].items():
        print(
            f"  {split:<14} k={entry['best_params']['k']:<3} "
            f"reward {entry['reward_mean']:7.3f} ± {entry['reward_ci95']:.3f}"
            f"  base {entry['base_reward_mean']:.3f}  expert {entry['expert_fraction']:.3f}"
            f"  length {entry['episode_length_mean']:.1f}  ({entry['episodes']} episodes)"
        )
    print(f"Wrote {os.path.join(config.experiments_dir, config.name, 'results.json')} in {results['wall_time_s']} s")


if __name__ == "__main__":
    main()
