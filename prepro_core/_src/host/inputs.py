"""The one way user input becomes strings on the host: the input rules.

Every host-side transform (string_lookup, text_vectorization, hashing) turns
what users pass into packed strings here, under one set of rules and one
error wording:

* Accepted: a ``str`` or ``bytes`` scalar (rank 0); NumPy ``str_``,
  ``bytes_``, object (of ``str``/``bytes``) and ``StringDType`` arrays of any
  rank; other array-likes that convert to those; lists and tuples of
  strings (rank 1) or of rows of strings (rank 2; ragged rows only where
  documents are expected, ``allow_ragged``); a
  :class:`~prepro_core._src.host.packed.StringBatch` (rank 1, read as it is
  packed). ``str`` and ``bytes`` may mix (``np.str_``/``np.bytes_`` count as
  ``str``/``bytes``).
* ``str`` is UTF-8 encoded; ``bytes`` are decoded with ``encoding`` (with a
  UTF-8 encoding only validated), or, with ``raw=True`` (hashing: TF hashes
  bytes as given), kept as they are.
* Rejected: numbers (``TypeError``, naming the argument and the dtype),
  elements that are not strings (``TypeError``), bytes not valid in
  ``encoding`` and strings UTF-8 cannot encode, e.g. a lone surrogate
  (``ValueError``, naming the element), ragged rows where not allowed,
  lists nested deeper than rank 2 and lists mixing strings and rows
  (``ValueError``).

Errors read "`where`: `argname` ...", ``where`` being the caller.

Public functions: :func:`pack_strings` (``pc.pack_strings``: a 1-D batch
as a StringBatch), :func:`to_tokens` (input to
:class:`~prepro_core._src.host.packed.Tokens` plus shape, the general
path), :func:`pack_for_hash` (the same, as hashing's ``(buf, offsets,
lengths, shape)``), :func:`as_strings` and :func:`vocabulary_list` (input
to a list of ``str``, for vocabularies and special tokens),
:func:`encode_documents` / :func:`encode_apart` (documents into one
buffer, for the tokenizer) and :func:`as_text_array` (documents as a NumPy
array, for text_vectorization's callables). The fast paths: a list is
packed by one join and one encode, a ``str_``/``bytes_`` array by one
narrowing cast (only non-ASCII rows are encoded one by one).
"""

from __future__ import annotations

import codecs
import functools
import operator
from typing import Any, Sequence

import numpy as np

from prepro_core._src.host.kernels import backend
from prepro_core._src.host.packed import (FlatStrings, SLACK, StringBatch,
                                          TokenBatch, Tokens, byte_matrix,
                                          non_ascii_rows, nul_offsets,
                                          nul_terminated, trusted_batch,
                                          with_slack)

SEP = 32  # the byte that separates documents (and ngram parts) in buffers
_STRING_TYPES = (str, bytes, np.str_, np.bytes_)


def is_utf8(encoding: str) -> bool:
  """Whether ``encoding`` names UTF-8 (``"utf-8"``, ``"UTF8"``, ``"utf_8"``)."""
  return encoding.lower().replace("-", "").replace("_", "") == "utf8"


def type_error(where: str, argname: str, what: str,
               hint: str = "For integer ids use integer_lookup.") -> TypeError:
  """The error for input that is not strings; ``what`` says what it was."""
  return TypeError(
      f"{where}: `{argname}` must hold strings (str or bytes: a str, a NumPy "
      f"array of str_/bytes_, or lists of them), got {what}. {hint}")


def element_type_error(items: Sequence, where: str,
                       argname: str) -> TypeError:
  """The error for the first item of ``items`` that is not a string, by its
  position (flattened, C order). Error path only: one scan to find it."""
  at, bad = next(((i, t) for i, t in enumerate(items)
                  if not isinstance(t, (str, bytes))), (None, None))
  if at is None:  # every item is a string after all
    return type_error(where, argname, "no strings")
  if bad is None:
    return type_error(
        where, argname, f"None at element {at}",
        "Fill in missing values first (e.g. with \"\" or the mask token), or "
        "give the lookup missing='oov'.")
  if _is_row(bad):
    return type_error(where, argname, f"a nested sequence at element {at}",
                      "Pass a flat list of strings or a list of rows.")
  return type_error(where, argname, f"an element of type "
                    f"{type(bad).__name__} at element {at} ({bad!r:.40})")


def encode_error(e: UnicodeEncodeError, where: str, argname: str,
                 at: int | None = None) -> ValueError:
  """The error for a string UTF-8 cannot encode (element ``at``, if known)."""
  which = "holds a string" if at is None else f"element {at} is a string"
  return ValueError(
      f"{where}: `{argname}` {which} that cannot be encoded as UTF-8 "
      f"({e.reason}), e.g. a lone surrogate; clean the text first.")


def decode_items(items: list, encoding: str, where: str, argname: str,
                 positions=None) -> list:
  """Decodes bytes items with ``encoding``; a clear error on invalid bytes.

  ``positions[i]`` is item i's index in the caller's input (default: i),
  the element number the error message gives.

  Raises:
    ValueError: bytes not valid in ``encoding``, or an unknown encoding.
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
            f"{where}: `{argname}` element {at} is not valid {encoding} "
            f"({e.reason} at byte {e.start} of {b[:40]!r}); text that is "
            f"not valid {encoding!r} needs fixing, or the right "
            f"`encoding`.") from None
    raise
  except LookupError:
    raise ValueError(f"{where}: unknown `encoding` {encoding!r}.") from None


def check_items(items: list, encoding: str, where: str,
                argname: str) -> list:
  """Checks every item is str or bytes and decodes the bytes ones: a list of
  ``str``.

  Raises:
    TypeError: an item that is not a string.
    ValueError: bytes not valid in ``encoding``.
  """
  kinds = set(map(type, items))
  if kinds <= {str}:
    return items
  if kinds <= {bytes}:
    return decode_items(items, encoding, where, argname)
  if all(issubclass(k, (str, bytes)) for k in kinds):
    is_bytes = list(map(isinstance, items, [bytes] * len(items)))
    out = list(items)
    idx = [i for i, b in enumerate(is_bytes) if b]
    decoded = decode_items([items[i] for i in idx], encoding, where, argname,
                           positions=idx)
    for i, s in zip(idx, decoded):
      out[i] = s
    return list(map(str, out))
  raise element_type_error(items, where, argname)


def _too_deep(where: str, argname: str) -> ValueError:
  return ValueError(f"{where}: `{argname}` is nested deeper than rank 2; "
                    f"pass lists of strings or lists of rows of strings (or a "
                    f"NumPy array for higher ranks).")


def _rows_of(x: Any, where: str, argname: str, allow_ragged: bool):
  """A list of rows: ``(items, lengths, shape)``."""
  rows = [list(r.tolist() if isinstance(r, np.ndarray) else r) for r in x]
  lengths = np.fromiter(map(len, rows), np.int64, count=len(rows))
  items = [t for r in rows for t in r]
  if any(map(_is_row, items)):
    raise _too_deep(where, argname)
  ragged = bool(lengths.size and np.any(lengths != lengths[0]))
  if ragged and not allow_ragged:
    raise ValueError(
        f"{where}: the rows of `{argname}` have different lengths "
        f"({sorted(set(lengths.tolist()))[:5]}...); pad them to one "
        f"length (with the mask token) first.")
  shape = None if ragged else (len(rows), int(lengths[0]))
  return items, lengths, shape


def _mixed_rows(where: str, argname: str) -> ValueError:
  return ValueError(f"{where}: `{argname}` mixes strings and rows; pass a "
                    f"flat list of strings or a list of rows.")


def _is_row(r) -> bool:
  return isinstance(r, (list, tuple, np.ndarray))


def _row_kinds(x: list) -> tuple[bool, bool]:
  """Whether every item of ``x`` is a row, and whether any is: one pass
  over the items' types in C (no Python call per item)."""
  kinds = set(map(type, x))
  rows = {k for k in kinds if issubclass(k, (list, tuple, np.ndarray))}
  return rows == kinds, bool(rows)


def _as_array(x: Any, where: str, argname: str) -> np.ndarray | None:
  """An array-like (not a list, str or bytes) as an array of strings; None
  for anything else. Numbers raise."""
  if isinstance(x, np.ndarray):
    arr = x
  elif hasattr(x, "__array__") or isinstance(x, (int, float, np.number)):
    arr = np.asarray(x)
  else:
    return None
  if arr.dtype.kind in "biufc":
    raise type_error(where, argname, f"numbers of dtype {arr.dtype}")
  if arr.dtype.kind not in "USOT":
    raise type_error(where, argname, f"an array of dtype {arr.dtype}")
  return arr


def as_strings(x: Any,
               encoding: str = "utf-8",
               *,
               where: str = "strings",
               argname: str = "inputs",
               allow_ragged: bool = False) -> FlatStrings:
  """User strings as a flat list of ``str`` plus their shape.

  Args:
    x: strings, as the module's input rules accept them.
    encoding: how bytes are decoded; invalid bytes raise ``ValueError``.
    where: the caller's name for error messages.
    argname: the argument's name for error messages.
    allow_ragged: accept rank-2 lists whose rows differ in length (documents
      for adapt); the result then has ``shape=None`` and ``row_lengths``.

  Returns:
    A :class:`~prepro_core._src.host.packed.FlatStrings`.

  Raises:
    TypeError, ValueError: see the module's input rules.
  """
  if isinstance(x, str):
    return FlatStrings([x], (), None)
  if isinstance(x, bytes):
    return FlatStrings(decode_items([x], encoding, where, argname), (), None)
  if isinstance(x, StringBatch):
    return FlatStrings(x.tolist(), (len(x),), None)
  if isinstance(x, (list, tuple)):
    if not x:
      return FlatStrings([], (0,), None)
    all_rows, any_rows = _row_kinds(x)
    if all_rows:
      items, lengths, shape = _rows_of(x, where, argname, allow_ragged)
      return FlatStrings(check_items(items, encoding, where, argname), shape,
                         lengths)
    if any_rows:
      raise _mixed_rows(where, argname)
    return FlatStrings(check_items(list(x), encoding, where, argname),
                       (len(x),), None)
  arr = _as_array(x, where, argname)
  if arr is None:
    raise type_error(where, argname, f"{type(x).__name__}")
  shape = tuple(arr.shape)
  lengths = np.full(shape[0], shape[1], np.int64) if arr.ndim == 2 else None
  items = arr.ravel().tolist()
  if arr.dtype.kind == "T":  # NumPy's variable-width StringDType
    items = list(map(str, items))
  elif arr.dtype.kind != "U":
    items = check_items(items, encoding, where, argname)
  return FlatStrings(items, shape, lengths)


def pack_strings(strings: Any, encoding: str = "utf-8") -> StringBatch:
  """A 1-D batch of strings packed once into a :class:`StringBatch`.

  What ``pc.grain.batch`` does to a text column, for other loaders: the
  host text transforms then read the packed bytes on every call instead of
  joining and encoding Python strings.

  Args:
    strings: a list or tuple of ``str``/``bytes``, a 1-D NumPy ``str_``,
      ``bytes_`` or object array of them, or a StringBatch (returned as is).
    encoding: how ``bytes`` are decoded (they are stored as UTF-8).

  Returns:
    A :class:`StringBatch`.

  Raises:
    TypeError: ``strings`` is not strings (numbers, other objects), or
      ``encoding`` is not a str.
    ValueError: ``strings`` is not 1-D, holds bytes not valid in
      ``encoding`` or a string UTF-8 cannot encode (a lone surrogate).
  """
  where, argname = "pc.pack_strings", "strings"
  if isinstance(strings, StringBatch):
    return strings
  if not isinstance(encoding, str):
    raise TypeError(f"{where}: `encoding` must be a str, got "
                    f"{type(encoding).__name__}.")
  try:
    codecs.lookup(encoding)
  except LookupError:
    raise ValueError(f"{where}: `encoding` {encoding!r} is not an encoding "
                     f"Python knows.") from None
  if type(strings) is list:  # pylint: disable=unidiomatic-typecheck
    try:  # the usual case, all str: one join, one encode
      return nul_terminated(strings)
    except (TypeError, UnicodeEncodeError):
      pass  # named below
  if isinstance(strings, (str, bytes)):
    raise ValueError(f"{where}: `{argname}` must be 1-D (a list or array of "
                     f"strings), got one {type(strings).__name__}; wrap it "
                     f"in a list.")
  flat = as_strings(strings, encoding, where=where, argname=argname)
  if flat.shape is None or len(flat.shape) != 1:
    raise ValueError(f"{where}: `{argname}` must be 1-D, got shape "
                     f"{flat.shape}.")
  try:
    return nul_terminated(flat.tokens)
  except UnicodeEncodeError as e:
    raise encode_error(e, where, argname) from None


def take_strings(batch: StringBatch, indices: np.ndarray) -> StringBatch:
  """The strings of ``batch`` at ``indices`` (ints in ``[0, len(batch))``),
  gathered by the host kernels: a shuffled pipeline's batch of a packed
  column."""
  idx = np.asarray(indices, np.int64)
  fast = backend.kernels("text", rows=len(idx))
  return trusted_batch(*fast.take_strings(batch.data, batch.offsets, idx))


def vocabulary_list(values: Any, encoding: str, where: str,
                    argname: str) -> list:
  """A 1-D vocabulary (list, tuple or array of strings) as a list of str.

  Raises:
    ValueError: ``values`` is not 1-D (and the input rules' errors).
  """
  flat = as_strings(values, encoding, where=where, argname=argname)
  if flat.shape is None or len(flat.shape) != 1:
    raise ValueError(f"{where}: `{argname}` must be 1-D, got shape "
                     f"{flat.shape}.")
  return flat.tokens


def to_tokens(x: Any,
              encoding: str = "utf-8",
              *,
              where: str = "strings",
              argname: str = "inputs",
              allow_ragged: bool = False,
              raw: bool = False) -> TokenBatch:
  """User strings as UTF-8 bytes in one buffer, plus their shape.

  NumPy ``str_``/``bytes_`` arrays never become Python strings: their
  characters are narrowed into a byte matrix in one cast (only rows holding
  non-ASCII characters are encoded one by one); lists are joined and
  encoded in one C call.

  Args:
    x: strings, as the module's input rules accept them.
    encoding: how bytes are decoded (validated; transcoded to UTF-8 unless
      it is UTF-8).
    where: the caller's name for error messages.
    argname: the argument's name for error messages.
    allow_ragged: accept rank-2 lists whose rows differ in length.
    raw: keep bytes as they are (no validation): how TF hashes bytes.

  Returns:
    A :class:`~prepro_core._src.host.packed.TokenBatch`; its
    ``tokens.buf`` ends with at least 8 zero bytes.

  Raises:
    TypeError, ValueError: see the module's input rules.
  """
  if isinstance(x, (str, bytes)):
    buf, starts, ends = pack_items([x], encoding, where, argname, raw=raw)
    return TokenBatch(Tokens(buf, starts, ends, np.array([0, 1])), (), None)
  if isinstance(x, StringBatch):  # packed already: its bytes as they are
    n = len(x)
    tokens = with_slack(Tokens(x.data, x.offsets[:-1], x.offsets[1:] - 1,
                               np.arange(n + 1, dtype=np.int64)))
    return TokenBatch(tokens, (n,), None)
  if isinstance(x, (list, tuple)):
    if not x:
      return TokenBatch(
          Tokens(np.zeros(SLACK, np.uint8), np.zeros(0, np.int64),
                 np.zeros(0, np.int64), np.zeros(1, np.int64)), (0,), None)
    if _is_row(x[0]):
      if not _row_kinds(x)[0]:
        raise _mixed_rows(where, argname)
      items, lengths, shape = _rows_of(x, where, argname, allow_ragged)
      buf, starts, ends = pack_items(items, encoding, where, argname, raw=raw)
      row_splits = np.zeros(len(lengths) + 1, np.int64)
      np.cumsum(lengths, out=row_splits[1:])
      return TokenBatch(Tokens(buf, starts, ends, row_splits), shape, lengths)
    try:  # a flat list: no scan of its items unless packing fails
      buf, starts, ends = pack_items(
          x if isinstance(x, list) else list(x), encoding, where, argname,
          raw=raw)
    except TypeError:
      if _row_kinds(x)[1]:
        raise _mixed_rows(where, argname) from None
      raise
    return TokenBatch(
        Tokens(buf, starts, ends, np.arange(len(x) + 1, dtype=np.int64)),
        (len(x),), None)
  arr = _as_array(x, where, argname)
  if arr is None:
    raise type_error(where, argname, f"{type(x).__name__}")
  shape = tuple(arr.shape)
  if arr.dtype.kind in "US" and (arr.dtype.kind == "U" or raw or
                                 _ascii_compatible(encoding)):
    buf, starts, ends = pack_fixed(arr.reshape(-1), encoding, where, argname,
                                   raw=raw)
  else:
    items = arr.reshape(-1).tolist()
    if arr.dtype.kind == "T":
      items = list(map(str, items))
    buf, starts, ends = pack_items(items, encoding, where, argname, raw=raw)
  row_lengths = None
  if len(shape) >= 2:
    row_lengths = np.full(shape[0], len(starts) // max(shape[0], 1), np.int64)
  return TokenBatch(
      Tokens(buf, starts, ends, _row_splits(shape, row_lengths, len(starts))),
      shape, row_lengths)


def pack_for_hash(x: Any, *, where: str = "hash",
                  argname: str = "inputs") -> tuple:
  """Strings as hashing reads them: ``(buf, offsets, lengths, shape)``.

  :func:`to_tokens` with ``raw=True`` (``bytes`` hashed as given, invalid
  UTF-8 included): a uint8 buffer followed by at least 8 zero bytes, the
  int64 offsets and lengths of the strings (flattened, C order), and the
  input's shape.
  """
  tb = to_tokens(x, where=where, argname=argname, raw=True)
  t = tb.tokens
  return t.buf, t.starts, t.ends - t.starts, tb.shape


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


def _join_bytes(items: list, kinds: set, encoding: str, where: str,
                argname: str, raw: bool) -> bytes | None:
  """The NUL-separated UTF-8 of a list holding bytes (None: join as str)."""
  if raw and kinds <= {bytes}:  # hashed as given: no validation
    return b"\0".join([*items, *([b""] * (SLACK + 1))])
  if raw and not kinds <= {str, np.str_}:
    if not kinds <= set(_STRING_TYPES):
      check_items(items, encoding, where, argname)  # names the bad type
    try:
      parts = [t if isinstance(t, bytes) else t.encode("utf-8") for t in items]
    except UnicodeEncodeError as e:
      raise encode_error(e, where, argname) from None
    return b"\0".join([*parts, *([b""] * (SLACK + 1))])
  if kinds <= {bytes} and is_utf8(encoding):
    data = b"\0".join([*items, *([b""] * (SLACK + 1))])
    try:
      data.decode("utf-8")  # validates every string (NULs keep them apart)
    except UnicodeDecodeError:
      decode_items(items, encoding, where, argname)  # names the element
      raise
    return data
  return None


def pack_items(items: list, encoding: str = "utf-8", where: str = "strings",
               argname: str = "inputs", *, raw: bool = False):
  """Packs a flat list of str/bytes: ``(buf, starts, ends)``.

  One NUL-separated join and one encode for the whole list; the NULs'
  positions give the string boundaries (lists whose strings hold NULs
  themselves are measured string by string). 8 zero bytes follow.
  """
  n = len(items)
  try:
    text = "\0".join(items) if n else None  # all str: one C pass, no scan
  except TypeError:
    text = None
  if text is not None:
    try:
      data = (text + "\0" * (SLACK + 1)).encode("utf-8")
    except UnicodeEncodeError as e:
      raise encode_error(e, where, argname) from None
  elif n == 0:
    data = b"\0" * SLACK
  else:
    kinds = set(map(type, items))
    data = _join_bytes(items, kinds, encoding, where, argname, raw)
    if data is None:
      items = check_items(items, encoding, where, argname)
      try:
        data = "\0".join([*items, *([""] * (SLACK + 1))]).encode("utf-8")
      except UnicodeEncodeError as e:
        raise encode_error(e, where, argname) from None
  buf = np.frombuffer(data, np.uint8)
  seps = np.flatnonzero(buf == 0)
  if len(seps) == n + SLACK:
    ends = seps[:n]
    starts = np.zeros(n, np.int64)
    starts[1:] = ends[:-1] + 1
  else:
    sizes = np.array([len(t) if isinstance(t, bytes) else len(
        t.encode("utf-8")) for t in items], np.int64)
    starts = np.zeros(n, np.int64)
    np.cumsum(sizes[:-1] + 1, out=starts[1:])
    ends = starts + sizes
  return (buf, starts.astype(np.int64, copy=False),
          ends.astype(np.int64, copy=False))


def pack_fixed(flat: np.ndarray, encoding: str = "utf-8",
               where: str = "strings", argname: str = "inputs", *,
               raw: bool = False):
  """Packs a 1-D ``str_``/``bytes_`` array: ``(buf, starts, ends)``.

  ``str_`` rows are UTF-8 encoded by the host kernels' ``pack_ucs4``.
  ``bytes_`` rows are cast into an (n, w8) byte matrix (w rounded up to a
  multiple of 8, keeping 8-byte loads aligned); they are kept as given with
  ``raw``, else their non-ASCII rows are validated against ``encoding`` and,
  unless it is UTF-8, transcoded (appended after the matrix). 8 zero bytes
  follow.
  """
  n = flat.size
  unicode = flat.dtype.kind == "U"
  w = flat.dtype.itemsize // 4 if unicode else flat.dtype.itemsize
  if n == 0 or w == 0:
    return (np.zeros(SLACK, np.uint8), np.zeros(n, np.int64),
            np.zeros(n, np.int64))
  flat = np.ascontiguousarray(flat)
  chars = flat.view(np.uint32 if unicode else np.uint8).reshape(n, w)
  if unicode:
    buf, starts, ends, bad_row = backend.kernels("text", rows=n).pack_ucs4(
        chars)
    if bad_row >= 0:
      try:
        str(flat[bad_row]).encode("utf-8")
      except UnicodeEncodeError as e:
        raise encode_error(e, where, argname, at=int(bad_row)) from None
      raise ValueError(f"{where}: `{argname}` element {bad_row} holds a code "
                       f"point beyond U+10FFFF.")
    return buf, starts, ends
  bad = np.zeros(0, np.int64) if raw else non_ascii_rows(chars)
  extra = []
  if bad.size:
    decoded = decode_items(flat[bad].tolist(), encoding, where, argname,
                           positions=bad)  # validates
    if not is_utf8(encoding):
      extra = [s.encode("utf-8") for s in decoded]
    else:
      bad = np.zeros(0, np.int64)  # valid UTF-8 already: keep the bytes
  buf, starts, main = byte_matrix(chars, extra)
  lens = np.strings.str_len(flat).astype(np.int64)
  if bad.size:
    sizes = np.fromiter(map(len, extra), np.int64, len(extra))
    starts[bad] = main + np.cumsum(sizes) - sizes
    lens[bad] = sizes
  return buf, starts, starts + lens


def encode_documents(docs: Sequence, encoding: str = "utf-8",
                     argname: str = "inputs",
                     where: str = "text") -> tuple[np.ndarray, np.ndarray]:
  """Encodes documents into one UTF-8 buffer, each followed by one space.

  Args:
    docs: a flat list of ``str`` or ``bytes`` (bytes are decoded with
      ``encoding``; with a UTF-8 encoding they are only validated).
    encoding: the encoding of ``bytes`` documents.

  Returns:
    ``(buf, doc_starts)``: ``buf`` is a ``uint8`` array; document ``d`` is
    ``buf[doc_starts[d]:doc_starts[d + 1] - 1]`` and
    ``buf[doc_starts[d + 1] - 1]`` is the separating space. ``doc_starts``
    has ``len(docs) + 1`` entries.

  Raises:
    ValueError: on bytes that are not valid in ``encoding`` or strings that
      cannot be encoded as UTF-8 (lone surrogates).
  """
  n = len(docs)
  if n == 0:
    return np.zeros(0, np.uint8), np.zeros(1, np.int64)
  if is_utf8(encoding) and set(map(type, docs)) == {bytes}:
    data = b"\0".join([*docs, b""])
    try:
      data.decode("utf-8")  # one C pass; NULs keep documents apart
    except UnicodeDecodeError:
      decode_items(docs, "utf-8", where, argname)  # names the element
      raise
  else:
    if set(map(type, docs)) != {str}:
      docs = check_items(docs, encoding, where, argname)
    try:
      data = "\0".join([*docs, ""]).encode("utf-8")
    except UnicodeEncodeError as e:
      raise encode_error(e, where, argname) from None
  buf = np.frombuffer(data, np.uint8).copy()
  doc_starts = nul_offsets(buf, docs)
  buf[doc_starts[1:] - 1] = SEP
  return buf, doc_starts


def decode_documents(buf: np.ndarray, doc_starts: np.ndarray) -> list:
  """The inverse of :func:`encode_documents`: a list of ``str``."""
  data = buf.tobytes()
  ds = doc_starts.tolist()
  return [data[ds[i]:ds[i + 1] - 1].decode("utf-8") for i in range(len(ds) - 1)]


def encode_apart(docs: Sequence, encoding: str, argname: str, where: str):
  """``(buf, begins, ends)``: UTF-8 of every document, document ``d`` being
  ``buf[begins[d]:ends[d]]`` (in order, with nothing between documents).

  A list of ``str`` is encoded one document at a time and the bytes joined:
  the lengths come from the encoded pieces, so no pass looks for
  separators, and one non-ASCII document never widens a joined ``str``
  (which would slow the encode of the whole batch)."""
  n = len(docs)
  if n == 0 or set(map(type, docs)) != {str}:
    buf, doc_starts = encode_documents(docs, encoding, argname, where)
    return buf, doc_starts[:-1], doc_starts[1:] - 1
  try:
    pieces = list(map(str.encode, docs))
  except UnicodeEncodeError as e:
    raise encode_error(e, where, argname) from None
  ends = np.cumsum(np.fromiter(map(len, pieces), np.int64, n))
  begins = np.empty(n, np.int64)
  begins[0] = 0
  begins[1:] = ends[:-1]
  return np.frombuffer(b"".join(pieces), np.uint8), begins, ends


def as_text_array(x: Any, argname: str, where: str) -> np.ndarray:
  """Validates that ``x`` holds text and returns it as a NumPy array.

  Accepts a ``str``/``bytes`` scalar, (nested) lists or tuples of them, and
  NumPy ``str``/``bytes``/object arrays. The result has dtype ``str``,
  ``bytes`` or object (of ``str``/``bytes``).

  Raises:
    TypeError: when ``x`` holds numbers or other non-text values.
  """
  if isinstance(x, (str, bytes)):
    return np.array(x, dtype=object)
  if isinstance(x, StringBatch):
    return np.array(x.tolist(), dtype=object)
  if isinstance(x, np.ndarray):
    arr = x
  elif isinstance(x, (list, tuple)):
    try:
      arr = np.array(x, dtype=object)
    except ValueError as e:  # ragged nesting
      raise ValueError(
          f"{where}: `{argname}` must be a rectangular (non-ragged) batch of "
          f"strings; got {_describe(x)}.") from e
  else:
    kind = type(x).__name__
    if hasattr(x, "dtype"):
      kind = f"{kind} of dtype {x.dtype}"
    raise TypeError(
        f"{where}: `{argname}` must be text (str or bytes, a list of them, or "
        f"a NumPy str/bytes array); got {kind}. Convert numbers to strings "
        f"first, or use integer_lookup/hashing for integer inputs.")
  if arr.dtype.kind in "US":
    return arr
  if arr.dtype.kind == "O":
    flat = arr.ravel().tolist()
    types = set(map(type, flat))
    # Subclasses count too: np.str_ / np.bytes_ come out of NumPy arrays.
    bad = [t for t in types if not issubclass(t, (str, bytes))]
    if not bad:
      return arr
    if any(issubclass(t, (list, tuple, np.ndarray)) for t in bad):
      raise ValueError(
          f"{where}: `{argname}` must be a rectangular batch of strings of "
          f"rank 0, 1 or 2, got ragged or nested lists ({_describe(x)}); "
          f"pad the rows to one length first.")
    raise element_type_error(flat, where, argname)
  raise TypeError(
      f"{where}: `{argname}` must be text (str or bytes); got an array of "
      f"dtype {arr.dtype}. Convert numbers to strings first, or use "
      f"integer_lookup/hashing for integer inputs.")


def _describe(x: Any) -> str:
  return f"a {type(x).__name__} of length {len(x)}" if hasattr(
      x, "__len__") else type(x).__name__
