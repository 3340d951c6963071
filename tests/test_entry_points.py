"""What every command promises a newcomer: `--help` exits 0 and shows the defaults (without optional
dependencies), shipped results are replaced only with `--overwrite`, and a path a user gives is relative to the
working directory, its error naming it in full."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
from helpers import REPO

from duo_jax.core.checkpoint import save_checkpoint

# (the command after `python`, phrases its --help must show); run from an empty directory, not the repo.
HELP = [
    (["-m", "duo_jax.main"], ["Fields of configs/ask_every_k.py", "costs.alpha = 0.4", "algorithm.candidates = (5,"]),
    (["-m", "duo_jax.sweep"], ["sweep.alphas = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)", "algorithm.name = 'logit'"]),
    (["-m", "duo_jax.agents.train"], ["default configs/train_agent.py", "ppo.total_steps = 5000000",
                                      "overwrite = False"]),
    (["-m", "duo_jax.agents.evaluate"], ["--num_episodes: Episodes", "(default: '256')", "--split"]),
    (["-m", "duo_jax.suite"], ["--seeds SEEDS comma-separated seeds (default: 0,1,2)", "--overwrite"]),
    (["-m", "duo_jax.report"], ["(default: 1000)", "--overwrite"]),
    (["-m", "duo_jax.launch"], ["(default: slurm)", "(default: 1440)", "(default: experiments/jobs)"]),
    (["-m", "duo_jax.curves"], ["(default: curves.png)"]),
    (["-m", "duo_jax.agents.suite"], ["(default: cpu)", "(default: experiments/agents)", "--overwrite"]),
    ([os.path.join(REPO, "benchmarks", "bench_procgen.py")], ["benchmarks/results/local/procgen.json", "--quick"]),
    ([os.path.join(REPO, "benchmarks", "bench_conv_torch.py")], ["benchmarks/results/local/conv_torch<version>.json"]),
    ([os.path.join(REPO, "examples", "ask_every_k.py")], ["evaluation.num_episodes (default: 256;", "--overwrite"]),
]


@pytest.mark.parametrize("command,phrases", HELP, ids=[c[-1].rsplit("/", 1)[-1] for c, _ in HELP])
def test_help_exits_0_and_shows_the_defaults(tmp_path, command, phrases):
    """bench_conv_torch.py's help needs no torch (not installed here, not a dependency)."""
    proc = subprocess.run([sys.executable, *command, "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p for p in phrases if p not in out] == [], out


# ---------------------------------------------------------------- nothing shipped is replaced by accident

def test_benchmarks_write_into_an_untracked_directory_unless_told(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(os.path.join(REPO, "benchmarks"))
    import common  # benchmarks/common.py

    default = common.output(argparse.Namespace(out=None, overwrite=False), "procgen.json")
    assert default == common.LOCAL / "procgen.json"
    assert default.parent.relative_to(REPO).as_posix() == "benchmarks/results/local"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(default)], cwd=REPO)
    assert ignored.returncode == 0, "benchmarks/results/local/ must be in .gitignore"
    monkeypatch.chdir(tmp_path)
    assert common.output(argparse.Namespace(out="mine.json", overwrite=False), "x.json") == tmp_path / "mine.json"


def test_a_benchmark_refuses_to_replace_results_without_overwrite(tmp_path):
    """Checked before the benchmark runs (it would otherwise be lost at its end); nothing is touched."""
    published = tmp_path / "conv.json"
    published.write_text("{}")
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "bench_conv.py"), "--out", "conv.json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"error: {published} already exists; pass --overwrite to replace it, or name another --out.\n"
    assert published.read_text() == "{}"


def _agent(path, config) -> None:
    save_checkpoint(str(path), {"w": [0.0]}, dict({"model": "small_cnn", "num_actions": 15}, **config))


def test_a_finished_agent_is_replaced_only_with_overwrite(tmp_path, monkeypatch):
    """agents.train into an out_dir with a finished (or another run's) agent needs --config.overwrite=True; an
    interrupted run of the same training resumes without it."""
    from helpers import load_config

    from duo_jax.agents import train
    from duo_jax.agents.agent import provenance

    c = load_config("train_grid_agent")
    c.out_dir = "run"   # relative: to the working directory
    monkeypatch.chdir(tmp_path)
    assert train.prepare(c) is c                       # nothing there yet
    total = c.ppo.total_steps // (c.ppo.num_envs * c.ppo.num_steps) * c.ppo.num_envs * c.ppo.num_steps
    _agent(tmp_path / "run" / "agent", dict(provenance(c, total // 2)))
    assert train.prepare(c) is c                       # an interrupted run of this training: resumed
    _agent(tmp_path / "run" / "agent", dict(provenance(c, total)))
    with pytest.raises(ValueError) as err:
        train.prepare(c)
    assert str(err.value) == (
        f"out_dir: {tmp_path / 'run'} holds an agent this training would replace (a finished or another run's); "
        "set --config.overwrite=True to train into it anyway, or choose another --config.out_dir.")
    c.overwrite = True
    assert train.prepare(c) is c


def test_install_over_shipped_agents_needs_overwrite(tmp_path, monkeypatch, capsys):
    """Checked before any training: `run` is never reached."""
    from duo_jax.agents import suite

    shipped = tmp_path / "repo_agents" / "climber"
    shipped.mkdir(parents=True)
    monkeypatch.setattr(suite.paths, "AGENTS", str(tmp_path / "repo_agents"))
    monkeypatch.setattr(suite, "run", lambda config: pytest.fail("trained although the install was refused"))
    with pytest.raises(SystemExit) as exit_:
        suite.main(["--game", "climber", "--out", str(tmp_path / "runs"), "--install"])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        f"error: --install: {shipped} already holds climber's agents; pass --overwrite to replace them, or leave "
        "out --install (the set stays in --out).\n")


# ---------------------------------------------------------------- one rule for paths

def test_agent_paths_are_relative_to_the_working_directory(make_config, agent_paths, tmp_path, monkeypatch):
    from duo_jax.experiment import setup

    monkeypatch.chdir(os.path.dirname(agent_paths["expert"]))
    c = make_config()
    c.agents.test_expert = os.path.basename(agent_paths["expert"])   # relative to the working directory
    s = setup(c)
    assert s.pairs["test"][1].config == setup(make_config()).pairs["test"][1].config
    monkeypatch.chdir(tmp_path)
    c.agents.test_expert = "mine/expert"
    with pytest.raises(ValueError) as err:
        setup(c)
    missing = str(tmp_path / "mine" / "expert")
    assert str(err.value) == f"agents.test_expert: Checkpoint path {missing!r} does not exist."


def test_gridworld_runs_take_a_method_config_from_any_path(tmp_path, monkeypatch):
    """configs/gridworld.py:<game>,<method>: a name in configs/, or a .py file relative to the working directory."""
    from helpers import load_config as load_shipped

    from duo_jax.cli import parse_config

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "my_k.py").write_text(
        "from duo_jax.config import load_config\n\n\ndef get_config():\n"
        f"    c = load_config({os.path.join(REPO, 'configs', 'ask_every_k.py')!r})\n"
        "    c.name, c.algorithm.candidates = 'my_k', (3, 7)\n    return c\n")
    monkeypatch.chdir(tmp_path)
    grid = os.path.join(REPO, "configs", "gridworld.py")
    c = parse_config(["main", f"--config={grid}:lavagap,mine/my_k.py"], None, "x")
    assert (c.name, c.env.game, c.algorithm.candidates) == ("lavagap_my_k", "lavagap", (3, 7))
    assert parse_config(["main", f"--config={grid}:lavagap,ask_every_k"], None, "x").algorithm.candidates == \
        load_shipped("ask_every_k").algorithm.candidates
    with pytest.raises(ValueError) as err:
        parse_config(["main", f"--config={grid}:lavagap,mine/nope.py"], None, "x")
    assert f"config file {str(tmp_path / 'mine' / 'nope.py')!r} does not exist" in str(err.value)


def test_the_example_names_its_own_overwrite_flag(tmp_path):
    (tmp_path / "experiments" / "ask_every_k").mkdir(parents=True)
    proc = subprocess.run([sys.executable, os.path.join(REPO, "examples", "ask_every_k.py"), "--episodes", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (f"error: {tmp_path / 'experiments' / 'ask_every_k'} already exists; pass --overwrite to "
                           "replace it, or --experiments-dir to write elsewhere.\n")


def test_bench_suite_keeps_its_sweeps_only_in_an_empty_folder(tmp_path):
    """`--keep` names where a from-scratch suite run stays: a folder with anything in it (or a file) is refused
    before any work, in one sentence."""
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    (tmp_path / "file").write_text("")
    for name in ("used", "file"):
        proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "bench_suite.py"), "--envs", "lavagap",
                               "--keep", name, "--out", "out.json"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1 and proc.stderr.strip() == (
            f"error: --keep '{name}' is not an empty folder; the suite must run from scratch (name an empty or new "
            "folder)."
        ), proc.stderr
    assert not (tmp_path / "out.json").exists() and os.listdir(tmp_path / "used") == ["x"]


def test_bench_suite_merges_games_measured_in_different_runs(tmp_path, monkeypatch):
    """A suite takes hours, so games and seeds are measured in different sessions: `--merge` keeps the games it did
    not run and adds a run on other seeds to its game (wall times, families and ceilings add up, each run listed
    with its meta); a seed measured again replaces the game; a file that is no earlier result is refused before
    any work."""
    monkeypatch.syspath_prepend(os.path.join(REPO, "benchmarks"))
    import bench_suite  # benchmarks/bench_suite.py

    def entry(seed, wall, ppo_s, iters_s, meta):
        ceiling = {"training_env_steps": 100 * 10, "ceiling_s": iters_s * 10, "env_steps_per_s": round(100 / iters_s),
                   "rows": {"ppo_obs": {"s_per_iteration": iters_s, "env_steps_per_s": round(100 / iters_s),
                                        "iterations": 10, "ceiling_s": iters_s * 10}}}
        return {"rows": 2, "seeds": [seed], "wall_s": wall, "by_family": {},
                "sweeps_s": {f"always_novice/seed_{seed}": 1.0, f"ppo_obs/seed_{seed}": ppo_s},
                "load_average_before": [1.0], "load_average_after": [2.0], "ceiling": ceiling,
                "suite_over_ceiling": 0.0, **({"runs": [{"seeds": [seed], "meta": meta}]} if meta else {})}

    old = {"meta": {"jax": "0.10"}, "envs": {"distshift": entry(0, 9.0, 5.0, 1.0, None),
                                             "doorkey": entry(0, 30.0, 20.0, 2.0, None)}}
    new = {"meta": {"jax": "0.12"}, "envs": {"doorkey": entry(1, 50.0, 40.0, 1.0, {"jax": "0.12"})}}
    merged = bench_suite.merge(old, new)
    assert merged["meta"] == {"jax": "0.12"} and merged["envs"]["distshift"]["runs"][0]["meta"] == {"jax": "0.10"}
    door = merged["envs"]["doorkey"]
    assert (door["seeds"], door["wall_s"], door["rows"]) == ([0, 1], 80.0, 2)
    assert door["by_family"] == {"simple": 2.0, "logit": 0.0, "ood": 0.0, "ppo": 60.0, "skyline": 0.0}
    assert [r["meta"] for r in door["runs"]] == [{"jax": "0.10"}, {"jax": "0.12"}]
    assert door["ceiling"]["rows"]["ppo_obs"] == {"s_per_iteration": 1.5, "env_steps_per_s": 67, "iterations": 20,
                                                  "ceiling_s": 30.0}
    assert (door["ceiling"]["ceiling_s"], door["ceiling"]["training_env_steps"], door["suite_over_ceiling"]) == (
        30.0, 2000, 2.67)
    again = {"meta": {"jax": "0.12"}, "envs": {"doorkey": entry(1, 9.0, 4.0, 1.0, {"jax": "0.12"})}}
    assert bench_suite.merge(merged, again)["envs"]["doorkey"] == again["envs"]["doorkey"]
    (tmp_path / "notes.json").write_text("[1, 2]")
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "bench_suite.py"), "--envs", "lavagap",
                           "--merge", "--out", "notes.json"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"error: --merge needs --out '{tmp_path / 'notes.json'}' to be an earlier bench_suite.py result (a JSON object "
        "with 'meta' and 'envs'); name another --out or leave out --merge."), proc.stderr
    assert (tmp_path / "notes.json").read_text() == "[1, 2]"
