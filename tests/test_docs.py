"""The docs stay true: the tutorial quotes the package's own files exactly, the README's tables are what the
main command and reports/summary.md hold, and the README's links lead to files of the repository."""
import os
import re

import pytest
from helpers import REPO, run_main


def read(*path: str) -> str:
    with open(os.path.join(REPO, *path)) as f:
        return f.read()


QUOTED = ["duo_jax/coordinators/ask_every_k.py", "examples/ask_first_k.py",
          "configs/ask_every_k.py", "configs/ask_first_k.py"]


@pytest.mark.parametrize("path", QUOTED)
def test_tutorial_quotes_file_exactly(path):
    with open(os.path.join(REPO, "docs", "add_a_new_algorithm.md")) as f:
        doc = f.read()
    with open(os.path.join(REPO, path)) as f:
        source = f.read()
    assert f"```python\n{source}```" in doc, f"docs/add_a_new_algorithm.md no longer quotes {path} exactly"


def test_tutorial_grid_search_plugin_reuses_rollouts_in_a_sweep(make_config, tmp_path):
    """The tutorial's `register_grid_search` block, as a plugin: the sweep rolls each candidate out once."""
    from duo_jax.sweep import run

    with open(os.path.join(REPO, "docs", "add_a_new_algorithm.md")) as f:
        doc = f.read()
    section = doc[doc.index("## Sweeping your algorithm over alphas"):]
    block = section[
        section.index("```python\n") + len("```python\n") : section.index("```\n", section.index("```python\n"))
    ]
    assert '@register_grid_search("ask_first_k_grid"' in block
    with open(os.path.join(REPO, "examples", "ask_first_k.py")) as f:
        plugin = f.read()
    registrations = (
        'register_policy("ask_first_k", ask_first_k_policy)\n'
        'register_algorithm("ask_first_k", ask_first_k, check=check_ask_first_k)\n'
    )
    assert registrations in plugin
    path = tmp_path / "ask_first_k_grid_plugin.py"
    path.write_text(plugin.replace(registrations, 'register_policy("ask_first_k_doc", ask_first_k_policy)\n') + block)
    c = make_config()
    c.plugins = (str(path),)
    c.policy.name, c.algorithm.name = "ask_first_k_doc", "ask_first_k_grid"
    c.sweep.alphas = (0.0, 1.0)
    result = run(c)
    assert result["rollouts_reused"] is True
    assert {e["params"]["k"] for rows in result["selections"].values() for e in rows} <= {1, 4}


@pytest.mark.parametrize(
    "page, heading", [("README.md", "## Results on four games"), ("docs/suite.md", "## Results across the four games")]
)
def test_four_game_table_is_the_summarys(page, heading):
    """The four-game results table is `auc_table` of reports/summary, copied verbatim."""
    doc, summary = read(page), read("reports", "summary.md")
    section = doc[doc.index(heading) :]
    start = section.index("| method | selection |")
    table = section[start : section.index("\n\n", start)]
    assert table.count("\n") > 20 and "| coinrun |" in table.split("\n")[0] and table in summary, (
        f"{page}'s results table differs from reports/summary.md's 'Every row' table: copy it from there"
    )


def test_readme_shows_what_the_main_command_writes(tmp_path):
    """The README's first command, run as a user runs it: the results.md it writes is the README's table."""
    proc = run_main("--config", "configs/ask_every_k.py", f"--config.experiments_dir={tmp_path}", timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = (tmp_path / "ask_every_k" / "results.md").read_text()
    rows = [line for line in written.splitlines() if line.startswith("|")]
    assert len(rows) == 6, written  # header, rule, val_sim, val_true and the two test rows
    readme = read("README.md")
    start = readme.index("## Run\n")
    section = readme[start : readme.index("\n## ", start)]
    assert "python -m duo_jax.main --config configs/ask_every_k.py\n" in section
    assert "experiments/ask_every_k/results.md" in section
    [costs] = [line for line in written.splitlines() if line.startswith("alpha =")]
    missing = [line for line in [costs, *rows] if f"\n{line}\n" not in section]
    assert not missing, (
        "README.md's Run section lacks these lines of the results.md that "
        f"`python -m duo_jax.main --config configs/ask_every_k.py` writes (copy them from there): {missing}"
    )
    assert "\n".join(rows) in section  # one table, in the order written


def test_readme_links_lead_to_files():
    """Every relative link of the README names a file or folder of the repository (as GitHub shows it)."""
    readme = read("README.md")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme) if "://" not in t]
    assert len(targets) > 10
    assert [t for t in targets if t and not os.path.exists(os.path.join(REPO, t))] == []
