"""Searching a compiled model: breadth- and depth-first search (:mod:`.search`), visited sets
(:mod:`.visited`), counterexample traces and their replay (:mod:`.trace`), result reports
(:mod:`.report`) and checkpoints (:mod:`.checkpoint`)."""
