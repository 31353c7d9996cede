"""prepro_flax: Flax (NNX and Linen) modules wrapping prepro_core transforms.

NNX layers live here (``prepro_flax.Normalization``...); Linen modules in
:mod:`prepro_flax.linen`. Each layer is a thin shell over a core transform:
its state is a :class:`PreprocessingState` (never an ``nnx.Param``), random
layers draw from the ``augment`` rng stream.
"""

# The machinery.
from prepro_flax._src.checkpoint import restore
from prepro_flax._src.checkpoint import save
from prepro_flax._src.common import NotAdaptedError
from prepro_flax._src.nnx_base import PreprocessingLayer
from prepro_flax._src.nnx_base import PreprocessingState
from prepro_flax._src.orbax_state import orbax_restore
from prepro_flax._src.orbax_state import orbax_state

# Layers: one class per row of prepro_flax/_src/registry.py, under Keras' name.
from prepro_flax._src import nnx_layers as _nnx_layers
from prepro_flax._src.nnx_layers import KerasLayer

globals().update(_nnx_layers.LAYERS)

# Hand-written layers (see their modules for why they are not registry rows).
from prepro_flax._src.feature_space import FeatureSpace
from prepro_flax._src.feature_space import predict_fn

__all__ = [
    "restore",
    "save",
    "NotAdaptedError",
    "PreprocessingLayer",
    "PreprocessingState",
    "orbax_restore",
    "orbax_state",
    "KerasLayer",
    "FeatureSpace",
    "predict_fn",
    *_nnx_layers.LAYERS,
]
