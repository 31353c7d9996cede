"""prepro_flax.linen: Keras' preprocessing layers as Flax Linen modules.

Each module's fields are the arguments of its ``prepro_core`` factory
(Keras' names and defaults); random modules add a ``deterministic`` field.
State lives in the ``"preprocessing"`` collection, randomness comes from the
``"augment"`` rng:

  >>> import jax, numpy as np, flax.linen as nn, prepro_flax.linen
  >>> class Model(nn.Module):
  ...   @nn.compact
  ...   def __call__(self, x):
  ...     x = prepro_flax.linen.Normalization()(x)
  ...     return nn.Dense(1)(x)
  >>> x = np.random.default_rng(0).normal(5.0, 2.0, (64, 4)).astype(np.float32)
  >>> model = Model()
  >>> variables = model.init(jax.random.key(0), x[:1])
  >>> variables = prepro_flax.linen.adapt(model, variables, x)  # fills "preprocessing"
  >>> state = variables["preprocessing"]["Normalization_0"]["state"]
  >>> bool(np.allclose(state.mean, x.mean(axis=0))), model.apply(variables, x).shape
  (True, (64, 1))

Optimise only ``variables["params"]``: the ``"preprocessing"`` collection is
state, not parameters.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Sequence

import prepro_core as pc

from prepro_flax._src.common import NotAdaptedError
from prepro_flax._src.linen_base import adapt
from prepro_flax._src.linen_base import COLLECTION
from prepro_flax._src.linen_base import PreprocessingModule
from prepro_flax._src.linen_base import RNG

__all__ = ["adapt", "COLLECTION", "NotAdaptedError", "PreprocessingModule",
           "RNG", "get_vocabulary"]

_HOST = (" Runs on the host (NumPy): apply it outside ``jit`` (in the input "
         "pipeline, or un-jitted at the start of an inference function).")


def get_vocabulary(layer_variables: dict) -> list:
  """Keras' ``get_vocabulary()`` for a lookup module's variables.

  Args:
    layer_variables: the module's entry in the ``"preprocessing"``
      collection, e.g. ``variables["preprocessing"]["StringLookup_0"]``.
  """
  return pc.get_vocabulary(layer_variables["state"])


def _module(keras_name: str,
            factory: Callable[..., pc.Transform],
            constants: Sequence[str] = (),
            *,
            random: bool = False,
            doc_extra: str = "") -> type:
  """Builds the Linen module class for one core factory: a dataclass field
  per factory argument (same name, same default)."""
  params = inspect.signature(factory).parameters.values()
  annotations, defaults, names = {}, {}, []
  for p in params:
    if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
      raise TypeError(f"{keras_name}: factories with *args/**kwargs cannot "
                      f"become Linen fields.")
    if p.name in ("name", "parent", "deterministic"):
      raise TypeError(f"{keras_name}: argument {p.name!r} clashes with a "
                      f"Linen field.")
    annotations[p.name] = Any
    names.append(p.name)
    if p.default is not p.empty:
      defaults[p.name] = p.default
  if random:
    annotations["deterministic"] = Optional[bool]
    defaults["deterministic"] = None
  field_names = tuple(names)

  def make_transform(self):
    return factory(**{n: getattr(self, n) for n in field_names})

  doc = (f"Keras' ``{keras_name}`` as a Linen module, over "
         f"``prepro_core.{factory.__name__}`` (see it for the fields, which "
         f"are Keras' arguments).{doc_extra}")
  if random:
    doc += (" Random: reads the ``\"augment\"`` rng unless "
            "``deterministic`` (field or call argument) is true.")
  namespace = {
      "__annotations__": annotations,
      "__module__": __name__,
      "__qualname__": keras_name,
      "__doc__": doc,
      "constants": tuple(constants),
      "make_transform": make_transform,
      **defaults,
  }
  return type(keras_name, (PreprocessingModule,), namespace)


# Numeric and categorical.
Normalization = _module("Normalization", pc.normalization, ("mean", "variance"))
Rescaling = _module("Rescaling", pc.rescaling)
Discretization = _module("Discretization", pc.discretization, ("bin_boundaries",))
CategoryEncoding = _module("CategoryEncoding", pc.category_encoding)

# Lookups and strings.
StringLookup = _module("StringLookup", pc.string_lookup, ("vocabulary",), doc_extra=_HOST)

IntegerLookup = _module("IntegerLookup", pc.integer_lookup, ("vocabulary",),
                        doc_extra=_HOST)
TextVectorization = _module("TextVectorization", pc.text_vectorization,
                            ("vocabulary",), doc_extra=_HOST)

# Hashing.
Hashing = _module("Hashing", pc.hashing, doc_extra=_HOST)
HashedCrossing = _module("HashedCrossing", pc.hashed_crossing, doc_extra=_HOST)

# Images: sizing.
Resizing = _module("Resizing", pc.resizing)
CenterCrop = _module("CenterCrop", pc.center_crop)
RandomCrop = _module("RandomCrop", pc.random_crop, random=True)

# Images: geometric augmentation.
RandomFlip = _module("RandomFlip", pc.random_flip, random=True)
RandomRotation = _module("RandomRotation", pc.random_rotation, random=True)
RandomZoom = _module("RandomZoom", pc.random_zoom, random=True)
RandomTranslation = _module("RandomTranslation", pc.random_translation, random=True)
RandomShear = _module("RandomShear", pc.random_shear, random=True)
RandomPerspective = _module("RandomPerspective", pc.random_perspective, random=True)
RandomElasticTransform = _module("RandomElasticTransform",
                                 pc.random_elastic_transform, random=True)

# Images: colour.
AutoContrast = _module("AutoContrast", pc.auto_contrast)
Equalization = _module("Equalization", pc.equalization, random=True)
RandomBrightness = _module(
    "RandomBrightness", pc.random_brightness, random=True)
RandomColorDegeneration = _module(
    "RandomColorDegeneration", pc.random_color_degeneration, random=True)
RandomColorJitter = _module(
    "RandomColorJitter", pc.random_color_jitter, random=True)
RandomContrast = _module("RandomContrast", pc.random_contrast, random=True)
RandomGrayscale = _module("RandomGrayscale", pc.random_grayscale, random=True)
RandomHue = _module("RandomHue", pc.random_hue, random=True)
RandomInvert = _module("RandomInvert", pc.random_invert, random=True)
RandomPosterization = _module(
    "RandomPosterization", pc.random_posterization, random=True)
RandomSaturation = _module(
    "RandomSaturation", pc.random_saturation, random=True)
RandomSharpness = _module("RandomSharpness", pc.random_sharpness, random=True)
Solarization = _module("Solarization", pc.solarization, random=True)

# Images: erasing and blur.
RandomErasing = _module("RandomErasing", pc.random_erasing, random=True)
RandomGaussianBlur = _module(
    "RandomGaussianBlur", pc.random_gaussian_blur, random=True)

# Images: mixing and policies.
MixUp = _module("MixUp", pc.mix_up, random=True)
CutMix = _module("CutMix", pc.cut_mix, random=True)
RandAugment = _module("RandAugment", pc.rand_augment, random=True)
AugMix = _module("AugMix", pc.aug_mix, random=True)
