"""The sweep report: AUC, its bootstrap interval, and the files written from sweep.json inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from duo_jax import report

ALPHAS = [0.0, 0.5, 1.0]


def write_sweep(root, name: str, method: str, base: float, alphas=ALPHAS, selections=("val_sim", "val_true"),
                episodes: int = 64) -> str:
    """A sweep.json whose reward falls linearly from `base` to `base - 2` over alpha, with noise per episode."""
    rng = np.random.default_rng(len(name))
    sweep = {"name": name, "method": method, "algorithm": method, "env": "procgen", "game": "coinrun",
             "alphas": alphas, "selections": {}}
    for j, key in enumerate(selections):
        entries = []
        for a in alphas:
            ep = (base - 2 * a - j + rng.normal(0, 1, episodes)).tolist()
            test = {"reward_mean": float(np.mean(ep)), "reward_ci95": float(1.96 * np.std(ep) / np.sqrt(episodes)),
                    "base_reward_mean": base, "episode_length_mean": 70.0, "expert_fraction": 1 - a,
                    "episodes": episodes}
            entries.append({"alpha": a, "params": {"k": 2}, "test": test, "episode_rewards": ep})
        sweep["selections"][key] = entries
    path = root / name
    path.mkdir()
    (path / "sweep.json").write_text(json.dumps(sweep))
    return str(path)


def test_auc_hand_computed():
    assert report.auc([0, 0.5, 1], [2, 1, 0]) == pytest.approx(1.0)
    # Non-uniform spacing: 0.2*(4+2)/2 + 0.8*(2+1)/2 = 0.6 + 1.2.
    assert report.auc([0.0, 0.2, 1.0], [4, 2, 1]) == pytest.approx(1.8)
    with pytest.raises(ValueError):
        report.auc([0.0], [1.0])
    with pytest.raises(ValueError):
        report.auc([1.0, 0.0], [1.0, 2.0])


def test_bootstrap_auc_interval():
    rng = np.random.default_rng(0)
    alphas = [0.0, 0.5, 1.0]
    small = [rng.normal(5 - 2 * a, 2, 50) for a in alphas]
    large = [rng.normal(5 - 2 * a, 2, 2000) for a in alphas]
    point = report.auc(alphas, [r.mean() for r in small])
    lo, hi = report.bootstrap_auc(alphas, small, num_samples=500, seed=1)
    assert lo < point < hi
    lo_l, hi_l = report.bootstrap_auc(alphas, large, num_samples=500, seed=1)
    assert hi_l - lo_l < (hi - lo) / 3     # ~sqrt(2000/50) = 6x narrower
    assert report.bootstrap_auc(alphas, small, num_samples=500, seed=1) == (lo, hi)
    assert report.bootstrap_auc(alphas, small, num_samples=500, seed=2) != (lo, hi)
    # Unequal episode counts: resampled per alpha, still brackets the point.
    uneven = [small[0], large[1], small[2][:30]]
    lo_u, hi_u = report.bootstrap_auc(alphas, uneven, num_samples=500)
    assert lo_u < report.auc(alphas, [r.mean() for r in uneven]) < hi_u


def test_bootstrap_auc_degenerate_when_rewards_are_constant():
    alphas = [0.0, 0.5, 1.0]
    constant = [np.full(40, r) for r in (10.0, 3.0, 0.0)]
    lo, hi = report.bootstrap_auc(alphas, constant, num_samples=200)
    assert lo == hi == report.auc(alphas, [10.0, 3.0, 0.0])


def test_build_table_markdown_and_files(tmp_path):
    paths = [write_sweep(tmp_path, "logit_sweep", "logit", base=6.0),
             write_sweep(tmp_path, "k_sweep", "ask_every_k", base=5.0, selections=("val_true",))]
    sweeps = report.load_sweeps([paths[0], paths[1] + "/sweep.json"])
    rows = report.build_table(sweeps, num_samples=200)
    assert [(r["method"], r["selection"]) for r in rows] == [
        ("logit", "eval_sim"), ("logit", "eval_true"), ("ask_every_k", "eval_true")]
    for row, (sweep, key) in zip(rows, [(sweeps[0], "val_sim"), (sweeps[0], "val_true"), (sweeps[1], "val_true")]):
        means = [e["test"]["reward_mean"] for e in sweep["selections"][key]]
        assert row["reward_mean"] == means
        assert row["expert_fraction"] == [1.0, 0.5, 0.0]
        assert row["auc"] == pytest.approx(report.auc(ALPHAS, means))
        assert row["auc_ci95"][0] < row["auc"] < row["auc_ci95"][1]

    out = report.write_report(rows, str(tmp_path / "out" / "coinrun"))
    saved = json.loads(open(out["json"]).read())["rows"]
    assert [r["auc"] for r in saved] == pytest.approx([r["auc"] for r in rows])
    assert saved[2]["auc_ci95"] == pytest.approx(rows[2]["auc_ci95"])
    md = open(out["md"]).read()
    assert "logit" in md and "ask_every_k" in md and f"{rows[0]['auc']:.3f}" in md and "α=0.5" in md
    assert md.count("| logit | eval_true |") == 2     # reward table and expert-fraction table
    with open(out["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "out" / "coinrun").iterdir()) == ["report.json", "report.md", "report.png"]


def test_mismatched_alphas_raise(tmp_path):
    a = write_sweep(tmp_path, "a", "logit", 6.0)
    b = write_sweep(tmp_path, "b", "random", 6.0, alphas=[0.0, 1.0])
    with pytest.raises(ValueError, match="'a' and 'b' have different alphas"):
        report.build_table(report.load_sweeps([a, b]), num_samples=10)


def test_load_sweeps_rejects_malformed(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sweep.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        report.load_sweeps([str(bad)])
    (bad / "sweep.json").write_text(json.dumps({"method": "x", "alphas": [0.0, 1.0], "selections": {"val_sim": []}}))
    with pytest.raises(ValueError, match="one entry per alpha"):
        report.load_sweeps([str(bad)])


def test_main_missing_dir_exits_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        report.main([str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no sweep found at") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_main_writes_report(tmp_path, capsys):
    a = write_sweep(tmp_path, "a", "logit", 6.0)
    report.main([a, "--out", str(tmp_path / "out"), "--bootstrap", "50", "--seed", "3"])
    assert "| logit | eval_sim |" in capsys.readouterr().out
    assert (tmp_path / "out" / "report.png").exists()
