"""Hashing and HashedCrossing: Keras' hashing trick, bit-exact, without TF.

* :func:`hashing` maps strings and integers to ``num_bins`` bins the way
  Keras' ``Hashing`` layer does (FarmHash Fingerprint64 of the UTF-8 bytes,
  or SipHash-2-4 with a salt; integers hashed as their decimal strings).
* :func:`hashed_crossing` crosses scalar features the way Keras'
  ``HashedCrossing`` does (TF's ``sparse_cross_hashed``: ``FingerprintCat64``
  chained from the key ``0xDECAFCAFFE`` over each feature's hash).

Where the work runs: strings are hashed on the host (``host/farmhash.py``);
integer (and bool, float) inputs given as JAX arrays are hashed on device
(``device_hash.py``), so ``apply`` on them can be jitted. NumPy inputs of
64-bit dtypes are hashed on the host so that values beyond int32 stay exact
with JAX's default 32-bit mode. Both give the same numbers.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.core.transform import Transform
from prepro_core._src.hashing import device_hash
from prepro_core._src.hashing import u64
from prepro_core._src.host import farmhash
from prepro_core._src.host import inputs
from prepro_core._src.host import missing as missing_values
from prepro_core._src.host.packed import StringBatch
from prepro_core._src.numeric.encoding import encode_ids

HASHING_OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")
CROSSING_OUTPUT_MODES = ("int", "one_hot")
_MAX_BINS = 2**31 - 1  # ids are int32 under JAX's default 32-bit mode

Salt = Optional[Tuple[int, int]]  # the SipHash key, None for FarmHash


# ---------------------------------------------------------------------------
# Argument and input checks.
# ---------------------------------------------------------------------------


def _check_num_bins(num_bins, where):
  num_bins = checks.check_positive_int(num_bins, "num_bins", where)
  if num_bins > _MAX_BINS:
    raise ValueError(
        f"{where}: `num_bins` must be at most 2**31 - 1 (bin ids are int32), "
        f"got {num_bins}.")
  return num_bins


def _check_sparse(sparse, where):
  if sparse:
    raise ValueError(
        f"{where}: `sparse=True` is not supported; outputs are dense JAX "
        f"arrays (Keras supports it only on the TensorFlow backend).")


def _check_mask_value(mask_value, num_bins):
  if mask_value is None:
    return
  if num_bins < 2:
    raise ValueError(
        f"hashing: a `mask_value` takes bin 0, so `num_bins` must be >= 2, "
        f"got num_bins={num_bins}.")
  if not isinstance(mask_value, (str, bytes, int, float, bool, np.generic)):
    raise TypeError(
        f"hashing: `mask_value` must be a string or a number, got "
        f"{mask_value!r}.")


def _check_numeric_dtype(dt, argname="inputs"):
  if dt.kind not in "iufb":
    raise TypeError(
        f"hashing: `{argname}` must hold strings, integers, bools or floats, "
        f"got dtype {dt}.")


def _check_mask_kind(mask_value, is_string):
  if mask_value is None:
    return
  if is_string != isinstance(mask_value, (str, bytes)):
    kind = "strings" if is_string else "numbers"
    raise TypeError(
        f"hashing: `mask_value`={mask_value!r} cannot be compared with "
        f"inputs that are {kind}; give a mask_value of the inputs' kind.")


def _is_string_input(x) -> bool:
  if isinstance(x, (str, bytes, StringBatch)):
    return True
  if isinstance(x, (jax.Array, jax.core.Tracer)):
    return False
  if isinstance(x, np.ndarray):
    if x.dtype.kind in "US":
      return True
    if x.dtype != object:
      return False
    flat = x.reshape(-1)
    return flat.size > 0 and isinstance(flat[0], (str, bytes))
  if isinstance(x, (list, tuple)):
    v = x
    while isinstance(v, (list, tuple)) and v:
      v = v[0]
    return isinstance(v, (str, bytes, np.str_, np.bytes_))
  return isinstance(x, (np.str_, np.bytes_))


# ---------------------------------------------------------------------------
# Hashing: the bin of each value.
# ---------------------------------------------------------------------------


def _masked_bins(ids: np.ndarray, is_mask: np.ndarray) -> np.ndarray:
  """Keras' mask rule: the mask value takes bin 0, the rest ``hash % (bins
  - 1) + 1``."""
  return np.where(is_mask, 0, ids + 1).astype(np.int32)


def _packed_equal(buf, offs, lens, value) -> np.ndarray:
  """Mask of the packed strings whose bytes equal ``value`` (a string is
  compared by its UTF-8 bytes, as it was packed)."""
  if isinstance(value, str):
    value = value.encode("utf-8")
  idx = np.flatnonzero(lens == len(value))
  for j, c in enumerate(value):  # narrows the candidates byte by byte
    idx = idx[buf[offs[idx] + j] == c]
  mask = np.zeros(lens.shape, bool)
  mask[idx] = True
  return mask


def _host_mod(h: np.ndarray, bins: int) -> np.ndarray:
  """``h % bins`` as int32 for uint64 hashes (a mask for powers of two)."""
  if bins & (bins - 1) == 0:
    return (h & np.uint64(bins - 1)).astype(np.int32)
  return (h % np.uint64(bins)).astype(np.int32)


def _string_bins(x, bins: int, salt: Salt, mask_value) -> np.ndarray:
  """Bins of strings, hashed on the host."""
  h, shape, packed = farmhash.hash_strings(x, salt, where="hashing",
                                           argname="inputs")
  ids = _host_mod(h, bins).reshape(shape)
  if mask_value is None:
    return ids
  if packed is None:
    packed = farmhash.pack_strings(x)
  return _masked_bins(ids, _packed_equal(*packed, mask_value).reshape(shape))


def _host_decimal_strings(x):
  """NumPy ints/floats/bools as TF's ``as_string`` (after Keras' int64 cast:
  floats truncated, NaN, inf and out-of-range values to INT64_MIN)."""
  if x.dtype.kind == "f":
    with np.errstate(invalid="ignore"):
      t = np.trunc(x.astype(np.float64))
      ok = np.isfinite(t) & (t >= -2.0**63) & (t < 2.0**63)
      x = np.where(ok, t, -2.0**63).astype(np.int64)
      x[~ok] = np.iinfo(np.int64).min
  return farmhash.decimal_strings(x)


def _host_number_bins(x: np.ndarray, bins: int, salt: Salt,
                      mask_value) -> np.ndarray:
  """Bins of 64-bit NumPy numbers, hashed exactly on the host."""
  strs = _host_decimal_strings(x)
  if salt is None:
    h = farmhash.fingerprint64_strings(strs)
  else:
    h = farmhash.siphash64_strings(strs, *salt)
  ids = _host_mod(h, bins)
  return ids if mask_value is None else _masked_bins(ids, x == mask_value)


def _float_to_int64_bits(x):
  """Keras casts floats to int64 before hashing: truncation toward zero, and
  NaN, inf and out-of-range values become INT64_MIN (what TF's cast gives on
  x86). Returns (neg, (hi, lo)) of the magnitude, jittable in 32-bit mode."""
  t = jnp.trunc(x)
  big = jnp.asarray(2.0**63, x.dtype)
  ok = jnp.isfinite(t) & (t >= -big) & (t < big)
  neg = jnp.where(ok, t < 0, True)
  m = jnp.where(ok, jnp.abs(t), big)  # |INT64_MIN| = 2**63
  two32 = jnp.asarray(2.0**32, x.dtype)
  # Exact: m, m / 2**32 and m - hi * 2**32 are all representable.
  hi_f = jnp.floor(m / two32)
  lo_f = m - hi_f * two32
  return neg, (hi_f.astype(jnp.uint32), lo_f.astype(jnp.uint32))


def _hash_device(x, salt: Salt) -> u64.U64:
  """Hash of each value's decimal string on device; returns (hi, lo)."""
  if jnp.issubdtype(x.dtype, jnp.floating):
    neg, mag = _float_to_int64_bits(x)
    w, n, max_len = device_hash.decimal_words_from_parts(neg, mag, 20)
    if salt is None:
      return device_hash.fingerprint64_words(w, n, max_len)
    return device_hash.siphash64_words(w, n, max_len, *salt)
  if salt is None:
    return device_hash.fingerprint64_ints(x)
  return device_hash.siphash64_ints(x, *salt)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _device_bins(x, bins: int, salt: Salt, mask_value):
  """Bins of numbers on device; compiled once per (shape, dtype, config)."""
  ids = u64.mod_u64(*_hash_device(x, salt), bins).astype(jnp.int32)
  if mask_value is None:
    return ids
  return jnp.where(x == mask_value, 0, ids + 1)  # see _masked_bins


def hash_bins(x, bins: int, salt: Salt, mask_value) -> Any:
  """The bin of each value of ``x``: strings and 64-bit NumPy numbers on the
  host, other numbers on device. ``bins`` excludes the mask bin."""
  if _is_string_input(x):
    _check_mask_kind(mask_value, True)
    return _string_bins(x, bins, salt, mask_value)
  arr = x if isinstance(x, (jax.Array, jax.core.Tracer)) else _host_array(
      x, "hashing", "inputs")
  if arr.dtype == object and arr.size:
    # Objects hash only when they are strings; the string path names the
    # first element that is not (None, a number...).
    _check_mask_kind(mask_value, True)
    return _string_bins(arr, bins, salt, mask_value)
  dt = np.dtype(arr.dtype)
  _check_numeric_dtype(dt)
  _check_mask_kind(mask_value, False)
  if isinstance(arr, np.ndarray) and dt.itemsize == 8:
    return _host_number_bins(arr, bins, salt, mask_value)
  return _device_bins(jnp.asarray(arr), bins, salt, mask_value)


@transform_factory
def hashing(num_bins: int,
            mask_value: Any = None,
            salt: Any = None,
            output_mode: str = "int",
            sparse: bool = False,
            missing: Optional[str] = None) -> Transform:
  """Hashes strings or integers into ``num_bins`` bins, like Keras' Hashing.

  Without a salt a value goes to ``Fingerprint64(bytes) % num_bins``
  (FarmHash, as ``tf.strings.to_hash_bucket_fast``); with a salt to
  ``SipHash-2-4(bytes) % num_bins`` keyed ``(salt0, salt1)``. Integers are
  hashed as their decimal strings and floats are first truncated to int64,
  all as Keras does. With ``mask_value`` set, values equal to it go to bin 0
  and the rest to ``hash % (num_bins - 1) + 1``.

  Strings are hashed on the host (NumPy); the transform is marked
  ``on_host``. Integer, bool and float inputs given as JAX arrays are hashed
  on device, and ``apply`` on them can be jitted and vmapped
  (``jax.jit(lambda x: t.apply(state, x))``) with the same numbers.

  Args:
    num_bins: number of bins, mask bin included; an int in [1, 2**31 - 1].
    mask_value: a value (string for string inputs, int for numbers) that maps
      to bin 0; needs ``num_bins >= 2``. ``None``: no mask bin.
    salt: ``None`` (FarmHash), an int ``s`` (SipHash keyed ``(s, s)``) or a
      tuple/list of two ints; negative ints stand for their 64-bit two's
      complement, as in TF (``-1`` is ``2**64 - 1``).
    output_mode: "int" (bin ids), "one_hot", "multi_hot" or "count", encoded
      by the same kernel as ``category_encoding``.
    sparse: must be False; JAX outputs are dense.
    missing: not in Keras (whose default, None, is kept): "mask" sends
      missing values (None, NaN, "") to the mask's bin 0 (needs
      ``mask_value``). See ``host/missing.py``.

  Returns:
    A :class:`Transform`; ``apply(state, x)`` returns int32 bin ids with the
    shape of ``x`` ("int") or float32 encodings of depth ``num_bins``.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.hashing(num_bins=3)
    >>> s = t.init(np.array([["A"]]))
    >>> t.apply(s, np.array([["A"], ["B"], ["C"], ["D"], ["E"]])).ravel().tolist()
    [1, 0, 1, 1, 2]
  """
  where = "hashing"
  num_bins = _check_num_bins(num_bins, where)
  checks.check_choice(output_mode, "output_mode", HASHING_OUTPUT_MODES, where)
  _check_sparse(sparse, where)
  _check_mask_value(mask_value, num_bins)
  salt = checks.check_salt(salt, where)
  bins = num_bins - 1 if mask_value is not None else num_bins
  checks.check_choice(missing, "missing", (None, "mask"), where)
  if missing == "mask" and mask_value is None:
    raise ValueError(
        f"{where}: `missing='mask'` needs a `mask_value` (missing values take "
        f"its bin, 0), got mask_value=None.")

  def init(sample):
    dtype = getattr(sample, "dtype", None)
    if dtype is not None and not _is_string_input(sample):
      _check_numeric_dtype(np.dtype(dtype), "sample")
    return EmptyState()

  def apply(state, x, key=None):
    del state, key
    gaps = None
    if missing is not None and checks.is_concrete(x) and not isinstance(
        x, jax.Array):
      x, gaps = missing_values.split_values(x, where, "inputs")
    ids = hash_bins(x, bins, salt, mask_value)
    if gaps is not None:  # the mask's bin
      ids = np.where(gaps, np.asarray(0, np.asarray(ids).dtype), ids)
    return encode_ids(ids, num_bins, output_mode)

  return make_transform("hashing", init=init, apply=apply, on_host=True,
                        state_type=EmptyState)


# ---------------------------------------------------------------------------
# Hashed crossing.
# ---------------------------------------------------------------------------


def _host_array(x, where: str, argname: str) -> np.ndarray:
  """``np.asarray(x)``, with prepro's error for ragged nested lists."""
  try:
    return np.asarray(x)
  except ValueError:
    raise ValueError(
        f"{where}: `{argname}` must be a rectangular array, got ragged "
        f"nested lists; pad the rows to one length first.") from None


def _as_feature(x, i: int, where: str):
  """Feature ``i`` as an array (lists of ``str`` as a ``str_`` array).

  String features are checked here, once: every element a str or bytes
  (one pass over their types in C), else an error naming the element.
  """
  argname = f"inputs[{i}]"
  if not isinstance(x, (jax.Array, jax.core.Tracer, np.ndarray)):
    if _is_string_input(x):
      x = np.asarray(x, dtype=object if isinstance(x, (list, tuple)) else None)
    else:
      x = _host_array(x, where, argname)
  if isinstance(x, np.ndarray) and x.dtype == object:
    flat = x.reshape(-1).tolist()
    kinds = set(map(type, flat))
    if not all(issubclass(k, (str, bytes)) for k in kinds):
      raise inputs.element_type_error(flat, where, argname)
    if kinds <= {str, np.str_}:  # all str: hashed from a str_ array's rows
      x = x.astype(str)
  if not _is_string_input(x) and not jnp.issubdtype(x.dtype, jnp.integer):
    raise TypeError(
        f"{where}: `inputs[{i}]` (feature {i}) must hold integers or "
        f"strings, got dtype {x.dtype}.")
  return x


def _check_cross_inputs(inputs, where: str) -> Sequence[Any]:
  """The features as arrays, all of one shape (), (batch,) or (batch, 1)."""
  if not isinstance(inputs, (tuple, list)):
    raise TypeError(
        f"{where}: `inputs` must be a tuple or list of feature arrays, got "
        f"{type(inputs).__name__}.")
  if len(inputs) < 2:
    raise ValueError(
        f"{where}: cross at least two features, got {len(inputs)}.")
  feats = [_as_feature(x, i, where) for i, x in enumerate(inputs)]
  shape = np.shape(feats[0])
  if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
    raise ValueError(
        f"{where}: `inputs[0]` must have shape (), (batch,) or (batch, 1), "
        f"got {shape}.")
  for i, x in enumerate(feats[1:], 1):
    if np.shape(x) != shape:
      raise ValueError(
          f"{where}: `inputs[{i}]` must have the same shape as "
          f"`inputs[0]`, {shape}; got {np.shape(x)}.")
  return feats


def _cross_host(feats, num_bins: int,
                where: str = "hashed_crossing") -> np.ndarray:
  """``tf.sparse.cross_hashed`` on the host: FingerprintCat64 chained from
  the key over each feature's hash, then ``% num_bins``."""
  checks.check_on_host(
      f"{where}.apply", why="a string feature, or a 64-bit NumPy one, is "
      "hashed in NumPy", todo="call it before the jitted step, or give "
      "every feature as an integer JAX array to cross on device",
      **{f"inputs[{i}]": x for i, x in enumerate(feats)})
  h = np.full(np.shape(feats[0]), farmhash.CROSS_HASH_KEY, np.uint64)
  for i, x in enumerate(feats):
    if _is_string_input(x):
      f = farmhash.fingerprint64_strings(x, where=where,
                                         argname=f"inputs[{i}]")
    else:
      # An integer's two's complement bits (ints are widened to int64).
      f = np.asarray(x).astype(np.int64).astype(np.uint64)
    h = farmhash.fingerprint_cat64(h, f)
  return (h % np.uint64(num_bins)).astype(np.int32)


@functools.partial(jax.jit, static_argnums=0)
def _cross_device(num_bins: int, *feats):
  """:func:`_cross_host` for integer features, on device."""
  h = tuple(jnp.broadcast_to(w, jnp.shape(feats[0])) for w in
            u64.const(farmhash.CROSS_HASH_KEY))
  for x in feats:
    h = device_hash.fingerprint_cat64_device(h, u64.int64_bits(x))
  return u64.mod_u64(*h, num_bins).astype(jnp.int32)


def cross_bins(feats, num_bins: int):
  """The bin of each row's cross: on device when every feature is a JAX
  array or a narrow integer array, else on the host (strings, or 64-bit
  NumPy ints that must stay exact)."""
  on_device = all(isinstance(x, (jax.Array, jax.core.Tracer)) for x in feats)
  has_64bit_numpy = any(
      isinstance(x, np.ndarray) and x.dtype.itemsize == 8 for x in feats)
  if on_device or not (has_64bit_numpy or any(
      _is_string_input(x) for x in feats)):
    return _cross_device(num_bins, *[jnp.asarray(x) for x in feats])
  return _cross_host(feats, num_bins)


@transform_factory
def hashed_crossing(num_bins: int,
                    output_mode: str = "int",
                    sparse: bool = False) -> Transform:
  """Crosses scalar features with the hashing trick, like Keras' HashedCrossing.

  ``apply(state, (x1, x2, ...))`` hashes each row's tuple of values to one of
  ``num_bins`` bins exactly as ``tf.sparse.cross_hashed`` does: starting from
  the key ``0xDECAFCAFFE``, each feature's hash (a string's Fingerprint64, an
  integer's own 64 bits) is folded in with ``FingerprintCat64``, then
  ``% num_bins``. The order of the features matters.

  When every feature is an integer JAX array the cross is computed on device
  (jittable); any string feature makes it run on the host.

  Args:
    num_bins: number of bins; an int in [1, 2**31 - 1].
    output_mode: "int" (bin ids) or "one_hot".
    sparse: must be False; JAX outputs are dense.

  Returns:
    A :class:`Transform`. Inputs: a tuple/list of at least two arrays of
    integers or strings, all of shape ``()``, ``(batch,)`` or ``(batch, 1)``.
    Output: int32 ids of that shape ("int"), or a one-hot float32 array
    ``(batch, num_bins)``.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.hashed_crossing(num_bins=5)
    >>> s = t.init((np.array(["A"]), np.array([101])))
    >>> t.apply(s, (np.array(["A", "B", "A", "B", "A"]),
    ...             np.array([101, 101, 101, 102, 102]))).tolist()
    [1, 4, 1, 1, 3]
  """
  where = "hashed_crossing"
  num_bins = _check_num_bins(num_bins, where)
  checks.check_choice(output_mode, "output_mode", CROSSING_OUTPUT_MODES, where)
  _check_sparse(sparse, where)

  def init(sample):
    if not (isinstance(sample, (tuple, list)) and all(
        isinstance(s, jax.ShapeDtypeStruct) for s in sample)):
      _check_cross_inputs(sample, where)
    return EmptyState()

  def apply(state, inputs, key=None):
    del state, key
    feats = _check_cross_inputs(inputs, where)
    return encode_ids(cross_bins(feats, num_bins), num_bins, output_mode)

  return make_transform("hashed_crossing", init=init, apply=apply, on_host=True,
                        state_type=EmptyState)
