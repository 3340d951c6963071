"""What a careless user types, on every entry point: one line `error: <sentence naming the field>`, exit code
!= 0, no traceback, nothing written, before any work.

Most cases call the entry point's `main(argv)` in-process (the same code path as `python -m`, without a
Python start-up per case); a few run as real subprocesses.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import REPO

from duo_jax.core.checkpoint import save_checkpoint

ENTRY_POINTS = {
    "main": "duo_jax.main", "sweep": "duo_jax.sweep", "report": "duo_jax.report", "suite": "duo_jax.suite",
    "train": "duo_jax.agents.train", "evaluate": "duo_jax.agents.evaluate", "agents_suite": "duo_jax.agents.suite",
}
ARGPARSE = ("duo_jax.report", "duo_jax.suite", "duo_jax.agents.suite")  # their main(argv) takes no program name
MAX_MESSAGE = 300  # characters of the one `error:` line, at most: a long list gives way to a did-you-mean

# (entry point, arguments, what the one-line message must contain). {agent}, {policy}, {plugin_*}, {sweep_*},
# {report_*}, {truncated}, {agent_parent} and {tmp} are filled in by the `paths` fixture; main and sweep also get
# BASE (tiny agents, tmp experiments).
# A small sweep.json as duo_jax.sweep writes it (what duo_jax.report reads of it), for the damaged copies below.
SWEEP = {"method": "always_novice", "alphas": [0, 1], "selections": {"val_sim": [
    {"alpha": a, "episode_rewards": [1.0, 2.0], "test": {"reward_mean": 1.0, "reward_ci95": 0.1, "expert_fraction": 0}}
    for a in (0, 1)]}}

CASES = [
    # unknown fields, with the nearest names; missing and failing config files; wrong types
    ("main", ["--config.foo=1"], "--config.foo: the config has no field 'foo'"),
    ("main", ["--config.costs.alph=0.1"], "did you mean costs.alpha"),
    ("main", ["--config.evaluation.num_env=4"], "did you mean evaluation.num_envs"),
    ("main", ["--config.costs.alpha.x=1"], "costs.alpha is a value, not a section"),
    (
        "main",
        ["--config=configs/ask_every_kk.py"],
        "configs/ask_every_kk.py' does not exist; did you mean configs/ask_every_k.py",
    ),
    ("main", ["--config=configs/gridworld.py:coinrun,logit"], "configs/gridworld.py takes '<game>,<method>'"),
    ("main", ["--config=configs/gridworld.py:distshift,nope"], "configs/nope.py' does not exist"),
    ("main", ["--config={plugin_syntax}"], "failed to import at line 2: SyntaxError"),
    ("main", ["--config.costs.alpha=abc"], "--config.costs.alpha must be a number (its default is 0.4); got 'abc'."),
    ("main", ["--config.evaluation.num_envs=2.5"], "--config.evaluation.num_envs must be an integer"),
    (
        "main",
        ["--config.evaluation.num_envs"],
        "--config.evaluation.num_envs must be an integer (its default is 2); got no value.",
    ),
    ("main", ["--config.evaluation.progress=maybe"], "--config.evaluation.progress must be True or False"),
    ("main", ["--config.algorithm.candidates=(5,"], "--config.algorithm.candidates must be a tuple"),
    ("main", ["--config.costs=1"], "--config.costs is a section (alpha, beta, bp, round_to_cents)"),
    ("main", ["--config=configs/ppo.py", "--config.algorithm=1"], "more (--help lists them)); set one of its fields"),
    ("main", ["--config.zzzz=1"], "the fields of the config are agents, algorithm,"),
    ("main", ["--config.seed=x"], "--config.seed must be an integer"),
    ("main", ["stray"], "unexpected arguments 'stray'"),
    ("main", ["--nonsense=1"], "Unknown command line flag 'nonsense'"),
    # plugins: missing, broken, raising, registering a taken name
    ("main", ["--config.plugins=('{tmp}/none.py',)"], "plugins: file"),
    (
        "main",
        ["--config.plugins=('{plugin_syntax}',)"],
        "plugins: {plugin_syntax} failed to import at line 2: SyntaxError",
    ),
    (
        "main",
        ["--config.plugins=('{plugin_raises}',)"],
        "plugins: {plugin_raises} failed to import at line 3: KeyError",
    ),
    (
        "main",
        ["--config.plugins=('{plugin_duplicate}',)"],
        "policy 'ask_every_k' is already registered (at duo_jax/coordinators/ask_every_k.py",
    ),
    # NaN, infinities, out-of-range numbers, zero and negative counts, sizes that do not divide
    ("main", ["--config.costs.alpha=nan"], "costs.alpha must be a finite number; got nan."),
    ("main", ["--config.costs.alpha=inf"], "costs.alpha must be a finite number; got inf."),
    ("main", ["--config.costs.beta=-1"], "costs.beta must be a number >= 0; got -1.0."),
    ("main", ["--config.costs.bp=-inf"], "costs.bp must be a finite number; got -inf."),
    ("main", ["--config.coordination.temperature=0"], "coordination.temperature must be a finite number > 0; got 0.0."),
    ("main", ["--config.evaluation.num_episodes=0"], "evaluation.num_episodes must be a positive integer; got 0."),
    ("main", ["--config.evaluation.num_envs=-4"], "evaluation.num_envs must be a positive integer; got -4."),
    ("main", ["--config.evaluation.max_num_steps=0"], "evaluation.max_num_steps must be a positive integer; got 0."),
    (
        "main",
        ["--config.evaluation.num_episodes=3"],
        "evaluation.num_episodes (3) must be divisible by evaluation.num_envs (2).",
    ),
    (
        "main",
        ["--config.algorithm.candidates=()"],
        "algorithm.candidates must be a non-empty list of integers k >= 1; got ().",
    ),
    (
        "main",
        ["--config.algorithm.candidates=(0,5)"],
        "algorithm.candidates must be a non-empty list of integers k >= 1",
    ),
    (
        "main",
        ["--config.algorithm.candidates=(a,b)"],
        "algorithm.candidates must be a non-empty list of integers k >= 1",
    ),
    (
        "main",
        ["--config=configs/ppo.py", "--config.algorithm.num_minibatches=7"],
        "algorithm.num_minibatches (7) must divide algorithm.num_envs * algorithm.num_steps (16384).",
    ),
    (
        "main",
        ["--config=configs/ppo.py", "--config.algorithm.num_minibatches=0"],
        "algorithm.num_minibatches must be a positive integer; got 0.",
    ),
    (
        "main",
        ["--config=configs/ppo.py", "--config.algorithm.learning_rate=nan"],
        "algorithm.learning_rate must be a finite number; got nan.",
    ),
    (
        "main",
        ["--config=configs/ppo.py", "--config.algorithm.ent_coef=-0.1"],
        "algorithm.ent_coef must be a number >= 0; got -0.1.",
    ),
    (
        "main",
        ["--config=configs/ppo.py", "--config.algorithm.gamma=1.5"],
        "algorithm.gamma must be a number in (0, 1]; got 1.5.",
    ),
    (
        "main",
        ["--config=configs/ppo.py", "--config.algorithm.total_steps=10"],
        "algorithm.total_steps (10) must be at least",
    ),
    (
        "main",
        ["--config=configs/random.py", "--config.algorithm.probabilities=(0.5,1.5)"],
        "algorithm.probabilities must be a non-empty list of numbers in [0, 1]",
    ),
    (
        "main",
        ["--config=configs/logit.py", "--config.algorithm.percentiles=(50,101)"],
        "algorithm.percentiles must be a non-empty list of numbers in [0, 100]",
    ),
    (
        "main",
        ["--config=configs/logit.py", "--config.algorithm.explore_temps=(1.0,1e999)"],
        "algorithm.explore_temps must hold finite numbers only",
    ),
    (
        "main",
        ["--config=configs/ood.py", "--config.algorithm.accept_rate=0"],
        "algorithm.accept_rate must be in (0, 1]",
    ),
    (
        "main",
        ["--config=configs/always.py", "--config.algorithm.agent=both"],
        "algorithm.agent must be 'novice' or 'expert'; got 'both'.",
    ),
    # unknown games, splits, models, metrics, feature types, modes and methods
    ("main", ["--config.env.game=pong"], "env.game must be one of "),
    ("main", ["--config.env.name=procgenn"], "env.name: Unknown environment 'procgenn'; did you mean 'procgen'?"),
    (
        "main",
        ["--config.policy.name=ask_every"],
        "policy.name: Unknown policy 'ask_every'; did you mean 'ask_every_k'?",
    ),
    ("main", ["--config.algorithm.name=nope"], "algorithm.name: Unknown algorithm 'nope'"),
    ("main", ["--config.mode=both"], "mode must be one of train, eval; got 'both'."),
    ("main", ["--config.name=a/b"], "name must be a non-empty directory name"),
    ("main", ["--config.evaluation.test_split=tset"], "evaluation.test_split: split 'tset' does not exist"),
    (
        "main",
        ["--config.evaluation.validation_splits=()"],
        "evaluation.validation_splits must be a non-empty list of names; got ().",
    ),
    (
        "main",
        ["--config.evaluation.validation_splits=('val_true','test')"],
        "evaluation.validation_splits must not include the test split",
    ),
    ("main", ["--config.algorithm.train_split=val"], "algorithm.train_split: split 'val' does not exist"),
    ("main", ["--config=configs/logit.py", "--config.policy.metric=confidence"], "policy.metric must be one of "),
    ("main", ["--config=configs/ppo.py", "--config.policy.feature_type=pixels"], "policy.feature_type must be one of "),
    # missing, corrupt and wrong-kind checkpoints
    ("main", ["--config.agents.test_expert={tmp}/gone"], "agents.test_expert: Checkpoint path"),
    ("main", ["--config.agents.train_novice={corrupt}"], "agents.train_novice: Checkpoint at"),
    ("main", ["--config.agents.test_novice={policy}"], "agents.test_novice: Checkpoint at"),
    (
        "main",
        ["--config.agents.test_novice={truncated}"],
        "agents.test_novice: Checkpoint at '{truncated}' is corrupt or unreadable: the data in 0/state is truncated or "
        "damaged (Requested byte range [",
    ),
    (
        "main",
        ["--config.agents.test_novice={agent_parent}"],
        "agents.test_novice: Checkpoint path '{agent_parent}' holds no saved step; expected an agent checkpoint such "
        "as agents/coinrun/novice/agent; did you mean {agent_parent}/agent?",
    ),
    ("main", ["--config.mode=eval"], "eval.checkpoint must name a policy checkpoint"),
    ("main", ["--config.mode=eval", "--config.eval.checkpoint={tmp}/gone"], "eval.checkpoint: Checkpoint path"),
    ("main", ["--config.mode=eval", "--config.eval.checkpoint={agent}"], "is not a policy checkpoint"),
    (
        "main",
        ["--config.mode=eval", "--config.eval.checkpoint={policy}", "--config.eval.splits=('tst',)"],
        "eval.splits: split 'tst' does not exist",
    ),
    # the sweep's alphas
    ("sweep", ["--config.sweep.alphas=(0.5,)"], "sweep.alphas must be at least two distinct increasing numbers >= 0"),
    (
        "sweep",
        ["--config.sweep.alphas=(1.0,0.5)"],
        "sweep.alphas must be at least two distinct increasing numbers >= 0",
    ),
    ("sweep", ["--config.sweep.alphas=()"], "sweep.alphas must be at least two"),
    ("sweep", ["--config.sweep.alphas=(0.0,1e999)"], "sweep.alphas must hold finite numbers only"),
    (
        "sweep",
        ["--config.sweep.alphas=(0.0,nan)"],
        "sweep.alphas must be at least two distinct increasing numbers >= 0",
    ),
    ("sweep", ["--config.sweep.alpha=(0.0,1.0)"], "did you mean sweep.alphas"),
    ("sweep", ["--config.costs.alpha=nan"], "costs.alpha must be a finite number; got nan."),
    # report: missing or malformed sweeps, bad numbers, argparse's own complaints
    ("report", ["{tmp}/no_sweep", "--out={tmp}/r"], "no sweep found at {tmp}/no_sweep"),
    ("report", ["{sweep_corrupt}", "--out={tmp}/r"], "is not valid JSON"),
    ("report", ["{sweep_wrong}", "--out={tmp}/r"], "needs 'method', 'alphas'"),
    (
        "report",
        ["{sweep_half}", "--out={tmp}/r"],
        "{sweep_half}/sweep.json is not valid JSON (Expecting value at line 1 column 61); expected a whole "
        "sweep.json as python -m duo_jax.sweep writes it.",
    ),
    ("report", ["{sweep_binary}", "--out={tmp}/r"], "sweep.json is not a text file; expected a whole sweep.json"),
    ("report", ["{sweep_list}", "--out={tmp}/r"], "sweep.json holds no JSON object; expected a sweep.json as"),
    (
        "report",
        ["{sweep_strings}", "--out={tmp}/r"],
        "selection 'val_sim', alpha 0: expected numbers for 'alpha', 'episode_rewards' (a list) and the test's",
    ),
    ("report", ["--summary", "{sweep_wrong}", "--out={tmp}/r"], "no report found at {sweep_wrong}"),
    ("report", ["--summary", "{report_half}", "--out={tmp}/r"], "report.json is not valid JSON (Unterminated string"),
    ("report", ["--summary", "{report_rows}", "--out={tmp}/r"], "report.json: row 0 has no auc (a number); expected"),
    ("report", ["{tmp}/no_sweep"], "the following arguments are required: --out"),
    ("report", [], "the following arguments are required: DIR"),
    ("report", ["{tmp}/no_sweep", "--out={tmp}/r", "--bootstrap=0"], "--bootstrap must be a positive integer; got 0."),
    (
        "report",
        ["{tmp}/no_sweep", "--out={tmp}/r", "--bootstrap=many"],
        "argument --bootstrap: invalid int value: 'many'",
    ),
    # agents.train: the Procgen and the gridworld trainer
    ("train", ["--config.ppo.num_minibatches=0"], "ppo.num_minibatches must be a positive integer; got 0."),
    (
        "train",
        ["--config.ppo.num_minibatches=7"],
        "ppo.num_minibatches (7) must divide ppo.num_envs * ppo.num_steps (16384).",
    ),
    ("train", ["--config.ppo.total_steps=-1"], "ppo.total_steps must be a positive integer; got -1."),
    ("train", ["--config.ppo.learning_rate=nan"], "ppo.learning_rate must be a finite number; got nan."),
    ("train", ["--config.ppo.gamma=2.0"], "ppo.gamma must be a number in (0, 1]; got 2.0."),
    ("train", ["--config.ppo.snapshots=(0,)"], "ppo.snapshots must be a list of positive integers; got (0,)."),
    (
        "train",
        ["--config.ppo.snapshots=(999999999,)"],
        "ppo.snapshots must be env-step counts between 1 and the run's 4997120 steps; got (999999999,).",
    ),
    (
        "train",
        ["--config=configs/train_grid_agent.py", "--config.ppo.snapshots=(999999999,)"],
        "ppo.snapshots must be env-step counts between 1 and the run's 4997120 steps; got (999999999,).",
    ),
    ("train", ["--config.env.game=pong"], "env.game must be one of "),
    ("train", ["--config.env.split=val"], "env.split must be one of train, val_sim, val_true, test; got 'val'."),
    ("train", ["--config.model.name=resnet"], "model.name must be one of "),
    ("train", ["--config.out_dir="], "out_dir must be a non-empty string"),
    ("train", ["--config.ppo.num_minibatch=4"], "did you mean ppo.num_minibatches"),
    ("train", ["--config=configs/train_grid_agent.py", "--config.env.task=DoorKey"], "env.task must be one of "),
    (
        "train",
        ["--config=configs/train_grid_agent.py", "--config.env.eval_task=LavaGap"],
        "env.eval_task must be one of ",
    ),
    (
        "train",
        ["--config=configs/train_grid_agent.py", "--config.ppo.num_minibatches=3"],
        "ppo.num_minibatches (3) must divide",
    ),
    # agents.evaluate
    ("evaluate", [], "--agent must name an agent checkpoint directory"),
    ("evaluate", ["--agent={tmp}/gone"], "--agent: Checkpoint path"),
    ("evaluate", ["--agent={policy}"], "--agent: Checkpoint at"),
    ("evaluate", ["--agent={truncated}"], "--agent: Checkpoint at '{truncated}' is corrupt or unreadable"),
    ("evaluate", ["--agent=configs"], "/configs' holds no saved step; expected an agent checkpoint such as"),
    ("evaluate", ["--agent=configs/logit.py"], "/configs/logit.py' is a file, not a directory; expected an agent"),
    ("evaluate", ["--agent={agent}", "--num_episodes=0"], "--num_episodes must be a positive integer; got 0."),
    ("evaluate", ["--agent={agent}", "--num_episodes=-8"], "--num_episodes must be a positive integer; got -8."),
    ("evaluate", ["--agent={agent}", "--max_num_steps=0"], "--max_num_steps must be a positive integer; got 0."),
    (
        "evaluate",
        ["--agent={agent}", "--num_episodes=100"],
        "--num_episodes (100) must be divisible by --num_envs (64).",
    ),
    (
        "evaluate",
        ["--agent={agent}", "--split=val"],
        "--split must be one of train, val_sim, val_true, test; got 'val'.",
    ),
    ("evaluate", ["--agent={alien}"], "was trained on game 'pong'"),
    ("evaluate", ["--agent={agent}", "--num_episodes=many"], "--num_episodes=many"),
    ("evaluate", ["--agent={agent}", "stray"], "unexpected arguments 'stray'"),
    # suite: an unknown environment or method gets the nearest names, not all 31
    ("suite", ["--env=pong", "--list"], "or a gridworld (distshift, lavagap, doorkey); got 'pong'."),
    ("suite", ["--env=coinrunn", "--list"], "got 'coinrunn' (did you mean coinrun?)."),
    (
        "suite",
        ["--env=distshift", "--methods=always_novice,logit_max", "--list"],
        "--methods: distshift has no method 'logit_max'; did you mean logit_max_prob, logit_margin, logit_max_logit? "
        "python -m duo_jax.suite --env distshift --list shows all 43.",
    ),
    ("suite", ["--env=distshift", "--methods=,", "--list"],
     "--methods must be comma-separated method names, all or sensitivity"),
    # a mistyped method is reported before the shipped report's refusal (reports/distshift exists)
    ("suite", ["--env=distshift", "--methods=logit_max"], "--methods: distshift has no method 'logit_max'"),
    # agents.suite
    ("agents_suite", ["--game=pong"], "--game must be a Procgen game, one of bigfish,"),
    ("agents_suite", ["--game=distshift"], "--game distshift is a gridworld"),
    ("agents_suite", ["--game=coinrun", "--budget=huge"], "argument --budget: invalid choice: 'huge'"),
]


@pytest.fixture(scope="module")
def paths(agent_paths, tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("bad_inputs")
    files = {
        "plugin_syntax": "import duo_jax\ndef broken(:\n",
        "plugin_raises": "import duo_jax\n\nraise KeyError('missing setting')\n",
        "plugin_duplicate": "import duo_jax\nduo_jax.register_policy('ask_every_k', lambda config: None)\n",
        "sweep_corrupt/sweep.json": "{not json",
        "sweep_wrong/sweep.json": json.dumps({"alphas": [0, 1]}),
        "sweep_half/sweep.json": json.dumps(SWEEP)[:60],  # a copy cut short
        "sweep_binary/sweep.json": b"\x89PNG\r\n\x1a\n",
        "sweep_list/sweep.json": "[]",
        "sweep_strings/sweep.json": json.dumps(SWEEP).replace('"reward_mean": 1.0', '"reward_mean": "1.0"'),
        "report_half/report.json": '{"rows": [{"method": "always_novice", "sel',
        "report_rows/report.json": json.dumps(
            {"rows": [{"method": "always_novice", "selection": "eval_sim", "num_seeds": 1, "auc_per_seed": [1.0]}]}
        ),
    }
    out = {"tmp": str(tmp), "agent": agent_paths["novice"]}
    for name, text in files.items():
        path = tmp / (name if "/" in name else f"{name}.py")
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
        out[name.split("/")[0]] = str(path.parent if "/" in name else path)
    out["policy"] = str(tmp / "policy")
    save_checkpoint(out["policy"], {"k": 5}, {"policy": "ask_every_k", "policy_config": {}})
    out["alien"] = str(tmp / "alien")
    save_checkpoint(out["alien"], {"w": 0.0}, {"model": "small_cnn", "num_actions": 15, "game": "pong"})
    out["corrupt"] = str(tmp / "corrupt")
    os.makedirs(os.path.join(out["corrupt"], "0"))
    with open(os.path.join(out["corrupt"], "0", "garbage"), "w") as f:
        f.write("garbage")
    out["truncated"] = str(tmp / "truncated")  # an agent with its largest params file cut short
    shutil.copytree(agent_paths["novice"], out["truncated"])
    os.truncate(max(glob.glob(f"{out['truncated']}/0/state/**/d/*", recursive=True), key=os.path.getsize), 10)
    out["agent_parent"] = str(tmp / "agent_parent")  # a directory holding an agent, not an agent
    shutil.copytree(agent_paths["novice"], os.path.join(out["agent_parent"], "agent"))
    return out


def base_args(entry: str, paths: dict, agent_paths: dict) -> list[str]:
    if entry not in ("main", "sweep"):
        return []
    return [
        "--config=configs/ask_every_k.py",
        *(
            f"--config.agents.{pair}_{role}={agent_paths[role]}"
            for pair in ("train", "test")
            for role in ("novice", "expert")
        ),
        f"--config.experiments_dir={paths['tmp']}/experiments",
        "--config.evaluation.num_episodes=2",
        "--config.evaluation.num_envs=2",
        "--config.evaluation.progress=False",
    ]


def run_in_process(module_name: str, argv: list[str], capsys) -> tuple[int, str, str]:
    import importlib

    module = importlib.import_module(module_name)
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        with pytest.raises(SystemExit) as exit_:
            module.main(argv if module_name in ARGPARSE else [module_name, *argv])
    finally:
        os.chdir(cwd)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def check_one_line(code, out: str, err: str, expected: str, tmp: str | None = None) -> None:
    assert code not in (0, None), (out, err)
    assert "Traceback" not in out + err, out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert expected in errors[0], errors[0]
    assert len(errors[0].replace(tmp, "~/work") if tmp else errors[0]) <= MAX_MESSAGE, errors[0]  # tmp: a user's dir


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_bad_inputs_in_process(entry, paths, agent_paths, capsys):
    """Every case of the entry point, in one test (no Python start-up per case)."""
    cases = [(args, expected) for e, args, expected in CASES if e == entry]
    assert cases
    for args, expected in cases:
        argv = [a.format(**paths) for a in base_args(entry, paths, agent_paths) + args]
        code, out, err = run_in_process(ENTRY_POINTS[entry], argv, capsys)
        check_one_line(code, out, err, expected.format(**paths), paths["tmp"])
    assert not os.path.exists(os.path.join(paths["tmp"], "experiments")), "a bad input wrote an experiment"
    assert not os.path.exists(os.path.join(paths["tmp"], "r")), "a bad input wrote a report"


@pytest.mark.parametrize(
    "entry, args, expected",
    [
        ("main", ["--config=configs/ask_every_k.py", "--config.foo=1"], "--config.foo: the config has no field 'foo'"),
        (
            "main",
            ["--config=configs/ask_every_k.py", "--config.costs.alpha=nan"],
            "costs.alpha must be a finite number; got nan.",
        ),
        (
            "sweep",
            ["--config=configs/ask_every_k.py", "--config.sweep.alphas=(0.5,)"],
            "sweep.alphas must be at least two",
        ),
        ("train", ["--config.ppo.num_minibatches=0"], "ppo.num_minibatches must be a positive integer; got 0."),
        (
            "evaluate",
            ["--agent=agents/distshift/expert/agent", "--num_episodes=-1"],
            "--num_episodes must be a positive integer",
        ),
        ("report", ["/nonexistent/sweep", "--out=/tmp/never"], "no sweep found at /nonexistent/sweep"),
        # launch only here: importing submitit in a test (logging.config.dictConfig) closes pytest's captured streams
        ("launch", ["--executor=pbs", "--", "true"], "argument --executor: invalid choice: 'pbs'"),
        ("launch", ["--executor=local", "--nodes=0", "--", "true"], "--nodes must be a positive integer; got 0."),
    ],
)
def test_bad_inputs_subprocess(entry, args, expected):
    """The same as a user sees it: `python -m <entry point>` in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-m", ENTRY_POINTS.get(entry, f"duo_jax.{entry}"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    check_one_line(proc.returncode, proc.stdout, proc.stderr, expected)
