"""NumPy kernels for farmhash.py: the twins of numba_farmhash.py.

Every public function here has the name, signature and results of its numba
twin (a test checks the names and signatures), so ``farmhash.py`` takes
``backend.kernels("farmhash")`` without asking which module it got:

* :func:`fingerprint64_packed`, :func:`siphash64_packed`: strings already
  packed into one byte buffer (``offs``, ``lens`` into ``b``, which ends with
  8 zero bytes).
* :func:`fingerprint64_rows`, :func:`siphash64_rows`: the rows of a ``str_``
  array's (n, w) code point matrix, UTF-8 encoded. numba reads the code
  points in place; here the matrix is narrowed to bytes in one cast (only
  non-ASCII rows encoded one by one) and hashed as packed strings.

Each runs as a few whole-array operations over all strings at once: for
Fingerprint64 the strings are sorted by FarmHash length class (0, 1-3, 4-7,
8-16, 17-32, 33-64, >64 bytes), each class one slice, and strings longer
than 64 bytes loop over 64-byte chunks, all of them at once; SipHash loops
over 8-byte blocks the same way. NumPy ``uint64`` array arithmetic wraps
modulo 2**64, exactly C's ``uint64_t``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from prepro_core._src.host import farmhash
from prepro_core._src.host.packed import byte_matrix, non_ascii_rows

_U = np.uint64
_K0, _K1, _K2 = _U(farmhash.K0), _U(farmhash.K1), _U(farmhash.K2)
_PAD = 8  # zero bytes after the data, so that 8-byte loads stay inside


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
# FarmHash Fingerprint64 (farmhashna::Hash64).
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
  y *= _K2
  z *= _K0
  y ^= z
  y = _shift_mix(y)
  y *= _K2
  return y


def _h4to7(buf, s, n):
  lo = _fetch64(buf, s)
  n64 = n.astype(np.uint64)
  mul = n64 * _U(2) + _K2
  v = (lo >> ((n64 - _U(4)) << _U(3))) & _U(0xffffffff)
  lo &= _U(0xffffffff)
  lo <<= _U(3)
  lo += n64
  return _hash_len16(lo, v, mul)


def _h8to16(buf, s, n):
  mul = n.astype(np.uint64) * _U(2) + _K2
  a = _fetch64(buf, s) + _K2
  b = _fetch64(buf, s + n - 8)
  c = _rot(b, 37)
  c *= mul
  c += a
  d = _rot(a, 25)
  d += b
  d *= mul
  return _hash_len16(c, d, mul)


def _h17to32(buf, s, n):
  mul = _K2 + n.astype(np.uint64) * _U(2)
  a = _fetch64(buf, s) * _K1
  b = _fetch64(buf, s + 8)
  c = _fetch64(buf, s + n - 8) * mul
  d = _fetch64(buf, s + n - 16) * _K2
  return _hash_len16(_rot(a + b, 43) + _rot(c, 30) + d,
                     a + _rot(b + _K2, 18) + c, mul)


def _h33to64(buf, s, n):
  mul = _K2 + n.astype(np.uint64) * _U(2)
  a = _fetch64(buf, s) * _K2
  b = _fetch64(buf, s + 8)
  c = _fetch64(buf, s + n - 8) * mul
  d = _fetch64(buf, s + n - 16) * _K2
  y = _rot(a + b, 43) + _rot(c, 30) + d
  z = _hash_len16(y, a + _rot(b + _K2, 18) + c, mul)
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
  m = s.size
  steps = (n - 1) // 64  # full chunks before the last 64 bytes, >= 1
  x = np.full(m, _U(farmhash.SEED))
  y = np.full(m, _U((farmhash.SEED * farmhash.K1 + 113) & farmhash.MASK64))
  z = _shift_mix(y * _K2 + _U(113)) * _K2
  v0 = np.zeros(m, np.uint64)
  v1 = np.zeros(m, np.uint64)
  w0 = np.zeros(m, np.uint64)
  w1 = np.zeros(m, np.uint64)
  x = x * _K2 + _fetch64(buf, s)
  for i in range(int(steps.max())):
    lo = int(np.searchsorted(steps, i, side="right"))
    sl = slice(lo, m)
    p = s[sl] + 64 * i
    xs, ys, zs = x[sl], y[sl], z[sl]
    v0s, v1s, w0s, w1s = v0[sl], v1[sl], w0[sl], w1[sl]
    xs = _rot(xs + ys + v0s + _fetch64(buf, p + 8), 37) * _K1
    ys = _rot(ys + v1s + _fetch64(buf, p + 48), 42) * _K1
    xs ^= w1s
    ys = ys + v0s + _fetch64(buf, p + 40)
    zs = _rot(zs + w0s, 33) * _K1
    nv0, nv1 = _weak32(buf, p, v1s * _K1, xs + w0s)
    nw0, nw1 = _weak32(buf, p + 32, zs + w1s, ys + _fetch64(buf, p + 16))
    x[sl], y[sl], z[sl] = zs, ys, xs  # std::swap(z, x)
    v0[sl], v1[sl], w0[sl], w1[sl] = nv0, nv1, nw0, nw1
  mul = _K1 + ((z & _U(0xff)) << _U(1))
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
  return _hash_len16(_hash_len16(v0, w0, mul) + _shift_mix(y) * _K0 + z,
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


def _length_class_order(lengths: np.ndarray):
  """The strings' order by length class (those over 64 bytes also by
  length, for their chunk loop), None if already so, and each class's
  slice in it."""
  keys = _CLASS_OF_LEN[np.minimum(lengths, 65)]
  order, starts, ends = _sorted_by(keys, 7)
  lo = int(starts[6])
  if lo < lengths.size:
    order = np.arange(lengths.size) if order is None else order
    tail = order[lo:]
    order = np.concatenate(
        [order[:lo], tail[np.argsort(lengths[tail], kind="stable")]])
  return order, starts, ends


def fingerprint64_packed(offs, lens, b):
  """Fingerprint64 of b[offs[i]:offs[i] + lens[i]] for each i; b ends with
  8 zero bytes."""
  offs = np.asarray(offs, np.int64)
  lens = np.asarray(lens, np.int64)
  buf = _views(b)
  # Each length class one contiguous slice, put back in order at the end.
  order, starts, ends = _length_class_order(lens)
  s = offs if order is None else offs[order]
  n = lens if order is None else lens[order]
  out = np.empty(s.shape, np.uint64)
  with np.errstate(over="ignore"):
    for c, fn in enumerate(_FP_CLASSES):
      lo, hi = int(starts[c]), int(ends[c])
      if lo == hi:
        continue
      out[lo:hi] = _K2 if fn is None else fn(buf, s[lo:hi], n[lo:hi])
  if order is None:
    return out
  res = np.empty_like(out)
  res[order] = out
  return res


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


def siphash64_packed(offs, lens, b, k0, k1):
  """SipHash-2-4 keyed (k0, k1) of each packed string; b ends with 8 zero
  bytes."""
  offs = np.asarray(offs, np.int64)
  lens = np.asarray(lens, np.int64)
  k0, k1 = _U(k0), _U(k1)
  init = [_U(v) for v in farmhash.SIP_INIT]
  buf = _views(b)
  n = offs.size
  # Strings sorted by their number of full 8-byte blocks: at block i the
  # ones still going are a suffix, updated in place; unsorted at the end.
  blocks = lens >> 3
  order = np.argsort(blocks, kind="stable")
  s, ln, blocks = offs[order], lens[order], blocks[order]
  with np.errstate(over="ignore"):
    v0 = np.full(n, k0 ^ init[0])
    v1 = np.full(n, k1 ^ init[1])
    v2 = np.full(n, k0 ^ init[2])
    v3 = np.full(n, k1 ^ init[3])
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


# ---------------------------------------------------------------------------
# Rows of a str_ array's code point matrix.
# ---------------------------------------------------------------------------


def _utf8_rows(chars):
  """Packs the rows of an (n, w) uint32 code point matrix as UTF-8:
  ``(b, offs, lens, bad)``, ``bad`` being the first row UTF-8 cannot encode
  (a surrogate, or beyond U+10FFFF; then nothing is packed) or -1."""
  n, w = chars.shape
  if w == 0:  # every row empty
    return np.zeros(_PAD, np.uint8), np.zeros(n, np.int64), np.zeros(
        n, np.int64), -1
  chars = np.ascontiguousarray(chars, np.uint32)
  rows = chars.view(f"<U{w}").reshape(n)
  wide = non_ascii_rows(chars)
  sub = chars[wide]
  # What numba's encoder refuses, found before Python's encode sees it.
  invalid = np.flatnonzero(((sub >= 0xd800) & (sub < 0xe000) |
                            (sub >= 0x110000)).any(axis=1))
  if invalid.size:
    return None, None, None, int(wide[invalid[0]])
  extra = [s.encode("utf-8") for s in rows[wide].tolist()]
  b, offs, main = byte_matrix(chars, extra)
  lens = np.strings.str_len(rows).astype(np.int64)  # trailing NULs dropped
  if wide.size:
    sizes = np.fromiter(map(len, extra), np.int64, len(extra))
    offs[wide] = main + np.cumsum(sizes) - sizes
    lens[wide] = sizes
  return b, offs, lens, -1


def _hash_rows(chars, hash_packed, *key):
  b, offs, lens, bad = _utf8_rows(chars)
  if bad < 0:
    return hash_packed(offs, lens, b, *key), -1
  # Like numba's loop: the rows before the bad one hashed, the rest not.
  out = np.zeros(chars.shape[0], np.uint64)
  out[:bad] = _hash_rows(chars[:bad], hash_packed, *key)[0]
  return out, bad


def fingerprint64_rows(chars):
  """Fingerprint64 of each row of a (n, w) uint32 code point matrix (a
  ``str_`` array), UTF-8 encoded. Returns (hashes, the first row UTF-8
  cannot encode or -1)."""
  return _hash_rows(chars, fingerprint64_packed)


def siphash64_rows(chars, k0, k1):
  """:func:`fingerprint64_rows` for SipHash-2-4 keyed (k0, k1)."""
  return _hash_rows(chars, siphash64_packed, k0, k1)
