"""Project metadata stays true: one version everywhere, and docs/api.md lists exactly the public names."""
import importlib.metadata
import os
import re
import tomllib

from helpers import REPO

import duo_jax


def _pyproject_version() -> str:
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["version"]


def test_version_is_pyprojects():
    version = _pyproject_version()
    assert duo_jax.__version__ == version
    assert importlib.metadata.version("duo_jax") == version, "installed metadata is stale: pip install -e '.[test]'"


def test_changelog_has_the_version():
    with open(os.path.join(REPO, "CHANGELOG.md")) as f:
        assert f"## [{_pyproject_version()}]" in f.read()


def test_api_doc_lists_exactly_the_public_names():
    with open(os.path.join(REPO, "docs", "api.md")) as f:
        documented = re.findall(r"^### `(\w+)`$", f.read(), re.M)
    assert sorted(documented) == sorted(duo_jax.__all__)
    for name in duo_jax.__all__:
        assert hasattr(duo_jax, name), name
