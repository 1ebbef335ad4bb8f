"""``load_model``: a kept ``model.pt`` back as an ``nn.Module`` with its weights."""

from __future__ import annotations

from pathlib import Path

from lrsweep.errors import RunDirError


def load_model(run_dir: str | Path, variant: str | None = None, device="cpu"):
    """The trained module of a run, weights loaded, in eval mode, on ``device`` (the CPU unless told otherwise).

    Args:
        run_dir: a run directory.
        variant: None: the retrained winner (``retrain/model.pt``; without a retrain, the best variant's
            own weights when the run kept them with ``save: all``); ``"best"``: the best variant's own
            weights; ``"retrain"``; or a variant id (``variants/<id>/model.pt``, kept with ``save: all``).
        device: where to put the module (``"cpu"``, ``"cuda:0"``, a ``torch.device``).

    Raises:
        RunDirError: no such run, no such weights, or a model.pt that is damaged or not lrsweep's.
    """
    from lrsweep.api.runs import load_summary, open_run
    from lrsweep.run.store import RETRAIN_ID
    from lrsweep.run.weights import build_module

    store = open_run(run_dir)
    if variant is None or variant == "best":
        best = (load_summary(store).get("best") or {}).get("id") if store.read_find() is None else None
        if variant is None and (store.has_model(RETRAIN_ID) or best is None):
            variant = RETRAIN_ID
        elif best is None:
            raise RunDirError(f"{store.path} has no best variant (nothing finished)")
        elif variant is None and not store.has_model(best):
            raise RunDirError(
                f"no saved weights in {store.path}: neither retrain/model.pt (kept with save: best or "
                f"all, and retrain: true) nor the best variant's variants/{best}/model.pt (save: all)"
            )
        else:
            variant = best
    elif variant != RETRAIN_ID and variant not in store.variant_ids():
        known = ", ".join(store.variant_ids()) or "none"
        raise RunDirError(f"{store.path} has no variant {variant!r} (variants: {known})")
    payload = store.read_model(variant)
    return build_module(payload, str(store.variant_dir(variant) / "model.pt"), device=device)
