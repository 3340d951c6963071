"""The sweep report (pooled seeds, skyline, paired comparisons, files) and the cross-environment summary."""
from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from duo_jax import report, stats, summary

ALPHAS = [0.0, 0.5, 1.0]


def write_sweep(root, name: str, method: str, base: float, alphas=ALPHAS, selections=("val_sim", "val_true"),
                episodes: int = 64, eval_seed: int | None = None, slope: float = 2.0, val: float | None = None,
                game: str = "coinrun") -> str:
    """A sweep.json whose reward falls linearly from `base` to `base - slope` over alpha.

    Episodes of one eval_seed share a level effect (the same fixed levels for every method), plus
    method noise; eval_selection val_true is 1 below val_sim. `eval_seed=None` writes the old format
    (no seed fields).
    """
    levels = np.random.default_rng(100 + (eval_seed or 0)).normal(0, 1, episodes)
    rng = np.random.default_rng(zlib.crc32(f"{name}/{eval_seed}".encode()))
    sweep = {"name": name, "method": method, "algorithm": method, "env": "procgen", "game": game,
             "alphas": alphas, "selections": {}}
    if eval_seed is not None:
        sweep.update(seed=eval_seed, eval_seed=eval_seed, num_test_episodes=episodes)
    for j, key in enumerate(selections):
        entries = []
        for a in alphas:
            ep = (base - slope * a - j + levels + rng.normal(0, 0.5, episodes)).tolist()
            test = {"reward_mean": float(np.mean(ep)), "reward_ci95": float(1.96 * np.std(ep) / np.sqrt(episodes)),
                    "base_reward_mean": base, "episode_length_mean": 70.0, "expert_fraction": 1 - a,
                    "episodes": episodes}
            entry = {"alpha": a, "params": {"k": 2}, "test": test, "episode_rewards": ep}
            if val is not None:
                entry["val"] = {**test, "reward_mean": val - a}
            entries.append(entry)
        sweep["selections"][key] = entries
    path = root / (name if eval_seed is None else f"{name}_s{eval_seed}")
    path.mkdir(parents=True)
    (path / "sweep.json").write_text(json.dumps(sweep))
    return str(path)


def rows_by(rows):
    return {(r["method"], r["selection"]): r for r in rows}


def test_report_reexports_the_statistics():
    assert report.auc is stats.auc and report.bootstrap_auc is stats.bootstrap_auc


def test_build_table_markdown_and_files(tmp_path):
    paths = [write_sweep(tmp_path, "logit_sweep", "logit", base=6.0),
             write_sweep(tmp_path, "k_sweep", "ask_every_k", base=4.0, selections=("val_true",))]
    sweeps = report.load_sweeps([paths[0], paths[1] + "/sweep.json"])
    rows = report.build_table(sweeps, num_samples=200)
    assert [(r["method"], r["selection"]) for r in rows] == [
        ("logit", "eval_sim"), ("logit", "eval_true"), ("ask_every_k", "eval_true")]
    for row, (sweep, key) in zip(rows, [(sweeps[0], "val_sim"), (sweeps[0], "val_true"), (sweeps[1], "val_true")]):
        means = [e["test"]["reward_mean"] for e in sweep["selections"][key]]
        assert row["reward_mean"] == pytest.approx(means)
        assert row["reward_ci95"] == pytest.approx([e["test"]["reward_ci95"] for e in sweep["selections"][key]])
        assert row["expert_fraction"] == pytest.approx([1.0, 0.5, 0.0])
        assert row["auc"] == pytest.approx(report.auc(ALPHAS, means))
        assert row["auc_ci95"][0] < row["auc"] < row["auc_ci95"][1]
        assert (row["seeds"], row["eval_seeds"], row["num_seeds"], row["num_episodes"]) == ([0], [0], 1, 64)
        assert row["auc_subsample"]["size"] == 32 and row["auc_subsample"]["std"] > 0
    # No always_novice, no skyline: nothing to compare with, said so rather than guessed.
    assert rows[0]["vs_novice"] is None and rows[0]["ratio_to_skyline"] is None
    assert rows[1]["rank"] == 1 and rows[2]["rank"] == 2 and rows[2]["vs_best"]["to"] == "logit"

    out = report.write_report(rows, str(tmp_path / "out" / "coinrun"))
    saved = json.loads(open(out["json"]).read())
    assert saved["env"] == "coinrun"
    assert [r["auc"] for r in saved["rows"]] == pytest.approx([r["auc"] for r in rows])
    assert [r["method"] for r in saved["ranking"]["eval_true"]] == ["logit", "ask_every_k"]
    md = open(out["md"]).read()
    assert "logit" in md and "ask_every_k" in md and f"{rows[0]['auc']:.3f}" in md and "α=0.5" in md
    assert md.count("| logit | eval_true |") == 2     # reward table and expert-fraction table
    assert "## Ranking on eval_true by test AUC (best: logit)" in md
    with open(out["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "out" / "coinrun").iterdir()) == [
        "report.json",
        "report.md",
        "report.png",
    ]


def test_seeds_pool_in_eval_seed_order(tmp_path):
    paths = [
        write_sweep(tmp_path, "ppo_sweep", "ppo", 6.0, eval_seed=s, episodes=n) for s, n in ((2, 40), (0, 64), (1, 64))
    ]
    sweeps = report.load_sweeps(paths)
    [row] = [r for r in report.build_table(sweeps, num_samples=100) if r["selection"] == "eval_true"]
    assert row["eval_seeds"] == row["seeds"] == [0, 1, 2] and row["num_seeds"] == 3
    assert row["episodes_per_seed"] == [64, 64, 40] and row["num_episodes"] == 168
    ordered = sorted(sweeps, key=lambda s: s["eval_seed"])
    pooled = np.concatenate([[e["episode_rewards"] for e in s["selections"]["val_true"]] for s in ordered], axis=1)
    assert row["reward_mean"] == pytest.approx(pooled.mean(axis=1).tolist())
    assert row["auc"] == pytest.approx(report.auc(ALPHAS, pooled.mean(axis=1)))
    assert row["auc_per_seed"] == pytest.approx(
        [report.auc(ALPHAS, [e["test"]["reward_mean"] for e in s["selections"]["val_true"]]) for s in ordered]
    )
    assert row["sweeps"] == ["ppo_sweep"] * 3


def test_gridworld_game_prefix_is_not_part_of_the_method(tmp_path):
    path = write_sweep(tmp_path, "distshift_always_novice_sweep", "distshift_always_novice", 1.0, game="distshift")
    rows = report.build_table(report.load_sweeps([path]), num_samples=50)
    assert {r["method"] for r in rows} == {"always_novice"} and rows[0]["env"] == "distshift"
    assert rows[0]["vs_novice"]["diff"] == 0 and rows[0]["vs_novice"]["paired"] == {
        "ci95": [0.0, 0.0],
        "significant": False,
    }


def test_paired_comparisons_to_novice_best_and_between_selections(tmp_path):
    paths = [
        write_sweep(tmp_path, n, m, b, eval_seed=s)
        for s in (0, 1)
        for n, m, b in (("nov", "always_novice", 5.0), ("good", "logit_margin", 5.8), ("same", "random", 5.02))
    ]
    rows = rows_by(report.build_table(report.load_sweeps(paths), num_samples=500))
    good, same = rows["logit_margin", "eval_true"], rows["random", "eval_true"]
    assert good["rank"] == 1 and good["vs_best"]["diff"] == 0
    assert good["vs_novice"]["diff"] == pytest.approx(good["auc"] - rows["always_novice", "eval_true"]["auc"])
    assert good["vs_novice"]["paired"]["significant"] and good["vs_novice"]["paired"]["ci95"][0] > 0
    assert not same["vs_novice"]["paired"]["significant"]
    assert same["vs_best"]["paired"]["significant"] and same["vs_best"]["diff"] < 0
    # eval_true's entries are 1 below eval_sim's in this synthetic sweep: a paired gap of -1.
    gap = good["sim_true_gap"]
    assert gap["to"] == "logit_margin" and gap["diff"] == pytest.approx(-1.0, abs=0.1) and gap["paired"]["significant"]
    assert "sim_true_gap" not in rows["logit_margin", "eval_sim"]


def test_sensitivity_rows_stand_beside_the_main_table(tmp_path):
    """A row calibrated on the deployed novice (`<row>_deployed`) is compared, paired, to its row calibrated on the
    simulated novice; it is not ranked, not a best eval_sim method, and has its own section in report.md."""
    paths = [
        write_sweep(tmp_path, n, m, b, eval_seed=s)
        for s in (0, 1)
        for n, m, b in (("nov", "always_novice", 5.0), ("exp", "always_expert", 5.5), ("sim", "logit_margin", 5.2),
                        ("dep", "logit_margin_deployed", 6.0))
    ]
    rows = report.build_table(report.load_sweeps(paths), num_samples=500)
    by = rows_by(rows)
    dep, sim = by["logit_margin_deployed", "eval_true"], by["logit_margin", "eval_true"]
    assert "rank" not in dep
    assert [by[m, "eval_true"]["rank"] for m in ("always_expert", "logit_margin", "always_novice")] == [1, 2, 3]
    assert dep["vs_sim_calibrated"]["to"] == "logit_margin"
    assert dep["vs_sim_calibrated"]["diff"] == pytest.approx(dep["auc"] - sim["auc"])
    assert dep["vs_sim_calibrated"]["paired"]["significant"] and dep["vs_sim_calibrated"]["diff"] > 0
    assert "vs_sim_calibrated" not in sim
    info = report.analyses(rows)
    assert [(e["method"], e["selection"]) for e in info["sensitivity"]] == [
        ("logit_margin_deployed", "eval_sim"), ("logit_margin_deployed", "eval_true")]
    md = report.to_markdown(rows)
    main, _, section = md.partition("## Sensitivity (beyond the reference)")
    assert "logit_margin_deployed" not in main and section.count("| logit_margin_deployed |") == 2


def test_unpaired_methods_say_why(tmp_path):
    paths = [
        write_sweep(tmp_path, "nov", "always_novice", 5.0, eval_seed=0),
        write_sweep(tmp_path, "k", "ask_every_k", 5.5, eval_seed=1),
        write_sweep(tmp_path, "r", "random", 5.5, eval_seed=0, episodes=32),
    ]
    rows = rows_by(report.build_table(report.load_sweeps(paths), num_samples=50))
    k, r = rows["ask_every_k", "eval_true"]["vs_novice"], rows["random", "eval_true"]["vs_novice"]
    assert k["paired"] is None and k["reason"] == "ask_every_k has eval seeds [1] and always_novice [0]"
    assert r["paired"] is None and r["reason"] == "random has [32] test episodes per seed and always_novice [64]"
    assert k["diff"] == pytest.approx(
        rows["ask_every_k", "eval_true"]["auc"] - rows["always_novice", "eval_true"]["auc"]
    )
    md = report.to_markdown(list(rows.values()))
    assert "(unpaired: ask_every_k has eval seeds [1] and always_novice [0])" in md


def test_methods_with_fewer_seeds_pair_on_the_seeds_they_share(tmp_path):
    """A PPO row with seed 0 alone against always_novice with seeds 0 and 1: the paired difference is over seed
    0's episodes (the same levels and streams), not the two pooled AUCs."""
    paths = [write_sweep(tmp_path, f"nov{s}", "always_novice", 5.0 + s, eval_seed=s) for s in (0, 1)]
    paths.append(write_sweep(tmp_path, "ppo", "ppo_obs", 5.5, eval_seed=0))
    rows = rows_by(report.build_table(report.load_sweeps(paths), num_samples=200))
    c = rows["ppo_obs", "eval_true"]["vs_novice"]
    seed0 = rows_by(report.build_table(report.load_sweeps([paths[0], paths[2]]), num_samples=200))
    assert c["eval_seeds"] == [0] and not c["all_seeds"]
    assert c["diff"] == pytest.approx(seed0["ppo_obs", "eval_true"]["vs_novice"]["diff"])
    assert c["diff"] != pytest.approx(rows["ppo_obs", "eval_true"]["auc"] - rows["always_novice", "eval_true"]["auc"])
    assert c["paired"]["significant"]
    assert "(seeds 0)" in report.to_markdown(list(rows.values()))


def test_skyline_is_the_feature_with_the_best_val_true_reward(tmp_path):
    # skyline_obs has the better test reward, skyline_dist the better validation reward: validation decides.
    paths = [
        write_sweep(tmp_path, "nov", "always_novice", 5.0),
        write_sweep(tmp_path, "sky_obs", "skyline_obs", 7.0, selections=("val_true",), val=3.0),
        write_sweep(tmp_path, "sky_dist", "skyline_dist", 6.0, selections=("val_true",), val=4.0),
    ]
    rows = report.build_table(report.load_sweeps(paths), num_samples=50)
    assert [(r["method"], r["selection"]) for r in rows] == [
        ("always_novice", "eval_sim"),
        ("always_novice", "eval_true"),
        ("skyline", "eval_true"),
        ("skyline_obs", "eval_true"),
        ("skyline_dist", "eval_true"),
    ]
    sky = rows_by(rows)["skyline", "eval_true"]
    assert sky["chosen_feature"] == "dist" and sky["chosen_method"] == "skyline_dist"
    assert sky["skyline_candidates"] == pytest.approx({"skyline_obs": 2.5, "skyline_dist": 3.5})
    assert sky["auc"] == rows_by(rows)["skyline_dist", "eval_true"]["auc"]
    novice = rows_by(rows)["always_novice", "eval_true"]
    assert novice["ratio_to_skyline"] == pytest.approx(novice["auc"] / sky["auc"])
    assert "rank" not in sky and novice["rank"] == 1  # the skyline breaks YRC-0: ranked apart
    assert sky["vs_novice"]["paired"]["significant"]
    md = report.to_markdown(rows)
    assert "## Skyline: skyline_dist, the best val_true reward" in md and "| skyline_dist | 3.500 | chosen |" in md
    saved = report.analyses(rows)["skyline"]
    assert saved["chosen_feature"] == "dist" and saved["auc"] == sky["auc"]


def test_skyline_weighs_only_candidates_with_the_most_seeds(tmp_path):
    """skyline_dist, on seed 0 alone, has the best validation reward, but a score over one seed is not weighed
    against scores over two: the skyline is skyline_obs, and the report says why dist was left out."""
    paths = [
        write_sweep(tmp_path, f"sky_obs{s}", "skyline_obs", 6.0, selections=("val_true",), val=3.0, eval_seed=s)
        for s in (0, 1)
    ]
    paths.append(
        write_sweep(tmp_path, "sky_dist0", "skyline_dist", 6.0, selections=("val_true",), val=4.0, eval_seed=0)
    )
    rows = report.build_table(report.load_sweeps(paths), num_samples=50)
    sky = rows_by(rows)["skyline", "eval_true"]
    assert sky["chosen_method"] == "skyline_obs" and sky["num_seeds"] == 2
    assert sky["skyline_not_weighed"] == {"skyline_dist": "1 of 2 seeds"}
    assert report.analyses(rows)["skyline"]["not_weighed"] == {"skyline_dist": "1 of 2 seeds"}
    assert "| skyline_dist | 3.500 | not weighed: 1 of 2 seeds |" in report.to_markdown(rows)


def test_skyline_without_validation_rewards_is_an_error(tmp_path):
    paths = [
        write_sweep(tmp_path, "sky_obs", "skyline_obs", 7.0, selections=("val_true",)),
        write_sweep(tmp_path, "sky_dist", "skyline_dist", 6.0, selections=("val_true",), val=4.0),
    ]
    with pytest.raises(ValueError, match=r"skyline sweeps \['skyline_obs'\] have no val reward_mean"):
        report.build_table(report.load_sweeps(paths), num_samples=10)


def test_two_sweeps_of_one_method_with_one_seed_exit_1(tmp_path, capsys):
    a = write_sweep(tmp_path / "a", "ppo_sweep", "ppo", 6.0, eval_seed=1)
    b = write_sweep(tmp_path / "b", "ppo_sweep", "ppo", 6.5, eval_seed=1)
    with pytest.raises(SystemExit) as exc:
        report.main([a, b, "--out", str(tmp_path / "out")])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        "error: sweeps 'ppo_sweep' and 'ppo_sweep' of method 'ppo' share eval_seed 1; "
        "pool only sweeps run with different seeds.\n"
    )
    assert not (tmp_path / "out").exists()


def test_mismatched_alphas_raise(tmp_path):
    a = write_sweep(tmp_path, "a", "logit", 6.0)
    b = write_sweep(tmp_path, "b", "random", 6.0, alphas=[0.0, 1.0])
    with pytest.raises(ValueError, match="'a' and 'b' have different alphas"):
        report.build_table(report.load_sweeps([a, b]), num_samples=10)
    c = write_sweep(tmp_path, "c", "random", 6.0, game="maze")
    with pytest.raises(ValueError, match="ran on different environments"):
        report.build_table(report.load_sweeps([a, c]), num_samples=10)


def test_load_sweeps_rejects_malformed(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sweep.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        report.load_sweeps([str(bad)])
    (bad / "sweep.json").write_text(json.dumps({"method": "x", "alphas": [0.0, 1.0], "selections": {"val_sim": []}}))
    with pytest.raises(ValueError, match="one entry per alpha"):
        report.load_sweeps([str(bad)])
    (bad / "sweep.json").write_text(
        json.dumps({"method": "x", "alphas": [0.0], "selections": {"val_sim": []}, "eval_seed": "one"})
    )
    with pytest.raises(ValueError, match="has eval_seed 'one'; it should be an integer"):
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


def test_a_report_is_replaced_only_with_overwrite(tmp_path, capsys):
    """`--out reports/coinrun` must not silently replace the shipped report: one sentence, nothing written."""
    a, out = write_sweep(tmp_path, "a", "logit", 6.0), tmp_path / "out"
    report.main([a, "--out", str(out), "--bootstrap", "20"])
    before = (out / "report.json").read_text()
    b = write_sweep(tmp_path, "b", "random", 3.0)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        report.main([a, b, "--out", str(out), "--bootstrap", "20"])
    assert exc.value.code == 1 and capsys.readouterr().err == (
        f"error: --out: {out} already holds a report (report.json, report.md, report.png); pass --overwrite to "
        "replace it, or choose another --out.\n")
    assert (out / "report.json").read_text() == before
    report.main([a, b, "--out", str(out), "--bootstrap", "20", "--overwrite"])
    assert {r["method"] for r in json.loads((out / "report.json").read_text())["rows"]} == {"logit", "random"}


# ---------------------------------------------------------------- the cross-environment summary

SLOPES = {"always_novice": 0.0, "always_expert": 4.0}  # other methods: 1.0


def env_reports(tmp_path, envs: dict) -> list[str]:
    """One report per env from `{env: {method: base}}`, two seeds each; returns the report directories."""
    out = []
    for env, bases in envs.items():
        paths = [
            write_sweep(tmp_path / env, m, m, b, eval_seed=s, game=env, slope=SLOPES.get(m, 1.0))
            for s in (0, 1)
            for m, b in bases.items()
        ]
        paths += [
            write_sweep(
                tmp_path / env, "sky", "skyline_dist", 7.5, eval_seed=s, game=env, selections=("val_true",), val=1.0
            )
            for s in (0, 1)
        ]
        out.append(str(tmp_path / "reports" / env))
        report.write_report(report.build_table(report.load_sweeps(paths), num_samples=100), out[-1])
    return out


def test_summary_wins_ratios_and_rliable(tmp_path, capsys):
    common = {"always_novice": 5.0, "always_expert": 7.0}  # AUC 5 each; a free expert is 7.0 (normalised 1)
    dirs = env_reports(
        tmp_path,
        {
            "a": {**common, "ppo": 6.5, "logit": 6.49},  # ppo best, logit within its interval
            "b": {**common, "ppo": 5.0, "logit": 6.0},  # logit clearly best
            "c": {**common, "ppo": 6.0, "logit": 5.5},  # ppo clearly best
        },
    )
    s = summary.summarize(summary.load_reports(dirs), num_samples=200, seed=0)
    assert s["envs"] == ["a", "b", "c"]
    true = s["selections"]["eval_true"]
    assert true["methods"] == ["always_novice", "always_expert", "ppo", "logit", "skyline"]
    wins = true["wins"]
    assert (wins["ppo"]["best"], wins["logit"]["best"], wins["always_novice"]["best"]) == (2, 1, 0)
    assert wins["logit"]["within_best"] == 2 and wins["ppo"]["within_best"] == 2  # a: a tie, b: logit only
    assert wins["logit"]["within_best_paper"] >= wins["logit"]["within_best"]
    assert wins["ppo"]["envs"] == 3 and "skyline" not in wins
    per_env = true["per_env"]
    assert per_env["ppo"]["a"]["ratio_to_skyline"] == pytest.approx(
        per_env["ppo"]["a"]["auc"] / per_env["skyline"]["a"]["auc"]
    )
    assert per_env["logit"]["b"]["vs_novice"]["paired"]["significant"]
    assert per_env["ppo"]["b"]["sim_true_gap"]["diff"] == pytest.approx(-1.0, abs=0.1)
    # Every method's val_true choice is 1 below its val_sim choice on every episode: 4 significant gaps of 4.
    assert s["sim_true_gaps"] == {env: {"rows": 4, "significant": 4} for env in "abc"}

    r = true["rliable"]
    assert r["envs"] == ["a", "b", "c"] and not r["excluded_envs"] and not r["excluded_methods"]
    # Normalised per seed: (AUC - novice AUC) / (7.0 - novice AUC); always_novice itself sits near 0.
    novice = np.asarray(r["normalised_auc"]["always_novice"])
    assert novice.shape == (2, 3) and np.allclose(novice.mean(0), 0, atol=0.05)
    sim_novice = s["selections"]["eval_sim"]["rliable"]["normalised_auc"]["always_novice"]
    assert np.allclose(np.mean(sim_novice, axis=0), 0, atol=0.05)  # each selection normalised by its own rows
    assert set(r["iqm"]) == {"always_novice", "always_expert", "ppo", "logit", "skyline"}
    for m in r["iqm"]:
        lo, hi = r["iqm"][m]["ci95"]
        assert lo <= r["iqm"][m]["value"] <= hi
        assert r["optimality_gap"][m]["value"] >= 0
    assert r["iqm"]["skyline"]["value"] > r["iqm"]["ppo"]["value"] > r["iqm"]["always_novice"]["value"]
    assert len(r["profile"]["tau"]) == summary.NUM_TAUS and r["profile"]["fraction"]["skyline"][0] == 1.0

    np.random.seed(1)  # rliable's bootstrap ignores the global RNG's state
    assert summary.summarize(summary.load_reports(dirs), num_samples=200, seed=0) == s

    report.main(["--summary", *dirs, "--out", str(tmp_path / "reports"), "--bootstrap", "100"])
    out = capsys.readouterr().out
    assert "# Summary over 3 environments: a, b, c" in out and "### Wins (number of environments)" in out
    assert "| ppo | 2 | 2 |" in out
    assert summary.auc_table(s) in out and "4 of 4 rows on a, 4 of 4 rows on b, 4 of 4 rows on c." in out
    table = summary.auc_table(s).splitlines()
    assert table[0] == "| method | selection | a | b | c |"
    row = {tuple(line.split(" | ")[:2]): line for line in table[2:]}
    auc = per_env["ppo"]["a"]
    assert row["| ppo", "eval_true"].startswith(f"| ppo | eval_true | {auc['auc']:.3f} [{auc['auc_ci95'][0]:.3f}, ")
    assert row["| ppo", "eval_true"].count("**best**") == 2 and row["| logit", "eval_true"].count("**best**") == 1
    assert row["| skyline", "eval_true"].endswith("(2) |") and "eval_sim" not in {
        k[1] for k in row if k[0] == "| skyline"
    }
    saved = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert saved["selections"]["eval_true"]["wins"] == wins
    assert (tmp_path / "reports" / "summary.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_puts_sensitivity_rows_beside_its_tables(tmp_path):
    """A report's `<row>_deployed` rows are in no table, win count, gap count or aggregate of the summary; its
    own section lists them per environment with their paired difference to the row calibrated on the sim novice."""
    dirs = env_reports(tmp_path, {"a": {"always_novice": 5.0, "always_expert": 7.0, "logit_margin": 6.0,
                                        "logit_margin_deployed": 6.5}})
    s = summary.summarize(summary.load_reports(dirs), num_samples=50)
    for selection in s["selections"].values():
        assert "logit_margin_deployed" not in selection["methods"]
        assert "logit_margin_deployed" not in selection["wins"]
    assert s["sim_true_gaps"]["a"]["rows"] == 3  # always_novice, always_expert, logit_margin
    assert [(r["method"], r["selection"]) for r in s["sensitivity"]["a"]] == [
        ("logit_margin_deployed", "eval_sim"), ("logit_margin_deployed", "eval_true")]
    main, _, section = summary.to_markdown(s).partition("## Sensitivity (beyond the reference)")
    assert "logit_margin_deployed" not in main and section.count("| logit_margin_deployed |") == 2
    diff = s["sensitivity"]["a"][1]
    assert f"| {diff['auc']:.3f} ({report.format_diff(diff)}) |" in section and diff["diff"] > 0


def test_summary_leaves_out_what_does_not_normalise(tmp_path):
    dirs = env_reports(
        tmp_path,
        {"a": {"always_novice": 5.0, "always_expert": 7.0, "ppo": 6.0}, "b": {"always_novice": 5.0, "ppo": 6.0}},
    )
    r = summary.summarize(summary.load_reports(dirs), num_samples=50)["selections"]["eval_true"]["rliable"]
    assert r["envs"] == ["a"] and r["excluded_envs"] == ["b has no always_novice or no always_expert sweep"]


def test_summary_rejects_bad_reports(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        report.main(["--summary", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert exc.value.code == 1
    assert capsys.readouterr().err.startswith("error: no report found at")
    dirs = env_reports(tmp_path, {"a": {"always_novice": 5.0}})
    with pytest.raises(ValueError, match=r"environments \['a', 'a'\]; each environment should appear once"):
        summary.summarize(summary.load_reports(dirs * 2))


# ---------------------------------------------------------------- what the numbers mean (issue 38)

def _row(method, selection="eval_true", reward=(5.0, 5.0, 5.0), val=None, val_ci=None, auc=1.0, fraction=(0.5,) * 3):
    return {"method": method, "selection": selection, "alphas": ALPHAS, "reward_mean": list(reward), "auc": auc,
            "val_reward_mean": val, "val_reward_ci95": val_ci, "expert_fraction": list(fraction)}


def test_break_even_alpha_is_one_minus_novice_over_expert():
    rows = [_row("always_novice", reward=(4.0, 4.0, 4.0)), _row("always_expert", reward=(8.0, 4.0, 0.0))]
    assert report.break_even_alpha(rows) == pytest.approx(0.5)       # 8(1 - alpha) = 4 at alpha 0.5
    assert report.break_even_alpha(rows[:1]) is None


def test_skyline_gate_names_the_alphas_below_the_best_baseline_minus_its_ci():
    rows = [
        _row("always_novice", val=[5.0, 5.0, 5.0]),
        _row("always_expert", val=[8.0, 4.0, 0.0]),
        _row("skyline", val=[7.9, 4.0, 4.95], val_ci=[0.2, 0.1, 0.1]),   # 7.9 >= 8 - 0.2; 4.0 < 5 - 0.1; 4.95 >= 4.9
    ]
    gate = report.skyline_gate(rows)
    assert gate["passed"] is False and gate["failed_alphas"] == [0.5]
    assert gate["baseline_val_true"] == [8.0, 5.0, 5.0]
    rows[2]["val_reward_mean"][1] = 4.95
    assert report.skyline_gate(rows) == {**gate, "passed": True, "failed_alphas": [],
                                         "skyline_val_true": [7.9, 4.95, 4.95]}
    assert report.skyline_gate(rows[:2]) is None


def test_reference_ratio_is_the_best_eval_sim_row_over_the_skyline():
    rows = [
        _row("skyline", auc=4.0),
        _row("ppo_obs", "eval_sim", auc=3.0), _row("logit_margin", "eval_sim", auc=2.0),
        _row("logit_margin", auc=3.9),                       # eval_true rows do not count
        _row("skyline_obs", "eval_sim", auc=5.0),            # nor do skyline rows
    ]
    assert report.reference_ratio(rows) == {
        "skyline_auc": 4.0, "best_eval_sim": "ppo_obs", "auc": 3.0, "ratio": 0.75,
        "best_eval_sim_without_ppo": "logit_margin", "auc_without_ppo": 2.0, "ratio_without_ppo": 0.5,
    }


@pytest.mark.parametrize("fractions, want", [((1.0, 1.0, 1.0), "always"), ((0.0, 0.0, 0.0), "never"),
                                              ((1.0, 0.5, 0.0), None)])
def test_asks_flags_choices_that_ask_always_or_never(fractions, want):
    assert report.asks(fractions) == want


def _recorded(sweep_dir, algorithm: str, config: dict, sim_steps=40, novice_steps=80, cents=False):
    """Give a synthetic sweep the config and agents fields `duo_jax.sweep` records."""
    path = f"{sweep_dir}/sweep.json"
    with open(path) as f:
        sweep = json.load(f)
    meta = lambda steps, run: {"run_id": run, "train_steps": steps, "trained_on": "train"}  # noqa: E731
    sweep.update(algorithm=algorithm, config=config, round_to_cents=cents, agents={
        "train_novice": meta(sim_steps, "r1"), "train_expert": meta(novice_steps, "r1"),
        "test_novice": meta(novice_steps, "r1"), "test_expert": meta(200, "r2")})
    with open(path, "w") as f:
        json.dump(sweep, f)
    return sweep_dir


def test_protocol_reads_what_the_sweeps_record(tmp_path):
    paths = [
        _recorded(write_sweep(tmp_path, "n", "always_novice", 5.0, eval_seed=0), "always", {}),
        _recorded(write_sweep(tmp_path, "o", "ood_obs", 5.0, eval_seed=1), "ood",
                  {"algorithm": {"threshold_rule": "contamination"}}),
        _recorded(write_sweep(tmp_path, "p", "ppo_obs", 5.0, eval_seed=0), "ppo", {"algorithm": {"total_steps": 1000}}),
        _recorded(write_sweep(tmp_path, "s", "skyline_obs", 5.0, eval_seed=0, val=1.0), "ppo",
                  {"algorithm": {"total_steps": 3000}}),
    ]
    p = report.protocol(report.load_sweeps(paths))
    assert p["sim_novice_fraction"] == 0.5 and p["sim_novice_same_run"] is True
    assert p["agents"]["expert"]["train_steps"] == 200 and p["seeds"] == [0, 1]
    assert p["ood_threshold_rule"] == "contamination" and p["round_to_cents"] is False
    assert p["steps_per_alpha"] == {"ppo": 1000, "skyline": 3000} and p["recorded"] is True


def test_report_and_summary_say_what_the_numbers_mean(tmp_path):
    """report.json holds the break-even alpha, the ratio, the gate, the flags and the protocol; summary.json
    collects them per environment, and both markdowns say them."""
    dirs = []
    for env in ("a", "b"):
        paths = [
            _recorded(write_sweep(tmp_path / env, m, m, base, eval_seed=0, game=env, slope=slope, val=v), "always", {})
            for m, base, slope, v in (("always_novice", 5.0, 0.0, 5.0), ("always_expert", 8.0, 8.0, 8.0),
                                      ("logit", 6.0, 1.0, 6.0))
        ]
        sky = 9.0 if env == "a" else 3.0        # b's skyline is below the baselines on val_true: its gate fails
        sky_dir = write_sweep(tmp_path / env, "sky", "skyline_dist", 7.5, eval_seed=0, game=env,
                              selections=("val_true",), val=sky)
        paths.append(_recorded(sky_dir, "ppo", {"algorithm": {"total_steps": 7}}))
        sweeps = report.load_sweeps(paths)
        dirs.append(str(tmp_path / "reports" / env))
        report.write_report(report.build_table(sweeps, num_samples=50), dirs[-1], sweeps)
        saved = json.loads((tmp_path / "reports" / env / "report.json").read_text())
        assert saved["skyline_gate"]["passed"] is (env == "a")
        assert saved["protocol"]["sim_novice_fraction"] == 0.5
        assert saved["break_even_alpha"] == pytest.approx(report.break_even_alpha(saved["rows"]))
        assert "## What the numbers mean" in (tmp_path / "reports" / env / "report.md").read_text()
    s = summary.summarize(summary.load_reports(dirs), num_samples=50)
    assert s["skyline_gate"]["a"]["passed"] and s["skyline_gate"]["b"]["failed_alphas"] == ALPHAS
    assert s["break_even_alpha"]["a"] == pytest.approx(1 - 5.0 / 8.0, abs=0.15)
    assert s["ratio_to_skyline"]["b"]["best_eval_sim"] in {"always_novice", "always_expert", "logit"}
    assert s["protocol"]["a"]["steps_per_alpha"] == {"skyline": 7}
    assert s["selections"]["eval_sim"]["per_env"]["logit"]["a"]["asks"] is None
    text = summary.to_markdown(s)
    assert "## What the numbers mean" in text and "| b | 50% |" in text and "failed at α 0, 0.5, 1" in text
