"""Checks made before any training (called from ``runner.preflight``): what validation cannot see in the
config alone but would fail, or eat the machine, once training starts.

- the model: its size on the meta device (nothing allocated) against ``limits.max_parameters`` and
  ``limits.max_activations`` (a plain stack of linear layers from its shapes alone); trainable
  parameters; one forward pass on two rows giving ``[2, output_size]``;
- each scheduler: stepped on a throwaway optimizer for the first steps of the run, its LR finite and >= 0;
  one that cannot do anything in this run (a plateau whose patience outlasts it) is a notice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from lrsweep.errors import ConfigError, LrsweepError

if TYPE_CHECKING:
    from lrsweep.sweep.plan import Variant

SCHEDULE_TRIAL_STEPS = 200  # scheduler steps driven dry per distinct schedule (division by zero shows at once)


def check_model(spec, splits, limits) -> None:
    """Refuse a model too large for ``limits``, without parameters, or with the wrong output shape."""
    from lrsweep.models import build_model

    count, per_row = _meta_sizes(spec)
    if count is not None and count > limits.max_parameters:
        raise ConfigError(
            f"the model has {count:,} parameters, more than limits.max_parameters="
            f"{limits.max_parameters:,} (raise it with --set limits.max_parameters=N)",
            key="model",
        )
    if per_row is not None and per_row * spec.batch_size > limits.max_activations:
        raise ConfigError(
            f"a batch of {spec.batch_size} keeps {per_row * spec.batch_size:,} activations for the "
            f"backward pass, more than limits.max_activations={limits.max_activations:,} (a smaller "
            "data.batch_size or model, or --set limits.max_activations=N)",
            key="model",
        )
    model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, seed=0)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(
            f"model '{spec.model_name}' has no trainable parameters: there is nothing to train", key="model.name"
        )
    if count is None and sum(p.numel() for p in params) > limits.max_parameters:
        raise ConfigError(
            f"the model has more than limits.max_parameters={limits.max_parameters:,} parameters "
            "(raise it with --set limits.max_parameters=N)",
            key="model",
        )
    _check_forward(model, spec, splits)


def _meta_sizes(spec) -> tuple[int | None, int | None]:
    """Parameters of the model, and the activations of one input row (every leaf module's output), as built
    and run on the meta device (no memory, no arithmetic); None where the model cannot run there."""
    from lrsweep.models import build_model

    try:
        with torch.device("meta"):
            model = build_model(spec.model_name, spec.model_options, spec.input_shape, spec.output_size, seed=0)
    except LrsweepError:
        raise
    except Exception:  # noqa: BLE001 - some factories need real tensors; the real build is checked next
        return None, None
    count = sum(p.numel() for p in model.parameters())
    plain = _linear_stack_activations(model, spec.input_shape)
    if plain is not None:
        return count, plain
    activations = 0

    def tally(_module, _inputs, output):
        nonlocal activations
        if isinstance(output, torch.Tensor):
            activations += output.numel()

    hooks = [m.register_forward_hook(tally) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(torch.empty((1, *spec.input_shape), device="meta"))
    except Exception:  # noqa: BLE001 - a forward that needs real values; the real forward is checked next
        return count, None
    finally:
        for hook in hooks:
            hook.remove()
    return count, activations


# Layers whose output has their input's shape (what a built-in mlp and linear model are made of, with Linear).
_SAME_SHAPE = (torch.nn.ReLU, torch.nn.Tanh, torch.nn.GELU, torch.nn.Sigmoid, torch.nn.Dropout, torch.nn.Identity)


def _linear_stack_activations(model: torch.nn.Module, input_shape: Sequence[int]) -> int | None:
    """Activations of one row through an ``nn.Sequential`` of Flatten, Linear and shape-keeping layers, from the
    layers' shapes alone; None for any other model (the meta forward counts those). A forward on the meta
    device runs torch's Python decompositions, which import ``torch._dynamo``: about a second of start-up."""
    if type(model) is not torch.nn.Sequential:
        return None
    shape, total = list(input_shape), 0
    for layer in model:
        if type(layer) is torch.nn.Flatten and layer.start_dim == 1 and layer.end_dim == -1:
            shape = [math.prod(shape)]
        elif type(layer) is torch.nn.Linear and shape and shape[-1] == layer.in_features:
            shape = [*shape[:-1], layer.out_features]
        elif type(layer) not in _SAME_SHAPE:
            return None
        total += math.prod(shape)
    return total


def _check_forward(model: torch.nn.Module, spec, splits) -> None:
    x = splits.train_x[:2].detach().to("cpu").clone()
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except LrsweepError:
        raise
    except Exception as exc:  # noqa: BLE001 - the model's own failure, named
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise ConfigError(
            f"model '{spec.model_name}' fails on a batch of input {list(x.shape)}: {type(exc).__name__}: {text}",
            key="model",
        ) from None
    want = [len(x), spec.output_size]
    if not isinstance(out, torch.Tensor) or list(out.shape) != want:
        got = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(
            f"model '{spec.model_name}' returns {got} for a batch of {list(x.shape)}; the loss needs "
            f"{want} (output_size {spec.output_size} from the dataset)",
            key="model",
        )


def check_engine(engine: str, variants: Sequence[Variant], spec, device) -> None:
    """``engine: vectorized`` refuses a pack it cannot stack (an optimizer without a stacked update, a model
    the pack cannot hold) here, before any pack trains, as the run would once it reached that pack."""
    from lrsweep.engine.packing import group_packable
    from lrsweep.engine.vectorized import check_vectorizable
    from lrsweep.errors import VectorizeError

    if engine != "vectorized":
        return
    for group in group_packable(list(variants)):
        if len(group) < 2:
            continue  # a pack of one trains alone under any engine
        sample = list({v.optimizer.label: v for v in group}.values())  # each distinct set of options once
        try:
            check_vectorizable(sample if len(sample) > 1 else group[:2], spec, device)
        except VectorizeError as exc:
            raise ConfigError(
                f"vectorized cannot train these variants as one pack: {exc}; engine: auto trains them one at a time",
                key="engine",
            ) from None


def check_schedules(variants: Sequence[Variant], spec, n_train: int) -> None:
    """Drive each distinct schedule, at the largest LR it runs with, for its first steps."""
    from lrsweep.engine.loop import steps_per_epoch
    from lrsweep.optim import trial_optimizer
    from lrsweep.optim.schedulers import resolve_params
    from lrsweep.optim.schedulers.resolve import build_scheduler

    steps = steps_per_epoch(n_train, spec.batch_size)
    largest: dict[str, Variant] = {}
    for v in variants:
        if v.scheduler.type != "none" and (v.scheduler.label not in largest or v.lr > largest[v.scheduler.label].lr):
            largest[v.scheduler.label] = v
    for v in largest.values():
        resolved = resolve_params(v.scheduler, v.lr, spec.epochs, steps)
        trial = trial_optimizer(lr=v.lr, momentum=0.9)
        scheduler = build_scheduler(v.scheduler, resolved, trial, steps)
        total = spec.epochs * steps if v.scheduler.interval == "step" else spec.epochs
        _drive(v.scheduler, scheduler, trial, min(total - 1, SCHEDULE_TRIAL_STEPS))


def schedule_notices(variants: Sequence[Variant], spec, n_train: int) -> list[str]:
    """What a schedule will not do in this run, said once per schedule (a plateau that cannot fire)."""
    from lrsweep.engine.loop import steps_per_epoch
    from lrsweep.optim.schedulers import cannot_fire, resolve_params

    steps, notices = steps_per_epoch(n_train, spec.batch_size), []
    for v in {v.scheduler.label: v for v in variants}.values():
        note = cannot_fire(v.scheduler, resolve_params(v.scheduler, v.lr, spec.epochs, steps), spec.epochs)
        if note and note not in notices:
            notices.append(note)
    return notices


def _drive(sched_spec, scheduler, optimizer, n: int) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "scheduler.step() before optimizer.step()": nothing trains here
        for i in range(max(n, 0)):
            try:  # the trial optimizer never steps (no gradients; a step would import torch._dynamo)
                scheduler.step(1.0) if sched_spec.type == "reducelronplateau" else scheduler.step()
            except Exception as exc:  # noqa: BLE001 - torch's failure on these parameters, named
                raise ConfigError(
                    f"the scheduler fails at step {i + 1}: {type(exc).__name__}: {exc}", key=sched_spec.key
                ) from None
            lr = optimizer.param_groups[0]["lr"]
            if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0):
                raise ConfigError(f"the scheduler's learning rate becomes {lr} at step {i + 1}", key=sched_spec.key)
