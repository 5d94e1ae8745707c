"""The on-disk object-code cache: hits across processes, corruption, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tensorjit.codegen import cache

SCRIPT = textwrap.dedent("""
    import json, numpy as np, tensorjit as tj
    from tensorjit.codegen import cache
    x = tj.fvector("x")
    f = tj.function([x], x * 3.0 + 1.0, mode="llvm", optimizer=None)
    out = f(np.arange(4, dtype="float32")).tolist()
    print(json.dumps({"out": out, "info": cache.info()}))
""")


def run_child(cache_dir) -> dict:
    env = dict(os.environ, TENSORJIT_CACHE_DIR=str(cache_dir))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# x * 3 + 1 without rewrites: two kernels, plus the function's record (its segment
# entry) and its CPython entry (compiled apart, see compiler.compile_program)
ENTRIES = 4


def test_second_process_compiles_nothing(tmp_path):
    first = run_child(tmp_path)
    second = run_child(tmp_path)
    assert first["info"]["compiled"] == ENTRIES and first["info"]["writes"] == ENTRIES
    assert len(list(tmp_path.glob("*/*.tjo"))) == ENTRIES
    # the function's record names its kernels: found by the graph's structure, no IR made
    assert second["info"]["compiled"] == 0 and second["info"]["writes"] == 0
    assert second["info"]["hits"] == ENTRIES and second["info"]["misses"] == 0
    assert first["out"] == second["out"] == [1.0, 4.0, 7.0, 10.0]


def test_kernels_are_shared_between_functions(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORJIT_CACHE_DIR", str(tmp_path))
    import numpy as np

    import tensorjit as tj
    from tensorjit.codegen import compiler
    # kernels compiled by earlier tests in this process would be shared too: start empty
    monkeypatch.setattr(compiler, "_KERNELS", {})
    before = cache.STATS.compiled
    x, y = tj.dvector("x"), tj.dvector("y")
    f = tj.function([x, y], x * y, optimizer=None, name="f")
    g = tj.function([y, x], [y * x, x - y], optimizer=None, name="g")
    # f: its kernel and entry (two parts); g: one new kernel (x - y) and its entry; x * y
    # is shared
    assert cache.STATS.compiled - before == 6
    np.testing.assert_array_equal(g(np.array([2.0]), np.array([5.0]))[1], [3.0])
    np.testing.assert_array_equal(f(np.array([2.0]), np.array([5.0])), [10.0])


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_corrupt_entry_is_recompiled_not_loaded(tmp_path, damage):
    run_child(tmp_path)
    entries = list(tmp_path.glob("*/*.tjo"))
    assert len(entries) == ENTRIES
    for entry in entries:
        data = entry.read_bytes()
        if damage == "truncate":
            entry.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            entry.write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))
        else:
            entry.write_bytes(b"")
    again = run_child(tmp_path)
    # every entry read is found corrupt; the CPython entry's part is read only through
    # the function's record, itself corrupt, so it is rewritten unread
    assert again["info"]["corrupt"] == ENTRIES - 1 and again["info"]["writes"] == ENTRIES
    assert again["info"]["compiled"] == ENTRIES
    assert again["out"] == [1.0, 4.0, 7.0, 10.0]
    good = run_child(tmp_path)["info"]  # the rewritten entries are good
    assert good["hits"] == ENTRIES and good["compiled"] == 0


def test_each_corrupt_entry_alone_is_detected_and_rebuilt(tmp_path):
    """Whichever single entry is damaged (a kernel, the function's record, its CPython
    entry's part), the next process detects it, rebuilds and gets the right result."""
    run_child(tmp_path)
    for entry in sorted(tmp_path.glob("*/*.tjo")):
        entry.write_bytes(entry.read_bytes()[:-1])
        again = run_child(tmp_path)
        assert again["info"]["corrupt"] == 1, entry
        assert again["out"] == [1.0, 4.0, 7.0, 10.0]
        assert run_child(tmp_path)["info"]["compiled"] == 0  # whole again


def test_concurrent_processes_compiling_the_same_graph_both_succeed(tmp_path):
    env = dict(os.environ, TENSORJIT_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["out"] == [1.0, 4.0, 7.0, 10.0]
    assert len(list(tmp_path.glob("*/*.tjo"))) == ENTRIES
    assert not list(tmp_path.glob("*/.tmp-*"))  # no partial files left behind


def test_clear_and_info(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORJIT_CACHE_DIR", str(tmp_path))
    run_child(tmp_path)
    assert cache.info()["entries"] == ENTRIES
    assert cache.clear() == ENTRIES
    assert cache.info()["entries"] == 0


def test_unwritable_cache_dir_does_not_break_compilation(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TENSORJIT_CACHE_DIR", str(blocker))
    cache.store("ab" * 32, b"code", {"exports": ["f"]})
    assert cache.STATS.errors
