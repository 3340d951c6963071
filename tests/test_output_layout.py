"""What runs write and print: docs/usage.md's lists of experiment files, results.md / sweep.md and the printed
tables, agents.evaluate on a gridworld agent, and progress off a terminal."""
from __future__ import annotations

import os
import re
import shutil

import pytest
from helpers import REPO

from duo_jax.agents.agent import load_agent


def documented(*kinds: str) -> set[str]:
    """The paths docs/usage.md's "## Output" section lists for these kinds of run."""
    with open(os.path.join(REPO, "docs", "usage.md")) as f:
        text = f.read()
    section = text[text.index("\n## Output\n"):text.index("\n## ", text.index("\n## Output\n") + 1)]
    paths = set()
    for kind in kinds:
        [line] = [line for line in section.splitlines() if line.startswith(f"- {kind}")]
        paths |= set(re.findall(r"`([^`]+)`", line.split(":", 1)[1].split("(")[0]))
    return paths


def written(exp_dir: str) -> set[str]:
    """Top-level files, `curves/`-like folders, and the checkpoints inside checkpoints/ and train_state/."""
    out = set()
    for entry in os.listdir(exp_dir):
        path = os.path.join(exp_dir, entry)
        if entry in ("checkpoints", "train_state"):
            out |= {f"{entry}/{sub}" for sub in os.listdir(path)}
        else:
            out.add(entry + "/" if os.path.isdir(path) else entry)
    return out


def test_grid_search_and_eval_runs_write_what_the_docs_list(make_config, capsys):
    from duo_jax.main import run

    c = make_config()
    results = run(c)
    exp = os.path.join(c.experiments_dir, c.name)
    assert written(exp) == documented("every run", "a train run")
    printed = capsys.readouterr().out
    with open(os.path.join(exp, "results.md")) as f:
        table = f.read()
    assert table.strip() in printed                     # the table printed at the end is the one written
    assert "| split | chosen params | reward (net of costs) | base reward | expert fraction |" in table
    k = results["splits"]["test@val_true"]["best_params"]["k"]
    mean = results["splits"]["test@val_true"]["reward_mean"]
    assert re.search(rf"\| test, chosen on val_true \| k={k} \| {mean:.2f} ± ", table)

    e = make_config()
    e.mode, e.eval.checkpoint = "eval", os.path.join(exp, "checkpoints", "best_val_true")
    run(e)
    assert written(os.path.join(e.experiments_dir, f"{e.name}_eval")) == documented("every run")


def test_sweep_writes_and_prints_sweep_md(make_config, capsys):
    from duo_jax.sweep import run

    c = make_config()
    c.sweep.alphas = (0.0, 1.0)
    result = run(c)
    exp = os.path.join(c.experiments_dir, f"{c.name}_sweep")
    assert {"sweep.json", "sweep.md"} <= set(os.listdir(exp))
    with open(os.path.join(exp, "sweep.md")) as f:
        table = f.read()
    assert table.strip() in capsys.readouterr().out
    rows = [line for line in table.splitlines() if re.match(r"\| [01] \| val_", line)]
    assert len(rows) == 4                              # two alphas x two validation splits
    first = result["selections"]["val_sim"][0]
    assert rows[0].startswith(f"| 0 | val_sim | k={first['params']['k']} | {first['test']['reward_mean']:.2f} ± ")


def test_agents_evaluate_measures_a_gridworld_agent(tmp_path, capsys):
    from duo_jax.agents import evaluate

    agent_dir = str(tmp_path / "agent")
    shutil.copytree(os.path.join(REPO, "agents", "distshift", "novice", "agent"), agent_dir)
    with pytest.raises(SystemExit) as exit_:
        evaluate.main(["evaluate", f"--agent={agent_dir}", "--split=val_true", "--num_episodes=8", "--num_envs=8",
                       "--max_num_steps=40"])
    assert not exit_.value.code
    agent = load_agent(agent_dir)
    stats = agent.config["split_stats"]["val_true"]
    assert (
        agent.stats == load_agent(os.path.join(REPO, "agents", "distshift", "novice", "agent")).stats
    )  # test stats kept
    assert (stats["split"], stats["episodes"], stats["max_num_steps"]) == ("val_true", 8, 40)
    assert 1 <= stats["episode_length_mean"] <= 40
    assert f"| {agent_dir} | val_true | {stats['reward_mean']:.3f} ± " in capsys.readouterr().out


def test_progress_off_a_terminal_is_a_log_line_every_few_seconds(monkeypatch):
    from duo_jax.core import progress

    logged, now = [], [0.0]
    monkeypatch.setattr(progress.logging, "info", lambda fmt, line: logged.append(line))
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    lines = progress._LogLines(5.0)
    for t, text in [(0.0, "\rsplit: 1/10"), (1.0, "\rsplit: 2/10"), (6.0, "\rsplit: 3/10\r"), (7.0, "\r   \r")]:
        now[0] = t
        lines.write(text)
    assert logged == ["split: 1/10", "split: 3/10"]  # rate-limited; the blank line a bar clears with is dropped

    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    now[0] = 100.0
    bar = progress.progress_bar(total=4, desc="val_sim x2")
    bar.update(2)
    bar.close()
    assert logged[2].startswith("val_sim x2: 0/4 (0%)") and len(logged) == 3  # no bar characters, no redraws
