"""The contract every transform keeps (../DESIGN.md), checked once over every
public factory: the list in _factories.py has one entry per factory.

* apply: eager == jit == vmap (device transforms); random image transforms
  also jitted on a batch sharded over 8 devices, on an Explicit and on an
  Auto mesh, and vmapped over a sharded stack of batches; the same key gives
  the same output, another key another, identical examples draw their own
  parameters, ``key=None`` is inference (the identity or the deterministic
  variant), and a deterministic transform ignores ``key``.
* adapt/merge: merge is associative; adapting shards then merging equals
  adapting the whole (adapt and merge under jit: the numeric transforms'
  own tests).
* state: a NamedTuple pytree that round-trips through ``jax.tree``
  (flatten/unflatten) and through ``prepro_flax.save``/``restore``, and
  applies identically afterwards.

Only the public API (``pc.*``, ``pf.*``) is used. Compiling dominates the
cost: each transform is built once (_factories.transform) and every check
reuses its compiled programs where the shapes repeat.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
import prepro_flax as pf
from _factories import FACTORIES
from _factories import NON_FACTORIES
from _factories import sample as _raw_sample
from _factories import transform

KEY = jax.random.key(0)
OTHER_KEY = jax.random.key(7)
P = jax.sharding.PartitionSpec


def _mesh(axis_type):
  return jax.make_mesh((8,), ("b",), axis_types=(axis_type,))


EXPLICIT = jax.sharding.AxisType.Explicit
AUTO = jax.sharding.AxisType.Auto


def _sample(entry):
  x = _raw_sample(entry)
  if entry.image:
    # Device arrays: "inference returns its input" means that very array.
    return jax.tree.map(jnp.asarray, x)
  return x


def _apply(t, s, x, key=None):
  return t.apply(s, x, key=key) if key is not None else t.apply(s, x)


def _state(t, x):
  return pc.adapt(t, x) if t.adaptable else t.init(x)


def _close(a, b, atol, what):
  """Every leaf of ``a`` equals ``b``'s within ``atol`` (dict: per key)."""
  assert jax.tree.structure(a) == jax.tree.structure(b), what
  if isinstance(a, dict):
    for k in a:
      tol = atol[k] if isinstance(atol, dict) else atol
      _close(a[k], b[k], tol, f"{what}[{k!r}]")
    return
  for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    la, lb = np.asarray(la), np.asarray(lb)
    assert la.shape == lb.shape, (what, la.shape, lb.shape)
    assert la.dtype == lb.dtype, (what, la.dtype, lb.dtype)
    if la.dtype.kind in "fc":
      np.testing.assert_allclose(la, lb, atol=atol, rtol=0, err_msg=what)
    else:
      np.testing.assert_array_equal(la, lb, err_msg=what)


def _equal(a, b, what):
  _close(a, b, 0.0, what)


def _differs(a, b):
  """Every array leaf of ``a`` differs from ``b``'s."""
  return all(not np.allclose(np.asarray(la), np.asarray(lb))
             for la, lb in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _states_close(a, b, atol, what):
  assert type(a) is type(b), (what, type(a), type(b))
  assert jax.tree.structure(a) == jax.tree.structure(b), what
  for i, (la, lb) in enumerate(zip(jax.tree.leaves(a), jax.tree.leaves(b))):
    la, lb = np.asarray(la), np.asarray(lb)
    assert la.shape == lb.shape and la.dtype == lb.dtype, (what, i, la.shape,
                                                           lb.shape)
    if la.dtype.kind in "fc" and atol:
      scale = 1.0 + np.max(np.abs(lb), initial=0.0)
      np.testing.assert_allclose(la, lb, atol=atol * scale, rtol=0,
                                 err_msg=f"{what}: leaf {i}")
    else:
      np.testing.assert_array_equal(la, lb, err_msg=f"{what}: leaf {i}")


def _stack(x):
  """A stack of two batches: ``x`` and ``x`` with its examples reversed."""
  return jax.tree.map(lambda a: jnp.stack([a, a[::-1]]), x)


# --------------------------------------------------------------------------
# The list covers the API.
# --------------------------------------------------------------------------


def test_every_factory_has_an_entry():
  names = [e.name for e in FACTORIES]
  assert len(names) == len(set(names)), "a factory listed twice"
  public = {n for n in pc.__all__ if n[0].islower()}
  assert NON_FACTORIES <= public, NON_FACTORIES - public
  missing = public - NON_FACTORIES - set(names)
  assert not missing, f"factories without an entry in _factories.py: {missing}"
  assert set(names) <= public, set(names) - public
  for e in FACTORIES:
    t = transform(e)
    assert isinstance(t, pc.Transform), e.name
    assert t.is_random == e.random, e.name
    # Only host transforms may refuse jit.
    assert e.jittable or t.on_host, e.name


# --------------------------------------------------------------------------
# apply
# --------------------------------------------------------------------------


def _check_random_image(entry, t, s, x):
  atol = entry.atol
  eager = t.apply(s, x, key=KEY)
  lead = jax.tree.leaves(x)[0]
  out = eager["images"] if isinstance(eager, dict) else eager
  assert out.dtype == lead.dtype
  assert out.shape == (entry.out_shape or lead.shape)
  # The same key gives the same output.
  _equal(t.apply(s, x, key=KEY), eager, "same key")
  # jit, on a batch sharded over 8 devices of a mesh with Explicit axes
  # (jax.make_mesh's default; sharding is part of the types), == eager; the
  # output stays sharded along the batch. (Mixing gathers partners across
  # devices; the policies group each device's own examples.)
  esh = jax.sharding.NamedSharding(_mesh(EXPLICIT), P("b"))
  y = jax.jit(t.apply)(s, jax.device_put(x, esh), key=KEY)
  _close(y, eager, atol, "jit, Explicit mesh")
  for leaf in jax.tree.leaves(y):
    assert leaf.sharding.spec[0] == "b", ("output sharding", leaf.sharding)
  # jit on an Auto mesh == eager.
  ash = jax.sharding.NamedSharding(_mesh(AUTO), P("b"))
  _close(jax.jit(t.apply)(s, jax.device_put(x, ash), key=KEY), eager, atol,
         "jit, Auto mesh")
  # vmap over a stack of batches (one key each), sharded along the batch on
  # an Auto mesh, == one eager call per batch.
  stacked = jax.device_put(_stack(x), jax.sharding.NamedSharding(
      _mesh(AUTO), P(None, "b")))
  keys = jnp.stack([KEY, jax.random.key(2)])
  v = jax.vmap(lambda xx, kk: t.apply(s, xx, key=kk))(stacked, keys)
  for i in range(2):
    one = t.apply(s, jax.tree.map(lambda a: a[i], _stack(x)), key=keys[i])
    _close(jax.tree.map(lambda a: a[i], v), one, atol, f"vmap, batch {i}")
  # key=None is inference, eagerly and under jit.
  inferred = t.apply(s, x)
  if entry.inference == "same":
    for a, b in zip(jax.tree.leaves(inferred), jax.tree.leaves(x)):
      assert a is b, "key=None must return the input itself"
    _equal(jax.jit(t.apply)(s, x), x, "jit, key=None")
  elif entry.inference == "identity":
    _equal(inferred, x, "key=None")
    _equal(jax.jit(t.apply)(s, x), x, "jit, key=None")
  else:
    want = entry.inference(x)
    _equal(inferred, want, "key=None")
    _equal(jax.jit(t.apply)(s, x), want, "jit, key=None")
  if entry.value_range is not None:
    lo, hi = entry.value_range
    assert float(np.min(out)) >= lo and float(np.max(out)) <= hi, (
        float(np.min(out)), float(np.max(out)))
  if entry.key_independent:
    _equal(t.apply(s, x, key=OTHER_KEY), eager, "key-independent")
    return
  # Another key gives another output.
  assert _differs(t.apply(s, x, key=OTHER_KEY), eager), "another key"
  # Identical examples draw their own parameters.
  if entry.same_examples:
    o = np.asarray(out)
    assert len({o[i].tobytes() for i in range(entry.same_examples)}) > 1, (
        "identical examples got identical draws")


def _check_deterministic(entry, t, s, x):
  eager = t.apply(s, x)
  _equal(t.apply(s, x), eager, "applied twice")
  # A deterministic transform ignores the key.
  _equal(t.apply(s, x, key=KEY), eager, "key given")
  if entry.jittable:
    xd = jax.tree.map(jnp.asarray, x)
    _close(jax.jit(t.apply)(s, xd), eager, entry.atol, "jit")
    if entry.vmap == "rows":
      v = jax.vmap(t.apply, in_axes=(None, 0))(s, xd)
      _close(v, eager, entry.atol, "vmap over the batch")


@pytest.mark.parametrize("entry", FACTORIES, ids=repr)
def test_apply_contract(entry):
  t = transform(entry)
  x = _sample(entry)
  s = _state(t, x)
  if entry.random:
    _check_random_image(entry, t, s, x)
  else:
    _check_deterministic(entry, t, s, x)


# --------------------------------------------------------------------------
# adapt / merge
# --------------------------------------------------------------------------


def _thirds(x):
  # Equal shards: each shard's adapt reuses one compiled program.
  if isinstance(x, dict):  # columns: split by rows
    parts = [_thirds(v) for v in x.values()]
    return [dict(zip(x, p)) for p in zip(*parts)]
  n = len(x) // 3
  return [x[:n], x[n:2 * n], x[2 * n:]]


@pytest.mark.parametrize("entry", FACTORIES, ids=repr)
def test_merge_contract(entry):
  t = transform(entry)
  x = _sample(entry)
  if not t.adaptable:
    # Nothing learnt: merge keeps the (equal) states.
    s = t.init(x)
    _states_close(t.merge(t.merge(s, s), s), s, 0.0, "merge")
    return
  a, b, c = (pc.adapt(t, part) for part in _thirds(x))
  left = t.merge(t.merge(a, b), c)
  right = t.merge(a, t.merge(b, c))
  whole = pc.adapt(t, x)
  tol = entry.merge_atol
  _states_close(left, right, tol, "merge is associative")
  _states_close(left, whole, tol, "merge of shards == adapt of the whole")
  _close(t.apply(left, x), t.apply(whole, x), max(tol, entry.atol) * 10,
         "apply after merge")


# --------------------------------------------------------------------------
# state
# --------------------------------------------------------------------------


@pytest.mark.parametrize("entry", FACTORIES, ids=repr)
def test_state_round_trips(entry):
  t = transform(entry)
  x = _sample(entry)
  s = _state(t, x)
  key = KEY if entry.random else None
  want = _apply(t, s, x, key)
  if not t.on_host:
    # init takes a jax.ShapeDtypeStruct as well as an array.
    spec = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype),
                        jax.tree.map(jnp.asarray, x))
    _states_close(t.init(spec), t.init(x), 0.0, "init(ShapeDtypeStruct)")
  # jax.tree: flatten, copy the leaves to NumPy, unflatten.
  leaves, treedef = jax.tree.flatten(s)
  s2 = jax.tree.unflatten(treedef, [np.array(l) for l in leaves])
  _states_close(s2, s, 0.0, "jax.tree round trip")
  _equal(_apply(t, s2, x, key), want, "apply after jax.tree round trip")
  # prepro_flax.save / restore, into a layer holding a fresh (un-adapted)
  # state of the same transform.
  layer = pf.PreprocessingLayer(t)
  layer.set_state(s)
  data = pf.save(layer)
  fresh = pf.PreprocessingLayer(t)
  fresh.set_state(t.init(x))
  s3 = pf.restore(fresh, data).get_state()
  _states_close(s3, s, 0.0, "pf.save/restore")
  _equal(_apply(t, s3, x, key), want, "apply after pf.save/restore")
