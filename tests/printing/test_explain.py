"""Function.dump / explain / llvm_ir / asm, fused kernels in dumps, gradient tags."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tensorjit as tj
from tensorjit.graph.ops.composite import composite_from_graph
from tensorjit.graph.ops.elemwise import Elemwise
from tensorjit.printing.dot import to_dot, to_networkx
from tensorjit.printing.explain import kernel_names, rebuild, snapshot


def training_function(mode: str = "py", optimizer: str | None = "fast_run"):
    x, y = tj.matrix("x"), tj.ivector("y")
    W = tj.shared(np.zeros((4, 3)), name="W")
    b = tj.shared(np.zeros(3), name="b")
    loss = -tj.mean(tj.log(tj.softmax(x @ W + b))[tj.arange(y.shape[0]), y])
    gW, gb = tj.grad(loss, [W, b])
    return tj.function([x, y], loss, updates=[(W, W - 0.5 * gW), (b, b - 0.5 * gb)],
                       name="train", mode=mode, optimizer=optimizer)


def test_dump_shows_the_graph_after_each_phase():
    f = training_function()
    before, after = f.dump("input"), f.dump("stabilize")
    assert "Softmax" in before and "LogSoftmax" not in before
    # stabilize fuses the indexed log(softmax) and its gradient into the cross-entropy ops
    assert "SoftmaxCrossEntropyWithIntegerLabels" in after and "SoftmaxCrossEntropyGrad" in after
    assert "LogSoftmax" not in after and "Elemwise{log}" not in after
    assert f.dump("final") == tj.debugprint(f, file="str")
    assert "<- update of W" in before and "<- update of b" in before
    # The phase snapshots are taken before later phases rewire nodes in place.
    assert f.dump("input") == before


def test_dump_input_matches_an_unoptimized_compile():
    f = training_function()
    g = training_function(optimizer=None)
    assert f.dump("input") == tj.debugprint(g, file="str")


def test_dump_unknown_stage_lists_the_valid_ones():
    f = training_function(optimizer="stabilize_only")
    with pytest.raises(ValueError, match=r"'input', 'merge', 'canonicalize', 'stabilize', "
                                         r"'final'"):
        f.dump("specialize")


def test_snapshot_rebuild_round_trips_the_structure():
    f = training_function()
    text = tj.debugprint(f.fgraph, file="str")
    assert tj.debugprint(rebuild(snapshot(f.fgraph)), file="str") == text


def test_explain_lists_rewrites_in_order_with_before_and_after():
    f = training_function()
    steps = f.explain()
    assert [s.rewrite for s in steps] == [e.rewrite for e in f.rewrites]
    stab = [s for s in steps if s.rewrite == "log_of_softmax_to_log_softmax"]
    assert len(stab) == 1 and stab[0].phase == "stabilize"
    assert stab[0].before == "log(softmax(x @ W + b))"
    assert stab[0].after == "log_softmax(x @ W + b)"
    assert all(len(s.before) <= 100 and len(s.after) <= 100 for s in steps)
    text = str(steps)
    assert text.startswith(f"{len(steps)} rewrites fired, in order:")
    assert "[stabilize] log_of_softmax_to_log_softmax" in text


def test_explain_prints_when_asked(capsys):
    x = tj.vector("x")
    f = tj.function([x], tj.log(1.0 + tj.exp(x)))
    steps = f.explain(show=True)
    out = capsys.readouterr().out
    assert out.strip() == str(steps)
    assert any(s.after.startswith("softplus(") for s in steps), out
    g = tj.function([x], x * 2.0, optimizer=None)
    assert str(g.explain()) == "no rewrite fired"


def test_fused_kernels_show_their_scalar_expression():
    a, b = tj.vector("a"), tj.vector("b")
    comp = composite_from_graph([a, b], tj.exp(-(a * a)) * b)
    x, y = tj.vector("x"), tj.vector("y")
    out = Elemwise(comp)(x, y)
    expr = comp.expression()
    assert "i0" in expr and "i1" in expr
    assert expr in tj.debugprint(out, file="str")
    g = to_networkx(out)
    (fused,) = [d for _, d in g.nodes(data=True) if d["kind"] == "fused"]
    assert expr in fused["label"]
    assert sorted(d["label"][:3] for *_, d in g.edges(data=True)
                  if d["label"].startswith("i")) == ["i0:", "i1:"]
    assert 'style="filled,bold"' in to_dot(out)


def test_optimized_training_graph_keeps_gradient_tags():
    f = training_function()
    nodes = f.fgraph.toposort()
    grad_nodes = [n for n in nodes if n.tag.get("created_by") == "grad"]
    assert grad_nodes and len(grad_nodes) < len(nodes)
    # Nodes that rewrites created inside the gradient inherited the tag.
    rewritten = {e.new.owner for e in f.rewrites if e.new.owner is not None}
    assert any(n in rewritten for n in grad_nodes)
    kinds = {d["kind"] for _, d in to_networkx(f).nodes(data=True)}
    assert {"grad_op", "op"} <= kinds
    assert "dashed" in to_dot(f)


def test_native_code_views_refuse_py_mode():
    f = training_function()
    for method in (f.llvm_ir, f.asm):
        with pytest.raises(ValueError, match="mode='py'.*mode='llvm'"):
            method()


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            return set(re.findall(r"\b(avx2|avx512f)\b", fh.read()))
    except OSError:
        return set()


@pytest.fixture(scope="module")
def native():
    x, y = tj.fvector("x"), tj.fvector("y")
    return tj.function([x, y], x * y + 1.0, mode="llvm", name="axpy")


def test_llvm_ir_of_one_kernel_or_all(native):
    names = kernel_names(native)
    assert names and all(re.fullmatch(r"k\d+_\w+", n) for n in names)
    whole = native.llvm_ir()
    for n in names:
        assert n in whole
    first = native.llvm_ir(names[0])
    assert first.startswith("define") and names[0] in first
    index = int(names[0][1:].split("_")[0])
    assert native.llvm_ir(index) == first
    assert "define" in native.llvm_ir(names[0], optimized=True)
    with pytest.raises(ValueError, match="no kernel 'nope'; the kernels are"):
        native.llvm_ir("nope")


def test_asm_of_float32_elementwise_kernel_uses_wide_vector_registers(native):
    if not _cpu_flags():
        pytest.skip("the CPU has neither avx2 nor avx512f")
    # (after fusion the elementwise kernel is a Composite)
    mul = [n for n in kernel_names(native) if "Elemwise" in n]
    assert mul, kernel_names(native)
    text = native.asm(mul[0])
    assert text.startswith(mul[0]) or mul[0] in text.splitlines()[0]
    assert re.search(r"%[yz]mm\d+", text), text[:2000]
    assert mul[0] in native.asm()
    np.testing.assert_allclose(native(np.ones(3, "float32"), np.full(3, 2, "float32")), 3.0)


def test_identical_consecutive_steps_print_once_with_a_count():
    x = tj.vector("x")
    f = tj.function([x], [x * 0.5, x + 0.5, x - 0.5])
    steps = f.explain()
    merges = [s for s in steps if s.rewrite == "merge_equal_constants"]
    assert len(merges) == 2
    assert "merge_equal_constants  (your line" in str(steps)
    assert str(steps).count("merge_equal_constants") == 1 and "(x2)" in str(steps)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_make_pictures_script_writes_the_readme_picture(tmp_path):
    root = pathlib.Path(__file__).parents[2]
    proc = subprocess.run([sys.executable, str(root / "docs" / "make_pictures.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(root)), timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    svg = (tmp_path / "mlp_training_graph.svg").read_text()
    assert "<svg" in svg and "update W1" in svg and "#fdd0a2" in svg  # gradient nodes
    text = (tmp_path / "mlp_training_graph.txt").read_text()
    assert "log_of_softmax_to_log_softmax" in text and "<- update of b2" in text
