"""Lab 2: CNN sweeps (parameters, the one sweep plan, the trial, the run budget)."""
