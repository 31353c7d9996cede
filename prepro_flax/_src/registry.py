"""The one table of prepro_flax layers, read by the NNX and Linen wrappers.

Each :class:`Layer` row names a Keras preprocessing layer and the
``prepro_core`` factory it wraps; ``nnx_layers.py`` turns every row into an
NNX class and ``linen.py`` into a Linen module, and both packages export
them under the Keras name. Adding a layer to prepro_flax is adding a row
here (``tests/test_flax_registry.py`` checks that every public core factory
has one, or is listed in :data:`NOT_LAYERS`).

The ``random`` and ``host`` columns repeat what the core transform reports
(``is_random``, ``on_host``) because the wrappers need them when the class
is defined, before any transform exists (Linen's ``deterministic`` field,
the docstrings); the registry test checks that they agree.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

import prepro_core as pc


class Layer(NamedTuple):
  """One preprocessing layer, as both wrappers build it.

  Attributes:
    name: Keras' class name, used for the NNX class and the Linen module.
    factory: the ``prepro_core`` factory; its arguments (Keras' names and
      defaults) become the NNX constructor's and the Linen fields.
    constants: the factory arguments that make an adaptable layer ready
      without ``adapt`` (e.g. ``("mean", "variance")``).
    random: the transform draws random numbers: NNX layers take ``rngs`` and
      ``deterministic``, Linen modules get a ``deterministic`` field.
    host: the transform runs on the host (strings, NumPy), outside ``jit``.
    vocabulary_sample: for lookup layers, a sample of the input kind
      (strings or ints) to build the state from a given vocabulary; the NNX
      layer then gets ``get_vocabulary()`` / ``vocabulary_size()`` (Linen
      has ``prepro_flax.linen.get_vocabulary``).
    example: a self-contained doctest (``>>>`` lines and their output) for
      the NNX class docstring. Empty for a random image layer means the
      standard augmentation example, built from ``example_args``: training
      changes the images and ``.eval()`` returns them unchanged.
    example_args: the layer's arguments in that standard example, as source
      text (e.g. ``'"horizontal"'``).
  """

  name: str
  factory: Callable[..., pc.Transform]
  constants: tuple[str, ...] = ()
  random: bool = False
  host: bool = False
  vocabulary_sample: Any = None
  example: str = ""
  example_args: str = ""


# Public functions of prepro_core that are not layers.
NOT_LAYERS = frozenset({
    "adapt",            # the adapt driver (layers have their own `adapt`)
    "chain",            # composition; NNX/Linen compose modules instead
    "to_device",        # input-pipeline transfer, not a transform
    "host_kernels",     # the NumPy/numba switch for host kernels
    "get_vocabulary",   # a state accessor: VocabularyMixin / linen.get_vocabulary
    "save_vocabulary",  # writes a lookup state's vocabulary file
    "loader_fn",        # wraps a transform for loader workers (torch, multiprocessing)
    "feature_space",    # a hand-written layer: prepro_flax.FeatureSpace
    "split_host_device",  # cuts a transform in two; not a layer
    "predict_fn",       # host then jitted device + model; pf.predict_fn for NNX
    "pack_strings",     # packs strings for the host transforms (pc.StringBatch)
})


# NNX layers written by hand (prepro_flax/_src/feature_space.py). Not in
# Linen: there `init` fixes the parameter shapes before `adapt` has learnt
# the vocabularies that size a FeatureSpace's output.
HAND_WRITTEN = frozenset({"FeatureSpace"})


LAYERS: tuple[Layer, ...] = (
    # Numeric and categorical.
    Layer("Normalization", pc.normalization, ("mean", "variance"), example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.Normalization(axis=None)
        >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32))
        >>> np.asarray(layer(np.array([1.0, 2.0, 3.0], np.float32)))
        array([-1.4142135 , -0.70710677,  0.        ], dtype=float32)"""),
    Layer("Rescaling", pc.rescaling, example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.Rescaling(scale=1 / 127.5, offset=-1.0)
        >>> np.asarray(layer(np.array([[0.0, 127.5, 255.0]], np.float32)))
        array([[-1.,  0.,  1.]], dtype=float32)"""),
    Layer("Discretization", pc.discretization, ("bin_boundaries",), example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
        >>> x = np.float32([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
        >>> np.asarray(layer(x)).tolist()
        [[0, 2, 3, 1], [1, 3, 2, 1]]"""),
    Layer("CategoryEncoding", pc.category_encoding, example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.CategoryEncoding(4, output_mode="multi_hot")
        >>> np.asarray(layer(np.array([[0, 1], [0, 0], [1, 2], [3, 1]])))
        array([[1., 1., 0., 0.],
               [1., 0., 0., 0.],
               [0., 1., 1., 0.],
               [0., 1., 0., 1.]], dtype=float32)"""),

    # Lookups and strings.
    Layer("StringLookup", pc.string_lookup, ("vocabulary",), host=True,
          vocabulary_sample=np.array([""]), example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.StringLookup()
        >>> layer.adapt(np.array(["a", "b", "b", "c", "c", "c"]))
        >>> layer.get_vocabulary()                 # OOV, then by count
        ['[UNK]', 'c', 'b', 'a']
        >>> np.asarray(layer(np.array(["c", "a", "z"]))).tolist()
        [1, 3, 0]"""),
    Layer("IntegerLookup", pc.integer_lookup, ("vocabulary",), host=True,
          vocabulary_sample=np.zeros((1,), np.int32), example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.IntegerLookup(vocabulary=[12, 36, 1138, 42])
        >>> np.asarray(layer(np.array([[12, 1138, 42], [42, 1000, 36]]))).tolist()
        [[1, 3, 4], [4, 0, 2]]
        >>> layer.vocabulary_size()                # OOV index 0 included
        5"""),
    Layer("TextVectorization", pc.text_vectorization, ("vocabulary",),
          host=True, vocabulary_sample=np.array([""]), example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.TextVectorization(
        ...     vocabulary=["earth", "wind", "and", "fire"],
        ...     output_sequence_length=5)
        >>> y = layer(np.array(["Earth, wind and fire!", "fire water"]))
        >>> np.asarray(y).tolist()                 # 0: padding, 1: OOV
        [[2, 3, 4, 5, 0], [5, 1, 0, 0, 0]]"""),

    # Hashing.
    Layer("Hashing", pc.hashing, host=True, example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.Hashing(num_bins=3)
        >>> x = np.array([["A"], ["B"], ["C"], ["D"], ["E"]])
        >>> np.asarray(layer(x)).ravel().tolist()
        [1, 0, 1, 1, 2]"""),
    Layer("HashedCrossing", pc.hashed_crossing, host=True, example="""
        >>> import numpy as np, prepro_flax
        >>> layer = prepro_flax.HashedCrossing(num_bins=5)
        >>> x = (np.array(["A", "B", "A", "B", "A"]),
        ...      np.array([101, 101, 101, 102, 102]))
        >>> np.asarray(layer(x)).tolist()
        [1, 4, 1, 1, 3]"""),

    # Images: sizing.
    Layer("Resizing", pc.resizing, example="""
        >>> import numpy as np, prepro_flax
        >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
        >>> prepro_flax.Resizing(16, 16)(x).shape
        (2, 16, 16, 3)"""),
    Layer("CenterCrop", pc.center_crop, example="""
        >>> import numpy as np, prepro_flax
        >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
        >>> y = np.asarray(prepro_flax.CenterCrop(4, 4)(x))
        >>> y.shape, bool((y == x[:, 2:6, 2:6]).all())
        ((2, 4, 4, 3), True)"""),
    Layer("RandomCrop", pc.random_crop, random=True, example="""
        >>> import numpy as np, flax.nnx as nnx, prepro_flax
        >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
        >>> layer = prepro_flax.RandomCrop(4, 4, rngs=nnx.Rngs(augment=0))
        >>> layer(x).shape                 # training: a random window per image
        (2, 4, 4, 3)
        >>> layer.eval()                   # inference: the centre window
        >>> bool((np.asarray(layer(x)) == x[:, 2:6, 2:6]).all())
        True"""),

    # Images: geometric augmentation.
    Layer("RandomFlip", pc.random_flip, random=True,
          example_args='"horizontal"'),
    Layer("RandomRotation", pc.random_rotation, random=True,
          example_args="0.1"),
    Layer("RandomZoom", pc.random_zoom, random=True, example_args="0.2"),
    Layer("RandomTranslation", pc.random_translation, random=True,
          example_args="0.1, 0.1"),
    Layer("RandomShear", pc.random_shear, random=True,
          example_args="x_factor=0.2"),
    Layer("RandomPerspective", pc.random_perspective, random=True,
          example_args="(1.0, 1.0), 0.2"),
    Layer("RandomElasticTransform", pc.random_elastic_transform, random=True),

    # Images: colour.
    Layer("AutoContrast", pc.auto_contrast, example="""
        >>> import numpy as np, prepro_flax
        >>> x = np.array([50.0, 100.0, 150.0], np.float32).reshape(1, 1, 3, 1)
        >>> np.round(np.asarray(prepro_flax.AutoContrast()(x)), 4).ravel()
        array([  0. , 127.5, 255. ], dtype=float32)"""),
    Layer("Equalization", pc.equalization, random=True),
    Layer("RandomBrightness", pc.random_brightness, random=True,
          example_args="0.2"),
    Layer("RandomColorDegeneration", pc.random_color_degeneration,
          random=True, example_args="0.5"),
    Layer("RandomColorJitter", pc.random_color_jitter, random=True,
          example_args="brightness_factor=0.2"),
    Layer("RandomContrast", pc.random_contrast, random=True,
          example_args="0.2"),
    Layer("RandomGrayscale", pc.random_grayscale, random=True,
          example_args="1.0"),
    Layer("RandomHue", pc.random_hue, random=True, example_args="0.5"),
    Layer("RandomInvert", pc.random_invert, random=True),
    Layer("RandomPosterization", pc.random_posterization, random=True,
          example_args="4"),
    Layer("RandomSaturation", pc.random_saturation, random=True,
          example_args="0.5"),
    Layer("RandomSharpness", pc.random_sharpness, random=True,
          example_args="0.5"),
    Layer("Solarization", pc.solarization, random=True),

    # Images: erasing and blur.
    Layer("RandomErasing", pc.random_erasing, random=True),
    Layer("RandomGaussianBlur", pc.random_gaussian_blur, random=True),

    # Images: mixing and policies.
    Layer("MixUp", pc.mix_up, random=True, example="""
        >>> import numpy as np, flax.nnx as nnx, prepro_flax
        >>> images = np.indices((4, 8, 8, 3), np.float32)[0]  # image i is all i
        >>> batch = {"images": images, "labels": np.eye(4, dtype=np.float32)}
        >>> out = prepro_flax.MixUp(rngs=nnx.Rngs(augment=0))(batch)
        >>> mean = out["images"].mean(axis=(1, 2, 3))  # mixed as the labels are:
        >>> bool(np.allclose(mean, out["labels"] @ np.arange(4)))
        True"""),
    Layer("CutMix", pc.cut_mix, random=True, example="""
        >>> import numpy as np, flax.nnx as nnx, prepro_flax
        >>> images = np.indices((4, 8, 8, 3), np.float32)[0]  # image i is all i
        >>> batch = {"images": images, "labels": np.eye(4, dtype=np.float32)}
        >>> out = prepro_flax.CutMix(rngs=nnx.Rngs(augment=0))(batch)
        >>> [np.unique(im).tolist() for im in np.asarray(out["images"])]
        [[0.0], [1.0], [1.0, 2.0], [2.0, 3.0]]"""),
    Layer("RandAugment", pc.rand_augment, random=True),
    Layer("AugMix", pc.aug_mix, random=True),
)
