"""string_lookup: Keras' ``StringLookup`` without TensorFlow.

Strings are looked up on the host (a hash table built once per vocabulary,
driven from C, no Python loop per token); the ``one_hot``/``multi_hot``/
``count``/``tf_idf`` encodings of the ids then run on device with
:func:`prepro_core._src.encoding.encode_ids`.

The state holds strings as UTF-8 bytes in ``uint8`` arrays
(:class:`~prepro_core._src.strings.PackedStrings`), so it is a plain numeric
pytree that ``np.savez`` and ``flax.serialization`` store and restore.

Functions used by text_vectorization (stable API): :func:`count_tokens`,
:func:`lookup_tokens`, :func:`vocab_size`, :func:`encode_lookup_ids`.
"""

from __future__ import annotations

import collections
import itertools
import operator
from typing import Any, NamedTuple, Optional

import jax.numpy as jnp
import numpy as np

from prepro_core._src import base
from prepro_core._src import lookup
from prepro_core._src import strings
from prepro_core._src.encoding import encode_ids
from prepro_core._src.strings import PackedStrings

# Indices into StringLookupState.layout.
_TOKEN_START, _NUM_OOV, _MASK_ID, _DEPTH, _TRACK_DOCS, _GIVEN = range(6)


class TokenCounts(NamedTuple):
  """Adapt statistics: every distinct token seen, with its counts."""
  tokens: PackedStrings    # (T,) distinct tokens, in the order first added
  counts: np.ndarray       # (T,) int64: occurrences
  doc_counts: np.ndarray   # (T,) int64: documents holding the token (tf_idf), else (0,)
  num_docs: np.ndarray     # () int64: documents seen (tf_idf), else 0


class StringLookupState(NamedTuple):
  """State of :func:`string_lookup` (a pytree of NumPy arrays)."""
  vocabulary: PackedStrings  # (V,) tokens; token i has index token_start + i
  specials: PackedStrings    # (token_start,) Keras' prefix: [mask]*oov_start + [oov]*num_oov
  mask: PackedStrings        # (0,) or (1,): the mask token when set
  layout: np.ndarray         # (6,) int64: token_start, num_oov, mask id, depth, tf_idf?, given vocab?
  salt: np.ndarray           # (0,) or (2,) uint64: SipHash key for OOV buckets
  idf_weights: np.ndarray    # (depth,) float32 in tf_idf mode, else (0,)
  counts: TokenCounts

  def vocabulary_in_order(self) -> list:
    """Keras' ``get_vocabulary()``: mask, OOV tokens, then the vocabulary."""
    return strings.unpack(self.specials) + strings.unpack(self.vocabulary)


def _empty_counts(track_docs: bool) -> TokenCounts:
  del track_docs
  return TokenCounts(strings.empty_packed(), np.zeros((0,), np.int64),
                     np.zeros((0,), np.int64), np.zeros((), np.int64))


# ---------------------------------------------------------------------------
# The stable host API (also used by text_vectorization).
# ---------------------------------------------------------------------------


def vocab_size(state: StringLookupState) -> int:
  """Keras' ``vocabulary_size()``: mask/OOV slots plus vocabulary tokens."""
  return int(state.layout[_TOKEN_START]) + len(state.vocabulary)


def _lookup_dict(state: StringLookupState) -> dict:
  """``{token: id}``, the mask token included (cached per vocabulary)."""
  start = int(state.layout[_TOKEN_START])
  mask = strings.unpack(state.mask)
  mask_id = int(state.layout[_MASK_ID])

  def build():
    d = dict(zip(strings.unpack(state.vocabulary),
                 range(start, start + len(state.vocabulary))))
    for m in mask:
      d[m] = mask_id
    return d
  return strings.cached(state.vocabulary.offsets,
                        f"lookup:{start}:{mask_id}:{mask!r}", build)


def lookup_tokens(state: StringLookupState, tokens: Any,
                  where: str = "string_lookup") -> np.ndarray:
  """Maps a flat sequence of tokens to int32 ids, on the host.

  Known tokens get ``token_start + position``; the mask token gets 0 in int
  mode and -1 (dropped by the encoders) otherwise; unknown tokens go to the
  OOV slot, or with ``num_oov_indices > 1`` to ``Fingerprint64(utf8) % k``
  (SipHash-2-4 keyed by the salt when one is set), as Keras does.

  Args:
    state: a :class:`StringLookupState`.
    tokens: a flat list of ``str`` or 1-D string array (anything
      :func:`prepro_core._src.strings.flatten` takes is flattened).
    where: caller name for error messages.

  Returns:
    ``(n,)`` int32 NumPy array.

  Raises:
    ValueError: with ``num_oov_indices=0`` when a token is not in the
      vocabulary.
  """
  if not isinstance(tokens, list):
    tokens = strings.flatten(tokens, where=where).tokens
  n = len(tokens)
  table = _lookup_dict(state)
  ids = np.fromiter(map(table.get, tokens, itertools.repeat(lookup.UNKNOWN_ID)),
                    np.int64, count=n)
  unknown = ids == lookup.UNKNOWN_ID
  if unknown.any():
    num_oov = int(state.layout[_NUM_OOV])
    oov_start = int(state.layout[_TOKEN_START]) - num_oov
    if num_oov == 0:
      bad = sorted(set(map(tokens.__getitem__,
                           np.flatnonzero(unknown)[:1000].tolist())))
      raise ValueError(
          f"{where}: with `num_oov_indices=0` every input must be in the "
          f"vocabulary; found unknown tokens {bad[:10]!r}. Set "
          f"`num_oov_indices=1` (or more) to map them to OOV slots.")
    if num_oov == 1:
      ids[unknown] = oov_start
    else:
      idx = np.flatnonzero(unknown)
      oov = list(map(tokens.__getitem__, idx.tolist()))
      ids[idx] = _oov_buckets(oov, num_oov, state.salt) + oov_start
  return ids.astype(np.int32)


def _oov_buckets(oov_tokens: list, k: int, salt: np.ndarray) -> np.ndarray:
  """Keras: ``to_hash_bucket_fast`` (Fingerprint64), or ``_strong`` (SipHash)."""
  from prepro_core._src import farmhash  # pylint: disable=g-import-not-at-top
  if salt.shape[0] == 2:
    h = farmhash.siphash64_strings(oov_tokens, int(salt[0]), int(salt[1]))
  else:
    h = farmhash.fingerprint64_strings(oov_tokens)
  return (np.asarray(h, np.uint64) % np.uint64(k)).astype(np.int64)


def count_tokens(state: StringLookupState,
                 tokens: Any,
                 doc_ids: Optional[np.ndarray] = None,
                 num_docs: Optional[int] = None) -> StringLookupState:
  """Adds a flat sequence of tokens to the state's adapt counts (host).

  The result is a new state (the input state is left untouched); call the
  transform's ``finalize`` to turn counts into a vocabulary.

  Args:
    state: a :class:`StringLookupState` without a given vocabulary.
    tokens: a flat list of ``str`` (or 1-D string array).
    doc_ids: optional ``(n,)`` ints in ``[0, num_docs)``: the document each
      token comes from. tf_idf document frequencies count a token once per
      document. ``None``: every token is its own document (Keras' rank-1
      adapt).
    num_docs: documents in this call (documents without tokens included);
      defaults to ``max(doc_ids) + 1`` (or ``len(tokens)``).

  Returns:
    The new state.
  """
  if not isinstance(tokens, list):
    tokens = strings.flatten(tokens, where="count_tokens").tokens
  counter = collections.Counter(tokens)
  keys = list(counter.keys())
  counts = np.fromiter(counter.values(), np.int64, count=len(keys))
  doc_counts = None
  n_docs = 0
  if int(state.layout[_TRACK_DOCS]):
    if doc_ids is None:
      doc_counts = counts
      n_docs = len(tokens) if num_docs is None else int(num_docs)
    else:
      doc_ids = np.asarray(doc_ids)
      if doc_ids.shape != (len(tokens),):
        raise ValueError(
            f"count_tokens: `doc_ids` must have one entry per token, shape "
            f"({len(tokens)},), got {doc_ids.shape}.")
      pairs = set(zip(tokens, doc_ids.tolist()))
      per_doc = collections.Counter(map(operator.itemgetter(0), pairs))
      doc_counts = np.fromiter(map(per_doc.__getitem__, keys), np.int64,
                               count=len(keys))
      if num_docs is not None:
        n_docs = int(num_docs)
      else:
        n_docs = int(doc_ids.max()) + 1 if doc_ids.size else 0
  new_counts = _add_counts(state.counts, keys, counts, doc_counts, n_docs)
  return state._replace(counts=new_counts)


def _add_counts(table: TokenCounts, keys: list, counts: np.ndarray,
                doc_counts: Optional[np.ndarray], n_docs: int) -> TokenCounts:
  """``table`` plus counts of distinct ``keys``; a new table."""
  index = strings.index_of(table.tokens)
  size = len(table.tokens)
  pos = np.fromiter(map(index.get, keys, itertools.repeat(-1)), np.int64,
                    count=len(keys))
  fresh = np.flatnonzero(pos < 0)
  tokens = table.tokens
  if fresh.size:
    # Sorted, so that the table does not depend on hash randomisation.
    new = sorted(map(keys.__getitem__, fresh.tolist()))
    new_index = index.copy()
    new_index.update(zip(new, range(size, size + len(new))))
    pos[fresh] = np.fromiter(map(new_index.__getitem__,
                                 map(keys.__getitem__, fresh.tolist())),
                             np.int64, count=fresh.size)
    tokens = strings.concat_packed(table.tokens, strings.pack(new))
    strings.seed_cache(tokens.offsets, "list",
                       strings.unpack(table.tokens) + new)
    strings.seed_cache(tokens.offsets, "index", new_index)
  total = size + fresh.size
  out_counts = np.zeros(total, np.int64)
  out_counts[:size] = table.counts
  out_counts[pos] += counts
  out_docs = table.doc_counts
  if doc_counts is not None:
    out_docs = np.zeros(total, np.int64)
    out_docs[:table.doc_counts.shape[0]] = table.doc_counts
    out_docs[pos] += doc_counts
  return TokenCounts(tokens, out_counts, out_docs,
                     np.asarray(table.num_docs + n_docs, np.int64))


def encode_lookup_ids(state: StringLookupState, ids, output_mode: str):
  """Encodes ids (from :func:`lookup_tokens`) on device as Keras does.

  ``output_mode`` "int" returns int32 ids; "one_hot"/"multi_hot"/"count"/
  "tf_idf" use the state's depth (``max_tokens`` with ``pad_to_max_tokens``,
  else :func:`vocab_size`) and its idf weights.
  """
  if output_mode == "int":
    return ids
  depth = int(state.layout[_DEPTH])
  idf = state.idf_weights if output_mode == "tf_idf" else None
  return encode_ids(jnp.asarray(ids), depth, output_mode, idf_weights=idf)


# ---------------------------------------------------------------------------
# The transform.
# ---------------------------------------------------------------------------


def _check_salt(salt, where: str) -> np.ndarray:
  if salt is None:
    return np.zeros((0,), np.uint64)
  if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
    pair = (int(salt), int(salt))
  elif isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
      isinstance(s, (int, np.integer)) and not isinstance(s, bool)
      for s in salt):
    pair = (int(salt[0]), int(salt[1]))
  else:
    raise TypeError(
        f"{where}: `salt` must be an int or a pair (tuple/list) of 2 ints, "
        f"got {salt!r}.")
  for s in pair:
    if not -2**63 <= s < 2**64:
      raise ValueError(f"{where}: `salt` values must fit in 64 bits, got "
                       f"{s}.")
  # TF takes the key as int64 and reads it as uint64: wrap negatives.
  return np.array([s % 2**64 for s in pair], np.uint64)


def _as_token(value, argname: str, encoding: str, where: str):
  if value is None:
    return None
  if isinstance(value, bytes):
    return strings.flatten(value, encoding, where=where,
                           argname=argname).tokens[0]
  if isinstance(value, str):
    return str(value)
  raise TypeError(f"{where}: `{argname}` must be a str (or None), got "
                  f"{value!r}.")


def string_lookup(max_tokens: Optional[int] = None,
                  num_oov_indices: int = 1,
                  mask_token: Optional[str] = None,
                  oov_token: str = "[UNK]",
                  vocabulary: Any = None,
                  idf_weights: Any = None,
                  invert: bool = False,
                  output_mode: str = "int",
                  pad_to_max_tokens: bool = False,
                  encoding: str = "utf-8",
                  salt: Any = None) -> base.Transform:
  """Maps strings to (possibly encoded) indices, like Keras' ``StringLookup``.

  Index layout, vocabulary order (count descending, ties by token
  descending), ``max_tokens`` truncation (mask and OOV slots included), OOV
  hashing (``Fingerprint64(utf8) % num_oov_indices``, SipHash-2-4 with a
  ``salt``) and tf-idf (``log(1 + num_docs / (1 + doc_count))``, OOV slots
  get the mean) follow Keras. Adapt runs on the host and is mergeable (it
  keeps token counts); in adapt, axis 0 indexes documents: a rank-1 batch is
  one document per string, a rank-2 batch (or a list of ragged rows) one per
  row.

  Args:
    max_tokens: cap on the vocabulary size, mask and OOV slots included.
    num_oov_indices: OOV slots; 0 makes unknown tokens an error.
    mask_token: a token mapped to 0 in "int" mode (dropped in other modes).
    oov_token: returned by ``invert=True`` for OOV and unknown ids.
    vocabulary: a list/tuple/array of strings, or a path to a file with one
      token per line (Keras' special prefix, if present, is stripped).
    idf_weights: one weight per vocabulary entry (tf_idf with a vocabulary).
    invert: map ids back to strings (``output_mode="int"`` only).
    output_mode: "int", "one_hot", "multi_hot", "count" or "tf_idf".
    pad_to_max_tokens: encoded outputs get ``max_tokens`` columns.
    encoding: the encoding of bytes inputs and of the vocabulary file;
      bytes not valid in it raise ``ValueError``.
    salt: an int or a pair of ints: SipHash-2-4 key for OOV buckets.

  Returns:
    A host-side :class:`~prepro_core._src.base.Transform` (``on_host=True``).
    ``apply`` returns int32 NumPy ids in "int" mode, a NumPy ``str_`` array
    with ``invert=True`` (Keras returns bytes), and a float32 jax array in
    the other modes.

  Example:
    >>> import prepro_core as pc
    >>> t = pc.string_lookup(vocabulary=["a", "b", "c", "d"])
    >>> s = t.init(None)
    >>> t.apply(s, [["a", "c", "d"], ["d", "z", "b"]]).tolist()
    [[1, 3, 4], [4, 0, 2]]
  """
  where = "string_lookup"
  cfg = lookup.LookupConfig(where, max_tokens, num_oov_indices, None, None,
                            output_mode, pad_to_max_tokens, invert)
  cfg = lookup.check_config(cfg, idf_weights, vocabulary)
  cfg = cfg._replace(
      mask_token=_as_token(mask_token, "mask_token", encoding, where),
      oov_token=_as_token(oov_token, "oov_token", encoding, where))
  if cfg.oov_token is None:
    raise TypeError(f"{where}: `oov_token` must be a str, got None.")
  salt_arr = _check_salt(salt, where)
  track_docs = cfg.output_mode == "tf_idf"

  given_tokens, given_idf = None, None
  if vocabulary is not None:
    if isinstance(vocabulary, (str, bytes)) or hasattr(vocabulary,
                                                       "__fspath__"):
      vocab_list = strings.read_vocabulary_file(
          str(vocabulary if not isinstance(vocabulary, bytes) else
              vocabulary.decode()), encoding, where=where)
    else:
      vocab_list = strings.as_str_list(vocabulary, encoding, where,
                                       "vocabulary")
    given_tokens, given_idf = lookup.split_vocabulary(cfg, vocab_list,
                                                      idf_weights)

  specials = strings.pack(lookup.special_prefix(cfg))
  mask = strings.pack([] if cfg.mask_token is None else [cfg.mask_token])

  def make_state(tokens: list, idf, counts: TokenCounts,
                 given: bool) -> StringLookupState:
    layout = np.array([
        lookup.token_start(cfg), cfg.num_oov_indices, lookup.mask_id(cfg),
        lookup.output_depth(cfg, len(tokens)), int(track_docs), int(given)
    ], np.int64)
    vocab = strings.pack(tokens)
    strings.seed_cache(vocab.offsets, "list", list(tokens))
    idf = np.zeros((0,), np.float32) if idf is None else idf
    return StringLookupState(vocab, specials, mask, layout, salt_arr, idf,
                             counts)

  def init(sample=None):
    if sample is not None and not isinstance(sample, (list, tuple, str,
                                                      bytes)):
      dtype = getattr(sample, "dtype", None)
      if dtype is not None and np.dtype(dtype).kind in "biufc":
        raise strings._type_error(where, "sample",  # pylint: disable=protected-access
                                  f"numbers of dtype {np.dtype(dtype)}")
    if given_tokens is not None:
      return make_state(given_tokens, given_idf, _empty_counts(track_docs),
                        True)
    idf = lookup.idf_from_document_counts(cfg, np.zeros(0), 0) if (
        track_docs) else None
    return make_state([], idf, _empty_counts(track_docs), False)

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: merge per-shard states instead
    flat = strings.flatten(batch, encoding, where=f"{where}.adapt",
                           argname="batch", allow_ragged=True)
    if not flat.tokens:
      raise ValueError(f"{where}.adapt: the batch holds no strings; adapt "
                       f"needs at least one token.")
    doc_ids, n_docs = None, None
    if track_docs and flat.row_lengths is not None:
      n_docs = flat.row_lengths.shape[0]
      doc_ids = np.repeat(np.arange(n_docs), flat.row_lengths)
    elif track_docs and flat.shape is not None and len(flat.shape) > 2:
      n_docs = flat.shape[0]
      doc_ids = np.repeat(np.arange(n_docs), len(flat.tokens) // n_docs)
    elif track_docs and flat.shape == ():
      doc_ids, n_docs = np.zeros(1, np.int64), 1
    return count_tokens(state, flat.tokens, doc_ids, n_docs)

  def finalize(state):
    if int(state.layout[_GIVEN]):
      return state
    table = state.counts
    toks = strings.unpack(table.tokens)
    keep = np.ones(len(toks), bool)
    index = strings.index_of(table.tokens)
    for special in (cfg.mask_token, cfg.oov_token):
      if special in index:
        keep[index[special]] = False
    keep_idx = np.flatnonzero(keep)
    rank = np.empty(len(toks), np.int64)
    rank[sorted(range(len(toks)), key=toks.__getitem__)] = np.arange(len(toks))
    order = keep_idx[lookup.order_vocabulary(
        table.counts[keep_idx], rank[keep_idx],
        lookup.max_learned_tokens(cfg))]
    tokens = list(map(toks.__getitem__, order.tolist()))
    idf = None
    if track_docs:
      idf = lookup.idf_from_document_counts(cfg, table.doc_counts[order],
                                            int(table.num_docs))
    return make_state(tokens, idf, table, False)

  def combine(a, b):
    settings = lambda s: (np.delete(s.layout, _DEPTH).tolist(), s.salt.tolist(),
                          strings.unpack(
                              s.specials) + strings.unpack(s.mask))
    if settings(a) != settings(b):
      raise ValueError(
          f"{where}.merge: the two states come from string_lookup transforms "
          f"with different settings (mask/OOV layout, output mode or salt); "
          f"merge only states of the same transform.")
    if int(a.layout[_GIVEN]) or int(b.layout[_GIVEN]):
      if a.vocabulary_in_order() != b.vocabulary_in_order():
        raise ValueError(
            f"{where}.merge: cannot merge states with different fixed "
            f"vocabularies.")
      return a
    t = b.counts
    keys = strings.unpack(t.tokens)
    docs = t.doc_counts if track_docs else None
    return a._replace(counts=_add_counts(a.counts, list(keys), t.counts, docs,
                                         int(t.num_docs)))

  def apply(state, x, key=None):
    del key
    if cfg.invert:
      return _invert(state, x)
    flat = strings.flatten(x, encoding, where=where, argname="inputs")
    ids = lookup_tokens(state, flat.tokens, where).reshape(flat.shape)
    if cfg.output_mode == "int":
      return ids
    if len(state.vocabulary) == 0 and not cfg.pad_to_max_tokens:
      raise ValueError(
          f"{where}: output_mode={cfg.output_mode!r} needs a vocabulary: pass "
          f"`vocabulary` or adapt first (or set `pad_to_max_tokens=True`).")
    return encode_lookup_ids(state, ids, cfg.output_mode)

  def _invert(state, x):
    ids = np.asarray(x)
    if ids.dtype.kind not in "iu":
      raise TypeError(f"{where}: with `invert=True`, `inputs` must be integer "
                      f"ids, got dtype {ids.dtype}.")
    table = strings.cached(
        state.vocabulary.offsets, "invert",
        lambda: np.array(state.vocabulary_in_order() + [cfg.oov_token],
                         dtype=object))
    n = table.shape[0] - 1
    ids = ids.astype(np.int64)
    ids = np.where((ids >= 0) & (ids < n), ids, n)
    return table[ids].astype(str)

  return base.make_transform(
      where,
      init=init,
      apply=apply,
      accumulate=None if given_tokens is not None else accumulate,
      combine=combine,
      finalize=finalize,
      on_host=True)
