"""Shared helpers for the image transforms.

Layout: images are channels-last, either one image ``(height, width,
channels)`` (HWC) or a batch ``(batch, height, width, channels)`` (NHWC). Every
transform accepts both and returns the rank it was given.

Value-range contract (as in dm_pix and Keras): geometric transforms and
resizing are value-agnostic, they only move and interpolate pixels. Colour
transforms take a ``value_range=(low, high)`` argument (Keras' default
``(0, 255)``) saying what range the pixels are in, and keep their output in
that range. Computation happens in floating point: integer images (``uint8``...)
are converted to ``float32`` and come back in their own dtype, rounded and
clipped to the dtype's range, as Keras does. Floating images keep their dtype.

Inputs may also be Keras' dict form ``{"images", "labels",
"segmentation_masks", "bounding_boxes"}``; :func:`split_inputs` takes the
images out and rebuilds the same structure from the transformed parts.

Bad input, one rule for every image transform (checks on shapes and dtypes,
made in Python before or while ``jit`` traces, so compiled programs are
unchanged): :func:`check_inputs` (``apply``) and :func:`check_sample`
(``init``) refuse images that are not ints or floats (TypeError) or not rank
3 or 4, or of height or width 0 (ValueError), and dict parts that do not go
with the images (labels, masks, boxes of another batch; masks of another
height or width). A batch of 0 images is valid: :func:`apply_batch` gives
its empty result (the output a batch would give, with 0 rows).

Randomness: :func:`example_keys` is the single place where a transform's key is
turned into one key per example (``jax.random.split(key, batch)``), so every
example draws its own parameters and the result is the same eagerly, under
``jit``, under ``vmap`` and when sharded. A single HWC image is a batch of one.
Given the images (``like=``), the keys carry the images' batch sharding, so
inputs sharded over explicit mesh axes (``jax.make_mesh``'s default) work too.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core.transform import EmptyState

Array = Any

DICT_KEYS = ("images", "labels", "segmentation_masks", "bounding_boxes")


def _describe(value: Any) -> str:
  """A short description of a bad input, for error messages."""
  if hasattr(value, "shape") and hasattr(value, "dtype"):
    return f"an array of dtype {value.dtype} and shape {tuple(value.shape)}"
  text = repr(value)
  if len(text) > 60:
    text = text[:57] + "..."
  return f"{text} ({type(value).__name__})"


def _dtype_hint(dtype: Any) -> str:
  """What to do about images of a dtype that is not real numbers."""
  kind = getattr(dtype, "kind", "")
  if kind == "b":
    return "; cast boolean images first, e.g. images.astype(np.uint8)"
  if kind == "c":
    return "; take the real part or the magnitude first"
  if kind in ("S", "U"):
    return "; decode image files into arrays first"
  return ""


def as_images(images: Any, where: str, argname: str = "images") -> Array:
  """Checks that ``images`` are an HWC image or an NHWC batch of real numbers.

  The one check of every image transform's input (``to_batch`` and
  ``check_inputs`` call it); on shapes and dtypes only, so it runs in Python
  when ``jit`` traces and leaves the compiled program as it is. Arrays,
  tracers and ``jax.ShapeDtypeStruct`` are returned as they are; Python data
  (nested lists) as a ``jnp`` array.

  Raises:
    TypeError: not an array of ints or floats (strings, None, complex, bool,
      ragged nested lists...).
    ValueError: not rank 3 or 4, or a height, width or channel count of 0.
  """
  python_data = not (hasattr(images, "shape") and hasattr(images, "dtype"))
  if python_data:
    try:
      arr = np.asarray(images)
    except (TypeError, ValueError):
      arr = None  # ragged nested lists
    if arr is None or arr.dtype == object:
      raise TypeError(
          f"{where}: `{argname}` must be an array of ints or floats shaped "
          f"(height, width, channels) or (batch, height, width, channels), "
          f"got {_describe(images)}.")
    images = arr
  dtype = images.dtype
  if not (jnp.issubdtype(dtype, jnp.integer) or
          jnp.issubdtype(dtype, jnp.floating)):
    raise TypeError(
        f"{where}: `{argname}` must hold real numbers (an int or float dtype, "
        f"e.g. uint8 or float32), got dtype {dtype}{_dtype_hint(dtype)}.")
  shape = tuple(images.shape)
  if len(shape) not in (3, 4):
    raise ValueError(
        f"{where}: `{argname}` must have rank 3 (height, width, channels) or 4 "
        f"(batch, height, width, channels), got shape {shape}.")
  if shape[-3] < 1 or shape[-2] < 1:
    raise ValueError(
        f"{where}: `{argname}` must have height and width >= 1, got shape "
        f"{shape}; drop empty images before the transform.")
  if shape[-1] < 1:
    raise ValueError(
        f"{where}: `{argname}` must have at least 1 channel, got shape "
        f"{shape}.")
  return jnp.asarray(images) if python_data else images


def to_batch(images: Array, where: str) -> Tuple[Array, Callable[[Array], Array]]:
  """Returns ``images`` as an NHWC batch and a function restoring the rank.

  Args:
    images: an HWC image or an NHWC batch (checked by :func:`as_images`).
    where: the calling transform's name, for error messages.

  Returns:
    ``(images4, unbatch)``: the rank-4 images and a function mapping a rank-4
    result back to the rank of ``images``.

  Raises:
    TypeError, ValueError: see :func:`as_images`.
  """
  images = as_images(images, where)
  if len(images.shape) == 4:
    return images, lambda y: y
  return images[None], lambda y: y[0]


def split_inputs(x: Any, where: str) -> Tuple[Array, Callable[..., Any]]:
  """Takes the images out of ``x`` (an array or Keras' dict form).

  Args:
    x: an image array, or a dict whose keys are among ``"images"``
      (required), ``"labels"``, ``"segmentation_masks"``, ``"bounding_boxes"``.
    where: the calling transform's name, for error messages.

  Returns:
    ``(images, rebuild)``. ``rebuild(new_images, **parts)`` returns the same
    structure as ``x`` with the images replaced and any other part given by
    keyword (``labels=``, ``segmentation_masks=``, ``bounding_boxes=``)
    replaced; parts not given pass through unchanged.

  Example:
    >>> import numpy as np
    >>> from prepro_core._src.image.common import split_inputs
    >>> x, y = np.ones((2, 4, 4, 3), np.float32), np.array([0, 1])
    >>> images, rebuild = split_inputs({"images": x, "labels": y}, "t")
    >>> out = rebuild(images * 2)          # {"images": 2x, "labels": y}
    >>> sorted(out), float(out["images"].max()), out["labels"].tolist()
    (['images', 'labels'], 2.0, [0, 1])
  """
  if isinstance(x, dict):
    unknown = sorted(set(x) - set(DICT_KEYS))
    if unknown:
      raise ValueError(
          f"{where}: unknown input key(s) {unknown}; a dict input may hold "
          f"only {DICT_KEYS}.")
    if "images" not in x:
      raise ValueError(
          f"{where}: a dict input needs an 'images' entry (Keras' dict form: "
          f"'images', optionally with {DICT_KEYS[1:]}), got keys "
          f"{sorted(x)}.")

    def rebuild_dict(images, **parts):
      bad = sorted(set(parts) - set(DICT_KEYS[1:]))
      if bad:
        raise ValueError(f"{where}: cannot rebuild unknown part(s) {bad}.")
      out = dict(x)
      out["images"] = images
      for k, v in parts.items():
        if k in x:
          out[k] = v
      return out

    return x["images"], rebuild_dict

  def rebuild_array(images, **parts):
    del parts
    return images

  return x, rebuild_array


def _shape(value: Any, argname: str, where: str) -> Tuple[int, ...]:
  """``value``'s shape (arrays, tracers or Python data), or prepro's error."""
  if hasattr(value, "shape"):
    return tuple(value.shape)
  try:
    return tuple(np.shape(value))
  except (TypeError, ValueError):  # ragged nested lists
    raise TypeError(
        f"{where}: `{argname}` must be an array (or nested lists of equal "
        f"lengths), got {_describe(value)}.") from None


def _dtype(value: Any) -> Any:
  if hasattr(value, "dtype"):
    return value.dtype
  return np.asarray(value).dtype


def check_masks(masks: Any, images_shape: Tuple[int, ...], where: str) -> None:
  """Checks Keras' ``segmentation_masks`` against the images they go with.

  Masks hold numbers (class ids; bools allowed) and have the images' batch,
  height and width: ``(batch, h, w)`` or ``(batch, h, w, channels)`` for a
  batch of images, ``(h, w)`` or ``(h, w, channels)`` for one image. Every
  image transform applies this one rule.
  """
  shape = _shape(masks, "segmentation_masks", where)
  dtype = _dtype(masks)
  if not (jnp.issubdtype(dtype, jnp.integer) or
          jnp.issubdtype(dtype, jnp.floating) or dtype == np.bool_):
    raise TypeError(
        f"{where}: `segmentation_masks` must hold numbers (class ids), got "
        f"dtype {dtype}.")
  lead = tuple(images_shape[:-1])
  names = "batch, height and width" if len(lead) == 3 else "height and width"
  if len(shape) not in (len(lead), len(lead) + 1) or shape[:len(lead)] != lead:
    raise ValueError(
        f"{where}: `segmentation_masks` must have the images' {names} "
        f"{lead}, shaped {lead} or {lead + ('channels',)}, got shape "
        f"{shape}.")


def masks_to_batch(masks: Array, images_shape: Tuple[int, ...], where: str
                  ) -> Tuple[Array, Callable[[Array], Array]]:
  """Segmentation masks as ``(batch, h, w, channels)`` and a function
  restoring their shape (see :func:`check_masks` for the shapes taken)."""
  check_masks(masks, images_shape, where)
  masks = jnp.asarray(masks)
  channel = masks.ndim == len(images_shape) - 1
  m = masks[..., None] if channel else masks
  single = len(images_shape) == 3
  m = m[None] if single else m

  def unbatch(y):
    y = y[0] if single else y
    return y[..., 0] if channel else y

  return m, unbatch


def check_boxes(bounding_boxes: Any, batched: bool, batch: Optional[int],
                where: str) -> None:
  """Checks Keras' ``bounding_boxes`` dict: ``{"boxes": (batch, n, 4),
  "labels": (batch, n)}`` (``(n, 4)`` and ``(n,)`` for one image), numbers,
  with the images' ``batch`` (when given)."""
  if not isinstance(bounding_boxes, dict) or "boxes" not in bounding_boxes:
    raise ValueError(
        f"{where}: `bounding_boxes` must be a dict with a 'boxes' entry of "
        f"shape (batch, n, 4) (and optionally 'labels'), got "
        f"{type(bounding_boxes).__name__}"
        f"{' with keys ' + str(sorted(bounding_boxes)) if isinstance(bounding_boxes, dict) else ''}.")
  boxes = bounding_boxes["boxes"]
  shape = _shape(boxes, "bounding_boxes", where)
  dtype = _dtype(boxes)
  if not (jnp.issubdtype(dtype, jnp.integer) or
          jnp.issubdtype(dtype, jnp.floating)):
    raise TypeError(
        f"{where}: `bounding_boxes['boxes']` must hold numbers, got dtype "
        f"{dtype}.")
  want = "(batch, n, 4)" if batched else "(n, 4)"
  if len(shape) != (3 if batched else 2) or shape[-1] != 4:
    raise ValueError(
        f"{where}: `bounding_boxes['boxes']` must have shape {want}, got "
        f"{shape}.")
  if batched and batch is not None and shape[0] != batch:
    raise ValueError(
        f"{where}: `bounding_boxes['boxes']` must have the images' batch "
        f"({batch} images), got shape {shape}.")
  if "labels" in bounding_boxes:
    lshape = _shape(bounding_boxes["labels"], "bounding_boxes", where)
    if lshape != shape[:-1]:
      raise ValueError(
          f"{where}: `bounding_boxes['labels']` must have one label per box, "
          f"shape {shape[:-1]}, got {lshape}.")


def check_inputs(x: Any, where: str) -> Any:
  """Checks an image transform's input, before anything is traced.

  The one input check of every image transform's ``apply``: the images
  (:func:`as_images`), and in Keras' dict form that its other parts go with
  them: ``labels`` with one row per image, ``segmentation_masks`` with the
  images' batch, height and width, ``bounding_boxes`` with their batch.
  Shapes and dtypes only: under ``jit`` it runs once, while tracing.

  Returns:
    ``x``, itself when its images are arrays (Python-data images come back
    as an array, so that ``jit`` sees one array, not a list of numbers).
  """
  images, _ = split_inputs(x, where)
  checked = as_images(images, where)
  if not isinstance(x, dict):
    return checked
  shape = tuple(checked.shape)
  batched = len(shape) == 4
  if "labels" in x and batched:
    lshape = _shape(x["labels"], "labels", where)
    if not lshape or lshape[0] != shape[0]:
      raise ValueError(
          f"{where}: `labels` must have one row per image ({shape[0]}), got "
          f"shape {lshape}.")
  if "segmentation_masks" in x:
    check_masks(x["segmentation_masks"], shape, where)
  if "bounding_boxes" in x:
    check_boxes(x["bounding_boxes"], batched, shape[0] if batched else None,
                where)
  if checked is not images:
    x = dict(x, images=checked)
  return x


def check_sample(sample: Any, where: str) -> Any:
  """Checks an image transform's ``init`` sample (images or Keras' dict
  form, arrays or ``jax.ShapeDtypeStruct``) as :func:`check_inputs` checks
  ``apply``'s input; returns the sample's images."""
  if isinstance(sample, dict) and "images" not in sample:
    raise ValueError(
        f"{where}: `sample` must be images or a dict with an 'images' entry "
        f"(Keras' dict form), got a dict with keys {sorted(sample)}.")
  images = sample["images"] if isinstance(sample, dict) else sample
  return as_images(images, where, argname="sample")


def _batch_of_one(a: Any) -> jax.ShapeDtypeStruct:
  shape = tuple(np.shape(a)) if not hasattr(a, "shape") else tuple(a.shape)
  return jax.ShapeDtypeStruct((1,) + shape[1:],
                              jax.dtypes.canonicalize_dtype(_dtype(a)))


def apply_batch(fn: Callable[..., Any], x: Any, *args: Any) -> Any:
  """``fn(x, *args)``; for a batch of 0 images, its empty result.

  The image transforms' one rule for empty batches: a batch of 0 images
  (and its labels, masks and boxes) gives what ``fn`` gives for a batch,
  with 0 rows, in the same dtypes, eagerly and under ``jit``, and nothing is
  computed (``fn`` is traced abstractly on a batch of one, never run). The
  batch size is static, so the compiled program of a non-empty batch is
  unchanged.

  Args:
    fn: the transform's computation, ``fn(x, *args) -> output``.
    x: checked inputs (see :func:`check_inputs`): images or Keras' dict
      form, every leaf with the batch as its leading axis when batched.
    *args: the rest of ``fn``'s arguments (states, keys: pytrees of arrays).
  """
  images = x["images"] if isinstance(x, dict) else x
  if len(images.shape) != 4 or images.shape[0] != 0:
    return fn(x, *args)
  one = jax.tree_util.tree_map(_batch_of_one, x)
  out = jax.eval_shape(fn, one, *args)
  return jax.tree_util.tree_map(
      lambda s: jnp.zeros((0,) + tuple(s.shape[1:]), s.dtype), out)


def example_keys(key: Array, batch_size: int, like: Optional[Array] = None
                 ) -> Array:
  """One PRNG key per example: ``jax.random.split(key, batch_size)``.

  The only place the randomness contract is implemented: example ``i`` of a
  batch draws its parameters from ``example_keys(key, batch)[i]``, whatever
  the surrounding ``jit``/``vmap``/sharding.

  Args:
    key: the transform's key.
    batch_size: the number of examples.
    like: the ``(batch, ...)`` images the keys are for. When their batch axis
      is sharded over explicit mesh axes (``jax.make_mesh``'s default), the
      keys get the same sharding (see :func:`shard_batch_like`), so that
      everything drawn from them lines up with the images and each device
      draws its own examples' parameters. The values never depend on it.
  """
  keys = jax.random.split(key, batch_size)
  return keys if like is None else shard_batch_like(keys, like)


def _batch_spec(a: Any) -> Any:
  """The explicit mesh axes ``a``'s leading axis is sharded over, or None."""
  try:
    sharding = jax.typeof(a).sharding
  except TypeError:
    return None
  spec = getattr(sharding, "spec", None)
  if not spec:
    return None
  return spec[0]


def shard_batch_like(x: Array, like: Array) -> Array:
  """Gives ``x``'s leading (batch) axis the explicit sharding of ``like``'s.

  Under explicit sharding (the default axis type of ``jax.make_mesh``) the
  sharding is part of an array's type, and ``vmap`` (and batched matrix
  products) refuse arrays whose batch axes are sharded differently; per-
  example parameters built from an unsharded key must therefore be resharded
  like the images before they meet them. A no-op when neither is sharded
  over explicit axes (unsharded inputs, ``Auto`` meshes, where XLA
  propagates shardings itself) or when ``x`` already matches. Values are
  unchanged.
  """
  axes, have = _batch_spec(like), _batch_spec(x)
  if axes == have:
    return x
  src = like if axes is not None else x   # the array that knows the mesh
  if isinstance(src, jax.Array) and not isinstance(src, jax.core.Tracer):
    mesh = src.sharding.mesh      # eager: the concrete mesh
  else:
    mesh = jax.typeof(src).sharding.mesh
  target = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axes))
  return jax.sharding.reshard(x, target)


def _is_number(v: Any) -> bool:
  return isinstance(v, numbers.Real) and not isinstance(v, bool)


def parse_factor(factor: Any,
                 argname: str,
                 where: str,
                 *,
                 min_value: Optional[float] = None,
                 max_value: Optional[float] = None,
                 symmetric: bool = True) -> Tuple[float, float]:
  """Keras' factor convention: a number ``f`` or a pair ``(lower, upper)``.

  Args:
    factor: a number or a pair of numbers.
    argname: the argument's name, for error messages.
    where: the calling transform's name, for error messages.
    min_value: the smallest allowed value (inclusive), or None.
    max_value: the largest allowed value (inclusive), or None.
    symmetric: a number ``f`` means ``(-|f|, |f|)`` when True (clamped to
      ``min_value``, as Keras does), ``(0, f)`` when False.

  Returns:
    ``(lower, upper)`` as Python floats, ``lower <= upper`` (a pair is sorted,
    as Keras sorts it).

  Raises:
    ValueError: not a number or a pair, or a value outside
      ``[min_value, max_value]``.
  """
  bounds = (f"[{min_value if min_value is not None else '-inf'}, "
            f"{max_value if max_value is not None else 'inf'}]")
  msg = (f"{where}: `{argname}` must be a number or a pair of numbers in "
         f"{bounds}, got {factor!r}.")
  if isinstance(factor, (tuple, list)) or (
      isinstance(factor, np.ndarray) and factor.shape == (2,)):
    if len(factor) != 2 or not all(_is_number(v) or isinstance(v, np.number)
                                   for v in factor):
      raise ValueError(msg)
    lower, upper = sorted(float(v) for v in factor)
  elif _is_number(factor) or isinstance(factor, np.number):
    f = float(factor)
    if symmetric:
      if f < 0 and min_value is not None and min_value >= 0:
        raise ValueError(msg)
      f = abs(f)
      lower, upper = -f, f
      if min_value is not None:
        lower = max(lower, float(min_value))
    else:
      lower, upper = sorted((0.0, f))
  else:
    raise ValueError(msg)
  if not (np.isfinite(lower) and np.isfinite(upper)):
    raise ValueError(msg)
  if min_value is not None and lower < min_value:
    raise ValueError(msg)
  if max_value is not None and upper > max_value:
    raise ValueError(msg)
  return lower, upper


def check_value_range(value_range: Any, where: str) -> Tuple[float, float]:
  """Checks ``value_range`` is a pair ``(low, high)`` with ``low < high``."""
  msg = (f"{where}: `value_range` must be a pair (low, high) of numbers with "
         f"low < high, got {value_range!r}.")
  if not isinstance(value_range, (tuple, list, np.ndarray)) or len(
      value_range) != 2:
    raise ValueError(msg)
  if not all(_is_number(v) or isinstance(v, np.number) for v in value_range):
    raise ValueError(msg)
  low, high = float(value_range[0]), float(value_range[1])
  if not low < high:
    raise ValueError(msg)
  return low, high


def to_float(images: Array) -> Array:
  """Floating images unchanged; integer/bool images as ``float32``."""
  images = jnp.asarray(images)
  if jnp.issubdtype(images.dtype, jnp.floating):
    return images
  return images.astype(jnp.float32)


def restore_dtype(y: Array, dtype: Any) -> Array:
  """Casts a float result back to ``dtype``.

  Integer dtypes are rounded (half to even) and clipped to the dtype's range,
  as Keras does; bool is ``round(y) > 0``; floating dtypes are a plain cast.
  """
  dtype = jnp.dtype(dtype)
  if jnp.issubdtype(dtype, jnp.floating):
    return y.astype(dtype)
  if dtype == jnp.bool_:
    return jnp.round(y) > 0
  info = jnp.iinfo(dtype)
  y = jnp.clip(jnp.round(y), info.min, info.max)
  return y.astype(dtype)


# ---------------------------------------------------------------------------
# Bounding boxes (Keras' dict form: {"boxes": (batch, n, 4), "labels": ...}).
# ---------------------------------------------------------------------------

BOX_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw",
               "rel_xyxy", "rel_yxyx", "rel_xywh", "rel_center_xywh")


def check_box_format(bounding_box_format: Any, where: str) -> Optional[str]:
  """Validates a ``bounding_box_format`` argument (None is allowed)."""
  if bounding_box_format is not None and bounding_box_format not in BOX_FORMATS:
    raise ValueError(
        f"{where}: `bounding_box_format` must be one of {BOX_FORMATS} or None, "
        f"got {bounding_box_format!r}.")
  return bounding_box_format


def require_box_format(bounding_box_format: Optional[str], where: str) -> str:
  """Raises the error Keras raises when boxes come without a format."""
  if bounding_box_format is None:
    raise ValueError(
        f"{where}: the input has a 'bounding_boxes' entry but no "
        f"`bounding_box_format` was given; pass e.g. "
        f"`bounding_box_format='xyxy'` to the transform.")
  return bounding_box_format


def boxes_to_xyxy(boxes: Array, fmt: str, height: float, width: float) -> Array:
  """Converts ``(..., 4)`` boxes in ``fmt`` to absolute ``xyxy`` pixels."""
  a, b, c, d = (boxes[..., i] for i in range(4))
  if fmt.startswith("rel_"):
    sx, sy = width, height
    fmt = fmt[4:]
  else:
    sx = sy = 1.0
  if fmt == "xyxy":
    x1, y1, x2, y2 = a, b, c, d
  elif fmt == "yxyx":
    y1, x1, y2, x2 = a, b, c, d
  elif fmt == "xywh":
    x1, y1, x2, y2 = a, b, a + c, b + d
  elif fmt == "center_xywh":
    x1, y1, x2, y2 = a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0
  elif fmt == "center_yxhw":
    x1, y1, x2, y2 = b - d / 2.0, a - c / 2.0, b + d / 2.0, a + c / 2.0
  else:
    raise ValueError(f"unknown bounding box format {fmt!r}")
  return jnp.stack([x1 * sx, y1 * sy, x2 * sx, y2 * sy], axis=-1)


def boxes_from_xyxy(boxes: Array, fmt: str, height: float,
                    width: float) -> Array:
  """Converts absolute ``xyxy`` boxes to ``fmt`` for an image of that size."""
  x1, y1, x2, y2 = (boxes[..., i] for i in range(4))
  if fmt.startswith("rel_"):
    x1, x2 = x1 / width, x2 / width
    y1, y2 = y1 / height, y2 / height
    fmt = fmt[4:]
  if fmt == "xyxy":
    out = (x1, y1, x2, y2)
  elif fmt == "yxyx":
    out = (y1, x1, y2, x2)
  elif fmt == "xywh":
    out = (x1, y1, x2 - x1, y2 - y1)
  elif fmt == "center_xywh":
    out = ((x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1)
  elif fmt == "center_yxhw":
    out = ((y1 + y2) / 2.0, (x1 + x2) / 2.0, y2 - y1, x2 - x1)
  else:
    raise ValueError(f"unknown bounding box format {fmt!r}")
  return jnp.stack(out, axis=-1)


def map_boxes(bounding_boxes: Any, fmt: str, in_hw: Tuple[int, int],
              out_hw: Tuple[int, int], point_fn: Callable[..., Any],
              batched: bool, where: str) -> Any:
  """Moves boxes with a geometric transform and clips them to the output.

  Args:
    bounding_boxes: Keras' dict ``{"boxes": (batch, n, 4) or (n, 4),
      "labels": (batch, n) or (n,)}`` (labels optional).
    fmt: the boxes' format (one of :data:`BOX_FORMATS`).
    in_hw: the input image's ``(height, width)``.
    out_hw: the output image's ``(height, width)``.
    point_fn: ``point_fn(x, y) -> (x, y)`` mapping continuous input pixel
      coordinates (arrays of shape ``(batch, n, 4)``, the four corners) to
      output coordinates; per-example parameters broadcast on axis 0.
    batched: whether the images were a batch (boxes then carry a batch axis).
    where: the calling transform's name, for error messages.

  Returns:
    The same dict with boxes moved (axis-aligned hull of the moved corners),
    clipped to the output image, and labels set to -1 where a box's area
    became 0 (as Keras' ``clip_to_image_size`` does).
  """
  check_boxes(bounding_boxes, batched, None, where)
  boxes = jnp.asarray(bounding_boxes["boxes"])
  dtype = boxes.dtype if jnp.issubdtype(boxes.dtype, jnp.floating) else jnp.float32
  boxes = boxes.astype(dtype)
  if not batched:
    boxes = boxes[None]
  xyxy = boxes_to_xyxy(boxes, fmt, float(in_hw[0]), float(in_hw[1]))
  x1, y1, x2, y2 = (xyxy[..., i] for i in range(4))
  xs = jnp.stack([x1, x2, x1, x2], axis=-1)
  ys = jnp.stack([y1, y1, y2, y2], axis=-1)
  nx, ny = point_fn(xs, ys)
  out_h, out_w = float(out_hw[0]), float(out_hw[1])
  moved = jnp.stack([
      jnp.clip(jnp.min(nx, axis=-1), 0.0, out_w),
      jnp.clip(jnp.min(ny, axis=-1), 0.0, out_h),
      jnp.clip(jnp.max(nx, axis=-1), 0.0, out_w),
      jnp.clip(jnp.max(ny, axis=-1), 0.0, out_h),
  ], axis=-1).astype(dtype)
  area = (moved[..., 2] - moved[..., 0]) * (moved[..., 3] - moved[..., 1])
  result = dict(bounding_boxes)
  new_boxes = boxes_from_xyxy(moved, fmt, out_h, out_w).astype(dtype)
  result["boxes"] = new_boxes if batched else new_boxes[0]
  if "labels" in bounding_boxes:
    labels = jnp.asarray(bounding_boxes["labels"])
    keep = area > 0 if batched else (area > 0)[0]
    result["labels"] = jnp.where(keep, labels, -1).astype(labels.dtype)
  return result


def stateless_init(where: str):
  """``init`` of an image transform that learns nothing: checks the sample
  (an images array or Keras' dict form, see :func:`check_sample`)."""
  def init(sample):
    check_sample(sample, where)
    return EmptyState()
  return init
