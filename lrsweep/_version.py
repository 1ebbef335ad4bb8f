"""The version of lrsweep: one place, read by the package, its run records and its downloads."""

__version__ = "0.1.0"
