"""Host-side text processing: standardize, split and ngrams, vectorised.

Everything here runs on the host in NumPy, over one UTF-8 byte buffer per
batch, never with a Python loop per token:

* a batch of documents is encoded into one ``uint8`` buffer, documents
  separated by one space (:func:`encode_documents`);
* lowering and punctuation stripping are byte-wise table operations
  (:func:`standardize_buffer`);
* splitting finds token boundaries with array comparisons
  (:func:`split_buffer`), giving a :class:`Tokens`: the buffer plus each
  token's ``[start, end)`` and each document's first token (``row_splits``);
* ngrams are slices of a buffer where tokens are joined by exactly one space
  (:func:`ngrams`);
* :func:`group_tokens` gives every token an exact integer group id: tokens of
  up to 7 bytes pack into one ``uint64`` (their bytes and length, injective);
  longer ones are hashed and then checked word by word against their group's
  representative, falling back to an exact byte sort if two ever collide.

The defaults reproduce Keras' ``TextVectorization`` (which runs TensorFlow
string ops) byte for byte: ``"lower"`` lowers the 26 ASCII letters only,
``"strip_punctuation"`` removes exactly the 32 ASCII punctuation characters,
``"whitespace"`` splits on the 6 ASCII whitespace characters
(space, ``\\t \\n \\v \\f \\r``), and ``"character"`` splits into Unicode
code points. The ``*_unicode`` standardize modes are an option beyond Keras:
full Unicode lowering (Python's ``str.lower``) and removal of every character
in a Unicode punctuation category (``P*``) on top of the 32 ASCII ones.
"""

from __future__ import annotations

import functools
import itertools
import os
import unicodedata
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from prepro_core._src.host import strings

ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'
ASCII_WHITESPACE = " \t\n\x0b\x0c\r"

STANDARDIZE_MODES = (
    "lower_and_strip_punctuation",
    "lower",
    "strip_punctuation",
    "lower_and_strip_punctuation_unicode",
    "lower_unicode",
    "strip_punctuation_unicode",
)
SPLIT_MODES = ("whitespace", "character")

_PUNCT_TABLE = np.zeros(256, dtype=bool)
_PUNCT_TABLE[np.frombuffer(ASCII_PUNCTUATION.encode(), np.uint8)] = True
_SPACE_TABLE = np.zeros(256, dtype=bool)
_SPACE_TABLE[np.frombuffer(ASCII_WHITESPACE.encode(), np.uint8)] = True
_SEP = 32  # the byte that separates documents (and ngram parts) in buffers

# Which kernels run the hot loops: "auto" uses the numba ones
# (prepro_core/_src/text_numba.py) when numba is installed
# (``pip install 'prepro[fast]'``) and NumPy's otherwise; "numpy" and "numba"
# force one. Both give the same results.
ACCELERATOR = "auto"


def accel():
  """The numba kernels module, or None to use the NumPy code."""
  return strings.kernels(ACCELERATOR, "numba_text", "text")


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


# ---------------------------------------------------------------------------
# Input: str/bytes in any nesting -> a flat list of documents + shape.
# ---------------------------------------------------------------------------


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
    types = set(map(type, arr.ravel().tolist()))
    # Subclasses count too: np.str_ / np.bytes_ come out of NumPy arrays.
    bad = sorted(t.__name__ for t in types if not issubclass(t, (str, bytes)))
    if not bad:
      return arr
    raise TypeError(
        f"{where}: `{argname}` must hold only str or bytes; found values of "
        f"type {', '.join(bad)}. Convert them to strings first.")
  raise TypeError(
      f"{where}: `{argname}` must be text (str or bytes); got an array of "
      f"dtype {arr.dtype}. Convert numbers to strings first, or use "
      f"integer_lookup/hashing for integer inputs.")


def _describe(x: Any) -> str:
  return f"a {type(x).__name__} of length {len(x)}" if hasattr(
      x, "__len__") else type(x).__name__


def to_str_list(docs: list, encoding: str, argname: str, where: str) -> list:
  """Decodes the ``bytes`` among ``docs`` with ``encoding``."""
  out = []
  for i, d in enumerate(docs):
    if isinstance(d, bytes):
      try:
        d = d.decode(encoding)
      except UnicodeDecodeError as e:
        raise ValueError(
            f"{where}: `{argname}` element {i} is not valid {encoding} "
            f"({e.reason} at byte {e.start}): {d[:40]!r}. Pass "
            f"`encoding=` matching your data, or decode it first.") from None
    out.append(d)
  return out


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
  if _is_utf8(encoding) and set(map(type, docs)) == {bytes}:
    data = b"\0".join([*docs, b""])
    try:
      data.decode("utf-8")  # one C pass; NULs keep documents apart
    except UnicodeDecodeError:
      to_str_list(docs, "utf-8", argname, where)  # names the element
      raise
  else:
    if set(map(type, docs)) != {str}:
      docs = to_str_list(docs, encoding, argname, where)
    try:
      data = "\0".join([*docs, ""]).encode("utf-8")
    except UnicodeEncodeError as e:
      raise ValueError(
          f"{where}: `{argname}` holds a string that cannot be encoded as "
          f"UTF-8 ({e.reason}).") from None
  buf = np.frombuffer(data, np.uint8).copy()
  doc_starts = np.zeros(n + 1, np.int64)
  # The NUL after each document gives its end in bytes (no per-document
  # encode); documents holding NULs themselves are measured one by one.
  seps = np.flatnonzero(buf == 0)
  if len(seps) == n:
    doc_starts[1:] = seps + 1
  else:
    sizes = [len(d) if isinstance(d, bytes) else len(d.encode("utf-8"))
             for d in docs]
    np.cumsum(np.asarray(sizes, np.int64) + 1, out=doc_starts[1:])
    seps = doc_starts[1:] - 1
  buf[seps] = _SEP
  return buf, doc_starts


def _is_utf8(encoding: str) -> bool:
  return encoding.lower().replace("-", "").replace("_", "") in ("utf8",)


def decode_documents(buf: np.ndarray, doc_starts: np.ndarray) -> list:
  """The inverse of :func:`encode_documents`: a list of ``str``."""
  data = buf.tobytes()
  ds = doc_starts.tolist()
  return [data[ds[i]:ds[i + 1] - 1].decode("utf-8") for i in range(len(ds) - 1)]


# ---------------------------------------------------------------------------
# Standardize.
# ---------------------------------------------------------------------------


def lower_ascii(buf: np.ndarray) -> np.ndarray:
  """Lowers ``A-Z`` only, like ``tf.strings.lower`` without an encoding."""
  # uint8 wraps, so (b - 65) < 26 selects exactly 65..90.
  return buf + ((buf - np.uint8(65)) < 26).view(np.uint8) * np.uint8(32)


def remove_bytes(buf: np.ndarray, doc_starts: np.ndarray,
                 drop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Removes the bytes where ``drop`` is True, keeping documents apart."""
  where = np.flatnonzero(drop)
  if not len(where):
    return buf, doc_starts
  removed = np.searchsorted(where, doc_starts)  # dropped bytes before each
  return buf[~drop], doc_starts - removed


def is_ascii_punctuation(buf: np.ndarray) -> np.ndarray:
  """The 32 ASCII punctuation bytes: 33-47, 58-64, 91-96, 123-126."""
  u9 = np.uint8
  return (((buf - u9(33)) < 15) | ((buf - u9(58)) < 7) | ((buf - u9(91)) < 6)
          | ((buf - u9(123)) < 4))


def standardize_buffer(buf: np.ndarray, doc_starts: np.ndarray,
                       mode: str) -> tuple[np.ndarray, np.ndarray]:
  """Applies a built-in standardize ``mode`` to an encoded batch.

  ``*_unicode`` modes expect the Unicode lowering to have been done on the
  strings already (see :func:`standardize_strings`); here they add the
  removal of non-ASCII punctuation.
  """
  if mode in ("lower", "lower_and_strip_punctuation"):
    buf = lower_ascii(buf)
  if "strip_punctuation" in mode:
    drop = is_ascii_punctuation(buf)
    if mode.endswith("_unicode"):
      drop |= _unicode_punctuation_bytes(buf)
    buf, doc_starts = remove_bytes(buf, doc_starts, drop)
  return buf, doc_starts


def standardize_strings(docs: list, mode: str) -> list:
  """String-level part of the ``*_unicode`` modes: full Unicode lowering."""
  if mode in ("lower_unicode", "lower_and_strip_punctuation_unicode"):
    return [d.lower() for d in docs]
  return docs


@functools.lru_cache(maxsize=1)
def _unicode_punctuation_table() -> np.ndarray:
  # Built once, on first use of a *_unicode mode (~0.3 s).
  table = np.zeros(0x110000, dtype=bool)
  for cp in range(0x80, 0x110000):
    if unicodedata.category(chr(cp)).startswith("P"):
      table[cp] = True
  return table


def _unicode_punctuation_bytes(buf: np.ndarray) -> np.ndarray:
  """Marks every byte of the non-ASCII punctuation characters in ``buf``."""
  drop = np.zeros(len(buf), dtype=bool)
  lead = np.flatnonzero(buf >= 0xC0)
  if not len(lead):
    return drop
  b0 = buf[lead].astype(np.int64)
  padded = np.concatenate([buf, np.zeros(3, np.uint8)]).astype(np.int64)
  b1, b2, b3 = (padded[lead + k] & 0x3F for k in (1, 2, 3))
  width = np.where(b0 >= 0xF0, 4, np.where(b0 >= 0xE0, 3, 2))
  cp = np.where(
      width == 2, ((b0 & 0x1F) << 6) | b1,
      np.where(width == 3, ((b0 & 0x0F) << 12) | (b1 << 6) | b2,
               ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3))
  hit = _unicode_punctuation_table()[np.minimum(cp, 0x10FFFF)]
  lead, width = lead[hit], width[hit]
  idx = np.repeat(lead, width) + _ramp(width)
  drop[idx] = True
  return drop


def _ramp(lengths: np.ndarray) -> np.ndarray:
  """``concatenate([arange(n) for n in lengths])``, vectorised."""
  lengths = np.asarray(lengths, np.int64)
  total = int(lengths.sum())
  if total == 0:
    return np.zeros(0, np.int64)
  firsts = np.zeros(len(lengths), np.int64)
  np.cumsum(lengths[:-1], out=firsts[1:])
  return np.arange(total, dtype=np.int64) - np.repeat(firsts, lengths)


# ---------------------------------------------------------------------------
# Split.
# ---------------------------------------------------------------------------


def is_ascii_space(buf: np.ndarray) -> np.ndarray:
  """space, \\t, \\n, \\v, \\f, \\r (bytes 32 and 9..13)."""
  return (buf == 32) | ((buf - np.uint8(9)) < 5)


def split_whitespace(buf: np.ndarray, doc_starts: np.ndarray) -> Tokens:
  """Splits on runs of ASCII whitespace, like ``tf.strings.split(x)``."""
  space = is_ascii_space(buf)
  # Every document ends with a separator space, so each token ends before a
  # space and the token boundaries are the edges of `space`.
  edge = space[1:] != space[:-1]
  starts = np.flatnonzero(edge & space[:-1]) + 1
  ends = np.flatnonzero(edge & ~space[:-1]) + 1
  if len(buf) and not space[0]:
    starts = np.concatenate([[0], starts])
  row_splits = np.searchsorted(starts, doc_starts).astype(np.int64)
  return Tokens(buf, starts.astype(np.int64), ends.astype(np.int64),
                row_splits)


def tokenize_whitespace(docs: Sequence, mode, encoding: str = "utf-8",
                        argname: str = "inputs",
                        where: str = "text") -> Tokens:
  """:func:`encode_documents`, :func:`standardize_buffer` (``mode`` None or
  an ASCII built-in mode) and :func:`split_whitespace`, fused when the
  accelerator is there: ASCII documents are joined apart from the others
  (a join of ASCII ``str`` encodes as a copy) and one kernel standardizes
  and splits them in document order."""
  fast = accel()
  if fast is None or (mode is not None and mode.endswith("_unicode")):
    buf, doc_starts = encode_documents(docs, encoding, argname, where)
    if mode is not None:
      buf, doc_starts = standardize_buffer(buf, doc_starts, mode)
    return split_whitespace(buf, doc_starts)
  lower = mode in ("lower", "lower_and_strip_punctuation")
  strip = mode in ("strip_punctuation", "lower_and_strip_punctuation")
  if len(docs) >= 2 * _CHUNK_DOCS:
    return _tokenize_pipelined(fast, docs, lower, strip, encoding, argname,
                               where)
  buf, begins, ends = _encode_apart(docs, encoding, argname, where)
  out, starts, tok_ends, row_splits = fast.tokenize_whitespace(
      buf, begins, ends, lower, strip)
  return Tokens(out, starts, tok_ends, row_splits)


def _tokenize_pipelined(fast, docs, lower, strip, encoding, argname, where):
  """The fused tokenize_whitespace of a large batch, cut into chunks: while
  a worker thread runs the kernels (which release the GIL) and the token
  keys on a chunk, this thread encodes the next. The chunks' outputs are
  laid end to end: the same Tokens (keys added) as one pass."""
  n = len(docs)
  k = max(1, n // _CHUNK_DOCS)
  bounds = [n * i // k for i in range(k + 1)]
  pool = _pool()

  def work(buf, begins, ends):
    out, starts, tok_ends, row_splits = fast.tokenize_whitespace(
        buf, begins, ends, lower, strip)
    return out, starts, tok_ends, row_splits, fast.keys(out, starts, tok_ends)

  jobs = []
  try:
    for lo, hi in zip(bounds[:-1], bounds[1:]):
      jobs.append(pool.submit(work, *_encode_apart(
          docs[lo:hi], encoding, argname, where)))
  finally:
    parts = [job.result() for job in jobs]  # always wait for the workers
  # Each chunk's buffer ends with 8 spare zero bytes: keep only the last.
  sizes = np.array([len(p[0]) - 8 for p in parts], np.int64)
  byte_base = np.concatenate([[0], np.cumsum(sizes)])
  counts = np.array([len(p[1]) for p in parts], np.int64)
  tok_base = np.concatenate([[0], np.cumsum(counts)])
  buf = np.concatenate([p[0][:-8] for p in parts] + [np.zeros(8, np.uint8)])
  starts = np.concatenate([p[1] + b for p, b in zip(parts, byte_base)])
  ends = np.concatenate([p[2] + b for p, b in zip(parts, byte_base)])
  row_splits = np.concatenate([p[3][:-1] + t for p, t in zip(parts, tok_base)]
                              + [tok_base[-1:]])
  keys = np.concatenate([p[4] for p in parts])
  return Tokens(buf, starts, ends, row_splits, keys)


def _encode_apart(docs: Sequence, encoding: str, argname: str, where: str):
  """``(buf, begins, ends)``: UTF-8 of every document, document ``d`` being
  ``buf[begins[d]:ends[d]]``; ASCII ``str`` documents first, then the rest."""
  n = len(docs)
  if n == 0 or set(map(type, docs)) != {str}:
    buf, doc_starts = encode_documents(docs, encoding, argname, where)
    return buf, doc_starts[:-1], doc_starts[1:] - 1
  text = "\0".join([*docs, ""])
  if text.isascii():  # O(1) in CPython: no per-document pass
    buf = np.frombuffer(text.encode("ascii"), np.uint8)
    seps = np.flatnonzero(buf == 0)
    if len(seps) == n:
      begins = np.empty(n, np.int64)
      begins[0] = 0
      begins[1:] = seps[:-1] + 1
      return buf, begins, seps
  del text
  ascii_doc = np.fromiter(map(str.isascii, docs), bool, n)
  if ascii_doc.all():
    order, parts = None, [docs]
  else:
    order = np.concatenate([np.flatnonzero(ascii_doc),
                            np.flatnonzero(~ascii_doc)])
    parts = [list(itertools.compress(docs, ascii_doc)),
             list(itertools.compress(docs, ~ascii_doc))]
  try:
    data = b"".join("\0".join([*p, ""]).encode("utf-8") for p in parts)
  except UnicodeEncodeError as e:
    raise ValueError(
        f"{where}: `{argname}` holds a string that cannot be encoded as "
        f"UTF-8 ({e.reason}).") from None
  buf = np.frombuffer(data, np.uint8)
  seps = np.flatnonzero(buf == 0)
  if len(seps) != n:  # documents holding NULs: measure them one by one
    sizes = np.array([len(d.encode("utf-8")) for d in (
        docs if order is None else [docs[i] for i in order.tolist()])],
                     np.int64)
    seps = np.cumsum(sizes + 1) - 1
  begins_sorted = np.empty(n, np.int64)
  begins_sorted[0] = 0
  begins_sorted[1:] = seps[:-1] + 1
  if order is None:
    return buf, begins_sorted, seps
  begins = np.empty(n, np.int64)
  ends = np.empty(n, np.int64)
  begins[order] = begins_sorted
  ends[order] = seps
  return buf, begins, ends


def split_characters(buf: np.ndarray, doc_starts: np.ndarray) -> Tokens:
  """Splits into Unicode code points, like ``tf.strings.unicode_split``."""
  is_start = (buf & 0xC0) != 0x80
  is_start[doc_starts[1:] - 1] = False  # the separators are not characters
  starts = np.flatnonzero(is_start).astype(np.int64)
  # A character ends where the next character or separator begins.
  boundary = np.sort(np.concatenate([starts, doc_starts[1:] - 1]))
  ends = boundary[np.searchsorted(boundary, starts, side="right")]
  row_splits = np.searchsorted(starts, doc_starts).astype(np.int64)
  return Tokens(buf, starts, ends, row_splits)


def no_split(buf: np.ndarray, doc_starts: np.ndarray) -> Tokens:
  """Each document is one token."""
  n = len(doc_starts) - 1
  return Tokens(buf, doc_starts[:-1].copy(), doc_starts[1:] - 1,
                np.arange(n + 1, dtype=np.int64))


def tokens_from_lists(rows: Sequence, encoding: str, argname: str,
                      where: str) -> Tokens:
  """Builds :class:`Tokens` from a list (one per document) of token lists."""
  lengths = np.fromiter((len(r) for r in rows), np.int64, len(rows))
  flat = [t for r in rows for t in (r.tolist() if isinstance(
      r, np.ndarray) else r)]
  for t in flat[:1]:
    if not isinstance(t, (str, bytes)):
      raise TypeError(
          f"{where}: `{argname}` must return strings; got "
          f"{type(t).__name__}.")
  buf, starts = encode_documents(flat, encoding, argname, where)
  row_splits = np.zeros(len(rows) + 1, np.int64)
  np.cumsum(lengths, out=row_splits[1:])
  return Tokens(buf, starts[:-1].copy(), starts[1:] - 1, row_splits)


def joined(tokens: Tokens) -> Tokens:
  """The same tokens re-laid so that each is followed by exactly one space.

  After this, consecutive tokens ``i..j`` of a document are the single slice
  ``buf[starts[i]:ends[j]]`` joined by spaces: what ngrams need.
  """
  lengths = tokens.ends - tokens.starts
  new_starts = np.zeros(len(lengths), np.int64)
  np.cumsum(lengths[:-1] + 1, out=new_starts[1:])
  src = np.repeat(tokens.starts - new_starts, lengths + 1) + np.arange(
      int(lengths.sum() + len(lengths)), dtype=np.int64)
  sep = np.zeros(len(src), dtype=bool)
  sep[new_starts + lengths] = True
  buf = np.where(sep, np.uint8(_SEP), tokens.buf[np.where(sep, 0, src)])
  return Tokens(buf, new_starts, new_starts + lengths, tokens.row_splits)


def ngrams(tokens: Tokens, widths: Sequence[int]) -> Tokens:
  """The ngrams of each document, like ``tf.strings.ngrams(x, widths, " ")``.

  For each document, all ngrams of ``widths[0]`` in order, then all of
  ``widths[1]``... A document shorter than a width gives none of that width.
  """
  widths = tuple(int(w) for w in widths)
  if widths == (1,):
    return tokens
  tokens = joined(tokens)
  rs = tokens.row_splits
  doc_len = np.diff(rs)
  n_docs = len(doc_len)
  per_width = [np.maximum(doc_len - w + 1, 0) for w in widths]
  out_len = np.sum(per_width, axis=0) if widths else np.zeros(n_docs, np.int64)
  out_rs = np.zeros(n_docs + 1, np.int64)
  np.cumsum(out_len, out=out_rs[1:])
  total = int(out_rs[-1])
  starts = np.empty(total, np.int64)
  ends = np.empty(total, np.int64)
  offset = out_rs[:-1].copy()  # where the current width's ngrams go, per doc
  for w, count in zip(widths, per_width):
    pos = _ramp(count)  # the ngram's index within its document
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), count)
    first = rs[:-1][doc] + pos  # index of the ngram's first token
    dst = offset[doc] + pos
    starts[dst] = tokens.starts[first]
    ends[dst] = tokens.ends[first + w - 1]
    offset += count
  return Tokens(tokens.buf, starts, ends, out_rs)


# ---------------------------------------------------------------------------
# Exact integer keys for tokens: counting and lookup without string compares.
# ---------------------------------------------------------------------------

_LONG = np.uint64(1 << 63)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
# _BYTE_MASK[n] keeps the first n bytes of a little-endian word.
_BYTE_MASK = np.array([0] + [(1 << (8 * n)) - 1 for n in range(1, 8)] +
                      [(1 << 64) - 1], dtype=np.uint64)
_LEN_TAG = np.arange(9, dtype=np.uint64) << np.uint64(56)


def _max_end(ends: np.ndarray) -> int:
  return int(ends.max()) if len(ends) else 0


class _Words:
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


def with_slack(tokens: Tokens) -> Tokens:
  """``tokens`` with 8 spare bytes after its last token (one copy at most),
  so that word reads need no further copies of the buffer."""
  if len(tokens.buf) >= _max_end(tokens.ends) + 8:
    return tokens
  return tokens._replace(
      buf=np.concatenate([tokens.buf, np.zeros(8, np.uint8)]))


def _mix(h: np.ndarray) -> np.ndarray:
  h = (h ^ (h >> np.uint64(30))) * _M2
  h = (h ^ (h >> np.uint64(27))) * _M3
  return h ^ (h >> np.uint64(31))


def token_keys(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               reader: _Words | None = None) -> np.ndarray:
  """A ``uint64`` key per token; equal tokens have equal keys.

  Tokens of at most 7 bytes get their bytes plus ``length << 56``, which is
  injective. Longer tokens get a 63-bit hash with the top bit set, which
  :func:`group_tokens` and lookups confirm byte for byte.
  """
  with np.errstate(over="ignore"):
    length = ends - starts
    if reader is None:
      reader = _Words(buf, _max_end(ends))
    short = np.minimum(length, 8)
    keys = reader.u64[starts]
    keys &= _BYTE_MASK[short]
    keys |= _LEN_TAG[short]
    long_idx = np.flatnonzero(length > 7)
    if len(long_idx):
      keys[long_idx] = _long_hash(reader, starts[long_idx], length[long_idx])
  return keys


def _long_hash(reader: _Words, starts: np.ndarray,
               length: np.ndarray) -> np.ndarray:
  h = _mix(length.astype(np.uint64) * _M1)
  idx = np.arange(len(starts))
  for k in range(0, int(length.max()), 8):
    if k:
      idx = idx[length[idx] > k]
    w = reader.at(starts[idx] + k, length[idx] - k)
    h[idx] = _mix((h[idx] ^ w) * _M1 + np.uint64(k + 1))
  return h | _LONG


def _same_bytes(buf_a: np.ndarray, starts_a: np.ndarray, buf_b: np.ndarray,
                starts_b: np.ndarray, length: np.ndarray,
                ra: _Words | None = None,
                rb: _Words | None = None) -> np.ndarray:
  """Whether ``buf_a[sa:sa+L] == buf_b[sb:sb+L]`` for each row, by words."""
  with np.errstate(over="ignore"):
    ra = ra or _Words(buf_a, _max_end(starts_a + length))
    rb = rb or _Words(buf_b, _max_end(starts_b + length))
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


def group_tokens(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 keys: np.ndarray | None = None,
                 reader: _Words | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
  """Exact grouping of equal tokens.

  Args:
    buf, starts, ends: the tokens (``buf[starts[i]:ends[i]]``).
    keys: their :func:`token_keys`, when already computed.
    reader: a ``_Words`` over ``buf``, when already made.

  Returns:
    ``(first, inverse)``: ``first[g]`` is the index of one token of group
    ``g``, and ``inverse[i]`` is token ``i``'s group. Groups are numbered in
    the order of their keys (not of the tokens' bytes).
  """
  n = len(starts)
  if n == 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  reader = reader or _Words(buf, _max_end(ends))
  if keys is None:
    keys = token_keys(buf, starts, ends, reader)
  first, inverse = _group_keys(keys)
  length = ends - starts
  long_idx = np.flatnonzero(length > 7)
  if len(long_idx):
    rep = first[inverse[long_idx]]
    ok = length[rep] == length[long_idx]
    ok[ok] = _same_bytes(buf, starts[long_idx[ok]], buf, starts[rep[ok]],
                         length[long_idx[ok]], reader, reader)
    if not ok.all():  # a 63-bit hash collision: regroup exactly
      return _group_exact(buf, starts, ends)
  return first, inverse


def _group_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  order = np.argsort(keys)
  sorted_keys = keys[order]
  new = np.empty(len(keys), dtype=bool)
  new[0] = True
  np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
  gid = np.cumsum(new) - 1
  inverse = np.empty(len(keys), np.int64)
  inverse[order] = gid
  return order[new], inverse


def _group_exact(buf: np.ndarray, starts: np.ndarray,
                 ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Slow exact fallback (only after a hash collision): sorts the bytes."""
  data = buf.tobytes()
  toks = np.empty(len(starts), dtype=object)
  toks[:] = [data[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
  _, first, inverse = np.unique(toks, return_index=True, return_inverse=True)
  return first.astype(np.int64), inverse.astype(np.int64).ravel()


def bytes_rank(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
  """Rank of each of distinct byte strings in bytewise ascending order.

  String ``i`` is ``data[offsets[i]:offsets[i + 1]]``; the order is that of
  Python ``bytes`` (unsigned bytes, a prefix first), which is how Keras
  (NumPy over TensorFlow's byte strings) breaks count ties. Vectorised:
  strings are sorted by their first 8 bytes (as a big-endian word), then
  only the ones still tied are refined by their next 8 bytes, and so on;
  ties of equal zero-padded bytes go to the shorter string.

  Returns:
    ``(n,)`` int64: a permutation of ``range(n)``.
  """
  offsets = np.asarray(offsets, np.int64)
  n = len(offsets) - 1
  if n <= 0:
    return np.zeros(0, np.int64)
  starts, length = offsets[:-1], np.diff(offsets)
  reader = _Words(data, int(offsets[-1]))
  # rank[i]: position in the final order of the first member of the group of
  # strings tied with i so far (so singletons already hold their rank).
  rank = np.zeros(n, np.int64)
  active = np.arange(n, dtype=np.int64)
  k = 0
  while len(active):
    rem = length[active] - k
    last = not (rem > 0).any()
    if last:  # equal up to zero padding: the shorter one first
      key = length[active].astype(np.uint64)
    else:
      pos = starts[active] + np.minimum(k, length[active])
      key = reader.at(pos, np.maximum(rem, 0)).byteswap()
    order = np.lexsort((key, rank[active]))
    a, r, kk = active[order], rank[active][order], key[order]
    m = len(a)
    same_r = r[1:] == r[:-1]
    new_group = np.ones(m, dtype=bool)
    new_group[1:] = ~same_r | (kk[1:] != kk[:-1])
    new_r = np.ones(m, dtype=bool)
    new_r[1:] = ~same_r
    pos_m = np.arange(m, dtype=np.int64)
    group_first = np.maximum.accumulate(np.where(new_group, pos_m, 0))
    r_first = np.maximum.accumulate(np.where(new_r, pos_m, 0))
    rank[a] = r + (group_first - r_first)
    if last:
      break  # distinct strings: every group is a singleton now
    gid = np.cumsum(new_group) - 1
    active = a[np.bincount(gid)[gid] > 1]
    k += 8
  return rank


# ---------------------------------------------------------------------------
# A hash table from token keys to ids, for fast exact lookups.
# ---------------------------------------------------------------------------


class TokenTable(NamedTuple):
  """An open-addressing hash table from tokens to vocabulary positions.

  Built for a vocabulary laid out as one byte buffer (token ``i`` is
  ``data[offsets[i]:offsets[i + 1]]``, e.g. a ``PackedStrings``), which is
  kept outside the table. A slot holds a token key and the token's position
  (-1: empty). NumPy arrays only, so it saves with the rest of a state.
  """
  slot_keys: np.ndarray  # (2**bits,) uint64
  slot_ids: np.ndarray  # (2**bits,) int32; -1 for an empty slot


def _slot_of(keys: np.ndarray, bits: int) -> np.ndarray:
  with np.errstate(over="ignore"):
    return ((keys * _M1) >> np.uint64(64 - bits)).astype(np.int64)


def build_table(data: np.ndarray, offsets: np.ndarray) -> TokenTable:
  """A :class:`TokenTable` for the distinct tokens laid out in ``data``."""
  data = np.asarray(data, np.uint8)
  offsets = np.asarray(offsets, np.int64)
  n = len(offsets) - 1
  bits = max(4, int(np.ceil(np.log2(max(n, 1) * 2 + 1))))  # load < 1/2
  size = 1 << bits
  slot_keys = np.zeros(size, np.uint64)
  slot_ids = np.full(size, -1, np.int32)
  keys = token_keys(data, offsets[:-1], offsets[1:])
  pending = np.arange(n, dtype=np.int64)
  slot = _slot_of(keys, bits)
  while len(pending):
    # Per empty target slot, place the first pending token aiming at it; the
    # others probe on (linear probing), as lookups will.
    target = slot[pending]
    free = slot_ids[target] == -1
    uniq, first = np.unique(target[free], return_index=True)
    placed = pending[free][first]
    slot_keys[uniq] = keys[placed]
    slot_ids[uniq] = placed
    done = np.zeros(n, dtype=bool)
    done[placed] = True
    pending = pending[~done[pending]]
    slot[pending] = (slot[pending] + 1) & (size - 1)
  return TokenTable(slot_keys, slot_ids)


def table_lookup(table: TokenTable, data: np.ndarray, offsets: np.ndarray,
                 tokens: Tokens, keys: np.ndarray | None = None) -> np.ndarray:
  """Vocabulary position of each token, or -1 when it is not there.

  ``data``/``offsets`` must be the vocabulary the table was built from;
  ``keys`` the tokens' :func:`token_keys` when already computed.
  """
  n = len(tokens.starts)
  if n == 0 or len(offsets) < 2:
    return np.full(n, -1, np.int64)
  fast = accel()
  if fast is not None:
    return _fast_lookup(fast, table, data, offsets, tokens, 0, -2, 0, -1)
  tokens = with_slack(tokens)
  reader = _Words(tokens.buf, _max_end(tokens.ends))
  size = len(table.slot_keys)
  bits = size.bit_length() - 1
  if keys is None:
    keys = tokens.keys
  if keys is None:
    keys = token_keys(tokens.buf, tokens.starts, tokens.ends, reader)
  slot = _slot_of(keys, bits)
  # First probe for every token at once; only the few tokens whose home slot
  # holds another key probe on.
  ids = table.slot_ids[slot]
  hit = table.slot_keys[slot] == keys
  out = np.where(hit, ids, -1).astype(np.int64)
  pending = np.flatnonzero(~hit & (ids >= 0))
  while len(pending):
    slot[pending] = (slot[pending] + 1) & (size - 1)
    s = slot[pending]
    ids = table.slot_ids[s]
    hit = (table.slot_keys[s] == keys[pending]) & (ids >= 0)
    out[pending[hit]] = ids[hit]
    pending = pending[~hit & (ids >= 0)]
  # Long keys are hashes: confirm the bytes of every long match.
  length = tokens.ends - tokens.starts
  chk = np.flatnonzero((length > 7) & (out >= 0))
  if len(chk):
    vid = out[chk]
    vlen = offsets[vid + 1] - offsets[vid]
    ok = vlen == length[chk]
    ok[ok] = _same_bytes(tokens.buf, tokens.starts[chk[ok]], data,
                         offsets[vid[ok]], length[chk[ok]], ra=reader)
    if not ok.all():
      # A hash collision with a vocabulary token; find the true match, if any.
      bad = chk[~ok]
      out[bad] = _exact_lookup(data, offsets, tokens, bad)
  return out


def _fast_lookup(fast, table, data, offsets, tokens, id_offset, mask_pos,
                 mask_id, unknown_id):
  keys = tokens.keys
  if keys is None:  # a separate pass: faster than keys inside the probe loop
    keys = fast.keys(np.ascontiguousarray(tokens.buf, np.uint8),
                     np.asarray(tokens.starts, np.int64),
                     np.asarray(tokens.ends, np.int64))
  return fast.lookup(table.slot_keys, table.slot_ids,
                     np.ascontiguousarray(data, np.uint8),
                     np.asarray(offsets, np.int64),
                     np.ascontiguousarray(tokens.buf, np.uint8),
                     np.asarray(tokens.starts, np.int64),
                     np.asarray(tokens.ends, np.int64), keys, id_offset,
                     mask_pos, mask_id, unknown_id)


def lookup_ids(table: TokenTable, data: np.ndarray, offsets: np.ndarray,
               tokens: Tokens, id_offset: int, mask_pos: int, mask_id: int,
               unknown_id: int) -> np.ndarray:
  """:func:`table_lookup` mapped to a lookup's ids in one pass: position
  ``p`` -> ``p + id_offset``, ``mask_pos`` -> ``mask_id``, absent ->
  ``unknown_id`` (int64)."""
  fast = accel()
  if fast is not None and len(tokens.starts) and len(offsets) >= 2:
    return _fast_lookup(fast, table, data, offsets, tokens, id_offset,
                        mask_pos, mask_id, unknown_id)
  pos = table_lookup(table, data, offsets, tokens)
  ids = pos + id_offset
  ids[pos == mask_pos] = mask_id
  ids[pos < 0] = unknown_id
  return ids


def _exact_lookup(data: np.ndarray, offsets: np.ndarray, tokens: Tokens,
                  which: np.ndarray) -> np.ndarray:
  blob = data.tobytes()
  off = offsets.tolist()
  index = {blob[off[i]:off[i + 1]]: i for i in range(len(off) - 1)}
  tb = tokens.buf.tobytes()
  return np.array([
      index.get(tb[tokens.starts[i]:tokens.ends[i]], -1)
      for i in which.tolist()], np.int64)


def count_distinct(tokens: Tokens, track_docs: bool,
                   doc_ids: np.ndarray | None = None):
  """Counts each distinct token (and the documents holding it).

  Args:
    tokens: the tokens; ``tokens.row_splits`` delimit the documents.
    track_docs: also count, per distinct token, the documents holding it.
    doc_ids: optional ``(num_tokens,)`` ints: each token's document, used
      instead of ``row_splits``.

  Returns:
    ``(data, offsets, counts, doc_counts)``: the distinct tokens laid out as
    one byte buffer, their occurrence counts, and (with ``track_docs``, else
    an empty array) the number of documents each occurs in.
  """
  n = len(tokens.starts)
  empty = np.zeros(0, np.int64)
  if n == 0:
    return np.zeros(0, np.uint8), np.zeros(1, np.int64), empty, empty
  fast = accel()
  if fast is not None and doc_ids is None and _rows_cover(tokens):
    out = _count_distinct_fast(fast, tokens, track_docs)
    if out is not None:
      return out
  tokens = with_slack(tokens)
  reader = _Words(tokens.buf, _max_end(tokens.ends))
  length = tokens.ends - tokens.starts
  keys = tokens.keys
  if keys is None:
    keys = token_keys(tokens.buf, tokens.starts, tokens.ends, reader)
  is_long = length > 7
  long_idx = np.flatnonzero(is_long)
  short_keys = keys[~is_long] if len(long_idx) else keys
  # Short tokens: the key holds the bytes, so sort-and-count the keys alone.
  skeys, scounts = np.unique(short_keys, return_counts=True)
  slen = (skeys >> np.uint64(56)).astype(np.int64)
  low = skeys & np.uint64((1 << 56) - 1)
  sbytes = low.astype("<u8").view(np.uint8)  # little-endian: bytes first
  sdata, soff = ragged_take(sbytes, np.arange(len(skeys)) * 8,
                            np.arange(len(skeys)) * 8 + slen)
  # Long tokens: group exactly (hash, then confirm bytes).
  lfirst, linv = group_tokens(tokens.buf, tokens.starts[long_idx],
                              tokens.ends[long_idx], keys[long_idx], reader)
  lcounts = np.bincount(linv, minlength=len(lfirst)).astype(np.int64)
  rep = long_idx[lfirst]
  ldata, loff = ragged_take(tokens.buf, tokens.starts[rep], tokens.ends[rep])
  data = np.concatenate([sdata, ldata])
  offsets = np.concatenate([soff, loff[1:] + soff[-1]])
  counts = np.concatenate([scounts.astype(np.int64), lcounts])
  doc_counts = empty
  if track_docs:
    group = np.empty(n, np.int64)
    group[~is_long] = np.searchsorted(skeys, short_keys)
    group[long_idx] = len(skeys) + linv
    u = len(counts)
    docs = tokens.doc_ids() if doc_ids is None else np.asarray(doc_ids,
                                                               np.int64)
    pairs = np.sort(docs * u + group)  # once per document:
    first = np.ones(len(pairs), bool)  # (np.unique would hash: slower)
    np.not_equal(pairs[1:], pairs[:-1], out=first[1:])
    doc_counts = np.bincount(pairs[first] % u, minlength=u).astype(np.int64)
  return data, offsets, counts, doc_counts


def _count_distinct_fast(fast, tokens: Tokens, track_docs: bool):
  """count_distinct with the accelerator's loops and NumPy's (SIMD) sort;
  the same output. None after a 63-bit hash collision (then NumPy's exact
  path runs)."""
  buf = np.ascontiguousarray(tokens.buf, np.uint8)
  starts = np.asarray(tokens.starts, np.int64)
  ends = np.asarray(tokens.ends, np.int64)
  keys = tokens.keys
  if keys is None:
    keys = fast.keys(buf, starts, ends)
  ukeys, counts = np.unique(keys, return_counts=True)
  n_short = int(np.searchsorted(ukeys, _LONG))
  rep, ok = fast.long_representatives(ukeys[n_short:], buf, starts, ends, keys)
  if not ok:
    return None
  skeys = ukeys[:n_short]
  slen = (skeys >> np.uint64(56)).astype(np.int64)
  sbytes = (skeys & np.uint64((1 << 56) - 1)).astype("<u8").view(np.uint8)
  at = np.arange(n_short, dtype=np.int64) * 8
  sdata, soff = ragged_take(sbytes, at, at + slen)
  ldata, loff = ragged_take(buf, starts[rep], ends[rep])
  data = np.concatenate([sdata, ldata])
  offsets = np.concatenate([soff, loff[1:] + soff[-1]])
  doc_counts = np.zeros(0, np.int64)
  if track_docs:
    firsts = keys[fast.first_in_doc(keys, np.asarray(tokens.row_splits,
                                                     np.int64))]
    dkeys, dcounts = np.unique(firsts, return_counts=True)
    doc_counts = np.zeros(len(ukeys), np.int64)
    doc_counts[np.searchsorted(ukeys, dkeys)] = dcounts
  return data, offsets, counts.astype(np.int64), doc_counts


def _rows_cover(tokens: Tokens) -> bool:
  rs = tokens.row_splits
  return len(rs) > 0 and rs[0] == 0 and rs[-1] == len(tokens.starts)


def merge_counts(a, b):
  """Adds two ``(data, offsets, counts, doc_counts)`` tables of distinct
  tokens; the result's tokens are distinct again."""
  da, oa, ca, ga = a
  db, ob, cb, gb = b
  if len(oa) == 1:
    return b
  if len(ob) == 1:
    return a
  data = np.concatenate([da, db])
  offsets = np.concatenate([oa, ob[1:] + oa[-1]])
  first, inverse = group_tokens(data, offsets[:-1], offsets[1:])
  u = len(first)
  counts = _sum_by(inverse, np.concatenate([ca, cb]), u)
  doc_counts = np.zeros(0, np.int64)
  if len(ga) or len(gb):
    doc_counts = _sum_by(inverse, np.concatenate([ga, gb]), u)
  ndata, noff = ragged_take(data, offsets[:-1][first], offsets[1:][first])
  return ndata, noff, counts, doc_counts


def _sum_by(groups: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
  out = np.zeros(n, np.int64)
  np.add.at(out, groups, values)  # exact int64 sums (small arrays: distinct)
  return out


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
  src = np.repeat(starts, lengths) + _ramp(lengths)
  return buf[src], offsets


# ---------------------------------------------------------------------------
# text_vectorization's "int" mode with a fixed length, fused (accelerator).
# ---------------------------------------------------------------------------

_POOL = None  # worker threads for vectorize_int's kernels, made on first use
_CHUNK_DOCS = 25_000  # documents per pipelined chunk


def _pool():
  """The worker threads of the pipelined kernels, made on first use."""
  global _POOL
  if _POOL is None:
    import concurrent.futures  # pylint: disable=g-import-not-at-top
    _POOL = concurrent.futures.ThreadPoolExecutor(
        max(1, min(8, os.cpu_count() or 1)), thread_name_prefix="prepro-text")
  return _POOL


def vectorize_int(docs: list, mode, table: TokenTable, data: np.ndarray,
                  offsets: np.ndarray, id_layout: tuple,
                  width: int) -> np.ndarray | None:
  """Standardize (``mode``: None or an ASCII built-in mode), split on
  whitespace, look up and pad to ``width`` a list of ``str`` documents in
  one kernel pass: the ``(n, width)`` int32 ids, the same as
  :func:`tokenize_whitespace`, :func:`lookup_ids` (``id_layout`` is its
  ``(id_offset, mask_pos, mask_id, unknown_id)``) and padding.

  Large batches are cut into chunks and pipelined: while worker threads
  run the kernel (which releases the GIL) on chunks, one per core, this
  thread joins and encodes the next. Returns None (nothing done) without the accelerator
  or for inputs the general path must handle or reject: non-``str``
  documents, strings UTF-8 cannot encode, documents holding a NUL.
  """
  fast = accel()
  if fast is None or (mode is not None and mode.endswith("_unicode")):
    return None
  lower = mode in ("lower", "lower_and_strip_punctuation")
  strip = mode in ("strip_punctuation", "lower_and_strip_punctuation")
  byte_map = fast._LOWER if lower else fast._SAME  # pylint: disable=protected-access
  klass = fast._CLASS_STRIP if strip else fast._CLASS_KEEP  # pylint: disable=protected-access
  data = np.ascontiguousarray(data, np.uint8)
  offsets = np.asarray(offsets, np.int64)
  id_offset, mask_pos, mask_id, unknown_id = (int(v) for v in id_layout)
  n = len(docs)
  out = np.zeros((n, width), np.int32)

  def encode(lo, hi):
    try:
      part = docs[lo:hi]
      part.append("")  # a NUL after every document
      return np.frombuffer("\0".join(part).encode("utf-8"), np.uint8)
    except (TypeError, UnicodeEncodeError):  # bytes, non-str, surrogates
      return None

  # The table as one array of slots (built once per table).
  slots = strings.cached(table.slot_keys, "text_vectorize_int_slots",
                         lambda: fast.table_slots(
                             np.asarray(table.slot_keys, np.uint64),
                             np.asarray(table.slot_ids), offsets))

  def kernel(buf, lo, hi):
    return fast.vectorize_int(buf, hi - lo, byte_map, klass, slots, data,
                              id_offset, mask_pos, mask_id, unknown_id,
                              out[lo:hi]) == hi - lo

  k = max(1, n // _CHUNK_DOCS)
  bounds = [n * i // k for i in range(k + 1)]
  if k == 1:
    buf = encode(0, n)
    return out if buf is not None and kernel(buf, 0, n) else None
  pool = _pool()
  jobs = []
  ok = True
  for lo, hi in zip(bounds[:-1], bounds[1:]):
    buf = encode(lo, hi)
    if buf is None:
      ok = False
      break
    jobs.append(pool.submit(kernel, buf, lo, hi))
  for job in jobs:  # always wait: the kernels write into `out`
    ok = job.result() and ok
  return out if ok else None
