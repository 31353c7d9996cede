"""prepro_core: Keras' preprocessing layers as pure, jittable JAX transforms.

Every transform is a factory returning a :class:`Transform` (a NamedTuple of
pure functions ``init/adapt/merge/apply``) whose state is a pytree.
"""

# The contract.
from prepro_core._src.core.adapt import adapt
from prepro_core._src.core.checks import HostOnlyError
from prepro_core._src.core.chain import chain
from prepro_core._src.core.chain import ChainState
from prepro_core._src.core.device_transfer import to_device
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import Transform
from prepro_core import distributed  # pc.distributed.adapt: multi-process

# Numeric and categorical.
from prepro_core._src.numeric.category_encoding import category_encoding
from prepro_core._src.numeric.discretization import discretization
from prepro_core._src.numeric.discretization import DiscretizationState
from prepro_core._src.numeric.normalization import normalization
from prepro_core._src.numeric.normalization import NormalizationState
from prepro_core._src.numeric.rescaling import rescaling
from prepro_core._src.numeric.rescaling import RescalingState

# Lookups and strings (strings become integers on the host).
from prepro_core._src.host.kernels.backend import host_kernels
from prepro_core._src.host.inputs import pack_strings
from prepro_core._src.host.packed import StringBatch
from prepro_core._src.lookup.integer_lookup import integer_lookup
from prepro_core._src.lookup.integer_lookup import IntegerLookupState
from prepro_core._src.lookup.string_lookup import string_lookup
from prepro_core._src.lookup.string_lookup import StringLookupState
from prepro_core._src.lookup.table import save_vocabulary
from prepro_core._src.lookup.text_vectorization import text_vectorization
from prepro_core._src.lookup.table import get_vocabulary
from prepro_core._src.lookup.text_vectorization import TextVectorizationState

# Hashing.
from prepro_core._src.hashing.hashing import hashed_crossing
from prepro_core._src.hashing.hashing import hashing

# Structured data: a dict of raw columns to one feature vector.
from prepro_core._src.structured.feature_space import feature_space
from prepro_core._src.structured.feature_space import FeatureSpaceState
from prepro_core._src.structured.split import predict_fn
from prepro_core._src.structured.split import split_host_device

# Input pipelines (pc.grain, the grain adapter, is imported on first use).
from prepro_core._src.pipeline.records import loader_fn

# Images.
from prepro_core._src.image.geometric import random_elastic_transform
from prepro_core._src.image.geometric import random_flip
from prepro_core._src.image.geometric import random_perspective
from prepro_core._src.image.geometric import random_rotation
from prepro_core._src.image.geometric import random_shear
from prepro_core._src.image.geometric import random_translation
from prepro_core._src.image.geometric import random_zoom
from prepro_core._src.image.sizing import center_crop
from prepro_core._src.image.sizing import random_crop
from prepro_core._src.image.sizing import resizing
from prepro_core._src.image.color import auto_contrast
from prepro_core._src.image.color import equalization
from prepro_core._src.image.color import random_brightness
from prepro_core._src.image.color import random_color_degeneration
from prepro_core._src.image.color import random_color_jitter
from prepro_core._src.image.color import random_contrast
from prepro_core._src.image.color import random_grayscale
from prepro_core._src.image.color import random_hue
from prepro_core._src.image.color import random_invert
from prepro_core._src.image.color import random_posterization
from prepro_core._src.image.color import random_saturation
from prepro_core._src.image.color import random_sharpness
from prepro_core._src.image.color import solarization
from prepro_core._src.image.erasing_blur import random_erasing
from prepro_core._src.image.erasing_blur import random_gaussian_blur
from prepro_core._src.image.mixing import cut_mix
from prepro_core._src.image.mixing import mix_up
from prepro_core._src.image.policies import aug_mix
from prepro_core._src.image.policies import rand_augment

__version__ = "0.1.0"

__all__ = [
    "adapt",
    "HostOnlyError",
    "chain",
    "ChainState",
    "to_device",
    "EmptyState",
    "Transform",
    "distributed",
    "category_encoding",
    "discretization",
    "DiscretizationState",
    "normalization",
    "NormalizationState",
    "rescaling",
    "RescalingState",
    "host_kernels",
    "pack_strings",
    "StringBatch",
    "integer_lookup",
    "IntegerLookupState",
    "string_lookup",
    "StringLookupState",
    "save_vocabulary",
    "text_vectorization",
    "get_vocabulary",
    "TextVectorizationState",
    "hashed_crossing",
    "hashing",
    "random_elastic_transform",
    "random_flip",
    "random_perspective",
    "random_rotation",
    "random_shear",
    "random_translation",
    "random_zoom",
    "center_crop",
    "random_crop",
    "resizing",
    "auto_contrast",
    "equalization",
    "random_brightness",
    "random_color_degeneration",
    "random_color_jitter",
    "random_contrast",
    "random_grayscale",
    "random_hue",
    "random_invert",
    "random_posterization",
    "random_saturation",
    "random_sharpness",
    "solarization",
    "random_erasing",
    "random_gaussian_blur",
    "cut_mix",
    "mix_up",
    "aug_mix",
    "rand_augment",
    "loader_fn",
    "feature_space",
    "FeatureSpaceState",
    "predict_fn",
    "split_host_device",
]


def __getattr__(name):
  # `pc.grain` and `pc.beam` import their optional extra on first use only, so
  # that `import prepro_core` stays free of them. Not in __all__ for the same
  # reason.
  if name in ("grain", "beam"):
    import importlib  # pylint: disable=g-import-not-at-top
    return importlib.import_module(f"prepro_core.{name}")
  raise AttributeError(f"module 'prepro_core' has no attribute {name!r}")
