"""NNX layers with Keras' class names, each a few lines over a core factory.

Every class takes the arguments of its ``prepro_core`` factory (Keras'
names and defaults); random ones also take ``rngs`` (an ``nnx.Rngs``, whose
``augment`` stream is used) and ``deterministic``.
"""

from __future__ import annotations

import inspect
import textwrap
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


def _doc(keras_name: str, factory_name: str, extra: str = "",
         example: str = "") -> str:
  """A layer's class docstring; ``example`` is a self-contained doctest
  (``>>>`` lines and their output), shown under "Example:"."""
  doc = (f"Keras' ``{keras_name}`` as an NNX layer, over "
         f"``prepro_core.{factory_name}`` (see it for the arguments, which "
         f"are Keras' names and defaults).{extra}")
  if example:
    body = textwrap.indent(textwrap.dedent(example).strip("\n"), "    ")
    doc += f"\n\n  Example:\n{body}\n"
  return doc


def _random_image_doc(keras_name: str, factory_name: str,
                      args: str = "") -> str:
  """``_doc`` of a random image layer that is the identity at inference.

  Its example builds ``keras_name(args, rngs=nnx.Rngs(augment=0))``
  (``args`` as source text): training changes the images, and after
  ``.eval()`` the layer returns them unchanged.
  """
  args = f"{args}, " if args else ""
  return _doc(keras_name, factory_name, _RANDOM, example=f"""
      >>> import numpy as np, flax.nnx as nnx, prepro_flax
      >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
      >>> layer = prepro_flax.{keras_name}({args}rngs=nnx.Rngs(augment=0))
      >>> y = np.asarray(layer(x))       # training: draws from rngs["augment"]
      >>> layer.eval()                   # inference, as for nnx.Dropout
      >>> y.shape, bool((y != x).any()), bool((np.asarray(layer(x)) == x).all())
      ((2, 8, 8, 3), True, True)""")


_HOST = (" Runs on the host (NumPy): call it outside ``jit``, e.g. in the "
         "input pipeline or in the first, un-jitted line of an inference "
         "function; everything after it runs on device.")
_RANDOM = (" Random: draws from ``rngs`` (the ``augment`` stream) or a "
           "``key=`` given at call time while training; the inference "
           "behaviour after ``.eval()`` or with ``deterministic=True``.")


# Numeric and categorical.
class Normalization(KerasLayer):
  __doc__ = _doc("Normalization", "normalization", example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.Normalization(axis=None)
      >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32))
      >>> np.asarray(layer(np.array([1.0, 2.0, 3.0], np.float32)))
      array([-1.4142135 , -0.70710677,  0.        ], dtype=float32)""")
  factory = staticmethod(pc.normalization)
  constant_args = ("mean", "variance")


class Rescaling(KerasLayer):
  __doc__ = _doc("Rescaling", "rescaling", example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.Rescaling(scale=1 / 127.5, offset=-1.0)
      >>> np.asarray(layer(np.array([[0.0, 127.5, 255.0]], np.float32)))
      array([[-1.,  0.,  1.]], dtype=float32)""")
  factory = staticmethod(pc.rescaling)


class Discretization(KerasLayer):
  __doc__ = _doc("Discretization", "discretization", example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
      >>> x = np.float32([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
      >>> np.asarray(layer(x)).tolist()
      [[0, 2, 3, 1], [1, 3, 2, 1]]""")
  factory = staticmethod(pc.discretization)
  constant_args = ("bin_boundaries",)


class CategoryEncoding(KerasLayer):
  __doc__ = _doc("CategoryEncoding", "category_encoding", example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.CategoryEncoding(4, output_mode="multi_hot")
      >>> np.asarray(layer(np.array([[0, 1], [0, 0], [1, 2], [3, 1]])))
      array([[1., 1., 0., 0.],
             [1., 0., 0., 0.],
             [0., 1., 1., 0.],
             [0., 1., 0., 1.]], dtype=float32)""")
  factory = staticmethod(pc.category_encoding)


# Lookups and strings.
class StringLookup(VocabularyMixin, KerasLayer):
  __doc__ = _doc("StringLookup", "string_lookup", _HOST, example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.StringLookup()
      >>> layer.adapt(np.array(["a", "b", "b", "c", "c", "c"]))
      >>> layer.get_vocabulary()                 # OOV, then by count
      ['[UNK]', 'c', 'b', 'a']
      >>> np.asarray(layer(np.array(["c", "a", "z"]))).tolist()
      [1, 3, 0]""")
  factory = staticmethod(pc.string_lookup)
  constant_args = ("vocabulary",)


class IntegerLookup(VocabularyMixin, KerasLayer):
  __doc__ = _doc("IntegerLookup", "integer_lookup", _HOST, example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.IntegerLookup(vocabulary=[12, 36, 1138, 42])
      >>> np.asarray(layer(np.array([[12, 1138, 42], [42, 1000, 36]]))).tolist()
      [[1, 3, 4], [4, 0, 2]]
      >>> layer.vocabulary_size()                # OOV index 0 included
      5""")
  factory = staticmethod(pc.integer_lookup)
  constant_args = ("vocabulary",)
  vocabulary_sample = np.zeros((1,), np.int32)


class TextVectorization(VocabularyMixin, KerasLayer):
  __doc__ = _doc("TextVectorization", "text_vectorization", _HOST, example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.TextVectorization(
      ...     vocabulary=["earth", "wind", "and", "fire"],
      ...     output_sequence_length=5)
      >>> y = layer(np.array(["Earth, wind and fire!", "fire water"]))
      >>> np.asarray(y).tolist()                 # 0: padding, 1: OOV
      [[2, 3, 4, 5, 0], [5, 1, 0, 0, 0]]""")
  factory = staticmethod(pc.text_vectorization)
  constant_args = ("vocabulary",)


# Hashing.
class Hashing(KerasLayer):
  __doc__ = _doc("Hashing", "hashing", _HOST, example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.Hashing(num_bins=3)
      >>> x = np.array([["A"], ["B"], ["C"], ["D"], ["E"]])
      >>> np.asarray(layer(x)).ravel().tolist()
      [1, 0, 1, 1, 2]""")
  factory = staticmethod(pc.hashing)


class HashedCrossing(KerasLayer):
  __doc__ = _doc("HashedCrossing", "hashed_crossing", _HOST, example="""
      >>> import numpy as np, prepro_flax
      >>> layer = prepro_flax.HashedCrossing(num_bins=5)
      >>> x = (np.array(["A", "B", "A", "B", "A"]),
      ...      np.array([101, 101, 101, 102, 102]))
      >>> np.asarray(layer(x)).tolist()
      [1, 4, 1, 1, 3]""")
  factory = staticmethod(pc.hashed_crossing)


# Images: sizing.
class Resizing(KerasLayer):
  __doc__ = _doc("Resizing", "resizing", example="""
      >>> import numpy as np, prepro_flax
      >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
      >>> prepro_flax.Resizing(16, 16)(x).shape
      (2, 16, 16, 3)""")
  factory = staticmethod(pc.resizing)


class CenterCrop(KerasLayer):
  __doc__ = _doc("CenterCrop", "center_crop", example="""
      >>> import numpy as np, prepro_flax
      >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
      >>> y = np.asarray(prepro_flax.CenterCrop(4, 4)(x))
      >>> y.shape, bool((y == x[:, 2:6, 2:6]).all())
      ((2, 4, 4, 3), True)""")
  factory = staticmethod(pc.center_crop)


class RandomCrop(KerasLayer):
  __doc__ = _doc("RandomCrop", "random_crop", _RANDOM, example="""
      >>> import numpy as np, flax.nnx as nnx, prepro_flax
      >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
      >>> layer = prepro_flax.RandomCrop(4, 4, rngs=nnx.Rngs(augment=0))
      >>> layer(x).shape                 # training: a random window per image
      (2, 4, 4, 3)
      >>> layer.eval()                   # inference: the centre window
      >>> bool((np.asarray(layer(x)) == x[:, 2:6, 2:6]).all())
      True""")
  factory = staticmethod(pc.random_crop)


# Images: geometric augmentation.
class RandomFlip(KerasLayer):
  __doc__ = _random_image_doc("RandomFlip", "random_flip", '"horizontal"')
  factory = staticmethod(pc.random_flip)


class RandomRotation(KerasLayer):
  __doc__ = _random_image_doc("RandomRotation", "random_rotation", "0.1")
  factory = staticmethod(pc.random_rotation)


class RandomZoom(KerasLayer):
  __doc__ = _random_image_doc("RandomZoom", "random_zoom", "0.2")
  factory = staticmethod(pc.random_zoom)


class RandomTranslation(KerasLayer):
  __doc__ = _random_image_doc("RandomTranslation", "random_translation",
                              "0.1, 0.1")
  factory = staticmethod(pc.random_translation)


class RandomShear(KerasLayer):
  __doc__ = _random_image_doc("RandomShear", "random_shear", "x_factor=0.2")
  factory = staticmethod(pc.random_shear)


class RandomPerspective(KerasLayer):
  __doc__ = _random_image_doc("RandomPerspective", "random_perspective",
                              "(1.0, 1.0), 0.2")
  factory = staticmethod(pc.random_perspective)


class RandomElasticTransform(KerasLayer):
  __doc__ = _random_image_doc(
      "RandomElasticTransform", "random_elastic_transform")
  factory = staticmethod(pc.random_elastic_transform)


# Images: colour.
class AutoContrast(KerasLayer):
  __doc__ = _doc("AutoContrast", "auto_contrast", example="""
      >>> import numpy as np, prepro_flax
      >>> x = np.array([50.0, 100.0, 150.0], np.float32).reshape(1, 1, 3, 1)
      >>> np.round(np.asarray(prepro_flax.AutoContrast()(x)), 4).ravel()
      array([  0. , 127.5, 255. ], dtype=float32)""")
  factory = staticmethod(pc.auto_contrast)


class Equalization(KerasLayer):
  __doc__ = _random_image_doc("Equalization", "equalization")
  factory = staticmethod(pc.equalization)


class RandomBrightness(KerasLayer):
  __doc__ = _random_image_doc("RandomBrightness", "random_brightness", "0.2")
  factory = staticmethod(pc.random_brightness)


class RandomColorDegeneration(KerasLayer):
  __doc__ = _random_image_doc(
      "RandomColorDegeneration", "random_color_degeneration", "0.5")
  factory = staticmethod(pc.random_color_degeneration)


class RandomColorJitter(KerasLayer):
  __doc__ = _random_image_doc("RandomColorJitter", "random_color_jitter",
                              "brightness_factor=0.2")
  factory = staticmethod(pc.random_color_jitter)


class RandomContrast(KerasLayer):
  __doc__ = _random_image_doc("RandomContrast", "random_contrast", "0.2")
  factory = staticmethod(pc.random_contrast)


class RandomGrayscale(KerasLayer):
  __doc__ = _random_image_doc("RandomGrayscale", "random_grayscale", "1.0")
  factory = staticmethod(pc.random_grayscale)


class RandomHue(KerasLayer):
  __doc__ = _random_image_doc("RandomHue", "random_hue", "0.5")
  factory = staticmethod(pc.random_hue)


class RandomInvert(KerasLayer):
  __doc__ = _random_image_doc("RandomInvert", "random_invert")
  factory = staticmethod(pc.random_invert)


class RandomPosterization(KerasLayer):
  __doc__ = _random_image_doc("RandomPosterization", "random_posterization",
                              "4")
  factory = staticmethod(pc.random_posterization)


class RandomSaturation(KerasLayer):
  __doc__ = _random_image_doc("RandomSaturation", "random_saturation", "0.5")
  factory = staticmethod(pc.random_saturation)


class RandomSharpness(KerasLayer):
  __doc__ = _random_image_doc("RandomSharpness", "random_sharpness", "0.5")
  factory = staticmethod(pc.random_sharpness)


class Solarization(KerasLayer):
  __doc__ = _random_image_doc("Solarization", "solarization")
  factory = staticmethod(pc.solarization)


# Images: erasing and blur.
class RandomErasing(KerasLayer):
  __doc__ = _random_image_doc("RandomErasing", "random_erasing")
  factory = staticmethod(pc.random_erasing)


class RandomGaussianBlur(KerasLayer):
  __doc__ = _random_image_doc("RandomGaussianBlur", "random_gaussian_blur")
  factory = staticmethod(pc.random_gaussian_blur)


# Images: mixing and policies.
class MixUp(KerasLayer):
  __doc__ = _doc("MixUp", "mix_up", _RANDOM, example="""
      >>> import numpy as np, flax.nnx as nnx, prepro_flax
      >>> images = np.indices((4, 8, 8, 3), np.float32)[0]  # image i is all i
      >>> batch = {"images": images, "labels": np.eye(4, dtype=np.float32)}
      >>> out = prepro_flax.MixUp(rngs=nnx.Rngs(augment=0))(batch)
      >>> mean = out["images"].mean(axis=(1, 2, 3))  # mixed as the labels are:
      >>> bool(np.allclose(mean, out["labels"] @ np.arange(4)))
      True""")
  factory = staticmethod(pc.mix_up)


class CutMix(KerasLayer):
  __doc__ = _doc("CutMix", "cut_mix", _RANDOM, example="""
      >>> import numpy as np, flax.nnx as nnx, prepro_flax
      >>> images = np.indices((4, 8, 8, 3), np.float32)[0]  # image i is all i
      >>> batch = {"images": images, "labels": np.eye(4, dtype=np.float32)}
      >>> out = prepro_flax.CutMix(rngs=nnx.Rngs(augment=0))(batch)
      >>> [np.unique(im).tolist() for im in np.asarray(out["images"])]
      [[0.0], [1.0], [1.0, 2.0], [2.0, 3.0]]""")
  factory = staticmethod(pc.cut_mix)


class RandAugment(KerasLayer):
  __doc__ = _random_image_doc("RandAugment", "rand_augment")
  factory = staticmethod(pc.rand_augment)


class AugMix(KerasLayer):
  __doc__ = _random_image_doc("AugMix", "aug_mix")
  factory = staticmethod(pc.aug_mix)
