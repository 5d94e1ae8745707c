"""python -m tensorjit show SCRIPT.py:FUNCTION."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from tensorjit.__main__ import main

SCRIPT = textwrap.dedent('''
    import numpy as np
    import tensorjit as tj

    def train():
        x = tj.matrix("x")
        W = tj.shared(np.ones((3, 2)), name="W")
        loss = tj.sum(tj.tanh(x @ W) ** 2)
        return tj.function([x], loss, updates=[(W, W - 0.1 * tj.grad(loss, W))])

    def expression():
        x = tj.vector("x")
        return [tj.exp(x), tj.sum(x)]

    if __name__ == "__main__":
        raise SystemExit("the script's main block must not run")
''')


@pytest.fixture()
def script(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(SCRIPT)
    return str(path)


def test_text_and_explain_of_a_compiled_function(script, capsys):
    assert main(["show", f"{script}:train", "--text", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "<- update of W" in out and "Elemwise{tanh}" in out
    assert "rewrites fired, in order:" in out


def test_text_is_the_default_and_variables_are_accepted(script, capsys):
    assert main(["show", f"{script}:expression"]) == 0
    out = capsys.readouterr().out
    assert "Elemwise{exp}" in out and "Sum{" in out


def test_html_picture(script, tmp_path):
    out = tmp_path / "g.html"
    assert main(["show", f"{script}:train", "--out", str(out)]) == 0
    assert "<svg" in out.read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_svg_through_the_module_entry_point(script, tmp_path):
    out = tmp_path / "g.svg"
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(__file__).parents[1]))
    proc = subprocess.run([sys.executable, "-m", "tensorjit", "show", f"{script}:train",
                           "--out", str(out)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().lstrip().startswith("<?xml")


def test_bad_targets_exit_with_a_message(script):
    with pytest.raises(SystemExit, match="no function 'missing'"):
        main(["show", f"{script}:missing"])
    with pytest.raises(SystemExit, match="expected SCRIPT.py:FUNCTION"):
        main(["show", script])
    with pytest.raises(SystemExit, match="no such file"):
        main(["show", "nowhere.py:f"])
    with pytest.raises(SystemExit, match="--explain needs"):
        main(["show", f"{script}:expression", "--explain"])
