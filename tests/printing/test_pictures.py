"""to_dot / render / HTML pages and pprint."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.printing.dot import render, to_dot, to_networkx
from tensorjit.printing.html import to_html
from tensorjit.printing.pprint import pprint


def small_function():
    x = tj.matrix("x")
    w = tj.shared(np.ones((3, 2)), name="W")
    loss = tj.sum((x * 2.0 + 1.0) * w)
    g = tj.grad(loss, w)
    return tj.function([x], loss, updates=[(w, w - 0.1 * g)], optimizer=None)


def test_pprint_infix_precedence_and_names():
    x, b = tj.matrix("x"), tj.vector("b")
    assert pprint((x + b) * 2.0) == "(x + b) * 2"
    assert pprint(x + b * 2.0) == "x + b * 2"
    assert pprint(x - (b - 1.0)) == "x - (b - 1)"
    assert pprint(-(-x)) == "-(-x)"
    assert pprint(tj.sum(x, axis=1)) == "sum(x, axis=1)"
    assert pprint(x.T) == "x.T"


def test_pprint_rejects_non_graphs():
    with pytest.raises(TypeError, match="pprint"):
        pprint(3)


def test_dot_styles_kinds_and_labels_edges_with_types():
    f = small_function()
    g = to_networkx(f)
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert {"input", "shared", "constant", "op", "grad_op", "output", "update"} <= kinds
    labels = {d["label"] for _, d in g.nodes(data=True)}
    assert "update W" in labels and "out 0" in labels
    text = to_dot(f)
    assert text.startswith('digraph "tensorjit" {') and text.rstrip().endswith("}")
    assert 'label="float64[?, ?]"' in text
    assert 'style="filled,dashed"' in text  # gradient nodes look different
    assert to_dot(f) == text  # stable


def test_render_unknown_extension_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"unknown format 'gif'"):
        render(small_function(), tmp_path / "g.gif")


def test_render_without_dot_names_the_program(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="graphviz"):
        render(small_function(), tmp_path / "g.svg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' not installed")
@pytest.mark.parametrize("ext", ["svg", "png", "pdf"])
def test_render_with_dot(tmp_path, ext):
    path = render(small_function(), tmp_path / f"g.{ext}")
    data = open(path, "rb").read()
    magic = {"svg": b"<svg", "png": b"\x89PNG", "pdf": b"%PDF"}[ext]
    assert magic in data[:400]


def test_html_is_self_contained():
    page = to_html(small_function())
    assert "<svg" in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "update W" in page and "src=" not in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: chromium)")
def test_html_renders_nodes_in_headless_chromium(tmp_path):
    page = tmp_path / "graph.html"
    render(small_function(), page)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    # The DOM after scripts ran: every node group must be there, with its label text.
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()],
                         capture_output=True, timeout=120).stdout.decode()
    assert dom.count('class="node') >= 8
    assert "update W" in dom
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    sizes = {}
    for name, url in (("graph", page.as_uri()), ("blank", blank.as_uri())):
        shot = tmp_path / f"{name}.png"
        subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1200,900",
                        url], capture_output=True, timeout=120)
        assert shot.read_bytes()[:4] == b"\x89PNG"
        sizes[name] = shot.stat().st_size
    # A blank page compresses to almost nothing; drawn nodes, text and edges do not.
    assert sizes["graph"] > 5 * sizes["blank"], sizes
