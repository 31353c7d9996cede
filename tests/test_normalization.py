"""pc.normalization: Keras' numbers, eager/jit/vmap, merge, bad input."""
import json
import os

import hypothesis
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from _numeric_data import make_data

RECORD = json.load(open(os.path.join(os.path.dirname(__file__),
                                     "keras_records", "numeric.json")))
TOL = dict(rtol=2e-5, atol=2e-5)


def _axis(a):
  return tuple(a) if isinstance(a, list) else a


# --- Keras' docstring examples ------------------------------------------------

def test_docstring_axis_none():
  t = pc.normalization(axis=None)
  s = pc.adapt(t, np.array([1., 2., 3., 4., 5.], np.float32))
  y = t.apply(s, np.array([1., 2., 3.], np.float32))
  np.testing.assert_allclose(y, [-1.4142135, -0.70710677, 0.], rtol=1e-6)


def test_docstring_axis_last():
  data = np.array([[0., 7., 4.], [2., 9., 6.], [0., 7., 4.], [2., 9., 6.]],
                  np.float32)
  t = pc.normalization(axis=-1)
  s = pc.adapt(t, data)
  np.testing.assert_allclose(t.apply(s, data[:1]), [[-1., -1., -1.]])
  ti = pc.normalization(axis=-1, invert=True)
  si = pc.adapt(ti, data)
  np.testing.assert_allclose(ti.apply(si, np.array([[1., 2., 3.]])),
                             [[2., 10., 8.]])


def test_docstring_constants():
  t = pc.normalization(mean=3., variance=2.)
  x = np.array([[1.], [2.], [3.]], np.float32)
  s = t.init(x)
  np.testing.assert_allclose(t.apply(s, x),
                             [[-1.4142135], [-0.70710677], [0.]], rtol=1e-6)


# --- recorded Keras outputs ---------------------------------------------------

@pytest.mark.parametrize("case", RECORD["normalization"]["adapted"],
                         ids=lambda c: c["name"])
def test_matches_keras_adapt(case):
  x = make_data(case["seed"], case["shape"], case["loc"], case["scale"])
  assert float(np.sum(x.astype(np.float64))) == pytest.approx(case["checksum"])
  t = pc.normalization(axis=_axis(case["axis"]), invert=case["invert"])
  s = pc.adapt(t, x, batch_size=case["batch_size"])
  np.testing.assert_allclose(s.mean, case["mean"], **TOL)
  np.testing.assert_allclose(s.variance, case["variance"], rtol=1e-4,
                             atol=1e-5)
  probe = make_data(case["seed"] + 100, case["shape"], case["loc"],
                    case["scale"])[:7]
  y = t.apply(s, probe)
  assert y.dtype == jnp.float32
  np.testing.assert_allclose(y, case["output"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", RECORD["normalization"]["constants"])
def test_matches_keras_constants(case):
  probe = make_data(7, case["shape"], 1.0, 2.0)
  t = pc.normalization(axis=_axis(case["axis"]), mean=case["mean"],
                       variance=case["variance"])
  s = t.init(probe)
  np.testing.assert_allclose(t.apply(s, probe), case["output"], rtol=1e-6)


# --- three ways, layouts, streaming -------------------------------------------

@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1])
def test_eager_jit_vmap(axis):
  x = make_data(40, (6, 3, 4), 2.0, 3.0)
  t = pc.normalization(axis=axis)
  s = pc.adapt(t, x)
  eager = t.apply(s, x)
  np.testing.assert_allclose(jax.jit(t.apply)(s, x), eager, rtol=1e-6)
  np.testing.assert_allclose(jax.vmap(t.apply, in_axes=(None, 0))(s, x),
                             eager, rtol=1e-6)
  s_jit = jax.jit(t.adapt)(t.init(x), x)
  np.testing.assert_allclose(s_jit.mean, s.mean, rtol=1e-6)
  np.testing.assert_allclose(s_jit.variance, s.variance, rtol=1e-5)


def test_init_from_shape_dtype_struct():
  t = pc.normalization(axis=(1, 2))
  s = t.init(jax.ShapeDtypeStruct((8, 3, 4), jnp.float32))
  assert s.mean.shape == (1, 3, 4)
  x = make_data(41, (8, 3, 4))
  np.testing.assert_allclose(t.adapt(s, x).mean, pc.adapt(t, x).mean)


def test_fresh_state_is_identity_and_int_input_gives_float32():
  t = pc.normalization()
  x = np.arange(6, dtype=np.int32).reshape(3, 2)
  y = t.apply(t.init(x), x)
  assert y.dtype == jnp.float32
  np.testing.assert_array_equal(y, x.astype(np.float32))


def test_streaming_equals_one_batch_and_large_offset():
  # Mean far from zero: the two-pass batch reduction stays exact.
  x = make_data(42, (1000, 3), 1e4, 1.0)
  t = pc.normalization()
  one = pc.adapt(t, x)
  streamed = pc.adapt(t, x, batch_size=128)
  ref_var = np.var(x.astype(np.float64), axis=0)
  np.testing.assert_allclose(one.variance[0], ref_var, rtol=1e-3)
  np.testing.assert_allclose(streamed.variance[0], ref_var, rtol=1e-3)
  np.testing.assert_allclose(streamed.mean, one.mean, rtol=1e-6)


def test_zero_variance_option():
  x = np.array([[1., 5.], [1., 7.], [1., 9.]], np.float32)
  keras_like = pc.normalization()
  unit = pc.normalization(zero_variance="unit")
  probe = np.array([[2., 7.]], np.float32)
  yk = keras_like.apply(pc.adapt(keras_like, x), probe)
  yu = unit.apply(pc.adapt(unit, x), probe)
  np.testing.assert_allclose(yk[0, 0], 1e7)  # Keras' 1e-7 floor
  np.testing.assert_allclose(yu[0, 0], 1.0)  # only shifted
  np.testing.assert_allclose(yu[0, 1], yk[0, 1])
  ui = pc.normalization(zero_variance="unit", invert=True)
  np.testing.assert_allclose(ui.apply(pc.adapt(ui, x), np.zeros((1, 2))),
                             [[1., 7.]])


# --- merge ----------------------------------------------------------------------

@hypothesis.settings(max_examples=30, deadline=None)
@hypothesis.given(
    a=hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.just(3)),
                 elements=st.floats(-1e3, 1e3, width=32)),
    b=hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.just(3)),
                 elements=st.floats(-1e3, 1e3, width=32)))
def test_merge_equals_adapt_on_union(a, b):
  t = pc.normalization()
  sa = t.adapt(t.init(a), a)
  sb = t.adapt(t.init(b), b)
  merged = t.merge(sa, sb)
  whole = t.adapt(t.init(a), np.concatenate([a, b]))
  scale = 1.0 + np.max(np.abs(np.concatenate([a, b])))
  np.testing.assert_allclose(merged.count, whole.count)
  np.testing.assert_allclose(merged.mean, whole.mean, atol=1e-5 * scale)
  np.testing.assert_allclose(np.sqrt(merged.variance),
                             np.sqrt(whole.variance), atol=1e-4 * scale)


def test_merge_is_associative():
  parts = [make_data(50 + i, (5 + i, 2), 3.0, 2.0) for i in range(3)]
  t = pc.normalization()
  s = [t.adapt(t.init(p), p) for p in parts]
  left = t.merge(t.merge(s[0], s[1]), s[2])
  right = t.merge(s[0], t.merge(s[1], s[2]))
  np.testing.assert_allclose(left.mean, right.mean, rtol=1e-6)
  np.testing.assert_allclose(left.variance, right.variance, rtol=1e-5)


# --- bad input ------------------------------------------------------------------

def test_mean_without_variance():
  with pytest.raises(ValueError, match="`mean` and `variance`"):
    pc.normalization(mean=1.0)
  with pytest.raises(ValueError, match="`mean` and `variance`"):
    pc.normalization(variance=1.0)


def test_mean_variance_shapes():
  with pytest.raises(ValueError, match="same shape"):
    pc.normalization(mean=[1., 2.], variance=[1.])
  with pytest.raises(ValueError, match="rank of `mean`"):
    pc.normalization(axis=-1, mean=[[1.]], variance=[[1.]])
  t = pc.normalization(mean=[1., 2.], variance=[1., 1.])
  with pytest.raises(ValueError, match="`mean` of shape"):
    t.init(np.zeros((4, 3)))


def test_axis_errors():
  with pytest.raises(ValueError, match="`axis`"):
    pc.normalization(axis=2).init(np.zeros((4, 3)))
  with pytest.raises(ValueError, match="`axis`"):
    pc.normalization(axis=-3).init(np.zeros((4, 3)))
  with pytest.raises(ValueError, match="same axis twice"):
    pc.normalization(axis=(1, -1)).init(np.zeros((4, 3)))
  with pytest.raises(TypeError, match="`axis`"):
    pc.normalization(axis="last")
  with pytest.raises(ValueError, match="`zero_variance`"):
    pc.normalization(zero_variance="ones")


def test_nan_and_inf_in_adapt_data():
  t = pc.normalization()
  x = np.ones((4, 2), np.float32)
  x[1, 1] = np.nan
  with pytest.raises(ValueError, match="NaN or infinite"):
    pc.adapt(t, x)
  x[1, 1] = np.inf
  with pytest.raises(ValueError, match="NaN or infinite"):
    t.adapt(t.init(x), x)


def test_nan_in_bfloat16_adapt_data_raises_and_keeps_the_state():
  t = pc.normalization()
  good = make_data(62, (8, 3))
  s = pc.adapt(t, good)
  x = jnp.asarray(good, jnp.bfloat16).at[2, 1].set(jnp.nan)
  with pytest.raises(ValueError, match="NaN or infinite"):
    pc.adapt(t, x, state=s)
  with pytest.raises(ValueError, match="NaN or infinite"):
    t.adapt(s, x)
  assert np.all(np.isfinite(np.asarray(s.mean)))


def test_empty_adapt():
  t = pc.normalization()
  with pytest.raises(ValueError, match="empty"):
    pc.adapt(t, np.zeros((0, 3), np.float32))
  with pytest.raises(ValueError, match="empty"):
    pc.adapt(t, [])
  # A direct adapt on an empty batch must not turn the mean into NaN.
  s = pc.adapt(t, make_data(63, (6, 3)))
  with pytest.raises(ValueError, match="holds no values"):
    t.adapt(s, np.zeros((0, 3), np.float32))
  with pytest.raises(ValueError, match="holds no values"):
    jax.jit(t.adapt)(s, np.zeros((0, 3), np.float32))


def test_constants_must_be_finite_numbers():
  with pytest.raises(TypeError, match="`mean` must be a real number"):
    pc.normalization(mean="a", variance="b")
  with pytest.raises(ValueError, match="`mean` must be finite"):
    pc.normalization(mean=np.nan, variance=1.0)
  with pytest.raises(ValueError, match="`variance` must be finite"):
    pc.normalization(mean=0.0, variance=[1.0, np.inf])


def test_wrong_rank_and_dtype():
  t = pc.normalization()
  s = pc.adapt(t, np.ones((4, 3), np.float32))
  with pytest.raises(ValueError, match="`batch` must have rank 2"):
    t.adapt(s, np.ones((4, 3, 1), np.float32))
  with pytest.raises(ValueError, match="does not match"):
    t.adapt(s, np.ones((4, 5), np.float32))
  with pytest.raises(ValueError, match="does not broadcast"):
    t.apply(s, np.ones((4, 5), np.float32))
  with pytest.raises(TypeError, match="real numbers"):
    t.apply(s, np.array([["a", "b", "c"]]))
  with pytest.raises(TypeError, match="`data` must hold numbers"):
    pc.adapt(t, np.ones((4, 3), np.complex64))
  with pytest.raises(TypeError, match="real numbers"):
    t.adapt(s, np.ones((4, 3), np.complex64))
  with pytest.raises(ValueError, match="rank"):
    pc.normalization(axis=(1, 2)).apply(
        pc.adapt(pc.normalization(axis=(1, 2)), np.ones((2, 3, 4))),
        np.ones((4,)))


def test_adapt_with_constants_is_an_error():
  t = pc.normalization(mean=0., variance=1.)
  with pytest.raises(ValueError, match="nothing to adapt"):
    pc.adapt(t, np.ones((4, 3), np.float32))


def test_merge_states_of_different_transforms():
  n = pc.normalization()
  d = pc.discretization(num_bins=3)
  x = make_data(60, (10, 3))
  with pytest.raises(TypeError, match="different transforms"):
    n.merge(pc.adapt(n, x), pc.adapt(d, x))
  with pytest.raises(ValueError, match="different shapes"):
    n.merge(pc.adapt(n, x), pc.adapt(n, make_data(61, (10, 4))))
