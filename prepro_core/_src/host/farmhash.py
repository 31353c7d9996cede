"""Hash kernels bit-exact with TensorFlow's string hashing, without TensorFlow.

Host kernels (NumPy, vectorised over all strings at once):

* :func:`fingerprint64_strings`: FarmHash ``Fingerprint64`` of each string's
  UTF-8 bytes (TF's ``Fingerprint64``, ``tf.strings.to_hash_bucket_fast``).
* :func:`siphash64_strings`: SipHash-2-4 keyed with ``(key0, key1)``
  (``tf.strings.to_hash_bucket_strong(key=[key0, key1])``).
* :func:`fingerprint64_ints_host`: the Fingerprint64 of each int's decimal
  string, which is how Keras' ``Hashing`` hashes integers.
* :func:`fingerprint_cat64`: TF's ``FingerprintCat64``, the step that chains
  feature hashes in ``tf.sparse.cross_hashed`` (Keras' ``HashedCrossing``).

Device kernels (``jax.numpy``, jittable with JAX's default 32-bit mode):
64-bit words are emulated as ``(hi, lo)`` pairs of ``uint32`` arrays, the value
being ``hi * 2**32 + lo``.

* :func:`fingerprint64_ints`: the device twin of :func:`fingerprint64_ints_host`.
* :func:`mod_u64`: ``(hi * 2**32 + lo) % k`` exactly, for an int ``k``.
* :func:`fingerprint_cat64_device`, :func:`siphash64_ints`.

Host kernels, two implementations with the same bits (``ACCELERATOR``):

* numba (``pip install 'prepro[fast]'``, used when installed; see
  ``farmhash_numba.py``): one compiled loop over the strings, reading a
  NumPy ``str_`` array's code points in place (no packing) and splitting
  large batches over threads (``NUM_THREADS``).
* NumPy (the fallback): strings are packed into one flat byte buffer with
  per-string offsets (a ``str_`` array by one vectorised narrowing cast,
  only its non-ASCII rows encoded one by one; a list by one join and one
  encode), sorted by FarmHash length class (0, 1-3, 4-7, 8-16, 17-32, 33-64,
  >64 bytes) and each class run as a few whole-array operations; strings
  longer than 64 bytes loop over 64-byte chunks, all of them at once. NumPy
  ``uint64`` array arithmetic wraps modulo 2**64, exactly C's ``uint64_t``.

On device, an int's decimal string is built as a few right-aligned uint32
words (no byte matrix, no gathers), from which FarmHash's and SipHash's
loads are fixed words or one funnel shift.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import NamedTuple, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.host import strings

# FarmHash (farmhashna) constants.
_K0 = 0xc3a5c85c97cb3127
_K1 = 0xb492b66fbe98f273
_K2 = 0x9ae16a3b2f90404f
_KMUL = 0x9ddfea08eb382d69  # Hash128to64
_CAT_MUL = 0xc6a4a7935bd1e995  # FingerprintCat64
_SEED = 81
_MASK64 = (1 << 64) - 1

# TF's default hash key for tf.sparse.cross_hashed (Keras' HashedCrossing).
CROSS_HASH_KEY = 0xDECAFCAFFE

_U = np.uint64


# ---------------------------------------------------------------------------
# Packing strings into bytes.
# ---------------------------------------------------------------------------

_PAD = 8  # zero bytes after the data, so that 8-byte loads stay inside


def _offsets(lengths: np.ndarray, gap: int = 0) -> np.ndarray:
  offs = np.zeros(lengths.size, np.int64)
  np.cumsum(lengths[:-1] + gap, out=offs[1:])
  return offs


def _utf8_error(e: UnicodeEncodeError) -> ValueError:
  return ValueError(
      f"hash: a string cannot be encoded as UTF-8 ({e.reason}, e.g. a lone "
      f"surrogate); clean the text first.")


def _padded(data: bytes) -> np.ndarray:
  buf = np.zeros(len(data) + _PAD, np.uint8)
  buf[:len(data)] = np.frombuffer(data, np.uint8)
  return buf


def _pack_list(flat: list):
  """Packs a flat list of ``str`` (UTF-8 encoded) or of ``bytes``.

  One NUL-separated join and one encode for the whole list; the separators'
  positions give the offsets. Lists whose strings hold NULs themselves fall
  back to measuring each string.
  """
  n = len(flat)
  try:
    joined = "\0".join(flat)
  except TypeError:
    joined = None
  if joined is not None:
    try:
      data = joined.encode("utf-8")
    except UnicodeEncodeError as e:
      raise _utf8_error(e) from None
    size = lambda x: len(x.encode("utf-8"))
  else:
    try:
      data = b"\0".join(flat)
    except TypeError:
      raise TypeError(
          "hash: expected strings (str or bytes), got objects of type "
          f"{sorted({type(x).__name__ for x in flat})}.") from None
    size = len
  buf = _padded(data)
  seps = np.flatnonzero(buf[:len(data)] == 0)
  if n and seps.size == n - 1:
    offs = np.empty(n, np.int64)
    offs[0] = 0
    offs[1:] = seps + 1
    lens = np.empty(n, np.int64)
    lens[:-1] = seps - offs[:-1]
    lens[-1] = len(data) - offs[-1]
    return buf, offs, lens
  lens = np.fromiter(map(size, flat), np.int64, n)
  return buf, _offsets(lens, gap=1), lens


def _pack_fixed(flat: np.ndarray):
  """Packs a 1-D ``str_`` or ``bytes_`` array (fixed width) with
  :func:`strings.pack_fixed`: rows of a byte matrix, ``str_`` rows holding
  non-ASCII characters UTF-8 encoded after it, ``bytes_`` rows as given
  (TF hashes bytes as they are, invalid UTF-8 included); 8 zero bytes
  follow (``_views`` pads again should that ever change)."""
  buf, offs, ends = strings.pack_fixed(flat, raw=True,
                                       encode_error=_utf8_error)
  return buf, offs, ends - offs


def _flatten_list(x, where="hash"):
  """Flattens (nested) lists of scalars; returns (flat list, shape)."""
  if not isinstance(x, (list, tuple)):
    return [x], ()
  if x and isinstance(x[0], (list, tuple)):
    rows = [_flatten_list(r)[0] for r in x]
    width = len(rows[0])
    if any(len(r) != width for r in rows) or any(
        isinstance(r, (list, tuple)) and r and isinstance(r[0], (list, tuple))
        for r in x):
      return None, None
    return [v for r in rows for v in r], (len(x), width)
  return x, (len(x),)


def _pack(arr):
  """:func:`pack_strings`, plus the input's shape."""
  if isinstance(arr, (list, tuple)):
    flat, shape = _flatten_list(arr)
    if flat is None:
      obj = np.asarray(arr, dtype=object)
      flat, shape = obj.reshape(-1).tolist(), obj.shape
    return (*_pack_list(flat), shape)
  if isinstance(arr, (str, bytes)):
    return (*_pack_list([arr]), ())
  a = np.asarray(arr)
  if a.dtype == object:
    return (*_pack_list(a.reshape(-1).tolist()), a.shape)
  if a.dtype.kind in "US":
    return (*_pack_fixed(a.reshape(-1)), a.shape)
  raise TypeError(
      f"hash: expected an array of strings (str or bytes), got dtype "
      f"{a.dtype}.")


def pack_strings(arr) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Packs strings into one byte buffer.

  Args:
    arr: a NumPy ``str_``/``bytes_`` array, an object array of ``str`` or
      ``bytes``, or (nested) lists of them; any shape.

  Returns:
    ``(buf, offsets, lengths)``: a uint8 buffer holding every string's UTF-8
    bytes (followed by at least 8 zero bytes), and int64 ``offsets`` and
    ``lengths`` (flattened, C order) into it. Fixed-width NumPy arrays are
    laid out as rows of a byte matrix, non-ASCII rows re-encoded after it.
  """
  return _pack(arr)[:3]


class _Buf(NamedTuple):
  """A zero-padded byte buffer with an overlapping little-endian word view:
  ``w64[i]`` is the uint64 made of bytes ``i..i+7`` (a strided, unaligned
  view, so a fetch is one gather instead of eight)."""
  b: np.ndarray
  w64: np.ndarray


def _views(buf: np.ndarray) -> _Buf:
  buf = np.ascontiguousarray(buf, np.uint8)
  if buf.size < _PAD or np.any(buf[-_PAD:]):
    buf = np.concatenate([buf, np.zeros(_PAD, np.uint8)])
  w64 = np.ndarray((buf.size - 7,), "<u8", buffer=buf, strides=(1,))
  return _Buf(buf, w64)


def _fetch64(buf: _Buf, pos: np.ndarray) -> np.ndarray:
  """Little-endian uint64 at each byte position."""
  return buf.w64[pos].astype(np.uint64, copy=False)


# ---------------------------------------------------------------------------
# Optional accelerator: the same kernels compiled with numba.
# ---------------------------------------------------------------------------

# Which host kernels hash strings: "auto" uses numba's when numba is
# installed (``pip install 'prepro[fast]'``) and NumPy's otherwise; "numpy"
# and "numba" force one. Both give the same bits.
ACCELERATOR = "auto"
# Threads the numba kernels may split a large batch over (they release the
# GIL); None: the CPUs this process may use, at most 8. Set 1 when many
# pipeline workers already keep the cores busy.
NUM_THREADS = None
_ROWS_PER_THREAD = 1 << 15  # below this a thread costs more than it saves


def _accel():
  return strings.kernels(ACCELERATOR, "numba_farmhash", "farmhash")


def _use_accel(n: int) -> bool:
  return n > 0 and _accel() is not None


def _padded_buf(buf: np.ndarray) -> np.ndarray:
  """The buffer as contiguous uint8 ending with 8 zero bytes."""
  buf = np.ascontiguousarray(buf, np.uint8)
  if buf.size < _PAD or np.any(buf[-_PAD:]):
    buf = np.concatenate([buf, np.zeros(_PAD, np.uint8)])
  return buf


def _num_threads(n: int) -> int:
  if NUM_THREADS is not None:
    cap = int(NUM_THREADS)
  elif hasattr(os, "sched_getaffinity"):
    cap = min(len(os.sched_getaffinity(0)), 8)
  else:
    cap = min(os.cpu_count() or 1, 8)
  return max(1, min(cap, n // _ROWS_PER_THREAD))


def _split_run(kernel, sliced, *args):
  """``kernel(*[a[lo:hi] for a in sliced], *args)`` over consecutive ranges
  of rows, in threads for large inputs (the numba kernels release the GIL).
  Returns the ranges' starts and the kernel's results, in order."""
  n = sliced[0].shape[0]
  t = _num_threads(n)
  starts = [n * j // t for j in range(t + 1)]
  results = [None] * t
  errors = []

  def work(j):
    try:
      results[j] = kernel(
          *[a[starts[j]:starts[j + 1]] for a in sliced], *args)
    except BaseException as e:  # pylint: disable=broad-except
      errors.append(e)

  threads = [threading.Thread(target=work, args=(j,)) for j in range(1, t)]
  for th in threads:
    th.start()
  work(0)
  for th in threads:
    th.join()
  if errors:
    raise errors[0]
  return starts[:-1], results


def _hashes(results):
  return results[0] if len(results) == 1 else np.concatenate(results)


# ---------------------------------------------------------------------------
# FarmHash Fingerprint64 (farmhashna::Hash64) on the host.
# ---------------------------------------------------------------------------


def _rot(v, s):
  return (v >> _U(s)) | (v << _U(64 - s))


def _shift_mix(v):
  return v ^ (v >> _U(47))


def _hash_len16(u, v, mul):
  a = u ^ v
  a *= mul
  a ^= a >> _U(47)
  b = v ^ a
  b *= mul
  b ^= b >> _U(47)
  b *= mul
  return b


# Short strings: one 8-byte load at the start of each string (the buffer is
# zero padded, so it never runs off the end) gives every byte these length
# classes read, by shifts, instead of one gather per byte or word.


def _h1to3(buf, s, n):
  lo = _fetch64(buf, s)
  n64 = n.astype(np.uint64)
  y = lo & _U(0xff)
  y |= ((lo >> ((n64 >> _U(1)) << _U(3))) & _U(0xff)) << _U(8)
  z = ((lo >> ((n64 - _U(1)) << _U(3))) & _U(0xff)) << _U(2)
  z += n64
  y *= _U(_K2)
  z *= _U(_K0)
  y ^= z
  y = _shift_mix(y)
  y *= _U(_K2)
  return y


def _h4to7(buf, s, n):
  lo = _fetch64(buf, s)
  n64 = n.astype(np.uint64)
  mul = n64 * _U(2) + _U(_K2)
  v = (lo >> ((n64 - _U(4)) << _U(3))) & _U(0xffffffff)
  lo &= _U(0xffffffff)
  lo <<= _U(3)
  lo += n64
  return _hash_len16(lo, v, mul)


def _h8to16(buf, s, n):
  mul = n.astype(np.uint64) * _U(2) + _U(_K2)
  a = _fetch64(buf, s) + _U(_K2)
  b = _fetch64(buf, s + n - 8)
  c = _rot(b, 37)
  c *= mul
  c += a
  d = _rot(a, 25)
  d += b
  d *= mul
  return _hash_len16(c, d, mul)


def _h17to32(buf, s, n):
  mul = _U(_K2) + n.astype(np.uint64) * _U(2)
  a = _fetch64(buf, s) * _U(_K1)
  b = _fetch64(buf, s + 8)
  c = _fetch64(buf, s + n - 8) * mul
  d = _fetch64(buf, s + n - 16) * _U(_K2)
  return _hash_len16(_rot(a + b, 43) + _rot(c, 30) + d,
                     a + _rot(b + _U(_K2), 18) + c, mul)


def _h33to64(buf, s, n):
  mul = _U(_K2) + n.astype(np.uint64) * _U(2)
  a = _fetch64(buf, s) * _U(_K2)
  b = _fetch64(buf, s + 8)
  c = _fetch64(buf, s + n - 8) * mul
  d = _fetch64(buf, s + n - 16) * _U(_K2)
  y = _rot(a + b, 43) + _rot(c, 30) + d
  z = _hash_len16(y, a + _rot(b + _U(_K2), 18) + c, mul)
  e = _fetch64(buf, s + 16) * mul
  f = _fetch64(buf, s + 24)
  g = (y + _fetch64(buf, s + n - 32)) * mul
  h = (z + _fetch64(buf, s + n - 24)) * mul
  return _hash_len16(_rot(e + f, 43) + _rot(g, 30) + h,
                     e + _rot(f + a, 18) + g, mul)


def _weak32(buf, p, a, b):
  w, x = _fetch64(buf, p), _fetch64(buf, p + 8)
  y, z = _fetch64(buf, p + 16), _fetch64(buf, p + 24)
  a = a + w
  b = _rot(b + a + z, 21)
  c = a
  a = a + x + y
  b = b + _rot(a, 44)
  return a + z, b + c


def _h65plus(buf, s, n):
  """Strings longer than 64 bytes, sorted by length: one 64-byte chunk per
  step for all of them at once; at step i the active ones are a suffix."""
  k1, k2 = _U(_K1), _U(_K2)
  m = s.size
  steps = (n - 1) // 64  # full chunks before the last 64 bytes, >= 1
  x = np.full(m, _U(_SEED))
  y = np.full(m, _U((_SEED * _K1 + 113) & _MASK64))
  z = _shift_mix(y * k2 + _U(113)) * k2
  v0 = np.zeros(m, np.uint64)
  v1 = np.zeros(m, np.uint64)
  w0 = np.zeros(m, np.uint64)
  w1 = np.zeros(m, np.uint64)
  x = x * k2 + _fetch64(buf, s)
  for i in range(int(steps.max())):
    lo = int(np.searchsorted(steps, i, side="right"))
    sl = slice(lo, m)
    p = s[sl] + 64 * i
    xs, ys, zs = x[sl], y[sl], z[sl]
    v0s, v1s, w0s, w1s = v0[sl], v1[sl], w0[sl], w1[sl]
    xs = _rot(xs + ys + v0s + _fetch64(buf, p + 8), 37) * k1
    ys = _rot(ys + v1s + _fetch64(buf, p + 48), 42) * k1
    xs ^= w1s
    ys = ys + v0s + _fetch64(buf, p + 40)
    zs = _rot(zs + w0s, 33) * k1
    nv0, nv1 = _weak32(buf, p, v1s * k1, xs + w0s)
    nw0, nw1 = _weak32(buf, p + 32, zs + w1s, ys + _fetch64(buf, p + 16))
    x[sl], y[sl], z[sl] = zs, ys, xs  # std::swap(z, x)
    v0[sl], v1[sl], w0[sl], w1[sl] = nv0, nv1, nw0, nw1
  mul = k1 + ((z & _U(0xff)) << _U(1))
  p = s + n - 64
  w0 = w0 + ((n - 1) & 63).astype(np.uint64)
  v0 = v0 + w0
  w0 = w0 + v0
  x = _rot(x + y + v0 + _fetch64(buf, p + 8), 37) * mul
  y = _rot(y + v1 + _fetch64(buf, p + 48), 42) * mul
  x ^= w1 * _U(9)
  y = y + v0 * _U(9) + _fetch64(buf, p + 40)
  z = _rot(z + w0, 33) * mul
  v0, v1 = _weak32(buf, p, v1 * mul, x + w0)
  w0, w1 = _weak32(buf, p + 32, z + w1, y + _fetch64(buf, p + 16))
  x, z = z, x
  return _hash_len16(_hash_len16(v0, w0, mul) + _shift_mix(y) * _U(_K0) + z,
                     _hash_len16(v1, w1, mul) + x, mul)


# FarmHash's length classes: 0, 1-3, 4-7, 8-16, 17-32, 33-64 and 65+ bytes.
_CLASS_OF_LEN = np.array([0] + [1] * 3 + [2] * 4 + [3] * 9 + [4] * 16 +
                         [5] * 32 + [6], np.uint8)
_FP_CLASSES = (None, _h1to3, _h4to7, _h8to16, _h17to32, _h33to64, _h65plus)


def _sorted_by(keys: np.ndarray, num_keys: int):
  """A stable order sorting small int keys, and each key's slice in it.
  The order is None when the keys are already sorted."""
  counts = np.bincount(keys, minlength=num_keys)
  ends = np.cumsum(counts)
  if keys.size and (np.count_nonzero(counts) == 1 or
                    np.all(keys[1:] >= keys[:-1])):
    order = None
  else:
    order = np.argsort(keys, kind="stable")
  return order, ends - counts, ends


def fingerprint64_packed(buf: np.ndarray, offsets: np.ndarray,
                         lengths: np.ndarray) -> np.ndarray:
  """Fingerprint64 of strings already packed by :func:`pack_strings`."""
  offsets = np.asarray(offsets, np.int64)
  lengths = np.asarray(lengths, np.int64)
  if _use_accel(offsets.size):
    buf = _padded_buf(buf)
    return _hashes(_split_run(_accel().fingerprint64_packed,
                              (offsets, lengths), buf)[1])
  buf = _views(buf)
  # Strings sorted by length class, each class one contiguous slice (long
  # strings also by length, for their chunk loop), and put back at the end.
  keys = _CLASS_OF_LEN[np.minimum(lengths, 65)]
  order, starts, ends = _sorted_by(keys, 7)
  lo = int(starts[6])
  if lo < lengths.size:  # strings over 64 bytes: also sorted by length
    order = np.arange(lengths.size) if order is None else order
    tail = order[lo:]
    order = np.concatenate(
        [order[:lo], tail[np.argsort(lengths[tail], kind="stable")]])
  s = offsets if order is None else offsets[order]
  n = lengths if order is None else lengths[order]
  out = np.empty(s.shape, np.uint64)
  with np.errstate(over="ignore"):
    for c, fn in enumerate(_FP_CLASSES):
      lo, hi = int(starts[c]), int(ends[c])
      if lo == hi:
        continue
      if fn is None:
        out[lo:hi] = _U(_K2)
      else:
        out[lo:hi] = fn(buf, s[lo:hi], n[lo:hi])
  if order is None:
    return out
  res = np.empty_like(out)
  res[order] = out
  return res


def fingerprint64_strings(arr) -> np.ndarray:
  """FarmHash Fingerprint64 of each string's UTF-8 bytes.

  Bit-exact with TensorFlow's ``Fingerprint64`` (what
  ``tf.strings.to_hash_bucket_fast(x, n)`` reduces ``% n``).

  Args:
    arr: a NumPy ``str_`` or ``bytes_`` array, an object array of ``str`` or
      ``bytes``, or nested lists of them; any shape. ``str`` is encoded as
      UTF-8; ``bytes`` are hashed as they are.

  Returns:
    A ``uint64`` array of the same shape.

  Example:
    >>> int(fingerprint64_strings(["hello"])[0]) == 0xb48be5a931380ce8
    True
  """
  h, shape, _ = _hash_strings(arr)
  return h.reshape(shape)


# ---------------------------------------------------------------------------
# SipHash-2-4 (highwayhash::SipHash, as TF's to_hash_bucket_strong uses it).
# ---------------------------------------------------------------------------


def _rotl(v, s):
  return (v << _U(s)) | (v >> _U(64 - s))


def _sip_round(v0, v1, v2, v3):
  v0 = v0 + v1; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
  v2 = v2 + v3; v3 = _rotl(v3, 16); v3 ^= v2
  v0 += v3; v3 = _rotl(v3, 21); v3 ^= v0
  v2 += v1; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
  return v0, v1, v2, v3


def _check_key(key0, key1):
  for name, k in (("key0", key0), ("key1", key1)):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
      raise TypeError(f"siphash: `{name}` must be an int, got {k!r}.")
    if not 0 <= int(k) <= _MASK64:
      raise ValueError(
          f"siphash: `{name}` must lie in [0, 2**64), got {k!r}.")
  return int(key0), int(key1)


_SIP_INIT = (0x736f6d6570736575, 0x646f72616e646f6d, 0x6c7967656e657261,
             0x7465646279746573)


def siphash64_packed(buf, offsets, lengths, key0: int, key1: int):
  """SipHash-2-4 of strings already packed by :func:`pack_strings`."""
  key0, key1 = _check_key(key0, key1)
  offsets = np.asarray(offsets, np.int64)
  lengths = np.asarray(lengths, np.int64)
  if _use_accel(offsets.size):
    buf = _padded_buf(buf)
    return _hashes(_split_run(_accel().siphash64_packed, (offsets, lengths),
                              buf, _U(key0), _U(key1))[1])
  k0, k1 = _U(key0), _U(key1)
  buf = _views(buf)
  n = offsets.size
  # Strings sorted by their number of full 8-byte blocks: at block i the
  # ones still going are a suffix, updated in place; unsorted at the end.
  blocks = lengths >> 3
  order = np.argsort(blocks, kind="stable")
  s, ln, blocks = offsets[order], lengths[order], blocks[order]
  with np.errstate(over="ignore"):
    v0 = np.full(n, k0 ^ _U(_SIP_INIT[0]))
    v1 = np.full(n, k1 ^ _U(_SIP_INIT[1]))
    v2 = np.full(n, k0 ^ _U(_SIP_INIT[2]))
    v3 = np.full(n, k1 ^ _U(_SIP_INIT[3]))
    for i in range(int(blocks[-1]) if n else 0):
      sl = slice(int(np.searchsorted(blocks, i, side="right")), n)
      m = _fetch64(buf, s[sl] + 8 * i)
      a0, a1, a2, a3 = _sip_round(*_sip_round(v0[sl], v1[sl], v2[sl],
                                              v3[sl] ^ m))
      a0 ^= m
      v0[sl], v1[sl], v2[sl], v3[sl] = a0, a1, a2, a3
    # Last block: the 0-7 remaining bytes and the length in the top byte.
    rem = (ln & 7).astype(np.uint64)
    m = _fetch64(buf, s + 8 * blocks)
    m &= (_U(1) << (rem * _U(8))) - _U(1)  # rem == 0: 1 << 0 - 1 == 0
    m |= ln.astype(np.uint64) << _U(56)
    v3 ^= m
    v0, v1, v2, v3 = _sip_round(*_sip_round(v0, v1, v2, v3))
    v0 ^= m
    v2 ^= _U(0xff)
    for _ in range(4):
      v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    v0 ^= v1
    v0 ^= v2
    v0 ^= v3
  res = np.empty_like(v0)
  res[order] = v0
  return res


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
  h, shape, _ = _hash_strings(arr, _check_key(key0, key1))
  return h.reshape(shape)


def _hash_strings(arr, key=None):
  """Fingerprint64 (``key`` None) or SipHash keyed ``key`` of strings.

  Returns ``(hashes, shape, packed)``: the flat uint64 hashes, the input's
  shape and the ``(buf, offsets, lengths)`` they were hashed from, or None
  when numba hashed the rows of a ``str_`` array in place.
  """
  acc = _accel()
  if (acc is not None and isinstance(arr, np.ndarray) and
      arr.dtype.kind == "U" and arr.size and arr.dtype.itemsize):
    flat = np.ascontiguousarray(arr.reshape(-1))
    chars = flat.view(np.uint32).reshape(flat.size, -1)
    if key is None:
      starts, res = _split_run(acc.fingerprint64_rows, (chars,))
    else:
      starts, res = _split_run(acc.siphash64_rows, (chars,), _U(key[0]),
                               _U(key[1]))
    h = _hashes([r[0] for r in res])
    bad = next((lo + r[1] for lo, r in zip(starts, res) if r[1] >= 0), -1)
    if bad >= 0:
      try:
        str(flat[bad]).encode("utf-8")
      except UnicodeEncodeError as e:
        raise _utf8_error(e) from None
      raise ValueError(
          f"hash: string {bad} holds a code point beyond U+10FFFF.")
    return h, arr.shape, None
  buf, offs, lens, shape = _pack(arr)
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

  The host twin of :func:`fingerprint64_ints`: same numbers. Accepts any
  integer dtype, int64/uint64 included.

  Returns:
    A ``uint64`` array of the shape of ``x``.
  """
  return fingerprint64_strings(decimal_strings(x))


def siphash64_ints_host(x, key0: int, key1: int) -> np.ndarray:
  """SipHash-2-4 of each int's decimal string, on the host (NumPy)."""
  return siphash64_strings(decimal_strings(x), key0, key1)


def fingerprint_cat64(fp1, fp2) -> np.ndarray:
  """TF's ``FingerprintCat64(fp1, fp2)`` on uint64 arrays (broadcasting).

  Not commutative. ``tf.sparse.cross_hashed`` starts from its hash key
  (:data:`CROSS_HASH_KEY` by default) and chains each feature's hash in: a
  string's Fingerprint64, an int64's own bits.
  """
  fp1 = np.asarray(fp1, np.uint64)
  fp2 = np.asarray(fp2, np.uint64)
  mul = _U(_CAT_MUL)
  with np.errstate(over="ignore"):
    r = fp1 ^ mul
    r = r ^ (_shift_mix(fp2 * mul) * mul)
    r = r * mul
    r = _shift_mix(r) * mul
    return _shift_mix(r)


# ---------------------------------------------------------------------------
# Device: 64-bit words as (hi, lo) uint32 pairs in jax.numpy.
# ---------------------------------------------------------------------------

U64 = Tuple[jax.Array, jax.Array]  # (hi, lo), each uint32


def _c(v: int) -> U64:
  return (jnp.uint32((v >> 32) & 0xffffffff), jnp.uint32(v & 0xffffffff))


def _add(a: U64, b: U64) -> U64:
  lo = a[1] + b[1]
  carry = (lo < a[1]).astype(jnp.uint32)
  return a[0] + b[0] + carry, lo


def _xor(a: U64, b: U64) -> U64:
  return a[0] ^ b[0], a[1] ^ b[1]


def _or(a: U64, b: U64) -> U64:
  return a[0] | b[0], a[1] | b[1]


def _shr(a: U64, n: int) -> U64:
  hi, lo = a
  if n == 0:
    return a
  if n >= 32:
    return jnp.zeros_like(hi), hi >> jnp.uint32(n - 32)
  return hi >> jnp.uint32(n), (lo >> jnp.uint32(n)) | (hi << jnp.uint32(32 - n))


def _shl(a: U64, n: int) -> U64:
  hi, lo = a
  if n == 0:
    return a
  if n >= 32:
    return lo << jnp.uint32(n - 32), jnp.zeros_like(lo)
  return (hi << jnp.uint32(n)) | (lo >> jnp.uint32(32 - n)), lo << jnp.uint32(n)


def _rotr(a: U64, n: int) -> U64:
  return _or(_shr(a, n), _shl(a, 64 - n))


def _rotl_d(a: U64, n: int) -> U64:
  return _or(_shl(a, n), _shr(a, 64 - n))


def _mul32_wide(a, b) -> U64:
  """Full 64-bit product of two uint32 arrays, via 16-bit halves."""
  m16 = jnp.uint32(0xffff)
  a0, a1 = a & m16, a >> jnp.uint32(16)
  b0, b1 = b & m16, b >> jnp.uint32(16)
  p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
  mid = (p00 >> jnp.uint32(16)) + (p01 & m16) + (p10 & m16)
  hi = p11 + (p01 >> jnp.uint32(16)) + (p10 >> jnp.uint32(16)) + (
      mid >> jnp.uint32(16))
  return hi, a * b


def _mul(a: U64, b: U64) -> U64:
  hi, lo = _mul32_wide(a[1], b[1])
  return hi + a[0] * b[1] + a[1] * b[0], lo


def _shift_mix_d(a: U64) -> U64:
  return _xor(a, _shr(a, 47))


def _hash_len16_d(u: U64, v: U64, mul: U64) -> U64:
  a = _mul(_xor(u, v), mul)
  a = _xor(a, _shr(a, 47))
  b = _mul(_xor(v, a), mul)
  b = _xor(b, _shr(b, 47))
  return _mul(b, mul)


def _where(m, a: U64, b: U64) -> U64:
  return jnp.where(m, a[0], b[0]), jnp.where(m, a[1], b[1])


# A short string on device is "right-aligned words": a tuple W of uint32
# arrays holding bytes 4q..4q+3 of an L = 4 * len(W) byte register
# (little-endian), with the string's n bytes at L - n .. L - 1 and zeros
# before. Loads relative to the string's end are then fixed words, and loads
# relative to its start one funnel shift with the word picked by selects;
# no byte matrix, no gathers.


def _word(w, q):
  """``w[q]`` for a per-element index ``q`` (0 past either end)."""
  out = jnp.zeros_like(w[0])
  for j, wj in enumerate(w):
    out = jnp.where(q == j, wj, out)
  return out


def _load_d(w, pos, nbytes: int) -> U64:
  """Little-endian word of ``nbytes`` (4 or 8) at per-element byte ``pos``
  of the register (bytes past its end read as zero)."""
  q = pos >> 2
  r = ((pos & 3) * 8).astype(jnp.uint32)
  w0, w1 = _word(w, q), _word(w, q + 1)
  # Shifting a uint32 by 32 gives 0 in XLA, so r == 0 needs no special case.
  lo = (w0 >> r) | (w1 << (jnp.uint32(32) - r))
  if nbytes == 4:
    return jnp.zeros_like(lo), lo
  w2 = _word(w, q + 2)
  return (w1 >> r) | (w2 << (jnp.uint32(32) - r)), lo


def _tail_d(w, back: int) -> U64:
  """The 8 bytes ending ``back`` bytes before the register's end (back % 4
  == 0): a fixed pair of words."""
  q = (4 * len(w) - back - 8) // 4
  return w[q + 1], w[q]


def _byte_d(w, k):
  """Byte ``k`` counted back from the register's end (k = 0: the last),
  for a per-element ``k`` in [0, 4)."""
  last = w[-1]
  return (last >> ((jnp.uint32(3) - k.astype(jnp.uint32)) * 8)) & jnp.uint32(
      0xff)


def _fingerprint64_small_d(w, n, max_len: int) -> U64:
  """Fingerprint64 of right-aligned strings (see :func:`_decimal_words`) of
  length ``n`` (int32, 1..max_len <= 32)."""
  reg = 4 * len(w)
  n_u = n.astype(jnp.uint32)
  zero = jnp.zeros_like(n_u)
  n64 = (zero, n_u)
  mul = _add(_c(_K2), (zero, n_u * jnp.uint32(2)))
  start = reg - n  # byte of the string's first character
  # len 1..3: bytes 0, n >> 1 and n - 1 of the string, from the last word.
  a = _byte_d(w, jnp.clip(n - 1, 0, 3))
  b = _byte_d(w, jnp.clip(n - 1 - (n >> 1), 0, 3))
  c = w[-1] >> jnp.uint32(24)
  y = (zero, a + (b << jnp.uint32(8)))
  z = (zero, n_u + (c << jnp.uint32(2)))
  h3 = _mul(_shift_mix_d(_xor(_mul(y, _c(_K2)), _mul(z, _c(_K0)))), _c(_K2))
  # len 4..16 ends in HashLen16(u, v, mul) for both sub-ranges.
  head = _load_d(w, start, 8)
  last8 = _tail_d(w, 0)
  u4 = _add(n64, _shl((zero, head[1]), 3))
  v4 = (zero, w[-1])
  a8 = _add(head, _c(_K2))
  u8 = _add(_mul(_rotr(last8, 37), mul), a8)
  v8 = _mul(_add(_rotr(a8, 25), last8), mul)
  big = n >= 8
  h16 = _hash_len16_d(_where(big, u8, u4), _where(big, v8, v4), mul)
  out = _where(n >= 4, h16, h3)
  if max_len > 16:
    a = _mul(head, _c(_K1))
    b = _load_d(w, start + 8, 8)
    c = _mul(last8, mul)
    d = _mul(_tail_d(w, 8), _c(_K2))
    h32 = _hash_len16_d(
        _add(_add(_rotr(_add(a, b), 43), _rotr(c, 30)), d),
        _add(_add(a, _rotr(_add(b, _c(_K2)), 18)), c), mul)
    out = _where(n > 16, h32, out)
  return out


def _int_parts(x):
  """Sign and magnitude ``(hi, lo)`` of an integer/bool jax array, plus the
  number of decimal digits a magnitude of that dtype may need."""
  dt = jnp.dtype(x.dtype)
  if dt.itemsize == 8:
    u = x.astype(jnp.uint64)
    neg = (x < 0) if dt.kind == "i" else jnp.zeros(x.shape, bool)
    mag = jnp.where(neg, jnp.uint64(0) - u, u)
    hi = (mag >> jnp.uint64(32)).astype(jnp.uint32)
    lo = (mag & jnp.uint64(0xffffffff)).astype(jnp.uint32)
    return neg, (hi, lo), 20
  if dt.kind == "i":
    neg = x < 0
    u = x.astype(jnp.int32).astype(jnp.uint32)
    lo = jnp.where(neg, jnp.uint32(0) - u, u)
  else:
    neg = jnp.zeros(x.shape, bool)
    lo = x.astype(jnp.uint32)
  return neg, (jnp.zeros_like(lo), lo), 10


def _decimal_words(x):
  """Ints' decimal strings as right-aligned words, their lengths, and the
  longest possible length."""
  neg, mag, max_digits = _int_parts(x)
  return _decimal_words_from_parts(neg, mag, max_digits)


def _decimal_words_from_parts(neg, mag: U64, max_digits: int):
  """``-mag`` (where ``neg``) or ``mag`` written in decimal, as right-aligned
  words (see :func:`_load_d`), the lengths (int32) and the longest possible
  length."""
  hi, lo = mag
  digits = []  # least significant first
  if max_digits <= 10:
    m = lo
    for _ in range(max_digits):
      digits.append(m % jnp.uint32(10))
      m = m // jnp.uint32(10)
  else:
    # Long division of four 16-bit limbs by 10**4, giving 4 digits per step.
    m16 = jnp.uint32(0xffff)
    limbs = [hi >> jnp.uint32(16), hi & m16, lo >> jnp.uint32(16), lo & m16]
    for _ in range(5):
      r = jnp.zeros_like(lo)
      for j in range(4):
        cur = (r << jnp.uint32(16)) | limbs[j]
        limbs[j] = cur // jnp.uint32(10000)
        r = cur % jnp.uint32(10000)
      for _ in range(4):
        digits.append(r % jnp.uint32(10))
        r = r // jnp.uint32(10)
  nd = jnp.ones(lo.shape, jnp.int32)
  for k, d in enumerate(digits[1:], 1):
    nd = jnp.where(d != 0, k + 1, nd)
  max_len = max_digits + 1
  # Loads past the register's end read zeros; the fixed loads from the end
  # need 8 bytes (16 for FarmHash's 17-32 byte strings).
  reg = max(-(-max_len // 4) * 4, 16 if max_len > 16 else 8)
  # Byte reg - 1 - k holds digit k, and the sign right before the digits.
  chars = []
  for k in range(max_len):
    ch = jnp.where((nd == k) & neg, jnp.uint32(45), jnp.uint32(0))
    if k < len(digits):
      ch = jnp.where(nd > k, digits[k] + jnp.uint32(48), ch)
    chars.append(ch)
  zero = jnp.zeros_like(lo)
  byte = lambda p: chars[reg - 1 - p] if reg - 1 - p < max_len else zero
  w = tuple(byte(4 * q) | (byte(4 * q + 1) << 8) | (byte(4 * q + 2) << 16) |
            (byte(4 * q + 3) << 24) for q in range(reg // 4))
  return w, nd + neg.astype(jnp.int32), max_len


_TRUE_FALSE = None


def _bool_fingerprints():
  global _TRUE_FALSE
  if _TRUE_FALSE is None:
    _TRUE_FALSE = tuple(int(v) for v in fingerprint64_strings(["true", "false"]))
  return _TRUE_FALSE


def fingerprint64_ints(x) -> U64:
  """Fingerprint64 of each int's decimal string, on device (jittable).

  How Keras' ``Hashing`` hashes integers (``Fingerprint64(str(x))``), in
  ``jax.numpy`` with 64-bit words emulated as ``uint32`` pairs, so it runs
  under ``jit`` with JAX's default 32-bit mode. Booleans hash as ``"true"`` /
  ``"false"`` (``tf.as_string``). int64/uint64 inputs (with ``jax_enable_x64``)
  are supported too; they take FarmHash's 17-32 byte path when needed.

  Args:
    x: an integer or bool array, any shape.

  Returns:
    ``(hi, lo)``: two ``uint32`` arrays of ``x``'s shape; the hash is
    ``hi * 2**32 + lo``. Same numbers as :func:`fingerprint64_ints_host`.
  """
  x = jnp.asarray(x)
  if x.dtype != jnp.bool_ and not jnp.issubdtype(x.dtype, jnp.integer):
    raise TypeError(
        f"fingerprint64_ints: expected an integer array, got dtype {x.dtype}.")
  return _fingerprint64_ints_jit(x)


@jax.jit
def _fingerprint64_ints_jit(x) -> U64:
  # One compiled kernel: eagerly, hundreds of small ops would each dispatch.
  if x.dtype == jnp.bool_:
    t, f = _bool_fingerprints()
    return _where(x, _c(t), _c(f))
  w, n, max_len = _decimal_words(x)
  return _fingerprint64_small_d(w, n, max_len)


def siphash64_ints(x, key0: int, key1: int) -> U64:
  """SipHash-2-4 of each int's decimal string, on device (jittable).

  The device twin of :func:`siphash64_ints_host`; returns ``(hi, lo)``.
  """
  key0, key1 = _check_key(key0, key1)
  x = jnp.asarray(x)
  if x.dtype != jnp.bool_ and not jnp.issubdtype(x.dtype, jnp.integer):
    raise TypeError(
        f"siphash64_ints: expected an integer array, got dtype {x.dtype}.")
  return _siphash64_ints_jit(x, key0, key1)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _siphash64_ints_jit(x, key0: int, key1: int) -> U64:
  if x.dtype == jnp.bool_:
    t, f = (int(v) for v in siphash64_strings(["true", "false"], key0, key1))
    return _where(x, _c(t), _c(f))
  w, n, max_len = _decimal_words(x)
  return _siphash_small_d(w, n, max_len, key0, key1)


def _siphash_small_d(w, n, max_len: int, key0: int, key1: int) -> U64:
  """SipHash-2-4 of right-aligned strings (see :func:`_decimal_words`) of
  length ``n`` (<= max_len <= 23)."""
  k0, k1 = _c(key0), _c(key1)
  v0 = _xor(k0, _c(0x736f6d6570736575))
  v1 = _xor(k1, _c(0x646f72616e646f6d))
  v2 = _xor(k0, _c(0x6c7967656e657261))
  v3 = _xor(k1, _c(0x7465646279746573))
  shape = n.shape
  v0, v1, v2, v3 = (tuple(jnp.broadcast_to(w, shape) for w in v)
                    for v in (v0, v1, v2, v3))

  def rnd(v0, v1, v2, v3):
    v0 = _add(v0, v1); v1 = _rotl_d(v1, 13); v1 = _xor(v1, v0)
    v0 = _rotl_d(v0, 32)
    v2 = _add(v2, v3); v3 = _rotl_d(v3, 16); v3 = _xor(v3, v2)
    v0 = _add(v0, v3); v3 = _rotl_d(v3, 21); v3 = _xor(v3, v0)
    v2 = _add(v2, v1); v1 = _rotl_d(v1, 17); v1 = _xor(v1, v2)
    v2 = _rotl_d(v2, 32)
    return v0, v1, v2, v3

  blocks = n // 8
  start = 4 * len(w) - n
  for i in range((max_len + 7) // 8 + 1):
    # Block i is a full block, the last block, or past the end.
    word = _load_d(w, start + 8 * i, 8)
    rem = n - 8 * i  # bytes left from this block on
    keep_bytes = jnp.clip(rem, 0, 8).astype(jnp.uint32)
    # Mask of the kept bytes: (1 << 8*k) - 1 on the pair.
    klo = jnp.where(keep_bytes >= 4, jnp.uint32(0xffffffff),
                    (jnp.uint32(1) << (keep_bytes * 8)) - 1)
    khi = jnp.where(keep_bytes >= 8, jnp.uint32(0xffffffff),
                    jnp.where(keep_bytes > 4,
                              (jnp.uint32(1) << ((keep_bytes - 4) * 8)) - 1,
                              jnp.uint32(0)))
    is_last = blocks == i
    m_last = (word[0] & khi | (n.astype(jnp.uint32) << 24), word[1] & klo)
    m = _where(is_last, m_last, word)
    active = blocks >= i
    a3 = _xor(v3, m)
    a0, a1, a2, a3 = rnd(*rnd(v0, v1, v2, a3))
    a0 = _xor(a0, m)
    v0, v1, v2, v3 = (_where(active, a, b) for a, b in
                      ((a0, v0), (a1, v1), (a2, v2), (a3, v3)))
  v2 = _xor(v2, _c(0xff))
  for _ in range(4):
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
  return _xor(_xor(v0, v1), _xor(v2, v3))


@jax.jit
def fingerprint_cat64_device(fp1: U64, fp2: U64) -> U64:
  """:func:`fingerprint_cat64` on ``(hi, lo)`` uint32 pairs (jittable)."""
  mul = _c(_CAT_MUL)
  r = _xor(fp1, mul)
  r = _xor(r, _mul(_shift_mix_d(_mul(fp2, mul)), mul))
  r = _mul(r, mul)
  r = _mul(_shift_mix_d(r), mul)
  return _shift_mix_d(r)


def int64_bits(x) -> U64:
  """The two's complement bits of an integer jax array as ``(hi, lo)``."""
  x = jnp.asarray(x)
  dt = jnp.dtype(x.dtype)
  if dt.itemsize == 8:
    u = x.astype(jnp.uint64)
    return ((u >> jnp.uint64(32)).astype(jnp.uint32),
            (u & jnp.uint64(0xffffffff)).astype(jnp.uint32))
  lo = x.astype(jnp.int32).astype(jnp.uint32) if dt.kind == "i" else x.astype(
      jnp.uint32)
  hi = jnp.where(x < 0, jnp.uint32(0xffffffff), jnp.uint32(0)) if dt.kind == "i" \
      else jnp.zeros_like(lo)
  return hi, lo


def mod_u64(hi, lo, k: int):
  """``(hi * 2**32 + lo) % k`` for uint32 arrays ``hi``, ``lo`` and an int k.

  Exact for any ``1 <= k < 2**32``, jittable in 32-bit mode. Works through
  the 64 bits in chunks as wide as ``r * 2**b + chunk`` fits in 32 bits
  (4 steps for ``k <= 2**16``), falling back to one bit per step with
  overflow-free modular doubling for ``k >= 2**31``.

  Returns:
    A ``uint32`` array of remainders.
  """
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
    raise TypeError(f"mod_u64: `k` must be an int, got {k!r}.")
  k = int(k)
  if not 1 <= k < 2**32:
    raise ValueError(f"mod_u64: `k` must lie in [1, 2**32), got {k}.")
  return _mod_u64_jit(jnp.asarray(hi, jnp.uint32), jnp.asarray(lo, jnp.uint32),
                      k)


@functools.partial(jax.jit, static_argnums=2)
def _mod_u64_jit(hi, lo, k: int):
  if k == 1:
    return jnp.zeros_like(lo)
  kk = jnp.uint32(k)
  b = 32 - k.bit_length()
  if b >= 1:
    # Chunks of b bits, most significant first; r < k < 2**(32-b).
    r = jnp.zeros_like(lo)
    pos = 64
    while pos > 0:
      w = min(b, pos)
      pos -= w
      if pos >= 32:
        chunk = (hi >> jnp.uint32(pos - 32)) & jnp.uint32((1 << w) - 1)
      elif pos + w <= 32:
        chunk = (lo >> jnp.uint32(pos)) & jnp.uint32((1 << w) - 1)
      else:  # straddles the two words
        low_bits = 32 - pos
        chunk = ((lo >> jnp.uint32(pos)) |
                 (hi << jnp.uint32(low_bits))) & jnp.uint32((1 << w) - 1)
      r = ((r << jnp.uint32(w)) | chunk) % kk
    return r
  # k >= 2**31: r = 2r + bit (mod k) without leaving 32 bits.
  r = jnp.zeros_like(lo)
  for i in range(63, -1, -1):
    word = hi if i >= 32 else lo
    bit = (word >> jnp.uint32(i % 32)) & jnp.uint32(1)
    gap = kk - r  # r + r >= k  <=>  r >= gap
    r = jnp.where(r >= gap, r - gap, r + r)
    # r + bit reaches k only when r == k - 1 and bit == 1.
    r = jnp.where((bit == 1) & (r == kk - 1), jnp.uint32(0), r + bit)
  return r


def u64_from_pair(hi, lo) -> np.ndarray:
  """Host helper: ``(hi, lo)`` uint32 arrays to one NumPy ``uint64`` array."""
  return (np.asarray(hi, np.uint64) << np.uint64(32)) | np.asarray(lo, np.uint64)
