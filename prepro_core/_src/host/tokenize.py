"""Tokenizing on the host: standardize, split and ngrams, vectorised.

Everything here runs on the host in NumPy, over one UTF-8 byte buffer per
batch, never with a Python loop per token:

* a batch of documents is encoded into one ``uint8`` buffer, documents
  separated by one space (:func:`inputs.encode_documents`);
* lowering and punctuation stripping are byte-wise table operations
  (:func:`standardize_buffer`);
* splitting finds token boundaries with array comparisons
  (:func:`split_whitespace`), giving a :class:`~packed.Tokens`;
  :func:`tokenize_whitespace` fuses the ASCII modes with the split in the
  host kernels;
* ngrams are slices of a buffer where tokens are joined by exactly one space
  (:func:`ngrams`);
* :func:`vectorize_int` fuses tokenizing with the vocabulary lookup and
  padding, for text_vectorization's "int" mode.

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
import unicodedata
from typing import Sequence

import numpy as np

from prepro_core._src.host import inputs, vocab
from prepro_core._src.host.kernels import backend
from prepro_core._src.host.packed import StringBatch, Tokens, ramp

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
_CHUNK_DOCS = 25_000  # documents per pipelined chunk


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
  idx = np.repeat(lead, width) + ramp(width)
  drop[idx] = True
  return drop


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
  """:func:`inputs.encode_documents`, :func:`standardize_buffer` (``mode``
  None or an ASCII built-in mode) and :func:`split_whitespace`, fused in the
  host kernels' ``tokenize_whitespace``. With numba, documents are encoded
  one by one and joined (:func:`inputs.encode_apart`) and large batches are
  pipelined over the pool's threads (the kernel releases the GIL); NumPy's
  kernel takes the documents joined by separators."""
  if mode is not None and mode.endswith("_unicode"):
    buf, doc_starts = inputs.encode_documents(docs, encoding, argname, where)
    buf, doc_starts = standardize_buffer(buf, doc_starts, mode)
    return split_whitespace(buf, doc_starts)
  lower = mode in ("lower", "lower_and_strip_punctuation")
  strip = mode in ("strip_punctuation", "lower_and_strip_punctuation")
  k = backend.kernels("text", rows=len(docs))
  if backend.numba_kernels("text") is None:
    buf, doc_starts = inputs.encode_documents(docs, encoding, argname, where)
    begins, ends = doc_starts[:-1], doc_starts[1:] - 1
  elif len(docs) >= 2 * _CHUNK_DOCS:
    return _tokenize_pipelined(k, docs, lower, strip, encoding, argname,
                               where)
  else:
    buf, begins, ends = inputs.encode_apart(docs, encoding, argname, where)
  out, starts, tok_ends, row_splits = k.tokenize_whitespace(
      buf, begins, ends, lower, strip)
  return Tokens(out, starts, tok_ends, row_splits)


def _pipelined(docs, encoding, argname, where, work):
  """``work(buf, begins, ends)`` on each chunk of a large batch
  (:func:`inputs.encode_apart`'s encoding of it), in order: while a worker
  thread runs it (its kernels release the GIL), this thread encodes the
  next chunk."""
  n = len(docs)
  k = max(1, n // _CHUNK_DOCS)
  bounds = [n * i // k for i in range(k + 1)]
  pool = backend.pool()
  jobs = []
  try:
    for lo, hi in zip(bounds[:-1], bounds[1:]):
      jobs.append(pool.submit(work, *inputs.encode_apart(
          docs[lo:hi], encoding, argname, where)))
  finally:
    parts = [job.result() for job in jobs]  # always wait for the workers
  return parts


def _tokenize_pipelined(fast, docs, lower, strip, encoding, argname, where):
  """The fused tokenize_whitespace of a large batch, cut into chunks
  (:func:`_pipelined`), each chunk's keys computed by its worker. The
  chunks' outputs are laid end to end: the same Tokens (keys added) as one
  pass."""

  def work(buf, begins, ends):
    out, starts, tok_ends, row_splits = fast.tokenize_whitespace(
        buf, begins, ends, lower, strip)
    return out, starts, tok_ends, row_splits, fast.keys(out, starts, tok_ends)

  parts = _pipelined(docs, encoding, argname, where, work)
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


def count_whitespace(docs: list, mode, track_docs: bool,
                     encoding: str = "utf-8", argname: str = "inputs",
                     where: str = "text"):
  """:func:`tokenize_whitespace` then :func:`vocab.count_distinct` of a
  large batch (``mode`` None or an ASCII built-in mode): each chunk of
  :func:`_pipelined` is tokenized and counted by its worker (the kernels'
  fused ``count_whitespace``), then the chunks' tables are merged
  (``merge_keys``): the same table. None where this path does not apply
  (numba absent, a small batch, a ``*_unicode`` mode, no tokens, a hash
  collision): then tokenize and count apart."""
  fast = backend.numba_kernels("text", rows=len(docs))
  if (fast is None or len(docs) < 2 * _CHUNK_DOCS
      or (mode is not None and mode.endswith("_unicode"))):
    return None
  lower = mode in ("lower", "lower_and_strip_punctuation")
  strip = mode in ("strip_punctuation", "lower_and_strip_punctuation")

  def work(buf, begins, ends):
    return fast.count_whitespace(buf, begins, ends, lower, strip, track_docs)

  parts = _pipelined(docs, encoding, argname, where, work)
  if not all(p[5] for p in parts) or not any(len(p[0]) for p in parts):
    return None
  base = np.cumsum([0] + [len(p[3]) for p in parts])
  offsets = np.concatenate([parts[0][4][:1]] + [
      p[4][1:] + b for p, b in zip(parts, base)])
  ukeys, counts, doc_counts, data = (np.concatenate([p[j] for p in parts])
                                     for j in range(4))
  *table, ok = fast.merge_keys(ukeys, counts, doc_counts, data, offsets)
  return vocab.distinct_table(*table, track_docs) if ok else None


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
  # One pass over the tokens' types in C; the culprit is looked up only on
  # the error path.
  if not all(issubclass(k, (str, bytes)) for k in set(map(type, flat))):
    at, bad = next((i, t) for i, t in enumerate(flat)
                   if not isinstance(t, (str, bytes)))
    doc = int(np.searchsorted(np.cumsum(lengths), at, side="right"))
    pos = at - int(lengths[:doc].sum())
    raise TypeError(
        f"{where}: `{argname}` must return str (or bytes) tokens, got "
        f"{type(bad).__name__} {bad!r:.40} (token {pos} of document {doc}); "
        f"make the callable return strings.")
  buf, starts = inputs.encode_documents(flat, encoding, argname, where)
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
  buf = np.where(sep, np.uint8(inputs.SEP), tokens.buf[np.where(sep, 0, src)])
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
    pos = ramp(count)  # the ngram's index within its document
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), count)
    first = rs[:-1][doc] + pos  # index of the ngram's first token
    dst = offset[doc] + pos
    starts[dst] = tokens.starts[first]
    ends[dst] = tokens.ends[first + w - 1]
    offset += count
  return Tokens(tokens.buf, starts, ends, out_rs)


def vectorize_int(docs: list | StringBatch, mode, fast,
                  kt: vocab.KernelTable, width: int) -> np.ndarray | None:
  """Standardize (``mode``: None or an ASCII built-in mode), split on
  whitespace, look up and pad to ``width`` a list of ``str`` documents (or
  a StringBatch, whose bytes the kernel reads as they are) in one pass of
  the kernel module ``fast``'s ``vectorize_int``: the ``(n, width)`` int32
  ids, the same as :func:`tokenize_whitespace`, :func:`vocab.lookup_ids`
  and padding; ``kt`` is the lookup's :class:`vocab.KernelTable`.

  Large batches are cut into chunks and pipelined: while worker threads
  run the kernel (which releases the GIL) on chunks, one per core, this
  thread joins and encodes the next. Returns None (nothing done) for
  inputs the general path must handle or reject: a ``*_unicode`` mode,
  non-``str`` documents, strings UTF-8 cannot encode, documents holding a
  NUL.
  """
  if mode is not None and mode.endswith("_unicode"):
    return None
  lower = mode in ("lower", "lower_and_strip_punctuation")
  strip = mode in ("strip_punctuation", "lower_and_strip_punctuation")
  byte_map = fast.LOWER if lower else fast.SAME
  klass = fast.CLASS_STRIP if strip else fast.CLASS_KEEP
  n = len(docs)
  out = np.zeros((n, width), np.int32)

  def encode(lo, hi):
    if isinstance(docs, StringBatch):  # NUL-terminated already
      return docs.data[docs.offsets[lo]:docs.offsets[hi]]
    try:
      part = docs[lo:hi]
      part.append("")  # a NUL after every document
      return np.frombuffer("\0".join(part).encode("utf-8"), np.uint8)
    except (TypeError, UnicodeEncodeError):  # bytes, non-str, surrogates
      return None

  def kernel(buf, lo, hi):
    return fast.vectorize_int(buf, hi - lo, byte_map, klass, kt.slots,
                              kt.vdata, *kt.id_layout, out[lo:hi]) == hi - lo

  k = max(1, n // _CHUNK_DOCS)
  bounds = [n * i // k for i in range(k + 1)]
  if k == 1:
    buf = encode(0, n)
    return out if buf is not None and kernel(buf, 0, n) else None
  pool = backend.pool()
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
