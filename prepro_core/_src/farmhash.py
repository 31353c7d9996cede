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

Strings are packed into one flat byte buffer with per-string offsets, and
FarmHash's length classes (0-16, 17-32, 33-64, >64 bytes) each run as a few
whole-array NumPy operations; strings longer than 64 bytes loop over 64-byte
chunks, all of them at once. NumPy ``uint64`` array arithmetic wraps modulo
2**64, which is exactly C's ``uint64_t``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Tuple

import jax
import jax.numpy as jnp
import numpy as np

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


def _offsets(lengths: np.ndarray, gap: int = 0) -> np.ndarray:
  offs = np.zeros(lengths.size, np.int64)
  np.cumsum(lengths[:-1] + gap, out=offs[1:])
  return offs


def _pack_str_list(flat: list):
  """UTF-8 encodes a flat list of ``str`` with one join and one encode.

  The strings are joined with NUL separators, whose positions in the
  encoded buffer give the offsets; strings that hold NUL themselves fall
  back to measuring each string.
  """
  n = len(flat)
  try:
    joined = "\0".join(flat).encode("utf-8")
  except UnicodeEncodeError as e:
    raise ValueError(
        f"hash: a string cannot be encoded as UTF-8 ({e.reason}, e.g. a lone "
        f"surrogate); clean the text first.") from None
  buf = np.frombuffer(joined, np.uint8)
  seps = np.flatnonzero(buf == 0)
  if seps.size == max(n - 1, 0):
    offs = np.zeros(n, np.int64)
    offs[1:] = seps + 1
    ends = np.empty(n, np.int64)
    ends[:-1] = seps
    if n:
      ends[-1] = buf.size
    return buf, offs, ends - offs
  lens = np.fromiter((len(x.encode("utf-8")) for x in flat), np.int64, n)
  return buf, _offsets(lens, gap=1), lens


def _pack_bytes_list(flat: list):
  lens = np.fromiter((len(x) for x in flat), np.int64, len(flat))
  return np.frombuffer(b"".join(flat), np.uint8), _offsets(lens), lens


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
  return list(x), (len(x),)


def _shape_of(arr):
  if isinstance(arr, np.ndarray):
    return arr.shape
  if isinstance(arr, (list, tuple)):
    _, shape = _flatten_list(arr)
    if shape is not None:
      return shape
  return np.shape(np.asarray(arr, dtype=object))


def pack_strings(arr) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Packs strings into one byte buffer.

  Args:
    arr: a NumPy ``str_``/``bytes_`` array, an object array of ``str`` or
      ``bytes``, or (nested) lists of them; any shape.

  Returns:
    ``(buf, offsets, lengths)``: a uint8 buffer holding every string's UTF-8
    bytes, and int64 ``offsets`` and ``lengths`` (flattened, C order) into it.
    Fixed-width NumPy arrays are used in place (string ``i`` at ``i * width``).
  """
  if isinstance(arr, (list, tuple)):
    flat, _ = _flatten_list(arr)
    if flat is None:
      flat = np.asarray(arr, dtype=object).reshape(-1).tolist()
  elif isinstance(arr, np.ndarray) and arr.dtype == object:
    flat = arr.reshape(-1).tolist()
  else:
    flat = None
  if flat is not None:
    if all(type(x) is str for x in flat):
      return _pack_str_list(flat)
    if all(isinstance(x, bytes) for x in flat):
      return _pack_bytes_list(flat)
    if all(isinstance(x, (str, np.str_)) for x in flat):
      return _pack_str_list([str(x) for x in flat])
    raise TypeError(
        "hash: expected strings (str or bytes), got objects of type "
        f"{sorted({type(x).__name__ for x in flat})}.")
  a = np.asarray(arr)
  flat = a.reshape(-1)
  n = flat.size
  if a.dtype.kind == "U":
    w = a.dtype.itemsize // 4
    if n == 0 or w == 0:
      return np.zeros(0, np.uint8), np.zeros(n, np.int64), np.zeros(n, np.int64)
    cps = np.ascontiguousarray(flat).view(np.uint32).reshape(n, w)
    if cps.max() >= 0x80:
      return _pack_str_list(flat.tolist())
    # ASCII: the code point matrix narrowed to bytes, used in place.
    buf = cps.astype(np.uint8).reshape(-1)
  elif a.dtype.kind == "S":
    w = a.dtype.itemsize
    if n == 0 or w == 0:
      return np.zeros(0, np.uint8), np.zeros(n, np.int64), np.zeros(n, np.int64)
    buf = np.ascontiguousarray(flat).view(np.uint8).reshape(-1)
  else:
    raise TypeError(
        f"hash: expected an array of strings (str or bytes), got dtype "
        f"{a.dtype}.")
  lens = np.strings.str_len(flat).astype(np.int64)
  return buf, np.arange(n, dtype=np.int64) * w, lens


class _Buf(NamedTuple):
  """A zero-padded byte buffer with overlapping little-endian word views:
  ``w64[i]`` is the uint64 made of bytes ``i..i+7`` (a strided, unaligned
  view, so a fetch is one gather instead of eight)."""
  b: np.ndarray
  w64: np.ndarray
  w32: np.ndarray


def _views(buf: np.ndarray) -> _Buf:
  buf = np.ascontiguousarray(buf, np.uint8)
  if buf.size < 8 or np.any(buf[-8:]):
    buf = np.concatenate([buf, np.zeros(8, np.uint8)])
  w64 = np.ndarray((buf.size - 7,), "<u8", buffer=buf, strides=(1,))
  w32 = np.ndarray((buf.size - 3,), "<u4", buffer=buf, strides=(1,))
  return _Buf(buf, w64, w32)


def _fetch64(buf: _Buf, pos: np.ndarray) -> np.ndarray:
  """Little-endian uint64 at each byte position."""
  return buf.w64[pos].astype(np.uint64, copy=False)


def _fetch32(buf: _Buf, pos: np.ndarray) -> np.ndarray:
  return buf.w32[pos].astype(np.uint64)


# ---------------------------------------------------------------------------
# FarmHash Fingerprint64 (farmhashna::Hash64) on the host.
# ---------------------------------------------------------------------------


def _rot(v, s):
  return (v >> _U(s)) | (v << _U(64 - s))


def _shift_mix(v):
  return v ^ (v >> _U(47))


def _hash_len16(u, v, mul):
  a = (u ^ v) * mul
  a ^= a >> _U(47)
  b = (v ^ a) * mul
  b ^= b >> _U(47)
  return b * mul


def _h0to16(buf, s, n):
  out = np.full(s.shape, _U(_K2))
  n64 = n.astype(np.uint64)
  mul = _U(_K2) + n64 * _U(2)
  m = n >= 8
  if m.any():
    ss, nn, mm = s[m], n[m], mul[m]
    a = _fetch64(buf, ss) + _U(_K2)
    b = _fetch64(buf, ss + nn - 8)
    c = _rot(b, 37) * mm + a
    d = (_rot(a, 25) + b) * mm
    out[m] = _hash_len16(c, d, mm)
  m = (n >= 4) & (n < 8)
  if m.any():
    ss, nn = s[m], n[m]
    a = _fetch32(buf, ss)
    out[m] = _hash_len16(nn.astype(np.uint64) + (a << _U(3)),
                         _fetch32(buf, ss + nn - 4), mul[m])
  m = (n > 0) & (n < 4)
  if m.any():
    ss, nn = s[m], n[m]
    a = buf.b[ss].astype(np.uint64)
    b = buf.b[ss + (nn >> 1)].astype(np.uint64)
    c = buf.b[ss + nn - 1].astype(np.uint64)
    y = a + (b << _U(8))
    z = nn.astype(np.uint64) + (c << _U(2))
    out[m] = _shift_mix(y * _U(_K2) ^ z * _U(_K0)) * _U(_K2)
  return out


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
  """All strings longer than 64 bytes at once, one 64-byte chunk per step."""
  k1, k2 = _U(_K1), _U(_K2)
  m = s.size
  steps = (n - 1) // 64  # full chunks before the last 64 bytes, >= 1
  # Strings sorted by step count: at step i the active ones are a suffix.
  order = np.argsort(steps, kind="stable")
  s, n, steps = s[order], n[order], steps[order]
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
  out = _hash_len16(_hash_len16(v0, w0, mul) + _shift_mix(y) * _U(_K0) + z,
                    _hash_len16(v1, w1, mul) + x, mul)
  res = np.empty_like(out)
  res[order] = out
  return res


def fingerprint64_packed(buf: np.ndarray, offsets: np.ndarray,
                         lengths: np.ndarray) -> np.ndarray:
  """Fingerprint64 of strings already packed by :func:`pack_strings`."""
  buf = _views(buf)
  out = np.empty(offsets.shape, np.uint64)
  with np.errstate(over="ignore"):
    for lo, hi, fn in ((0, 16, _h0to16), (17, 32, _h17to32),
                       (33, 64, _h33to64), (65, None, _h65plus)):
      m = (lengths >= lo) if hi is None else (lengths >= lo) & (lengths <= hi)
      if m.all():
        return fn(buf, offsets, lengths)
      if m.any():
        out[m] = fn(buf, offsets[m], lengths[m])
  return out


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
  buf, offs, lens = pack_strings(arr)
  return fingerprint64_packed(buf, offs, lens).reshape(_shape_of(arr))


# ---------------------------------------------------------------------------
# SipHash-2-4 (highwayhash::SipHash, as TF's to_hash_bucket_strong uses it).
# ---------------------------------------------------------------------------


def _rotl(v, s):
  return (v << _U(s)) | (v >> _U(64 - s))


def _sip_round(v0, v1, v2, v3):
  v0 = v0 + v1; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
  v2 = v2 + v3; v3 = _rotl(v3, 16); v3 ^= v2
  v0 = v0 + v3; v3 = _rotl(v3, 21); v3 ^= v0
  v2 = v2 + v1; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
  return v0, v1, v2, v3


def _check_key(key0, key1):
  for name, k in (("key0", key0), ("key1", key1)):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
      raise TypeError(f"siphash: `{name}` must be an int, got {k!r}.")
    if not 0 <= int(k) <= _MASK64:
      raise ValueError(
          f"siphash: `{name}` must lie in [0, 2**64), got {k!r}.")
  return int(key0), int(key1)


def siphash64_packed(buf, offsets, lengths, key0: int, key1: int):
  """SipHash-2-4 of strings already packed by :func:`pack_strings`."""
  key0, key1 = _check_key(key0, key1)
  k0, k1 = _U(key0), _U(key1)
  buf = _views(buf)
  n = offsets.size
  with np.errstate(over="ignore"):
    v0 = np.full(n, k0 ^ _U(0x736f6d6570736575))
    v1 = np.full(n, k1 ^ _U(0x646f72616e646f6d))
    v2 = np.full(n, k0 ^ _U(0x6c7967656e657261))
    v3 = np.full(n, k1 ^ _U(0x7465646279746573))
    blocks = lengths // 8
    order = np.argsort(blocks, kind="stable")
    sb = blocks[order]
    for i in range(int(blocks.max()) if n else 0):
      act = order[int(np.searchsorted(sb, i, side="right")):]
      m = _fetch64(buf, offsets[act] + 8 * i)
      a0, a1, a2, a3 = v0[act], v1[act], v2[act], v3[act] ^ m
      a0, a1, a2, a3 = _sip_round(*_sip_round(a0, a1, a2, a3))
      v0[act], v1[act], v2[act], v3[act] = a0 ^ m, a1, a2, a3
    # Last block: the 0-7 remaining bytes and the length in the top byte.
    rem = lengths & 7
    tail = _fetch64(buf, offsets + 8 * blocks)
    keep = np.where(rem == 0, _U(0),
                    (_U(1) << (rem.astype(np.uint64) * _U(8))) - _U(1))
    m = (tail & keep) | ((lengths.astype(np.uint64) & _U(0xff)) << _U(56))
    v3 ^= m
    v0, v1, v2, v3 = _sip_round(*_sip_round(v0, v1, v2, v3))
    v0 ^= m
    v2 ^= _U(0xff)
    for _ in range(4):
      v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


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
  buf, offs, lens = pack_strings(arr)
  return siphash64_packed(buf, offs, lens, key0, key1).reshape(_shape_of(arr))


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


def _fetch_d(mat, pos, nbytes: int):
  """Little-endian word of ``nbytes`` (4 or 8) at per-row byte ``pos``."""
  idx = pos[..., None] + jnp.arange(nbytes, dtype=pos.dtype)
  b = jnp.take_along_axis(mat, idx, axis=-1)
  lo = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16) | (b[..., 3] << 24)
  if nbytes == 4:
    return jnp.zeros_like(lo), lo
  hi = b[..., 4] | (b[..., 5] << 8) | (b[..., 6] << 16) | (b[..., 7] << 24)
  return hi, lo


def _fingerprint64_small_d(mat, n, max_len: int) -> U64:
  """Fingerprint64 of rows of ``mat`` (uint32 bytes, width >= 32) of length
  ``n`` (int32, 1..max_len <= 32)."""
  n_u = n.astype(jnp.uint32)
  zero = jnp.zeros_like(n_u)
  n64 = (zero, n_u)
  mul = _add(_c(_K2), (zero, n_u * jnp.uint32(2)))
  # len 1..3
  a = jnp.take_along_axis(mat, jnp.zeros_like(n)[..., None], -1)[..., 0]
  b = jnp.take_along_axis(mat, (n >> 1)[..., None], -1)[..., 0]
  c = jnp.take_along_axis(mat, (n - 1)[..., None], -1)[..., 0]
  y = (zero, a + (b << jnp.uint32(8)))
  z = (zero, n_u + (c << jnp.uint32(2)))
  h3 = _mul(_shift_mix_d(_xor(_mul(y, _c(_K2)), _mul(z, _c(_K0)))), _c(_K2))
  # len 4..7
  a4 = _fetch_d(mat, jnp.zeros_like(n), 4)
  h7 = _hash_len16_d(_add(n64, _shl(a4, 3)),
                     _fetch_d(mat, jnp.maximum(n - 4, 0), 4), mul)
  # len 8..16
  a8 = _add(_fetch_d(mat, jnp.zeros_like(n), 8), _c(_K2))
  b8 = _fetch_d(mat, jnp.maximum(n - 8, 0), 8)
  c8 = _add(_mul(_rotr(b8, 37), mul), a8)
  d8 = _mul(_add(_rotr(a8, 25), b8), mul)
  h16 = _hash_len16_d(c8, d8, mul)
  out = _where(n >= 8, h16, _where(n >= 4, h7, h3))
  if max_len > 16:
    a = _mul(_fetch_d(mat, jnp.zeros_like(n), 8), _c(_K1))
    b = _fetch_d(mat, jnp.full_like(n, 8), 8)
    c = _mul(_fetch_d(mat, jnp.maximum(n - 8, 0), 8), mul)
    d = _mul(_fetch_d(mat, jnp.maximum(n - 16, 0), 8), _c(_K2))
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


def _decimal_bytes(x):
  """Decimal string bytes of ints as a (..., 32) uint32 matrix, and lengths."""
  neg, mag, max_digits = _int_parts(x)
  return _decimal_bytes_from_parts(neg, mag, max_digits)


def _decimal_bytes_from_parts(neg, mag: U64, max_digits: int):
  """Bytes of ``-mag`` (where ``neg``) or ``mag`` written in decimal, as a
  (..., 32) uint32 matrix, the lengths, and the longest possible length."""
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
  d = jnp.stack(digits, axis=-1)  # (..., D)
  nonzero = d != 0
  idx = jnp.arange(len(digits), dtype=jnp.int32)
  nd = jnp.maximum(jnp.max(jnp.where(nonzero, idx + 1, 0), axis=-1), 1)
  sign = neg.astype(jnp.int32)
  n = sign + nd
  p = jnp.arange(32, dtype=jnp.int32)
  j = p - sign[..., None]  # position within the digits
  valid = (j >= 0) & (j < nd[..., None])
  src = jnp.clip(nd[..., None] - 1 - j, 0, len(digits) - 1)
  dig = jnp.take_along_axis(d, src, axis=-1)
  mat = jnp.where(valid, dig + jnp.uint32(48), jnp.uint32(0))
  mat = jnp.where((p == 0) & neg[..., None], jnp.uint32(45), mat)
  return mat, n, max_digits + 1


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
  mat, n, max_len = _decimal_bytes(x)
  return _fingerprint64_small_d(mat, n, max_len)


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
  mat, n, max_len = _decimal_bytes(x)
  return _siphash_small_d(mat, n, max_len, key0, key1)


def _siphash_small_d(mat, n, max_len: int, key0: int, key1: int) -> U64:
  """SipHash-2-4 of rows of ``mat`` (uint32 bytes, width 32) of length
  ``n`` (<= max_len <= 23)."""
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
  for i in range((max_len + 7) // 8 + 1):
    # Block i is a full block, the last block, or past the end.
    word = _fetch_d(mat, jnp.full_like(n, 8 * i), 8)
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
