"""Bad input into the image transforms (issue 13): prepro's own errors, and
one rule for empty batches, checked over every image factory of pc.__all__.

The rules (prepro_core/_src/image/common.py):

* a batch of 0 images gives the empty result: what a batch gives, with 0
  rows, in the same dtypes, eagerly and under jit (``common.apply_batch``);
* an image of height or width 0 is refused: ValueError naming `images`;
* images that are not an array of ints or floats (strings, None, complex,
  bool, ragged nested lists) are refused: TypeError naming `images`;
* in Keras' dict form, `labels`, `segmentation_masks` and `bounding_boxes`
  must go with the images (batch; masks also height and width);
* `key` is one PRNG key (``core.checks.check_key``), in every random image
  transform and in ``chain``;
* mix_up/cut_mix mix float one-hot or soft labels only.

JAX_TRACEBACK_FILTERING is off (conftest.py), so an error raised by JAX
cannot pass for prepro's: each test also checks the message.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from _factories import FACTORIES
from _factories import sample as _sample
from _factories import transform

KEY = jax.random.key(0)
IMAGE = [e for e in FACTORIES if e.image]
RANDOM = [e for e in IMAGE if e.random]
MIXING = {"mix_up", "cut_mix"}
# A fused geometric run: chain resamples it once (resampling.fused_apply).
FUSED = lambda: pc.chain(pc.random_flip(), pc.random_rotation(0.1))


def test_every_image_factory_is_walked():
  def module(name):
    f = getattr(pc, name)
    return getattr(getattr(f, "__wrapped__", f), "__module__", None) or ""
  image_modules = {n for n in pc.__all__ if n[0].islower() and
                   module(n).startswith("prepro_core._src.image")}
  assert image_modules == {e.name for e in IMAGE}, (
      image_modules ^ {e.name for e in IMAGE})


def _apply(t, x, key=KEY):
  return t.apply(pc.EmptyState(), x, key=key)


def _inputs(entry, images, labels=None):
  """``images`` in the form ``entry``'s transform takes (mixing: a dict)."""
  if entry.name not in MIXING:
    return images
  if labels is None:
    n = np.shape(images)[0] if np.ndim(images) == 4 else 1
    labels = np.eye(max(n, 1), dtype=np.float32)[:n]
  return {"images": images, "labels": labels}


def _head(x, n):
  """The first ``n`` examples of a sample (every leaf has the batch axis)."""
  return jax.tree.map(lambda a: np.asarray(a)[:n], x)


# --------------------------------------------------------------------------
# Empty batches: the empty result, eager and jitted.
# --------------------------------------------------------------------------


def _check_empty(out, want):
  assert jax.tree.structure(out) == jax.tree.structure(want)
  for o, w in zip(jax.tree.leaves(out), jax.tree.leaves(want)):
    assert o.shape == (0,) + tuple(w.shape[1:]), (o.shape, w.shape)
    assert o.dtype == w.dtype, (o.dtype, w.dtype)


@pytest.mark.parametrize("entry", IMAGE, ids=repr)
def test_a_batch_of_zero_images_gives_the_empty_result(entry):
  t = transform(entry)
  x0, x1 = _head(_sample(entry), 0), _head(_sample(entry), 1)
  s = t.init(x0)  # an empty sample is a valid sample
  for key in ([KEY, None] if entry.random else [None]):
    f = lambda x, key=key: t.apply(s, x, key=key)
    want = jax.eval_shape(f, x1)   # what a batch of one gives
    _check_empty(f(x0), want)
    _check_empty(jax.jit(f)(x0), want)


def test_a_batch_of_zero_images_through_a_fused_chain():
  t = FUSED()
  x0 = np.zeros((0, 8, 8, 3), np.uint8)
  for f in (t.apply, jax.jit(t.apply)):
    out = f(t.init(x0), x0, key=KEY)
    assert out.shape == (0, 8, 8, 3) and out.dtype == np.uint8
  data = {"images": np.zeros((0, 8, 8, 3), np.float32),
          "labels": np.zeros((0,), np.int32),
          "segmentation_masks": np.zeros((0, 8, 8), np.int32)}
  out = t.apply(t.init(data), data, key=KEY)
  assert {k: (v.shape, v.dtype) for k, v in out.items()} == {
      k: (v.shape, v.dtype) for k, v in data.items()}


# --------------------------------------------------------------------------
# Zero-size images, wrong rank, wrong kind: refused, naming the argument.
# --------------------------------------------------------------------------

ZERO_SIZE = [(2, 0, 5, 3), (2, 5, 0, 3), (0, 0, 3), (0, 0, 0, 3)]


@pytest.mark.parametrize("entry", IMAGE, ids=repr)
def test_zero_size_images_are_refused(entry):
  t = transform(entry)
  for shape in ZERO_SIZE:
    x = _inputs(entry, np.zeros(shape, np.float32))
    with pytest.raises(ValueError,
                       match="`images` must have height and width >= 1"):
      _apply(t, x)
    with pytest.raises(ValueError, match="`sample` must have height and width"):
      t.init(x)
  with pytest.raises(ValueError, match="`images` must have height and width"):
    jax.jit(lambda x: _apply(t, x))(_inputs(entry, jnp.zeros((2, 0, 4, 3))))


@pytest.mark.parametrize("entry", IMAGE, ids=repr)
def test_images_of_the_wrong_rank_are_refused(entry):
  t = transform(entry)
  for shape in [(4, 4), (2, 2, 4, 4, 3), ()]:
    with pytest.raises(ValueError, match="`images` must have rank 3"):
      _apply(t, _inputs(entry, np.zeros(shape, np.float32)))


RAGGED = [[[[0.0] * 3] * 4] * 4, [[[0.0] * 3] * 4] * 3]   # 2 images: 4 and 3 rows
NOT_NUMBERS = {
    "strings": (np.full((2, 4, 4, 3), "a"), "dtype <U1.*decode"),
    "none": (None, "got None"),
    "complex": (np.zeros((2, 4, 4, 3), np.complex64), "complex64.*real part"),
    "bool": (np.zeros((2, 4, 4, 3), bool), "dtype bool.*astype"),
    "ragged": (RAGGED, "ints or floats"),
    "objects": (np.array([object()] * 2), "real numbers"),
}


@pytest.mark.parametrize("entry", IMAGE, ids=repr)
@pytest.mark.parametrize("kind", sorted(NOT_NUMBERS))
def test_images_that_are_not_real_numbers_are_refused(entry, kind):
  t = transform(entry)
  images, detail = NOT_NUMBERS[kind]
  x = _inputs(entry, images, labels=np.eye(2, dtype=np.float32))
  with pytest.raises(TypeError, match=f"{entry.name}: `images` must .*{detail}"):
    _apply(t, x)
  with pytest.raises(TypeError, match=f"{entry.name}: `sample` must"):
    t.init(x)


def test_nested_lists_of_numbers_are_still_images():
  t = pc.random_crop(2, 2)
  nested = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
  np.testing.assert_array_equal(t.apply(None, nested.tolist(), key=KEY),
                                t.apply(None, nested, key=KEY))


# --------------------------------------------------------------------------
# Keras' dict form: the parts must go with the images.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("entry", IMAGE, ids=repr)
def test_a_dict_sample_without_images_is_refused(entry):
  t = transform(entry)
  with pytest.raises(ValueError, match="`sample` must be images or a dict "
                     "with an 'images' entry"):
    t.init({"labels": np.eye(2, dtype=np.float32)})
  with pytest.raises(ValueError, match="'images' entry"):
    _apply(t, {"labels": np.eye(2, dtype=np.float32)})


def _dict(entry, **parts):
  images = np.zeros((2, 8, 8, 3), np.float32)
  return {"images": images, "labels": np.eye(2, dtype=np.float32), **parts}


@pytest.mark.parametrize("entry", IMAGE, ids=repr)
def test_labels_must_have_one_row_per_image(entry):
  t = transform(entry)
  x = _dict(entry)
  x["labels"] = np.eye(3, dtype=np.float32)
  with pytest.raises(ValueError, match="`labels` must have one row per image"):
    _apply(t, x)


@pytest.mark.parametrize("entry", IMAGE, ids=repr)
def test_segmentation_masks_must_match_the_images(entry):
  t = transform(entry)
  for shape in [(2, 8, 7), (2, 7, 8, 1), (3, 8, 8, 1), (8, 8), (2, 8, 8, 1, 1)]:
    x = _dict(entry, segmentation_masks=np.zeros(shape, np.int32))
    with pytest.raises(ValueError, match="`segmentation_masks` must have the "
                       "images' batch, height and width"):
      _apply(t, x)
  x = _dict(entry, segmentation_masks=np.full((2, 8, 8), "a"))
  with pytest.raises(TypeError, match="`segmentation_masks` must hold numbers"):
    _apply(t, x)


@pytest.mark.parametrize("entry", [e for e in IMAGE if e.name not in MIXING],
                         ids=repr)
def test_bounding_boxes_must_match_the_images(entry):
  t = transform(entry)
  boxes = {"boxes": np.zeros((3, 1, 4), np.float32)}    # 3 batches of boxes
  with pytest.raises(ValueError, match=r"`bounding_boxes\['boxes'\]` must "
                     "have the images' batch"):
    _apply(t, _dict(entry, bounding_boxes=boxes))
  boxes = {"boxes": np.zeros((2, 1, 4), np.float32),
           "labels": np.zeros((2, 3), np.int32)}
  with pytest.raises(ValueError, match=r"`bounding_boxes\['labels'\]` must "
                     "have one label per box"):
    _apply(t, _dict(entry, bounding_boxes=boxes))
  with pytest.raises(ValueError, match="`bounding_boxes` must be a dict"):
    _apply(t, _dict(entry, bounding_boxes=np.zeros((2, 1, 4))))


def test_rank_3_masks_of_a_batch_flip_with_their_images():
  # (batch, h, w) masks were taken for one (h, w, c) image and flipped along
  # the wrong axes; every transform now reads them as the batch's masks.
  x = np.random.default_rng(0).uniform(size=(4, 5, 6, 1)).astype(np.float32)
  masks = (x[..., 0] > 0.5).astype(np.int32)
  for t in (pc.random_flip(), pc.random_rotation(0.2, interpolation="nearest"),
            pc.random_crop(3, 4), pc.resizing(7, 9, interpolation="nearest")):
    with_channel = t.apply(None, {"images": x, "segmentation_masks": masks[
        ..., None]}, key=KEY)["segmentation_masks"]
    out = t.apply(None, {"images": x, "segmentation_masks": masks},
                  key=KEY)["segmentation_masks"]
    np.testing.assert_array_equal(out, with_channel[..., 0])


# --------------------------------------------------------------------------
# `key`: one PRNG key, in every random image transform and in chain.
# --------------------------------------------------------------------------

BAD_KEYS = {
    "int": (0, TypeError, "got the int 0; pass jax.random.key"),
    "float array": (np.zeros(2, np.float32), TypeError, "dtype float32"),
    "batch of keys": (jax.random.split(KEY, 2), ValueError, "batch of keys"),
    "batch of raw keys": (jax.random.split(jax.random.PRNGKey(0), 2),
                          ValueError, "batch of raw keys"),
    "string": ("0", TypeError, "got str"),
}


@pytest.mark.parametrize("entry", RANDOM, ids=repr)
@pytest.mark.parametrize("bad", sorted(BAD_KEYS))
def test_key_must_be_a_single_prng_key(entry, bad):
  t = transform(entry)
  key, error, detail = BAD_KEYS[bad]
  with pytest.raises(error, match=f"{entry.name}: `key` must be a single PRNG "
                     f"key from jax.random.key.*{detail}"):
    t.apply(pc.EmptyState(), _sample(entry), key=key)


@pytest.mark.parametrize("bad", sorted(BAD_KEYS))
def test_chain_checks_its_key_before_splitting_it(bad):
  t = FUSED()
  key, error, detail = BAD_KEYS[bad]
  x = np.zeros((2, 8, 8, 3), np.float32)
  with pytest.raises(error, match=f"`key` must be a single PRNG key.*{detail}"):
    t.apply(t.init(x), x, key=key)


def test_raw_keys_are_keys():
  t = pc.random_flip()
  x = np.arange(2 * 3 * 4 * 1, dtype=np.float32).reshape(2, 3, 4, 1)
  raw = jax.random.PRNGKey(3)
  np.testing.assert_array_equal(t.apply(None, x, key=raw),
                                jax.jit(lambda k: t.apply(None, x, key=k))(raw))


# --------------------------------------------------------------------------
# mix_up / cut_mix: float one-hot or soft labels.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MIXING))
def test_mixing_needs_float_labels(name):
  t = getattr(pc, name)()
  x = np.zeros((4, 6, 6, 3), np.float32)
  cases = [(np.array([0, 1, 2, 3]), "One-hot integer class ids first"),
           (np.eye(4, dtype=np.int32), "One-hot integer class ids first"),
           (np.array(["cat", "dog", "cat", "dog"]), "pc.string_lookup"),
           (np.zeros(4, np.complex64), "complex64")]
  for labels, detail in cases:
    data = {"images": x, "labels": labels}
    with pytest.raises(TypeError, match=f"{name}: `labels` must be float "
                       f"one-hot or soft labels.*{detail}"):
      t.apply(None, data, key=KEY)
    with pytest.raises(TypeError, match="`labels` must be float"):
      t.init(data)
