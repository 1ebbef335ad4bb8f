"""lrsweep: choose a learning rate by strategy, from one YAML file.

From Python::

    import lrsweep
    result = lrsweep.grid("configs/quickstart.yaml", overrides={"train.epochs": 2})
    result.best.lr, result.table()
    model = lrsweep.load_model(result.run_dir)

The functions load on first use (``import lrsweep`` imports neither torch nor the engine).
"""

from lrsweep._version import __version__  # noqa: F401  lrsweep.__version__

__all__ = ["grid", "find", "tune", "schedule_preview", "load_run", "load_model", "load_config_any"]


def __getattr__(name: str):
    if name in __all__:
        from lrsweep import api

        return getattr(api, name)
    raise AttributeError(f"module 'lrsweep' has no attribute {name!r}")
