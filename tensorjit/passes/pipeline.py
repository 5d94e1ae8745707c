"""The optimization pipeline: the phases, in order, in one list.

    merge -> canonicalize -> stabilize -> specialize  (-> fuse -> plan memory, later)

``optimize(fg, optimizer, exclude)`` runs them on a FunctionGraph in place and returns
the list of ReplaceEvents (which rewrite replaced what, in which phase).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..graph.fg import FunctionGraph, GraphInvariantError, ReplaceEvent
from . import canonicalize, fuse, fuse_crossentropy, merge, specialize, stabilize
from .rewriter import Rewrite, run_local_rewrites

# A whole-graph pass: (fg, phase name) -> number of replacements.
GlobalPass = Callable[[FunctionGraph, str], int]


@dataclass(frozen=True)
class Phase:
    """A named step of the pipeline: whole-graph passes, then local rewrites."""

    name: str
    rewrites: tuple[Rewrite, ...] = ()
    global_passes: tuple[tuple[str, GlobalPass], ...] = field(default=())

    def names(self) -> list[str]:
        return [n for n, _ in self.global_passes] + [rw.name for rw in self.rewrites]


# Merging is cheap and the other phases match by identity (x / x cancels only if both
# are the same variable), so each phase starts by merging what the last one duplicated.
_MERGE = ((merge.MERGE_CONSTANTS, merge.merge_equal_constants),
          (merge.MERGE_NODES, merge.merge_duplicate_nodes))

PHASES: list[Phase] = [
    Phase("merge", global_passes=_MERGE),
    Phase("canonicalize", tuple(canonicalize.REWRITES)),
    Phase("stabilize", tuple(stabilize.REWRITES), global_passes=_MERGE),
    Phase("specialize", tuple(specialize.REWRITES), global_passes=_MERGE),
    Phase("fuse", global_passes=((fuse_crossentropy.FUSE_CROSSENTROPY_WITH_GRAD,
                                  fuse_crossentropy.fuse_crossentropy_with_grad),
                                 (fuse.FUSE_ELEMWISE, fuse.fuse_elemwise),
                                 (fuse.FUSE_INTO_REDUCTION, fuse.fuse_into_reduction))),
    # Phase("plan_memory", ...): buffer reuse and in-place ops, from the same issue.
]

# Which phases each optimizer runs. "stabilize_only" keeps the numerics (stabilize
# needs the canonical forms) and skips the rewrites that only buy speed.
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "fast_run": tuple(p.name for p in PHASES),
    "stabilize_only": ("merge", "canonicalize", "stabilize"),
}

# Tests switch this on (tests/passes/conftest.py); function() never changes it.
_VERIFY_AFTER_EACH_PHASE = False


def rewrite_names() -> list[str]:
    """Every name that ``exclude=`` accepts (the names printed in rewrite dumps)."""
    names: list[str] = []
    for phase in PHASES:
        names += [n for n in phase.names() if n not in names]
    return names


def optimize(fg: FunctionGraph, optimizer: str | None = "fast_run",
             exclude: Sequence[str] = (), verify: bool | None = None,
             on_phase: Callable[[str, FunctionGraph], None] | None = None,
             ) -> list[ReplaceEvent]:
    """Rewrite fg in place through the optimizer's phases; return the replacement log.

    Parameters
    ----------
    fg : the graph (function() passes its own clone).
    optimizer : "fast_run" (every phase), "stabilize_only" or None (no rewriting).
    exclude : names of rewrites not to run (see ``rewrite_names()``).
    verify : check graph invariants after every phase (default: off, on in tests).
    on_phase : called as ``on_phase(phase_name, fg)`` after each phase (function() uses
        it to keep a cheap snapshot of the graph per phase for ``Function.dump``).
    """
    if optimizer is None:
        return []
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimize(): unknown optimizer {optimizer!r}; expected one of "
                         f"{sorted(OPTIMIZERS)} or None")
    excluded = _check_exclude(exclude)
    check = _VERIFY_AFTER_EACH_PHASE if verify is None else verify
    start = len(fg.events)
    types = [v.type for v in fg.outputs]
    for phase in PHASES:
        if phase.name not in OPTIMIZERS[optimizer]:
            continue
        run_phase(fg, phase, excluded)
        if check:
            verify_graph(fg, types, phase.name)
        if on_phase is not None:
            on_phase(phase.name, fg)
    return fg.events[start:]


def run_phase(fg: FunctionGraph, phase: Phase, excluded: frozenset[str] = frozenset(),
              max_steps: int | None = None) -> int:
    """Run one phase's passes and local rewrites; return the number of replacements."""
    fg.phase = phase.name
    count = 0
    for name, fn in phase.global_passes:
        if name not in excluded:
            count += fn(fg, phase.name)
    rewrites = [rw for rw in phase.rewrites if rw.name not in excluded]
    if rewrites:
        count += run_local_rewrites(fg, phase.name, rewrites, max_steps=max_steps)
    return count


def _check_exclude(exclude: Sequence[str]) -> frozenset[str]:
    if isinstance(exclude, str):
        exclude = (exclude,)
    valid = rewrite_names()
    unknown = [n for n in exclude if n not in valid]
    if unknown:
        raise ValueError(f"exclude: unknown rewrite name(s) {unknown}; valid names are: "
                         f"{', '.join(valid)}")
    return frozenset(exclude)


def verify_graph(fg: FunctionGraph, output_types: Sequence, phase: str) -> None:
    """fg.verify() plus: every output kept a type compatible with the original."""
    try:
        fg.verify()
    except GraphInvariantError as exc:
        raise GraphInvariantError(f"after phase {phase!r}: {exc}") from exc
    for i, (v, t) in enumerate(zip(fg.outputs, output_types)):
        if not t.is_compatible(v.type):
            raise GraphInvariantError(f"after phase {phase!r}: output {i} changed type "
                                      f"from {t} to {v.type}")
