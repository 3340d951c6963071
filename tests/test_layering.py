"""The package's layers, kept one way: an AST walk over every module of duo_jax/ (imports at any depth of a file
count, those inside functions too) checks that the import graph has no cycle, that no import sits inside a
function unless `INSIDE_FUNCTIONS` says why, and that every import goes to its own layer or one below, never to
a command. README.md's "Layout" section describes the same layers."""
from __future__ import annotations

import ast
import pathlib
from typing import NamedTuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "duo_jax"

# Lowest first. A module is in the layer that names it, or names a package above it as "<package>.*" (the
# longest such name wins); "duo_jax" alone is the package's __init__. A module may import from its own layer
# and the layers below; a command is imported by no module.
LAYERS = (
    # leaf helpers that import nothing of duo_jax: source-tree paths, XLA flags, config files and their rules,
    # results tables, statistics, what report and summary share
    ("base", ("duo_jax.paths", "duo_jax.xla_flags", "duo_jax.config", "duo_jax.validate", "duo_jax.tables",
              "duo_jax.stats", "duo_jax.reporting")),
    # the engine: registries, checkpoints, the Policy and Agent types, the coordination step, evaluators,
    # TrainTask, curves, files, processes
    ("core", ("duo_jax.core.*",)),
    # environment families: Procgen on the host, the JAX gridworlds
    ("envs", ("duo_jax.envs.*",)),
    # PPO's one core (loss, GAE, optimizer, update, checks) and its actor for JAX envs, for agents and coordinators
    ("rl", ("duo_jax.rl.*",)),
    # base agents (novice, expert): networks, loading, their PPO trainers
    ("agents", ("duo_jax.agents.*",)),
    # coordination methods, one module each (its policy, its algorithm, their checks), and what they share;
    # policies/ and algorithms/ are earlier import paths (EARLIER_PATHS)
    ("coordinators", ("duo_jax.coordinators.*", "duo_jax.policies.*", "duo_jax.algorithms.*")),
    # the public API: look-ups with the built-ins registered, plugins, `import duo_jax`
    ("api", ("duo_jax.api", "duo_jax")),
    # one run: set-up and experiment directory, train or evaluate, the shared command line, the suite's rows
    ("experiment", ("duo_jax.experiment", "duo_jax.run", "duo_jax.cli", "duo_jax.suite_config")),
    # what commands build on, most of them commands too: a cost sweep, a report (and its cross-environment
    # summary), training and measuring an agent
    ("workflows", ("duo_jax.sweep", "duo_jax.report", "duo_jax.summary", "duo_jax.agents.train",
                   "duo_jax.agents.evaluate")),
    # entry points only: nothing imports them
    ("commands", ("duo_jax.main", "duo_jax.suite", "duo_jax.launch", "duo_jax.curves", "duo_jax.agents.suite")),
)
COMMANDS = len(LAYERS) - 1

# Packages whose modules only re-export names that moved (to duo_jax/coordinators/), so that earlier import paths keep
# working for users: no module of the package imports them.
EARLIER_PATHS = ("duo_jax.policies", "duo_jax.algorithms")

# (module, imported module) -> why it is imported inside a function. Plugins are loaded by importlib calls
# (duo_jax.config.load_module), not import statements, so they need no entry.
INSIDE_FUNCTIONS = {
    ("duo_jax.core.curves", "wandb"): "optional (the wandb extra): imported only when logging.wandb is on",
    ("duo_jax.envs.procgen_compat", "procgen"): "procgen-mirror (Python 3.11, 3.12): tried, and quietly (gym's notice)",
    ("duo_jax.envs.procgen_compat", "procgen_gym"): "procgen-gym (Python 3.13): whichever Procgen is installed",
    ("duo_jax.summary", "rliable"): "rliable, with pandas and arch, takes ~1.5 s to import: only when summarising",
}


class Import(NamedTuple):
    module: str      # the importing module
    written: str     # the module named by the statement (`a.b` of `from a.b import c`)
    targets: tuple   # the duo_jax modules it runs
    line: int
    function: str | None  # the function (or method) it sits in

    def where(self) -> str:
        return f"{_paths()[self.module].relative_to(ROOT)}:{self.line}"


def _paths() -> dict[str, pathlib.Path]:
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _resolve(name: str, modules) -> str | None:
    """The module `import name` runs last: `name` itself, or the longest module above it."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


class _Walker(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, modules):
        self.module, self.modules, self.found, self.function = module, modules, [], None
        self.package = module if is_package else module.rpartition(".")[0]

    def _scope(self, node):
        outer = self.function
        self.function = node.name if outer is None else f"{outer}.{node.name}"
        self.generic_visit(node)
        self.function = outer

    visit_FunctionDef = visit_AsyncFunctionDef = _scope

    def _add(self, node, written: str, names: list[str]):
        ours = written == PACKAGE or written.startswith(PACKAGE + ".")
        if not ours:
            targets = ()
        elif not names:  # import a.b.c
            targets = (_resolve(written, self.modules),)
        else:  # from a.b import c: the module a.b.c if there is one, else a.b (its __init__ defines c)
            targets = tuple(dict.fromkeys(
                f"{written}.{n}" if f"{written}.{n}" in self.modules else _resolve(written, self.modules)
                for n in names))
        self.found.append(Import(self.module, written, targets, node.lineno, self.function))

    def visit_Import(self, node):
        for alias in node.names:
            self._add(node, alias.name, [])

    def visit_ImportFrom(self, node):
        written = node.module or ""
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - (node.level - 1)]
            written = ".".join(base + ([written] if written else []))
        self._add(node, written, [a.name for a in node.names])


def _imports() -> list[Import]:
    paths = _paths()
    found = []
    for module, path in paths.items():
        walker = _Walker(module, path.name == "__init__.py", paths)
        walker.visit(ast.parse(path.read_text(), str(path)))
        found += walker.found
    return found


def _layer(module: str) -> int | None:
    best, depth = None, -1
    for i, (_, names) in enumerate(LAYERS):
        for name in names:
            package = name.removesuffix(".*")
            if module == package or (name.endswith(".*") and module.startswith(package + ".")):
                if package.count(".") > depth:
                    best, depth = i, package.count(".")
    return best


def _has_main(module: str) -> bool:
    tree = ast.parse(_paths()[module].read_text())
    return any(isinstance(n, ast.If) and "__main__" in ast.unparse(n.test) for n in tree.body)


def test_every_module_has_a_layer():
    missing = [m for m in _paths() if _layer(m) is None]
    assert not missing, f"modules in no layer of tests/test_layering.py's LAYERS (add them): {', '.join(missing)}"
    unknown = [entry for _, entries in LAYERS for entry in entries if entry.removesuffix(".*") not in _paths()]
    assert not unknown, f"LAYERS names what is no module or package of duo_jax (remove it): {', '.join(unknown)}"


def test_import_graph_has_no_cycle():
    edges: dict[str, dict[str, Import]] = {}
    for imp in _imports():
        for target in imp.targets:
            if target != imp.module:
                edges.setdefault(imp.module, {}).setdefault(target, imp)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, {})):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(_paths()):
        if module not in state and (cycle := visit(module)):
            steps = "\n".join(f"  {edges[a][b].where()} imports {b}" for a, b in zip(cycle, cycle[1:]))
            raise AssertionError(f"import cycle {' -> '.join(cycle)}:\n{steps}")


def _key(imp: Import) -> tuple[str, str]:
    """INSIDE_FUNCTIONS' key: a duo_jax module by its name, any other by its distribution's top-level name."""
    return imp.module, imp.written if imp.targets else imp.written.split(".")[0]


def test_no_imports_inside_functions_but_the_listed_ones():
    inside = [imp for imp in _imports() if imp.function is not None]
    wrong = [f"{imp.where()} imports {', '.join(imp.targets) or imp.written} inside {imp.function}(): import it "
             "at the top of the module (or, for an optional or slow dependency, list it in INSIDE_FUNCTIONS with why)"
             for imp in inside if _key(imp) not in INSIDE_FUNCTIONS]
    assert not wrong, "\n".join(wrong)
    used = {_key(imp) for imp in inside}
    stale = [f"{m} no longer imports {name} inside a function" for m, name in INSIDE_FUNCTIONS if (m, name) not in used]
    assert not stale, "INSIDE_FUNCTIONS lists imports that are gone (remove them): " + "; ".join(stale)


def test_imports_go_to_the_same_layer_or_below_and_never_to_a_command():
    wrong = []
    for imp in _imports():
        own = _layer(imp.module)
        for target in imp.targets:
            theirs = _layer(target)
            if target == imp.module or own is None or theirs is None:
                continue
            if theirs == COMMANDS:
                wrong.append(f"{imp.where()} imports {target}, a command (an entry point): move what it needs "
                             "into a module of a lower layer")
            elif theirs > own:
                below = ", ".join(name for name, _ in LAYERS[: own + 1])
                wrong.append(f"{imp.where()} imports {target} ({LAYERS[theirs][0]}), but {imp.module} is in "
                             f"{LAYERS[own][0]}, which may import only {below}")
    assert not wrong, "\n".join(wrong)


def test_scripts_are_workflows_or_commands():
    """`python -m duo_jax.X` runs a workflow or a command; every command is one."""
    runnable = {m for m in _paths() if _has_main(m)}
    layer = {m: _layer(m) for m in _paths()}
    low = sorted(m for m in runnable if layer[m] is not None and layer[m] < COMMANDS - 1)
    assert not low, f"modules run as scripts (`if __name__ == '__main__'`) below the workflows: {', '.join(low)}"
    idle = sorted(m for m in _paths() if layer[m] == COMMANDS and m not in runnable)
    assert not idle, f"commands without `if __name__ == '__main__'`: {', '.join(idle)}"


def _earlier(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in EARLIER_PATHS)


def test_the_package_imports_no_earlier_import_path():
    wrong = [f"{imp.where()} imports {target}, an earlier import path kept for users: import from where it moved"
             for imp in _imports() if not _earlier(imp.module) for target in imp.targets if _earlier(target)]
    assert not wrong, "\n".join(wrong)
