"""Fingerprint64 and SipHash-2-4 of integers' decimal strings, on device.

Keras' ``Hashing`` hashes an integer as its decimal string
(``Fingerprint64(str(x))``, or SipHash with a salt). Here that runs in
``jax.numpy`` under ``jit`` with JAX's default 32-bit mode: 64-bit words are
``(hi, lo)`` uint32 pairs (:mod:`u64`), and a decimal string is built as a
few right-aligned uint32 words (no byte matrix, no gathers), from which
FarmHash's and SipHash's loads are fixed words or one funnel shift. The
host twins (same numbers) are in ``host/farmhash.py``.

A short string on device is "right-aligned words": a tuple ``w`` of uint32
arrays holding bytes ``4q .. 4q+3`` of an ``L = 4 * len(w)`` byte register
(little-endian), with the string's ``n`` bytes at ``L - n .. L - 1`` and
zeros before. Loads relative to the string's end are then fixed words, and
loads relative to its start one funnel shift with the word picked by selects.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from prepro_core._src.hashing import u64
from prepro_core._src.hashing.u64 import U64
from prepro_core._src.host import farmhash


# ---------------------------------------------------------------------------
# Loads from right-aligned words.
# ---------------------------------------------------------------------------


def _word(w, q):
  """``w[q]`` for a per-element index ``q`` (0 past either end)."""
  out = jnp.zeros_like(w[0])
  for j, wj in enumerate(w):
    out = jnp.where(q == j, wj, out)
  return out


def _load(w, pos, nbytes: int) -> U64:
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


def _tail(w, back: int) -> U64:
  """The 8 bytes ending ``back`` bytes before the register's end (back % 4
  == 0): a fixed pair of words."""
  q = (4 * len(w) - back - 8) // 4
  return w[q + 1], w[q]


def _byte(w, k):
  """Byte ``k`` counted back from the register's end (k = 0: the last),
  for a per-element ``k`` in [0, 4)."""
  last = w[-1]
  return (last >> ((jnp.uint32(3) - k.astype(jnp.uint32)) * 8)) & jnp.uint32(
      0xff)


# ---------------------------------------------------------------------------
# Decimal strings as right-aligned words.
# ---------------------------------------------------------------------------


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


def _decimal_digits(mag: U64, max_digits: int) -> list:
  """The ``max_digits`` least significant decimal digits of ``mag``, least
  significant first (uint32 arrays)."""
  hi, lo = mag
  digits = []
  if max_digits <= 10:
    m = lo
    for _ in range(max_digits):
      digits.append(m % jnp.uint32(10))
      m = m // jnp.uint32(10)
    return digits
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
  return digits


def decimal_words_from_parts(neg, mag: U64, max_digits: int):
  """``-mag`` (where ``neg``) or ``mag`` written in decimal.

  Args:
    neg: bool array, where the number is negative.
    mag: its magnitude as a ``(hi, lo)`` pair.
    max_digits: the most digits a magnitude may have (10 or 20).

  Returns:
    ``(w, n, max_len)``: the strings as right-aligned words (see the module
    docstring), their lengths (int32) and the longest possible length.
  """
  lo = mag[1]
  digits = _decimal_digits(mag, max_digits)
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


def _decimal_words(x):
  """Ints' decimal strings as right-aligned words, their lengths, and the
  longest possible length."""
  return decimal_words_from_parts(*_int_parts(x))


# ---------------------------------------------------------------------------
# The hashes of right-aligned strings.
# ---------------------------------------------------------------------------


def fingerprint64_words(w, n, max_len: int) -> U64:
  """FarmHash Fingerprint64 of right-aligned strings (see the module
  docstring) of length ``n`` (int32, 1..max_len <= 32)."""
  c = u64.const
  reg = 4 * len(w)
  n_u = n.astype(jnp.uint32)
  zero = jnp.zeros_like(n_u)
  n64 = (zero, n_u)
  mul = u64.add(c(farmhash.K2), (zero, n_u * jnp.uint32(2)))
  start = reg - n  # byte of the string's first character
  # len 1..3: bytes 0, n >> 1 and n - 1 of the string, from the last word.
  a = _byte(w, jnp.clip(n - 1, 0, 3))
  b = _byte(w, jnp.clip(n - 1 - (n >> 1), 0, 3))
  last = w[-1] >> jnp.uint32(24)
  y = (zero, a + (b << jnp.uint32(8)))
  z = (zero, n_u + (last << jnp.uint32(2)))
  h3 = u64.mul(u64.shift_mix(u64.xor(u64.mul(y, c(farmhash.K2)),
                                     u64.mul(z, c(farmhash.K0)))),
               c(farmhash.K2))
  # len 4..16 ends in HashLen16(u, v, mul) for both sub-ranges.
  head = _load(w, start, 8)
  last8 = _tail(w, 0)
  u4 = u64.add(n64, u64.shl((zero, head[1]), 3))
  v4 = (zero, w[-1])
  a8 = u64.add(head, c(farmhash.K2))
  u8 = u64.add(u64.mul(u64.rotr(last8, 37), mul), a8)
  v8 = u64.mul(u64.add(u64.rotr(a8, 25), last8), mul)
  big = n >= 8
  h16 = u64.hash_len16(u64.where(big, u8, u4), u64.where(big, v8, v4), mul)
  out = u64.where(n >= 4, h16, h3)
  if max_len > 16:
    a = u64.mul(head, c(farmhash.K1))
    b = _load(w, start + 8, 8)
    cc = u64.mul(last8, mul)
    d = u64.mul(_tail(w, 8), c(farmhash.K2))
    h32 = u64.hash_len16(
        u64.add(u64.add(u64.rotr(u64.add(a, b), 43), u64.rotr(cc, 30)), d),
        u64.add(u64.add(a, u64.rotr(u64.add(b, c(farmhash.K2)), 18)), cc),
        mul)
    out = u64.where(n > 16, h32, out)
  return out


def _sip_round(v0, v1, v2, v3):
  v0 = u64.add(v0, v1); v1 = u64.rotl(v1, 13); v1 = u64.xor(v1, v0)
  v0 = u64.rotl(v0, 32)
  v2 = u64.add(v2, v3); v3 = u64.rotl(v3, 16); v3 = u64.xor(v3, v2)
  v0 = u64.add(v0, v3); v3 = u64.rotl(v3, 21); v3 = u64.xor(v3, v0)
  v2 = u64.add(v2, v1); v1 = u64.rotl(v1, 17); v1 = u64.xor(v1, v2)
  v2 = u64.rotl(v2, 32)
  return v0, v1, v2, v3


def _sip_block(word: U64, n, i: int) -> U64:
  """SipHash's message word for block ``i`` of strings of length ``n``: the
  8 bytes as loaded, or, for the last block, its ``n - 8i`` bytes with the
  length in the top byte."""
  keep_bytes = jnp.clip(n - 8 * i, 0, 8).astype(jnp.uint32)
  # Mask of the kept bytes: (1 << 8*k) - 1 on the pair.
  klo = jnp.where(keep_bytes >= 4, jnp.uint32(0xffffffff),
                  (jnp.uint32(1) << (keep_bytes * 8)) - 1)
  khi = jnp.where(keep_bytes >= 8, jnp.uint32(0xffffffff),
                  jnp.where(keep_bytes > 4,
                            (jnp.uint32(1) << ((keep_bytes - 4) * 8)) - 1,
                            jnp.uint32(0)))
  m_last = (word[0] & khi | (n.astype(jnp.uint32) << 24), word[1] & klo)
  return u64.where(n // 8 == i, m_last, word)


def siphash64_words(w, n, max_len: int, key0: int, key1: int) -> U64:
  """SipHash-2-4 keyed ``(key0, key1)`` of right-aligned strings (see the
  module docstring) of length ``n`` (<= max_len <= 23)."""
  k0, k1 = u64.const(key0), u64.const(key1)
  init = farmhash.SIP_INIT
  v = (u64.xor(k0, u64.const(init[0])), u64.xor(k1, u64.const(init[1])),
       u64.xor(k0, u64.const(init[2])), u64.xor(k1, u64.const(init[3])))
  v0, v1, v2, v3 = (tuple(jnp.broadcast_to(h, n.shape) for h in vi)
                    for vi in v)
  start = 4 * len(w) - n
  for i in range((max_len + 7) // 8 + 1):
    # Block i is a full block, the last block, or past the end.
    m = _sip_block(_load(w, start + 8 * i, 8), n, i)
    a0, a1, a2, a3 = _sip_round(*_sip_round(v0, v1, v2, u64.xor(v3, m)))
    a0 = u64.xor(a0, m)
    active = n // 8 >= i
    v0, v1, v2, v3 = (u64.where(active, a, b) for a, b in
                      ((a0, v0), (a1, v1), (a2, v2), (a3, v3)))
  v2 = u64.xor(v2, u64.const(0xff))
  for _ in range(4):
    v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
  return u64.xor(u64.xor(v0, v1), u64.xor(v2, v3))


# ---------------------------------------------------------------------------
# Integers.
# ---------------------------------------------------------------------------


def _check_int_dtype(x, where: str):
  if x.dtype != jnp.bool_ and not jnp.issubdtype(x.dtype, jnp.integer):
    raise TypeError(f"{where}: expected an integer array, got dtype {x.dtype}.")


# Fingerprint64 of "true" and "false" (tf.as_string of bools), computed once.
_TRUE_FALSE = None


def _bool_fingerprints():
  global _TRUE_FALSE
  if _TRUE_FALSE is None:
    _TRUE_FALSE = tuple(
        int(v) for v in farmhash.fingerprint64_strings(["true", "false"]))
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
    ``hi * 2**32 + lo``. Same numbers as ``farmhash.fingerprint64_ints_host``.

  Example:
    >>> from prepro_core._src.hashing import u64
    >>> h = fingerprint64_ints(jnp.array([7]))
    >>> bool(u64.u64_from_pair(*h)[0] == farmhash.fingerprint64_strings("7"))
    True
  """
  x = jnp.asarray(x)
  _check_int_dtype(x, "fingerprint64_ints")
  return _fingerprint64_ints_jit(x)


@jax.jit
def _fingerprint64_ints_jit(x) -> U64:
  # One compiled kernel: eagerly, hundreds of small ops would each dispatch.
  if x.dtype == jnp.bool_:
    t, f = _bool_fingerprints()
    return u64.where(x, u64.const(t), u64.const(f))
  return fingerprint64_words(*_decimal_words(x))


def siphash64_ints(x, key0: int, key1: int) -> U64:
  """SipHash-2-4 of each int's decimal string, on device (jittable).

  The device twin of ``farmhash.siphash64_ints_host``; returns ``(hi, lo)``.

  Raises:
    TypeError: ``x`` is not integers or bools, or a key is not an int.
    ValueError: a key outside ``[0, 2**64)``.
  """
  key0, key1 = farmhash.check_siphash_key(key0, key1)
  x = jnp.asarray(x)
  _check_int_dtype(x, "siphash64_ints")
  return _siphash64_ints_jit(x, key0, key1)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _siphash64_ints_jit(x, key0: int, key1: int) -> U64:
  if x.dtype == jnp.bool_:
    t, f = (int(v) for v in
            farmhash.siphash64_strings(["true", "false"], key0, key1))
    return u64.where(x, u64.const(t), u64.const(f))
  return siphash64_words(*_decimal_words(x), key0, key1)


@jax.jit
def fingerprint_cat64_device(fp1: U64, fp2: U64) -> U64:
  """``farmhash.fingerprint_cat64`` on ``(hi, lo)`` uint32 pairs (jittable)."""
  mul = u64.const(farmhash.CAT_MUL)
  r = u64.xor(fp1, mul)
  r = u64.xor(r, u64.mul(u64.shift_mix(u64.mul(fp2, mul)), mul))
  r = u64.mul(r, mul)
  r = u64.mul(u64.shift_mix(r), mul)
  return u64.shift_mix(r)
