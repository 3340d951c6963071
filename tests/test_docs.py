"""The tutorial quotes the package's own files: each quote must stay identical to the file."""
import os

import pytest
from helpers import REPO

QUOTED = ["duo_jax/algorithms/ask_every_k.py", "duo_jax/policies/ask_every_k.py", "examples/ask_first_k.py",
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


def test_readme_results_table_is_the_summarys():
    """The README's four-game results table is `auc_table` of reports/summary, copied verbatim."""
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    with open(os.path.join(REPO, "reports", "summary.md")) as f:
        summary = f.read()
    section = readme[readme.index("## Results across the four games") :]
    start = section.index("| method | selection |")
    table = section[start : section.index("\n\n", start)]
    assert table.count("\n") > 20 and "| coinrun |" in table.split("\n")[0] and table in summary, (
        "README.md's results table differs from reports/summary.md's 'Every row' table: copy it from there"
    )
