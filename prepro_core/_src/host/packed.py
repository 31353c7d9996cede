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
* :class:`StringBatch` (public, ``pc.StringBatch``): a 1-D batch of user
  strings packed once (a pipeline's text column), which the host
  transforms read without encoding them again.

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


class StringBatch:
  """A 1-D batch of strings packed into one UTF-8 buffer, as a text column
  travels through an input pipeline (``pc.grain.batch`` gives its ``str``
  columns this way; ``pc.pack_strings(strings)`` makes one).

  The host text transforms (text_vectorization, string_lookup, hashing)
  take it wherever they take a list of strings, and read its bytes as they
  are: a list is joined and encoded on every call, a StringBatch only when
  it is packed. ``data`` holds each string's UTF-8 bytes followed by one NUL
  (``uint8``); string ``i`` is ``data[offsets[i]:offsets[i + 1] - 1]``
  (``offsets``: ``int64``, one more than the strings, ``offsets[0] == 0``).
  It reads as a sequence of ``str`` (``len``, indexing, slicing, iteration,
  :meth:`tolist`), pickles as its two arrays and is not a pytree: strings
  stay on the host.
  """
  __slots__ = ("data", "offsets")
  slices_like_an_array = True  # pc.adapt splits one into batches by slicing

  def __init__(self, data: Any, offsets: Any):
    """From its two arrays, checked (``pc.pack_strings`` builds one from
    strings).

    Raises:
      TypeError / ValueError naming the argument: ``data`` is not 1-D
      uint8, ``offsets`` not 1-D integers starting at 0 and ending at
      ``len(data)``, a string does not end with a NUL, or the bytes are
      not UTF-8.
    """
    where = "pc.StringBatch"
    data, offsets = np.asarray(data), np.asarray(offsets)
    if data.dtype != np.uint8 or data.ndim != 1:
      raise TypeError(f"{where}: `data` must be a 1-D uint8 array, got "
                      f"{data.dtype} of shape {data.shape}.")
    if offsets.dtype.kind not in "iu" or offsets.ndim != 1 or not len(offsets):
      raise TypeError(f"{where}: `offsets` must be a 1-D integer array of "
                      f"the strings' starts and the end, got {offsets.dtype} "
                      f"of shape {offsets.shape}.")
    offsets = offsets.astype(np.int64)
    if (offsets[0] != 0 or offsets[-1] != len(data) or
        (np.diff(offsets) < 1).any() or (data[offsets[1:] - 1] != 0).any()):
      raise ValueError(
          f"{where}: `offsets` must rise from 0 to len(data) ({len(data)}), "
          f"each string's bytes followed by a NUL (data[offsets[i + 1] - 1] "
          f"== 0).")
    try:
      data.tobytes().decode("utf-8")
    except UnicodeDecodeError as e:
      raise ValueError(f"{where}: `data` is not UTF-8 (byte {e.start}).") \
          from None
    self.data, self.offsets = data, offsets

  def __len__(self) -> int:
    return self.offsets.shape[0] - 1

  def __getitem__(self, index):
    if isinstance(index, slice):
      start, stop, step = index.indices(len(self))
      if step != 1:
        raise IndexError("StringBatch slices take a step of 1 only.")
      return slice_batch(self, start, max(start, stop))
    if not isinstance(index, (int, np.integer)) or isinstance(
        index, (bool, np.bool_)):
      raise TypeError(f"StringBatch indices must be an int or a slice, got "
                      f"{type(index).__name__}.")
    n = len(self)
    i = int(index) + n if index < 0 else int(index)
    if not 0 <= i < n:
      raise IndexError(f"StringBatch index {int(index)} is out of range for "
                       f"{n} strings.")
    lo, hi = self.offsets[i:i + 2].tolist()
    return self.data[lo:hi - 1].tobytes().decode("utf-8")

  def __iter__(self):
    return iter(self.tolist())

  def tolist(self) -> list:
    """The strings, as a list of ``str``."""
    blob = self.data.tobytes()
    offs = self.offsets.tolist()
    return [blob[lo:hi - 1].decode("utf-8")
            for lo, hi in zip(offs[:-1], offs[1:])]

  def __eq__(self, other) -> bool:
    if not isinstance(other, StringBatch):
      return NotImplemented
    return (np.array_equal(self.offsets, other.offsets) and
            np.array_equal(self.data, other.data))

  __hash__ = None  # mutable arrays inside, as for NumPy arrays

  def __getstate__(self):
    return self.data, self.offsets

  def __setstate__(self, parts):
    self.data, self.offsets = parts

  def __repr__(self) -> str:
    shown = ", ".join(map(repr, self[:3].tolist()))
    more = f", ... ({len(self)} strings)" if len(self) > 3 else ""
    return f"StringBatch([{shown}{more}])"


def trusted_batch(data: np.ndarray, offsets: np.ndarray) -> StringBatch:
  """A StringBatch of bytes this package packed itself, unchecked (the
  checks in ``StringBatch(...)`` read every byte)."""
  batch = object.__new__(StringBatch)
  batch.data, batch.offsets = data, offsets
  return batch


def nul_offsets(data: np.ndarray, items: list) -> np.ndarray:
  """Where each of ``items`` (``str`` or ``bytes``) starts in ``data``,
  their UTF-8 bytes each followed by a NUL, and the end (``n + 1`` int64).

  Without a per-item encode where it can: ``len`` counts bytes when every
  ``str`` is ASCII (the lengths then add up to ``len(data)``), else the
  NULs mark the ends unless an item holds a NUL itself."""
  n = len(items)
  sizes = np.fromiter(map(len, items), np.int64, count=n)
  offsets = np.zeros(n + 1, np.int64)
  if int(sizes.sum()) + n != len(data):  # a str not ASCII: count bytes
    ends = np.flatnonzero(data == 0)
    if len(ends) == n:
      offsets[1:] = ends + 1
      return offsets
    sizes = np.fromiter((len(t) if isinstance(t, bytes) else
                         len(t.encode("utf-8")) for t in items), np.int64,
                        count=n)
  np.cumsum(sizes + 1, out=offsets[1:])
  return offsets


def nul_terminated(strings: list) -> StringBatch:
  """Packs a list of ``str`` (raises UnicodeEncodeError, TypeError: the
  caller names the argument)."""
  data = np.frombuffer("\0".join([*strings, ""]).encode("utf-8"), np.uint8)
  return trusted_batch(data, nul_offsets(data, strings))


def empty_strings(batch: StringBatch) -> np.ndarray:
  """A bool per string of ``batch``: whether it is ``""``."""
  return batch.offsets[1:] - batch.offsets[:-1] == 1


def slice_batch(batch: StringBatch, start: int, stop: int) -> StringBatch:
  """Strings ``start`` to ``stop - 1``: a view of ``batch``'s bytes."""
  offsets = batch.offsets[start:stop + 1]
  base = int(offsets[0])
  if base:
    offsets = offsets - base
  return trusted_batch(batch.data[base:base + int(offsets[-1])], offsets)


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
