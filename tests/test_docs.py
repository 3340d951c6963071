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
