"""The experiment directory: built as a partial dir, kept for a rerun of the same config, swapped in at the end."""
import os

import pytest

from duo_jax.experiment import ExperimentDir


def _open(root, config, overwrite=False):
    d = ExperimentDir(str(root), "exp", overwrite)
    return d, d.open(config)


def test_rerun_of_same_config_resumes_the_partial_dir(tmp_path):
    d, resumed = _open(tmp_path, {"a": 1, "overwrite": False})
    assert not resumed
    with open(d.path("train_state.txt"), "w") as f:
        f.write("iteration 3")
    d.close_log()                                               # interrupted: never committed
    d, resumed = _open(tmp_path, {"a": 1, "overwrite": True})   # `overwrite` does not count
    assert resumed and os.path.isfile(d.path("train_state.txt"))
    d.close_log()


def test_changed_config_starts_afresh(tmp_path):
    d, _ = _open(tmp_path, {"a": 1})
    open(d.path("stale.txt"), "w").close()
    d.close_log()
    d, resumed = _open(tmp_path, {"a": 2})
    assert not resumed and not os.path.exists(d.path("stale.txt"))
    assert os.path.isfile(d.path("config.json"))
    final = d.commit()
    assert sorted(os.listdir(tmp_path)) == ["exp"] and os.path.isfile(os.path.join(final, "config.json"))


def test_existing_experiment_needs_overwrite(tmp_path):
    os.makedirs(tmp_path / "exp")
    with pytest.raises(ValueError, match="already exists; set --config.overwrite=True"):
        ExperimentDir(str(tmp_path), "exp", overwrite=False)


def test_killed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    """config.json (and every file written through the experiment) is replaced in one step: a run killed while
    writing leaves the old file, so the rerun still finds its config and resumes."""
    d, _ = _open(tmp_path, {"a": 1})
    d.close_log()

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        d.write_json("config.json", {"a": 1, "b": list(range(10_000))})
    monkeypatch.undo()
    assert sorted(os.listdir(d.work)) == ["config.json", "log.txt"]   # no temporary file left behind
    d, resumed = _open(tmp_path, {"a": 1})
    assert resumed
    d.write_text("results.md", "| table |\n")
    with open(d.path("results.md")) as f:
        assert f.read() == "| table |\n"
    d.close_log()


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path):
    from duo_jax.core.files import atomic_write, atomic_write_text
    path = str(tmp_path / "config.json")
    atomic_write_text(path, "old")

    def killed(tmp):
        with open(tmp, "w") as f:
            f.write("ne")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, killed)
    assert open(path).read() == "old" and os.listdir(tmp_path) == ["config.json"]   # no temp file left either
    atomic_write_text(path, "new")
    assert open(path).read() == "new"
