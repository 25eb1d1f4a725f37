"""Generate the C source of a model's search from the same IR the Python backend uses.

The generated file is: ``rt_head.c`` (types, helpers, memo table), then the model (one
function per action instance, the predicates, ``expand_state``), then ``rt_search.c`` (visited
sets, BFS driver, workers). ``expand_state`` fires instances in exactly the Python order (free
instances, then each pc group), so both backends discover states in the same order: same
parents, same first violation, same counts even when a search stops early.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from importlib import resources

from itsrace.engine.lang.compile import Compiled, ModelIR, PredicateIR
from itsrace.engine.lang.layout import Layout, Slot
from itsrace.engine.native.ctrans import CTranslator, Signatures, Unsupported, assigned_names


@dataclass
class CModel:
    """The generated C and what the loader needs to run it."""

    source: str
    words: int  # 64-bit words per state
    sigs: Signatures
    n_props: int
    targets: int  # properties + deadlock: the search stops when all are violated


def _word_bits(off: int) -> tuple[int, int]:
    return off // 64, off % 64


def get_expr(slot: Slot, s: str = "s") -> str:
    w, b = _word_bits(slot.off)
    mask = f"{slot.mask}u" if slot.width < 32 else f"UINT64_C({slot.mask})"
    if b + slot.width <= 64:
        raw = f"(({s}[{w}] >> {b}) & {mask})" if b else f"({s}[{w}] & {mask})"
    else:
        raw = f"((({s}[{w}] >> {b}) | ({s}[{w + 1}] << {64 - b})) & {mask})"
    return f"((int64_t){raw} + {slot.lo})" if slot.lo else f"(int64_t){raw}"


def put_lines(slot: Slot, value: str, t: str = "t") -> list[str]:
    w, b = _word_bits(slot.off)
    v = f"((uint64_t)({value} - {slot.lo}) & UINT64_C({slot.mask}))" if slot.lo else \
        f"((uint64_t)({value}) & UINT64_C({slot.mask}))"
    lines = [f"{t}[{w}] = ({t}[{w}] & ~(UINT64_C({slot.mask}) << {b})) | ({v} << {b});"]
    if b + slot.width > 64:
        hi_mask = slot.mask >> (64 - b)
        lines.append(f"{t}[{w + 1}] = ({t}[{w + 1}] & ~UINT64_C({hi_mask})) | ({v} >> {64 - b});")
    return lines


class _Gen:
    def __init__(self, c: Compiled) -> None:
        if c.ir is None:
            raise Unsupported("the model was compiled without its IR")
        if c.canonical:
            raise Unsupported("symmetry reduction (canonicalised states)")
        self.c = c
        self.ir: ModelIR = c.ir
        self.layout: Layout = c.layout
        self.sigs = Signatures()
        self.lines: list[str] = []

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def extract(self, slots: set[int], ind: str = "    ") -> list[str]:
        return [f"{ind}int64_t S_{self.layout.slots[k].ident} = {get_expr(self.layout.slots[k])};" for k in sorted(slots)]

    def translator(self) -> CTranslator:
        return CTranslator(self.ir.names, self.sigs)

    # -- predicates -----------------------------------------------------------------------------
    def predicate(self, name: str, p: PredicateIR) -> None:
        tr = self.translator()
        self.emit(f"/* {p.where} */", f"static int {name}(const uint64_t *s, Ctx *cx) {{")
        self.emit(*self.extract(p.reads))
        if p.expr is not None:
            self.emit(f"    return {tr.truth(ast.parse(p.expr, mode='eval').body)};")
        else:
            body = ast.parse("\n".join(p.lines)).body
            tr.locals = {n for n in assigned_names(body) if not n.startswith(("S_", "W_"))}
            code = tr.stmts(body, 1)
            self.emit(*[f"    int64_t {n} = 0;" for n in sorted(tr.locals)], *code, "    return 1;")
        self.emit("}", "")

    # -- actions --------------------------------------------------------------------------------
    def action(self, k: int) -> None:
        inst = self.c.actions[k]
        tr_ir = self.ir.translated[k]
        act = inst.action
        where = act.where(act.body[0] if act.body else None)
        name = inst.name.replace("*/", "* /")
        self.emit(f"/* [{k}] {name}   ({where}) */",
                  f"static int act_{k}(const uint64_t *s, Ctx *cx, int64_t *n) {{")
        if tr_ir.guard_expr == "False":
            self.emit("    (void)s; (void)cx; (void)n; return 0;", "}", "")
            return
        tr = self.translator()
        body = ast.parse("\n".join(tr_ir.body)).body
        tr.locals = {x for x in assigned_names(body) if not x.startswith("S_")}
        guard = tr.truth(ast.parse(tr_ir.guard_expr, mode="eval").body)
        code = tr.stmts(body, 1)
        self.emit(*self.extract(tr_ir.reads | (tr_ir.writes - tr_ir.fresh)))
        self.emit(f"    if (!{guard}) return 0;")
        writes = sorted(tr_ir.writes)
        idents = {self.layout.slots[w].ident for w in writes}
        for w in writes:
            ident = self.layout.slots[w].ident
            init = "0" if w in tr_ir.fresh else f"S_{ident}"
            self.emit(f"    int64_t W_{ident} = {init};")
        for x in sorted(tr.locals):
            if not (x.startswith("W_") and x[2:] in idents):
                self.emit(f"    int64_t {x} = 0;")
        if tr.uses_check:
            self.emit("    int cfail = -1;")
        self.emit(*code)
        self.emit("    if (cx->err) return -1;", "    {", "        uint64_t t[NW];", "        memcpy(t, s, sizeof t);")
        for w in writes:
            sl = self.layout.slots[w]
            self.emit(*["        " + x for x in put_lines(sl, f"W_{sl.ident}")])
        self.emit("        (*n)++;", f"        cx->fired[{k}]++;", f"        return visit(cx, {k}, t);", "    }")
        if "goto disabled;" in "\n".join(code):
            self.emit("disabled:", "    return cx->err ? -1 : 0;")
        if tr.uses_check:
            self.emit("failed:", "    if (cx->err) return -1;",
                      f"    if (ev_record(cx, cfail, KIND_ASSERT, s, {k})) return 1;", "    (*n)++;", "    return 0;")
        self.emit("}", "")

    # -- the state function ---------------------------------------------------------------------
    def expand_state(self) -> None:
        c, ir = self.c, self.ir
        self.emit("static int expand_state(const uint64_t *s, Ctx *cx) {", "    int64_t n = 0; int r;")
        for i, p in enumerate(c.properties):
            if p.kind == "invariant" and i in ir.props:
                self.emit(f"    if (!prop_{i}(s, cx)) {{ if (cx->err) return -1; "
                          f"if (ev_record(cx, {i}, KIND_INV, s, -1)) return 1; }}")
        for k in ir.free:
            self.emit(f"    if ((r = act_{k}(s, cx, &n))) return r;")
        for pc_slot, group in ir.groups.items():
            slot = self.layout.slots[pc_slot]
            by_value: dict[int, list[int]] = {}
            for k in group:
                pc = c.actions[k].action.pc
                assert pc is not None
                by_value.setdefault(pc[2], []).append(k)
            self.emit(f"    switch ({get_expr(slot)}) {{")
            for v in sorted(by_value):
                calls = " ".join(f"if ((r = act_{k}(s, cx, &n))) return r;" for k in by_value[v])
                self.emit(f"    case {v}: {calls} break;")
            self.emit("    default: break;", "    }")
        self.emit("    cx->trans += n;", "    if (n == 0) { if (ev_terminal(cx, s)) return 1; }")
        if ir.quiet:
            self.emit("    else if (quiet_any(s, cx)) { if (ev_quiescent(cx, s)) return 1; }")
        self.emit("    return cx->err ? -1 : 0;", "}", "")

    def slot_tables(self) -> list[str]:
        """Where each slot lives (for the partition sampler): word, in-word mask, and the mask in
        the next word when the slot straddles a boundary (word2 = -1 when it does not)."""
        words, masks, words2, masks2 = [], [], [], []
        for sl in self.layout.slots:
            w, b = _word_bits(sl.off)
            words.append(str(w))
            masks.append(f"UINT64_C({(sl.mask << b) & ((1 << 64) - 1)})")
            straddles = b + sl.width > 64
            words2.append(str(w + 1) if straddles else "-1")
            masks2.append(f"UINT64_C({sl.mask >> (64 - b)})" if straddles else "0")
        n = max(1, len(words))
        return [f"#define NSLOTS {len(self.layout.slots)}",
                f"static const int slot_word[{n}] = {{{', '.join(words) or '0'}}};",
                f"static const uint64_t slot_mask[{n}] = {{{', '.join(masks) or '0'}}};",
                f"static const int slot_word2[{n}] = {{{', '.join(words2) or '-1'}}};",
                f"static const uint64_t slot_mask2[{n}] = {{{', '.join(masks2) or '0'}}};", ""]

    def build(self) -> CModel:
        c, ir = self.c, self.ir
        words = max(1, (c.layout.bits + 63) // 64)
        finals = [i for i, p in enumerate(c.properties) if p.kind == "final" and i in ir.props]
        n_props = len(c.properties)
        targets = n_props + (1 if c.model.check_deadlock else 0)
        body_start = len(self.lines)
        for i in sorted(ir.props):
            self.predicate(f"prop_{i}", ir.props[i])
        for j, p in enumerate(ir.rest):
            self.predicate(f"rest_{j}", p)
        for j, p in enumerate(ir.quiet):
            self.predicate(f"quiet_{j}", p)
        rest = " || ".join(f"rest_{j}(s, cx)" for j in range(len(ir.rest))) or "0"
        quiet = " || ".join(f"quiet_{j}(s, cx)" for j in range(len(ir.quiet))) or "0"
        self.emit(f"static int rest_any(const uint64_t *s, Ctx *cx) {{ (void)s; (void)cx; return {rest}; }}",
                  f"static int quiet_any(const uint64_t *s, Ctx *cx) {{ (void)s; (void)cx; return {quiet}; }}",
                  f"static const int final_props[] = {{{', '.join(map(str, finals)) or '-1'}}};",
                  f"#define NFINALS {len(finals)}",
                  "static int final_holds(int i, const uint64_t *s, Ctx *cx) {", "    switch (i) {")
        for i in finals:
            self.emit(f"    case {i}: return prop_{i}(s, cx);")
        self.emit("    default: return 1;", "    }", "}", "")
        for k in range(len(c.actions)):
            self.action(k)
        self.expand_state()
        model = self.lines[body_start:] + self.slot_tables()
        head = [
            f"/* Generated by itsrace from model {c.model.name!r} ({len(c.actions)} action instances, "
            f"{c.layout.bits} state bits). Do not edit. */",
            f"#define NW {words}",
            f"#define NACT {len(c.actions)}",
            f"#define NPROPS {n_props}",
            f"#define NTARGETS {targets}",
            f"#define CHECK_DEADLOCK {1 if c.model.check_deadlock else 0}",
            f"#define STATE_BITS {c.layout.bits}",
            f"#define NSIGS {max(1, len(self.sigs.items))}",
        ]
        source = "\n".join(head + [_runtime("rt_head.c")] + model + [_runtime("rt_search.c")]) + "\n"
        return CModel(source, words, self.sigs, n_props, targets)


def _runtime(name: str) -> str:
    return resources.files("itsrace.engine.native").joinpath(name).read_text()


def generate(c: Compiled) -> CModel:
    """The C source of ``c``'s search; raises :class:`Unsupported` for what C cannot express."""
    return _Gen(c).build()
