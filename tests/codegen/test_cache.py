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


def test_second_process_compiles_nothing(tmp_path):
    first = run_child(tmp_path)
    second = run_child(tmp_path)
    assert first["info"]["misses"] == 1 and first["info"]["writes"] == 1
    assert second["info"]["hits"] == 1 and second["info"]["writes"] == 0
    assert first["out"] == second["out"] == [1.0, 4.0, 7.0, 10.0]


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_corrupt_entry_is_recompiled_not_loaded(tmp_path, damage):
    run_child(tmp_path)
    (entry,) = list(tmp_path.glob("*/*.tjo"))
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        entry.write_bytes(data[:-10] + bytes(b ^ 0xFF for b in data[-10:]))
    else:
        entry.write_bytes(b"")
    again = run_child(tmp_path)
    assert again["info"]["corrupt"] == 1 and again["info"]["writes"] == 1
    assert again["out"] == [1.0, 4.0, 7.0, 10.0]
    assert run_child(tmp_path)["info"]["hits"] == 1  # the rewritten entry is good


def test_concurrent_processes_compiling_the_same_graph_both_succeed(tmp_path):
    env = dict(os.environ, TENSORJIT_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["out"] == [1.0, 4.0, 7.0, 10.0]
    assert len(list(tmp_path.glob("*/*.tjo"))) == 1
    assert not list(tmp_path.glob("*/.tmp-*"))  # no partial files left behind


def test_clear_and_info(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORJIT_CACHE_DIR", str(tmp_path))
    run_child(tmp_path)
    assert cache.info()["entries"] == 1
    assert cache.clear() == 1
    assert cache.info()["entries"] == 0


def test_unwritable_cache_dir_does_not_break_compilation(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TENSORJIT_CACHE_DIR", str(blocker))
    cache.store("ab" * 32, b"code", ["f"])
    assert cache.STATS.errors
