"""string_lookup: Keras' ``StringLookup`` without TensorFlow.

Strings are looked up on the host (a NumPy hash table built once per
vocabulary, no Python object per token); the ``one_hot``/``multi_hot``/
``count``/``tf_idf`` encodings of the ids then run on device with
:func:`prepro_core._src.encoding.encode_ids`.

The state holds strings as UTF-8 bytes in ``uint8`` arrays
(:class:`~prepro_core._src.strings.PackedStrings`), so it is a plain numeric
pytree that ``np.savez`` and ``flax.serialization`` store and restore.

Functions used by text_vectorization (stable API): :func:`count_tokens`,
:func:`count_token_batch`, :func:`lookup_tokens`, :func:`lookup_token_ids`,
:func:`token_table`, :func:`vocab_size`, :func:`encode_lookup_ids`. Tokens
travel as :class:`~prepro_core._src.text.Tokens` (one UTF-8 buffer plus
offsets): counting and lookups run on exact integer keys and a NumPy hash
table, never on a Python ``str`` per token.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import transform
from prepro_core._src.lookup import table as lookup
from prepro_core._src.host import strings
from prepro_core._src.host import text
from prepro_core._src.numeric.encoding import encode_ids
from prepro_core._src.host.strings import PackedStrings

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


def _table_vocab(state: StringLookupState) -> PackedStrings:
  """The vocabulary followed by the mask token (when set): what the lookup
  table holds, so that one probe finds both (cached per vocabulary)."""
  if len(state.mask) == 0:
    return state.vocabulary
  return strings.cached(
      state.vocabulary.offsets, "with_mask:" + state.mask.data.tobytes().hex(),
      lambda: strings.concat_packed(state.vocabulary, state.mask))


def token_table(state: StringLookupState) -> text.TokenTable:
  """A new hash table over the vocabulary (and the mask token) of ``state``.

  text_vectorization keeps one in its state; :func:`lookup_token_ids`
  builds (and caches) one when not given.
  """
  packed = _table_vocab(state)
  return text.build_table(packed.data, packed.offsets)


def lookup_token_ids(state: StringLookupState,
                     tokens: text.Tokens,
                     table: Optional[text.TokenTable] = None,
                     where: str = "string_lookup") -> np.ndarray:
  """Maps tokens laid out in a byte buffer to int64 ids, vectorised.

  The core of :func:`lookup_tokens` (and of text_vectorization): one hash
  table probe per token (:func:`prepro_core._src.text.table_lookup`), exact
  (long tokens' bytes are compared), with no Python object per token.

  Args:
    state: a :class:`StringLookupState`.
    tokens: a :class:`~prepro_core._src.text.Tokens`.
    table: the :func:`token_table` of ``state``; built and cached per
      vocabulary when None.
    where: caller name for error messages.

  Returns:
    ``(n,)`` int64 ids (see :func:`lookup_tokens`).
  """
  packed = _table_vocab(state)
  if table is None:
    table = _cached_table(state)
  tokens = text.with_slack(tokens)
  ids = text.lookup_ids(table, packed.data, packed.offsets, tokens,
                        *_id_layout(state))
  return _resolve_unknown(state, ids, tokens, where)


def _cached_table(state: StringLookupState) -> text.TokenTable:
  return strings.cached(state.vocabulary.offsets,
                        "table:" + state.mask.data.tobytes().hex(),
                        lambda: token_table(state))


def _id_layout(state: StringLookupState) -> tuple:
  """``(id_offset, mask_pos, mask_id, unknown_id)`` for text.lookup_ids:
  with one OOV slot unknown tokens get it in the same pass."""
  num_oov = int(state.layout[_NUM_OOV])
  start = int(state.layout[_TOKEN_START])
  unknown_id = start - 1 if num_oov == 1 else lookup.UNKNOWN_ID
  mask_pos = len(state.vocabulary) if len(state.mask) else -2
  return start, mask_pos, int(state.layout[_MASK_ID]), unknown_id


def _resolve_unknown(state: StringLookupState, ids: np.ndarray,
                     tokens: text.Tokens, where: str) -> np.ndarray:
  """Unknown tokens (``UNKNOWN_ID``) to their OOV buckets, or an error."""
  num_oov = int(state.layout[_NUM_OOV])
  if num_oov == 1:
    return ids
  idx = np.flatnonzero(ids == lookup.UNKNOWN_ID)
  if not len(idx):
    return ids
  if num_oov == 0:
    data = tokens.buf
    bad = sorted({
        data[s:e].tobytes().decode("utf-8", "replace") for s, e in zip(
            tokens.starts[idx[:1000]].tolist(),
            tokens.ends[idx[:1000]].tolist())})
    raise ValueError(
        f"{where}: with `num_oov_indices=0` every input must be in the "
        f"vocabulary; found unknown tokens {bad[:10]!r}. Set "
        f"`num_oov_indices=1` (or more) to map them to OOV slots.")
  oov_start = int(state.layout[_TOKEN_START]) - num_oov
  ids[idx] = _oov_buckets(tokens, idx, num_oov, state.salt) + oov_start
  return ids


def _lookup_str_array(state: StringLookupState, x: np.ndarray,
                      where: str) -> Optional[np.ndarray]:
  """A NumPy ``str_`` array's ids with the accelerator: its code points are
  encoded, keyed and looked up in one pass (None: use the general path)."""
  fast = text.accel()
  n = x.size
  w = x.dtype.itemsize // 4
  if fast is None or n == 0 or w == 0 or len(state.vocabulary) == 0:
    return None
  packed = _table_vocab(state)
  table = _cached_table(state)
  cps = np.ascontiguousarray(x.reshape(-1)).view(np.uint32).reshape(n, w)
  ids, bad = fast.lookup_ucs4(cps, table.slot_keys, table.slot_ids,
                              packed.data, packed.offsets, *_id_layout(state))
  if bad >= 0:
    raise ValueError(
        f"{where}: `inputs` element {bad} holds a code point that cannot be "
        f"encoded as UTF-8 (e.g. a lone surrogate).")
  unknown = np.flatnonzero(ids == lookup.UNKNOWN_ID)
  if not len(unknown):
    return ids
  # Only the unknown strings are packed (for their OOV hash or the error).
  tokens = strings.to_tokens(x.reshape(-1)[unknown], where=where).tokens
  ids[unknown] = _resolve_unknown(state, np.full(len(unknown),
                                                  lookup.UNKNOWN_ID),
                                  tokens, where)
  return ids


def lookup_tokens(state: StringLookupState, tokens: Any,
                  where: str = "string_lookup") -> np.ndarray:
  """Maps a flat sequence of tokens to int32 ids, on the host.

  Known tokens get ``token_start + position``; the mask token gets 0 in int
  mode and -1 (dropped by the encoders) otherwise; unknown tokens go to the
  OOV slot, or with ``num_oov_indices > 1`` to ``Fingerprint64(utf8) % k``
  (SipHash-2-4 keyed by the salt when one is set), as Keras does.

  Args:
    state: a :class:`StringLookupState`.
    tokens: a :class:`~prepro_core._src.text.Tokens`, a list of ``str`` or
      a string array (anything :func:`prepro_core._src.strings.to_tokens`
      takes is flattened).
    where: caller name for error messages.

  Returns:
    ``(n,)`` int32 NumPy array.

  Raises:
    ValueError: with ``num_oov_indices=0`` when a token is not in the
      vocabulary.
  """
  if not isinstance(tokens, text.Tokens):
    tokens = strings.to_tokens(tokens, where=where).tokens
  return lookup_token_ids(state, tokens, where=where).astype(np.int32)


def _oov_buckets(tokens: text.Tokens, idx: np.ndarray, k: int,
                 salt: np.ndarray) -> np.ndarray:
  """Keras: ``to_hash_bucket_fast`` (Fingerprint64), or ``_strong`` (SipHash)."""
  from prepro_core._src.host import farmhash  # pylint: disable=g-import-not-at-top
  starts = tokens.starts[idx]
  lengths = tokens.ends[idx] - starts
  if salt.shape[0] == 2:
    h = farmhash.siphash64_packed(tokens.buf, starts, lengths, int(salt[0]),
                                  int(salt[1]))
  else:
    h = farmhash.fingerprint64_packed(tokens.buf, starts, lengths)
  return (np.asarray(h, np.uint64) % np.uint64(k)).astype(np.int64)


def count_token_batch(state: StringLookupState,
                      tokens: text.Tokens) -> StringLookupState:
  """Adds tokens to the adapt counts; ``tokens.row_splits`` are documents.

  Used by string_lookup's adapt and by text_vectorization (a document is
  one input row, as Keras counts them for tf-idf). Returns a new state.
  """
  track = bool(int(state.layout[_TRACK_DOCS]))
  num_docs = len(tokens.row_splits) - 1
  per_token = len(tokens.row_splits) == len(tokens.starts) + 1 and np.all(
      np.diff(tokens.row_splits) == 1)
  data, offsets, counts, doc_counts = text.count_distinct(
      tokens, track and not per_token)
  if track and per_token:  # one document per token
    doc_counts = counts
  return _add_counts(state, (data, offsets, counts, doc_counts),
                     num_docs if track else 0)


def count_tokens(state: StringLookupState,
                 tokens: Any,
                 doc_ids: Optional[np.ndarray] = None,
                 num_docs: Optional[int] = None) -> StringLookupState:
  """Adds a flat sequence of tokens to the state's adapt counts (host).

  The result is a new state (the input state is left untouched); call the
  transform's ``finalize`` to turn counts into a vocabulary.

  Args:
    state: a :class:`StringLookupState` without a given vocabulary.
    tokens: a flat list of ``str``, a 1-D string array, or a
      :class:`~prepro_core._src.text.Tokens`.
    doc_ids: optional ``(n,)`` ints in ``[0, num_docs)``: the document each
      token comes from. tf_idf document frequencies count a token once per
      document. ``None``: every token is its own document (Keras' rank-1
      adapt).
    num_docs: documents in this call (documents without tokens included);
      defaults to ``max(doc_ids) + 1`` (or ``len(tokens)``).

  Returns:
    The new state.
  """
  if not isinstance(tokens, text.Tokens):
    tokens = strings.to_tokens(tokens, where="count_tokens").tokens
  n = len(tokens.starts)
  track = bool(int(state.layout[_TRACK_DOCS]))
  if track and doc_ids is not None:
    doc_ids = np.asarray(doc_ids)
    if doc_ids.shape != (n,):
      raise ValueError(
          f"count_tokens: `doc_ids` must have one entry per token, shape "
          f"({n},), got {doc_ids.shape}.")
    table = text.count_distinct(tokens, True, doc_ids.astype(np.int64))
    if num_docs is None:
      num_docs = int(doc_ids.max()) + 1 if doc_ids.size else 0
  else:
    table = text.count_distinct(tokens, False)
    if track:
      table = table[:3] + (table[2],)
      num_docs = n if num_docs is None else num_docs
  return _add_counts(state, table, int(num_docs or 0) if track else 0)


def _add_counts(state: StringLookupState, table, n_docs: int):
  """``state`` with the distinct-token ``table`` added to its counts."""
  c = state.counts
  data, offsets, counts, doc_counts = text.merge_counts(
      (c.tokens.data, c.tokens.offsets, c.counts, c.doc_counts), table)
  return state._replace(counts=TokenCounts(
      PackedStrings(data, offsets), counts, doc_counts,
      np.asarray(int(c.num_docs) + n_docs, np.int64)))


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
                  salt: Any = None) -> transform.Transform:
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
    A host-side :class:`~prepro_core._src.transform.Transform` (``on_host=True``).
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
  # Packed once: every init shares these arrays (and their cached tables).
  given_packed = None if given_tokens is None else strings.pack(given_tokens)
  if given_packed is not None:
    strings.seed_cache(given_packed.offsets, "list", list(given_tokens))

  def make_state(vocab: PackedStrings, idf, counts: TokenCounts,
                 given: bool) -> StringLookupState:
    layout = np.array([
        lookup.token_start(cfg), cfg.num_oov_indices, lookup.mask_id(cfg),
        lookup.output_depth(cfg, len(vocab)), int(track_docs), int(given)
    ], np.int64)
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
    if given_packed is not None:
      return make_state(given_packed, given_idf, _empty_counts(track_docs),
                        True)
    idf = lookup.idf_from_document_counts(cfg, np.zeros(0), 0) if (
        track_docs) else None
    return make_state(strings.empty_packed(), idf, _empty_counts(track_docs),
                      False)

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: merge per-shard states instead
    tb = strings.to_tokens(batch, encoding, where=f"{where}.adapt",
                           argname="batch", allow_ragged=True)
    if len(tb.tokens.starts) == 0:
      raise ValueError(f"{where}.adapt: the batch holds no strings; adapt "
                       f"needs at least one token.")
    return count_token_batch(state, tb.tokens)

  def finalize(state):
    if int(state.layout[_GIVEN]):
      return state
    table = state.counts
    data, offsets = table.tokens.data, table.tokens.offsets
    n = len(table.tokens)
    keep = np.ones(n, bool)
    specials_seen = strings.pack(
        [t for t in (cfg.mask_token, cfg.oov_token) if t is not None])
    if n:
      found = text.table_lookup(
          text.build_table(specials_seen.data, specials_seen.offsets),
          specials_seen.data, specials_seen.offsets,
          text.Tokens(data, offsets[:-1], offsets[1:], np.array([0, n])))
      keep[found >= 0] = False  # Keras drops the special tokens' counts
    keep_idx = np.flatnonzero(keep)
    # Keras: np.lexsort((tokens, counts))[::-1] over byte strings: count
    # descending, ties by token bytes descending.
    rank = text.bytes_rank(data, offsets)
    order = keep_idx[lookup.order_vocabulary(
        table.counts[keep_idx], rank[keep_idx],
        lookup.max_learned_tokens(cfg))]
    vocab = PackedStrings(*text.ragged_take(data, offsets[:-1][order],
                                            offsets[1:][order]))
    idf = None
    if track_docs:
      idf = lookup.idf_from_document_counts(cfg, table.doc_counts[order],
                                            int(table.num_docs))
    return make_state(vocab, idf, table, False)

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
      same = all(
          np.array_equal(x, y) for x, y in ((a.vocabulary.data,
                                              b.vocabulary.data),
                                             (a.vocabulary.offsets,
                                              b.vocabulary.offsets)))
      if not same:
        raise ValueError(
            f"{where}.merge: cannot merge states with different fixed "
            f"vocabularies.")
      return a
    t = b.counts
    return _add_counts(a, (t.tokens.data, t.tokens.offsets, t.counts,
                           t.doc_counts if track_docs else
                           np.zeros(0, np.int64)), int(t.num_docs))

  def apply(state, x, key=None):
    del key
    if cfg.invert:
      return _invert(state, x)
    ids = None
    if isinstance(x, np.ndarray) and x.dtype.kind == "U":
      ids = _lookup_str_array(state, x, where)
      if ids is not None:
        ids = ids.astype(np.int32).reshape(x.shape)
    if ids is None:
      tb = strings.to_tokens(x, encoding, where=where, argname="inputs")
      ids = lookup_token_ids(state, tb.tokens, where=where).astype(
          np.int32).reshape(tb.shape)
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

  return transform.make_transform(
      where,
      init=init,
      apply=apply,
      accumulate=None if given_packed is not None else accumulate,
      combine=combine,
      finalize=finalize,
      on_host=True)
