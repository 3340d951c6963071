"""Registries: a name is registered once; a second registration names both places unless it says override=True."""
import pytest

from duo_jax.coordinators.grid_search import register_grid_search
from duo_jax.core.registry import Registry, register_algorithm


def _first():
    return "first"


def _second():
    return "second"


def test_second_registration_names_both_places():
    reg = Registry("widget", "widgets")
    reg.register("w", _first)                      # line A
    line_a = test_second_registration_names_both_places.__code__.co_firstlineno + 2
    with pytest.raises(ValueError) as err:
        reg.register("w", _second)                 # line B
    msg = str(err.value)
    assert msg == (f"widget 'w' is already registered (at tests/test_registry.py:{line_a}); registering it again at "
                   f"tests/test_registry.py:{line_a + 3} needs override=True.")
    assert reg.get("w") is _first                  # the failed registration changed nothing


def test_override_replaces_and_records_the_new_place():
    reg = Registry("widget", "widgets")
    reg.register("w", _first)
    reg.register("w", _second, override=True)
    assert reg.get("w") is _second
    assert reg.place("w").startswith("tests/test_registry.py:")


def test_algorithm_decorators_report_the_callers_file(tmp_path, monkeypatch):
    """register_algorithm and register_grid_search register on behalf of their caller: the places named are
    the plugin's lines, not the registry's."""
    monkeypatch.chdir(tmp_path)
    plugin = tmp_path / "dup_plugin.py"
    plugin.write_text(
        "from duo_jax.algorithms.grid_search import register_grid_search\n"
        "@register_grid_search('ask_every_k')\n"
        "def again(key, policy, task, config):\n"
        "    return []\n"
    )
    from duo_jax.api import import_plugins

    with pytest.raises(ValueError) as err:
        import_plugins([str(plugin)])
    msg = str(err.value)
    assert msg.startswith("plugins: ") and "algorithm 'ask_every_k' is already registered (at " in msg
    assert (
        "duo_jax/coordinators/ask_every_k.py:" in msg
        and "registering it again at dup_plugin.py:2 needs override=True" in msg
    )


def test_override_true_through_the_public_decorators():
    from duo_jax.core.registry import ALGORITHMS

    name = "test_registry_alg"

    @register_algorithm(name)
    def one(key, policy, task, validators, config):
        return 1

    with pytest.raises(ValueError, match="already registered"):
        register_algorithm(name, one)

    @register_grid_search(name, override=True)
    def two(key, policy, task, config):
        return [{"k": 1}]

    assert ALGORITHMS.get(name).candidates is two


def test_unknown_name_suggests_the_nearest():
    reg = Registry("widget", "widgets")
    reg.register("ask_every_k", _first)
    with pytest.raises(
        ValueError,
        match="Unknown widget 'ask_everyk'; did you mean 'ask_every_k'\\? registered widgets are: ask_every_k",
    ):
        reg.get("ask_everyk")
    with pytest.raises(ValueError, match="^policy.name: Unknown widget 'zzz'; registered"):
        reg.check("zzz", "policy.name")


def test_unknown_name_lists_at_most_a_dozen():
    reg = Registry("widget", "widgets")
    for i in range(30):
        reg.register(f"widget_{i:02d}", _first)
    with pytest.raises(ValueError) as err:
        reg.get("widget_05_")
    listed = ", ".join(f"widget_{i:02d}" for i in range(12))
    assert str(err.value) == (f"Unknown widget 'widget_05_'; did you mean 'widget_05'? registered widgets are: "
                              f"{listed} and 18 more (register your own in a file listed in --config.plugins).")
