"""itsrace: an executable GICv3 ITS, hypervisor vITS/vGIC models, and a model checker for their races.

Packages, with one-way dependencies (a package imports only those below it; docs/architecture.md
draws it, tests/test_architecture.py pins it):

- ``itsrace.its``: the architectural GICv3 ITS emulator (no dependency on the rest).
- ``itsrace.engine``: the explicit-state model checker (knows nothing about GICs), by concern:
  ``lang`` (modelling language and compiler), ``explore`` (search, visited sets, traces,
  checkpoints), ``reduce`` (partial-order and symmetry reduction), ``scale`` (parallel, Ray,
  swarm, resume).
- ``itsrace.models``: small example models for the engine (lpi-toy, textbook protocols).
- ``itsrace.hyp``: what every hypervisor model shares: scenarios, the property catalogue,
  designs as overrides of a base model, the model builder, counterexample timelines.
- ``itsrace.xen``: Xen 4.10's vITS and vGIC (the base model ``xen-4.10``) and its designs.
- ``itsrace.catalog``: every base model and shipped design by name.
- ``itsrace.cli``: the ``itsrace`` command.
"""

__version__ = "0.1.0"
