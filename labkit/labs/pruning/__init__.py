"""Lab 4: structured pruning (the heuristic, the loop, the analysis, figures)."""
