"""The experiment directory: built as a partial dir, kept for a rerun of the same config, swapped in at the end."""
import os
import subprocess
import sys

import pytest

from duo_jax.core.files import try_lock, unlock
from duo_jax.experiment import ExperimentBusy, ExperimentDir


def _open(root, config, overwrite=False):
    d = ExperimentDir(str(root), "exp", overwrite)
    return d, d.open(config)


def test_rerun_of_same_config_resumes_the_partial_dir(tmp_path):
    d, resumed = _open(tmp_path, {"a": 1, "overwrite": False})
    assert not resumed
    with open(d.path("train_state.txt"), "w") as f:
        f.write("iteration 3")
    d.close()                                                   # interrupted: never committed
    d, resumed = _open(tmp_path, {"a": 1, "overwrite": True})   # `overwrite` does not count
    assert resumed and os.path.isfile(d.path("train_state.txt"))
    d.close()


def test_changed_config_starts_afresh(tmp_path):
    d, _ = _open(tmp_path, {"a": 1})
    open(d.path("stale.txt"), "w").close()
    d.close()
    d, resumed = _open(tmp_path, {"a": 2})
    assert not resumed and not os.path.exists(d.path("stale.txt"))
    assert os.path.isfile(d.path("config.json"))
    final = d.commit()
    assert sorted(os.listdir(tmp_path)) == ["exp"] and os.path.isfile(os.path.join(final, "config.json"))


def test_a_second_process_cannot_write_a_directory_in_use(tmp_path):
    """Two runs of one name (two terminals, two jobs): the second stops, and the first's partial dir is untouched;
    once the first stops, a rerun resumes it."""
    first, _ = _open(tmp_path, {"a": 1})
    open(first.path("checkpoint.txt"), "w").close()
    second = ExperimentDir(str(tmp_path), "exp", False)
    with pytest.raises(ExperimentBusy, match=f"{tmp_path}/exp is being written by another process"):
        second.open({"a": 2})                                   # another config would have wiped the partial dir
    assert os.path.isfile(first.path("checkpoint.txt"))
    first.close()
    assert second.open({"a": 1}) and os.path.isfile(second.path("checkpoint.txt"))
    second.close()


def test_a_run_finished_meanwhile_is_not_redone(tmp_path):
    waiting = ExperimentDir(str(tmp_path), "exp", False)       # checked before the other run committed
    done, _ = _open(tmp_path, {"a": 1})
    done.commit()
    with pytest.raises(ExperimentBusy, match="was written by another process meanwhile"):
        waiting.open({"a": 1})
    assert sorted(os.listdir(tmp_path)) == ["exp"]               # and it left no lock behind


def test_a_killed_holder_leaves_no_lock(tmp_path):
    """The kernel drops a dead process's lock: a run killed with SIGKILL does not block its rerun."""
    path = str(tmp_path / ".exp.lock")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from duo_jax.core.files import try_lock; "
                               f"assert try_lock({path!r}) is not None; print('locked', flush=True); time.sleep(600)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert try_lock(path) is None
    finally:
        holder.kill()
        holder.wait()
    fd = try_lock(path)
    assert fd is not None
    unlock(path, fd)
    assert not os.path.exists(path)


def test_existing_experiment_needs_overwrite(tmp_path):
    os.makedirs(tmp_path / "exp")
    with pytest.raises(ValueError, match="already exists; set --config.overwrite=True"):
        ExperimentDir(str(tmp_path), "exp", overwrite=False)


def test_killed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    """config.json (and every file written through the experiment) is replaced in one step: a run killed while
    writing leaves the old file, so the rerun still finds its config and resumes."""
    d, _ = _open(tmp_path, {"a": 1})
    d.close()

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
    d.close()


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


def test_swap_dir_puts_the_new_directory_in_place_and_removes_the_old(tmp_path):
    """The one directory swap (a finished experiment, an installed agent set): a leftover `.old` of a killed
    swap is cleared, the first swap needs no old directory, a second replaces the first whole."""
    from duo_jax.core.files import swap_dir

    dest = tmp_path / "exp"
    (tmp_path / "exp.old").mkdir()
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text(name)
        swap_dir(str(tmp_path / name), str(dest))
        assert os.listdir(dest) == [f"{name}.txt"]
    assert sorted(os.listdir(tmp_path)) == ["exp"]
