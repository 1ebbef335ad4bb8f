"""An example plugin package for lrsweep: a dataset that streams (see data.py)."""
