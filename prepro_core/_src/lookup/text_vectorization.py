"""text_vectorization: Keras' ``TextVectorization`` without TensorFlow.

A host-side transform: documents (``str``/``bytes``) are standardized, split
and turned into ngrams over one UTF-8 byte buffer per batch
(:mod:`prepro_core._src.text`), then looked up in the vocabulary of a
:func:`~prepro_core._src.string_lookup.string_lookup` with ``mask_token=""``,
exactly as Keras builds its layer on ``StringLookup``. The vocabulary order,
``max_tokens``, tf-idf and ``get_vocabulary()`` are string_lookup's; this
module adds the tokenizer, a vectorised count of distinct tokens for adapt,
and a hash table over the vocabulary (:class:`~prepro_core._src.text.TokenTable`)
so that lookups never make a Python string per token.

Keras parity (checked against Keras 3.15 / TF 2.21): the defaults lower the
26 ASCII letters only, strip exactly the 32 ASCII punctuation characters,
split on ASCII whitespace, join ngrams with one space and order them by width
as given; a document (for tf-idf) is one input row. Beyond Keras:
``standardize="lower_and_strip_punctuation_unicode"`` (and ``"lower_unicode"``,
``"strip_punctuation_unicode"``) lower with full Unicode case mapping and also
strip every character of a Unicode punctuation category.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from prepro_core._src.core import checks

from prepro_core._src.core import transform
from prepro_core._src.lookup import string_lookup as sl
from prepro_core._src.host import text

_MODES = ("int", "multi_hot", "count", "tf_idf")


class TextVectorizationState(NamedTuple):
  """State of :func:`text_vectorization` (a pytree of NumPy arrays)."""
  lookup: sl.StringLookupState  # vocabulary, idf weights, adapt counts
  table: text.TokenTable  # hash table over lookup.vocabulary

  def vocabulary_in_order(self) -> list:
    """Keras' ``get_vocabulary()``: ``""``, ``"[UNK]"``, then the tokens."""
    return self.lookup.vocabulary_in_order()

  def vocabulary_size(self) -> int:
    """Keras' ``vocabulary_size()``: special slots plus tokens."""
    return sl.vocab_size(self.lookup)


def _pad_rows(ids: np.ndarray, row_splits: np.ndarray, lengths: np.ndarray,
              width: int, fill: int) -> np.ndarray:
  """Ragged ids as an ``(n, width)`` int32 matrix, cut or padded with fill."""
  fast = text.accel()
  if fast is not None:
    return fast.pad_rows(np.asarray(ids, np.int64),
                         np.asarray(row_splits, np.int64), width, fill)
  n = len(lengths)
  out = np.full((n, width), fill, np.int32)
  # Row and position within the row of each id; ids past `width` are cut.
  row = np.repeat(np.arange(n, dtype=np.int64), lengths)
  pos = np.arange(len(ids), dtype=np.int64) - row_splits[:-1][row]
  keep = pos < width
  out[row[keep], pos[keep]] = ids[keep]
  return out


def _check_ngrams(ngrams, where):
  if ngrams is None:
    return None
  if isinstance(ngrams, bool) or not (
      isinstance(ngrams, (int, np.integer)) or
      (isinstance(ngrams, tuple) and ngrams and all(
          isinstance(n, (int, np.integer)) and not isinstance(n, bool)
          for n in ngrams))):
    raise ValueError(
        f"{where}: `ngrams` must be None, an int or a non-empty tuple of "
        f"ints, got {ngrams!r}.")
  widths = tuple(range(1, int(ngrams) + 1)) if not isinstance(
      ngrams, tuple) else tuple(int(n) for n in ngrams)
  if not widths or min(widths) < 1:
    raise ValueError(f"{where}: `ngrams` widths must be >= 1, got "
                     f"{ngrams!r}.")
  return widths


def text_vectorization(max_tokens: Optional[int] = None,
                       standardize: Any = "lower_and_strip_punctuation",
                       split: Any = "whitespace",
                       ngrams: Any = None,
                       output_mode: str = "int",
                       output_sequence_length: Optional[int] = None,
                       pad_to_max_tokens: bool = False,
                       vocabulary: Any = None,
                       idf_weights: Any = None,
                       encoding: str = "utf-8") -> transform.Transform:
  """Maps documents to token ids or bag-of-token vectors, like Keras'
  ``TextVectorization``.

  Each document is standardized, split into tokens, combined into ngrams
  and looked up in a vocabulary (index 0 = padding ``""``, 1 = OOV
  ``"[UNK]"`` in "int" mode; in the other modes the OOV token takes index 0).
  Adapt counts tokens on the host; per-shard states merge exactly.

  Args:
    max_tokens: cap on the vocabulary size, the padding and OOV slots
      included (so ``max_tokens - 2`` learned tokens in "int" mode).
    standardize: None, "lower_and_strip_punctuation" (Keras' default: ASCII
      ``A-Z`` lowered, the 32 ASCII punctuation characters removed), "lower",
      "strip_punctuation", the Unicode-aware variants
      "lower_and_strip_punctuation_unicode", "lower_unicode",
      "strip_punctuation_unicode" (full Unicode lowering; every Unicode
      punctuation character removed), or a callable receiving a NumPy
      ``str`` array (shaped like the input) and returning one of the same
      shape, as Keras passes it on non-TensorFlow backends.
    split: None (each document is one token), "whitespace" (runs of ASCII
      whitespace), "character" (Unicode code points), or a callable
      receiving a 1-D NumPy ``str`` array of documents and returning one
      sequence of ``str`` tokens per document (a list of lists or a 2-D
      array).
    ngrams: None, an int ``n`` (widths 1..n) or a tuple of widths; ngrams are
      joined by one space, all ngrams of the first width first.
    output_mode: "int", "multi_hot", "count" or "tf_idf".
    output_sequence_length: "int" mode only: pad (with 0) or cut every row
      to this length; None pads to the batch's longest row.
    pad_to_max_tokens: non-int modes: ``max_tokens`` output columns.
    vocabulary: a list/array of tokens or a path to a file with one token
      per line (the ``""``/``"[UNK]"`` prefix may be included).
    idf_weights: tf_idf with a vocabulary: one weight per vocabulary entry.
    encoding: the encoding of ``bytes`` inputs and of a vocabulary file;
      bytes that are not valid in it raise ``ValueError``.

  Returns:
    A host-side :class:`~prepro_core._src.transform.Transform` (``on_host=True``)
    whose ``apply`` returns int32 NumPy ids ``(batch, length)`` in "int"
    mode and a float32 jax array ``(batch, depth)`` otherwise (a scalar
    document gives rank one less).

  Example (the Keras guide's example):
    >>> import prepro_core as pc
    >>> t = pc.text_vectorization(vocabulary=[
    ...     "earth", "wind", "and", "fire"], output_sequence_length=4)
    >>> s = t.init(None)
    >>> pc.get_vocabulary(s)
    ['', '[UNK]', 'earth', 'wind', 'and', 'fire']
    >>> t.apply(s, ["Earth, wind and fire!", "fire water"]).tolist()
    [[2, 3, 4, 5], [5, 1, 0, 0]]
  """
  where = "text_vectorization"
  if not (standardize is None or callable(standardize) or
          standardize in text.STANDARDIZE_MODES):
    raise ValueError(
        f"{where}: `standardize` must be None, a callable or one of "
        f"{text.STANDARDIZE_MODES}, got {standardize!r}.")
  if not (split is None or callable(split) or split in text.SPLIT_MODES):
    raise ValueError(
        f"{where}: `split` must be None, a callable or one of "
        f"{text.SPLIT_MODES}, got {split!r}.")
  if output_mode == "binary":
    output_mode = "multi_hot"
  if output_mode == "tf-idf":
    output_mode = "tf_idf"
  checks.check_choice(output_mode, "output_mode", _MODES, where)
  widths = _check_ngrams(ngrams, where)
  if output_sequence_length is not None:
    if output_mode != "int":
      raise ValueError(
          f"{where}: `output_sequence_length` is only valid with "
          f"output_mode='int', got output_mode={output_mode!r} and "
          f"output_sequence_length={output_sequence_length!r}.")
    checks.check_positive_int(output_sequence_length, "output_sequence_length",
                            where, minimum=0)
    output_sequence_length = int(output_sequence_length)
  try:
    "".encode(encoding)
  except LookupError:
    raise ValueError(f"{where}: unknown `encoding` {encoding!r}.") from None

  inner = sl.string_lookup(
      max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
      pad_to_max_tokens=pad_to_max_tokens, mask_token="",
      output_mode=output_mode, encoding=encoding)
  given = vocabulary is not None
  mask_id = 0 if output_mode == "int" else -1  # -1: dropped by the encoders
  oov_id = 1 if output_mode == "int" else 0

  # -------------------------------------------------------------------------
  # Strings -> Tokens.
  # -------------------------------------------------------------------------

  def tokenize(x, argname):
    """Returns (Tokens, scalar?, dense_width): dense_width is the number of
    columns of a rank-2 input with split=None (else None)."""
    if isinstance(x, (list, tuple)) and set(map(type, x)) <= {str, bytes}:
      arr = None  # a flat list of documents: no NumPy round trip
      if callable(standardize) or not x:
        arr = text.as_text_array(list(x), argname, where)
    else:
      arr = text.as_text_array(x, argname, where)
    if arr is None:
      return _tokenize_docs(list(x), argname), False, None
    if arr.ndim > 2:
      raise ValueError(
          f"{where}: `{argname}` must have rank 0, 1 or 2, got shape "
          f"{arr.shape}.")
    scalar = arr.ndim == 0
    if callable(standardize):
      arr = _call_standardize(arr)
    if split is not None and arr.ndim == 2:
      if arr.shape[1] != 1:
        raise ValueError(
            f"{where}: to split `{argname}` into tokens its rank must be 1 "
            f"or its last dimension 1 (one document per row); got shape "
            f"{arr.shape}. Use split=None for pre-tokenized rows.")
      arr = arr[:, 0]
    dense_width = arr.shape[1] if arr.ndim == 2 else None
    docs = arr.reshape(-1).tolist()
    toks = _tokenize_docs(docs, argname)
    if split is None and dense_width is not None:  # rows of pre-split tokens
      toks = toks._replace(row_splits=np.arange(
          arr.shape[0] + 1, dtype=np.int64) * dense_width)
    return toks, scalar, dense_width

  def _tokenize_docs(docs, argname):
    mode = standardize if isinstance(standardize, str) else None
    if mode is not None and mode.endswith("_unicode"):
      docs = text.standardize_strings(
          text.to_str_list(docs, encoding, argname, where), mode)
    if split == "whitespace":
      toks = text.tokenize_whitespace(docs, mode, encoding, argname, where)
      return toks if widths is None else text.ngrams(toks, widths)
    buf, starts = text.encode_documents(docs, encoding, argname, where)
    if mode is not None:
      buf, starts = text.standardize_buffer(buf, starts, mode)
    if split is None:
      toks = text.no_split(buf, starts)
    elif split == "character":
      toks = text.split_characters(buf, starts)
    else:
      toks = _call_split(buf, starts, argname)
    if widths is not None:
      toks = text.ngrams(toks, widths)
    return toks

  def _call_standardize(arr):
    if arr.dtype.kind != "U":
      arr = np.array(text.to_str_list(
          arr.reshape(-1).tolist(), encoding, "inputs", where),
                     dtype=str).reshape(arr.shape)
    out = standardize(arr)
    out = text.as_text_array(out, "standardize(...) result", where)
    if out.shape != arr.shape:
      raise ValueError(
          f"{where}: the `standardize` callable must return an array shaped "
          f"like its input {arr.shape}, got {out.shape}.")
    return out

  def _call_split(buf, starts, argname):
    docs = np.array(text.decode_documents(buf, starts), dtype=str)
    rows = split(docs)
    if isinstance(rows, np.ndarray) and rows.dtype.kind in "USO" and (
        rows.ndim == 2):
      rows = list(rows)
    if not isinstance(rows, (list, tuple, np.ndarray)) or len(rows) != len(
        docs) or not all(isinstance(r, (list, tuple, np.ndarray)) for r in rows):
      raise TypeError(
          f"{where}: the `split` callable must return one sequence of "
          f"tokens per document ({len(docs)} documents): a list of lists of "
          f"str or a 2-D str array; got {type(rows).__name__}.")
    return text.tokens_from_lists(rows, encoding, "split(...) result", where)

  # -------------------------------------------------------------------------
  # The transform.
  # -------------------------------------------------------------------------

  def make_state(lookup_state):
    return TextVectorizationState(lookup_state, sl.token_table(lookup_state))

  def init(sample=None):
    dtype = getattr(sample, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind in "biufc":
      raise TypeError(
          f"{where}: `sample` must be text (str or bytes); got numbers of "
          f"dtype {np.dtype(dtype)}.")
    return make_state(inner.init(None))

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: adapt shards eagerly, then merge the states
    if given:
      raise ValueError(
          f"{where}.adapt: this transform was built with a fixed "
          f"`vocabulary`; adapt learns one only when `vocabulary` is None.")
    toks, _, _ = tokenize(batch, "batch")
    # A document (for tf-idf) is one input row, as Keras counts them.
    return state._replace(lookup=sl.count_token_batch(state.lookup, toks))

  def finalize(state):
    if given:
      return state
    return make_state(inner.finalize(state.lookup))

  def combine(a, b):
    if given:
      return a
    return a._replace(lookup=inner.combine(a.lookup, b.lookup))

  # "int" mode with a fixed length on a list of documents, split on
  # whitespace: one fused kernel pass (text.vectorize_int) when the
  # accelerator is there; otherwise, or when it declines, the general path.
  fused = (output_mode == "int" and output_sequence_length is not None and
           split == "whitespace" and widths is None and
           (standardize is None or isinstance(standardize, str)))

  def apply_fused(state, x):
    if not (isinstance(x, list) and x and text.accel() is not None):
      return None
    if int(state.lookup.layout[sl._NUM_OOV]) != 1:  # pylint: disable=protected-access
      return None
    packed = sl._table_vocab(state.lookup)  # pylint: disable=protected-access
    return text.vectorize_int(
        x, standardize, state.table, packed.data, packed.offsets,
        sl._id_layout(state.lookup), output_sequence_length)  # pylint: disable=protected-access

  def apply(state, x, key=None):
    del key
    if fused:
      out = apply_fused(state, x)
      if out is not None:
        return out
    toks, scalar, dense_width = tokenize(x, "inputs")
    ids = sl.lookup_token_ids(state.lookup, toks, state.table, where)
    n = toks.num_docs
    lengths = np.diff(toks.row_splits)
    if output_mode == "int":
      if split is None and dense_width is None and (
          output_sequence_length is None):
        out = ids.astype(np.int32)  # Keras: one id per document, shape (n,)
        return out[0] if scalar else out
      width = output_sequence_length
      if width is None:
        width = int(lengths.max()) if n else 0
      out = _pad_rows(ids, toks.row_splits, lengths, width, 0)
      return out[0] if scalar else out
    depth = int(state.lookup.layout[sl._DEPTH])  # pylint: disable=protected-access
    if depth == 0 or (len(state.lookup.vocabulary) == 0 and
                      not pad_to_max_tokens):
      raise ValueError(
          f"{where}: output_mode={output_mode!r} needs a vocabulary: pass "
          f"`vocabulary` or adapt first.")
    # Rows of ids padded with -1 (dropped), then category_encoding's kernel
    # on device: a scatter, O(tokens).
    width = int(lengths.max()) if n else 0
    rows = _pad_rows(ids, toks.row_splits, lengths, width, -1)
    out = sl.encode_lookup_ids(state.lookup, rows, output_mode)
    return out[0] if scalar else out

  return transform.make_transform(
      where,
      init=init,
      apply=apply,
      accumulate=accumulate,
      combine=combine,
      finalize=finalize,
      on_host=True)
