"""itsrace: an executable GICv3 ITS, hypervisor vITS/vGIC models, and a model checker for their races.

Packages, with one-way dependencies (left may import right, never the reverse):

    cli  ->  designs  ->  hyp  ->  engine
                           \\->  its

- ``itsrace.its``: the architectural GICv3 ITS emulator (no dependency on the rest).
- ``itsrace.engine``: the explicit-state model checker (knows nothing about GICs).
- ``itsrace.models``: small example models for the engine (lpi-toy, textbook protocols).
- ``itsrace.hyp``: the hypervisor model (virtual ITS, vGIC, list registers) in the engine's process language.
- ``itsrace.designs``: race-handling designs plugged into the hypervisor model.
- ``itsrace.cli``: the ``itsrace`` command.
"""

__version__ = "0.1.0"
