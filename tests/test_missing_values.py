"""The opt-in ``missing=`` policy of string_lookup, integer_lookup and hashing
(issue 14): None/NaN (and "" for strings) take the OOV or mask index, adapt
never counts them, and without a policy Keras' behaviour stays."""
from __future__ import annotations

import pickle

import jax
import numpy as np
import pytest

import prepro_core as pc

NAN = float("nan")


def test_string_lookup_oov_policy():
  t = pc.string_lookup(missing="oov")
  state = pc.adapt(t, ["a", "b", None, "a", NAN, ""])
  assert pc.get_vocabulary(state) == ["[UNK]", "a", "b"]  # gaps not counted
  np.testing.assert_array_equal(t.apply(state, ["a", None, "z", "", NAN]),
                                [1, 0, 0, 0, 0])
  np.testing.assert_array_equal(
      t.apply(state, np.array([["b", ""]])), [[2, 0]])  # a str_ array


def test_string_lookup_mask_policy_encodes_to_zeros():
  t = pc.string_lookup(mask_token="[M]", missing="mask")
  state = pc.adapt(t, ["a", "b", "b"])
  np.testing.assert_array_equal(t.apply(state, ["b", None]), [2, 0])
  onehot = pc.string_lookup(mask_token="[M]", missing="mask",
                            output_mode="one_hot")
  y = np.asarray(onehot.apply(pc.adapt(onehot, ["a"]), ["a", None]))
  np.testing.assert_array_equal(y, [[0.0, 1.0], [0.0, 0.0]])


def test_without_a_policy_keras_behaviour_stays():
  t = pc.string_lookup()
  state = pc.adapt(t, ["a", ""])
  assert "" in pc.get_vocabulary(state)  # "" is a token, as in Keras
  with pytest.raises(TypeError, match=r"got None at element 1.*missing='oov'"):
    t.apply(state, ["a", None])
  with pytest.raises(TypeError, match=r"must hold integers, got dtype float64"):
    pc.adapt(pc.integer_lookup(), np.array([1.0, 2.0]))


def test_integer_lookup_policy_takes_nan_and_whole_floats():
  t = pc.integer_lookup(missing="oov")
  state = pc.adapt(t, np.array([1.0, 2.0, np.nan, 2.0]))
  assert pc.get_vocabulary(state) == [-1, 2, 1]
  np.testing.assert_array_equal(t.apply(state, [1, None, 3.0, 2]), [2, 0, 0, 1])
  # Integer inputs under jit: nothing can be missing, the lookup still jits.
  np.testing.assert_array_equal(
      jax.jit(lambda x: t.apply(state, x))(np.array([2, 1])), [1, 2])
  with pytest.raises(ValueError, match=r"must hold whole numbers.*got 2\.5"):
    t.apply(state, np.array([2.5]))
  with pytest.raises(TypeError, match=r"got str 'x'"):
    t.apply(state, ["x"])


def test_hashing_mask_policy():
  t = pc.hashing(5, mask_value="", missing="mask")
  np.testing.assert_array_equal(t.apply(None, ["a", None, NAN, ""]),
                                [4, 0, 0, 0])
  ints = pc.hashing(5, mask_value=-1, missing="mask")
  np.testing.assert_array_equal(ints.apply(None, np.array([1.0, np.nan])),
                                ints.apply(None, [1, None]))
  assert np.asarray(ints.apply(None, [1, None]))[1] == 0


@pytest.mark.parametrize("build, message", [
    (lambda: pc.string_lookup(missing="mask"), r"`missing='mask'` needs a "
     r"`mask_token`"),
    (lambda: pc.string_lookup(missing="oov", num_oov_indices=0),
     r"needs `num_oov_indices` >= 1"),
    (lambda: pc.string_lookup(missing="oov", output_mode="tf_idf"),
     r"an output_mode other than 'tf_idf'"),
    (lambda: pc.integer_lookup(missing="oov", invert=True), r"invert=False"),
    (lambda: pc.integer_lookup(missing="skip"), r"`missing` must be one of"),
    (lambda: pc.hashing(4, missing="mask"), r"needs a `mask_value`"),
    (lambda: pc.hashing(4, mask_value=0, missing="oov"),
     r"`missing` must be one of \(None, 'mask'\)"),
])
def test_policies_that_cannot_work_are_refused(build, message):
  with pytest.raises(ValueError, match=message):
    build()


def test_policy_survives_pickling():
  t = pc.string_lookup(missing="oov")
  t2 = pickle.loads(pickle.dumps(t))
  assert t2 == t and t2 != pc.string_lookup()
  state = pc.adapt(t2, ["a", None])
  np.testing.assert_array_equal(t2.apply(state, [None]), [0])
