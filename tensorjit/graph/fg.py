"""FunctionGraph: a graph cut out between chosen inputs and outputs, with clients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from .basic import Apply, Constant, SharedVariable, Variable, graph_inputs, toposort

if TYPE_CHECKING:
    import networkx as nx

# A client is (node, input position); the pseudo-node "output" marks a graph output.
Client = tuple[Any, int]


@dataclass
class ReplaceEvent:
    """One recorded replacement: which rewrite, in which phase, what was replaced."""

    rewrite: str
    phase: str
    old: Variable
    new: Variable
    node_str: str
    source_line: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class GraphInvariantError(AssertionError):
    """A FunctionGraph's internal bookkeeping is inconsistent (a bug in a rewrite)."""


class FunctionGraph:
    """Inputs, outputs and the nodes between them, with each variable's clients.

    The graph owns its nodes: the constructor clones the subgraph (unless clone=False)
    so rewrites never touch the user's variables. ``memo`` maps user variables to ours.
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 clone: bool = True) -> None:
        inputs = list(inputs)
        outputs = list(outputs)
        self.memo: dict[Variable, Variable] = {}
        if clone:
            inputs, outputs = self._clone(inputs, outputs)
        self.inputs: list[Variable] = inputs
        self.outputs: list[Variable] = outputs
        self.clients: dict[Variable, list[Client]] = {}
        self.apply_nodes: set[Apply] = set()
        self.variables: set[Variable] = set()
        self.events: list[ReplaceEvent] = []
        self.phase: str = "input"
        for v in inputs:
            self._add_variable(v)
        for node in toposort(outputs, blockers=inputs):
            self._import_node(node)
        for i, out in enumerate(outputs):
            self._add_variable(out)
            self.clients[out].append(("output", i))
        self._check_inputs_cover()

    # -- construction
    def _clone(self, inputs: list[Variable], outputs: list[Variable]):
        memo = self.memo
        for v in inputs:
            memo[v] = v if isinstance(v, SharedVariable) else _clone_leaf(v)
        for node in toposort(outputs, blockers=inputs):
            new_inputs = []
            for v in node.inputs:
                if v not in memo:
                    memo[v] = v if isinstance(v, (SharedVariable, Constant)) else _clone_leaf(v)
                new_inputs.append(memo[v])
            new_node = Apply(node.op, new_inputs, [o.type for o in node.outputs])
            new_node.source_line = node.source_line
            new_node.tag = dict(node.tag)
            for old, new in zip(node.outputs, new_node.outputs):
                new.name, new.source_line, new.tag = old.name, old.source_line, dict(old.tag)
                memo[old] = new
        for v in outputs:
            if v not in memo:  # an output that is a leaf (constant or shared) or input
                memo[v] = v if isinstance(v, (SharedVariable, Constant)) else _clone_leaf(v)
        return [memo[v] for v in inputs], [memo[v] for v in outputs]

    def _add_variable(self, v: Variable) -> None:
        if v not in self.variables:
            self.variables.add(v)
            self.clients.setdefault(v, [])

    def _import_node(self, node: Apply) -> None:
        if node in self.apply_nodes:
            return
        self.apply_nodes.add(node)
        for i, v in enumerate(node.inputs):
            self._add_variable(v)
            self.clients[v].append((node, i))
        for out in node.outputs:
            self._add_variable(out)

    def _check_inputs_cover(self) -> None:
        inputs = set(self.inputs)
        for leaf in graph_inputs(self.outputs, blockers=self.inputs):
            if leaf in inputs or isinstance(leaf, (Constant, SharedVariable)):
                continue
            raise MissingInputError(
                f"the outputs depend on {leaf.describe()}, which is not among the inputs "
                f"{[v.name or str(v) for v in self.inputs]}; pass it to function() or "
                f"replace it with givens=")

    # -- queries
    def toposort(self) -> list[Apply]:
        return toposort(self.outputs, blockers=self.inputs)

    def shared_variables(self) -> list[SharedVariable]:
        return [v for v in self.variables if isinstance(v, SharedVariable)]

    def to_networkx(self) -> nx.DiGraph:
        """A DiGraph of Apply nodes and variables (edges follow data flow)."""
        import networkx as nx  # here: a ~0.1 s import that only this needs
        g = nx.DiGraph()
        for node in self.apply_nodes:
            for v in node.inputs:
                g.add_edge(v, node)
            for v in node.outputs:
                g.add_edge(node, v)
        return g

    # -- mutation
    def replace(self, old: Variable, new: Variable, reason: str = "",
                phase: str | None = None, check_type: bool = True) -> None:
        """Make every client of ``old`` use ``new`` instead, and record why."""
        if old not in self.variables:
            raise ValueError(f"replace(): {old!r} is not in this graph")
        if check_type and not old.type.is_compatible(new.type):
            raise TypeError(
                f"rewrite {reason or '?'} tried to replace {old!r} of type {old.type} with "
                f"{new!r} of type {new.type}; a replacement must keep the dtype and agree "
                f"with every static dimension")
        if old is new:
            return
        self.events.append(ReplaceEvent(
            rewrite=reason, phase=phase or self.phase, old=old, new=new,
            node_str=str(old.owner.op) if old.owner else repr(old),
            source_line=old.owner.source_line if old.owner else old.source_line))
        for node in toposort([new], blockers=list(self.variables)):
            self._import_node(node)
        self._add_variable(new)
        for client, pos in list(self.clients[old]):
            if client == "output":
                self.outputs[pos] = new
            else:
                client.inputs[pos] = new
            self.clients[new].append((client, pos))
        self.clients[old] = []
        self._prune_dead(old)

    def _prune_dead(self, start: Variable) -> None:
        """Drop what no longer reaches an output now that ``start`` lost its clients:
        only its ancestors can have died, so walk up from it (a full toposort per
        replacement made rewriting quadratic in the graph's size)."""
        stack = [start]
        while stack:
            v = stack.pop()
            if v not in self.variables or self.clients.get(v):
                continue
            node = v.owner
            if node is None:
                if v not in self.inputs:
                    self.variables.discard(v)
                    self.clients.pop(v, None)
                continue
            if node not in self.apply_nodes or any(self.clients.get(o) for o in node.outputs):
                continue
            self.apply_nodes.discard(node)
            for out in node.outputs:
                self.variables.discard(out)
                self.clients.pop(out, None)
            for i, inp in enumerate(node.inputs):
                cl = self.clients.get(inp)
                if cl is not None and (node, i) in cl:
                    cl.remove((node, i))
                stack.append(inp)

    # -- checks
    def verify(self) -> None:
        """Check types, acyclicity and client bookkeeping; raise GraphInvariantError."""
        order = self.toposort()
        if set(order) != self.apply_nodes:
            raise GraphInvariantError("apply_nodes does not match the nodes reachable "
                                      "from the outputs")
        seen: set[Variable] = set(self.inputs)
        for node in order:
            for i, v in enumerate(node.inputs):
                if v.owner is None and v not in seen and not isinstance(
                        v, (Constant, SharedVariable)):
                    raise GraphInvariantError(f"{node.op} input {i} is a foreign leaf {v!r}")
                if (node, i) not in self.clients.get(v, []):
                    raise GraphInvariantError(f"clients of {v!r} miss ({node.op}, {i})")
                seen.add(v)
            for j, out in enumerate(node.outputs):
                if out.owner is not node or out.index != j:
                    raise GraphInvariantError(f"{node.op} output {j} has a wrong owner")
                seen.add(out)
        for v, cl in self.clients.items():
            for client, pos in cl:
                if client == "output":
                    if self.outputs[pos] is not v:
                        raise GraphInvariantError(f"output {pos} bookkeeping is wrong")
                elif client.inputs[pos] is not v:
                    raise GraphInvariantError(f"stale client ({client.op}, {pos}) of {v!r}")

    def __repr__(self) -> str:
        return (f"FunctionGraph({len(self.inputs)} inputs, {len(self.outputs)} outputs, "
                f"{len(self.apply_nodes)} nodes)")


class MissingInputError(ValueError):
    """An output depends on a free variable that is not an input."""


def _clone_leaf(v: Variable) -> Variable:
    c = v.clone()
    c.source_line = v.source_line
    return c
