"""Partial-order reduction: explore only a *persistent* subset of the enabled actions per state.

When two actions touch disjoint state (one's writes meet neither the reads nor the writes of the
other), executing them in either order gives the same state, so a search need not try both
orders. :func:`por_check` is a breadth-first search over ``Compiled.successors`` that, in each
state, follows an *ample set* of actions instead of all enabled ones. It is slower per state
than :func:`itsrace.engine.explore.search.check` (the choice is made in Python, per state) but may store
far fewer states on models made of loosely coupled processes.

Dependency
----------
Two action instances are *dependent* when they write a common slot, or one writes a slot the
other reads (slot sets computed by the compiler from the action code, guards included; a
dynamic index counts as every element it may touch). Independent actions commute, and neither
enables, disables nor changes the other's outcome, including a failed ``check``. Steps of one
level-2 process are always dependent: they all read and write its pc. Refinement (a value
analysis of the translated code, :class:`_Facts`): a read that only compares a slot with
constants (``fork[2] != 1``) is not affected by a write whose old and new values both differ
from them, as with the lock-discipline checks of level 2, which read every lock.

Ample sets (conditions C0-C3)
-----------------------------
The ample set of a state ``s`` is ``T & enabled(s)`` for a *stubborn* set ``T`` built by
closure from one enabled seed action:

* an enabled member brings in every action dependent on it (enabled or not);
* a disabled member brings in a *necessary enabling set*: the actions that can make the first
  false conjunct of its guard true (``require(a and b)`` and successive leading requires
  are split into conjuncts; for ``x == C`` only the writers that may write ``C``, so a level-2
  step that is not at its pc brings in only the step that jumps there). Without a false
  leading conjunct, every action that may change what it reads.

Every seed is tried; the smallest ample set wins. Then:

* **C0** the ample set is empty only if no action is enabled (the seed is enabled);
* **C1** (persistence) along any path from ``s`` that avoids the ample set, no action in ``T``
  can fire (a disabled member needs one of its enablers, all in ``T``), so every action on the
  path is independent of the ample actions;
* **C2** (visibility) if the ample set contains a *visible* action, the state is fully
  expanded. Visible actions may change what an invariant reads, or, when the model has a
  quiescence predicate and final properties, what either of those reads. An ample action
  whose ``check`` fails in ``s`` also forces full expansion;
* **C3'** (cycle proviso) every cycle of the reduced graph contains a fully expanded state.
  ``proviso="graph"`` (default) explores with ample sets, then searches the graph of partially
  expanded states depth-first: every cycle of a directed graph has a back edge of any DFS, so
  expanding the sources of back edges fully breaks every such cycle; exploration continues
  from what that adds, until no cycle is left. ``proviso="depth"`` decides on the fly: a state
  is expanded fully when an ample successor is already known at a depth no greater than its
  own (in breadth-first order every edge goes at most one level deeper, so every cycle has such
  an edge). The DFS-stack proviso has no stack to refer to in a breadth-first search, and the
  weaker "one successor is new" rule does not by itself give C3'.

What is preserved
-----------------
With C0-C3 every property kind the engine checks is preserved (the same set of violated
properties as the unreduced search):

* **invariants**: a violating state reachable by a path ``w`` is reached in the reduced graph,
  by the usual argument: an ample action occurring in ``w`` can be moved to the front; if none
  occurs, an invisible ample action can be prepended and the violation survives because the
  action cannot change what the invariant reads; C3' bounds how often the second case repeats;
* **assertions** (failed ``check``) and **domain errors**: the driver computes *all* successors
  of every state it visits, so a failing action is caught in any visited state where it is
  enabled with the same reads; the argument above (an action's outcome depends on its reads
  only) reaches such a state without making anything visible;
* **deadlocks** and **final properties at terminal states**: persistent sets preserve every
  reachable terminal state exactly (C0 + C1);
* **final properties at quiescent states**: via visibility, as for invariants.

Counterexamples are real runs and replay on the unreduced model, but they are shortest only in
the reduced graph (usually short, not always minimal).

Sleep sets
----------
``por_check(model, ample=False, sleep=True)``: every state is expanded fully, but an action is
not followed from a state where it is *asleep*. Actions are followed in index order; the
successor by ``k`` of a state with sleep set ``Z`` and followed set ``F`` gets
``(Z | {j in F : j < k}) & independent(k)``: if ``j`` was (or will be) followed here and
commutes with ``k``, then ``j`` then ``k`` reaches the same state as ``k`` then ``j``, so the
second order need not be tried. A state reached again keeps the intersection of its sleep
sets; if that shrinks after it was expanded, it is followed again with the smaller set, so the
result does not depend on the order in which paths arrive. This visits every reachable state
(so it preserves every property kind) and follows fewer transitions; the driver still computes
every successor (failed checks are seen in every visited state).

Sleep sets are *not* combined with ample sets. The naive combination is unsound with the
cycle proviso, and the soundness tests found a counterexample: three independent processes,
one looping forever (``P1``), one whose third step fails a check (``P2``). A state on ``P1``'s
loop is fully expanded by the proviso and follows ``P2``'s first step with ``P1``'s step asleep,
relying on the other order (``P1``'s step, then ``P2``'s) being explored from the next state
of the loop. But that state is partially expanded with ample set ``{P1_0}``, and the state after
``P2``'s first step has ample set ``{P1_1}``, which is asleep there: no order reaches ``P2``'s
later steps, and the failing check is missed. ``por_check`` refuses ``ample=True, sleep=True``.

Symmetry
--------
``canon`` (a canonicaliser from :mod:`itsrace.engine.reduce.symmetry`) may be combined with POR: the
ample set is computed in the stored (canonical) state and its successors are canonicalised.
For a symmetric model (see :func:`itsrace.engine.reduce.symmetry.validate_symmetry`) permutations map
actions to actions and preserve dependency and visibility, so the reduced quotient graph
unfolds into a reduced graph of the full model satisfying C0-C3 (a cycle of the unfolding maps
to a closed walk of the quotient graph, which contains a fully expanded state). This holds for
the fast (non-canonical) canonicaliser as well.
"""

from __future__ import annotations

import ast
import copy
import resource
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsrace.engine.errors import ModelError
from itsrace.engine.explore.search import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Limits,
    Result,
    Stats,
    Violation,
)
from itsrace.engine.explore.search import _violation as _search_violation
from itsrace.engine.explore.search import check as check_model
from itsrace.engine.explore.visited import fingerprint_collision_probability
from itsrace.engine.lang.compile import ActionInstance, Compiled, _ixp, _lk, compile_model
from itsrace.engine.lang.layout import Layout
from itsrace.engine.lang.model import ActionDef, Model, PropertyDef
from itsrace.engine.lang.translate import (
    Namespace,
    Translator,
    translate_action,
    translate_predicate,
)
from itsrace.engine.reduce import symmetry as sym

Canon = Callable[[int], int]


def _ix(i: int, n: int) -> int:
    """Index check used by generated code (same contract as the compiler's)."""
    if type(i) is not int and type(i) is not bool:
        raise TypeError(f"index {i!r} is not an integer")
    if not 0 <= i < n:
        raise IndexError(f"index {i} out of range 0..{n - 1}")
    return i


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


# -- static analysis -------------------------------------------------------------------------------


def _translator(layout: Layout, ns: Namespace, owner: ActionDef | PropertyDef, binding: dict[str, Any],
                prefix: str) -> Translator:
    def where(node: ast.AST | None) -> str:
        line = getattr(node, "lineno", None) if node is not None else None
        return f"{owner.filename}:{(line or 1) + owner.line_offset}"

    return Translator(layout, ns, owner.state_name, owner.env, binding, where, prefix, lambda name, node: 0,
                      lock_owner=getattr(owner, "lock_owner", None))


def _translated_predicate(layout: Layout, prop: PropertyDef) -> tuple[frozenset[int], list[ast.AST]]:
    tr = _translator(layout, Namespace(), prop, {}, "P_")
    expr, lines = translate_predicate(tr, prop.body)
    trees: list[ast.AST] = []
    try:
        trees.append(ast.parse(expr, mode="eval") if expr is not None else ast.parse("\n".join(lines) or "pass"))
    except SyntaxError:
        pass
    return frozenset(tr.reads), trees


def predicate_reads(layout: Layout, prop: PropertyDef) -> frozenset[int]:
    """Slots a predicate (invariant, final, quiescence) reads, as the compiler sees them."""
    return _translated_predicate(layout, prop)[0]


def _conjuncts(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        out: list[ast.expr] = []
        for v in node.values:
            out.extend(_conjuncts(v))
        return out
    return [node]


def _leading_conjuncts(action: ActionDef) -> list[ast.expr]:
    out: list[ast.expr] = []
    for stmt in action.body:
        if not Translator.is_require(stmt):
            break
        out.extend(_conjuncts(stmt.value.args[0]))  # type: ignore[attr-defined]
    return out


# -- value analysis ------------------------------------------------------------------------------
# A read that only *compares* a slot with constants (``fork[2] != 1``, ``pc == 3``) cannot be
# affected by a write whose old and new values both differ from those constants. The lock
# discipline checks of level-2 models read every lock that way, and without this refinement
# every lock operation would depend on every other one.

Cmp = frozenset[int] | None  # constants a slot is compared with (None: used some other way)


def _slot_name(node: ast.AST, slot_of: dict[str, int]) -> int | None:
    if isinstance(node, ast.Name) and node.id[:2] in ("S_", "W_"):
        return slot_of.get(node.id[2:])
    return None


def _const_of(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, bool)):
        return int(node.value)
    return None


def _comparison(node: ast.AST, slot_of: dict[str, int]) -> tuple[int, bool, int] | None:
    """``(slot, is_eq, C)`` for ``x == C``, ``x != C`` (either side); else None."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq))):
        return None
    left, right = node.left, node.comparators[0]
    for x, y in ((left, right), (right, left)):
        k, value = _slot_name(x, slot_of), _const_of(y)
        if k is not None and value is not None:
            return k, isinstance(node.ops[0], ast.Eq), value
    return None


def _compared_reads(trees: list[ast.AST], slot_of: dict[str, int]) -> dict[int, Cmp]:
    """For every slot loaded in ``trees``: the constants it is compared with, or None when some
    load is not such a comparison."""
    out: dict[int, set[int] | None] = {}
    for tree in trees:
        parent: dict[int, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parent[id(child)] = node
        for node in ast.walk(tree):
            k = _slot_name(node, slot_of)
            if k is None or not isinstance(getattr(node, "ctx", None), ast.Load):
                continue
            cmp = _comparison(parent.get(id(node), node), slot_of)
            cur = out.get(k, set())
            if cmp is None or cmp[0] != k or cur is None:
                out[k] = None
            else:
                cur.add(cmp[2])
                out[k] = cur
    return {k: (frozenset(v) if v is not None else None) for k, v in out.items()}


@dataclass
class _Facts:
    """What one action instance does to each slot, as far as a syntactic scan can tell."""

    reads: dict[int, Cmp]  # slot -> compared constants (None: other use)
    pre_allowed: dict[int, frozenset[int]]  # slot -> values it must have when the action fires
    pre_excluded: dict[int, frozenset[int]]  # slot -> values it cannot have when the action fires
    post: dict[int, frozenset[int] | None]  # written slot -> constant values written (None: unknown)

    def keeps(self, k: int, constants: Cmp) -> bool:
        """Does firing this action leave every ``x == C`` (C in ``constants``) unchanged for slot
        ``k``? True when both the old and the new value of ``k`` are known to differ from each C."""
        if constants is None:
            return False
        post = self.post.get(k)
        if post is None:
            return False
        allowed = self.pre_allowed.get(k)
        excluded = self.pre_excluded.get(k, frozenset())
        for value in constants:
            if value in post:
                return False
            if not (value in excluded or (allowed is not None and value not in allowed)):
                return False
        return True


def _pre_constraints(conds: list[ast.expr], slot_of: dict[str, int], allowed: dict[int, set[int]],
                     excluded: dict[int, set[int]]) -> None:
    for cond in conds:
        for conj in _conjuncts(cond):
            cmp = _comparison(conj, slot_of)
            if cmp is None:
                continue
            k, eq, value = cmp
            if eq:
                allowed[k] = allowed[k] & {value} if k in allowed else {value}
            else:
                excluded.setdefault(k, set()).add(value)


def _stores(stmt: ast.AST, slot_of: dict[str, int]) -> set[int]:
    out = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            k = _slot_name(node, slot_of)
            if k is not None:
                out.add(k)
    return out


def _action_facts(c: Compiled, ns: Namespace, slot_of: dict[str, int]) -> list[_Facts]:
    layout = c.layout
    out: list[_Facts] = []
    for inst in c.actions:
        def factory(inst: ActionInstance = inst) -> Translator:
            return _translator(layout, ns, inst.action, inst.binding, f"V{inst.index}_")

        try:
            tr = translate_action(factory, inst.action.body)
            guard = ast.parse(tr.guard_expr, mode="eval").body
            body = ast.parse("\n".join(tr.body) or "pass").body
        except (ModelError, SyntaxError):
            out.append(_Facts({k: None for k in inst.reads}, {}, {}, {k: None for k in inst.writes}))
            continue
        reads = _compared_reads([guard, *body], slot_of)
        for k in inst.reads:  # a read the scan did not see: assume any use
            reads.setdefault(k, None)
        allowed: dict[int, set[int]] = {}
        excluded: dict[int, set[int]] = {}
        _pre_constraints([guard], slot_of, allowed, excluded)
        # top-level checks and requires before the first write of a slot also constrain it:
        # a transition that has a successor passed them ("if not cond: raise ...")
        written: set[int] = set()
        for stmt in body:
            if (isinstance(stmt, ast.If) and not stmt.orelse and len(stmt.body) == 1
                    and isinstance(stmt.body[0], ast.Raise) and isinstance(stmt.test, ast.UnaryOp)
                    and isinstance(stmt.test.op, ast.Not)):
                a: dict[int, set[int]] = {}
                e: dict[int, set[int]] = {}
                _pre_constraints([stmt.test.operand], slot_of, a, e)
                for k, v in a.items():
                    if k not in written:
                        allowed[k] = allowed[k] & v if k in allowed else v
                for k, v in e.items():
                    if k not in written:
                        excluded.setdefault(k, set()).update(v)
            written |= _stores(stmt, slot_of)
        post: dict[int, set[int] | None] = {}
        for stmt in body:
            for node in ast.walk(stmt):
                targets: list[ast.expr] = []
                if isinstance(node, ast.Assign):
                    targets = list(node.targets)
                elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                    targets = [node.target]
                for tgt in targets:
                    for name in ast.walk(tgt):
                        slot = _slot_name(name, slot_of)
                        if slot is None or not isinstance(getattr(name, "ctx", None), ast.Store):
                            continue
                        value = _const_of(node.value) if isinstance(node, ast.Assign) and tgt is name else None
                        cur = post.get(slot, set())
                        if cur is None or value is None:
                            post[slot] = None
                        else:
                            cur.add(value)
                            post[slot] = cur
        for k in inst.writes:  # a write the scan did not see: assume anything
            post.setdefault(k, None)
        out.append(_Facts(
            reads,
            {k: frozenset(v) for k, v in allowed.items()},
            {k: frozenset(v) for k, v in excluded.items()},
            {k: (frozenset(v) if v is not None else None) for k, v in post.items()},
        ))
    return out


def _affecting(cmps: dict[int, Cmp], writers: list[int], facts: list[_Facts], exclude: int = -1) -> int:
    """Bitmask of the actions whose writes may change something read as ``cmps`` describes."""
    mask = 0
    for k, constants in cmps.items():
        for w in _bits(writers[k]):
            if w != exclude and not facts[w].keeps(k, constants):
                mask |= 1 << w
    return mask


def _extract_line(layout: Layout, k: int) -> str:
    sl = layout.slots[k]
    expr = f"(s >> {sl.off}) & {sl.mask}" if sl.off else f"s & {sl.mask}"
    if sl.lo:
        expr = f"(({expr}) + {sl.lo})"
    return f"S_{sl.ident} = {expr}"


@dataclass
class PorInfo:
    """Static data for ample-set computation, derived once per compiled model.

    ``dep[a]`` is the bitmask of actions dependent on ``a``; ``visible`` the bitmask of visible
    actions; ``nes[a](s)`` the bitmask of a necessary enabling set of ``a`` in a state where it
    is disabled; ``visible_slots`` the slots whose writers are visible; ``source`` the
    generated NES code.
    """

    compiled: Compiled
    dep: list[int]
    visible: int
    visible_slots: frozenset[int]
    nes: list[Callable[[int], int]]
    coarse: list[int]
    source: str

    def candidates(self, s: int, enabled: int, errors: int, smallest_only: bool = False) -> list[int]:
        """Proper ample sets (bitmasks) for state ``s``, smallest first, satisfying C0-C2;
        empty when only full expansion is possible. The driver picks one that also satisfies
        the cycle proviso (C3). ``smallest_only`` returns at most the smallest one (and prunes
        closures that grow past it, which is much cheaper)."""
        bad = self.visible | errors
        cand = enabled & ~bad
        if not cand or enabled & (enabled - 1) == 0:
            return []
        dep = self.dep
        nes = self.nes
        found: list[int] = []
        cache: dict[int, int] = {}
        done: dict[int, int] = {}  # seed -> its complete closure, or -1 if that contains a bad action
        best_n = enabled.bit_count()
        while cand:
            low = cand & -cand
            cand ^= low
            members = low
            work = low
            status = 1  # 1 ok, 0 pruned by size, -1 bad
            while work:
                lb = work & -work
                work ^= lb
                b = lb.bit_length() - 1
                if enabled & lb:
                    prior = done.get(b)
                    if prior is not None and lb != low:
                        if prior < 0:
                            status = -1
                            break
                        members |= prior  # its closure is complete: no need to walk it again
                        work &= ~prior
                        add = 0
                    else:
                        add = dep[b]
                else:
                    add = cache.get(b, -1)
                    if add < 0:
                        add = nes[b](s)
                        cache[b] = add
                add &= ~members
                if add:
                    members |= add
                    work |= add
                amp = members & enabled
                if amp & bad or amp == enabled:
                    status = -1
                    break
                if smallest_only and amp.bit_count() >= best_n:
                    status = 0
                    break
            seed = low.bit_length() - 1
            if status == 1:
                amp = members & enabled
                done[seed] = members
                found.append(amp)
                if smallest_only:
                    best_n = amp.bit_count()
                    if best_n == 1:
                        break
            elif status < 0:
                done[seed] = -1
        found = sorted(set(found), key=lambda m: (m.bit_count(), m))
        return found[:1] if smallest_only else found

    def ample(self, s: int, enabled: int, errors: int) -> int:
        """The smallest ample set (bitmask) satisfying C0-C2, or ``enabled``."""
        cands = self.candidates(s, enabled, errors, smallest_only=True)
        return cands[0] if cands else enabled


def analyse(c: Compiled) -> PorInfo:
    """Dependency, visibility and necessary-enabling-set code for ``c`` (cached on ``c``).

    ``a`` and ``b`` are dependent when they write a common slot, or one writes a slot the
    other reads, unless that read only compares the slot with constants that the write can
    neither find there nor put there (see :class:`_Facts`).
    """
    cached = c.__dict__.get("_por_info")
    if isinstance(cached, PorInfo):
        return cached
    layout = c.layout
    slot_of = {sl.ident: i for i, sl in enumerate(layout.slots)}
    n_slots = len(layout.slots)
    facts = _action_facts(c, Namespace(), slot_of)
    writers = [0] * n_slots
    for inst in c.actions:
        for k in inst.writes:
            writers[k] |= 1 << inst.index
    dep = [0] * len(c.actions)
    coarse: list[int] = []
    for inst in c.actions:
        a = inst.index
        for k in inst.writes:
            dep[a] |= writers[k]
        affecting = _affecting({k: facts[a].reads.get(k) for k in inst.reads}, writers, facts, exclude=a)
        coarse.append(affecting)
        dep[a] |= affecting
        for w in _bits(affecting):
            dep[w] |= 1 << a  # the relation is symmetric
    for a in range(len(dep)):
        dep[a] &= ~(1 << a)
    # visibility: writers that may change what an invariant (or, with a quiescence predicate,
    # a final property or the quiescence predicate) reads
    model = c.model
    preds = [p for p in c.properties[: len(model.properties)] if p.kind == "invariant"]
    if c.quiescent_fn is not None and c.final_fns:
        preds += [p for p in c.properties[: len(model.properties)] if p.kind == "final"]
        preds += list(model.quiescent_defs)
    visible = 0
    vis_slots: set[int] = set()
    for prop in preds:
        reads, trees = _translated_predicate(layout, prop)
        cmps = _compared_reads(trees, slot_of)
        vis_slots |= reads
        visible |= _affecting({k: cmps.get(k) for k in reads}, writers, facts)
    nes, source = _build_nes(c, writers, coarse, facts, slot_of)
    info = PorInfo(c, dep, visible, frozenset(vis_slots), nes, coarse, source)
    c.__dict__["_por_info"] = info
    return info


def _build_nes(c: Compiled, writers: list[int], coarse: list[int], facts: list[_Facts],
               slot_of: dict[str, int]) -> tuple[list[Callable[[int], int]], str]:
    """Generate ``nes_<k>(s)`` per action instance: the actions that can make a false guard
    conjunct true (fewest first; original order as the safe fallback), else ``coarse[k]``.

    For ``x == C`` that is the writers that may write ``C``; for ``x != C`` the writers that may
    write something else; for other conjuncts the writers that may change what it reads.
    """
    layout = c.layout
    ns = Namespace()
    lines = ["# Generated by itsrace.engine.reduce.por: necessary enabling sets. Do not edit."]
    names: list[str] = []
    for inst in c.actions:
        k = inst.index
        fname = f"nes_{k}"
        names.append(fname)
        conj: list[tuple[str, int, set[int]]] = []  # (expression, enablers, reads)
        never = False
        try:
            for j, node in enumerate(_leading_conjuncts(inst.action)):
                tr = _translator(layout, ns, inst.action, inst.binding, f"N{k}_{j}_")
                tr.collect_temps(inst.action.body)
                expr = tr.expr(copy.deepcopy(node))
                ok, value = tr.const_value(expr)
                if ok:
                    if not value:
                        never = True
                        break
                    continue
                conj.append((ast.unparse(ast.fix_missing_locations(expr)),
                             _enablers(expr, set(tr.reads), writers, facts, slot_of), set(tr.reads)))
        except ModelError:
            conj = []
        lines.append("")
        lines.append(f"def {fname}(s):")
        if never:
            lines.append("    return 0  # a guard conjunct is constant False: never enabled")
            continue
        if not conj:
            lines.append(f"    return {coarse[k]}")
            continue
        reads: set[int] = set()
        for _, _, r in conj:
            reads |= r
        for slot in sorted(reads):
            lines.append("    " + _extract_line(layout, slot))
        by_size = sorted(conj, key=lambda x: x[1].bit_count())
        if by_size != conj:
            lines.append("    try:")
            for expr_s, mask, _ in by_size:
                lines.append(f"        if not ({expr_s}):")
                lines.append(f"            return {mask}")
            lines.append("    except Exception:")
            lines.append("        pass")
        lines.append("    try:")
        for expr_s, mask, _ in conj:
            lines.append(f"        if not ({expr_s}):")
            lines.append(f"            return {mask}")
        lines.append("    except Exception:")
        lines.append("        pass")
        lines.append(f"    return {coarse[k]}")
    source = "\n".join(lines) + "\n"
    module = types.ModuleType("itsrace_por_nes")
    module.__dict__.update(ns.values)
    module.__dict__["_ix"] = _ix
    module.__dict__["_ixp"] = _ixp
    module.__dict__["_lk"] = _lk
    exec(compile(source, f"<itsrace-por:{c.model.name}>", "exec"), module.__dict__)  # noqa: S102
    return [module.__dict__[n] for n in names], source


def _enablers(expr: ast.expr, reads: set[int], writers: list[int], facts: list[_Facts],
              slot_of: dict[str, int]) -> int:
    """Actions that can turn the (currently false) guard conjunct ``expr`` true."""
    cmp = _comparison(expr, slot_of)
    if cmp is not None and reads == {cmp[0]}:
        k, eq, value = cmp
        mask = 0
        for w in _bits(writers[k]):
            post = facts[w].post.get(k)
            if post is None or (value in post if eq else bool(post - {value})):
                mask |= 1 << w
        return mask
    cmps = _compared_reads([expr], slot_of)
    return _affecting({k: cmps.get(k) for k in reads}, writers, facts)


def ample_set(c: Compiled, s: int) -> list[int]:
    """The action indices :func:`por_check` would follow from state ``s`` before the cycle
    proviso (all enabled ones when no reduction applies). For tests and for curiosity."""
    info = analyse(c)
    enabled = errors = 0
    for k, t in c.successors(s):
        enabled |= 1 << k
        if t < 0:
            errors |= 1 << k
    return _bits(info.ample(s, enabled, errors))


# -- the search ------------------------------------------------------------------------------------


@dataclass
class PorStats(Stats):
    """:class:`Stats` plus what the reduction did."""

    reduced_states: int = 0  # expanded with a proper ample set
    full_states: int = 0  # expanded fully (no proper ample set, or visibility)
    proviso_states: int = 0  # a proper ample set was found but the cycle proviso expanded fully
    enabled_transitions: int = 0  # successors computed (including those not followed)
    slept_transitions: int = 0  # sleep sets: ample or full-set actions not followed (asleep)
    sleep_revisits: int = 0  # sleep sets: expanded states followed again after their set shrank

    def as_dict(self) -> dict[str, Any]:
        d = super().as_dict()
        d.update(reduced_states=self.reduced_states, full_states=self.full_states,
                 proviso_states=self.proviso_states, enabled_transitions=self.enabled_transitions,
                 slept_transitions=self.slept_transitions, sleep_revisits=self.sleep_revisits)
        return d


class _Events:
    """Records violations the way :mod:`itsrace.engine.explore.search` does: first occurrence per
    property (in breadth-first order), deadlock and final properties at terminal states, final
    properties at quiescent states; ``stop`` when asked to stop at the first violation or when
    every property has been violated."""

    def __init__(self, c: Compiled, stop_on_violation: bool) -> None:
        self.c = c
        self.stop_on_violation = stop_on_violation
        self.found: dict[str, tuple[str, int, int | None]] = {}
        self.order: list[str] = []
        self.targets = len(c.properties) + (1 if c.model.check_deadlock else 0)

    def record(self, prop: str, kind: str, s: int, k: int | None) -> bool:
        if prop not in self.found:
            self.found[prop] = (kind, s, k)
            self.order.append(prop)
        return self.stop_on_violation or len(self.found) >= self.targets

    def at_rest(self, s: int, terminal: bool) -> bool:
        c = self.c
        stop = False
        if terminal and c.model.check_deadlock and not any(f(s) for f in c.rest_fns):
            stop = self.record("deadlock", "deadlock", s, None)
            if stop:
                return True
        for i, fn in c.final_fns:
            if not fn(s):
                stop = self.record(c.properties[i].name, "final", s, None) or stop
        return stop


def _fingerprint(bits: int) -> Callable[[int], int]:
    if bits <= 64:
        return lambda s: s
    mult = 0x9E3779B97F4A7C15
    for _ in range((bits + 63) // 64):
        mult = (mult << 64) | 0xD1B54A32D192ED03
    mask = (1 << 64) - 1
    return lambda s: ((s * mult) >> bits) & mask


def _rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _back_edge_sources(partial: dict[int, tuple[int, int, tuple[int, ...]]]) -> list[int]:
    """Sources of DFS back edges in the graph of partially expanded states (edges: their ample
    successors that are themselves partially expanded). Every cycle of a directed graph has a
    back edge with respect to any depth-first search, so fully expanding these sources leaves
    no cycle made of partially expanded states only."""
    colour: dict[int, int] = {}
    marks: list[int] = []
    for root in partial:
        if root in colour:
            continue
        colour[root] = 1
        stack = [(root, iter(partial[root][2]))]
        while stack:
            node, it = stack[-1]
            for nb in it:
                if nb not in partial:
                    continue
                c = colour.get(nb)
                if c is None:
                    colour[nb] = 1
                    stack.append((nb, iter(partial[nb][2])))
                    break
                if c == 1 and (not marks or marks[-1] != node):
                    marks.append(node)
            else:
                colour[node] = 2
                stack.pop()
    return list(dict.fromkeys(marks))


def por_check(
    model: Model | Compiled,
    *,
    canon: Canon | None = None,
    fingerprints: bool = False,
    limits: Limits | None = None,
    stop_on_violation: bool = True,
    progress: bool | None = None,
    proviso: str = "graph",
    ample: bool = True,
    sleep: bool = False,
) -> Result:
    """Breadth-first search with partial-order reduction (see the module docstring).

    Same arguments and :class:`Result` as :func:`itsrace.engine.explore.search.check` (breadth-first
    only), with ``result.stats`` a :class:`PorStats`. ``canon`` adds symmetry reduction;
    ``fingerprints=True`` stores 64-bit keys of states instead of the states (traces are then
    rebuilt by a fresh unreduced search, as in the plain search).

    ``proviso`` chooses how the cycle condition C3' (every cycle of the reduced graph contains
    a fully expanded state) is enforced:

    * ``"graph"`` (default): explore with ample sets, then search the graph of partially
      expanded states for cycles (a depth-first search; the sources of its back edges are
      expanded fully), continue exploring from what that adds, and repeat until no such cycle
      is left. Costs the ample edges in memory; reduces much more.
    * ``"depth"``: on the fly; a state is expanded fully when an ample successor is already
      known at a depth no greater than its own (every cycle in breadth-first order has such an
      edge). No extra memory, but many non-cycles look like cycles.

    ``sleep=True`` adds sleep sets on top of the ample sets (see "Sleep sets" in the module
    docstring): fewer transitions are followed, never fewer properties found. It keeps a
    record per state and does not combine with symmetry reduction.
    """
    if proviso not in ("graph", "depth"):
        raise ModelError(f"unknown proviso {proviso!r}: use 'graph' or 'depth'")
    if sleep and ample:
        raise ModelError("sleep sets are sound here only with full expansion (ample=False): "
                         "combined with ample sets and the cycle proviso they can miss violations "
                         "(docs/reductions.md, 'Sleep sets')")
    if sleep and canon is not None:
        raise ModelError("sleep sets do not combine with symmetry reduction (a canonical state's "
                         "sleep set would name actions of another permutation): drop one of them")
    c = model if isinstance(model, Compiled) else compile_model(model, canon=canon)
    if canon is None and c.canonical:
        raise ModelError("this compiled model canonicalises states; pass the same canon to por_check()")
    info = analyse(c)
    limits = limits or Limits()
    events = _Events(c, stop_on_violation)
    stats = PorStats()
    n_actions = len(c.actions)
    fired = [0] * n_actions
    gained = [0] * n_actions
    successors = c.successors
    inv = list(zip([i for i, p in enumerate(c.properties) if p.kind == "invariant"], c.invariant_fns, strict=True))
    quiescent = c.quiescent_fn if c.final_fns else None
    candidates = info.candidates
    show = sys.stderr.isatty() if progress is None else progress
    rss0 = _rss()
    start = time.monotonic()
    last_show = start
    key: Callable[[int], int] = _fingerprint(c.layout.bits) if fingerprints else (lambda s: s)
    canon_fn: Canon = canon if canon is not None else (lambda t: t)
    initial = list(dict.fromkeys(c.initial))
    parents: dict[int, int | None] = {}
    seen: set[int] = set()
    if fingerprints:
        seen.update(key(s) for s in initial)
    else:
        parents.update((s, None) for s in initial)
    visited: Any = seen if fingerprints else parents
    graph = proviso == "graph"
    depth_of: dict[int, int] = {} if graph else {key(s): 0 for s in initial}  # "depth" proviso only
    partial: dict[int, tuple[int, int, tuple[int, ...]]] = {}  # key -> (state, depth, ample successor keys)
    max_depth = 0
    reason = ""
    stop = False
    # sleep sets: key -> [asleep mask, followed mask F, depth, state, expanded, revisit queued]
    asleep: dict[int, list[Any]] = {}
    if sleep:
        for s0 in initial:
            asleep[key(s0)] = [0, 0, 0, s0, False, False]
    indep = [~(dep_a | 1 << a) for a, dep_a in enumerate(info.dep)] if sleep else []

    def over_limits() -> str:
        n = len(visited)
        if limits.max_states is not None and n >= limits.max_states:
            return f"state limit {limits.max_states:,} reached"
        if limits.max_seconds is not None and time.monotonic() - start >= limits.max_seconds:
            return f"time limit {limits.max_seconds:g} s reached"
        if limits.max_memory is not None and _rss() >= limits.max_memory:
            return f"memory limit {limits.max_memory / 2**20:,.0f} MiB reached"
        return ""

    def discover(s: int, k: int, ct: int, kt: int, d: int, out: list[Any]) -> None:
        """Record ``ct`` (key ``kt``), first reached from ``s`` by action ``k``."""
        if fingerprints:
            seen.add(kt)
        else:
            parents[ct] = s
        if not graph:
            depth_of[kt] = d + 1
        out.append((ct, d + 1))
        gained[k] += 1

    def visit(s: int, follow: list[tuple[int, int]], d: int, out: list[Any]) -> None:
        for k, ct in follow:
            stats.transitions += 1
            fired[k] += 1
            kt = key(ct)
            if kt not in visited:
                discover(s, k, ct, kt, d, out)

    def visit_asleep(s: int, follow: list[tuple[int, int]], d: int, out: list[Any]) -> None:
        """Follow ``follow`` from ``s`` except the actions asleep in ``s``; a successor by ``k``
        sleeps on what was asleep here or comes before ``k`` in ``F``, when independent of
        ``k``. A known successor keeps the intersection of its sleep sets; if that shrinks after
        it was expanded, it is followed again."""
        rec = asleep[key(s)]
        z = rec[0]
        rec[1] |= sum(1 << k for k, _ in follow)
        fm = rec[1]
        for k, ct in follow:
            if z >> k & 1:
                stats.slept_transitions += 1
                continue
            child_z = (z | (fm & ((1 << k) - 1))) & indep[k]
            stats.transitions += 1
            fired[k] += 1
            kt = key(ct)
            old = asleep.get(kt)
            if old is None:
                asleep[kt] = [child_z, 0, d + 1, ct, False, False]
                discover(s, k, ct, kt, d, out)
            elif old[0] & ~child_z:
                old[0] &= child_z
                if old[4] and not old[5]:
                    old[5] = True
                    out.append((ct, -1 - old[2]))  # negative depth: follow again

    follow_from = visit_asleep if sleep else visit

    def revisit(s: int, out: list[Any]) -> None:
        """``s`` was expanded and its sleep set has shrunk: follow its ``F`` again."""
        rec = asleep[key(s)]
        rec[5] = False
        stats.sleep_revisits += 1
        fm = rec[1]
        follow = [(k, canon_fn(t)) for k, t in successors(s) if t >= 0 and fm >> k & 1]
        visit_asleep(s, follow, rec[2], out)

    def expand(s: int, d: int, out: list[tuple[int, int]]) -> bool:
        """Check ``s``'s properties, follow an ample set (or everything); True to stop."""
        nonlocal stop
        # the same events in the same order as the compiled search: invariants, failed checks
        # (in action order), then terminal or quiescent states; stop at the first that asks to
        for i, fn in inv:
            if not fn(s) and events.record(c.properties[i].name, "invariant", s, None):
                stop = True
                return True
        succ = successors(s)
        stats.enabled_transitions += len(succ)
        enabled = errors = 0
        for k, t in succ:
            enabled |= 1 << k
            if t < 0:
                errors |= 1 << k
                stats.transitions += 1
                if events.record(c.properties[~t].name, "assertion", s, k):
                    stop = True
                    return True
        if not succ:
            stop = events.at_rest(s, True)
        elif quiescent is not None and quiescent(s):
            stop = events.at_rest(s, False)
        if stop:
            return True
        follow: list[tuple[int, int]] = []
        cands = candidates(s, enabled, errors, graph) if succ and ample else []
        if cands:
            succ_of = dict(succ)
            if graph:
                follow = [(k, canon_fn(succ_of[k])) for k in _bits(cands[0])]
                partial[key(s)] = (s, d, tuple(key(ct) for _, ct in follow))
            else:
                images: dict[int, int] = {}
                for amp in cands:
                    follow = []
                    for k in _bits(amp):
                        ct = images.get(k)
                        if ct is None:
                            ct = images[k] = canon_fn(succ_of[k])
                        kt = key(ct)
                        if kt in visited and depth_of[kt] <= d:  # C3: may close a cycle
                            follow = []
                            break
                        follow.append((k, ct))
                    if follow:
                        break
                if not follow:
                    stats.proviso_states += 1
            if follow:
                stats.reduced_states += 1
        else:
            stats.full_states += 1
        if not follow:
            follow = [(k, canon_fn(t)) for k, t in succ if t >= 0]
        if sleep:
            asleep[key(s)][4] = True
        follow_from(s, follow, d, out)
        return False

    def explore(frontier: list[tuple[int, int]]) -> None:
        nonlocal reason, max_depth, last_show
        while frontier:
            nxt: list[tuple[int, int]] = []
            for count, (s, d) in enumerate(frontier):
                if d < 0:  # sleep sets: an expanded state whose sleep set shrank
                    revisit(s, nxt)
                    continue
                if limits.max_depth is not None and d >= limits.max_depth:
                    reason = f"depth limit {limits.max_depth} reached"
                    continue
                max_depth = max(max_depth, d)
                if expand(s, d, nxt):
                    return
                if count & 1023 == 1023:
                    reason = over_limits() or reason
                    if reason and not reason.startswith("depth"):
                        return
                    if show and time.monotonic() - last_show >= 1.0:
                        last_show = time.monotonic()
                        sys.stderr.write(f"\r  states {len(visited):>12,}  depth {max_depth:>4}  (por) ")
                        sys.stderr.flush()
            stats.queue = len(nxt)
            limit = over_limits()
            if limit:
                reason = limit
                return
            frontier = nxt

    try:
        explore([(s, 0) for s in initial])
        while graph and not stop and not (reason and not reason.startswith("depth")):
            marks = _back_edge_sources(partial)
            if not marks:
                break
            # C3': expand the sources of back edges fully, then explore what that discovers
            frontier: list[tuple[int, int]] = []
            for kt in marks:
                s, d, _ = partial.pop(kt)
                stats.reduced_states -= 1
                stats.proviso_states += 1
                follow = [(k, canon_fn(t)) for k, t in successors(s) if t >= 0]
                follow_from(s, follow, d, frontier)
            explore(frontier)
    except KeyboardInterrupt:
        reason = "interrupted"
    except ModelError:
        raise
    except (Exception, SystemExit) as exc:  # an exception inside generated code is a bug in the model
        raise c.model_error(exc) from exc
    finally:
        if show:
            sys.stderr.write("\n")
    elapsed = time.monotonic() - start
    stats.distinct_states = len(visited)
    stats.depth = max_depth
    stats.seconds = elapsed
    stats.states_per_second = stats.distinct_states / elapsed if elapsed > 0 else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    stats.peak_rss_bytes = peak
    stats.bytes_per_state = max(0, peak - rss0) / max(1, stats.distinct_states)
    stats.coverage = {inst.name: [fired[inst.index], gained[inst.index]] for inst in c.actions}
    stats.never_fired = [inst.name for inst in c.actions if fired[inst.index] == 0]
    if fingerprints:
        stats.collision_probability = fingerprint_collision_probability(c.layout.bits, stats.distinct_states)
    violations = [_violation(c, events, prop, None if fingerprints else parents, canon) for prop in events.order]
    verdict = FAIL if violations else (INCONCLUSIVE if reason else PASS)
    return Result(verdict, violations, stats, reason, c.model.name)


def _violation(c: Compiled, events: _Events, prop: str, parents: dict[int, int | None] | None,
               canon: Canon | None) -> Violation:
    # one trace builder for every search: the sequential search's handles canonical paths too
    return _search_violation(c, events, prop, parents, canon)


def reduced_check(
    model: Model,
    *,
    symmetry: str | None = None,
    por: bool = False,
    sleep: bool = False,
    validate: bool = True,
    **kwargs: Any,
) -> Result:
    """One entry point for every combination of reductions, for the CLI and ``check_model``.

    ``symmetry`` is ``None``, ``"fast"`` or ``"exact"`` (validated first with
    :func:`itsrace.engine.reduce.symmetry.validate_symmetry` unless ``validate=False``); ``por=True``
    uses :func:`por_check` with ample sets, ``sleep=True`` with sleep sets instead (the two are
    not combined: see the module docstring). Other keyword arguments (``fingerprints``, ``limits``,
    ``stop_on_violation``, ``progress``, and ``strategy`` without POR) go to the search.
    """
    canon: Canon | None = None
    if symmetry is not None:
        if symmetry not in ("fast", "exact"):
            raise ModelError(f"unknown symmetry mode {symmetry!r}: use 'fast' or 'exact'")
        if validate:
            sym.validate_symmetry(model)
        canon = sym.canonicaliser(model, exact=symmetry == "exact")
    if por and sleep:
        raise ModelError("sleep sets and ample sets together can miss violations; use one of them")
    if por or sleep:
        if kwargs.pop("strategy", "bfs") != "bfs":
            raise ModelError("partial-order reduction is implemented for breadth-first search only")
        return por_check(model, canon=canon, ample=por, sleep=sleep, **kwargs)
    return check_model(model, canon=canon, **kwargs)


__all__ = ["PorInfo", "PorStats", "ample_set", "analyse", "por_check", "predicate_reads", "reduced_check"]
