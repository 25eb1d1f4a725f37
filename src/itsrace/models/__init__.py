"""Example models for the engine: the ``lpi-toy`` benchmark and textbook protocols.

Each module has a ``build(...) -> Model`` function. They double as tests of the engine against
known answers and as worked examples for ``docs/modelling.md``.
"""
