"""The host-side string module: strings in, flat Python lists and arrays out.

Strings never reach the device. This module turns what users pass (a ``str``
or ``bytes`` scalar, NumPy ``str_``/``bytes_``/object arrays of any rank,
Python lists nested up to rank 2, ragged rows allowed where documents are
expected) into a flat list of ``str`` plus a shape, validates bytes against
the declared ``encoding``, and stores vocabularies in states as plain numeric
arrays:

* :class:`PackedStrings`: UTF-8 bytes of all strings, concatenated
  (``uint8``), and ``offsets`` (``int64``, one more than the strings). Being
  numeric, a state holding them saves with ``np.save``/``np.savez`` and
  ``flax.serialization`` (which cannot store NumPy ``str_``/``bytes_``
  arrays) and is a pytree like any other.
* Vocabulary files: one token per line, UTF-8 (or ``encoding``);
  :func:`read_vocabulary_file` and :func:`save_vocabulary`.

Per-string work runs inside C (``map`` over built-in methods, ``dict``
lookups, ``str.join``), never in a Python-level loop.
"""

from __future__ import annotations

import functools
import importlib
import operator
import os
import weakref
from typing import Any, Callable, NamedTuple, Optional

import numpy as np


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


# The numba kernels modules once imported (by name), False if numba is missing.
_KERNELS: dict = {}


def kernels(accelerator: str, module: str, where: str):
  """The numba kernels module ``prepro_core._src.<module>`` for a module's
  ``ACCELERATOR`` setting, or None to use the NumPy code.

  ``"numpy"``: None; ``"auto"``: the module when numba is installed (``pip
  install 'prepro[fast]'``), else None; ``"numba"``: the module, ImportError
  when numba is missing.
  """
  if accelerator == "numpy":
    return None
  mod = _KERNELS.get(module)
  if mod is None:
    try:
      mod = importlib.import_module(f"prepro_core._src.host.kernels.{module}")
    except ImportError:
      mod = False
    _KERNELS[module] = mod
  if accelerator == "numba" and not mod:
    raise ImportError(
        f"{where}: ACCELERATOR='numba' needs numba; pip install "
        f"'prepro[fast]'.")
  return mod or None


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
    ref = weakref.ref(arr, lambda _, k=key: _CACHE.pop(k, None))
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


# ---------------------------------------------------------------------------
# Turning user input into flat lists of str.
# ---------------------------------------------------------------------------


class FlatStrings(NamedTuple):
  """User strings flattened: ``tokens`` (list of str) in row-major order."""
  tokens: list
  shape: Optional[tuple]          # None for ragged rows
  row_lengths: Optional[np.ndarray]  # (rows,) int64 for rank-2 input, else None


def _type_error(where: str, argname: str, what: str) -> TypeError:
  return TypeError(
      f"{where}: `{argname}` must hold strings (str or bytes: a str, a NumPy "
      f"array of str_/bytes_, or lists nested up to rank 2), got {what}. "
      f"For integer ids use integer_lookup.")


def _decode_all(items: list, encoding: str, where: str, argname: str,
                positions=None) -> list:
  """Decodes bytes items with ``encoding``; a clear error on invalid bytes.

  ``positions[i]`` is item i's index in the caller's input (default: i),
  the element number the error message gives.
  """
  try:
    return list(map(operator.methodcaller("decode", encoding), items))
  except UnicodeDecodeError:
    for i, b in enumerate(items):  # error path only: find the culprit
      try:
        b.decode(encoding)
      except UnicodeDecodeError as e:
        at = i if positions is None else int(positions[i])
        raise ValueError(
            f"{where}: `{argname}` element {at} ({b[:40]!r}) is not valid "
            f"{encoding!r} ({e.reason} at byte {e.start}); fix the data or "
            f"pass the right `encoding`.") from None
    raise
  except LookupError:
    raise ValueError(f"{where}: unknown `encoding` {encoding!r}.") from None


def _normalise_items(items: list, encoding: str, where: str,
                     argname: str) -> list:
  """Checks every item is str or bytes and decodes the bytes ones."""
  kinds = set(map(type, items))
  if kinds <= {str}:
    return items
  if kinds <= {bytes}:
    return _decode_all(items, encoding, where, argname)
  if kinds <= {str, bytes, np.str_, np.bytes_}:
    is_bytes = list(map(isinstance, items, [bytes] * len(items)))
    out = list(items)
    idx = [i for i, b in enumerate(is_bytes) if b]
    decoded = _decode_all([items[i] for i in idx], encoding, where, argname,
                          positions=idx)
    for i, s in zip(idx, decoded):
      out[i] = s
    return list(map(str, out))
  bad = next(k for k in kinds if k not in (str, bytes, np.str_, np.bytes_))
  raise _type_error(where, argname, f"an element of type {bad.__name__}")


def flatten(x: Any,
            encoding: str = "utf-8",
            *,
            where: str = "strings",
            argname: str = "inputs",
            allow_ragged: bool = False) -> FlatStrings:
  """Flattens user strings into a list of ``str``.

  Args:
    x: a ``str``/``bytes``, a NumPy array of ``str_``/``bytes_``/object
      strings (any rank), or a list/tuple of strings, or of rows of strings
      (rank 2).
    encoding: how bytes are decoded; invalid bytes raise ``ValueError``.
    where: the caller's name for error messages.
    argname: the argument's name for error messages.
    allow_ragged: accept rank-2 lists whose rows differ in length (documents
      for adapt); the result then has ``shape=None`` and ``row_lengths``.

  Returns:
    A :class:`FlatStrings`.

  Raises:
    TypeError: numbers, or anything that is not strings.
    ValueError: bytes that are not valid in ``encoding``, lists nested deeper
      than rank 2, ragged rows when not allowed.
  """
  if isinstance(x, str):
    return FlatStrings([x], (), None)
  if isinstance(x, bytes):
    return FlatStrings(_decode_all([x], encoding, where, argname), (), None)
  if isinstance(x, np.ndarray):
    return _flatten_array(x, encoding, where, argname)
  if isinstance(x, (list, tuple)):
    if not x:
      return FlatStrings([], (0,), None)
    if all(isinstance(r, (list, tuple, np.ndarray)) for r in x):
      rows = [list(r.tolist() if isinstance(r, np.ndarray) else r) for r in x]
      lengths = np.fromiter(map(len, rows), np.int64, count=len(rows))
      items = [t for r in rows for t in r]
      if any(isinstance(t, (list, tuple, np.ndarray)) for t in items):
        raise ValueError(f"{where}: `{argname}` is nested deeper than rank 2; "
                         f"pass lists of strings or lists of rows of strings.")
      tokens = _normalise_items(items, encoding, where, argname)
      ragged = lengths.size and np.any(lengths != lengths[0])
      if ragged and not allow_ragged:
        raise ValueError(
            f"{where}: the rows of `{argname}` have different lengths "
            f"({sorted(set(lengths.tolist()))[:5]}...); pad them to one "
            f"length (with the mask token) first.")
      shape = None if ragged else (len(rows), int(lengths[0]) if rows else 0)
      return FlatStrings(tokens, shape, lengths)
    if any(isinstance(r, (list, tuple, np.ndarray)) for r in x):
      raise ValueError(f"{where}: `{argname}` mixes strings and rows; pass a "
                       f"flat list of strings or a list of rows.")
    return FlatStrings(_normalise_items(list(x), encoding, where, argname),
                       (len(x),), None)
  if hasattr(x, "__array__") or isinstance(x, (int, float, np.number)):
    arr = np.asarray(x)
    if arr.dtype.kind in "biufc":
      raise _type_error(where, argname, f"numbers of dtype {arr.dtype}")
    return _flatten_array(arr, encoding, where, argname)
  raise _type_error(where, argname, f"{type(x).__name__}")


def _flatten_array(x: np.ndarray, encoding: str, where: str,
                   argname: str) -> FlatStrings:
  kind = x.dtype.kind
  shape = tuple(x.shape)
  lengths = np.full(shape[0], shape[1], np.int64) if x.ndim == 2 else None
  if kind == "U":
    return FlatStrings(x.ravel().tolist(), shape, lengths)
  if kind == "S":
    return FlatStrings(
        _decode_all(x.ravel().tolist(), encoding, where, argname), shape,
        lengths)
  if kind == "O":
    return FlatStrings(
        _normalise_items(x.ravel().tolist(), encoding, where, argname), shape,
        lengths)
  if kind == "T":  # NumPy's variable-width StringDType
    return FlatStrings(list(map(str, x.ravel().tolist())), shape, lengths)
  raise _type_error(where, argname, f"an array of dtype {x.dtype}")


def as_str_list(values: Any, encoding: str, where: str,
                argname: str) -> list:
  """A 1-D vocabulary (list, tuple or array of strings) as a list of str."""
  flat = flatten(values, encoding, where=where, argname=argname)
  if flat.shape is None or len(flat.shape) != 1:
    raise ValueError(f"{where}: `{argname}` must be 1-D, got shape "
                     f"{flat.shape}.")
  return flat.tokens


# ---------------------------------------------------------------------------
# Turning user input into one UTF-8 byte buffer (no Python str per string).
# ---------------------------------------------------------------------------


class TokenBatch(NamedTuple):
  """User strings as :class:`~prepro_core._src.text.Tokens` plus a shape.

  ``tokens.row_splits`` delimit documents as Keras' lookups count them for
  tf-idf: one per string for rank 0/1 input, one per row along axis 0
  otherwise (ragged rows included).
  """
  tokens: Any                    # text.Tokens, strings in row-major order
  shape: Optional[tuple]         # None for ragged rows
  row_lengths: Optional[np.ndarray]  # (rows,) int64 for rank >= 2, else None


def to_tokens(x: Any,
              encoding: str = "utf-8",
              *,
              where: str = "strings",
              argname: str = "inputs",
              allow_ragged: bool = False) -> TokenBatch:
  """Lays user strings out as UTF-8 bytes in one buffer, vectorised.

  Takes what :func:`flatten` takes. NumPy ``str_``/``bytes_`` arrays never
  become Python strings: their characters are narrowed into a byte matrix
  in one cast (only rows holding non-ASCII characters are encoded one by
  one); lists are joined and encoded in one C call.

  Returns:
    A :class:`TokenBatch`.

  Raises:
    TypeError: numbers, or anything that is not strings.
    ValueError: bytes that are not valid in ``encoding``, strings that
      cannot be encoded as UTF-8, lists nested deeper than rank 2, ragged
      rows when not allowed.
  """
  from prepro_core._src.host import text  # pylint: disable=g-import-not-at-top
  if isinstance(x, (str, bytes)):
    buf, starts, ends = _pack_items([x], encoding, where, argname)
    return TokenBatch(text.Tokens(buf, starts, ends, np.array([0, 1])), (),
                      None)
  if not isinstance(x, (np.ndarray, list, tuple)) and (
      hasattr(x, "__array__") or isinstance(x, (int, float, np.number))):
    x = np.asarray(x)
    if x.dtype.kind in "biufc":
      raise _type_error(where, argname, f"numbers of dtype {x.dtype}")
  if isinstance(x, np.ndarray):
    shape = tuple(x.shape)
    if x.dtype.kind in "US" and (x.dtype.kind == "U" or
                                 _ascii_compatible(encoding)):
      buf, starts, ends = pack_fixed(x.reshape(-1), encoding, where, argname,
                                     fast=text.accel)
    elif x.dtype.kind in "USOT":
      items = x.reshape(-1).tolist()
      if x.dtype.kind == "T":
        items = list(map(str, items))
      buf, starts, ends = _pack_items(items, encoding, where, argname)
    else:
      raise _type_error(where, argname, f"an array of dtype {x.dtype}")
    row_lengths = None
    if len(shape) >= 2:
      row_lengths = np.full(shape[0], len(starts) // max(shape[0], 1),
                            np.int64)
    return TokenBatch(
        text.Tokens(buf, starts, ends, _row_splits(shape, row_lengths,
                                                   len(starts))), shape,
        row_lengths)
  if isinstance(x, (list, tuple)):
    if not x:
      return TokenBatch(
          text.Tokens(np.zeros(8, np.uint8), np.zeros(0, np.int64),
                      np.zeros(0, np.int64), np.zeros(1, np.int64)), (0,),
          None)
    if all(isinstance(r, (list, tuple, np.ndarray)) for r in x):
      rows = [list(r.tolist() if isinstance(r, np.ndarray) else r) for r in x]
      lengths = np.fromiter(map(len, rows), np.int64, count=len(rows))
      items = [t for r in rows for t in r]
      if any(isinstance(t, (list, tuple, np.ndarray)) for t in items):
        raise ValueError(f"{where}: `{argname}` is nested deeper than rank 2; "
                         f"pass lists of strings or lists of rows of strings.")
      ragged = bool(lengths.size and np.any(lengths != lengths[0]))
      if ragged and not allow_ragged:
        raise ValueError(
            f"{where}: the rows of `{argname}` have different lengths "
            f"({sorted(set(lengths.tolist()))[:5]}...); pad them to one "
            f"length (with the mask token) first.")
      shape = None if ragged else (len(rows), int(lengths[0]))
      buf, starts, ends = _pack_items(items, encoding, where, argname)
      row_splits = np.zeros(len(rows) + 1, np.int64)
      np.cumsum(lengths, out=row_splits[1:])
      return TokenBatch(text.Tokens(buf, starts, ends, row_splits), shape,
                        lengths)
    if any(isinstance(r, (list, tuple, np.ndarray)) for r in x):
      raise ValueError(f"{where}: `{argname}` mixes strings and rows; pass a "
                       f"flat list of strings or a list of rows.")
    buf, starts, ends = _pack_items(list(x), encoding, where, argname)
    return TokenBatch(
        text.Tokens(buf, starts, ends, np.arange(len(x) + 1, dtype=np.int64)),
        (len(x),), None)
  raise _type_error(where, argname, f"{type(x).__name__}")


def _row_splits(shape: tuple, row_lengths, n: int) -> np.ndarray:
  if row_lengths is not None:
    splits = np.zeros(len(row_lengths) + 1, np.int64)
    np.cumsum(row_lengths, out=splits[1:])
    return splits
  if len(shape) == 0:
    return np.array([0, n], np.int64)
  return np.arange(n + 1, dtype=np.int64)


@functools.lru_cache(maxsize=32)
def _ascii_compatible(encoding: str) -> bool:
  """Whether ``encoding`` decodes bytes 0-127 as ASCII (utf-8, latin-1...)."""
  try:
    return bytes(range(128)).decode(encoding) == "".join(map(chr, range(128)))
  except (UnicodeDecodeError, LookupError):
    return False


def _encode_error(e: UnicodeEncodeError, where: str,
                  argname: str) -> ValueError:
  return ValueError(
      f"{where}: `{argname}` holds a string that cannot be encoded as "
      f"UTF-8 ({e.reason}), e.g. a lone surrogate.")


def _is_utf8(encoding: str) -> bool:
  return encoding.lower().replace("-", "").replace("_", "") == "utf8"


_SLACK = 8  # zero bytes after the last string: word reads stay in the buffer


def _pack_items(items: list, encoding: str, where: str, argname: str):
  """Packs a flat list of str/bytes: ``(buf, starts, ends)``.

  One NUL-separated join and one encode for the whole list; the NULs'
  positions give the string boundaries (lists whose strings hold NULs
  themselves are measured string by string).
  """
  n = len(items)
  kinds = set(map(type, items))
  if kinds <= {bytes} and _is_utf8(encoding):
    data = b"\0".join([*items, *([b""] * (_SLACK + 1))])
    try:
      data.decode("utf-8")  # validates every string (NULs keep them apart)
    except UnicodeDecodeError:
      _decode_all(items, encoding, where, argname)  # names the element
      raise
  else:
    if not kinds <= {str}:
      items = _normalise_items(items, encoding, where, argname)
    try:
      data = "\0".join([*items, *([""] * (_SLACK + 1))]).encode("utf-8")
    except UnicodeEncodeError as e:
      raise _encode_error(e, where, argname) from None
  buf = np.frombuffer(data, np.uint8)
  seps = np.flatnonzero(buf == 0)
  if len(seps) == n + _SLACK:
    ends = seps[:n]
    starts = np.zeros(n, np.int64)
    starts[1:] = ends[:-1] + 1
  else:
    sizes = np.array([len(t) if isinstance(t, bytes) else len(
        t.encode("utf-8")) for t in items], np.int64)
    starts = np.zeros(n, np.int64)
    np.cumsum(sizes[:-1] + 1, out=starts[1:])
    ends = starts + sizes
  return buf, starts.astype(np.int64), ends.astype(np.int64)


def _non_ascii_rows(chars: np.ndarray) -> np.ndarray:
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


def pack_fixed(flat: np.ndarray, encoding: str = "utf-8",
               where: str = "strings", argname: str = "inputs", *,
               raw: bool = False, fast: Optional[Callable[[], Any]] = None,
               encode_error: Optional[Callable[[UnicodeEncodeError],
                                               Exception]] = None):
  """Packs a 1-D ``str_``/``bytes_`` array: ``(buf, starts, ends)``.

  The characters are cast into an (n, w8) byte matrix (w rounded up to a
  multiple of 8, keeping 8-byte loads aligned), followed by ``_SLACK`` zero
  bytes; ``str_`` rows with non-ASCII characters are UTF-8 encoded one by
  one and appended after the matrix. ``bytes_`` rows are kept as given with
  ``raw`` (hashing: TF hashes bytes as they are, invalid UTF-8 included);
  otherwise their non-ASCII rows are validated against ``encoding`` and,
  unless it is UTF-8, transcoded (appended like ``str_`` rows).

  Args:
    flat: the 1-D array.
    encoding, where, argname: how ``bytes_`` rows are decoded, and the names
      error messages give.
    raw: keep ``bytes_`` rows as they are (no validation).
    fast: called once the array is known non-empty, it gives the text_numba
      kernels (``str_`` rows encoded by ``pack_ucs4``) or None.
    encode_error: the exception to raise for a ``str_`` row UTF-8 cannot
      encode (a lone surrogate); default: a ValueError naming ``argname``.
  """
  n = flat.size
  unicode = flat.dtype.kind == "U"
  w = flat.dtype.itemsize // 4 if unicode else flat.dtype.itemsize
  if n == 0 or w == 0:
    return (np.zeros(_SLACK, np.uint8), np.zeros(n, np.int64),
            np.zeros(n, np.int64))
  flat = np.ascontiguousarray(flat)
  chars = flat.view(np.uint32 if unicode else np.uint8).reshape(n, w)
  fast = fast() if fast is not None else None
  extra = []
  if unicode:
    try:
      if fast is not None:
        buf, starts, ends, bad_row = fast.pack_ucs4(chars)
        if bad_row < 0:
          return buf, starts, ends
        flat[bad_row].encode("utf-8")
      bad = _non_ascii_rows(chars)
      extra = [s.encode("utf-8") for s in flat[bad].tolist()]
    except UnicodeEncodeError as e:
      raise (encode_error(e) if encode_error else
             _encode_error(e, where, argname)) from None
  else:
    bad = np.zeros(0, np.int64) if raw else _non_ascii_rows(chars)
    if bad.size:
      decoded = _decode_all(flat[bad].tolist(), encoding, where, argname,
                            positions=bad)  # validates
      if not _is_utf8(encoding):
        extra = [s.encode("utf-8") for s in decoded]
      else:
        bad = np.zeros(0, np.int64)  # valid UTF-8 already: keep the bytes
  w8 = -(-w // 8) * 8
  blob = b"".join(extra)
  main = n * w8
  buf = np.empty(main + len(blob) + _SLACK, np.uint8)
  mat = buf[:main].reshape(n, w8)
  mat[:, w:] = 0
  np.copyto(mat[:, :w], chars, casting="unsafe")
  buf[main:main + len(blob)] = np.frombuffer(blob, np.uint8)
  buf[main + len(blob):] = 0
  starts = np.arange(0, main, w8, dtype=np.int64)
  lens = np.strings.str_len(flat).astype(np.int64)
  if bad.size:
    sizes = np.fromiter(map(len, extra), np.int64, len(extra))
    starts[bad] = main + np.cumsum(sizes) - sizes
    lens[bad] = sizes
  return buf, starts, starts + lens


# ---------------------------------------------------------------------------
# Vocabulary files.
# ---------------------------------------------------------------------------


def read_vocabulary_file(path: str, encoding: str = "utf-8", *,
                         where: str = "vocabulary",
                         argname: str = "vocabulary") -> list:
  """One token per line (``\\n`` or ``\\r\\n``); a final newline is optional.

  Raises:
    ValueError: the file is missing, empty, or not valid in ``encoding``.
  """
  if not os.path.isfile(path):
    raise ValueError(f"{where}: `{argname}` file {path!r} does not exist.")
  with open(path, "rb") as f:
    raw = f.read()
  try:
    text = raw.decode(encoding)
  except UnicodeDecodeError as e:
    line = raw[:e.start].count(b"\n") + 1
    raise ValueError(
        f"{where}: `{argname}` file {path!r} is not valid {encoding!r} at "
        f"line {line} ({e.reason}); pass the right `encoding`.") from None
  except LookupError:
    raise ValueError(f"{where}: unknown `encoding` {encoding!r}.") from None
  lines = text.split("\n")
  if lines and lines[-1] == "":
    lines.pop()
  lines = [l[:-1] if l.endswith("\r") else l for l in lines]
  if not lines:
    raise ValueError(f"{where}: `{argname}` file {path!r} is empty; it must "
                     f"hold one token per line.")
  return lines


def save_vocabulary(state: Any, path: str, encoding: str = "utf-8") -> None:
  """Writes a lookup's vocabulary (``pc.get_vocabulary``) one token per line.

  The file loads back with ``vocabulary=path``: the mask/OOV prefix it starts
  with is recognised and stripped, as Keras does for a list vocabulary.

  Args:
    state: the state of integer_lookup, string_lookup or text_vectorization.
    path: the file to write (overwritten).
    encoding: the text encoding of the file.

  Raises:
    ValueError: a token contains a line break, so the file could not be read
      back line by line.
  """
  from prepro_core._src.lookup.table import get_vocabulary
  vocab = [str(t) for t in get_vocabulary(state)]
  bad = [t for t in vocab if "\n" in t or "\r" in t]
  if bad:
    raise ValueError(
        f"save_vocabulary: token {bad[0]!r} contains a line break; a "
        f"one-token-per-line file cannot hold it. Save the state with "
        f"np.savez or flax.serialization instead.")
  with open(path, "w", encoding=encoding, newline="\n") as f:
    f.write("\n".join(vocab))
    f.write("\n")
