"""What the suite's rows share in one process (novice rollouts, compiled programs) changes no result."""
import json

from duo_jax import suite, sweep
from duo_jax.coordinators import calibration

OVERRIDES = ("evaluation.num_episodes=8", "evaluation.num_envs=8", "sweep.alphas=(0.0,1.0)",
             "algorithm.num_rollouts=16")
METHODS = ("logit_max_logit", "ood_hidden", "logit_margin", "ood_obs", "ood_dist")


def _result(out, name: str) -> dict:
    with open(suite.sweep_dir(str(out), "distshift", 0, name) + "/sweep.json") as f:
        result = json.load(f)
    return {k: v for k, v in result.items() if k not in ("wall_time_s", "config")}  # config: where it was written


def test_one_suite_process_gives_each_sweep_run_alone(tmp_path):
    calibration._CACHE.clear()
    suite.main(["--env", "distshift", "--methods", ",".join(METHODS), "--seeds", "0", "--out", str(tmp_path / "one"),
                "--no_report", *[f"--override={o}" for o in OVERRIDES]])
    # The logit rows' rollouts, the ood rows' (with their frames), and the ood rows' held-out set (the contamination
    # rule's threshold).
    assert len(calibration._CACHE) == 3
    for name in METHODS:
        calibration._CACHE.clear()
        sweep.run(suite.build_config("distshift", name, 0, str(tmp_path / "alone"), OVERRIDES))
        assert _result(tmp_path / "one", name) == _result(tmp_path / "alone", name), name
