"""NNX layers with Keras' class names, each a few lines over a core factory.

Every class takes the arguments of its ``prepro_core`` factory (Keras'
names and defaults); random ones also take ``rngs`` (an ``nnx.Rngs``, whose
``augment`` stream is used) and ``deterministic``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

import prepro_core as pc

from prepro_flax._src.nnx_base import PreprocessingLayer
from prepro_flax._src.nnx_base import VocabularyMixin


class KerasLayer(PreprocessingLayer):
  """A layer built from a core factory and Keras' arguments.

  Subclasses set ``factory`` (the ``prepro_core`` function) and
  ``constant_args`` (the arguments that make an adaptable layer ready
  without ``adapt``).
  """

  factory: ClassVar[Callable[..., pc.Transform]]
  constant_args: ClassVar[Sequence[str]] = ()

  def __init__(self, *args, rngs=None, deterministic: bool = False, **kwargs):
    factory = type(self).factory
    bound = inspect.signature(factory).bind(*args, **kwargs)
    given = any(bound.arguments.get(c) is not None for c in self.constant_args)
    super().__init__(factory(*args, **kwargs),
                     constants=self.constant_args,
                     constants_given=given,
                     rngs=rngs,
                     deterministic=deterministic)

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    factory = cls.__dict__.get("factory")
    if factory is None:
      return
    factory = factory.__func__ if isinstance(factory, staticmethod) else factory
    # help(Layer) shows Keras' arguments (the factory's), plus the NNX ones.
    params = list(inspect.signature(factory).parameters.values())
    extra = [inspect.Parameter("rngs", inspect.Parameter.KEYWORD_ONLY, default=None),
             inspect.Parameter("deterministic", inspect.Parameter.KEYWORD_ONLY,
                               default=False)]
    kinds = {p.kind for p in params}
    if inspect.Parameter.VAR_KEYWORD in kinds:
      params = [p for p in params if p.kind != inspect.Parameter.VAR_KEYWORD]
    sig = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + params + extra)

    def __init__(self, *args, **kw):
      KerasLayer.__init__(self, *args, **kw)

    __init__.__signature__ = sig
    __init__.__doc__ = factory.__doc__
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    cls.__init__ = __init__


def _doc(keras_name: str, factory_name: str, extra: str = "") -> str:
  return (f"Keras' ``{keras_name}`` as an NNX layer, over "
          f"``prepro_core.{factory_name}`` (see it for the arguments, which "
          f"are Keras' names and defaults).{extra}")


_HOST = (" Runs on the host (NumPy): call it outside ``jit``, e.g. in the "
         "input pipeline or in the first, un-jitted line of an inference "
         "function; everything after it runs on device.")
_RANDOM = (" Random: draws from ``rngs`` (the ``augment`` stream) or a "
           "``key=`` given at call time while training; the inference "
           "behaviour after ``.eval()`` or with ``deterministic=True``.")


# Numeric and categorical.
class Normalization(KerasLayer):
  __doc__ = _doc("Normalization", "normalization")
  factory = staticmethod(pc.normalization)
  constant_args = ("mean", "variance")


class Rescaling(KerasLayer):
  __doc__ = _doc("Rescaling", "rescaling")
  factory = staticmethod(pc.rescaling)


class Discretization(KerasLayer):
  __doc__ = _doc("Discretization", "discretization")
  factory = staticmethod(pc.discretization)
  constant_args = ("bin_boundaries",)


class CategoryEncoding(KerasLayer):
  __doc__ = _doc("CategoryEncoding", "category_encoding")
  factory = staticmethod(pc.category_encoding)


# Lookups and strings.
class StringLookup(VocabularyMixin, KerasLayer):
  __doc__ = _doc("StringLookup", "string_lookup", _HOST)
  factory = staticmethod(pc.string_lookup)
  constant_args = ("vocabulary",)


class IntegerLookup(VocabularyMixin, KerasLayer):
  __doc__ = _doc("IntegerLookup", "integer_lookup", _HOST)
  factory = staticmethod(pc.integer_lookup)
  constant_args = ("vocabulary",)
  vocabulary_sample = np.zeros((1,), np.int32)


class TextVectorization(VocabularyMixin, KerasLayer):
  __doc__ = _doc("TextVectorization", "text_vectorization", _HOST)
  factory = staticmethod(pc.text_vectorization)
  constant_args = ("vocabulary",)


# Hashing.
class Hashing(KerasLayer):
  __doc__ = _doc("Hashing", "hashing", _HOST)
  factory = staticmethod(pc.hashing)


class HashedCrossing(KerasLayer):
  __doc__ = _doc("HashedCrossing", "hashed_crossing", _HOST)
  factory = staticmethod(pc.hashed_crossing)


# Images: sizing.
class Resizing(KerasLayer):
  __doc__ = _doc("Resizing", "resizing")
  factory = staticmethod(pc.resizing)


class CenterCrop(KerasLayer):
  __doc__ = _doc("CenterCrop", "center_crop")
  factory = staticmethod(pc.center_crop)


class RandomCrop(KerasLayer):
  __doc__ = _doc("RandomCrop", "random_crop", _RANDOM)
  factory = staticmethod(pc.random_crop)


# Images: geometric augmentation.
class RandomFlip(KerasLayer):
  __doc__ = _doc("RandomFlip", "random_flip", _RANDOM)
  factory = staticmethod(pc.random_flip)


class RandomRotation(KerasLayer):
  __doc__ = _doc("RandomRotation", "random_rotation", _RANDOM)
  factory = staticmethod(pc.random_rotation)


class RandomZoom(KerasLayer):
  __doc__ = _doc("RandomZoom", "random_zoom", _RANDOM)
  factory = staticmethod(pc.random_zoom)


class RandomTranslation(KerasLayer):
  __doc__ = _doc("RandomTranslation", "random_translation", _RANDOM)
  factory = staticmethod(pc.random_translation)


class RandomShear(KerasLayer):
  __doc__ = _doc("RandomShear", "random_shear", _RANDOM)
  factory = staticmethod(pc.random_shear)


class RandomPerspective(KerasLayer):
  __doc__ = _doc("RandomPerspective", "random_perspective", _RANDOM)
  factory = staticmethod(pc.random_perspective)


class RandomElasticTransform(KerasLayer):
  __doc__ = _doc("RandomElasticTransform", "random_elastic_transform", _RANDOM)
  factory = staticmethod(pc.random_elastic_transform)


# Images: colour.
class AutoContrast(KerasLayer):
  __doc__ = _doc("AutoContrast", "auto_contrast")
  factory = staticmethod(pc.auto_contrast)


class Equalization(KerasLayer):
  __doc__ = _doc("Equalization", "equalization", _RANDOM)
  factory = staticmethod(pc.equalization)


class RandomBrightness(KerasLayer):
  __doc__ = _doc("RandomBrightness", "random_brightness", _RANDOM)
  factory = staticmethod(pc.random_brightness)


class RandomColorDegeneration(KerasLayer):
  __doc__ = _doc("RandomColorDegeneration", "random_color_degeneration", _RANDOM)
  factory = staticmethod(pc.random_color_degeneration)


class RandomColorJitter(KerasLayer):
  __doc__ = _doc("RandomColorJitter", "random_color_jitter", _RANDOM)
  factory = staticmethod(pc.random_color_jitter)


class RandomContrast(KerasLayer):
  __doc__ = _doc("RandomContrast", "random_contrast", _RANDOM)
  factory = staticmethod(pc.random_contrast)


class RandomGrayscale(KerasLayer):
  __doc__ = _doc("RandomGrayscale", "random_grayscale", _RANDOM)
  factory = staticmethod(pc.random_grayscale)


class RandomHue(KerasLayer):
  __doc__ = _doc("RandomHue", "random_hue", _RANDOM)
  factory = staticmethod(pc.random_hue)


class RandomInvert(KerasLayer):
  __doc__ = _doc("RandomInvert", "random_invert", _RANDOM)
  factory = staticmethod(pc.random_invert)


class RandomPosterization(KerasLayer):
  __doc__ = _doc("RandomPosterization", "random_posterization", _RANDOM)
  factory = staticmethod(pc.random_posterization)


class RandomSaturation(KerasLayer):
  __doc__ = _doc("RandomSaturation", "random_saturation", _RANDOM)
  factory = staticmethod(pc.random_saturation)


class RandomSharpness(KerasLayer):
  __doc__ = _doc("RandomSharpness", "random_sharpness", _RANDOM)
  factory = staticmethod(pc.random_sharpness)


class Solarization(KerasLayer):
  __doc__ = _doc("Solarization", "solarization", _RANDOM)
  factory = staticmethod(pc.solarization)


# Images: erasing and blur.
class RandomErasing(KerasLayer):
  __doc__ = _doc("RandomErasing", "random_erasing", _RANDOM)
  factory = staticmethod(pc.random_erasing)


class RandomGaussianBlur(KerasLayer):
  __doc__ = _doc("RandomGaussianBlur", "random_gaussian_blur", _RANDOM)
  factory = staticmethod(pc.random_gaussian_blur)


# Images: mixing and policies.
class MixUp(KerasLayer):
  __doc__ = _doc("MixUp", "mix_up", _RANDOM)
  factory = staticmethod(pc.mix_up)


class CutMix(KerasLayer):
  __doc__ = _doc("CutMix", "cut_mix", _RANDOM)
  factory = staticmethod(pc.cut_mix)


class RandAugment(KerasLayer):
  __doc__ = _doc("RandAugment", "rand_augment", _RANDOM)
  factory = staticmethod(pc.rand_augment)


class AugMix(KerasLayer):
  __doc__ = _doc("AugMix", "aug_mix", _RANDOM)
  factory = staticmethod(pc.aug_mix)
