"""adapt with axis_name under pmap and shard_map on 8 simulated CPU devices.

Every device must end with the state a single-device adapt of all shards
gives; apply must work sharded.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

import prepro_core as pc
from _numeric_data import make_data

N_DEV = 8

try:
  from jax import shard_map as _shard_map  # jax >= 0.6

  def shard_map(f, mesh, in_specs, out_specs):
    return _shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs)
except ImportError:  # pragma: no cover
  from jax.experimental.shard_map import shard_map as _shard_map

  def shard_map(f, mesh, in_specs, out_specs):
    return _shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=out_specs)


@pytest.fixture(scope="module")
def mesh():
  assert jax.device_count() >= N_DEV, "conftest sets 8 CPU devices"
  return Mesh(np.array(jax.devices()[:N_DEV]), ("data",))


def _replicate(state):
  return jax.tree_util.tree_map(
      lambda l: jnp.broadcast_to(l, (N_DEV,) + jnp.shape(l)), state)


def _check_discretization(stacked, ref):
  # Boundaries and summary points exactly; a summary weight may differ by
  # 1 ulp where the float64 value Keras rounds sits on a float32 midpoint
  # and the sharded program's rounding of the double-float pair differs.
  _check_every_device(stacked._replace(weights=ref.weights[None].repeat(
      N_DEV, 0)), ref, rtol=0, atol=0)
  _check_every_device(stacked.weights, ref.weights, rtol=2.4e-7, atol=0)


def _check_every_device(stacked, ref, **tol):
  for leaf, ref_leaf in zip(jax.tree_util.tree_leaves(stacked),
                            jax.tree_util.tree_leaves(ref)):
    for d in range(N_DEV):
      np.testing.assert_allclose(np.asarray(leaf)[d], np.asarray(ref_leaf),
                                 **tol)


def test_normalization_pmap(mesh):
  del mesh
  x = make_data(90, (N_DEV * 16, 3), 5.0, 2.0)
  t = pc.normalization()
  ref = pc.adapt(t, x)
  state0 = t.init(x[:16])
  adapt = jax.pmap(functools.partial(t.adapt, axis_name="d"), axis_name="d",
                   in_axes=(None, 0))
  out = adapt(state0, x.reshape(N_DEV, 16, 3))
  _check_every_device(out, ref, rtol=1e-5, atol=1e-5)
  y = jax.pmap(t.apply, in_axes=(0, 0))(out, x.reshape(N_DEV, 16, 3))
  np.testing.assert_allclose(np.asarray(y).reshape(x.shape), t.apply(ref, x),
                             rtol=1e-4, atol=1e-5)


def test_normalization_shard_map(mesh):
  x = make_data(91, (N_DEV * 8, 2, 3), -3.0, 4.0)
  t = pc.normalization(axis=(1, 2))
  ref = pc.adapt(t, x)
  state0 = t.init(x)

  def local(state, xs):
    s = t.adapt(state, xs, axis_name="data")
    return _replicate_local(s), t.apply(s, xs)

  def _replicate_local(s):
    return jax.tree_util.tree_map(lambda l: l[None], s)

  f = jax.jit(shard_map(local, mesh, in_specs=(P(), P("data")),
                        out_specs=(P("data"), P("data"))))
  xs = jax.device_put(x, NamedSharding(mesh, P("data")))
  states, y = f(state0, xs)
  _check_every_device(states, ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(y, t.apply(ref, x), rtol=1e-4, atol=1e-5)


def test_discretization_pmap_equals_single_device(mesh):
  del mesh
  x = make_data(92, (N_DEV, 40), 0.0, 3.0)
  t = pc.discretization(num_bins=5, epsilon=0.05)
  ref = pc.adapt(t, x.reshape(-1))
  adapt = jax.pmap(functools.partial(t.adapt, axis_name="d"), axis_name="d",
                   in_axes=(None, 0))
  out = adapt(t.init(x), x)
  # all_gather of the shards: the single-device state.
  _check_discretization(out, ref)
  ids = jax.pmap(t.apply, in_axes=(0, 0))(out, x)
  np.testing.assert_array_equal(np.asarray(ids).reshape(-1),
                                t.apply(ref, x.reshape(-1)))


def test_discretization_shard_map_equals_single_device(mesh):
  x = make_data(93, (N_DEV * 5, 8), 2.0, 1.0)
  t = pc.discretization(num_bins=4, epsilon=0.05, output_mode="one_hot")
  ref = pc.adapt(t, x)

  def local(state, xs):
    s = t.adapt(state, xs, axis_name="data")
    return jax.tree_util.tree_map(lambda l: l[None], s), t.apply(s, xs)

  f = jax.jit(shard_map(local, mesh, in_specs=(P(), P("data")),
                        out_specs=(P("data"), P("data"))))
  states, y = f(t.init(x), jax.device_put(x, NamedSharding(mesh, P("data"))))
  _check_discretization(states, ref)
  np.testing.assert_array_equal(y, t.apply(ref, x))


def test_apply_under_jit_with_sharded_input(mesh):
  x = make_data(94, (N_DEV * 4, 3))
  t = pc.normalization()
  s = pc.adapt(t, x)
  xs = jax.device_put(x, NamedSharding(mesh, P("data")))
  y = jax.jit(t.apply)(s, xs)
  np.testing.assert_allclose(y, t.apply(s, x), rtol=1e-6)
  r = pc.rescaling(0.5)
  np.testing.assert_allclose(jax.jit(r.apply)(r.init(x), xs), x * 0.5)


def _numeric_and_categorical_cases():
  """(transform, state, batch) for the apply-under-pmap/shard_map checks."""
  ids = np.random.default_rng(95).integers(0, 6, (N_DEV * 4, 3)).astype(
      np.int32)
  lookup = pc.integer_lookup(output_mode="multi_hot")
  encode = pc.category_encoding(num_tokens=6, output_mode="count")
  rescale = pc.rescaling(1 / 255.0, offset=-0.5)
  pixels = make_data(96, (N_DEV * 4, 3), 100.0, 30.0)
  return [(lookup, pc.adapt(lookup, ids), ids),
          (encode, encode.init(ids), ids),
          (rescale, rescale.init(pixels), pixels)]


@pytest.mark.parametrize("case", range(3),
                         ids=["integer_lookup", "category_encoding",
                              "rescaling"])
def test_apply_under_pmap_and_shard_map(mesh, case):
  t, state, x = _numeric_and_categorical_cases()[case]
  ref = np.asarray(t.apply(state, x))
  per_device = x.reshape((N_DEV, -1) + x.shape[1:])
  y = jax.pmap(t.apply, in_axes=(None, 0))(state, per_device)
  # rtol and a little atol: a compiled x * scale + offset may fuse into one
  # rounding (FMA), which moves results near 0 by an ulp of the terms.
  np.testing.assert_allclose(np.asarray(y).reshape(ref.shape), ref,
                             rtol=1e-6, atol=1e-7)
  f = jax.jit(shard_map(lambda s, xs: t.apply(s, xs), mesh,
                        in_specs=(P(), P("data")), out_specs=P("data")))
  y = f(state, jax.device_put(x, NamedSharding(mesh, P("data"))))
  np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-6, atol=1e-7)
