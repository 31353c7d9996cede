"""Bad input, everywhere: every public factory walked through one shared list
of bad inputs (issue 13).

For each factory (tests/_factories.py's FACTORIES, plus ``EXTRA``: a fused
chain of geometric transforms) and each bad input that
applies to its family, ``init``/``adapt``/``apply`` (and ``pc.adapt``) either
keep the documented behaviour (a checked, sensible result: empty in, empty
out; a scalar is one example of a batch of one) or raise prepro's own error:

(a) a ``TypeError`` or ``ValueError`` (or a subclass),
(b) raised from prepro itself: the innermost traceback frame lies in
    ``prepro_core/`` or ``prepro_flax/`` (not in jax, numpy or msgpack; the
    suite runs with ``JAX_TRACEBACK_FILTERING=off``, see conftest.py),
(c) whose message names the transform and the argument, in backticks
    ("`where`: `argument` must ..., got ..."); a traced host transform's
    message says that it runs on the host instead.

A value is never accepted unchecked: each kind of input that may return one
says what the user expects of it.

What each family does with each kind of input is the table ``TABLE`` below;
``METHODS`` says which calls each kind goes through. The cases are counted by
``test_the_walk_covers_every_factory`` (``pytest -s`` prints the count).
Against the tree before issue 13's fixes, 466 of the cases fail.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
import prepro_flax as pf
from _factories import Entry
from _factories import FACTORIES
from _factories import geo
from _factories import sample as _sample
from _factories import transform

KEY = jax.random.key(0)
DEEP_RANK = 64  # NumPy's largest rank

# --------------------------------------------------------------------------
# Families: what kind of data a factory takes.
# --------------------------------------------------------------------------

# Beyond the public factories: a chain of geometric transforms, which fuses
# them into one resampling (its own code path).
EXTRA = [
    Entry("fused_chain", lambda: pc.chain(pc.random_flip(),
                                          pc.random_rotation(0.2)),
          geo, random=True, vmap="stack", inference="same"),
]
WALKED = FACTORIES + EXTRA

GEOMETRIC = {"random_flip", "random_rotation", "random_zoom",
             "random_translation", "random_shear", "random_perspective",
             "random_elastic_transform", "fused_chain"}
MIXING = {"cut_mix", "mix_up"}
STRING = {"string_lookup", "text_vectorization"}


def family(entry) -> str:
  if entry.name in MIXING:
    return "mixing"      # a dict of images, one-hot labels (and masks)
  if entry.name in GEOMETRIC:
    return "geometric"   # images (and masks, boxes) moved by a matrix
  if entry.image:
    return "image"       # the other image transforms
  if entry.name in STRING:
    return "string"      # strings only (on the host)
  if entry.name == "hashing":
    return "hashing"     # strings, or integers (hashed as decimal strings)
  if entry.name == "hashed_crossing":
    return "crossing"    # a tuple of integer or string features
  if entry.name == "feature_space":
    return "columns"     # a dict of columns (numbers and strings)
  return "numeric"       # arrays of numbers (integer_lookup: integers)


# --------------------------------------------------------------------------
# The table: for each kind of bad input and each family, what must happen.
#   R: prepro's error (a, b, c above);
#   V: a value, checked as the kind says;
#   E: either a checked value or prepro's error;
#   -: does not apply (the input is not bad for this family, or cannot be
#      built for it).
# --------------------------------------------------------------------------

R, V, E, _ = "raise", "value", "either", None
COLUMNS = ("numeric", "string", "hashing", "crossing", "image", "geometric",
           "mixing", "columns")
TABLE = {
    #                      num str hash cross img geo mix cols
    # Shape.
    "scalar":             (E,  E,  E,  E,   R,  R,  R,  E),  # 0-d: a batch of one
    "rank_64":            (E,  E,  E,  E,   R,  R,  R,  E),  # trailing 1s: same numbers
    "empty_batch":        (E,  E,  E,  E,   V,  V,  V,  E),  # empty in, empty out
    "ragged_rank_3":      (R,  R,  R,  R,   R,  R,  R,  R),  # nested lists of ragged rows
    "zero_size_images":   (_,  _,  _,  _,   E,  E,  E,  _),  # 0x0: nothing invented
    # Dtype and kind.
    "complex":            (R,  R,  R,  R,   R,  R,  R,  R),
    "none":               (R,  R,  R,  R,   R,  R,  R,  R),
    "strings":            (R,  _,  _,  _,   R,  R,  R,  R),  # strings into numbers
    "numbers":            (_,  R,  V,  _,   _,  _,  _,  _),  # ints into strings
    "none_in_strings":    (_,  R,  R,  R,   _,  _,  _,  _),  # a missing value
    "mixed_str_bytes":    (_,  V,  V,  V,   _,  _,  _,  _),  # as if all str
    # Values (adapt): statistics stay finite, or prepro refuses the data.
    "near_float32_max":   (E,  _,  _,  _,   _,  _,  _,  _),  # +-3e38: var overflows
    "nan_values":         (E,  _,  _,  _,   _,  _,  _,  _),
    # State.
    "foreign_state":      (R,  R,  R,  R,   R,  R,  R,  R),  # another transform's
    "foreign_chain_state": (R, R,  R,  R,   R,  R,  R,  R),  # a ChainState of wrong parts
    # Random transforms' key.
    "int_key":            (_,  _,  _,  _,   R,  R,  R,  _),
    "batch_of_keys":      (_,  _,  _,  _,   R,  R,  R,  _),
    # Image dicts.
    "dict_without_images": (_, _,  _,  _,   R,  R,  R,  _),
    "mask_size_mismatch": (_,  _,  _,  _,   _,  R,  R,  _),  # masks' H/W != images'
    "boxes_batch_mismatch": (_, _, _,  _,   _,  R,  _,  _),  # boxes' batch != images'
    "string_labels":      (_,  _,  _,  _,   _,  _,  R,  _),
    "int_labels":         (_,  _,  _,  _,   _,  _,  R,  _),  # class ids, not one-hot
    # Host transforms (``on_host``) under jit: a traced state or input.
    "traced_state_apply": (V,  R,  E,  E,   _,  _,  _,  R),
    "traced_state_adapt": (R,  R,  _,  _,   _,  _,  _,  R),
    "traced_input_apply": (V,  R,  V,  V,   _,  _,  _,  R),
    "traced_input_adapt": (R,  _,  _,  _,   _,  _,  _,  R),
}

# Which calls each kind goes through. "adapt" and "traced_*_adapt" only for
# adaptable transforms, "traced_*" only for host (``on_host``) transforms,
# keys only for random ones. ``init``: a sample only describes the batch's
# layout, so init may accept a bad one (returning a state of its type) but
# never fails with a raw error; "dict_without_images" must be refused.
METHODS = {
    "scalar": ("apply",),
    "rank_64": ("apply", "adapt"),
    "empty_batch": ("apply", "adapt"),
    "ragged_rank_3": ("init", "apply", "adapt"),
    "zero_size_images": ("apply",),
    "complex": ("init", "apply", "adapt"),
    "none": ("init", "apply", "adapt"),
    "strings": ("init", "apply", "adapt"),
    "numbers": ("init", "apply", "adapt"),
    "none_in_strings": ("apply", "adapt"),
    "mixed_str_bytes": ("apply", "adapt"),
    "near_float32_max": ("adapt",),
    "nan_values": ("adapt",),
    "foreign_state": ("apply", "adapt", "pc.adapt"),
    "foreign_chain_state": ("apply", "adapt", "pc.adapt"),
    "int_key": ("apply",),
    "batch_of_keys": ("apply",),
    "dict_without_images": ("init", "apply"),
    "mask_size_mismatch": ("apply",),
    "boxes_batch_mismatch": ("apply",),
    "string_labels": ("apply",),
    "int_labels": ("apply",),
    "traced_state_apply": ("apply",),
    "traced_state_adapt": ("adapt",),
    "traced_input_apply": ("apply",),
    "traced_input_adapt": ("adapt",),
}
STATE_KINDS = {"foreign_state", "foreign_chain_state"}
KEY_KINDS = {"int_key", "batch_of_keys"}
TRACED_STATE_KINDS = {"traced_state_apply", "traced_state_adapt"}
TRACED_KINDS = TRACED_STATE_KINDS | {"traced_input_apply",
                                     "traced_input_adapt"}
# Text vectorization pads to the longest document of the batch: an empty
# batch's sequence length is its own.
PADS_TO_LONGEST = {"text_vectorization"}

# The argument a message may name (in backticks; a dict entry may be quoted).
DATA_ARGS = {"x", "inputs", "images", "sample", "batch", "data", "labels",
             "segmentation_masks", "bounding_boxes", "tokens", "ids",
             "features", "strings", "text"}
DICT_ENTRIES = {"images", "labels", "segmentation_masks", "bounding_boxes"}


def _expectation(kind, fam, method):
  outcome = TABLE[kind][COLUMNS.index(fam)]
  if outcome is not None and method == "init" and kind != "dict_without_images":
    return E
  return outcome


# --------------------------------------------------------------------------
# The bad inputs, built from each factory's good sample.
# --------------------------------------------------------------------------

def _leaves(f, x):
  return jax.tree.map(f, x)


def _scalar(a):
  return np.asarray(np.asarray(a).reshape(-1)[0])


def _deep(a):
  a = np.asarray(a)
  return a.reshape(a.shape + (1,) * (DEEP_RANK - a.ndim))


def _complex(a):
  a = np.asarray(a)
  if a.dtype.kind in "biuf":
    return a.astype(np.complex64)
  return np.full(a.shape, 1 + 2j, np.complex64)  # in place of strings


def _ints_like(a):
  a = np.asarray(a)
  return np.arange(a.size, dtype=np.int32).reshape(a.shape)


RAGGED_NUM = [[[1.0, 2.0], [3.0]], [[4.0, 5.0], [6.0, 7.0]]]
RAGGED_STR = [[["a", "b"], ["c"]], [["d", "e"], ["f", "g"]]]
RAGGED_IMG = [[[[1.0, 2.0, 3.0]]], [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]]


def _ragged(entry, x):
  fam = family(entry)
  if fam in ("string", "hashing"):
    return RAGGED_STR
  if fam == "crossing":
    return ([[1, 2], [3]], [[4, 5], [6]])
  if fam == "mixing":
    return {"images": RAGGED_IMG, "labels": np.eye(2, dtype=np.float32)}
  if entry.image:
    return RAGGED_IMG
  return RAGGED_NUM


def _zero_size(entry, x):
  images = np.zeros((2, 0, 0, 3), np.float32)
  if family(entry) == "mixing":
    return {"images": images, "labels": np.eye(2, dtype=np.float32),
            "segmentation_masks": np.zeros((2, 0, 0), np.int32)}
  return images


def _images_of(x):
  return x["images"] if isinstance(x, dict) else x


def _mask_mismatch(entry, x):
  if family(entry) == "mixing":
    return {**x, "segmentation_masks": np.zeros((8, 3, 4), np.int32)}
  return {"images": x, "segmentation_masks": np.zeros((8, 5, 5, 1), np.int32)}


def _boxes_mismatch(entry, x):
  return {"images": x,
          "bounding_boxes": {"boxes": np.zeros((3, 2, 4), np.float32),
                             "labels": np.zeros((3, 2), np.int32)}}


def _dict_without_images(entry, x):
  n = len(_images_of(x))
  return {"labels": np.eye(n, dtype=np.float32)}


def _with_none(entry, x):
  """The sample as lists, one string replaced by None."""
  return _edit_strings(entry, x, lambda v: None)


def _with_bytes(entry, x):
  """The sample as lists, one string given as UTF-8 bytes."""
  return _edit_strings(entry, x, lambda v: v.encode("utf-8"))


def _edit_strings(entry, x, edit):
  if family(entry) == "crossing":
    words = [f"w{v}" for v in np.asarray(x[0]).tolist()]
    words[1] = edit(words[1])
    return (words, x[1])
  rows = np.asarray(x).tolist()
  if isinstance(rows[1], list):
    rows[1][1] = edit(rows[1][1])
  else:
    rows[1] = edit(rows[1])
  return rows


def _decoded(x):
  """``x`` with every bytes value decoded (the all-str equivalent)."""
  if isinstance(x, bytes):
    return x.decode("utf-8")
  if isinstance(x, (list, tuple)):
    return type(x)(_decoded(v) for v in x)
  return x


def _extreme(entry, x):
  a = np.asarray(x)
  signs = np.where(np.arange(a.size).reshape(a.shape) % 2, 1.0, -1.0)
  return (signs * 3e38).astype(np.float32)


def _with_nan(entry, x):
  a = np.array(x, dtype=np.float32)
  a.reshape(-1)[1] = np.nan
  return a


def _traced_input(entry, x):
  # What a jitted step can hand a host transform: integer arrays.
  return _leaves(lambda a: jnp.asarray(_ints_like(a)), x)


INPUTS: dict[str, Callable[[Any, Any], Any]] = {
    "scalar": lambda e, x: _leaves(_scalar, x),
    "rank_64": lambda e, x: _leaves(_deep, x),
    "empty_batch": lambda e, x: _leaves(lambda a: np.asarray(a)[:0], x),
    "ragged_rank_3": _ragged,
    "zero_size_images": _zero_size,
    "complex": lambda e, x: _leaves(_complex, x),
    "none": lambda e, x: None,
    "strings": lambda e, x: _leaves(
        lambda a: np.full(np.shape(a), "a"), x),
    "numbers": lambda e, x: _leaves(_ints_like, x),
    "foreign_state": lambda e, x: x,
    "foreign_chain_state": lambda e, x: x,
    "int_key": lambda e, x: x,
    "batch_of_keys": lambda e, x: x,
    "dict_without_images": _dict_without_images,
    "mask_size_mismatch": _mask_mismatch,
    "boxes_batch_mismatch": _boxes_mismatch,
    "string_labels": lambda e, x: {
        **x, "labels": np.array([f"class {i}" for i in range(len(x["labels"]))])},
    "int_labels": lambda e, x: {
        **x, "labels": np.arange(len(x["labels"]), dtype=np.int32)},
    "none_in_strings": _with_none,
    "mixed_str_bytes": _with_bytes,
    "near_float32_max": _extreme,
    "nan_values": _with_nan,
    "traced_state_apply": lambda e, x: x,
    "traced_state_adapt": lambda e, x: x,
    "traced_input_apply": _traced_input,
    "traced_input_adapt": _traced_input,
}
assert set(INPUTS) == set(TABLE) == set(METHODS)


# --------------------------------------------------------------------------
# Good states, foreign states and calls.
# --------------------------------------------------------------------------

_GOOD = {}


def _good_state(entry):
  """The state apply uses: adapted on the sample, or init's."""
  if entry.name not in _GOOD:
    t = transform(entry)
    x = _sample(entry)
    _GOOD[entry.name] = pc.adapt(t, x) if t.adaptable else t.init(x)
  return _GOOD[entry.name]


def _fresh_state(entry):
  """The state adapt starts from."""
  return transform(entry).init(_sample(entry))


def _foreign_state(entry, kind):
  if kind == "foreign_chain_state":
    good = _good_state(entry)
    if not isinstance(good, pc.ChainState):
      return pc.ChainState((good,))
    swapped = tuple(reversed(good.states))
    if [type(s) for s in swapped] != [type(s) for s in good.states]:
      return pc.ChainState(swapped)      # the parts in the wrong order
    return pc.ChainState(good.states[:-1])  # a part missing
  if entry.name == "rescaling":
    return pc.normalization().init(np.zeros((2, 3), np.float32))
  return pc.rescaling(0.5).init(np.zeros((2, 3), np.float32))


def _key_for(entry, kind):
  if kind == "int_key":
    return 3
  if kind == "batch_of_keys":
    return jax.random.split(KEY, 2)
  return KEY if entry.random else None


def _apply(entry, state, x, key=None):
  t = transform(entry)
  return t.apply(state, x, key=key) if entry.random else t.apply(state, x)


def _call(entry, kind, method, bad):
  """Runs the case; returns its result (the caller catches errors)."""
  t = transform(entry)
  key = _key_for(entry, kind)
  if kind in STATE_KINDS:
    foreign = _foreign_state(entry, kind)
    if method == "apply":
      return _apply(entry, foreign, bad, key)
    if method == "adapt":
      return t.adapt(foreign, bad)
    return pc.adapt(t, bad, state=foreign)
  if kind == "traced_state_apply":
    return jax.jit(lambda s: _apply(entry, s, bad, key))(_good_state(entry))
  if kind == "traced_state_adapt":
    return jax.jit(lambda s: t.adapt(s, bad))(_fresh_state(entry))
  if kind == "traced_input_apply":
    state = _good_state(entry)
    return jax.jit(lambda x: _apply(entry, state, x, key))(bad)
  if kind == "traced_input_adapt":
    state = _fresh_state(entry)
    return jax.jit(lambda x: t.adapt(state, x))(bad)
  if method == "init":
    return t.init(bad)
  if method == "adapt":
    return t.adapt(_fresh_state(entry), bad)
  return _apply(entry, _good_state(entry), bad, key)


# --------------------------------------------------------------------------
# What a returned value must be.
# --------------------------------------------------------------------------

def _same_values(got, want, what):
  assert jax.tree.structure(got) == jax.tree.structure(want), (
      what, jax.tree.structure(got), jax.tree.structure(want))
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
    g, w = np.asarray(g), np.asarray(w)
    assert g.shape == w.shape and g.dtype == w.dtype, (what, g.shape, g.dtype,
                                                       w.shape, w.dtype)
    if g.dtype.kind in "fc":
      np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=what)
    else:
      np.testing.assert_array_equal(g, w, err_msg=what)


def _all_finite(tree, what, like=None):
  """No NaN/inf in ``tree`` (where ``like``, a state of the same layout, has
  none: some states hold inf by design, e.g. an empty quantile summary)."""
  likes = jax.tree.leaves(like) if like is not None else None
  for i, leaf in enumerate(jax.tree.leaves(tree)):
    a = np.asarray(leaf)
    if likes is not None and not np.all(np.isfinite(np.asarray(likes[i]))):
      continue
    if a.dtype.kind in "fc":
      assert np.all(np.isfinite(a)), f"{what}: NaN or inf in the result"


def _check_state(entry, got):
  """init/adapt returned a state: the transform's own type, finite."""
  want = _fresh_state(entry)
  assert type(got) is type(want), (
      f"returned a {type(got).__name__}, not a {type(want).__name__}")
  assert jax.tree.structure(got) == jax.tree.structure(want), "state layout"
  _all_finite(got, "state", like=want)


def _reference(entry, x):
  """``apply`` on a good input (eagerly on the host, abstractly on device)."""
  key = _key_for(entry, "")
  state = _good_state(entry)
  if transform(entry).on_host:
    return _apply(entry, state, x, key)
  return jax.eval_shape(lambda xx: _apply(entry, state, xx, key), x)


def _check_scalar(entry, bad, y):
  # A 0-d input is a rank-1 input of one value, without its axis: the batch
  # of one's first example (elementwise transforms), or the whole answer
  # where a rank-1 input is one example (category_encoding's multi_hot).
  try:
    one = _apply(entry, _good_state(entry), _leaves(lambda a: a[None], bad),
                 _key_for(entry, ""))
  except Exception as e:  # pylint: disable=broad-except
    raise AssertionError(
        f"returned {jax.tree.map(np.shape, y)} for a 0-d input, but refuses "
        f"the batch of one ({type(e).__name__}: {e}); it should have "
        f"refused the 0-d input too") from None
  try:
    _same_values(y, jax.tree.map(lambda a: np.asarray(a)[0], one), "0-d input")
  except AssertionError:
    _same_values(y, one, "0-d input, as a rank-1 input of one value")


def _check_rank_64(entry, bad, y):
  # Trailing axes of size 1 change no value.
  want = _apply(entry, _good_state(entry), _sample(entry), _key_for(entry, ""))
  assert jax.tree.structure(y) == jax.tree.structure(want)
  for g, w in zip(jax.tree.leaves(y), jax.tree.leaves(want)):
    g, w = np.asarray(g), np.asarray(w)
    assert g.size == w.size and g.dtype == w.dtype, (g.shape, g.dtype,
                                                     w.shape, w.dtype)
    _same_values(g.reshape(w.shape), w, "rank-64 input")


def _check_empty(entry, bad, y):
  want = _reference(entry, _sample(entry))
  assert jax.tree.structure(y) == jax.tree.structure(want), (
      jax.tree.structure(y), jax.tree.structure(want))
  for g, w in zip(jax.tree.leaves(y), jax.tree.leaves(want)):
    assert np.ndim(g) == len(w.shape) and np.shape(g)[0] == 0, (
        f"empty batch: got shape {np.shape(g)}, expected (0, ...) like "
        f"{tuple(w.shape)}")
    if entry.name not in PADS_TO_LONGEST:
      assert tuple(np.shape(g))[1:] == tuple(w.shape)[1:], (np.shape(g),
                                                             w.shape)
    assert np.dtype(g.dtype) == np.dtype(w.dtype), (g.dtype, w.dtype)


def _check_zero_size(entry, bad, y):
  # Nothing to move or recolour: every part keeps its shape, no NaN.
  assert jax.tree.structure(y) == jax.tree.structure(bad)
  for g, b in zip(jax.tree.leaves(y), jax.tree.leaves(bad)):
    assert np.shape(g) == np.shape(b), (
        f"0x0 images: got shape {np.shape(g)} from {np.shape(b)}")
  _all_finite(y, "0x0 images")


def _check_numbers(entry, bad, y):
  # Hashing: integers are hashed as their decimal strings (Keras).
  want = _apply(entry, _good_state(entry),
                _leaves(lambda a: np.asarray(a).astype(str), bad))
  _same_values(np.asarray(y), np.asarray(want), "ints vs decimal strings")


def _check_traced_state(entry, bad, y):
  want = _apply(entry, _good_state(entry), bad, _key_for(entry, ""))
  _same_values(jax.tree.map(np.asarray, y), jax.tree.map(np.asarray, want),
               "jit vs eager")


def _check_traced_input(entry, bad, y):
  concrete = _leaves(np.asarray, bad)
  want = _apply(entry, _good_state(entry), concrete, _key_for(entry, ""))
  _same_values(jax.tree.map(np.asarray, y), jax.tree.map(np.asarray, want),
               "jit vs eager")


def _check_mixed(entry, bad, y):
  want = _apply(entry, _good_state(entry), _decoded(bad))
  _same_values(jax.tree.map(np.asarray, y), jax.tree.map(np.asarray, want),
               "mixed str/bytes vs all str")


APPLY_CHECKS = {
    "mixed_str_bytes": _check_mixed,
    "scalar": _check_scalar,
    "rank_64": _check_rank_64,
    "empty_batch": _check_empty,
    "zero_size_images": _check_zero_size,
    "numbers": _check_numbers,
    "traced_state_apply": _check_traced_state,
    "traced_input_apply": _check_traced_input,
}


# --------------------------------------------------------------------------
# What an error must be.
# --------------------------------------------------------------------------

_PACKAGES = tuple(
    os.path.dirname(os.path.realpath(m.__file__)) + os.sep for m in (pc, pf))


def _origin(exc):
  """(file, line) of the innermost frame of the exception's traceback."""
  tb = exc.__traceback__
  while tb.tb_next is not None:
    tb = tb.tb_next
  return os.path.realpath(tb.tb_frame.f_code.co_filename), tb.tb_lineno


def _describe(exc):
  path, line = _origin(exc)
  where = os.path.relpath(path, os.path.dirname(_PACKAGES[0].rstrip(os.sep)))
  msg = str(exc).splitlines()[0] if str(exc) else ""
  return f"{type(exc).__name__} at {where}:{line}: {msg[:300]}"


def _names(t):
  """The transform's name; a chain's parts' names as well."""
  names = {t.name}
  m = re.fullmatch(r"chain\((.*)\)", t.name)
  if m:
    names |= {n.strip() for n in m.group(1).split(",")}
  return names


def _arguments_named(msg):
  # `x`, or a part of one: `inputs[0]`, `bounding_boxes['boxes']`.
  named = set(re.findall(r"`([A-Za-z_]\w*)[^`\s]*`", msg))
  named |= {k for k in DICT_ENTRIES if re.search(rf"['\"]{k}['\"]", msg)}
  return named


def _check_error(entry, kind, exc):
  t = transform(entry)
  desc = _describe(exc)
  assert isinstance(exc, (TypeError, ValueError)), f"(a) not prepro's: {desc}"
  path, _ = _origin(exc)
  assert path.startswith(_PACKAGES), f"(b) raised outside prepro: {desc}"
  msg = str(exc)
  assert any(n in msg for n in _names(t)), (
      f"(c) the message does not name {t.name!r}: {desc}")
  named = _arguments_named(msg)
  if kind in TRACED_STATE_KINDS:
    assert "host" in msg, f"(c) does not say it runs on the host: {desc}"
  elif kind in TRACED_KINDS:
    assert "host" in msg or named & DATA_ARGS, (
        f"(c) says neither that it runs on the host nor which argument: "
        f"{desc}")
  else:
    wanted = ({"state"} if kind in STATE_KINDS else
              {"key"} if kind in KEY_KINDS else DATA_ARGS)
    assert named & wanted, (
        f"(c) the message names no argument among {sorted(wanted)} in "
        f"backticks: {desc}")


# --------------------------------------------------------------------------
# The cases.
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
  entry: Any
  kind: str
  method: str
  expect: str

  def __repr__(self):
    return f"{self.entry.name}-{self.kind}-{self.method}"


def _applies(entry, kind, method):
  t = transform(entry)
  if kind in KEY_KINDS and not entry.random:
    return False
  if kind in TRACED_KINDS and not t.on_host:
    return False
  if "adapt" in method and method != "pc.adapt" and not t.adaptable:
    return False
  return True


def _cases():
  cases = []
  for entry in WALKED:
    fam = family(entry)
    for kind, methods in METHODS.items():
      for method in methods:
        expect = _expectation(kind, fam, method)
        if expect is not None and _applies(entry, kind, method):
          cases.append(Case(entry, kind, method, expect))
  return cases


CASES = _cases()


def test_the_walk_covers_every_factory():
  # Every factory meets the shared list (and the table names only real
  # families); the number of cases is the suite's bad-input count.
  walked = {c.entry.name for c in CASES}
  assert walked == {e.name for e in WALKED}, {e.name for e in WALKED} - walked
  assert {family(e) for e in WALKED} == set(COLUMNS)
  assert all(len(row) == len(COLUMNS) for row in TABLE.values())
  for e in WALKED:
    kinds = {c.kind for c in CASES if c.entry is e}
    assert {"complex", "none", "foreign_state", "empty_batch"} <= kinds, (
        e.name, kinds)
  print(f"{len(CASES)} (factory, bad input, call) cases over "
        f"{len(FACTORIES)} factories and {len(EXTRA)} extra")


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case):
  entry, kind, method = case.entry, case.kind, case.method
  bad = INPUTS[kind](entry, _sample(entry))
  try:
    y = _call(entry, kind, method, bad)
  except AssertionError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    if case.expect == V:
      pytest.fail(f"expected a value, got {_describe(e)}")
    _check_error(entry, kind, e)
    return
  if case.expect == R:
    pytest.fail(f"expected prepro's error, got a value: "
                f"{jax.tree.map(np.shape, y)}")
  if method in ("init", "adapt", "pc.adapt") or kind.endswith("_adapt"):
    _check_state(entry, y)
  else:
    APPLY_CHECKS[kind](entry, bad, y)
