"""itsrace's explicit-state model checker. It knows nothing about GICs.

Five names cover most uses::

    from itsrace.engine import Model, require, check_model

    m = Model("toy")
    m.var("x", range(3))

    @m.action
    def Step(s):
        require(s.x < 2)
        s.x = s.x + 1

    @m.invariant
    def Bounded(s):
        return s.x <= 2

    result = check_model(m)          # verdict "pass", stats, violations with traces

See ``docs/modelling.md`` for the guide (level 1 actions, level 2 processes, properties).
"""

from itsrace.engine.errors import ModelError
from itsrace.engine.explore.search import FAIL, INCONCLUSIVE, PASS, Limits, Result, Stats, Violation
from itsrace.engine.explore.search import check as check_model
from itsrace.engine.explore.trace import ReplayResult, Trace, TraceStep, replay
from itsrace.engine.lang.compile import Compiled, compile_model, generated_source
from itsrace.engine.lang.model import ActionDef, Model, PropertyDef, VarDecl, check, require

__all__ = [
    "FAIL", "INCONCLUSIVE", "PASS", "ActionDef", "Compiled", "Limits", "Model", "ModelError",
    "PropertyDef", "ReplayResult", "Result", "Stats", "Trace", "TraceStep", "VarDecl", "Violation",
    "check", "check_model", "compile_model", "generated_source", "replay", "require",
]
