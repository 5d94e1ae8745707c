"""The rewrite engine: named local rewrites run to a fixed point over a worklist.

A rewrite is a function ``fn(fg, node) -> replacements | None`` registered with the op
classes it tracks (and, for Elemwise, optionally the ScalarOp classes). The engine
calls it on matching nodes, applies what it returns through ``fg.replace`` (so every
replacement is type-checked and recorded with the rewrite's name and phase), copies the
replaced node's source line and tags onto the nodes the rewrite created, reuses nodes
and constants the graph already has, and revisits only the nodes around a change.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..graph.basic import Apply, Constant, Variable
from ..graph.fg import FunctionGraph
from ..graph.ops.elemwise import Elemwise

Replacements = Sequence["Variable | None"]
RewriteFn = Callable[[FunctionGraph, Apply], "Replacements | None"]


class RewriteLoopError(RuntimeError):
    """Local rewrites kept firing past the iteration cap (they undo each other)."""


class RewriteError(RuntimeError):
    """A rewrite returned something the engine cannot apply."""


@dataclass(frozen=True)
class Rewrite:
    """A named local rewrite and the ops (and Elemwise scalar ops) it tracks."""

    name: str
    fn: RewriteFn = field(compare=False)
    tracks: tuple[type, ...]
    scalar_tracks: tuple[type, ...] = ()

    def __call__(self, fg: FunctionGraph, node: Apply) -> Replacements | None:
        return self.fn(fg, node)


def local_rewrite(*tracks: type, scalar: Iterable[type] = (),
                  name: str | None = None) -> Callable[[RewriteFn], Rewrite]:
    """Decorator: make ``fn`` a Rewrite named after it, tracking the given op classes.

    ``scalar`` restricts an Elemwise-tracking rewrite to those ScalarOp classes (and
    implies tracking Elemwise).
    """
    scalar = tuple(scalar)
    if scalar and Elemwise not in tracks:
        tracks = tracks + (Elemwise,)

    def make(fn: RewriteFn) -> Rewrite:
        rw = Rewrite(name or fn.__name__, fn, tuple(tracks), scalar)
        return rw

    return make


class Dispatch:
    """Maps a node to the rewrites that track its op (and scalar op)."""

    def __init__(self, rewrites: Sequence[Rewrite]) -> None:
        self.rewrites = list(rewrites)
        self._cache: dict[tuple[type, type | None], list[Rewrite]] = {}

    def for_node(self, node: Apply) -> list[Rewrite]:
        op_cls = type(node.op)
        scalar_cls = type(node.op.scalar_op) if isinstance(node.op, Elemwise) else None
        key = (op_cls, scalar_cls)
        found = self._cache.get(key)
        if found is None:
            found = [rw for rw in self.rewrites if _tracks(rw, op_cls, scalar_cls)]
            self._cache[key] = found
        return found


def _tracks(rw: Rewrite, op_cls: type, scalar_cls: type | None) -> bool:
    if not any(issubclass(op_cls, t) for t in rw.tracks):
        return False
    if rw.scalar_tracks and scalar_cls is not None and issubclass(op_cls, Elemwise):
        return any(issubclass(scalar_cls, s) for s in rw.scalar_tracks)
    return True


# --------------------------------------------------------------------------------------
# Applying one replacement


def new_nodes_of(fg: FunctionGraph, var: Variable) -> list[Apply]:
    """Nodes computing ``var`` that are not yet in the graph, inputs first."""
    order: list[Apply] = []
    seen: set[Apply] = set()
    stack: list[tuple[Apply, bool]] = []
    if var.owner is not None and var not in fg.variables:
        stack.append((var.owner, False))
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for inp in node.inputs:
            if inp.owner is not None and inp not in fg.variables and inp.owner not in seen:
                stack.append((inp.owner, False))
    return order


class GraphIndex:
    """Lets new nodes and constants reuse identical ones already in the graph."""

    def __init__(self, fg: FunctionGraph) -> None:
        self.fg = fg
        self.constants: dict[tuple, Constant] = {}
        for v in fg.variables:
            if isinstance(v, Constant):
                self.constants.setdefault(v.signature(), v)

    def existing_node(self, node: Apply) -> Apply | None:
        """A node of the graph with the same op and the same inputs, if any."""
        if not node.inputs:
            return None
        for client, _ in self.fg.clients.get(node.inputs[0], ()):
            if client == "output" or client is node or client.op != node.op:
                continue
            if len(client.inputs) == len(node.inputs) and all(
                    a is b for a, b in zip(client.inputs, node.inputs)):
                return client
        return None

    def dedupe(self, new: Variable, nodes: list[Apply]) -> tuple[Variable, list[Apply]]:
        """Rewire new nodes onto existing constants/nodes; return new var and kept nodes."""
        memo: dict[Variable, Variable] = {}
        kept: list[Apply] = []
        for node in nodes:
            for i, inp in enumerate(node.inputs):
                node.inputs[i] = self._shared(memo.get(inp, inp))
            twin = self.existing_node(node)
            if twin is not None and all(a.type == b.type for a, b in
                                        zip(node.outputs, twin.outputs)):
                memo.update(zip(node.outputs, twin.outputs))
            else:
                kept.append(node)
        return self._shared(memo.get(new, new)), kept

    def _shared(self, v: Variable) -> Variable:
        if isinstance(v, Constant) and v not in self.fg.variables:
            return self.constants.setdefault(v.signature(), v)
        return v


def apply_replacement(fg: FunctionGraph, index: GraphIndex, old: Variable, new: Variable,
                      reason: str, phase: str) -> list[Apply]:
    """Replace old by new in fg with provenance; return the nodes that were added."""
    nodes = new_nodes_of(fg, new)
    new, nodes = index.dedupe(new, nodes)
    if new is old:
        return []
    for node in nodes:
        if any(inp is old for inp in node.inputs):
            raise RewriteError(f"rewrite {reason} returned a replacement for {old!r} that "
                               f"depends on {old!r} itself (a cycle)")
    origin = old.owner
    fg.replace(old, new, reason=reason, phase=phase)
    if origin is not None:
        _inherit_provenance(origin, nodes, old)
    return nodes


def _inherit_provenance(origin: Apply, nodes: list[Apply], old: Variable) -> None:
    """New nodes take the replaced node's user line and tags (e.g. created_by=grad)."""
    for node in nodes:
        if origin.source_line:
            node.source_line = origin.source_line
        for key, value in origin.tag.items():
            node.tag.setdefault(key, value)
        for out in node.outputs:
            if origin.source_line:
                out.source_line = origin.source_line
    if nodes and old.name:
        last = nodes[-1].outputs
        for out in last:
            if out.name is None:
                out.name = old.name


# --------------------------------------------------------------------------------------
# The fixed-point loop


def default_step_cap(fg: FunctionGraph) -> int:
    """Generous cap on replacements in one phase: a loop, not real work, exceeds it."""
    return 1000 + 50 * len(fg.apply_nodes)


def run_local_rewrites(fg: FunctionGraph, phase: str, rewrites: Sequence[Rewrite],
                       max_steps: int | None = None) -> int:
    """Apply the rewrites to a fixed point; return how many replacements were made."""
    dispatch = Dispatch(rewrites)
    index = GraphIndex(fg)
    cap = default_step_cap(fg) if max_steps is None else max_steps
    queue: deque[Apply] = deque(fg.toposort())
    queued: set[Apply] = set(queue)
    recent: deque[str] = deque(maxlen=200)
    fired: Counter[str] = Counter()
    steps = 0
    while queue:
        node = queue.popleft()
        queued.discard(node)
        if node not in fg.apply_nodes:
            continue
        for rw in dispatch.for_node(node):
            outcome = _try_rewrite(fg, index, node, rw, phase)
            if outcome is None:
                continue
            steps += 1
            fired[rw.name] += 1
            recent.append(rw.name)
            if steps > cap:
                raise RewriteLoopError(_loop_message(phase, cap, recent, fired))
            _enqueue(fg, queue, queued, *outcome, node)
            break
    return steps


def _try_rewrite(fg: FunctionGraph, index: GraphIndex, node: Apply, rw: Rewrite,
                 phase: str) -> tuple[list[Apply], list[Variable]] | None:
    """Run one rewrite on one node; None if it did not fire or changed nothing."""
    result = rw(fg, node)
    if result is None:
        return None
    if isinstance(result, Variable) or len(result) != len(node.outputs):
        raise RewriteError(f"rewrite {rw.name} must return a list with one entry per "
                           f"output of {node.op} ({len(node.outputs)}), got {result!r}")
    added: list[Apply] = []
    targets: list[Variable] = []
    for old, new in zip(list(node.outputs), result):
        if new is None or new is old or old not in fg.variables:
            continue
        if not isinstance(new, Variable):
            raise RewriteError(f"rewrite {rw.name} returned {new!r}, not a Variable")
        before = len(fg.events)
        added += apply_replacement(fg, index, old, new, rw.name, phase)
        if len(fg.events) > before:
            targets.append(fg.events[-1].new)
    return (added, targets) if targets else None


def _enqueue(fg: FunctionGraph, queue: deque[Apply], queued: set[Apply],
             added: list[Apply], targets: list[Variable], node: Apply) -> None:
    """Revisit the new nodes, the node itself if alive, and the users of the results."""
    touched = list(added)
    if node in fg.apply_nodes:
        touched.append(node)
    for v in targets:
        touched += [client for client, _ in fg.clients.get(v, ()) if client != "output"]
    for n in touched:
        if n not in queued and n in fg.apply_nodes:
            queue.append(n)
            queued.add(n)


def _loop_message(phase: str, cap: int, recent: Iterable[str], fired: Counter) -> str:
    looping = Counter(recent).most_common()
    names = ", ".join(f"{name} ({n} of the last {sum(c for _, c in looping)})"
                      for name, n in looping)
    total = ", ".join(f"{name}: {n}" for name, n in fired.most_common(5))
    return (f"phase {phase!r}: local rewrites did not reach a fixed point after {cap} "
            f"replacements; the rewrites that kept firing were {names} (totals: {total}). "
            f"Exclude one of them with function(..., exclude=(name,)) and report a bug")
