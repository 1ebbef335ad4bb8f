"""lrsweep: choose a learning rate by strategy, from one YAML file."""

__version__ = "0.1.0"
