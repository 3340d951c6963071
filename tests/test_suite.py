"""The suite runner: every (method, seed) sweep in its place, skipped once done, pooled into one report."""
import argparse
import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

from duo_jax import suite

METHODS = "always_novice,random"


def _run(tmp_path, *extra):
    suite.main(["--env", "distshift", "--methods", METHODS, "--seeds", "0,1", "--out", str(tmp_path / "suite"),
                "--report_dir", str(tmp_path / "reports"), "--override=evaluation.num_episodes=8",
                "--override=evaluation.num_envs=8", "--override=sweep.alphas=(0.0,1.0)", *extra])


def test_suite_runs_every_method_and_seed_and_pools_them(tmp_path, capsys):
    _run(tmp_path)
    for seed in (0, 1):
        for name in METHODS.split(","):
            with open(tmp_path / "suite" / "distshift" / f"seed_{seed}" / f"{name}_sweep" / "sweep.json") as f:
                sweep = json.load(f)
            assert (sweep["method"], sweep["seed"], sweep["eval_seed"]) == (name, seed, seed)
            assert sweep["num_test_episodes"] == 8
    with open(tmp_path / "reports" / "distshift" / "report.json") as f:
        saved = json.load(f)
    rows = saved["rows"]
    # The protocol comes from what every sweep.json records: its config and the agents' metadata.
    # The suite charges YRC-Bench's prices (rounded to cents).
    assert sweep["config"]["evaluation"]["num_episodes"] == 8 and sweep["round_to_cents"] is True
    assert saved["protocol"]["round_to_cents"] is True
    steps = {field: a["train_steps"] for field, a in sweep["agents"].items()}
    assert steps["train_expert"] == steps["test_novice"] and saved["protocol"]["recorded"] is True
    assert saved["protocol"]["sim_novice_fraction"] == steps["train_novice"] / steps["test_novice"]
    assert {r["method"] for r in rows} == set(METHODS.split(","))
    assert all(r["num_seeds"] == 2 and r["seeds"] == [0, 1] for r in rows)
    assert "always_novice" in capsys.readouterr().out
    # Everything is done: a rerun refuses to replace the report unless asked, then sweeps nothing and rewrites it.
    mtime = os.path.getmtime(tmp_path / "suite" / "distshift" / "seed_0" / "always_novice_sweep" / "sweep.json")
    with pytest.raises(SystemExit) as exit_:
        _run(tmp_path)
    assert exit_.value.code == 1 and capsys.readouterr().err == (
        f"error: --report_dir: {tmp_path / 'reports' / 'distshift'} already holds a report (report.json, report.md, "
        "report.png); pass --overwrite to replace it, or choose another --report_dir.\n")
    _run(tmp_path, "--overwrite")
    assert os.path.getmtime(tmp_path / "suite" / "distshift" / "seed_0" / "always_novice_sweep" / "sweep.json") == mtime


def test_two_suite_processes_share_the_work(tmp_path, capsys):
    """A sweep that another process holds is skipped, not run twice, and the report waits for it; the sweep
    command itself refuses it with one sentence."""
    from duo_jax import sweep
    from duo_jax.core.files import try_lock, unlock

    seed_dir = tmp_path / "suite" / "distshift" / "seed_0"
    os.makedirs(seed_dir)
    lock = str(seed_dir / ".always_novice_sweep.lock")
    fd = try_lock(lock)                                  # another process is sweeping always_novice
    try:
        _run(tmp_path, "--seeds=0")
        out = capsys.readouterr().out
        assert os.path.isfile(seed_dir / "random_sweep" / "sweep.json")
        assert not os.path.exists(seed_dir / "always_novice_sweep") and not os.path.exists(tmp_path / "reports")
        assert f"1 sweep(s) are still running in another process ({seed_dir / 'always_novice_sweep'})" in out
        with pytest.raises(SystemExit) as exit_:
            sweep.main(
                [
                    "sweep",
                    f"--config={suite.config_path('distshift', 'always')}",
                    f"--config.experiments_dir={seed_dir}",
                    "--config.name=always_novice",
                    "--config.evaluation.num_episodes=8",
                    "--config.evaluation.num_envs=8",
                ]
            )
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 1 and "\n" not in err
        assert err.startswith(f"error: {seed_dir / 'always_novice_sweep'} is being written by another process")
    finally:
        unlock(lock, fd)
    _run(tmp_path, "--seeds=0")  # the holder has gone: this one runs it, then the report
    with open(tmp_path / "reports" / "distshift" / "report.json") as f:
        assert {r["method"] for r in json.load(f)["rows"]} == set(METHODS.split(","))


def test_jobs_file_lists_the_unfinished_sweeps_for_launch(tmp_path, capsys):
    out = tmp_path / "suite"
    os.makedirs(out / "lavagap" / "seed_1" / "random_sweep")
    (out / "lavagap" / "seed_1" / "random_sweep" / "sweep.json").write_text("{}")
    suite.main(
        [
            "--env",
            "lavagap",
            "--methods",
            "random,ood_obs",
            "--seeds",
            "0,1",
            "--out",
            str(out),
            "--override=evaluation.num_episodes=64",
            "--override=evaluation.num_envs=64",
            "--jobs",
            str(tmp_path / "jobs.txt"),
        ]
    )
    assert "wrote 3 commands" in capsys.readouterr().out
    assert (tmp_path / "jobs.txt").read_text().splitlines() == [
        f"python -m duo_jax.suite --env=lavagap --methods={m} --seeds={s} --out={out} --no_report "
        "--override=evaluation.num_episodes=64 --override=evaluation.num_envs=64"
        for s, m in ((0, "random"), (0, "ood_obs"), (1, "ood_obs"))
    ]


def test_any_procgen_game_with_agents_runs_to_procgens_own_time_limit(tmp_path):
    from duo_jax.agents.agent import load_agent

    args = argparse.Namespace(env="jumper", methods="all", seeds="0", out=str(tmp_path), override=[])
    units = suite.prepare(args)
    assert len(units) == 31
    for name, _, config in units:
        assert (config.env.game, config.evaluation.max_num_steps) == ("jumper", 1000), name
        assert config.costs.round_to_cents, name  # YRC-Bench's prices
        if name.startswith(("ppo_", "skyline_")):  # 30 iterations: the initial policy and 10 more validated
            assert (config.algorithm.total_steps, config.algorithm.eval_every) == (491520, 3), name
        if name.startswith("ood_"):  # YRC-Bench's one threshold per detector
            assert config.algorithm.threshold_rule == "contamination", name
    # A run uses jumper's shipped agents: BP comes from its expert's test stats.
    suite.main(
        [
            "--env",
            "jumper",
            "--methods",
            "always_novice",
            "--seeds",
            "0",
            "--out",
            str(tmp_path / "suite"),
            "--no_report",
            "--override=evaluation.num_episodes=4",
            "--override=evaluation.num_envs=4",
            "--override=evaluation.max_num_steps=64",
            "--override=sweep.alphas=(0.0,1.0)",
        ]
    )
    with open(tmp_path / "suite" / "jumper" / "seed_0" / "always_novice_sweep" / "sweep.json") as f:
        sweep = json.load(f)
    stats = load_agent(os.path.join(REPO, "agents", "jumper", "expert", "agent")).stats
    assert sweep["game"] == "jumper" and sweep["num_test_episodes"] == 4
    assert sweep["bp"] == pytest.approx(stats["reward_mean"] / stats["episode_length_mean"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--env", "pong"], "--env must be a Procgen game (bigfish, bossfight, "),
        (["--env", "pong"], "or a gridworld (distshift, lavagap, doorkey); got 'pong'."),
        (
            ["--env", "bigfish"],
            f"agents.train_novice: bigfish has no agents in {REPO}/agents/bigfish (no "
            "sim_novice/agent there); train them with `python -m duo_jax.agents.suite --game "
            "bigfish --install`, or set agents.train_novice to a checkpoint.",
        ),
        (["--env", "distshift", "--seeds", "0,0"], "--seeds must be distinct integers >= 0"),
        (
            ["--env", "distshift", "--methods", "ppo_pixels"],
            "--methods: distshift has no method 'ppo_pixels'; did you mean ppo_",
        ),
        (["--env", "distshift", "--override=evaluation.num_epsiodes=3"], "evaluation.num_episodes"),
        (["--env", "distshift", "--override=evaluation.num_episodes=0"], "evaluation.num_episodes"),
    ],
)
def test_bad_input_is_one_sentence(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        suite.main([*args, "--out", str(tmp_path / "s"), "--report_dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 1 and err.startswith("error: ") and message in err and "\n" not in err
    assert not os.path.exists(tmp_path / "s")


def test_a_listing_whose_reader_has_gone_ends_quietly():
    """`--list | head -1`: the closed pipe ends the listing with exit code 0 and no traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line is written
    proc = subprocess.Popen(
        [sys.executable, "-m", "duo_jax.suite", "--env", "distshift", "--list"],
        cwd=REPO,
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (0, "")


def test_list_shows_only_the_methods_asked_for(capsys):
    suite.main(["--env", "distshift", "--list", "--methods", "random,ppo_obs"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["random", "random"], ["ppo_obs", "ppo"]]
    assert lines[1].split()[2:] == ["costs.round_to_cents=True", "policy.feature_type=obs"]
    suite.main(["--env", "distshift", "--list"])
    assert len(capsys.readouterr().out.splitlines()) == len(suite.methods("distshift"))


def test_sensitivity_rows_calibrate_on_the_deployed_novice(tmp_path):
    """`--methods sensitivity`: the logit and ood rows again, fitted on the deployed novice's rollouts (not in
    `all`, the paper's 31 rows); a run of one of them reads its thresholds off the deployed novice."""
    assert len(suite.method_names("distshift", "all")) == 31
    names = suite.method_names("distshift", "sensitivity")
    assert names == [f"logit_{m}_deployed" for m in ("max_logit", "max_prob", "margin", "neg_entropy", "neg_energy")] \
        + [f"ood_{f}_deployed" for f in ("obs", "hidden", "dist", "hidden_obs", "hidden_dist", "obs_dist",
                                         "obs_hidden_dist")]
    assert suite.method_names("distshift", "logit_margin,sensitivity,logit_margin_deployed")[:2] == [
        "logit_margin", "logit_max_logit_deployed"]
    small = ["evaluation.num_episodes=8", "evaluation.num_envs=8", "algorithm.num_rollouts=8", "sweep.alphas=(0.0,1.0)"]
    args = argparse.Namespace(env="distshift", methods="logit_margin_deployed,logit_margin", seeds="0",
                              out=str(tmp_path / "suite"), override=small)
    units = suite.prepare(args)
    assert [c.algorithm.calibrate_on for _, _, c in units] == ["deployed_novice", "train_novice"]
    suite.run_units(units, "distshift", args.out)
    thresholds = {}
    for name in ("logit_margin_deployed", "logit_margin"):
        with open(os.path.join(suite.sweep_dir(args.out, "distshift", 0, name), "sweep.json")) as f:
            sweep = json.load(f)
        thresholds[name] = [e["params"]["threshold"] for entries in sweep["selections"].values() for e in entries]
    # The chosen thresholds are percentiles of two different novices' margins.
    assert thresholds["logit_margin_deployed"] != thresholds["logit_margin"]


def test_a_suite_releases_its_compiled_programs_before_the_kernel_map_limit(monkeypatch):
    """Hundreds of compiled programs exhaust vm.max_map_count (LLVM: "Cannot allocate memory", then a segfault):
    past half of the limit the suite drops them, and the maps they held are unmapped."""
    import jax
    import jax.numpy as jnp

    from duo_jax import suite

    if suite._map_count() is None:
        pytest.skip("no /proc maps here")
    programs = [jax.jit(lambda x, i=i: jnp.tanh(x * i) + i) for i in range(30)]
    for f in programs:
        f(jnp.ones(4)).block_until_ready()
    before, limit = suite._map_count()
    assert not suite.release_programs()  # far below half of the limit: kept
    monkeypatch.setattr(suite, "_map_count", lambda real=suite._map_count: (real()[0], 2 * before))
    assert suite.release_programs()
    monkeypatch.undo()
    assert suite._map_count()[0] <= before - len(programs)  # at least one map a program (3-7 measured)
