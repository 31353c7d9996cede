"""64-bit unsigned arithmetic on device, as ``(hi, lo)`` pairs of uint32.

JAX's default 32-bit mode has no ``uint64``, yet FarmHash and SipHash are
64-bit hashes. A 64-bit word is therefore a pair of ``uint32`` arrays whose
value is ``hi * 2**32 + lo``; every function below wraps modulo 2**64 like
C's ``uint64_t``, is elementwise and jittable.

  >>> import numpy as np
  >>> from prepro_core._src.hashing import u64
  >>> a = u64.const(2**64 - 1)
  >>> int(u64.u64_from_pair(*u64.add(a, u64.const(2))))
  1
"""

from __future__ import annotations

import functools
from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

U64 = Tuple[jax.Array, jax.Array]  # (hi, lo), each uint32

_M32 = 0xffffffff


def const(v: int) -> U64:
  """The Python int ``v`` (taken modulo 2**64) as a pair of uint32 scalars."""
  return jnp.uint32((v >> 32) & _M32), jnp.uint32(v & _M32)


def add(a: U64, b: U64) -> U64:
  lo = a[1] + b[1]
  carry = (lo < a[1]).astype(jnp.uint32)
  return a[0] + b[0] + carry, lo


def xor(a: U64, b: U64) -> U64:
  return a[0] ^ b[0], a[1] ^ b[1]


def or_(a: U64, b: U64) -> U64:
  return a[0] | b[0], a[1] | b[1]


def shr(a: U64, n: int) -> U64:
  """``a >> n`` for a static ``0 <= n < 64``."""
  hi, lo = a
  if n == 0:
    return a
  if n >= 32:
    return jnp.zeros_like(hi), hi >> jnp.uint32(n - 32)
  return hi >> jnp.uint32(n), (lo >> jnp.uint32(n)) | (hi << jnp.uint32(32 - n))


def shl(a: U64, n: int) -> U64:
  """``a << n`` for a static ``0 <= n < 64``."""
  hi, lo = a
  if n == 0:
    return a
  if n >= 32:
    return lo << jnp.uint32(n - 32), jnp.zeros_like(lo)
  return (hi << jnp.uint32(n)) | (lo >> jnp.uint32(32 - n)), lo << jnp.uint32(n)


def rotr(a: U64, n: int) -> U64:
  return or_(shr(a, n), shl(a, 64 - n))


def rotl(a: U64, n: int) -> U64:
  return or_(shl(a, n), shr(a, 64 - n))


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


def mul(a: U64, b: U64) -> U64:
  """``a * b`` modulo 2**64 (the high words' product falls off the top)."""
  hi, lo = _mul32_wide(a[1], b[1])
  return hi + a[0] * b[1] + a[1] * b[0], lo


def shift_mix(a: U64) -> U64:
  """FarmHash's ``ShiftMix``: ``a ^ (a >> 47)``."""
  return xor(a, shr(a, 47))


def hash_len16(u: U64, v: U64, mul_: U64) -> U64:
  """FarmHash's ``HashLen16(u, v, mul)``."""
  a = mul(xor(u, v), mul_)
  a = xor(a, shr(a, 47))
  b = mul(xor(v, a), mul_)
  b = xor(b, shr(b, 47))
  return mul(b, mul_)


def where(m, a: U64, b: U64) -> U64:
  """``jnp.where`` on pairs."""
  return jnp.where(m, a[0], b[0]), jnp.where(m, a[1], b[1])


def int64_bits(x) -> U64:
  """The two's complement bits of an integer jax array as ``(hi, lo)``."""
  x = jnp.asarray(x)
  dt = jnp.dtype(x.dtype)
  if dt.itemsize == 8:
    u = x.astype(jnp.uint64)
    return ((u >> jnp.uint64(32)).astype(jnp.uint32),
            (u & jnp.uint64(_M32)).astype(jnp.uint32))
  if dt.kind == "i":
    lo = x.astype(jnp.int32).astype(jnp.uint32)
    hi = jnp.where(x < 0, jnp.uint32(_M32), jnp.uint32(0))  # sign extension
    return hi, lo
  lo = x.astype(jnp.uint32)
  return jnp.zeros_like(lo), lo


def mod_u64(hi, lo, k: int):
  """``(hi * 2**32 + lo) % k`` for uint32 arrays ``hi``, ``lo`` and an int k.

  Exact for any ``1 <= k < 2**32``, jittable in 32-bit mode. Works through
  the 64 bits in chunks as wide as ``r * 2**b + chunk`` fits in 32 bits
  (4 steps for ``k <= 2**16``), falling back to one bit per step with
  overflow-free modular doubling for ``k >= 2**31``.

  Returns:
    A ``uint32`` array of remainders.

  Raises:
    TypeError: ``k`` is not an int.
    ValueError: ``k`` outside ``[1, 2**32)``.
  """
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
    raise TypeError(f"mod_u64: `k` must be an int, got {k!r}.")
  k = int(k)
  if not 1 <= k < 2**32:
    raise ValueError(f"mod_u64: `k` must lie in [1, 2**32), got {k}.")
  return _mod_u64_jit(jnp.asarray(hi, jnp.uint32), jnp.asarray(lo, jnp.uint32),
                      k)


def _chunk(hi, lo, pos: int, w: int):
  """Bits ``pos .. pos + w - 1`` of the 64-bit value (w < 32)."""
  mask = jnp.uint32((1 << w) - 1)
  if pos >= 32:
    return (hi >> jnp.uint32(pos - 32)) & mask
  if pos + w <= 32:
    return (lo >> jnp.uint32(pos)) & mask
  return ((lo >> jnp.uint32(pos)) | (hi << jnp.uint32(32 - pos))) & mask


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
      r = ((r << jnp.uint32(w)) | _chunk(hi, lo, pos, w)) % kk
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
