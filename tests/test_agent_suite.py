"""`duo_jax.agents.suite`: a Procgen game's agent set trained, snapshotted, measured and resumed after a kill."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_resume import jax_cache, kill_after_first_checkpoint, launch  # noqa: F401  (jax_cache is a fixture)

from duo_jax.agents import suite
from duo_jax.core.checkpoint import latest_step, load_checkpoint, save_checkpoint

TINY = [f"--override={o}" for o in (
    "novice.ppo.num_envs=4", "novice.ppo.num_steps=16", "novice.ppo.total_steps=512", "novice.ppo.num_minibatches=2",
    "novice.ppo.num_epochs=1", "novice.ppo.checkpoint_every=1", "expert.ppo.num_envs=4", "expert.ppo.num_steps=16",
    "expert.ppo.total_steps=128", "expert.ppo.num_minibatches=2", "expert.ppo.num_epochs=1",
    "evaluation.num_episodes=8", "evaluation.num_envs=4", "evaluation.max_num_steps=40")]


def test_suite_trains_snapshots_measures_and_resumes_after_a_kill(tmp_path, jax_cache):  # noqa: F811
    out = tmp_path / "agents"
    args = ["--game", "coinrun", "--out", str(out), *TINY]
    killed = launch(jax_cache, "duo_jax.agents.suite", *args, wait=False)
    kill_after_first_checkpoint(killed, str(out / "coinrun" / "novice" / "state"), 0.3)
    assert not (out / "coinrun" / "agents.json").exists()

    rerun = launch(jax_cache, "duo_jax.agents.suite", *args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"agent PPO resumed from {out / 'coinrun' / 'novice' / 'state'}" in rerun.stderr
    # The simulated pair's verdict is logged before the expert's training starts.
    assert rerun.stderr.index("the novice beats it on val_sim by") < rerun.stderr.index("expert: training into")
    result = json.loads((out / "coinrun" / "agents.json").read_text())
    sim, novice, expert = (result["agents"][r] for r in ("sim_novice", "novice", "expert"))
    # 8 iterations of 64 steps; snapshots at 1/8, 1/4 and 1/2 of the budget, the simulated novice the half-way one.
    assert [s["train_steps"] for s in result["snapshots"]] == [64, 128, 256]
    assert sim["run_id"] == novice["run_id"] != expert["run_id"]
    assert sim["train_steps"] == 256 and novice["train_steps"] == 512 and expert["train_steps"] == 128
    assert "the simulated novice is the one at 0.5 of the novice's steps" in (out / "coinrun" / "agents.md").read_text()
    assert (novice["trained_on"], expert["trained_on"]) == ("train (easy)", "test (hard)")
    for agent in (sim, novice, expert):
        _, config = load_checkpoint(agent["path"])  # the stats are in the checkpoints too
        assert config["stats"] == agent["test"] and config["split_stats"]["val_sim"] == agent["val_sim"]
        assert agent["test"]["episodes"] == agent["val_sim"]["episodes"] == 8
    m = result["margins"]["expert_over_novice"]
    assert m["gap"] == pytest.approx(expert["test"]["reward_mean"] - novice["test"]["reward_mean"])
    assert m["clear"] == (
        m["gap"] > expert["test"]["reward_ci95"] + novice["test"]["reward_ci95"] and m["gap"] >= suite.MIN_GAP
    )
    assert "| novice | train (easy) | 512 |" in (out / "coinrun" / "agents.md").read_text()

    # Finished: a third run trains and measures nothing (no checkpoint gets a new step).
    steps = {r: latest_step(a["path"]) for r, a in result["agents"].items()}
    again = launch(jax_cache, "duo_jax.agents.suite", *args)
    assert again.returncode == 0 and "Stored" not in again.stderr and "Resumed" not in again.stderr
    assert {r: latest_step(a["path"]) for r, a in result["agents"].items()} == steps


def _stats(mean: float, ci: float) -> dict:
    return {"reward_mean": mean, "reward_ci95": ci}


def test_sim_novice_is_the_snapshot_at_half_the_novice_steps_clear_or_not():
    novice = {"val_sim": _stats(6.0, 0.3)}
    snaps = [dict(train_steps=s, val_sim=_stats(m, 0.3)) for s, m in ((64, 4.0), (128, 5.2), (256, 5.5))]
    chosen, m = suite.choose_sim_novice(novice, snaps, 256)  # gap 0.5 against 0.6: not clear, still the one
    assert chosen is snaps[2] and not m["clear"] and m["gap"] == pytest.approx(0.5)
    chosen, m = suite.choose_sim_novice(novice, snaps, 128)
    assert chosen is snaps[1] and m["clear"] and m["gap"] == pytest.approx(0.8)
    # Narrow intervals alone do not make a pair: a gap of 0.06 against 0.05 is not clear, nor one under MIN_GAP.
    tight = [dict(train_steps=8, val_sim=_stats(0.92, 0.02))]
    chosen, m = suite.choose_sim_novice({"val_sim": _stats(0.98, 0.03)}, tight, 8)
    assert chosen is tight[0] and not m["clear"] and m["gap"] == pytest.approx(0.06)


def test_snapshot_steps_are_whole_iterations_of_the_novice_budget():
    from helpers import REPO

    from duo_jax.config import load_config

    c = load_config(os.path.join(REPO, "configs", "agent_suite.py:cpu"))
    assert suite.snapshot_steps(c) == (30 * 16384, 60 * 16384, 120 * 16384)  # 240 iterations: 1/8, 1/4, 1/2
    c.novice.ppo.total_steps = 60 * 16384 + 100  # rounded down to whole iterations
    assert suite.snapshot_steps(c) == (7 * 16384, 15 * 16384, 30 * 16384)
    assert c.novice.ppo.final_lr_fraction == c.expert.ppo.final_lr_fraction == 0.0  # annealed on the cpu budget
    c = load_config(os.path.join(REPO, "configs", "agent_suite.py:paper"))
    assert c.novice.model.name == c.expert.model.name == "impala_cnn"
    assert c.novice.ppo.final_lr_fraction == 1.0  # the Procgen baseline's constant rate
    assert (c.novice.ppo.total_steps, c.expert.ppo.total_steps) == (80_000_000, 200_000_000)


def test_install_replaces_the_set_whole(tmp_path):
    runs = tmp_path / "runs" / "ninja"
    result = {
        "game": "ninja",
        "agents": {},
        "margins": {"novice_over_sim_novice": {"clear": True}, "expert_over_novice": {"clear": True}},
    }
    for role, where in (("sim_novice", "novice/snapshot_64"), ("novice", "novice/agent"), ("expert", "expert/agent")):
        save_checkpoint(str(runs / where), {"w": [1.0]}, {"model": "small_cnn", "role": role})
        result["agents"][role] = {"path": str(runs / where)}
    save_checkpoint(str(runs / "expert" / "state"), {"w": [2.0]}, {"iteration": 2})
    (runs / "agents.md").write_text("# ninja agents\n")
    repo_agents = tmp_path / "repo_agents"
    (repo_agents / "ninja" / "old_role").mkdir(parents=True)
    assert suite.install(result, str(repo_agents)) == str(repo_agents / "ninja")
    assert sorted(os.listdir(repo_agents / "ninja")) == ["agents.md", "expert", "novice", "sim_novice"]
    assert sorted(os.listdir(repo_agents / "ninja" / "expert")) == ["agent"]  # the training state is not shipped
    assert load_checkpoint(str(repo_agents / "ninja" / "sim_novice" / "agent"))[1]["role"] == "sim_novice"
    assert sorted(os.listdir(repo_agents)) == ["ninja"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--game", "pong"], "--game must be a Procgen game, one of bigfish,"),
        (
            ["--game", "doorkey"],
            "--game doorkey is a gridworld; its agents are trained by scripts/train_grid_agents.sh.",
        ),
        (["--game", "ninja", "--budget", "gpu"], "argument --budget: invalid choice: 'gpu'"),
        (["--game", "ninja", "--override=novice.ppo.lr=1"], "--override=novice.ppo.lr: the config has no field"),
        (["--game", "ninja", "--override=sim_novice.snapshots=(0.5,1.5)"], "sim_novice.snapshots must be fractions"),
        (["--game", "ninja", "--override=sim_novice.fraction=1.0"], "sim_novice.fraction must be a fraction"),
        (["--game", "ninja", "--expert", "agents/jumper/expert/agent"],
         "is an agent of 'jumper' trained on 'test'; it must be an agent of 'ninja' trained on 'test'"),
        (["--game", "ninja", "--expert", "agents/ninja/novice/agent"],
         "is an agent of 'ninja' trained on 'train'; it must be an agent of 'ninja' trained on 'test'"),
        (["--game", "ninja", "--expert", "no/such/agent"], "--expert no/such/agent:"),
        (["--game", "ninja", "--override=expert.ppo.num_envs=0"], "expert.ppo.num_envs"),
        (
            ["--game", "ninja", "--override=evaluation.num_episodes=100"],
            "evaluation.num_episodes (100) must be divisible",
        ),
    ],
)
def test_bad_input_is_one_sentence(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        suite.main([*args, "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 1 and err.startswith("error: ") and message in err and "\n" not in err
    assert not os.path.exists(tmp_path / "a")


def test_an_out_dir_holding_another_run_is_refused(tmp_path, capsys):
    state = tmp_path / "a" / "ninja" / "expert" / "state"
    from helpers import REPO

    from duo_jax.config import load_config

    other = load_config(os.path.join(REPO, "configs", "agent_suite.py:cpu")).expert
    other.env.game, other.ppo.learning_rate = "ninja", 1e-3
    save_checkpoint(str(state), {"w": [1.0]}, {"iteration": 1, "config": other.to_dict()})
    with pytest.raises(SystemExit):
        suite.main(["--game", "ninja", "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: {tmp_path / 'a' / 'ninja' / 'expert'} holds an expert run with other settings "
        "(ppo.learning_rate is 0.001 there and 0.0005 here); pass another --out or remove that directory."
    )


def test_install_refuses_a_set_without_clear_pairs(tmp_path, monkeypatch, capsys):
    """`--install` ships only what test_shipped_agents accepts; an unclear set stays in its runs, agents/ untouched."""
    result = {
        "game": "dodgeball",
        "agents": {},
        "margins": {
            "novice_over_sim_novice": {"split": "val_sim", "gap": 0.09, "intervals": 0.25, "clear": False},
            "expert_over_novice": {"split": "test", "gap": 1.0, "intervals": 0.3, "clear": True},
        },
    }
    monkeypatch.setattr(suite, "run", lambda config: result)
    monkeypatch.setattr(suite, "agent_set_markdown", lambda result: "")
    monkeypatch.setattr(suite.paths, "AGENTS", str(tmp_path / "repo_agents"))
    with pytest.raises(SystemExit) as exit_:
        suite.main(["--game", "dodgeball", "--out", str(tmp_path), "--install"])
    assert exit_.value.code == 1
    assert "its novice_over_sim_novice margin is not clear" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "repo_agents")


def test_a_given_expert_is_copied_once_and_measured_in_the_copy(tmp_path):
    """`--expert PATH`: the set's expert is a copy in its runs (its measurements go there, not into PATH)."""
    source = tmp_path / "shipped" / "agent"
    config = {"model": "small_cnn", "num_actions": 15, "game": "ninja", "trained_on": "test"}
    save_checkpoint(str(source), {"w": [1.0]}, config)
    suite.check_expert_agent(str(source), "ninja")
    dest = tmp_path / "runs" / "ninja" / "expert" / "agent"
    dest.parent.mkdir(parents=True)
    suite.use_expert(str(source), str(dest))
    assert load_checkpoint(str(dest))[1]["game"] == "ninja"
    save_checkpoint(str(source), {"w": [2.0]}, config, step=1)
    suite.use_expert(str(source), str(dest))  # a rerun keeps the copy it made
    assert np.asarray(load_checkpoint(str(dest))[0]["w"]).tolist() == [1.0]
    assert sorted(os.listdir(dest.parent)) == ["agent"]
