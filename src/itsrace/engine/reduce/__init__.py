"""State-space reductions, each tested against the plain search: partial-order reduction with
ample and sleep sets (:mod:`.por`) and symmetry reduction (:mod:`.symmetry`)."""
