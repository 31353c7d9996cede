"""One entry per public factory of ``prepro_core``: how to build it and feed it.

Shared by test_transform_contract.py (the contract every transform keeps) and
test_api_conventions.py (naming and typing conventions over ``pc.__all__``).
A new factory in ``pc.__all__`` needs an entry here, or
``test_every_factory_has_an_entry`` fails.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import numpy as np

import prepro_core as pc

# The public functions of ``pc.__all__`` that are not factories.
NON_FACTORIES = frozenset(
    {"adapt", "to_device", "host_kernels", "save_vocabulary", "get_vocabulary",
     "loader_fn", "split_host_device", "predict_fn", "distributed",
     "pack_strings"})


@dataclasses.dataclass(frozen=True)
class Entry:
  """How one factory is built and exercised by the contract test.

  Attributes:
    name: the factory's name in ``pc.__all__``.
    make: builds the transform (ready to apply from ``init``, or adaptable).
    sample: builds a small batch of the right kind.
    random: whether the transform draws from ``key`` (``t.is_random``).
    jittable: whether ``apply`` (and, for adaptable device transforms,
      ``adapt``/``merge``) can be traced by ``jit`` on ``sample``. Only
      ``on_host`` transforms may say False.
    vmap: ``"rows"``: ``vmap`` over the leading axis of ``sample`` equals
      applying to the batch (the transform maps each example on its own);
      ``"stack"``: ``vmap`` over a stack of two batches (one key each) equals
      one call per batch (random transforms draw per example, so vmapping one
      batch's examples is not the batch's draw); None: not vmappable (host).
    inference: random transforms, ``key=None``: ``"same"``: returns its input
      itself (every leaf ``is`` the input's); ``"identity"``: returns equal
      values; a callable ``(sample) -> expected``: the deterministic variant.
    key_independent: random transforms whose output does not depend on which
      key is given (only on whether one is).
    same_examples: how many leading examples of ``sample`` are identical: a
      random transform must draw different parameters for them.
    atol: tolerance of eager vs jit/vmap/sharded: a number, or a dict from
      the sample's dict keys to numbers.
    out_shape: the output's shape when it is not the input's (images only).
    value_range: images: the output must stay within this range.
    merge_atol: adaptable: tolerance of merged vs whole-data states.
  """
  name: str
  make: Callable[[], pc.Transform]
  sample: Callable[[], Any]
  random: bool = False
  jittable: bool = True
  vmap: Optional[str] = "rows"
  inference: Any = None
  key_independent: bool = False
  same_examples: int = 0
  atol: Any = 1e-6
  out_shape: Optional[tuple] = None
  value_range: Optional[tuple] = None
  merge_atol: float = 0.0

  @property
  def image(self) -> bool:
    return self.random or self.name in IMAGE_DETERMINISTIC

  def __repr__(self):
    return self.name


COLUMNS = {"x": np.array([1.0, 2.0, 4.0, 8.0], np.float32),
           "n": np.array([3, 1, 3, 2]), "s": np.array(["a", "b", "a", "c"])}

IMAGE_DETERMINISTIC = {"resizing", "center_crop", "auto_contrast"}


# --------------------------------------------------------------------------
# Samples (NumPy, not jax.random: a rank-4 jax.random draw costs ~1 s of
# compiling). Eight examples: one per simulated device when sharded.
# --------------------------------------------------------------------------

def images(shape, high, same=6, seed=0):
  """Uniform [0, high) float32 images; the first ``same`` are identical."""
  x = np.random.default_rng(seed).uniform(0, high, shape).astype(np.float32)
  x[:same] = x[0]
  return x


def numbers(seed=0, shape=(12, 3)):
  return (np.random.default_rng(seed).normal(size=shape) * 3 + 2).astype(
      np.float32)


def mixing_batch():
  x = images((8, 6, 7, 3), 255.0, same=0, seed=1)
  return {"images": x,
          "labels": np.eye(8, dtype=np.float32),  # example i is class i
          "segmentation_masks": (x[..., 0] > 128).astype(np.int32)}


TOKENS = np.array([["a", "b", "c"], ["b", "c", "d"], ["c", "d", "e"],
                   ["a", "a", "f"], ["x", "b", "c"], ["d", "d", "e"]])
INTS = np.array([[12, 36, 1138], [42, 7, 12], [36, 36, 42], [1138, 12, 12],
                 [7, 7, 99], [42, 12, 36]], np.int32)
SENTENCES = np.array(["The cat sat.", "the dog, the cat!", "A bird sang",
                      "dogs and cats", "The END", "sat sang sat"])

geo = lambda: images((8, 12, 12, 3), 1.0)     # the geometric transforms'
col = lambda: images((8, 8, 9, 3), 255.0)     # the colour/pixel transforms'
pol = lambda: images((8, 10, 12, 3), 255.0)   # rand_augment/aug_mix's


def _geometric(name, make):
  return Entry(name, make, geo, random=True, vmap="stack", inference="same",
               same_examples=6, atol=1e-5)


def _color(name, make, **kw):
  kw = {"inference": "identity", "same_examples": 6, "atol": 2e-3,
        "value_range": (0, 255), **kw}
  return Entry(name, make, col, random=True, vmap="stack", **kw)


def _centre_crop_6x7(x):
  return pc.center_crop(6, 7).apply(None, x)


FACTORIES = [
    # The contract and composition.
    Entry("chain", lambda: pc.chain(pc.rescaling(0.5, 1.0), pc.normalization()),
          numbers, merge_atol=1e-5),
    # Numeric and categorical.
    Entry("category_encoding", lambda: pc.category_encoding(6),
          lambda: np.array([[0, 1, 5], [2, 2, 3], [4, 0, 0], [5, 5, 1]],
                           np.int32)),
    Entry("discretization", lambda: pc.discretization(num_bins=4), numbers),
    Entry("normalization", lambda: pc.normalization(), numbers,
          merge_atol=1e-5),
    Entry("rescaling", lambda: pc.rescaling(1 / 255, offset=-1.0), numbers),
    # Lookups and strings.
    Entry("integer_lookup", lambda: pc.integer_lookup(), lambda: INTS),
    Entry("string_lookup", lambda: pc.string_lookup(), lambda: TOKENS,
          jittable=False, vmap=None),
    Entry("text_vectorization", lambda: pc.text_vectorization(),
          lambda: SENTENCES, jittable=False, vmap=None),
    # Hashing: strings on the host, integers on the device.
    Entry("hashing", lambda: pc.hashing(16), lambda: TOKENS, jittable=False,
          vmap=None),
    Entry("hashed_crossing", lambda: pc.hashed_crossing(16),
          lambda: (INTS[:, 0], INTS[:, 1])),
    # Structured data: a dict of columns.
    Entry("feature_space", lambda: pc.feature_space(
        {"x": "float_normalized", "n": "integer_categorical",
         "s": "string_categorical"}, crosses=[("n", "s")]),
          lambda: COLUMNS, jittable=False, vmap=None, merge_atol=1e-6),
    # Images: geometric.
    _geometric("random_flip", lambda: pc.random_flip()),
    _geometric("random_rotation", lambda: pc.random_rotation(0.2)),
    _geometric("random_zoom", lambda: pc.random_zoom(0.3, 0.2)),
    _geometric("random_translation", lambda: pc.random_translation(0.2, 0.2)),
    _geometric("random_shear", lambda: pc.random_shear(0.3, 0.3)),
    _geometric("random_perspective", lambda: pc.random_perspective(1.0, 0.5)),
    _geometric("random_elastic_transform",
               lambda: pc.random_elastic_transform(1.0, 1.0,
                                                   value_range=(0, 1))),
    # Images: sizing.
    Entry("resizing", lambda: pc.resizing(6, 7), pol, atol=1e-4),
    Entry("center_crop", lambda: pc.center_crop(6, 7), pol),
    Entry("random_crop", lambda: pc.random_crop(6, 7),
          lambda: images((8, 10, 13, 3), 1.0), random=True, vmap="stack",
          inference=_centre_crop_6x7, same_examples=6, atol=0.0,
          out_shape=(8, 6, 7, 3)),
    # Images: colour and pixels.
    Entry("auto_contrast", lambda: pc.auto_contrast(), col, atol=1e-3),
    _color("equalization", lambda: pc.equalization(), key_independent=True),
    _color("random_brightness", lambda: pc.random_brightness(0.3)),
    _color("random_color_degeneration",
           lambda: pc.random_color_degeneration(0.8)),
    _color("random_color_jitter", lambda: pc.random_color_jitter(
        brightness_factor=0.2, contrast_factor=0.5, saturation_factor=0.5,
        hue_factor=0.3)),
    _color("random_contrast", lambda: pc.random_contrast(0.5)),
    _color("random_grayscale", lambda: pc.random_grayscale(0.5)),
    _color("random_hue", lambda: pc.random_hue(0.5)),
    _color("random_invert", lambda: pc.random_invert()),
    _color("random_posterization", lambda: pc.random_posterization(6)),
    _color("random_saturation", lambda: pc.random_saturation(0.8)),
    _color("random_sharpness", lambda: pc.random_sharpness(0.9)),
    _color("solarization", lambda: pc.solarization(0.5, 0.8)),
    _color("random_erasing", lambda: pc.random_erasing()),
    _color("random_gaussian_blur",
           lambda: pc.random_gaussian_blur(sigma=(0.5, 1.0))),
    # Images: mixing (a dict of images, labels and masks).
    Entry("cut_mix", lambda: pc.cut_mix(), mixing_batch, random=True,
          vmap="stack", inference="same",
          atol={"images": 1e-3, "labels": 1e-6, "segmentation_masks": 1e-3}),
    Entry("mix_up", lambda: pc.mix_up(alpha=0.4), mixing_batch, random=True,
          vmap="stack", inference="same",
          atol={"images": 1e-3, "labels": 1e-6, "segmentation_masks": 1e-3}),
    # Images: policies. (aug_mix: the 7-op list keeps the compile short; the
    # plumbing is the same. Bilinear weights may sum to 1 + ulp: no final
    # clip, as in Keras, hence the range's margin.)
    Entry("rand_augment", lambda: pc.rand_augment(), pol, random=True,
          vmap="stack", inference="identity", same_examples=6, atol=2e-2,
          value_range=(-1e-3, 255 + 1e-3)),
    Entry("aug_mix", lambda: pc.aug_mix(all_ops=False), pol, random=True,
          vmap="stack", inference="identity", same_examples=6, atol=2e-2,
          value_range=(-1e-3, 255 + 1e-3)),
]

BY_NAME = {e.name: e for e in FACTORIES}

_MADE = {}


def transform(entry: Entry) -> pc.Transform:
  """One instance per entry, shared by the tests: an instance jits its
  kernels once, so every check with the same shapes reuses the programs."""
  if entry.name not in _MADE:
    _MADE[entry.name] = entry.make()
  return _MADE[entry.name]


_SAMPLES = {}


def sample(entry: Entry) -> Any:
  if entry.name not in _SAMPLES:
    _SAMPLES[entry.name] = entry.sample()
  return _SAMPLES[entry.name]
