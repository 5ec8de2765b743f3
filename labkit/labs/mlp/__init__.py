"""Lab 1: MLP sweeps (parameters, the trial)."""
