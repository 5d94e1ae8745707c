"""Every program in examples/ runs (at reduced size) and prints what it promises."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# example file -> (arguments for a quick run, a regex its output must match)
SMOKE = {
    "logistic_regression.py": (["--epochs", "40"], r"test accuracy: [0-9.]+"),
    "mlp_digits.py": (["--epochs", "1", "--picture", "{tmp}/mlp.html"], r"accuracy"),
    "newton_cg.py": (["--max-iter", "3", "--gd-max-iter", "50"],
                     r"newton-cg: \d+ Newton steps \(\d+ Hessian-vector products\)"),
    "higher_order.py": ([], r"all within tolerance: True"),
    "visualize.py": (["--out", "{tmp}"], r"wrote \S+after\.html"),
    "stability.py": ([], r"(?s)optimizer=None:\s+loss = nan.*default optimizer:\s+"
                         r"loss = 20000\.0"),
}


def run_example(name: str, args: list[str], tmp_path: pathlib.Path) -> str:
    pytest.importorskip("sklearn")
    env = dict(os.environ)
    # Run against this checkout even when the package is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    argv = [a.format(tmp=tmp_path) for a in args]
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *argv], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_every_example_has_a_smoke_test():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(SMOKE)


@pytest.mark.parametrize("name", sorted(set(SMOKE) - {"logistic_regression.py"}))
def test_example_runs(name, tmp_path):
    args, expected = SMOKE[name]
    out = run_example(name, args, tmp_path)
    assert re.search(expected, out), f"{name} printed:\n{out}"


def test_logistic_regression_learns(tmp_path):
    args, expected = SMOKE["logistic_regression.py"]
    out = run_example("logistic_regression.py", args, tmp_path)
    assert re.search(expected, out), out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.9
    losses = [float(v) for v in re.findall(r"loss ([0-9.]+)", out)]
    assert losses[0] > losses[-1]


def test_readme_quick_start_matches_ci():
    """The README's test command is what .ci/run runs after activating its venv."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n\s*```", readme, re.DOTALL)
    install, tests = blocks[0].strip(), blocks[1].strip()
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert install.endswith("python examples/logistic_regression.py")
    prefix = ". .venv/bin/activate && "
    assert tests.startswith(prefix)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == tests[len(prefix):]
    assert 'python -m pip install --quiet -e ".[examples,test]"' in ci_lines
