"""The source tree's shipped files (`agents/`, `configs/`), located from the package itself, so that a command
run from any working directory finds the same ones that `agents.suite --install` writes."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AGENTS = os.path.join(REPO, "agents")
CONFIGS = os.path.join(REPO, "configs")
