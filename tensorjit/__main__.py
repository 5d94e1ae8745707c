"""Command line: ``python -m tensorjit show script.py:function_name --out graph.svg``.

The named function (called with no arguments) returns a compiled Function, a Variable
or a list of Variables; ``show`` renders it (.svg/.png/.pdf/.dot/.html), prints its
debugprint tree (``--text``) or, for a Function, the rewrites that fired (``--explain``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any


def load_target(target: str) -> Any:
    """Import ``script.py`` (not as __main__) and call its ``function_name()``."""
    path, sep, func_name = target.rpartition(":")
    if not sep or not path or not func_name:
        raise SystemExit(f"show: expected SCRIPT.py:FUNCTION, got {target!r}")
    if not os.path.isfile(path):
        raise SystemExit(f"show: no such file {path!r}")
    name = "_tensorjit_show_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise SystemExit(f"show: {path} has no function {func_name!r}")
    return func()


def show(args: argparse.Namespace) -> int:
    """Render, print or explain the graph the target returns."""
    import tensorjit as tj

    obj = load_target(args.target)
    if not (args.out or args.text or args.explain):
        args.text = True
    if args.text:
        tj.debugprint(obj, file=sys.stdout, ids=args.ids)
    if args.explain:
        if not hasattr(obj, "explain"):
            raise SystemExit("show: --explain needs the function to return a compiled "
                             "tj.function, not variables")
        obj.explain(show=True)
    if args.out:
        tj.render(obj, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tensorjit``."""
    parser = argparse.ArgumentParser(prog="python -m tensorjit",
                                     description="Look at tensorjit graphs.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("show", help="picture or text of the graph a script builds")
    p.add_argument("target", help="SCRIPT.py:FUNCTION (called with no arguments; returns "
                                  "a compiled function, a Variable or a list of them)")
    p.add_argument("--out", help="write a picture: .svg, .png, .pdf, .dot or .html")
    p.add_argument("--text", action="store_true", help="print the debugprint tree")
    p.add_argument("--explain", action="store_true",
                   help="print the rewrites that fired (compiled functions only)")
    p.add_argument("--ids", default="short", choices=("short", "all", "none"),
                   help="debugprint node ids (default: short)")
    args = parser.parse_args(argv)
    return show(args)


if __name__ == "__main__":
    sys.exit(main())
