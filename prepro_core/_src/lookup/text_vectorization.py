"""text_vectorization: Keras' ``TextVectorization`` without TensorFlow.

A host-side transform: documents (``str``/``bytes``) are standardized, split
and turned into ngrams over one UTF-8 byte buffer per batch
(:mod:`prepro_core._src.host.tokenize`), then looked up in the vocabulary of a
:func:`~prepro_core._src.string_lookup.string_lookup` with ``mask_token=""``,
exactly as Keras builds its layer on ``StringLookup``. The vocabulary order,
``max_tokens``, tf-idf and ``get_vocabulary()`` are string_lookup's; this
module adds the tokenizer, a vectorised count of distinct tokens for adapt,
and a hash table over the vocabulary (:class:`~prepro_core._src.host.vocab.TokenTable`)
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

from typing import Any, NamedTuple, Optional

import numpy as np

from prepro_core._src.core import checks

from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core import transform
from prepro_core._src.lookup import string_lookup as sl
from prepro_core._src.lookup import table as lookup
from prepro_core._src.host import inputs
from prepro_core._src.host import tokenize
from prepro_core._src.host import vocab
from prepro_core._src.host.kernels import backend
from prepro_core._src.host.packed import StringBatch

_WHERE = "text_vectorization"
_MODES = ("int", "multi_hot", "count", "tf_idf")


class TextVectorizationState(NamedTuple):
  """State of :func:`text_vectorization` (a pytree of NumPy arrays)."""
  lookup: sl.StringLookupState  # vocabulary, idf weights, adapt counts
  table: vocab.TokenTable  # hash table over lookup.vocabulary
  tokenizer: np.ndarray  # (k,) uint8: tokenizer_settings, checked by merge

  def vocabulary_in_order(self) -> list:
    """Keras' ``get_vocabulary()``: ``""``, ``"[UNK]"``, then the tokens."""
    return self.lookup.vocabulary_in_order()

  def vocabulary_size(self) -> int:
    """Keras' ``vocabulary_size()``: special slots plus tokens."""
    return sl.vocab_size(self.lookup)


# ---------------------------------------------------------------------------
# Strings -> Tokens.
# ---------------------------------------------------------------------------


class Tokenizer(NamedTuple):
  """How documents become tokens (text_vectorization's checked settings)."""
  standardize: Any              # None, a STANDARDIZE_MODES name or a callable
  split: Any                    # None, "whitespace", "character" or a callable
  widths: Optional[tuple]       # ngram widths, or None for the tokens alone
  encoding: str = "utf-8"       # of bytes inputs
  where: str = _WHERE           # for error messages


class Tokenized(NamedTuple):
  """What :func:`tokenize_inputs` returns."""
  tokens: Any                   # tokenize.Tokens; row_splits are the documents
  scalar: bool                  # the input was one document (rank 0)
  dense_width: Optional[int]    # columns of a rank-2 input with split=None


def tokenize_inputs(tk: Tokenizer, x: Any, argname: str) -> Tokenized:
  """Documents (a str, bytes, a list or an array of rank <= 2) to tokens.

  With a split, a rank-2 input must have one column (one document per
  row); with ``split=None`` its rows are taken as pre-split tokens.
  """
  where = tk.where
  if isinstance(x, StringBatch):  # the general path reads a list
    x = x.tolist()
  if isinstance(x, (list, tuple)) and set(map(type, x)) <= {str, bytes}:
    arr = None  # a flat list of documents: no NumPy round trip
    if callable(tk.standardize) or not x:
      arr = inputs.as_text_array(list(x), argname, where)
  else:
    arr = inputs.as_text_array(x, argname, where)
  if arr is None:
    return Tokenized(tokenize_documents(tk, list(x), argname), False, None)
  if arr.ndim > 2:
    raise ValueError(
        f"{where}: `{argname}` must have rank 0, 1 or 2, got shape "
        f"{arr.shape}.")
  scalar = arr.ndim == 0
  if callable(tk.standardize):
    arr = call_standardize(tk, arr)
  if tk.split is not None and arr.ndim == 2:
    if arr.shape[1] != 1:
      raise ValueError(
          f"{where}: to split `{argname}` into tokens its rank must be 1 "
          f"or its last dimension 1 (one document per row); got shape "
          f"{arr.shape}. Use split=None for pre-tokenized rows.")
    arr = arr[:, 0]
  dense_width = arr.shape[1] if arr.ndim == 2 else None
  toks = tokenize_documents(tk, arr.reshape(-1).tolist(), argname)
  if tk.split is None and dense_width is not None:  # rows of pre-split tokens
    toks = toks._replace(row_splits=np.arange(
        arr.shape[0] + 1, dtype=np.int64) * dense_width)
  return Tokenized(toks, scalar, dense_width)


def tokenize_documents(tk: Tokenizer, docs: list, argname: str):
  """A flat list of documents to Tokens: standardize (a built-in mode),
  split, then ngrams; a callable ``standardize`` has already run."""
  where, encoding = tk.where, tk.encoding
  mode = tk.standardize if isinstance(tk.standardize, str) else None
  if mode is not None and mode.endswith("_unicode"):
    docs = tokenize.standardize_strings(
        inputs.check_items(docs, encoding, where, argname), mode)
  if tk.split == "whitespace":
    toks = tokenize.tokenize_whitespace(docs, mode, encoding, argname, where)
    return toks if tk.widths is None else tokenize.ngrams(toks, tk.widths)
  buf, starts = inputs.encode_documents(docs, encoding, argname, where)
  if mode is not None:
    buf, starts = tokenize.standardize_buffer(buf, starts, mode)
  if tk.split is None:
    toks = tokenize.no_split(buf, starts)
  elif tk.split == "character":
    toks = tokenize.split_characters(buf, starts)
  else:
    toks = call_split(tk, buf, starts)
  if tk.widths is not None:
    toks = tokenize.ngrams(toks, tk.widths)
  return toks


def call_standardize(tk: Tokenizer, arr: np.ndarray) -> np.ndarray:
  """Runs a callable ``standardize`` on a ``str`` array, checking its result."""
  where = tk.where
  if arr.dtype.kind != "U":
    arr = np.array(inputs.check_items(
        arr.reshape(-1).tolist(), tk.encoding, where, "inputs"),
                   dtype=str).reshape(arr.shape)
  out = tk.standardize(arr)
  out = inputs.as_text_array(out, "standardize(...) result", where)
  if out.shape != arr.shape:
    raise ValueError(
        f"{where}: the `standardize` callable must return an array shaped "
        f"like its input {arr.shape}, got {out.shape}.")
  return out


def call_split(tk: Tokenizer, buf: np.ndarray, starts: np.ndarray):
  """Runs a callable ``split`` on the documents, checking its result."""
  where = tk.where
  docs = np.array(inputs.decode_documents(buf, starts), dtype=str)
  rows = tk.split(docs)
  if isinstance(rows, np.ndarray) and rows.dtype.kind in "USO" and (
      rows.ndim == 2):
    rows = list(rows)
  if not isinstance(rows, (list, tuple, np.ndarray)) or len(rows) != len(
      docs) or not all(isinstance(r, (list, tuple, np.ndarray)) for r in rows):
    raise TypeError(
        f"{where}: the `split` callable must return one sequence of "
        f"tokens per document ({len(docs)} documents): a list of lists of "
        f"str or a 2-D str array; got {type(rows).__name__}.")
  return tokenize.tokens_from_lists(rows, tk.encoding, "split", where)


# ---------------------------------------------------------------------------
# Ids -> outputs.
# ---------------------------------------------------------------------------


def pad_rows(ids: np.ndarray, row_splits: np.ndarray, width: int,
             fill: int) -> np.ndarray:
  """Ragged ids as an ``(n, width)`` int32 matrix, cut or padded with fill."""
  return backend.kernels("text").pad_rows(
      np.asarray(ids, np.int64), np.asarray(row_splits, np.int64), width,
      fill)


def _longest_row(row_splits: np.ndarray) -> int:
  return int(np.diff(row_splits).max()) if len(row_splits) > 1 else 0


def int_output(ids: np.ndarray, tz: Tokenized, width: Optional[int],
               one_per_document: bool) -> np.ndarray:
  """"int" mode: ids padded with 0 (or cut) to ``width`` per document.

  ``width=None`` pads to the longest row; ``one_per_document`` (split=None
  on a flat input, no fixed length) gives Keras' ``(n,)`` ids.
  """
  if one_per_document:
    out = ids.astype(np.int32)
  else:
    if width is None:
      width = _longest_row(tz.tokens.row_splits)
    out = pad_rows(ids, tz.tokens.row_splits, width, 0)
  return out[0] if tz.scalar else out


def bag_output(state: TextVectorizationState, ids: np.ndarray, tz: Tokenized,
               output_mode: str, pad_to_max_tokens: bool,
               where: str = _WHERE):
  """"multi_hot"/"count"/"tf_idf": one row of the vocabulary's width per
  document, encoded on device."""
  depth = sl.layout_of(state.lookup).depth
  if depth == 0 or (len(state.lookup.vocabulary) == 0 and
                    not pad_to_max_tokens):
    raise ValueError(
        f"{where}: output_mode={output_mode!r} needs a vocabulary: pass "
        f"`vocabulary` or adapt first.")
  # Rows of ids padded with -1 (dropped), then category_encoding's kernel
  # on device: a scatter, O(tokens).
  splits = tz.tokens.row_splits
  rows = pad_rows(ids, splits, _longest_row(splits), -1)
  out = sl.encode_lookup_ids(state.lookup, rows, output_mode)
  return out[0] if tz.scalar else out


def vectorize_fused(state: TextVectorizationState, x: Any, standardize: Any,
                    width: int) -> Optional[np.ndarray]:
  """"int" mode on a list of documents (or a StringBatch) split on
  whitespace, in one fused numba kernel pass (``tokenize.vectorize_int``);
  None when it does not apply (then the general path runs).

  NumPy's twin of the fused kernel is no faster than the general path,
  which stays the reference the fused one is checked against.
  """
  fast = (backend.numba_kernels("text", rows=len(x))
          if isinstance(x, (list, StringBatch)) and len(x) else None)
  if fast is None or sl.layout_of(state.lookup).num_oov != 1:
    return None
  return tokenize.vectorize_int(
      x, standardize, fast, sl.kernel_table(state.lookup, fast, state.table),
      width)


# ---------------------------------------------------------------------------
# The transform.
# ---------------------------------------------------------------------------


def with_table(lookup_state: sl.StringLookupState,
               tokenizer: np.ndarray) -> TextVectorizationState:
  """The state over a string_lookup state, with its hash table built once;
  ``tokenizer`` is :func:`tokenizer_settings`."""
  return TextVectorizationState(lookup_state, sl.token_table(lookup_state),
                                tokenizer)


def tokenizer_settings(tk: Tokenizer) -> np.ndarray:
  """What decides the tokens counted (standardize, split, ngrams), as UTF-8
  bytes in the state, so that ``merge`` refuses states tokenized otherwise
  (a callable is known by its qualified name)."""
  def name(v):
    return v if v is None or isinstance(v, str) else "callable " + getattr(
        v, "__qualname__", type(v).__name__)
  text = (f"standardize={name(tk.standardize)};split={name(tk.split)};"
          f"ngrams={tk.widths}")
  return np.frombuffer(text.encode("utf-8"), np.uint8).copy()


def merge_states(a: TextVectorizationState, b: TextVectorizationState,
                 combine_lookups, where: str = _WHERE):
  """``a`` with ``b``'s counts (``combine_lookups``: the inner lookup's).

  Raises:
    ValueError: the states were tokenized differently (standardize, split,
      ngrams), or have different fixed vocabularies.
  """
  ta, tb = (bytes(np.asarray(s.tokenizer, np.uint8)).decode("utf-8")
            for s in (a, b))
  if ta != tb:
    raise ValueError(
        f"{where}.merge: the two states were made by text_vectorization "
        f"transforms that tokenize differently ({ta} vs {tb}); their token "
        f"counts do not add up. Merge only states of the same transform.")
  return a._replace(lookup=combine_lookups(a.lookup, b.lookup))


def _check_sample(sample: Any, where: str) -> None:
  checks.check_on_host(f"{where}.init", sample=sample)
  dtype = getattr(sample, "dtype", None)
  if dtype is not None and np.dtype(dtype).kind in "biufc":
    raise TypeError(
        f"{where}: `sample` must be text (str or bytes); got numbers of "
        f"dtype {np.dtype(dtype)}.")


class _Config(NamedTuple):
  """text_vectorization's checked arguments."""
  tokenizer: Tokenizer
  output_mode: str
  output_sequence_length: Optional[int]
  fused: bool  # the arguments allow vectorize_fused


def _check_args(standardize, split, ngrams, output_mode,
                output_sequence_length, encoding) -> _Config:
  where = _WHERE
  checks.check_callable_or_choice(standardize, "standardize",
                                  tokenize.STANDARDIZE_MODES, where)
  checks.check_callable_or_choice(split, "split", tokenize.SPLIT_MODES, where)
  output_mode = checks.check_output_mode(output_mode, _MODES, where)
  widths = checks.check_ngrams(ngrams, where)
  if output_sequence_length is not None:
    if output_mode != "int":
      raise ValueError(
          f"{where}: `output_sequence_length` is only valid with "
          f"output_mode='int', got output_mode={output_mode!r} and "
          f"output_sequence_length={output_sequence_length!r}.")
    output_sequence_length = checks.check_positive_int(
        output_sequence_length, "output_sequence_length", where, minimum=0)
  checks.check_encoding(encoding, where)
  fused = (output_mode == "int" and output_sequence_length is not None and
           split == "whitespace" and widths is None and
           (standardize is None or isinstance(standardize, str)))
  return _Config(Tokenizer(standardize, split, widths, encoding, where),
                 output_mode, output_sequence_length, fused)


def _count_pipelined(tk: Tokenizer, batch, track: bool):
  """count_batch's distinct-token table straight from
  :func:`tokenize.count_whitespace`, for a flat list of ``str``/``bytes``
  documents split on whitespace without ngrams (what
  :func:`tokenize_inputs` sends to ``tokenize_whitespace`` unchanged);
  None for anything else."""
  if (tk.split != "whitespace" or tk.widths is not None
      or callable(tk.standardize) or not isinstance(batch, (list, tuple))
      or not batch or not set(map(type, batch)) <= {str, bytes}):
    return None
  mode = tk.standardize if isinstance(tk.standardize, str) else None
  return tokenize.count_whitespace(list(batch), mode, track, tk.encoding,
                                   "batch", tk.where)


def count_batch(tk: Tokenizer, state: TextVectorizationState, batch,
                given: bool) -> TextVectorizationState:
  """adapt's step: tokenize ``batch`` and count its tokens into ``state``."""
  if given:
    raise ValueError(
        f"{_WHERE}.adapt: this transform was built with a fixed "
        f"`vocabulary`; adapt learns one only when `vocabulary` is None.")
  if isinstance(batch, StringBatch):  # counted from a list of str
    batch = batch.tolist()
  track = bool(sl.layout_of(state.lookup).track_docs)
  table = _count_pipelined(tk, batch, track)
  if table is not None:  # tokenized and counted chunk by chunk, the same
    return state._replace(lookup=sl.add_counts(
        state.lookup, table, len(batch) if track else 0))
  toks = tokenize_inputs(tk, batch, "batch").tokens
  # A document (for tf-idf) is one input row, as Keras counts them.
  return state._replace(lookup=sl.count_token_batch(state.lookup, toks))


def vectorize(conf, state: TextVectorizationState, x, standardize,
              one_per_document: bool, pad_to_max_tokens: bool):
  """apply: documents to ids (``"int"``) or to bag-of-token vectors."""
  if conf.fused:
    out = vectorize_fused(state, x, standardize, conf.output_sequence_length)
    if out is not None:
      return out
  tz = tokenize_inputs(conf.tokenizer, x, "inputs")
  ids = sl.lookup_token_ids(state.lookup, tz.tokens, state.table, _WHERE)
  if conf.output_mode == "int":
    return int_output(ids, tz, conf.output_sequence_length,
                      one_per_document and tz.dense_width is None)
  return bag_output(state, ids, tz, conf.output_mode, pad_to_max_tokens)


# Over 80 lines only by its docstring (Keras' arguments, each documented);
# the body is wiring: checks, then closures over the functions above.
@transform_factory
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
  conf = _check_args(standardize, split, ngrams, output_mode,
                     output_sequence_length, encoding)
  tk, output_mode = conf.tokenizer, conf.output_mode
  inner = sl.string_lookup(
      max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
      pad_to_max_tokens=pad_to_max_tokens, mask_token="",
      output_mode=output_mode, encoding=encoding)
  given = vocabulary is not None
  # Keras: split=None on a flat input gives one id per document, shape (n,).
  one_per_document = split is None and output_sequence_length is None
  settings = tokenizer_settings(tk)

  def init(sample=None):
    _check_sample(sample, _WHERE)
    return with_table(inner.init(None), settings)

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: adapt shards eagerly, then merge the states
    checks.check_on_host(f"{_WHERE}.adapt", todo=lookup.ADAPT_ON_HOST,
                         state=state, batch=batch)
    return count_batch(tk, state, batch, given)

  def finalize(state):
    if given:
      return state
    checks.check_on_host(f"{_WHERE}.adapt", todo=lookup.ADAPT_ON_HOST,
                         state=state)
    return with_table(inner.finalize(state.lookup), state.tokenizer)

  def combine(a, b):
    checks.check_on_host(f"{_WHERE}.merge", todo=lookup.MERGE_ON_HOST,
                         a=a, b=b)
    return merge_states(a, b, inner.combine)

  def apply(state, x, key=None):
    del key
    checks.check_on_host(f"{_WHERE}.apply", state=state, inputs=x)
    return vectorize(conf, state, x, standardize, one_per_document,
                     pad_to_max_tokens)

  return transform.make_transform(
      _WHERE,
      init=init,
      apply=apply,
      accumulate=accumulate,
      combine=combine,
      finalize=finalize,
      on_host=True,
      state_type=TextVectorizationState)
