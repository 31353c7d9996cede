"""The image factories' shared wrappers and per-example draws.

Every image transform is built by one of two wrappers:

* :func:`image_transform` wraps a pixel kernel
  ``kernel(images_float_nhwc, keys) -> images`` (colour, erasing, blur and the
  policies);
* :func:`geometric_transform` wraps per-example ``(3, 3)`` matrices and
  resamples through them (rotation, zoom, translation, shear, perspective),
  offering the matrices to :func:`~prepro_core.chain` for fusion.

Both handle HWC/NHWC inputs, Keras' dict inputs, dtype round trips and
``key=None``. The draw helpers turn one key per example
(``common.example_keys``) into that example's parameters, so a result depends
only on (key, example index), eager, jitted, vmapped or sharded alike.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import jax
import jax.numpy as jnp

from prepro_core._src.core.checks import check_key
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.core.transform import Transform
from prepro_core._src.image import common
from prepro_core._src.image import resampling

Array = Any


# ---------------------------------------------------------------------------
# Input checks and the factory wrappers.
# ---------------------------------------------------------------------------


def check_sample(sample: Any, where: str, rgb: bool = False) -> None:
  """Checks an ``init`` sample (``common.check_sample``) and its channels."""
  images = common.check_sample(sample, where)
  if rgb:
    check_rgb(images, where)


def check_rgb(images: Array, where: str) -> None:
  """Raises unless the images have 3 (RGB) channels."""
  channels = images.shape[-1]
  if channels != 3:
    raise ValueError(
        f"{where}: this transform works on RGB images, so the last axis must "
        f"have 3 channels; got shape {tuple(images.shape)} ({channels} "
        f"channel(s)).")


def image_transform(name: str,
                    kernel: Callable[[Array, Array], Array],
                    *,
                    rgb: bool = False,
                    random: bool = True,
                    validate: Optional[Callable[[Array], None]] = None
                   ) -> Transform:
  """Wraps ``kernel(images_float_nhwc, keys) -> images`` as a Transform.

  Handles HWC/NHWC, Keras' dict inputs, dtype round-trips and ``key=None``
  (the identity for random transforms; deterministic ones ignore ``key``).
  Inputs are checked (``common.check_inputs``, ``check_key``) and a batch of
  0 images gives its empty result (``common.apply_batch``).
  The kernel is jitted once per transform: eager calls then run one compiled
  program instead of dispatching dozens of small ops (inside a caller's
  ``jit`` or ``vmap`` it is simply inlined).
  """

  @jax.jit
  def run(images4, keys):
    dtype = images4.dtype
    return common.restore_dtype(
        per_shard(kernel)(common.to_float(images4), keys), dtype)

  def init(sample):
    check_sample(sample, name, rgb=rgb)
    return EmptyState()

  def apply(state, x, key=None):
    del state
    x = common.check_inputs(x, name)
    key = check_key(key, name)
    images = x["images"] if isinstance(x, dict) else x
    if rgb:
      check_rgb(images, name)
    if validate is not None:
      validate(images)
    if random and key is None:
      return x
    return common.apply_batch(transform, x, key)

  def transform(x, key):
    images, rebuild = common.split_inputs(x, name)
    images4, unbatch = common.to_batch(images, name)
    keys = None if key is None else common.example_keys(
        key, images4.shape[0], like=images4)
    return rebuild(unbatch(run(images4, keys)))

  return make_transform(name, init=init, apply=apply, is_random=random,
                        state_type=EmptyState)


def _explicit_batch_axes(a: Array) -> Any:
  """The explicit mesh axes ``a``'s leading axis is sharded over, or None."""
  try:
    spec = getattr(jax.typeof(a).sharding, "spec", None)
  except TypeError:
    return None
  return spec[0] if spec else None


def per_shard(kernel: Callable[[Array, Array], Array]
             ) -> Callable[[Array, Array], Array]:
  """Runs a per-example ``kernel(images, keys)`` on each device's examples.

  Under explicit sharding (``jax.make_mesh``'s default axis type) every
  reshape, gather or scatter that touches the sharded batch axis must say
  how its output is sharded. The kernels here only ever combine an example
  with itself, so when the images' batch axis is sharded over explicit mesh
  axes the kernel runs under ``shard_map`` on each device's own examples
  (and their keys, sharded alike by ``example_keys(..., like=images)``):
  no communication, and the same values as unsharded. Otherwise the kernel
  runs as is (unsharded inputs, ``Auto`` meshes).
  """

  def wrapped(images, keys):
    axes = _explicit_batch_axes(images)
    if axes is None:
      return kernel(images, keys)
    spec = jax.sharding.PartitionSpec(axes)
    mesh = jax.typeof(images).sharding.mesh
    if keys is None:
      return jax.shard_map(lambda x: kernel(x, None), mesh=mesh,
                           in_specs=spec, out_specs=spec)(images)
    keys = common.shard_batch_like(keys, images)
    return jax.shard_map(kernel, mesh=mesh, in_specs=(spec, spec),
                         out_specs=spec)(images, keys)

  return wrapped


def geometric_transform(name: str, matrices, *, interpolation: str,
                        fill_mode: str, fill_value: float,
                        bounding_box_format: Optional[str],
                        projective: bool = False) -> Transform:
  """A random transform that resamples through per-example matrices.

  ``matrices(state, keys, height, width) -> (batch, 3, 3)`` maps output to
  input pixel coordinates. The transform's ``fusion`` is its
  ``resampling.Geometry``, so :func:`~prepro_core.chain` resamples a run of
  such transforms once. ``key=None`` is the identity.
  """
  geometry = resampling.Geometry(
      matrices=matrices, interpolation=interpolation, fill_mode=fill_mode,
      fill_value=fill_value, projective=projective,
      bounding_box_format=bounding_box_format)

  # One compiled program per input shape: eager calls then cost one dispatch
  # instead of one per primitive.
  @jax.jit
  def run(x, state, key):
    images4, _ = common.to_batch(common.split_inputs(x, name)[0], name)
    return resampling.warp_inputs(
        x, lambda b, h, w: matrices(
            state, common.example_keys(key, b, like=images4), h, w),
        interpolation=interpolation, fill_mode=fill_mode,
        fill_value=fill_value, projective=projective,
        bounding_box_format=bounding_box_format, where=name)

  def apply(state, x, key=None):
    x = common.check_inputs(x, name)
    key = check_key(key, name)
    if key is None:
      return x
    return common.apply_batch(run, x, state, key)

  return make_transform(name, init=common.stateless_init(name), apply=apply,
                        is_random=True, fusion=geometry,
                        state_type=EmptyState)


# ---------------------------------------------------------------------------
# Per-example draws: one key per example in, (batch, ...) parameters out.
# ---------------------------------------------------------------------------


def per_example(keys: Array, n: int) -> Tuple[Array, ...]:
  """Splits each example's key into ``n`` independent keys: n arrays (batch,)."""
  sub = jax.vmap(lambda k: jax.random.split(k, n))(keys)
  return tuple(sub[:, i] for i in range(n))


def uniform(keys: Array, lower: float, upper: float) -> Array:
  """One ``U[lower, upper)`` float32 draw per example key: shape (batch,)."""
  return jax.vmap(
      lambda k: jax.random.uniform(k, (), jnp.float32, lower, upper))(keys)


def unit_draws(keys: Array, n: int) -> Array:
  """``n`` independent ``U[0, 1)`` draws per example key: shape (batch, n).

  One generator call per example however many parameters it needs (each
  call adds a hash to the compiled program).
  """
  return jax.vmap(lambda k: jax.random.uniform(k, (n,), jnp.float32))(keys)


def span(u: Array, lower: float, upper: float) -> Array:
  """Maps ``U[0, 1)`` draws onto ``[lower, upper)``."""
  return lower + u * (upper - lower)


def coin(u_threshold: Array, u_probability: Array, p_lower: float,
         p_upper: float) -> Array:
  """Keras' two-draw coin: ``U[0, 1) < U[p_lower, p_upper)``."""
  return u_threshold < span(u_probability, p_lower, p_upper)


def uniforms(keys: Array, *ranges) -> Array:
  """Per-example uniform draws: ``(batch, len(ranges))``, column ``j`` in
  ``[lo_j, hi_j)`` (exactly ``lo_j`` when ``lo_j == hi_j``).

  One ``jax.random.uniform(keys[i], (len(ranges),))`` per example covers all
  of a transform's parameters: each threefry call costs XLA compile time, so
  drawing them together keeps a transform cheap to compile. Scaled as
  ``jax.random.uniform`` scales. A transform whose ranges are all pinned
  (Keras' ``factor=(f, f)`` idiom) draws no bits at all.
  """
  lo = jnp.asarray([r[0] for r in ranges], jnp.float32)
  hi = jnp.asarray([r[1] for r in ranges], jnp.float32)
  shape = (keys.shape[0], len(ranges))
  if all(float(a) == float(b) for a, b in ranges):
    # Sharded like the keys (and so the images) under explicit sharding.
    return common.shard_batch_like(jnp.broadcast_to(lo, shape), keys)
  u = jax.vmap(lambda k: jax.random.uniform(k, (len(ranges),), jnp.float32))(
      keys)
  return jnp.maximum(lo, u * (hi - lo) + lo)
