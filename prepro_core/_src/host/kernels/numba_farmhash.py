"""numba kernels for farmhash.py: the optional accelerator (``prepro[fast]``).

The twins of ``numpy_farmhash.py`` (same names, signatures and bits), picked
by ``backend.kernels("farmhash")`` when numba is installed (a test checks
that the two modules stay twins). The ``*_packed`` kernels are one loop over
the strings with scalar ``uint64`` arithmetic (which wraps modulo 2**64 like
C's), so every byte is read once instead of once per whole-array NumPy
operation. The ``*_rows`` kernels read a ``str_`` array's code points in
place, by blocks of rows: one pass finds each row's length and packs short
ASCII rows into two words, a second hashes those in a branch-free loop that
LLVM vectorises across rows, a third hashes the other rows one by one.
Compiled on first use and cached on disk; they release the GIL, so
``backend.split_run`` can spread a large batch over threads.

All hash arithmetic below stays in ``uint64``: numba types a mix of signed and
unsigned ints as float64, so every constant is a ``np.uint64``.
"""

import numba
import numpy as np

from prepro_core._src.host import farmhash

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True)
# Inlined by numba itself: LLVM's inliner leaves a function this long as a
# call, and a call keeps the loop over strings that holds it scalar.
_always = numba.njit(cache=True, nogil=True, inline="always")

_K0 = np.uint64(farmhash.K0)
_K1 = np.uint64(farmhash.K1)
_K2 = np.uint64(farmhash.K2)
_SEED = np.uint64(farmhash.SEED)
_SEED_Y = np.uint64((farmhash.SEED * farmhash.K1 + 113) & farmhash.MASK64)
_C113 = np.uint64(113)
_C9 = np.uint64(9)
_FF = np.uint64(0xff)
_U8 = np.uint64(8)
_M32 = np.uint64(0xffffffff)
_S = tuple(np.uint64(i) for i in range(65))  # shift amounts as uint64
S1, S2, S3, S8, S13, S16, S17, S18, S21, S24 = (_S[i] for i in (
    1, 2, 3, 8, 13, 16, 17, 18, 21, 24))
S25, S30, S32, S33, S37, S40, S42, S43, S44, S47 = (_S[i] for i in (
    25, 30, 32, 33, 37, 40, 42, 43, 44, 47))
S48, S56 = _S[48], _S[56]
_SIP = tuple(np.uint64(v) for v in farmhash.SIP_INIT)
_SIP0, _SIP1, _SIP2, _SIP3 = _SIP


@_inline
def _f64(b, p):
  """Little-endian uint64 at byte p (LLVM merges the byte loads)."""
  return (np.uint64(b[p]) | (np.uint64(b[p + 1]) << S8) |
          (np.uint64(b[p + 2]) << S16) | (np.uint64(b[p + 3]) << S24) |
          (np.uint64(b[p + 4]) << S32) | (np.uint64(b[p + 5]) << S40) |
          (np.uint64(b[p + 6]) << S48) | (np.uint64(b[p + 7]) << S56))


@_inline
def _f32(b, p):
  return (np.uint64(b[p]) | (np.uint64(b[p + 1]) << S8) |
          (np.uint64(b[p + 2]) << S16) | (np.uint64(b[p + 3]) << S24))


@_inline
def _rot(v, s, t):
  # t == 64 - s, passed in as a constant too.
  return (v >> s) | (v << t)


@_inline
def _shift_mix(v):
  return v ^ (v >> S47)


@_inline
def _hash_len16(u, v, mul):
  a = (u ^ v) * mul
  a ^= a >> S47
  b = (v ^ a) * mul
  b ^= b >> S47
  return b * mul


@_inline
def _weak32(b, p, a, c):
  w = _f64(b, p)
  x = _f64(b, p + 8)
  y = _f64(b, p + 16)
  z = _f64(b, p + 24)
  a += w
  c = _rot(c + a + z, S21, S43)
  d = a
  a += x + y
  c += _rot(a, S44, _S[20])
  return a + z, c + d


@_inline
def _fp64_short(b, s, n):
  """farmhashna::HashLen0to16."""
  n64 = np.uint64(n)
  mul = _K2 + n64 * np.uint64(2)
  if n >= 4:
    # 4-7 and 8-16 bytes both end in HashLen16(u, v, mul): both (u, v)
    # are computed and one selected, sparing a mispredicted branch. The
    # loads stay inside the string plus the 8 bytes after it.
    a = _f64(b, s) + _K2
    bb = _f64(b, s + max(n - 8, 0))
    u8 = _rot(bb, S37, _S[27]) * mul + a
    v8 = (_rot(a, S25, _S[39]) + bb) * mul
    u4 = n64 + (_f32(b, s) << S3)
    v4 = _f32(b, s + n - 4)
    big = n >= 8
    return _hash_len16(u8 if big else u4, v8 if big else v4, mul)
  if n > 0:
    a = np.uint64(b[s])
    bb = np.uint64(b[s + (n >> 1)])
    c = np.uint64(b[s + n - 1])
    y = a + (bb << S8)
    z = n64 + (c << S2)
    return _shift_mix(y * _K2 ^ z * _K0) * _K2
  return _K2


@_inline
def _bytes_at(lo, hi, k):
  """Bytes k..k+7 (k in 0..8) of the 16 bytes (lo, hi); each shift < 64."""
  t = np.uint64(8 * k)
  h = t >> S1
  r = t - h
  return ((lo >> h) >> r) | ((hi << (S32 - h)) << (S32 - r))


@_always
def _fp64_16(lo, hi, n):
  """:func:`_fp64_short` of n <= 16 bytes held in (lo, hi), branch-free: all
  three length classes computed, one selected (a row's length class is
  data, so a branch on it is mispredicted often)."""
  n64 = np.uint64(n)
  mul = _K2 + n64 * np.uint64(2)
  a = lo + _K2
  bb = _bytes_at(lo, hi, max(n - 8, 0))
  u8 = _rot(bb, S37, _S[27]) * mul + a
  v8 = (_rot(a, S25, _S[39]) + bb) * mul
  u4 = n64 + ((lo & _M32) << S3)
  # Shift counts masked to the values of the class that uses them (so a
  # count is never 64 or more, whose shift LLVM leaves undefined).
  v4 = (lo >> np.uint64(8 * ((n - 4) & 3))) & _M32
  big = n >= 8
  h16 = _hash_len16(u8 if big else u4, v8 if big else v4, mul)
  y = (lo & _FF) + (((lo >> np.uint64(8 * ((n >> 1) & 1))) & _FF) << S8)
  z = n64 + (((lo >> np.uint64(8 * ((n - 1) & 3))) & _FF) << S2)
  h3 = _shift_mix(y * _K2 ^ z * _K0) * _K2 if n > 0 else _K2
  return h16 if n >= 4 else h3


@_inline
def _fp64_long(b, s, n):
  """farmhashna::Hash64 for more than 16 bytes."""
  n64 = np.uint64(n)
  mul = _K2 + n64 * np.uint64(2)
  if n <= 32:
    a = _f64(b, s) * _K1
    bb = _f64(b, s + 8)
    c = _f64(b, s + n - 8) * mul
    d = _f64(b, s + n - 16) * _K2
    return _hash_len16(
        _rot(a + bb, S43, _S[21]) + _rot(c, S30, _S[34]) + d,
        a + _rot(bb + _K2, S18, _S[46]) + c, mul)
  if n <= 64:
    a = _f64(b, s) * _K2
    bb = _f64(b, s + 8)
    c = _f64(b, s + n - 8) * mul
    d = _f64(b, s + n - 16) * _K2
    y = _rot(a + bb, S43, _S[21]) + _rot(c, S30, _S[34]) + d
    z = _hash_len16(y, a + _rot(bb + _K2, S18, _S[46]) + c, mul)
    e = _f64(b, s + 16) * mul
    f = _f64(b, s + 24)
    g = (y + _f64(b, s + n - 32)) * mul
    h = (z + _f64(b, s + n - 24)) * mul
    return _hash_len16(
        _rot(e + f, S43, _S[21]) + _rot(g, S30, _S[34]) + h,
        e + _rot(f + a, S18, _S[46]) + g, mul)
  # Over 64 bytes: 64-byte chunks, then the last 64 bytes.
  x = _SEED
  y = _SEED_Y
  z = _shift_mix(y * _K2 + _C113) * _K2
  v0 = np.uint64(0)
  v1 = np.uint64(0)
  w0 = np.uint64(0)
  w1 = np.uint64(0)
  x = x * _K2 + _f64(b, s)
  p = s
  end = s + ((n - 1) // 64) * 64
  while p != end:
    x = _rot(x + y + v0 + _f64(b, p + 8), S37, _S[27]) * _K1
    y = _rot(y + v1 + _f64(b, p + 48), S42, _S[22]) * _K1
    x ^= w1
    y += v0 + _f64(b, p + 40)
    z = _rot(z + w0, S33, _S[31]) * _K1
    v0, v1 = _weak32(b, p, v1 * _K1, x + w0)
    w0, w1 = _weak32(b, p + 32, z + w1, y + _f64(b, p + 16))
    x, z = z, x
    p += 64
  mul = _K1 + ((z & _FF) << S1)
  p = s + n - 64
  w0 += np.uint64((n - 1) & 63)
  v0 += w0
  w0 += v0
  x = _rot(x + y + v0 + _f64(b, p + 8), S37, _S[27]) * mul
  y = _rot(y + v1 + _f64(b, p + 48), S42, _S[22]) * mul
  x ^= w1 * _C9
  y += v0 * _C9 + _f64(b, p + 40)
  z = _rot(z + w0, S33, _S[31]) * mul
  v0, v1 = _weak32(b, p, v1 * mul, x + w0)
  w0, w1 = _weak32(b, p + 32, z + w1, y + _f64(b, p + 16))
  x, z = z, x
  return _hash_len16(_hash_len16(v0, w0, mul) + _shift_mix(y) * _K0 + z,
                     _hash_len16(v1, w1, mul) + x, mul)


@_jit
def fingerprint64_packed(offs, lens, b):
  """Fingerprint64 of b[offs[i]:offs[i] + lens[i]] for each i; b ends with
  8 zero bytes."""
  out = np.empty(offs.size, np.uint64)
  for i in range(offs.size):
    n = lens[i]
    # Short strings: a small function LLVM inlines into this loop.
    out[i] = _fp64_short(b, offs[i], n) if n <= 16 else _fp64_long(
        b, offs[i], n)
  return out


@_inline
def _sip_round(v0, v1, v2, v3):
  v0 += v1
  v1 = _rot(v1, _S[51], S13)  # rotl(v1, 13)
  v1 ^= v0
  v0 = _rot(v0, S32, S32)
  v2 += v3
  v3 = _rot(v3, S48, S16)  # rotl(v3, 16)
  v3 ^= v2
  v0 += v3
  v3 = _rot(v3, S43, S21)  # rotl(v3, 21)
  v3 ^= v0
  v2 += v1
  v1 = _rot(v1, S47, S17)  # rotl(v1, 17)
  v1 ^= v2
  v2 = _rot(v2, S32, S32)
  return v0, v1, v2, v3


@_jit
def siphash64_packed(offs, lens, b, k0, k1):
  """SipHash-2-4 keyed (k0, k1) of each packed string; b ends with 8 zero
  bytes."""
  out = np.empty(offs.size, np.uint64)
  for i in range(offs.size):
    out[i] = _sip_one(b, offs[i], lens[i], k0, k1)
  return out


@_inline
def _row_length(row):
  """(length, OR of its code points) of a row of a ``str_`` array: NumPy
  drops trailing NULs, so a row ends at its last nonzero code point. One
  branch-free pass over the whole row, which LLVM vectorises."""
  last = 0
  acc = np.uint32(0)
  for j in range(row.size):
    c = row[j]
    acc |= c
    if c != 0:
      last = j + 1
  return last, acc


_SCAN = 64  # code points _scan_row reads per row when the width is <= this


@_inline
def _scan_end(n, w):
  """The rows before which _scan_row may read _SCAN code points from a row's
  start (the rows after it hold that many); 0 for wider rows."""
  return n - (_SCAN + w - 1) // w if w <= _SCAN else 0


@_inline
def _scan_row(flat, p, w):
  """:func:`_row_length` of the row at flat[p:p + w], reading _SCAN code
  points (w <= _SCAN): a loop of a constant trip count (masked past the
  row) that LLVM turns into a few 32-bit vector ops, which a loop of w
  trips plus its remainder is not."""
  last = np.uint32(0)
  acc = np.uint32(0)
  for j in range(_SCAN):
    c = flat[p + np.uint64(j)]
    c = c if j < w else np.uint32(0)
    acc = np.uint32(acc | c)
    last = max(last, np.uint32(j + 1) if c != 0 else np.uint32(0))
  return np.int64(last), acc


@_inline
def _low8(flat, p):
  """The low bytes of code points flat[p:p + 8] as a little-endian uint64:
  an ASCII row's bytes (what lies past its end only fills bytes that
  HashLen0to16 and SipHash ignore)."""
  r = np.uint64(0)
  for k in range(8):
    r |= np.uint64(flat[p + np.uint64(k)] & np.uint32(0xff)) << np.uint64(
        8 * k)
  return r


@_inline
def _utf8(row, m, out):
  """UTF-8 encodes code points row[:m] into out; the byte count, or -1 for
  a code point UTF-8 cannot encode (a surrogate, or beyond U+10FFFF)."""
  p = 0
  for j in range(m):
    c = np.int64(row[j])
    if c < 0x80:
      out[p] = c
      p += 1
    elif c < 0x800:
      out[p] = 0xc0 | (c >> 6)
      out[p + 1] = 0x80 | (c & 0x3f)
      p += 2
    elif c < 0x10000:
      if 0xd800 <= c < 0xe000:
        return -1
      out[p] = 0xe0 | (c >> 12)
      out[p + 1] = 0x80 | ((c >> 6) & 0x3f)
      out[p + 2] = 0x80 | (c & 0x3f)
      p += 3
    elif c < 0x110000:
      out[p] = 0xf0 | (c >> 18)
      out[p + 1] = 0x80 | ((c >> 12) & 0x3f)
      out[p + 2] = 0x80 | ((c >> 6) & 0x3f)
      out[p + 3] = 0x80 | (c & 0x3f)
      p += 4
    else:
      return -1
  return p


@_inline
def _to_scratch(row, m, acc, scratch):
  """Bytes of row[:m] in scratch: narrowed (ASCII) or UTF-8 encoded."""
  if acc < 0x80:
    for j in range(m):
      scratch[j] = row[j]
    return m
  return _utf8(row, m, scratch)


_BLOCK = 256  # rows per block of the *_rows kernels: their arrays fit in L1


@_inline
def _fill_block(chars, flat, i0, tail, lo, hi, lens, slow):
  """First pass over the rows from i0 (as many as ``lens`` holds): the bytes
  (lo, hi) and length of each ASCII row of at most 15 code points, which
  the second pass hashes in a loop LLVM vectorises (the same straight-line
  code for every row); the others' places in ``slow``. Returns how many."""
  w = chars.shape[1]
  ns = 0
  for k in range(lens.size):
    i = i0 + k
    p = np.uint64(i * w)  # unsigned: no negative-index wraparound check
    if i < tail:
      m, acc = _scan_row(flat, p, w)
    else:
      m, acc = _row_length(chars[i])
    if acc < 0x80 and m <= 15 and (i < tail or w >= 16):
      lo[k] = _low8(flat, p)
      hi[k] = _low8(flat, p + _U8)
      lens[k] = m
    else:
      lens[k] = 0  # hashed anyway, then redone by the third pass
      slow[ns] = k
      ns += 1
  return ns


@_inline
def _blocks(n):
  """The per-block arrays of :func:`_fill_block`."""
  b = min(n, _BLOCK)
  return (np.zeros(b, np.uint64), np.zeros(b, np.uint64),
          np.zeros(b, np.int64), np.zeros(b, np.int64))


@_inline
def _fp64_bytes(b, n):
  return _fp64_short(b, 0, n) if n <= 16 else _fp64_long(b, 0, n)


@_jit
def fingerprint64_rows(chars):
  """Fingerprint64 of each row of a C-contiguous (n, w) uint32 code point
  matrix (a ``str_`` array), UTF-8 encoded, by blocks of rows: short ASCII
  rows hashed from their low bytes (:func:`_fill_block`), the others in
  place or, if not ASCII, encoded into a scratch buffer first. Returns
  (hashes, the first row UTF-8 cannot encode or -1)."""
  n, w = chars.shape
  flat = chars.reshape(-1)
  out = np.empty(n, np.uint64)
  scratch = np.zeros(4 * w + 8, np.uint8)
  lo, hi, lens, slow = _blocks(n)
  tail = _scan_end(n, w)
  for i0 in range(0, n, _BLOCK):
    cnt = min(_BLOCK, n - i0)
    ns = _fill_block(chars, flat, i0, tail, lo[:cnt], hi, lens[:cnt], slow)
    dst = out[i0:i0 + cnt]
    for k in range(cnt):
      dst[k] = _fp64_16(lo[k], hi[k], lens[k])
    for q in range(ns):
      i = i0 + slow[q]
      row = chars[i]
      m, acc = _row_length(row)
      if acc < 0x80 and m + 8 <= w:  # loads may read 8 bytes past the end
        out[i] = _fp64_bytes(row, m)
      else:
        nb = _to_scratch(row, m, acc, scratch)
        if nb < 0:
          return out, i
        out[i] = _fp64_bytes(scratch, nb)
  return out, -1


@_inline
def _sip_block(v0, v1, v2, v3, m):
  """Absorbs the 8-byte word m (two SipRounds)."""
  v3 ^= m
  v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
  v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
  return v0 ^ m, v1, v2, v3


@_always
def _sip_last(v0, v1, v2, v3, m, n):
  """Absorbs the last word m (its n & 7 bytes, masked here) and the length
  n, then finalizes."""
  m &= (np.uint64(1) << np.uint64(8 * (n & 7))) - np.uint64(1)
  v0, v1, v2, v3 = _sip_block(v0, v1, v2, v3, m | (np.uint64(n) << S56))
  v2 ^= _FF
  # Unrolled by hand: a loop inside would keep LLVM from vectorising a
  # loop over strings that inlines this.
  v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
  v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
  v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
  v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
  return v0 ^ v1 ^ v2 ^ v3


@_inline
def _sip_one(b, s, n, k0, k1):
  v0 = k0 ^ _SIP0
  v1 = k1 ^ _SIP1
  v2 = k0 ^ _SIP2
  v3 = k1 ^ _SIP3
  end = s + (n >> 3) * 8
  p = s
  while p != end:
    v0, v1, v2, v3 = _sip_block(v0, v1, v2, v3, _f64(b, p))
    p += 8
  # The last 0-7 bytes: an 8-byte load, masked.
  return _sip_last(v0, v1, v2, v3, _f64(b, p), n)


@_always
def _sip16(lo, hi, n, k0, k1):
  """:func:`_sip_one` of n <= 15 bytes held in (lo, hi), branch-free (for
  the vectorised loop of :func:`siphash64_rows`): the first word absorbed,
  then kept only if n >= 8."""
  v0 = k0 ^ _SIP0
  v1 = k1 ^ _SIP1
  v2 = k0 ^ _SIP2
  v3 = k1 ^ _SIP3
  c0, c1, c2, c3 = _sip_block(v0, v1, v2, v3, lo)
  big = n >= 8
  return _sip_last(c0 if big else v0, c1 if big else v1, c2 if big else v2,
                   c3 if big else v3, hi if big else lo, n)


@_jit
def siphash64_rows(chars, k0, k1):
  """:func:`fingerprint64_rows` for SipHash-2-4 keyed (k0, k1)."""
  n, w = chars.shape
  flat = chars.reshape(-1)
  out = np.empty(n, np.uint64)
  scratch = np.zeros(4 * w + 8, np.uint8)
  lo, hi, lens, slow = _blocks(n)
  tail = _scan_end(n, w)
  for i0 in range(0, n, _BLOCK):
    cnt = min(_BLOCK, n - i0)
    ns = _fill_block(chars, flat, i0, tail, lo[:cnt], hi, lens[:cnt], slow)
    dst = out[i0:i0 + cnt]
    for k in range(cnt):
      dst[k] = _sip16(lo[k], hi[k], lens[k], k0, k1)
    for q in range(ns):
      i = i0 + slow[q]
      row = chars[i]
      m, acc = _row_length(row)
      if acc < 0x80 and m + 8 <= w:
        out[i] = _sip_one(row, 0, m, k0, k1)
      else:
        nb = _to_scratch(row, m, acc, scratch)
        if nb < 0:
          return out, i
        out[i] = _sip_one(scratch, 0, nb, k0, k1)
  return out, -1
