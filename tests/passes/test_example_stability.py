"""Smoke test: examples/stability.py runs and shows NaN without passes, finite with."""

import pathlib
import runpy


def test_stability_example_runs(capsys):
    path = pathlib.Path(__file__).parents[2] / "examples" / "stability.py"
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    naive, _, optimized = out.partition("default optimizer:")
    assert "nan" in naive
    assert "nan" not in optimized.split("what the rewrite passes did")[0]
    assert "log_of_softmax_to_log_softmax" in out
