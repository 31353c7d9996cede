"""The packed-buffer types: strings as numbers, tokens as slices of one buffer.

Strings never reach the device and never travel as one Python object per
string between the host modules. They travel as:

* :class:`PackedStrings`: UTF-8 bytes of all strings, concatenated
  (``uint8``), and ``offsets`` (``int64``, one more than the strings). Being
  numeric, a state holding them saves with ``np.save``/``np.savez`` and
  ``flax.serialization`` (which cannot store NumPy ``str_``/``bytes_``
  arrays) and is a pytree like any other.
* :class:`Tokens`: a ragged batch of tokens, as ``[start, end)`` slices of
  one byte buffer plus each document's first token (``row_splits``).
* :class:`TokenBatch` / :class:`FlatStrings`: user input as Tokens (or as a
  list of ``str``) plus its shape, what :mod:`inputs` returns.

This module imports nothing else of the package, so every other host module
can use these types without importing each other.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

# Zero bytes kept after the last string of a packed buffer: 8-byte word
# reads of any string stay inside the buffer.
SLACK = 8


class PackedStrings(NamedTuple):
  """Strings stored as numbers, so that states stay plain numeric pytrees."""
  data: np.ndarray     # (total_bytes,) uint8: UTF-8 of every string, concatenated
  offsets: np.ndarray  # (n + 1,) int64: string i is data[offsets[i]:offsets[i+1]]

  def __len__(self) -> int:  # number of strings
    return int(np.shape(self.offsets)[0]) - 1


def pack(tokens) -> PackedStrings:
  """Packs a sequence of ``str`` into a :class:`PackedStrings`."""
  encoded = list(map(str.encode, tokens))
  lengths = np.fromiter(map(len, encoded), np.int64, count=len(encoded))
  offsets = np.zeros(len(encoded) + 1, np.int64)
  np.cumsum(lengths, out=offsets[1:])
  data = np.frombuffer(b"".join(encoded), np.uint8).copy()
  return PackedStrings(data, offsets)


def empty_packed() -> PackedStrings:
  return PackedStrings(np.zeros((0,), np.uint8), np.zeros((1,), np.int64))


def concat_packed(a: PackedStrings, b: PackedStrings) -> PackedStrings:
  offsets = np.concatenate([a.offsets, b.offsets[1:] + a.offsets[-1]])
  return PackedStrings(np.concatenate([a.data, b.data]), offsets)


def slice_packed(packed: PackedStrings, start: int, stop: int) -> PackedStrings:
  """Strings ``start`` to ``stop - 1``, sharing ``packed``'s bytes (the
  offsets are views too when ``start`` is 0, else rebased copies)."""
  offsets = packed.offsets[start:stop + 1]
  base = int(offsets[0])
  if base:
    offsets = offsets - base
  return PackedStrings(packed.data[base:base + int(offsets[-1])], offsets)


# Decoded Python views of packed arrays, cached per array object (states are
# immutable; a cache entry dies with its array).
_CACHE: dict = {}


def cached(arr: np.ndarray, tag: str, build: Callable[[], Any]) -> Any:
  """``build()``, memoised on the identity of ``arr`` (a state's leaf)."""
  key = (id(arr), tag)
  hit = _CACHE.get(key)
  if hit is not None and hit[0]() is arr:
    return hit[1]
  value = build()
  try:
    # The dict is bound now: at interpreter exit the module's globals may be
    # gone before the last arrays die.
    ref = weakref.ref(arr,
                      lambda _, k=key, entries=_CACHE: entries.pop(k, None))
  except TypeError:  # not weak-referenceable: do not cache
    return value
  _CACHE[key] = (ref, value)
  return value


def seed_cache(arr: np.ndarray, tag: str, value: Any) -> None:
  """Stores a value already known for ``arr`` (saves a rebuild)."""
  cached(arr, tag, lambda: value)


def unpack(packed: PackedStrings) -> list:
  """The strings of a :class:`PackedStrings`, as a (cached) list of ``str``."""
  def build():
    blob = np.asarray(packed.data, np.uint8).tobytes()
    offs = np.asarray(packed.offsets, np.int64).tolist()
    pieces = map(blob.__getitem__, map(slice, offs[:-1], offs[1:]))
    return list(map(bytes.decode, pieces))
  return cached(packed.offsets, "list", build)


def index_of(packed: PackedStrings) -> dict:
  """``{string: position}`` for a :class:`PackedStrings` (cached)."""
  return cached(packed.offsets, "index",
                lambda: dict(zip(unpack(packed), range(len(packed)))))


class Tokens(NamedTuple):
  """A ragged batch of tokens, as slices of one UTF-8 byte buffer.

  Token ``i`` is ``buf[starts[i]:ends[i]]``; the tokens of document ``d`` are
  ``row_splits[d]`` to ``row_splits[d + 1]`` (in order).
  """
  buf: np.ndarray  # (nbytes,) uint8
  starts: np.ndarray  # (num_tokens,) int64
  ends: np.ndarray  # (num_tokens,) int64
  row_splits: np.ndarray  # (num_docs + 1,) int64
  keys: Any = None  # (num_tokens,) uint64 token_keys, when already known

  @property
  def num_docs(self) -> int:
    return len(self.row_splits) - 1

  def doc_ids(self) -> np.ndarray:
    """(num_tokens,) int64: the document each token comes from."""
    return np.repeat(
        np.arange(self.num_docs, dtype=np.int64), np.diff(self.row_splits))

  def to_list(self) -> list:
    """The tokens as a list (one per document) of lists of ``str``."""
    data = self.buf.tobytes()
    flat = [data[s:e].decode("utf-8") for s, e in zip(
        self.starts.tolist(), self.ends.tolist())]
    rs = self.row_splits.tolist()
    return [flat[rs[d]:rs[d + 1]] for d in range(self.num_docs)]

  def to_bytes(self) -> list:
    """The tokens as a flat list of ``bytes``."""
    data = self.buf.tobytes()
    return [data[s:e] for s, e in zip(self.starts.tolist(), self.ends.tolist())]


class FlatStrings(NamedTuple):
  """User strings flattened: ``tokens`` (list of str) in row-major order."""
  tokens: list
  shape: Optional[tuple]          # None for ragged rows
  row_lengths: Optional[np.ndarray]  # (rows,) int64 for rank-2 input, else None


class TokenBatch(NamedTuple):
  """User strings as :class:`Tokens` plus a shape.

  ``tokens.row_splits`` delimit documents as Keras' lookups count them for
  tf-idf: one per string for rank 0/1 input, one per row along axis 0
  otherwise (ragged rows included).
  """
  tokens: Tokens                 # strings in row-major order
  shape: Optional[tuple]         # None for ragged rows
  row_lengths: Optional[np.ndarray]  # (rows,) int64 for rank >= 2, else None


def max_end(ends: np.ndarray) -> int:
  """The largest of ``ends`` (0 when empty): where a buffer's tokens end."""
  return int(ends.max()) if len(ends) else 0


def with_slack(tokens: Tokens) -> Tokens:
  """``tokens`` with 8 spare bytes after its last token (one copy at most),
  so that word reads need no further copies of the buffer."""
  if len(tokens.buf) >= max_end(tokens.ends) + SLACK:
    return tokens
  return tokens._replace(
      buf=np.concatenate([tokens.buf, np.zeros(SLACK, np.uint8)]))


def ramp(lengths: np.ndarray) -> np.ndarray:
  """``concatenate([arange(n) for n in lengths])``, vectorised."""
  lengths = np.asarray(lengths, np.int64)
  total = int(lengths.sum())
  if total == 0:
    return np.zeros(0, np.int64)
  firsts = np.zeros(len(lengths), np.int64)
  np.cumsum(lengths[:-1], out=firsts[1:])
  return np.arange(total, dtype=np.int64) - np.repeat(firsts, lengths)


def ragged_from_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
  """Lays ``str`` tokens out as ``(data, offsets)`` UTF-8 bytes."""
  enc = [s.encode("utf-8") for s in strings]
  offsets = np.zeros(len(enc) + 1, np.int64)
  np.cumsum(np.fromiter(map(len, enc), np.int64, len(enc)), out=offsets[1:])
  return np.frombuffer(b"".join(enc), np.uint8).copy(), offsets


def ragged_take(buf: np.ndarray, starts: np.ndarray,
                ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Copies the slices ``buf[starts[i]:ends[i]]`` into ``(data, offsets)``."""
  lengths = ends - starts
  offsets = np.zeros(len(lengths) + 1, np.int64)
  np.cumsum(lengths, out=offsets[1:])
  src = np.repeat(starts, lengths) + ramp(lengths)
  return buf[src], offsets


def non_ascii_rows(chars: np.ndarray) -> np.ndarray:
  """Rows of an (n, w) character matrix holding a code point >= 128: a max
  over blocks of rows first, then only the flagged blocks row by row."""
  n, w = chars.shape
  per_block = 16
  m = n - n % per_block
  blocks = np.flatnonzero(
      chars[:m].reshape(-1, per_block * w).max(axis=1) >= 0x80)
  cand = (blocks[:, None] * per_block + np.arange(per_block)).reshape(-1)
  cand = np.concatenate([cand, np.arange(m, n)])
  return cand[chars[cand].max(axis=1) >= 0x80]


def byte_matrix(chars: np.ndarray, extra: list):
  """Rows of ``chars`` (an (n, w) code point or byte matrix, ASCII where it
  matters) cast into an (n, w8) byte matrix (w rounded up to a multiple of
  8, keeping 8-byte loads aligned), then the ``extra`` bytes, then 8 zero
  bytes: ``(buf, row_starts, blob_start)``."""
  n, w = chars.shape
  w8 = -(-w // 8) * 8
  main = n * w8
  blob = b"".join(extra)
  buf = np.empty(main + len(blob) + SLACK, np.uint8)
  mat = buf[:main].reshape(n, w8)
  mat[:, w:] = 0
  np.copyto(mat[:, :w], chars, casting="unsafe")
  buf[main:main + len(blob)] = np.frombuffer(blob, np.uint8)
  buf[main + len(blob):] = 0
  return buf, np.arange(0, main, w8, dtype=np.int64), main
