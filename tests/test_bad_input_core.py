"""Bad input to the contract, the numeric transforms and prepro_flax (issue 13).

Each test fails without its fix: prepro's own exception, naming where it was
raised and the argument, instead of a raw AttributeError/KeyError/msgpack/JAX
error or a silently wrong result. conftest.py sets JAX_TRACEBACK_FILTERING=off.
"""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax import serialization

import prepro_core as pc
import prepro_flax as pf
import prepro_flax.linen as pfl
from _factories import FACTORIES
from _factories import sample as sample_of
from _factories import transform as transform_of

X = (np.random.default_rng(0).normal(size=(12, 3)) * 3 + 2).astype(np.float32)


def _foreign_msg(where, expected, got):
  return re.escape(f"`{where}`: `state` must be a {expected} (from this "
                   f"transform's init/adapt), got {got}.")


# ---------------------------------------------------------------------------
# 1. A state of another transform (make_transform's state_type).
# ---------------------------------------------------------------------------


def test_apply_refuses_a_state_of_another_transform():
  n, d = pc.normalization(), pc.discretization(num_bins=4)
  ds = pc.adapt(d, X)
  with pytest.raises(TypeError, match=_foreign_msg(
      "normalization.apply", "NormalizationState", "DiscretizationState")):
    n.apply(ds, X)
  with pytest.raises(TypeError, match=_foreign_msg(
      "discretization.apply", "DiscretizationState", "NormalizationState")):
    d.apply(pc.adapt(n, X), X)
  with pytest.raises(TypeError, match=_foreign_msg(
      "rescaling.apply", "RescalingState", "NoneType")):
    pc.rescaling(2.0).apply(None, X)


def test_adapt_merge_and_pc_adapt_refuse_foreign_states():
  n, d, r = pc.normalization(), pc.discretization(num_bins=4), pc.rescaling(2.)
  ds = pc.adapt(d, X)
  with pytest.raises(TypeError, match=_foreign_msg(
      "normalization.adapt", "NormalizationState", "DiscretizationState")):
    n.adapt(ds, X)
  with pytest.raises(TypeError, match=_foreign_msg(
      "normalization.merge", "NormalizationState", "DiscretizationState")):
    n.merge(ds, ds)
  with pytest.raises(TypeError, match=_foreign_msg(
      "normalization.accumulate", "NormalizationState", "DiscretizationState")):
    n.accumulate(ds, X)
  with pytest.raises(TypeError, match=_foreign_msg(
      "adapt(normalization)", "NormalizationState", "DiscretizationState")):
    pc.adapt(n, X, state=ds)
  # Not adaptable: the state used to be returned as it was.
  with pytest.raises(TypeError, match=_foreign_msg(
      "adapt(rescaling)", "RescalingState", "DiscretizationState")):
    pc.adapt(r, X, state=ds)
  # The older merge message still comes first for two different types.
  with pytest.raises(TypeError, match="different transforms"):
    n.merge(pc.adapt(n, X), ds)


def test_chain_refuses_other_chains_states():
  pipe = pc.chain(pc.rescaling(0.5), pc.normalization())
  other = pc.chain(pc.normalization(), pc.rescaling(0.5))
  short = pc.chain(pc.normalization())
  s_other, s_short = pc.adapt(other, X), pc.adapt(short, X)
  with pytest.raises(ValueError, match=re.escape(
      "`chain(rescaling, normalization).apply`: `state` must be a ChainState "
      "of 2 parts' states")):
    pipe.apply(s_short, X)
  with pytest.raises(TypeError,
                     match=r"part 0 \(rescaling\)`: `state` must be a "
                     r"RescalingState .*got NormalizationState"):
    pipe.apply(s_other, X)
  with pytest.raises(TypeError, match=_foreign_msg(
      "chain(rescaling, normalization).apply", "ChainState",
      "NormalizationState")):
    pipe.apply(pc.adapt(pc.normalization(), X), X)
  with pytest.raises(ValueError, match="ChainState of 2 parts"):
    pc.adapt(pipe, X, state=s_short)
  with pytest.raises(TypeError, match="RescalingState"):
    pc.adapt(pipe, X, state=s_other)
  # A fused run (the geometric image parts) checks its parts' states too.
  geo = pc.chain(pc.random_flip(), pc.random_rotation(0.1))
  images = np.zeros((2, 6, 6, 1), np.float32)
  bad = pc.ChainState((pc.EmptyState(), pc.RescalingState(1.0, 0.0)))
  with pytest.raises(TypeError, match="part 1 \\(random_rotation\\)"):
    geo.apply(bad, images, key=jax.random.key(0))


@pytest.mark.parametrize("entry", FACTORIES, ids=repr)
def test_every_factory_declares_and_checks_its_state_type(entry):
  t = transform_of(entry)
  x = sample_of(entry)
  assert t.state_type is type(t.init(x)), (t.state_type, entry.name)
  foreign = (pc.RescalingState(1.0, 0.0) if t.state_type is not
             pc.RescalingState else pc.EmptyState())
  kwargs = {"key": jax.random.key(0)} if t.is_random else {}
  with pytest.raises(TypeError, match=_foreign_msg(
      f"{t.name}.apply", t.state_type.__name__, type(foreign).__name__)):
    t.apply(foreign, x, **kwargs)


def test_state_check_keeps_jit_vmap_and_none_for_stateless():
  n = pc.normalization()
  s = pc.adapt(n, X)
  eager = n.apply(s, X)
  np.testing.assert_allclose(jax.jit(n.apply)(s, X), eager, rtol=1e-6)
  np.testing.assert_allclose(jax.vmap(n.apply, in_axes=(None, 0))(s, X),
                             eager, rtol=1e-6)
  stacked = jax.tree.map(lambda a: jnp.stack([a, a]), s)   # vmapped states
  out = jax.vmap(n.apply, in_axes=(0, None))(stacked, X)
  np.testing.assert_allclose(out[1], eager, rtol=1e-6)
  adapted = jax.jit(n.adapt)(n.init(X), X)
  np.testing.assert_allclose(adapted.mean, s.mean, rtol=1e-6)
  with pytest.raises(TypeError, match="`normalization.apply`: `state`"):
    jax.jit(n.apply)(pc.EmptyState(), X)
  # Stateless transforms still take None for their EmptyState.
  ids = np.array([0, 2], np.int32)
  np.testing.assert_array_equal(pc.category_encoding(3).apply(None, ids),
                                [1., 0., 1.])


def test_make_transform_refuses_a_state_type_that_is_not_a_class():
  from prepro_core._src.core.transform import make_transform
  with pytest.raises(TypeError, match="`state_type` must be the NamedTuple"):
    make_transform("x", init=lambda s: None, apply=lambda s, x: x,
                   state_type="NormalizationState")


# ---------------------------------------------------------------------------
# 2. Numeric: rank, float32 overflow, init samples.
# ---------------------------------------------------------------------------


def test_discretization_applies_to_rank_64_inputs():
  # Was a RecursionError inside jnp.searchsorted (one level per axis).
  x = np.full((1,) * 63 + (2,), 1.5, np.float32)
  d = pc.discretization(bin_boundaries=[0., 1., 2.])
  y = d.apply(d.init(x), x)
  assert y.shape == x.shape
  assert np.asarray(y).ravel().tolist() == [2, 2]
  n = pc.normalization(axis=None)
  assert n.apply(pc.adapt(n, X), x).shape == x.shape


def test_normalization_refuses_statistics_that_overflow_float32():
  # Finite float32 data whose variance (and sum of squares) is beyond
  # float32: the state used to hold inf and apply mapped everything to 0.
  data = np.array([3e38, -3e38, 3e38, -3e38], np.float32)
  n = pc.normalization(axis=None)
  msg = r"normalization.adapt: the mean or variance of `data` overflows float32.*Rescale"
  with pytest.raises(ValueError, match=msg):
    pc.adapt(n, data)
  with pytest.raises(ValueError, match=msg):
    n.adapt(n.init(data), data)
  layer = pf.Normalization(axis=None)
  with pytest.raises(ValueError, match=msg):
    layer.adapt(data)
  assert not layer.built  # a failed adapt leaves the layer as it was
  # Large but representable statistics still adapt.
  ok = pc.adapt(n, data / 1e20)
  assert np.isfinite(np.asarray(ok.variance)).all()


@pytest.mark.parametrize("make", [
    lambda: pc.rescaling(0.5),
    lambda: pc.discretization(bin_boundaries=[0., 1.]),
    lambda: pc.discretization(num_bins=3),
    lambda: pc.normalization(),
], ids=["rescaling", "discretization_constants", "discretization", "normalization"])
def test_numeric_init_refuses_strings_and_ragged_samples(make):
  t = make()
  with pytest.raises(TypeError, match=r"\.init: `sample` must hold real numbers"):
    t.init(np.array([["a", "b"]]))
  with pytest.raises(TypeError, match=r"\.init: `sample` must hold real numbers"):
    t.init(np.array([[1 + 2j]]))
  with pytest.raises(ValueError, match=r"`sample` must be a rectangular array"):
    t.init([[1.0, 2.0], [3.0]])
  with pytest.raises(ValueError, match=r"`x` must be a rectangular array"):
    t.apply(t.init(np.zeros((2, 2), np.float32)), [[1.0, 2.0], [3.0]])


def test_category_encoding_init_and_apply_want_integer_ids():
  t = pc.category_encoding(4)
  assert t.init(None) == pc.EmptyState()  # nothing depends on the sample
  with pytest.raises(TypeError, match=r"category_encoding.init: `sample` must "
                     r"hold integer ids, got dtype float32"):
    t.init(np.zeros((2,), np.float32))
  with pytest.raises(TypeError, match=r"`sample` must hold integer ids"):
    t.init(np.array(["a"]))
  with pytest.raises(TypeError, match=r"category_encoding.apply: `x` must "
                     r"hold integer ids, got dtype object"):
    t.apply(t.init(None), [[1, 2], [3]])
  with pytest.raises(TypeError, match=r"`x` must hold integer ids"):
    t.apply(t.init(None), None)
  empty = t.apply(t.init(None), np.zeros((0, 2), np.int32))
  assert empty.shape == (0, 4)


def test_rescaling_apply_refuses_non_numbers_and_takes_empty():
  t = pc.rescaling(0.5)
  s = t.init(None)
  for bad in (None, np.array(["a"]), np.array([1j])):
    with pytest.raises(TypeError, match=r"rescaling.apply: `x` must hold real"):
      t.apply(s, bad)
  assert t.apply(s, np.zeros((0, 3), np.uint8)).shape == (0, 3)


# ---------------------------------------------------------------------------
# 3. prepro_flax checkpoints.
# ---------------------------------------------------------------------------


def _adapted_norm(axis=-1):
  layer = pf.Normalization(axis=axis)
  layer.adapt(X)
  return layer


def test_restore_refuses_truncated_or_garbage_bytes():
  data = pf.save(_adapted_norm())
  msg = r"`restore`: `data` is not a prepro_flax.save checkpoint \(truncated or corrupt\)"
  for bad in (data[:len(data) // 2], data[:-1], data + b"\x00junk",
              b"\xc1\xc1\xc1", bytes(range(256))):
    fresh = pf.Normalization()
    with pytest.raises(ValueError, match=msg):
      pf.restore(fresh, bad)
    assert not fresh.built
  with pytest.raises(ValueError, match="not a prepro_flax.save checkpoint"):
    pf.restore(pf.Normalization(), serialization.msgpack_serialize({"a": 1}))
  with pytest.raises(TypeError, match=r"`restore`: `data` must be the bytes"):
    pf.restore(pf.Normalization(), data.decode("latin-1"))
  with pytest.raises(TypeError, match=r"`restore`: `model` must be an nnx.Module"):
    pf.restore(data, data)


def test_restore_into_another_layer_type_names_the_path_and_both_types():
  data = pf.save(_adapted_norm())
  with pytest.raises(ValueError, match=r"`restore`: the layer at '<the model "
                     r"itself>' is a Rescaling in `model` but a Normalization "
                     r"in `data`"):
    pf.restore(pf.Rescaling(0.5), data)
  # A numeric blob into a string layer: what mismatched, not `sample`.
  with pytest.raises(ValueError, match=r"is a StringLookup in `model` but a "
                     r"Normalization in `data`"):
    pf.restore(pf.StringLookup(), data)

  class A(nnx.Module):
    def __init__(self):
      self.pre = pf.Normalization()

  class B(nnx.Module):
    def __init__(self):
      self.pre = pf.Discretization(num_bins=3)

  a = A()
  a.pre.adapt(X)
  with pytest.raises(ValueError, match=r"the layer at 'pre' is a Discretization "
                     r"in `model` but a Normalization in `data`"):
    pf.restore(B(), pf.save(a))


def test_restore_of_a_checkpoint_without_layer_names_says_what_mismatched():
  # Checkpoints written before layer names were saved: the state's fields.
  raw = serialization.msgpack_restore(pf.save(_adapted_norm()))
  del raw["layers"]
  old = serialization.msgpack_serialize(raw)
  fresh = pf.Rescaling(0.5)
  fresh.build(np.zeros((2, 3), np.float32))
  with pytest.raises(ValueError, match=r"the state at 'state' in `data` does "
                     r"not fit `model`: the model expects a RescalingState"):
    pf.restore(fresh, old)


def test_restore_refuses_a_state_saved_with_other_arguments():
  data = pf.save(_adapted_norm(axis=-1))      # mean of shape (1, 3)
  fresh = pf.Normalization(axis=None)         # wants (1, 1)
  with pytest.raises(ValueError, match=r"the state at 'state.mean' in `data` "
                     r"does not fit `model`: the model expects an array of "
                     r"shape \(1, 1\) and dtype float32, the checkpoint holds "
                     r"an array of shape \(1, 3\)"):
    pf.restore(fresh, data)
  assert not fresh.built                      # nothing half-restored
  built = _adapted_norm(axis=None)            # also into a built layer
  with pytest.raises(ValueError, match="does not fit `model`"):
    pf.restore(built, data)
  d = pf.Discretization(num_bins=4, epsilon=0.1)
  d.adapt(X)
  with pytest.raises(ValueError, match=r"state.values' in `data` does not fit"):
    pf.restore(pf.Discretization(num_bins=4, epsilon=0.01), pf.save(d))


def test_restore_refuses_parameters_of_another_shape():
  class M(nnx.Module):
    def __init__(self, n):
      self.norm = pf.Normalization()
      self.dense = nnx.Linear(n, 2, rngs=nnx.Rngs(0))

  m = M(3)
  m.norm.adapt(X)
  with pytest.raises(ValueError, match=r"'dense/kernel' in `data` does not fit"):
    pf.restore(M(4), pf.save(m))


def test_hashed_crossing_called_eagerly_restores_into_a_fresh_model():
  feats = (np.array(["A", "B", "A"]), np.array([101, 101, 102]))

  class M(nnx.Module):
    def __init__(self):
      self.cross = pf.HashedCrossing(num_bins=5)
      self.norm = pf.Normalization()

  m = M()
  m.norm.adapt(X)
  expected = m.cross(feats)                    # built from a tuple
  fresh = pf.restore(M(), pf.save(m))
  assert fresh.cross.built
  np.testing.assert_array_equal(fresh.cross(feats), expected)
  np.testing.assert_array_equal(fresh.norm(X), m.norm(X))


# ---------------------------------------------------------------------------
# 4. Host layers under nnx.jit / jax.jit.
# ---------------------------------------------------------------------------

_HOST_MSG = r"runs on the host.*before the jitted step"


def test_host_layer_inside_nnx_jit_says_it_runs_on_the_host():
  ids = np.array([[1, 2], [2, 0]], np.int32)
  for built in (False, True):
    layer = pf.StringLookup(vocabulary=["a", "b"], invert=True)
    if built:
      assert layer(ids).tolist() == [["a", "b"], ["b", "[UNK]"]]

    @nnx.jit
    def step(layer, ids):
      return layer(ids)

    with pytest.raises(TypeError, match=_HOST_MSG):
      step(layer, ids)


def test_host_layer_inside_jitted_linen_apply_says_it_runs_on_the_host():
  ids = np.array([[1, 2], [2, 0]], np.int32)
  model = pfl.StringLookup(vocabulary=["a", "b"], invert=True)
  with pytest.raises(TypeError, match=_HOST_MSG):
    jax.jit(lambda x: model.apply({}, x))(ids)


def test_set_state_refuses_a_state_of_another_transform():
  layer = pf.Normalization()
  with pytest.raises(TypeError, match=re.escape(
      "`Normalization.set_state`: `state` must be a NormalizationState (from "
      "this layer's transform, normalization: its init/adapt or pc.adapt), "
      "got DiscretizationState.")):
    layer.set_state(pc.adapt(pc.discretization(num_bins=3), X))
  assert not layer.built
