"""pc.adapt / pc.chain / merge checks from base.py, on the numeric transforms."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from _numeric_data import make_data


def test_adapt_accepts_array_list_and_iterable():
  x = make_data(80, (40, 3), 2.0, 3.0)
  t = pc.normalization()
  ref = pc.adapt(t, x)
  for data in (x, [x[:15], x[15:]], iter([x[:10], x[10:25], x[25:]]),
               jnp.asarray(x)):
    s = pc.adapt(t, data)
    np.testing.assert_allclose(s.mean, ref.mean, rtol=1e-6)
    np.testing.assert_allclose(s.variance, ref.variance, rtol=1e-5)
  s = pc.adapt(t, x, batch_size=7, progress=True)
  np.testing.assert_allclose(s.variance, ref.variance, rtol=1e-5)
  # A list of scalars is one array of examples.
  t0 = pc.normalization(axis=None)
  s0 = pc.adapt(t0, [1., 2., 3., 4., 5.])
  np.testing.assert_allclose(s0.variance, [2.0])


def test_adapt_continues_from_state():
  x = make_data(81, (30, 2))
  t = pc.normalization()
  s = pc.adapt(t, x[:10])
  s = pc.adapt(t, x[10:], state=s)
  np.testing.assert_allclose(s.mean, pc.adapt(t, x).mean, rtol=1e-6)


def test_adapt_bad_arguments():
  t = pc.normalization()
  with pytest.raises(ValueError, match="`batch_size`"):
    pc.adapt(t, np.ones((3, 2)), batch_size=0)
  with pytest.raises(ValueError, match="empty"):
    pc.adapt(t, iter([]))
  with pytest.raises(ValueError, match="empty"):
    pc.adapt(pc.rescaling(2.0), [])


def test_chain_adapts_later_stage_on_earlier_output():
  x = make_data(82, (200, 2), 50.0, 10.0)
  pipe = pc.chain(pc.normalization(), pc.discretization(num_bins=4))
  s = pc.adapt(pipe, x)
  assert isinstance(s, pc.ChainState)
  norm_state, disc_state = s.states
  # Discretization saw normalized values: boundaries around 0, not 50.
  assert np.all(np.abs(np.asarray(disc_state.bin_boundaries)) < 3)
  ids = pipe.apply(s, x)
  np.testing.assert_array_equal(ids, jax.jit(pipe.apply)(s, x))
  counts = np.bincount(np.asarray(ids).ravel(), minlength=4)
  assert counts.min() > 0.15 * x.size  # roughly equal-frequency bins


def test_chain_rescaling_then_category_encoding():
  pipe = pc.chain(pc.rescaling(2.0, 1.0), pc.discretization(
      bin_boundaries=[2., 4.], output_mode="one_hot"))
  s = pipe.init(np.zeros((3,), np.float32))
  np.testing.assert_array_equal(
      pipe.apply(s, np.array([0., 1., 2.], np.float32)),
      [[1, 0, 0], [0, 1, 0], [0, 0, 1]])  # 1, 3, 5 vs [2, 4]


def test_chain_merge_and_errors():
  x = make_data(83, (60, 2))
  pipe = pc.chain(pc.normalization(), pc.rescaling(0.5))
  a, b = pc.adapt(pipe, x[:30]), pc.adapt(pipe, x[30:])
  merged = pipe.merge(a, b)
  np.testing.assert_allclose(merged.states[0].mean,
                             pc.adapt(pipe, x).states[0].mean, rtol=1e-5)
  with pytest.raises(ValueError, match="at least one"):
    pc.chain()
  with pytest.raises(TypeError, match="argument 1 must be a Transform"):
    pc.chain(pc.normalization(), "rescale")


def test_merge_rejects_foreign_states():
  n, r = pc.normalization(), pc.rescaling(2.0)
  x = make_data(84, (5, 2))
  with pytest.raises(TypeError, match="different transforms"):
    n.merge(pc.adapt(n, x), r.init(x))
  with pytest.raises(TypeError, match="different transforms"):
    r.merge(r.init(x), pc.adapt(n, x))


def test_state_is_a_pytree_that_jits_and_round_trips():
  x = make_data(85, (20, 3))
  t = pc.normalization()
  s = pc.adapt(t, x)
  leaves, treedef = jax.tree_util.tree_flatten(s)
  s2 = jax.tree_util.tree_unflatten(treedef, [np.asarray(l) for l in leaves])
  np.testing.assert_allclose(t.apply(s2, x), t.apply(s, x))
  step = jax.jit(lambda s, x: t.apply(s, x).sum())
  assert np.isfinite(step(s, x))


def test_adapt_names_bad_transform_and_data():
  with pytest.raises(TypeError, match="`transform` must be a prepro"):
    pc.adapt("normalization", np.ones((3, 2)))
  t = pc.normalization()
  for data in (None, 3, np.float32(1.0), np.array(2.0), "text"):
    with pytest.raises(TypeError, match="`data` must be an array"):
      pc.adapt(t, data)
  with pytest.raises(TypeError, match="`data` must hold numbers"):
    pc.adapt(t, np.array([["a", "b"]]))
  with pytest.raises(TypeError, match="`data` given to pc.adapt"):
    pc.adapt(pc.integer_lookup(), np.array([1.5, 2.5]))


def test_progress_reports_batches_on_stderr(capsys):
  x = make_data(86, (40, 3))
  pc.adapt(pc.normalization(), x, batch_size=10, progress=True)
  err = capsys.readouterr().err
  assert "adapt(normalization): 4 batches" in err
  pc.adapt(pc.normalization(), x, batch_size=10)
  assert capsys.readouterr().err == ""


def test_a_bad_batch_midstream_leaves_the_given_state_intact():
  x = make_data(87, (30, 3))
  t = pc.normalization()
  s = pc.adapt(t, x[:10])
  before = [np.asarray(l).copy() for l in s]
  bad = x[10:20].copy()
  bad[4, 0] = np.inf
  with pytest.raises(ValueError, match="NaN or infinite"):
    pc.adapt(t, iter([x[10:15], bad, x[20:]]), state=s)
  for leaf, old in zip(s, before):
    np.testing.assert_array_equal(np.asarray(leaf), old)
