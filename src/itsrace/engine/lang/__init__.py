"""The modelling language and its compiler: level-1 actions (:mod:`.core`), level-2 processes
(:mod:`.process` and its parser and emitter), the state layout, the translation of actions to
Python and the generated successor code (:mod:`.compile`), and model specs and the registry
that rebuild a model from its name (:mod:`.spec`, :mod:`.registry`).

Imports within the engine go one way: ``lang`` <- ``explore`` <- ``reduce`` <- ``scale``.
"""
