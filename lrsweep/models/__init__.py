"""Models by name: ``linear``, ``mlp``, ``cnn`` (:mod:`lrsweep.models.basic`), ``resnet``
(:mod:`lrsweep.models.resnet`) and ``package.module:factory``, in :mod:`lrsweep.models.registry`.

Every factory takes ``input_shape`` and ``output_size`` (inferred from the dataset) plus its
own options, and returns an ``nn.Module`` mapping a batch of inputs to logits/predictions.
"""

from lrsweep.models.basic import cnn, linear, mlp  # registers linear, mlp, cnn (in this order) ...
from lrsweep.models.registry import ACTIVATIONS, INFERRED, MODELS, build_model, check_model_options
from lrsweep.models.resnet import ResNet  # ... then resnet

__all__ = [
    "ACTIVATIONS",
    "INFERRED",
    "MODELS",
    "ResNet",
    "build_model",
    "check_model_options",
    "cnn",
    "linear",
    "mlp",
]
