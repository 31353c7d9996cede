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

# Layers.
from prepro_flax._src.nnx_layers import AugMix
from prepro_flax._src.nnx_layers import AutoContrast
from prepro_flax._src.nnx_layers import CategoryEncoding
from prepro_flax._src.nnx_layers import CenterCrop
from prepro_flax._src.nnx_layers import CutMix
from prepro_flax._src.nnx_layers import Discretization
from prepro_flax._src.nnx_layers import Equalization
from prepro_flax._src.nnx_layers import HashedCrossing
from prepro_flax._src.nnx_layers import Hashing
from prepro_flax._src.nnx_layers import IntegerLookup
from prepro_flax._src.nnx_layers import KerasLayer
from prepro_flax._src.nnx_layers import MixUp
from prepro_flax._src.nnx_layers import Normalization
from prepro_flax._src.nnx_layers import RandAugment
from prepro_flax._src.nnx_layers import RandomBrightness
from prepro_flax._src.nnx_layers import RandomColorDegeneration
from prepro_flax._src.nnx_layers import RandomColorJitter
from prepro_flax._src.nnx_layers import RandomContrast
from prepro_flax._src.nnx_layers import RandomCrop
from prepro_flax._src.nnx_layers import RandomElasticTransform
from prepro_flax._src.nnx_layers import RandomErasing
from prepro_flax._src.nnx_layers import RandomFlip
from prepro_flax._src.nnx_layers import RandomGaussianBlur
from prepro_flax._src.nnx_layers import RandomGrayscale
from prepro_flax._src.nnx_layers import RandomHue
from prepro_flax._src.nnx_layers import RandomInvert
from prepro_flax._src.nnx_layers import RandomPerspective
from prepro_flax._src.nnx_layers import RandomPosterization
from prepro_flax._src.nnx_layers import RandomRotation
from prepro_flax._src.nnx_layers import RandomSaturation
from prepro_flax._src.nnx_layers import RandomSharpness
from prepro_flax._src.nnx_layers import RandomShear
from prepro_flax._src.nnx_layers import RandomTranslation
from prepro_flax._src.nnx_layers import RandomZoom
from prepro_flax._src.nnx_layers import Rescaling
from prepro_flax._src.nnx_layers import Resizing
from prepro_flax._src.nnx_layers import Solarization
from prepro_flax._src.nnx_layers import StringLookup
from prepro_flax._src.nnx_layers import TextVectorization
