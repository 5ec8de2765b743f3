"""The five labs, one package each: a lab imports labkit's core and earlier labs only."""
