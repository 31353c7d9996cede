"""prepro_core: Keras' preprocessing layers as pure, jittable JAX transforms.

Every transform is a factory returning a :class:`Transform` (a NamedTuple of
pure functions ``init/adapt/merge/apply``) whose state is a pytree.
"""

# The contract.
from prepro_core._src.base import adapt
from prepro_core._src.base import chain
from prepro_core._src.base import ChainState
from prepro_core._src.base import EmptyState
from prepro_core._src.base import get_vocabulary
from prepro_core._src.base import Transform
from prepro_core._src.device_transfer import to_device

# Numeric and categorical.
from prepro_core._src.category_encoding import category_encoding
from prepro_core._src.discretization import discretization
from prepro_core._src.discretization import DiscretizationState
from prepro_core._src.normalization import normalization
from prepro_core._src.normalization import NormalizationState
from prepro_core._src.rescaling import rescaling
from prepro_core._src.rescaling import RescalingState

# Lookups and strings (host-side string handling).
from prepro_core._src.integer_lookup import integer_lookup
from prepro_core._src.integer_lookup import IntegerLookupState
from prepro_core._src.string_lookup import string_lookup
from prepro_core._src.string_lookup import StringLookupState
from prepro_core._src.strings import save_vocabulary
from prepro_core._src.text_vectorization import text_vectorization
from prepro_core._src.text_vectorization import TextVectorizationState

# Hashing.
from prepro_core._src.hashing import hashed_crossing
from prepro_core._src.hashing import hashing

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
