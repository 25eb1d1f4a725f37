"""The compiled backend: the whole breadth-first search generated as C from the model's IR,
built with the system C compiler at run time and cached (see ``docs/native.md``)."""
