"""pc.discretization: Keras' boundaries and outputs, jit/vmap, merge, errors."""
import json
import os

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from _numeric_data import make_data

RECORD = json.load(open(os.path.join(os.path.dirname(__file__),
                                     "keras_records", "numeric.json")))


def _finite(b):
  b = np.asarray(b)
  return b[np.isfinite(b)]


# --- Keras' docstring examples ------------------------------------------------

X_DOC = np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]])


def test_docstring_bin_boundaries():
  t = pc.discretization(bin_boundaries=[0., 1., 2.])
  y = t.apply(t.init(X_DOC), X_DOC)
  assert y.dtype == jnp.int32
  np.testing.assert_array_equal(y, [[0, 2, 3, 1], [1, 3, 2, 1]])


def test_docstring_num_bins():
  t = pc.discretization(num_bins=4, epsilon=0.01)
  s = pc.adapt(t, X_DOC)
  np.testing.assert_array_equal(t.apply(s, X_DOC), [[0, 2, 3, 2], [1, 3, 3, 1]])


# --- recorded Keras outputs ---------------------------------------------------

@pytest.mark.parametrize(
    "case", RECORD["discretization"]["adapted"],
    ids=lambda c: f"n{c['n']}-bins{c['num_bins']}-eps{c['epsilon']}")
def test_matches_keras_single_adapt_exactly(case):
  x = make_data(case["seed"], (case["n"],), 0.0, case["scale"])
  assert float(np.sum(x.astype(np.float64))) == pytest.approx(case["checksum"])
  t = pc.discretization(num_bins=case["num_bins"], epsilon=case["epsilon"])
  s = pc.adapt(t, x)
  # Bit-for-bit: Keras' boundaries, as float32.
  np.testing.assert_array_equal(_finite(s.bin_boundaries),
                                np.float32(case["bin_boundaries"]))
  np.testing.assert_array_equal(t.apply(s, x[:20]), case["digitized"])


@pytest.mark.parametrize("case", RECORD["discretization"]["streamed"],
                         ids=lambda c: f"n{c['n']}-bs{c['batch_size']}")
def test_matches_keras_streamed(case):
  x = make_data(case["seed"], (case["n"],), 1.0, 2.0)
  t = pc.discretization(num_bins=case["num_bins"], epsilon=case["epsilon"])
  s = pc.adapt(t, x, batch_size=case["batch_size"])
  # Same summary algorithm; only the order of tied values of different
  # weight may differ (NumPy's argsort is unstable): a few ulp at most.
  np.testing.assert_allclose(s.bin_boundaries, case["bin_boundaries"],
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", RECORD["discretization"]["modes"],
                         ids=lambda c: f"{c['mode']}-{c['shape']}")
def test_matches_keras_output_modes(case):
  x = make_data(31, case["shape"], 0.3, 1.5)
  t = pc.discretization(bin_boundaries=case["bin_boundaries"],
                        output_mode=case["mode"])
  s = t.init(x)
  y = t.apply(s, x)
  np.testing.assert_allclose(y, case["output"])
  np.testing.assert_allclose(jax.jit(t.apply)(s, x), case["output"])


def test_depth_follows_keras_for_49_bins():
  # float arange gives Keras 50 points for 1/49, so 49 boundaries, 50 bins.
  t = pc.discretization(num_bins=49, output_mode="one_hot")
  s = pc.adapt(t, make_data(70, (500,)))
  assert s.bin_boundaries.shape == (49,)
  assert t.apply(s, np.zeros((3,), np.float32)).shape == (3, 50)


def test_fewer_points_than_bins_pads_with_inf():
  t = pc.discretization(num_bins=5)
  s = pc.adapt(t, np.array([3., 1., 2.], np.float32))
  # Keras keeps all points but the last: boundaries [1, 2].
  np.testing.assert_array_equal(_finite(s.bin_boundaries), [1., 2.])
  np.testing.assert_array_equal(t.apply(s, np.array([0., 1., 2.5, 9.])),
                                [0, 1, 2, 2])


def test_boundary_value_goes_right():
  t = pc.discretization(bin_boundaries=[0., 1.])
  s = t.init(np.zeros(3))
  np.testing.assert_array_equal(t.apply(s, np.array([-1e-6, 0., 1., 1.5])),
                                [0, 1, 2, 2])


# --- three ways -----------------------------------------------------------------

@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_eager_jit_vmap(mode):
  x = make_data(71, (6, 4), 0.0, 2.0)
  t = pc.discretization(num_bins=4, output_mode=mode)
  s = pc.adapt(t, x)
  eager = t.apply(s, x)
  np.testing.assert_array_equal(jax.jit(t.apply)(s, x), eager)
  np.testing.assert_array_equal(jax.vmap(t.apply, in_axes=(None, 0))(s, x),
                                eager)
  s_jit = jax.jit(t.finalize)(jax.jit(t.accumulate)(t.init(x), x))
  np.testing.assert_array_equal(s_jit.bin_boundaries, s.bin_boundaries)


def test_one_hot_scalar_and_vmap_over_rank1():
  t = pc.discretization(bin_boundaries=[0.], output_mode="one_hot")
  s = t.init(np.zeros(2))
  np.testing.assert_array_equal(t.apply(s, np.float32(1.)), [0., 1.])
  x = np.array([-1., 1., 2.], np.float32)
  np.testing.assert_array_equal(jax.vmap(t.apply, in_axes=(None, 0))(s, x),
                                t.apply(s, x))


def test_init_from_shape_dtype_struct():
  t = pc.discretization(num_bins=3)
  s = t.init(jax.ShapeDtypeStruct((10, 2), jnp.float32))
  x = make_data(72, (10, 2))
  np.testing.assert_array_equal(t.adapt(s, x).bin_boundaries,
                                pc.adapt(t, x).bin_boundaries)


# --- merge ----------------------------------------------------------------------

def _cdf(data, b):
  return np.searchsorted(np.sort(data), b, side="right") / data.size


@hypothesis.settings(max_examples=15, deadline=None)
@hypothesis.given(seed=st.integers(0, 2**31 - 1),
                  split=st.sampled_from([15, 150]),
                  loc=st.floats(-100, 100), scale=st.floats(0.01, 100))
def test_merge_close_to_adapt_on_union(seed, split, loc, scale):
  """merge(adapt(A), adapt(B)) vs adapt(A + B): documented tolerance.

  The summaries differ (that is how Keras' algorithm works), so boundaries
  are compared by rank: each merged boundary's empirical CDF is within
  2 * epsilon + 1 / num_bins... of the single-adapt boundary's, and in
  practice much closer; the bound tested is 2 * epsilon.
  """
  eps = 0.05
  data = make_data(seed % 1000, (400,), 0.0, 1.0) * np.float32(scale) + \
      np.float32(loc)
  a, b = data[:split], data[split:]
  t = pc.discretization(num_bins=4, epsilon=eps)
  merged = t.merge(t.adapt(t.init(a), a), t.adapt(t.init(b), b))
  whole = t.adapt(t.init(data), data)
  mb, wb = np.asarray(merged.bin_boundaries), np.asarray(whole.bin_boundaries)
  assert np.all(np.isfinite(mb)) and np.all(np.diff(mb) >= 0)
  np.testing.assert_array_less(np.abs(_cdf(data, mb) - _cdf(data, wb)),
                               2 * eps + 1e-9)


def test_merge_equals_streaming_when_first_summary_is_uncompressed():
  # Under 1 / epsilon points, adapt(B) keeps B's summary as is, so merging
  # it is exactly what streaming B after A does.
  a, b = make_data(73, (300,)), make_data(74, (15,))
  t = pc.discretization(num_bins=4, epsilon=0.05)
  merged = t.merge(t.adapt(t.init(a), a), t.adapt(t.init(b), b))
  streamed = pc.adapt(t, [a, b])
  np.testing.assert_array_equal(merged.bin_boundaries,
                                streamed.bin_boundaries)


# --- bad input ------------------------------------------------------------------

def test_both_or_neither():
  with pytest.raises(ValueError, match="exactly one of `bin_boundaries`"):
    pc.discretization()
  with pytest.raises(ValueError, match="exactly one of `bin_boundaries`"):
    pc.discretization(bin_boundaries=[0.], num_bins=2)


def test_bad_boundaries_and_args():
  with pytest.raises(TypeError, match="`bin_boundaries` must be a flat list"):
    pc.discretization(bin_boundaries=["a"])
  with pytest.raises(ValueError, match="sorted"):
    pc.discretization(bin_boundaries=[1., 0.])
  with pytest.raises(ValueError, match="finite"):
    pc.discretization(bin_boundaries=[0., np.nan])
  with pytest.raises(ValueError, match="`num_bins`"):
    pc.discretization(num_bins=0)
  with pytest.raises(TypeError, match="`num_bins`"):
    pc.discretization(num_bins=2.5)
  with pytest.raises(ValueError, match="`epsilon`"):
    pc.discretization(num_bins=2, epsilon=0.)
  with pytest.raises(ValueError, match="`output_mode`"):
    pc.discretization(num_bins=2, output_mode="tf_idf")
  with pytest.raises(ValueError, match="`sparse=True`"):
    pc.discretization(num_bins=2, sparse=True)


def test_adapt_errors():
  t = pc.discretization(num_bins=3)
  x = make_data(75, (10,))
  x[3] = np.inf
  with pytest.raises(ValueError, match="NaN or infinite"):
    pc.adapt(t, x)
  x[3] = np.nan
  with pytest.raises(ValueError, match="NaN or infinite"):
    t.adapt(t.init(x), x)
  with pytest.raises(ValueError, match="empty"):
    pc.adapt(t, np.zeros((0,), np.float32))
  with pytest.raises(TypeError, match="must hold numbers"):
    pc.adapt(t, np.array(["a", "b"]))
  with pytest.raises(TypeError, match="real numbers"):
    t.adapt(t.init(x), np.array(["a", "b"]))
  fixed = pc.discretization(bin_boundaries=[0.])
  with pytest.raises(ValueError, match="cannot adapt"):
    pc.adapt(fixed, make_data(76, (10,)))


def test_apply_errors():
  t = pc.discretization(num_bins=3, output_mode="multi_hot")
  with pytest.raises(ValueError, match="no boundaries yet"):
    t.apply(t.init(np.zeros(3)), np.zeros(3))
  s = pc.adapt(t, make_data(77, (30,)))
  with pytest.raises(ValueError, match="rank <= 2"):
    t.apply(s, np.zeros((2, 2, 2)))
  with pytest.raises(TypeError, match="real numbers"):
    t.apply(s, np.array([1 + 2j]))


def test_merge_states_of_different_settings():
  t3, t4 = pc.discretization(num_bins=3), pc.discretization(num_bins=4,
                                                           epsilon=0.1)
  x = make_data(78, (50,))
  with pytest.raises(ValueError, match="different shapes"):
    t3.merge(pc.adapt(t3, x), pc.adapt(t4, x))


def test_merge_jits():
  t = pc.discretization(num_bins=4, epsilon=0.05)
  x = make_data(79, (60,))
  a, b = pc.adapt(t, x[:30]), pc.adapt(t, x[30:])
  eager, jitted = t.merge(a, b), jax.jit(t.merge)(a, b)
  for e, j in zip(eager, jitted):
    np.testing.assert_array_equal(np.asarray(e), np.asarray(j))
