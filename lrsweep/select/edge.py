"""The stability edge: the largest LR at which gradient descent on the local quadratic does not blow up.

For a loss whose Hessian has top eigenvalue λ (its *sharpness*), plain gradient descent is stable
for lr < 2/λ, and heavy-ball momentum μ for lr < 2(1 + μ)/λ (Nesterov: 2(1 + μ)/((1 + 2μ)λ)). For
linear regression with torch's mean MSE over m rows the Hessian is 2XᵀX/m (bias column included),
so the edge is exactly 1/λ_max(XᵀX/m); for networks it is the edge at initialisation (training can
sharpen the loss later, so the range test's own curve still bounds the LR too).

The range test alone overshoots this edge on full-batch gradient descent: the unstable direction
was damped to round-off before the LR crossed the edge, and needs several more (rising) steps to
show in the loss, by which time the LR is 4-6x past the edge. Measuring λ costs a few dozen
Hessian-vector products on a slice of the training rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

POWER_ITERATIONS = 20  # at most; power iteration on Hessian-vector products
POWER_TOLERANCE = 1e-3  # stop once the Rayleigh quotient changes by less than this, relatively


def sharpness(model: torch.nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor) -> tuple[float | None, int]:
    """(λ_max of the loss's Hessian on (x, y) at the current weights, or None if not positive; passes used)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return sharpness_of(model, lambda: loss_fn(model(x), y), params)


def sharpness_of(
    model: torch.nn.Module,
    loss: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    scales: list[float] | None = None,
) -> tuple[float | None, int]:
    """(λ_max of the Hessian of ``loss()`` in ``params``, or None if not positive; passes used).

    Power iteration on Hessian-vector products; ``passes`` counts backward-pass equivalents (the
    gradient, then two per product), to charge the cost. With ``scales`` (one per parameter: the ratio
    of its LR to the reference LR) it is λ_max of D^½ H D^½, D = diag(scales): the Hessian as gradient
    descent with those per-parameter LRs sees it. Measured in eval mode (no dropout draws: the
    iteration needs one fixed loss); the model's mode and weights are left as they were.
    """
    import torch

    if not params:
        return None, 0
    roots = None if scales is None else [s**0.5 for s in scales]
    was_training = model.training
    model.eval()
    try:
        grads = torch.autograd.grad(loss(), params, create_graph=True)
        generator = torch.Generator(device="cpu").manual_seed(0)
        v = [torch.randn(p.shape, generator=generator).to(p) for p in params]
        estimate, passes = None, 1
        for _ in range(POWER_ITERATIONS):
            passes += 2
            norm = torch.sqrt(_dot(v, v))
            v = [t / norm for t in v]
            w = v if roots is None else [t * r for t, r in zip(v, roots)]
            hv = list(torch.autograd.grad(grads, params, grad_outputs=w, retain_graph=True))
            hv = hv if roots is None else [t * r for t, r in zip(hv, roots)]
            quotient = float(_dot(v, hv))
            if not math.isfinite(quotient):
                return None, passes
            done = estimate is not None and abs(quotient - estimate) <= POWER_TOLERANCE * abs(quotient)
            estimate, v = quotient, [t.detach() for t in hv]
            if done:
                break
    finally:
        model.train(was_training)
    return (estimate if estimate is not None and estimate > 0 else None), passes


def _dot(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> torch.Tensor:
    """Σ (x · y) over paired tensors, summed left to right as ``sum()`` would (the lists are not empty)."""
    total = (xs[0] * ys[0]).sum()
    for a, b in zip(xs[1:], ys[1:]):
        total = total + (a * b).sum()
    return total


def edge_factor(optimizer: torch.optim.Optimizer) -> float | None:
    """lr_edge × λ for the optimizer's update rule; None where no such edge exists (adaptive methods).

    Every param group must share the rule (momentum, dampening, nesterov); their LRs may differ.
    """
    import torch

    if type(optimizer) is not torch.optim.SGD:
        return None
    rules = {(g.get("momentum", 0.0), g.get("dampening", 0.0), bool(g.get("nesterov"))) for g in optimizer.param_groups}
    if len(rules) != 1:
        return None
    ((mu, dampening, nesterov),) = rules
    if mu == 0:
        return 2.0
    if dampening:
        return None
    return 2 * (1 + mu) / (1 + 2 * mu) if nesterov else 2 * (1 + mu)


def stability_edge(model, optimizer, loss_fn, x, y) -> tuple[float | None, float | None, int]:
    """(edge LR, sharpness, passes) on the batch (x, y) at the current weights; (None, None, 0) without an edge.

    Give it one training batch: the Hessian one step of SGD sees (for full-batch gradient descent, the
    exact one), at the cost of ``passes`` backward passes of that batch.
    """
    return edge_of(model, optimizer, lambda: loss_fn(model(x), y))


def edge_of(
    model, optimizer, loss: Callable[[], torch.Tensor], ratios: list[float] | None = None
) -> tuple[float | None, float | None, int]:
    """(edge LR, sharpness, passes) of ``loss()`` (one batch's loss) in the optimizer's parameters.

    ``ratios``: each param group's LR over the reference LR (the one the edge is given in); the
    Hessian is then scaled by them (:func:`sharpness_of`). (None, None, 0) without an edge.
    """
    factor = edge_factor(optimizer)
    if factor is None:
        return None, None, 0
    ratios = ratios or [1.0] * len(optimizer.param_groups)
    pairs = [(p, r) for g, r in zip(optimizer.param_groups, ratios) for p in g["params"] if p.requires_grad]
    scales = None if all(r == 1.0 for _, r in pairs) else [r for _, r in pairs]
    lam, passes = sharpness_of(model, loss, [p for p, _ in pairs], scales)
    return (factor / lam if lam else None), lam, passes
