"""Hash kernels bit-exact with TensorFlow's string hashing, without TensorFlow.

Host side (NumPy; this module never imports jax):

* :func:`fingerprint64_strings`: FarmHash ``Fingerprint64`` of each string's
  UTF-8 bytes (TF's ``Fingerprint64``, ``tf.strings.to_hash_bucket_fast``).
* :func:`siphash64_strings`: SipHash-2-4 keyed with ``(key0, key1)``
  (``tf.strings.to_hash_bucket_strong(key=[key0, key1])``).
* :func:`fingerprint64_ints_host`: the Fingerprint64 of each int's decimal
  string, which is how Keras' ``Hashing`` hashes integers.
* :func:`fingerprint_cat64`: TF's ``FingerprintCat64``, the step that chains
  feature hashes in ``tf.sparse.cross_hashed`` (Keras' ``HashedCrossing``).

The strings are hashed by the farmhash kernels the host-kernel switch picks
(``pc.host_kernels``, ``host/kernels/backend.py``): numba's
(``numba_farmhash.py``, one compiled loop over the strings, reading a
``str_`` array's code points in place) or NumPy's (``numpy_farmhash.py``,
whole-array operations over all strings at once), with the same bits. Large
batches are split over the kernels' shared thread pool.

The device twins (``jax.numpy``, 64-bit words as ``(hi, lo)`` uint32 pairs)
are in ``prepro_core/_src/hashing/``: ``u64.py`` and ``device_hash.py``; the
constants both sides use are the public names below.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

from prepro_core._src.host import inputs
from prepro_core._src.host.kernels import backend

# FarmHash (farmhashna) constants.
K0 = 0xc3a5c85c97cb3127
K1 = 0xb492b66fbe98f273
K2 = 0x9ae16a3b2f90404f
SEED = 81
CAT_MUL = 0xc6a4a7935bd1e995  # FingerprintCat64
# SipHash's initial state, XORed with the key.
SIP_INIT = (0x736f6d6570736575, 0x646f72616e646f6d, 0x6c7967656e657261,
            0x7465646279746573)
MASK64 = (1 << 64) - 1

# TF's default hash key for tf.sparse.cross_hashed (Keras' HashedCrossing).
CROSS_HASH_KEY = 0xDECAFCAFFE

_U = np.uint64


# ---------------------------------------------------------------------------
# Packing strings into bytes: host/inputs.py, the one input path.
# ---------------------------------------------------------------------------

_PAD = 8  # zero bytes after the data, so that 8-byte loads stay inside


def _pack(arr, where: str = "hash", argname: str = "arr"):
  """:func:`pack_strings`, plus the input's shape; errors name ``where``
  and ``argname`` (the caller's transform and argument)."""
  return inputs.pack_for_hash(arr, where=where, argname=argname)


def pack_strings(arr) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Packs strings into one byte buffer.

  Args:
    arr: strings as :mod:`prepro_core._src.host.inputs` accepts them (a
      NumPy ``str_``/``bytes_``/object array, nested lists of ``str`` and
      ``bytes``, mixed or not); any shape. ``bytes`` are kept as they are.

  Returns:
    ``(buf, offsets, lengths)``: a uint8 buffer holding every string's UTF-8
    bytes (followed by at least 8 zero bytes), and int64 ``offsets`` and
    ``lengths`` (flattened, C order) into it. Fixed-width NumPy arrays are
    laid out as rows of a byte matrix, non-ASCII rows re-encoded after it.
  """
  return _pack(arr)[:3]


# ---------------------------------------------------------------------------
# Strings, hashed by the kernels the switch picks.
# ---------------------------------------------------------------------------


def _padded_buf(buf: np.ndarray) -> np.ndarray:
  """The buffer as contiguous uint8 ending with 8 zero bytes (the kernels'
  8-byte loads may read past a string's end)."""
  buf = np.ascontiguousarray(buf, np.uint8)
  if buf.size < _PAD or np.any(buf[-_PAD:]):
    buf = np.concatenate([buf, np.zeros(_PAD, np.uint8)])
  return buf


def _hashes(results):
  return results[0] if len(results) == 1 else np.concatenate(results)


def check_siphash_key(key0, key1) -> Tuple[int, int]:
  """The SipHash key words as Python ints in ``[0, 2**64)``.

  Raises:
    TypeError: a key word is not an int.
    ValueError: a key word outside ``[0, 2**64)``.
  """
  for name, k in (("key0", key0), ("key1", key1)):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
      raise TypeError(f"siphash: `{name}` must be an int, got {k!r}.")
    if not 0 <= int(k) <= MASK64:
      raise ValueError(
          f"siphash: `{name}` must lie in [0, 2**64), got {k!r}.")
  return int(key0), int(key1)


def fingerprint64_packed(buf: np.ndarray, offsets: np.ndarray,
                         lengths: np.ndarray) -> np.ndarray:
  """Fingerprint64 of strings already packed by :func:`pack_strings`."""
  offsets = np.asarray(offsets, np.int64)
  lengths = np.asarray(lengths, np.int64)
  kernel = backend.kernels("farmhash", rows=len(offsets)).fingerprint64_packed
  return _hashes(backend.split_run(kernel, (offsets, lengths),
                                   _padded_buf(buf))[1])


def siphash64_packed(buf, offsets, lengths, key0: int, key1: int):
  """SipHash-2-4 of strings already packed by :func:`pack_strings`."""
  key0, key1 = check_siphash_key(key0, key1)
  offsets = np.asarray(offsets, np.int64)
  lengths = np.asarray(lengths, np.int64)
  kernel = backend.kernels("farmhash", rows=len(offsets)).siphash64_packed
  return _hashes(backend.split_run(kernel, (offsets, lengths),
                                   _padded_buf(buf), _U(key0), _U(key1))[1])


def fingerprint64_strings(arr, *, where: str = "hash",
                          argname: str = "arr") -> np.ndarray:
  """FarmHash Fingerprint64 of each string's UTF-8 bytes.

  Bit-exact with TensorFlow's ``Fingerprint64`` (what
  ``tf.strings.to_hash_bucket_fast(x, n)`` reduces ``% n``).

  Args:
    arr: a NumPy ``str_`` or ``bytes_`` array, an object array of ``str`` or
      ``bytes``, or nested lists of them; any shape. ``str`` is encoded as
      UTF-8; ``bytes`` are hashed as they are.

  Returns:
    A ``uint64`` array of the same shape.

  ``where`` and ``argname`` name the caller and its argument in errors.

  Example:
    >>> int(fingerprint64_strings(["hello"])[0]) == 0xb48be5a931380ce8
    True
  """
  h, shape, _ = hash_strings(arr, where=where, argname=argname)
  return h.reshape(shape)


def siphash64_strings(arr, key0: int, key1: int) -> np.ndarray:
  """SipHash-2-4 of each string's UTF-8 bytes, keyed with ``(key0, key1)``.

  Bit-exact with ``tf.strings.to_hash_bucket_strong(x, n, key=[key0, key1])``
  (before its ``% n``), which Keras' ``Hashing(salt=...)`` uses.

  Args:
    arr: strings as for :func:`fingerprint64_strings`; any shape.
    key0: first 64-bit key word, an int in ``[0, 2**64)``.
    key1: second 64-bit key word.

  Returns:
    A ``uint64`` array of the same shape.
  """
  h, shape, _ = hash_strings(arr, check_siphash_key(key0, key1))
  return h.reshape(shape)


def _hash_str_rows(arr: np.ndarray, key, where: str, argname: str):
  """Hashes of the rows of a non-empty ``str_`` array, from its code points
  (numba's kernels read them in place)."""
  kern = backend.kernels("farmhash", rows=arr.size)
  flat = np.ascontiguousarray(arr.reshape(-1))
  chars = flat.view(np.uint32).reshape(flat.size, -1)
  if key is None:
    starts, res = backend.split_run(kern.fingerprint64_rows, (chars,))
  else:
    starts, res = backend.split_run(kern.siphash64_rows, (chars,),
                                    _U(key[0]), _U(key[1]))
  bad = next((lo + r[1] for lo, r in zip(starts, res) if r[1] >= 0), -1)
  if bad >= 0:
    try:
      str(flat[bad]).encode("utf-8")
    except UnicodeEncodeError as e:
      raise inputs.encode_error(e, where, argname, at=int(bad)) from None
    raise ValueError(
        f"{where}: `{argname}` element {bad} holds a code point beyond "
        f"U+10FFFF.")
  return _hashes([r[0] for r in res])


def hash_strings(arr, key=None, *, where: str = "hash", argname: str = "arr"):
  """Fingerprint64 (``key`` None) or SipHash keyed ``key`` of strings.

  Args:
    arr: strings as for :func:`fingerprint64_strings`.
    key: None, or the SipHash key ``(key0, key1)`` as checked by
      :func:`check_siphash_key`.
    where: the caller (a transform's name), for error messages.
    argname: the caller's argument, for error messages.

  Returns:
    ``(hashes, shape, packed)``: the flat uint64 hashes, the input's shape
    and the ``(buf, offsets, lengths)`` they were hashed from, or None when
    the rows of a ``str_`` array were hashed from their code points.
  """
  if (isinstance(arr, np.ndarray) and arr.dtype.kind == "U" and arr.size and
      arr.dtype.itemsize):
    return _hash_str_rows(arr, key, where, argname), arr.shape, None
  buf, offs, lens, shape = _pack(arr, where, argname)
  if key is None:
    h = fingerprint64_packed(buf, offs, lens)
  else:
    h = siphash64_packed(buf, offs, lens, *key)
  return h, shape, (buf, offs, lens)


# ---------------------------------------------------------------------------
# Integers: the hash of their decimal string (how Keras' Hashing hashes ints).
# ---------------------------------------------------------------------------


def decimal_strings(x) -> np.ndarray:
  """Integers (or bools) as TF's ``tf.as_string`` writes them, as ``str_``."""
  x = np.asarray(x)
  if x.dtype == bool:
    return np.where(x, "true", "false")
  if x.dtype.kind not in "iu":
    raise TypeError(f"hash: expected an integer array, got dtype {x.dtype}.")
  return x.astype(str)


def fingerprint64_ints_host(x) -> np.ndarray:
  """Fingerprint64 of each int's decimal string, on the host (NumPy).

  The host twin of ``hashing.device_hash.fingerprint64_ints``: same numbers.
  Accepts any integer dtype, int64/uint64 included.

  Returns:
    A ``uint64`` array of the shape of ``x``.
  """
  return fingerprint64_strings(decimal_strings(x))


def siphash64_ints_host(x, key0: int, key1: int) -> np.ndarray:
  """SipHash-2-4 of each int's decimal string, on the host (NumPy)."""
  return siphash64_strings(decimal_strings(x), key0, key1)


def _shift_mix(v):
  return v ^ (v >> _U(47))


def fingerprint_cat64(fp1, fp2) -> np.ndarray:
  """TF's ``FingerprintCat64(fp1, fp2)`` on uint64 arrays (broadcasting).

  Not commutative. ``tf.sparse.cross_hashed`` starts from its hash key
  (:data:`CROSS_HASH_KEY` by default) and chains each feature's hash in: a
  string's Fingerprint64, an int64's own bits.
  """
  fp1 = np.asarray(fp1, np.uint64)
  fp2 = np.asarray(fp2, np.uint64)
  mul = _U(CAT_MUL)
  with np.errstate(over="ignore"):
    r = fp1 ^ mul
    r = r ^ (_shift_mix(fp2 * mul) * mul)
    r = r * mul
    r = _shift_mix(r) * mul
    return _shift_mix(r)
