"""Exact integer keys for tokens, read as little-endian words (NumPy).

Counting and lookups run on one ``uint64`` key per token instead of string
compares: tokens of up to 7 bytes key as their bytes plus their length
(injective); longer ones as a 63-bit hash with the top bit set, which the
callers confirm byte for byte. The numba kernels (kernels/numba_text.py)
compute the same keys and table slots, bit for bit.
"""

from __future__ import annotations

import numpy as np

from prepro_core._src.host.packed import max_end

# The top bit marks a long token's key (a hash, to be confirmed by bytes).
LONG = np.uint64(1 << 63)

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
# _BYTE_MASK[n] keeps the first n bytes of a little-endian word.
_BYTE_MASK = np.array([0] + [(1 << (8 * n)) - 1 for n in range(1, 8)] +
                      [(1 << 64) - 1], dtype=np.uint64)
_LEN_TAG = np.arange(9, dtype=np.uint64) << np.uint64(56)


class Words:
  """Reads the little-endian 8-byte word at any byte offset of a buffer."""

  def __init__(self, buf: np.ndarray, end: int | None = None):
    buf = np.ascontiguousarray(buf, np.uint8)
    n = len(buf)
    if end is not None and end + 8 <= n:
      # 8 bytes of slack after the last token: read the buffer in place.
      padded, size = buf, n - 7
    else:
      padded, size = np.concatenate([buf, np.zeros(16, np.uint8)]), n + 8
    # An unaligned uint64 view with a 1-byte stride: element i is the word
    # at byte i, so one gather reads 8 bytes per token.
    self.u64 = np.ndarray(shape=(size,), dtype="<u8", buffer=padded,
                          strides=(1,))

  def at(self, pos: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Word at byte ``pos``, keeping only its first ``min(length, 8)`` bytes."""
    return self.u64[pos] & _BYTE_MASK[np.minimum(length, 8)]


def _mix(h: np.ndarray) -> np.ndarray:
  h = (h ^ (h >> np.uint64(30))) * _M2
  h = (h ^ (h >> np.uint64(27))) * _M3
  return h ^ (h >> np.uint64(31))


def token_keys(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               reader: Words | None = None) -> np.ndarray:
  """A ``uint64`` key per token; equal tokens have equal keys.

  Tokens of at most 7 bytes get their bytes plus ``length << 56``, which is
  injective. Longer tokens get a 63-bit hash with the top bit set, which
  :func:`group_tokens` and lookups confirm byte for byte.
  """
  with np.errstate(over="ignore"):
    length = ends - starts
    if reader is None:
      reader = Words(buf, max_end(ends))
    short = np.minimum(length, 8)
    keys = reader.u64[starts]
    keys &= _BYTE_MASK[short]
    keys |= _LEN_TAG[short]
    long_idx = np.flatnonzero(length > 7)
    if len(long_idx):
      keys[long_idx] = _long_hash(reader, starts[long_idx], length[long_idx])
  return keys


def _long_hash(reader: Words, starts: np.ndarray,
               length: np.ndarray) -> np.ndarray:
  h = _mix(length.astype(np.uint64) * _M1)
  idx = np.arange(len(starts))
  for k in range(0, int(length.max()), 8):
    if k:
      idx = idx[length[idx] > k]
    w = reader.at(starts[idx] + k, length[idx] - k)
    h[idx] = _mix((h[idx] ^ w) * _M1 + np.uint64(k + 1))
  return h | LONG


def same_bytes(buf_a: np.ndarray, starts_a: np.ndarray, buf_b: np.ndarray,
               starts_b: np.ndarray, length: np.ndarray,
               ra: Words | None = None,
               rb: Words | None = None) -> np.ndarray:
  """Whether ``buf_a[sa:sa+L] == buf_b[sb:sb+L]`` for each row, by words."""
  with np.errstate(over="ignore"):
    ra = ra or Words(buf_a, max_end(starts_a + length))
    rb = rb or Words(buf_b, max_end(starts_b + length))
    same = np.ones(len(length), dtype=bool)
    idx = np.arange(len(length))
    top = int(length.max()) if len(length) else 0
    for k in range(0, top, 8):
      if k:
        idx = idx[length[idx] > k]
      rem = length[idx] - k
      eq = ra.at(starts_a[idx] + k, rem) == rb.at(starts_b[idx] + k, rem)
      same[idx[~eq]] = False
  return same


def slot_of(keys: np.ndarray, bits: int) -> np.ndarray:
  """The home slot of each key in a ``2**bits`` table (Fibonacci hashing)."""
  with np.errstate(over="ignore"):
    return ((keys * _M1) >> np.uint64(64 - bits)).astype(np.int64)
