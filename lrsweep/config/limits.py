"""Checks of a whole sweep, once its sections are valid: sizes past :class:`LimitsConfig`, a validation split."""

from lrsweep.config.resolved import Config
from lrsweep.errors import ConfigError


def check_consistency(config: Config) -> None:
    check_limits(config)
    if config.data.val_fraction != 0 or config.kind != "engine":
        return
    if len(config.lrs) * len(config.optimizers) * max(1, len(config.schedulers)) * len(config.batch_sizes) > 1:
        raise ConfigError(
            "a sweep needs a validation split to choose the best variant, got val_fraction=0", key="data.val_fraction"
        )
    for key, on in (("train.early_stopping", config.train.early_stopping), ("select.at", config.select.at == "best")):
        if on:
            raise ConfigError("needs a validation split to watch, got data.val_fraction=0", key=key)


def check_limits(config: Config) -> None:
    """Sizes that would allocate far past a real sweep are refused, naming the limit that caught them."""
    from lrsweep import data as datasets

    limits = config.limits
    axes = (
        len(config.optimizers) * max(1, len(config.schedulers)) * len(config.batch_sizes)
        if config.kind == "engine"
        else 1
    )
    n = len(config.lrs) * axes * len(config.seeds)
    if n > limits.max_variants:
        raise ConfigError(
            f"the sweep has {n:,} variants, more than limits.max_variants={limits.max_variants:,} "
            "(raise it with --set limits.max_variants=N)",
            key="lr",
        )
    if config.kind != "engine":
        return  # your own code: no optimizer or data of lrsweep's to size
    for i, opt in enumerate(config.optimizers):
        decay = opt.options.get("weight_decay")
        if isinstance(decay, (int, float)) and decay > limits.max_weight_decay:
            key = f"optimizer[{i}].weight_decay" if len(config.optimizers) > 1 else "optimizer.weight_decay"
            raise ConfigError(
                f"weight_decay={decay:g} is more than limits.max_weight_decay={limits.max_weight_decay:g} "
                "(raise it with --set limits.max_weight_decay=X)",
                key=key,
            )
    planned = datasets.planned_size(config.data.name, config.data.options)
    if planned is None:
        return
    rows, features, classes = planned
    if rows * features > limits.max_data_values:
        raise ConfigError(
            f"{rows:,} rows x {features:,} features is more than limits.max_data_values="
            f"{limits.max_data_values:,} (raise it with --set limits.max_data_values=N)",
            key="data",
        )
    if classes is not None and classes > limits.max_classes:
        raise ConfigError(
            f"n_classes={classes:,} is more than limits.max_classes={limits.max_classes:,} "
            "(raise it with --set limits.max_classes=N)",
            key="data.n_classes",
        )
