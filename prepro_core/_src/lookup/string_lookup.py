"""string_lookup: Keras' ``StringLookup`` without TensorFlow.

Strings are looked up on the host (a NumPy hash table built once per
vocabulary, no Python object per token); the ``one_hot``/``multi_hot``/
``count``/``tf_idf`` encodings of the ids then run on device with
:func:`prepro_core._src.numeric.encoding.encode_ids`, or in NumPy with its
twin inside ``encoding.host_outputs("numpy")`` (input-pipeline workers).

The state holds strings as UTF-8 bytes in ``uint8`` arrays
(:class:`~prepro_core._src.host.packed.PackedStrings`), so it is a plain numeric
pytree that ``np.savez`` and ``flax.serialization`` store and restore.

Functions used by text_vectorization (stable API): :func:`count_tokens`,
:func:`count_token_batch`, :func:`lookup_tokens`, :func:`lookup_token_ids`,
:func:`token_table`, :func:`table_vocabulary`, :func:`id_layout`,
:func:`kernel_table`, :func:`layout_of`, :func:`vocab_size`,
:func:`encode_lookup_ids`. Tokens
travel as :class:`~prepro_core._src.host.packed.Tokens` (one UTF-8 buffer plus
offsets): counting and lookups run on exact integer keys and a NumPy hash
table, never on a Python ``str`` per token.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core import transform
from prepro_core._src.lookup import table as lookup
from prepro_core._src.host import inputs
from prepro_core._src.host import missing as missing_values
from prepro_core._src.host import packed
from prepro_core._src.host import vocab
from prepro_core._src.host.kernels import backend
from prepro_core._src.numeric import encoding
from prepro_core._src.host.packed import PackedStrings

_WHERE = "string_lookup"


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
  layout: np.ndarray         # (6,) int64: the fields of Layout, in order
  salt: np.ndarray           # (0,) or (2,) uint64: SipHash key for OOV buckets
  idf_weights: np.ndarray    # (depth,) float32 in tf_idf mode, else (0,)
  counts: TokenCounts

  def vocabulary_in_order(self) -> list:
    """Keras' ``get_vocabulary()``: mask, OOV tokens, then the vocabulary."""
    return packed.unpack(self.specials) + packed.unpack(self.vocabulary)


class Layout(NamedTuple):
  """What ``StringLookupState.layout`` holds, by name (:func:`layout_of`).

  The state keeps these as one int64 array, so that it stays a pytree of
  arrays that checkpoints store as they are.
  """
  token_start: int  # index of the first vocabulary token
  num_oov: int      # OOV slots, just before token_start
  mask_id: int      # the mask token's id: 0 in "int" mode, else dropped (-1)
  depth: int        # width of the encoded (non-"int") outputs
  track_docs: int   # 1 in tf_idf mode: adapt also counts documents
  given: int        # 1 when the vocabulary was given: adapt is off


def layout_of(state: StringLookupState) -> Layout:
  """The settings a state carries, read from its ``layout`` array."""
  return Layout(*np.asarray(state.layout).tolist())


def empty_counts() -> TokenCounts:
  """Adapt statistics before any batch."""
  return TokenCounts(packed.empty_packed(), np.zeros((0,), np.int64),
                     np.zeros((0,), np.int64), np.zeros((), np.int64))


# ---------------------------------------------------------------------------
# The stable host API (also used by text_vectorization).
# ---------------------------------------------------------------------------


def vocab_size(state: StringLookupState) -> int:
  """Keras' ``vocabulary_size()``: mask/OOV slots plus vocabulary tokens."""
  return layout_of(state).token_start + len(state.vocabulary)


def table_vocabulary(state: StringLookupState) -> PackedStrings:
  """The vocabulary followed by the mask token (when set): what the lookup
  table holds, so that one probe finds both (cached per vocabulary)."""
  if len(state.mask) == 0:
    return state.vocabulary
  return packed.cached(
      state.vocabulary.offsets, _with_mask_tag(state.mask),
      lambda: packed.concat_packed(state.vocabulary, state.mask))


def _with_mask_tag(mask: PackedStrings) -> str:
  return "with_mask:" + mask.data.tobytes().hex()


def _table_tag(mask: PackedStrings) -> str:
  return "table:" + mask.data.tobytes().hex()


def token_table(state: StringLookupState) -> vocab.TokenTable:
  """The hash table over the vocabulary (and the mask token) of ``state``,
  built once per vocabulary (cached; a vocabulary file's is built as it is
  read).

  text_vectorization keeps it in its state; :func:`lookup_token_ids`
  uses it when not given one.
  """
  def build():
    vocab_bytes = table_vocabulary(state)
    return vocab.build_table(vocab_bytes.data, vocab_bytes.offsets)
  return packed.cached(state.vocabulary.offsets, _table_tag(state.mask),
                       build)


def id_layout(state: StringLookupState) -> lookup.IdLayout:
  """How :func:`token_table` positions become this state's ids."""
  lay = layout_of(state)
  return lookup.id_layout(lay.token_start, lay.num_oov, lay.mask_id,
                          len(state.vocabulary), len(state.mask) > 0)


def lookup_token_ids(state: StringLookupState,
                     tokens: packed.Tokens,
                     table: Optional[vocab.TokenTable] = None,
                     where: str = _WHERE) -> np.ndarray:
  """Maps tokens laid out in a byte buffer to int64 ids, vectorised.

  The core of :func:`lookup_tokens` (and of text_vectorization): one hash
  table probe per token (:func:`prepro_core._src.host.vocab.table_lookup`), exact
  (long tokens' bytes are compared), with no Python object per token.

  Args:
    state: a :class:`StringLookupState`.
    tokens: a :class:`~prepro_core._src.host.packed.Tokens`.
    table: the :func:`token_table` of ``state``; built and cached per
      vocabulary when None.
    where: caller name for error messages.

  Returns:
    ``(n,)`` int64 ids (see :func:`lookup_tokens`).
  """
  vocab_bytes = table_vocabulary(state)
  if table is None:
    table = token_table(state)
  tokens = packed.with_slack(tokens)
  ids = vocab.lookup_ids(table, vocab_bytes.data, vocab_bytes.offsets,
                         tokens, *id_layout(state))
  return _resolve_unknown(state, ids, tokens, where)




def _resolve_unknown(state: StringLookupState, ids: np.ndarray,
                     tokens: packed.Tokens, where: str) -> np.ndarray:
  """Unknown tokens (``UNKNOWN_ID``) to their OOV buckets, or an error."""
  lay = layout_of(state)
  if lay.num_oov == 1:
    return ids
  idx = np.flatnonzero(ids == lookup.UNKNOWN_ID)
  if not len(idx):
    return ids
  if lay.num_oov == 0:
    data = tokens.buf
    bad = sorted({
        data[s:e].tobytes().decode("utf-8", "replace") for s, e in zip(
            tokens.starts[idx[:1000]].tolist(),
            tokens.ends[idx[:1000]].tolist())})
    raise lookup.unknown_error(where, "tokens", bad[:10])
  oov_start = lay.token_start - lay.num_oov
  ids[idx] = oov_buckets(tokens, idx, lay.num_oov, state.salt) + oov_start
  return ids


def kernel_table(state: StringLookupState, fast,
                 table: Optional[vocab.TokenTable] = None) -> vocab.KernelTable:
  """``state``'s table as the fused text kernel of ``fast`` takes it
  (``table``: its :func:`token_table`, e.g. the one text_vectorization's
  state keeps), prepared once per state: a pipeline applies one state to
  batch after batch, and preparing it (3-6 us) costs half as much as
  looking up a batch of 256 tags."""
  if table is None:
    table = token_table(state)

  def build():
    words = table_vocabulary(state)
    return (state.vocabulary.offsets, state.mask.data, table.slots,
            vocab.kernel_table(fast, table, words.data, words.offsets,
                               id_layout(state)))
  offsets, mask, slots, kt = packed.cached(state.layout,
                                           "kernel:" + fast.__name__, build)
  # The entry holds the arrays it was built from, so their ids stay theirs.
  if (offsets is state.vocabulary.offsets and mask is state.mask.data and
      slots is table.slots):
    return kt
  return build()[3]  # a state sharing its layout array with another


def _lookup_str_array(state: StringLookupState, x: np.ndarray,
                      where: str) -> Optional[np.ndarray]:
  """A NumPy ``str_`` array's ids: its code points are encoded, keyed and
  looked up by the host kernels' ``lookup_ucs4`` (numba: in one pass), with
  no packed input (None: use the general path)."""
  n = x.size
  fast = backend.kernels("text", rows=n)
  w = x.dtype.itemsize // 4
  if n == 0 or w == 0 or len(state.vocabulary) == 0:
    return None
  kt = kernel_table(state, fast)
  cps = np.ascontiguousarray(x.reshape(-1)).view(np.uint32).reshape(n, w)
  ids, bad = fast.lookup_ucs4(cps, kt.slots, kt.vdata,
                              table_vocabulary(state).offsets, *kt.id_layout)
  if bad >= 0:
    raise ValueError(
        f"{where}: `inputs` element {bad} holds a code point that cannot be "
        f"encoded as UTF-8 (e.g. a lone surrogate).")
  return _resolve_unknown_strings(state, ids, x.reshape(-1), where)


def _resolve_unknown_strings(state: StringLookupState, ids: np.ndarray,
                             strings: Any, where: str) -> np.ndarray:
  """``ids`` (of the flat ``strings``, a list or array) with their
  ``UNKNOWN_ID``s resolved; only the unknown strings are packed, for their
  OOV hash or the error."""
  unknown = np.flatnonzero(ids == lookup.UNKNOWN_ID)
  if not len(unknown):
    return ids
  picked = (strings[unknown] if isinstance(strings, np.ndarray) else
            [strings[i] for i in unknown.tolist()])
  tokens = inputs.to_tokens(picked, where=where).tokens
  ids[unknown] = _resolve_unknown(state, np.full(len(unknown),
                                                  lookup.UNKNOWN_ID),
                                  tokens, where)
  return ids


def _lookup_str_list(state: StringLookupState, x: Any,
                     where: str) -> Optional[np.ndarray]:
  """A list of ``str``'s (or a StringBatch's) ids in one pass of the fused
  text kernel (numba only; None: use the general path): the strings, each
  ended by a NUL in one UTF-8 buffer (a StringBatch's own bytes), are read
  as text_vectorization's documents are, each one whole token (no
  standardizing, no split), keyed and probed."""
  fast = backend.numba_kernels("text", rows=len(x))
  if fast is None or not len(x) or len(state.vocabulary) == 0:
    return None
  if isinstance(x, packed.StringBatch):
    buf = x.data
    if packed.empty_strings(x).any():  # "": the general path looks it up
      return None
  else:
    try:
      buf = np.frombuffer(("\0".join(x) + "\0").encode("utf-8"), np.uint8)
    except (TypeError, UnicodeEncodeError):  # bytes, non-str, surrogates
      return None
    if "" in x:  # no token to probe: the general path looks "" up
      return None
  kt = kernel_table(state, fast)
  ids = np.zeros((len(x), 1), np.int32)
  found = fast.vectorize_int(buf, len(x), fast.SAME, fast.CLASS_WHOLE,
                             kt.slots, kt.vdata, *kt.id_layout, ids)
  if found != len(x):  # a string holds a NUL
    return None
  if kt.id_layout[3] != lookup.UNKNOWN_ID:  # one OOV slot: all resolved
    return ids.reshape(-1)
  return _resolve_unknown_strings(state, ids.reshape(-1), x, where)


def lookup_tokens(state: StringLookupState, tokens: Any,
                  where: str = _WHERE) -> np.ndarray:
  """Maps a flat sequence of tokens to int32 ids, on the host.

  Known tokens get ``token_start + position``; the mask token gets 0 in int
  mode and -1 (dropped by the encoders) otherwise; unknown tokens go to the
  OOV slot, or with ``num_oov_indices > 1`` to ``Fingerprint64(utf8) % k``
  (SipHash-2-4 keyed by the salt when one is set), as Keras does.

  Args:
    state: a :class:`StringLookupState`.
    tokens: a :class:`~prepro_core._src.host.packed.Tokens`, a list of ``str`` or
      a string array (anything :func:`prepro_core._src.host.inputs.to_tokens`
      takes is flattened).
    where: caller name for error messages.

  Returns:
    ``(n,)`` int32 NumPy array.

  Raises:
    ValueError: with ``num_oov_indices=0`` when a token is not in the
      vocabulary.
  """
  if not isinstance(tokens, packed.Tokens):
    tokens = inputs.to_tokens(tokens, where=where).tokens
  return lookup_token_ids(state, tokens, where=where).astype(np.int32)


def lookup_inputs(state: StringLookupState, x: Any, encoding: str,
                  where: str = _WHERE) -> np.ndarray:
  """``apply``'s ids: int32, shaped like the input ``x`` (any string input).

  A NumPy ``str_`` array takes the one-pass accelerated path when it can.
  """
  if isinstance(x, np.ndarray) and x.dtype.kind == "U":
    ids = _lookup_str_array(state, x, where)
    if ids is not None:
      return ids.astype(np.int32).reshape(x.shape)
  if (type(x) is list and encoding == "utf-8" or  # pylint: disable=unidiomatic-typecheck
      isinstance(x, packed.StringBatch)):
    ids = _lookup_str_list(state, x, where)
    if ids is not None:
      return ids
  tb = inputs.to_tokens(x, encoding, where=where, argname="inputs")
  return lookup_token_ids(state, tb.tokens, where=where).astype(
      np.int32).reshape(tb.shape)


def oov_buckets(tokens: packed.Tokens, idx: np.ndarray, k: int,
                salt: np.ndarray) -> np.ndarray:
  """The OOV bucket in ``[0, k)`` of the tokens at ``idx``.

  Keras: ``to_hash_bucket_fast`` (Fingerprint64 of the UTF-8 bytes), or
  ``to_hash_bucket_strong`` (SipHash-2-4) with a ``(2,)`` ``salt``.
  """
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
                      tokens: packed.Tokens) -> StringLookupState:
  """Adds tokens to the adapt counts; ``tokens.row_splits`` are documents.

  Used by string_lookup's adapt and by text_vectorization (a document is
  one input row, as Keras counts them for tf-idf). Returns a new state.
  """
  track = bool(layout_of(state).track_docs)
  num_docs = len(tokens.row_splits) - 1
  per_token = len(tokens.row_splits) == len(tokens.starts) + 1 and np.all(
      np.diff(tokens.row_splits) == 1)
  data, offsets, counts, doc_counts = vocab.count_distinct(
      tokens, track and not per_token)
  if track and per_token:  # one document per token
    doc_counts = counts
  return add_counts(state, (data, offsets, counts, doc_counts),
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
      :class:`~prepro_core._src.host.packed.Tokens`.
    doc_ids: optional ``(n,)`` ints in ``[0, num_docs)``: the document each
      token comes from. tf_idf document frequencies count a token once per
      document. ``None``: every token is its own document (Keras' rank-1
      adapt).
    num_docs: documents in this call (documents without tokens included);
      defaults to ``max(doc_ids) + 1`` (or ``len(tokens)``).

  Returns:
    The new state.
  """
  if not isinstance(tokens, packed.Tokens):
    tokens = inputs.to_tokens(tokens, where="count_tokens").tokens
  n = len(tokens.starts)
  track = bool(layout_of(state).track_docs)
  if track and doc_ids is not None:
    doc_ids = np.asarray(doc_ids)
    if doc_ids.shape != (n,):
      raise ValueError(
          f"count_tokens: `doc_ids` must have one entry per token, shape "
          f"({n},), got {doc_ids.shape}.")
    table = vocab.count_distinct(tokens, True, doc_ids.astype(np.int64))
    if num_docs is None:
      num_docs = int(doc_ids.max()) + 1 if doc_ids.size else 0
  else:
    table = vocab.count_distinct(tokens, False)
    if track:
      table = table[:3] + (table[2],)
      num_docs = n if num_docs is None else num_docs
  return add_counts(state, table, int(num_docs or 0) if track else 0)


def merge_counts(c: TokenCounts, table: tuple, n_docs: int) -> TokenCounts:
  """``c`` plus a distinct-token table seen in ``n_docs`` documents.

  Args:
    c: the counts so far.
    table: ``(data, offsets, counts, doc_counts)`` of distinct tokens, as
      ``vocab.count_distinct`` returns it (``doc_counts`` (0,) outside tf_idf).
    n_docs: documents the table was counted over (0 outside tf_idf).

  Returns:
    New counts; token order is first-added, so merging is associative (and
    commutative up to that order, which the vocabulary does not depend on).
  """
  data, offsets, counts, doc_counts = vocab.merge_counts(
      (c.tokens.data, c.tokens.offsets, c.counts, c.doc_counts), table)
  return TokenCounts(PackedStrings(data, offsets), counts, doc_counts,
                     np.asarray(int(c.num_docs) + n_docs, np.int64))


def add_counts(state: StringLookupState, table, n_docs: int):
  """``state`` with the distinct-token ``table`` added to its counts."""
  return state._replace(counts=merge_counts(state.counts, table, n_docs))


def encode_lookup_ids(state: StringLookupState, ids, output_mode: str):
  """Encodes ids (from :func:`lookup_tokens`) on device as Keras does.

  ``output_mode`` "int" returns int32 ids; "one_hot"/"multi_hot"/"count"/
  "tf_idf" use the state's depth (``max_tokens`` with ``pad_to_max_tokens``,
  else :func:`vocab_size`) and its idf weights.
  """
  if output_mode == "int":
    return ids
  depth = layout_of(state).depth
  idf = state.idf_weights if output_mode == "tf_idf" else None
  # NumPy inside encoding.host_outputs("numpy") (input-pipeline workers).
  return encoding.encode_host_ids(ids, depth, output_mode, idf_weights=idf)


# ---------------------------------------------------------------------------
# Adapt: from counts to a vocabulary; merging states.
# ---------------------------------------------------------------------------


def special_tokens_mask(cfg: lookup.LookupConfig,
                        tokens: PackedStrings) -> np.ndarray:
  """``(T,)`` bool: False for the mask and OOV tokens (Keras drops their
  counts before ordering the vocabulary), True for the others."""
  n = len(tokens)
  keep = np.ones(n, bool)
  specials_seen = packed.pack(
      [t for t in (cfg.mask_token, cfg.oov_token) if t is not None])
  if n:
    found = vocab.table_lookup(
        vocab.build_table(specials_seen.data, specials_seen.offsets),
        specials_seen.data, specials_seen.offsets,
        packed.Tokens(tokens.data, tokens.offsets[:-1], tokens.offsets[1:],
                    np.array([0, n])))
    keep[found >= 0] = False
  return keep


def learn_vocabulary(cfg: lookup.LookupConfig, counts: TokenCounts):
  """The adapted vocabulary and its idf vector (None outside tf_idf).

  Keras: ``np.lexsort((tokens, counts))[::-1]`` over byte strings: count
  descending, ties by token bytes descending, cut to ``max_tokens``.

  Returns:
    ``(vocabulary, idf)``: :class:`PackedStrings` and a float32 array or
    None.
  """
  data, offsets = counts.tokens.data, counts.tokens.offsets
  rank = vocab.bytes_rank(data, offsets)
  order = lookup.adapted_order(cfg, counts.counts, rank,
                               special_tokens_mask(cfg, counts.tokens))
  words = PackedStrings(*packed.ragged_take(data, offsets[:-1][order],
                                           offsets[1:][order]))
  idf = lookup.adapted_idf(cfg, counts.doc_counts, int(counts.num_docs),
                           order)
  return words, idf


def merge_states(a: StringLookupState, b: StringLookupState,
                 track_docs: bool, where: str = _WHERE) -> StringLookupState:
  """``a`` with ``b``'s adapt counts added (the transform's ``merge``).

  Raises:
    ValueError: the states' settings differ, or their fixed vocabularies.
  """
  settings = lambda s: (layout_of(s)._replace(depth=0), s.salt.tolist(),
                        packed.unpack(s.specials) + packed.unpack(s.mask))
  if settings(a) != settings(b):
    raise ValueError(
        f"{where}.merge: the two states come from string_lookup transforms "
        f"with different settings (mask/OOV layout, output mode or salt); "
        f"merge only states of the same transform.")
  if layout_of(a).given or layout_of(b).given:
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
  return add_counts(a, (t.tokens.data, t.tokens.offsets, t.counts,
                         t.doc_counts if track_docs else
                         np.zeros(0, np.int64)), int(t.num_docs))


def invert_ids(state: StringLookupState, x: Any, oov_token: str,
               where: str = _WHERE) -> np.ndarray:
  """Ids back to tokens (``invert=True``); ids outside the table give
  ``oov_token``. A NumPy ``str_`` array shaped like ``x``."""
  ids = np.asarray(x)
  if ids.dtype.kind not in "iu":
    raise TypeError(f"{where}: with `invert=True`, `inputs` must be integer "
                    f"ids, got dtype {ids.dtype}.")
  table = packed.cached(
      state.vocabulary.offsets, "invert",
      lambda: np.array(state.vocabulary_in_order() + [oov_token],
                       dtype=object))
  n = table.shape[0] - 1
  ids = ids.astype(np.int64)
  ids = np.where((ids >= 0) & (ids < n), ids, n)
  return table[ids].astype(str)


# ---------------------------------------------------------------------------
# The transform.
# ---------------------------------------------------------------------------


def _as_token(value, argname: str, encoding: str, where: str):
  if value is None:
    return None
  if isinstance(value, bytes):
    return inputs.as_strings(value, encoding, where=where,
                           argname=argname).tokens[0]
  if isinstance(value, str):
    return str(value)
  raise TypeError(f"{where}: `{argname}` must be a str (or None), got "
                  f"{value!r}.")


def read_vocabulary(vocabulary: Any, encoding: str,
                    where: str = _WHERE) -> list:
  """A ``vocabulary`` argument (a file path or a sequence) as a list of str."""
  if lookup.is_vocabulary_path(vocabulary):
    return vocab.read_vocabulary_file(lookup.vocabulary_path(vocabulary),
                                      encoding, where=where)
  return inputs.vocabulary_list(vocabulary, encoding, where, "vocabulary")


_APPLY = f"{_WHERE}.apply"


class _Config(NamedTuple):
  """string_lookup's checked arguments, and what they pack to once."""
  lookup: lookup.LookupConfig
  encoding: str
  salt: np.ndarray                 # (0,) or (2,) uint64
  specials: PackedStrings          # Keras' mask/OOV prefix
  mask: PackedStrings              # (0,) or (1,)
  given: Optional[PackedStrings]   # a given vocabulary (prefix stripped)
  given_idf: Optional[np.ndarray]


def _check_args(max_tokens, num_oov_indices, mask_token, oov_token,
                vocabulary, idf_weights, invert, output_mode,
                pad_to_max_tokens, encoding, salt) -> _Config:
  where = _WHERE
  checks.check_encoding(encoding, where)
  mask_token = _as_token(mask_token, "mask_token", encoding, where)
  oov_token = _as_token(oov_token, "oov_token", encoding, where)
  if oov_token is None:
    raise TypeError(f"{where}: `oov_token` must be a str, got None.")
  cfg = lookup.LookupConfig(where, max_tokens, num_oov_indices, mask_token,
                            oov_token, output_mode, pad_to_max_tokens, invert)
  cfg = lookup.check_config(cfg, idf_weights, vocabulary)
  salt_arr = np.array(checks.check_salt(salt, where) or (), np.uint64)
  given, given_idf = None, None
  mask = packed.pack([] if cfg.mask_token is None else [cfg.mask_token])
  if vocabulary is not None and lookup.is_vocabulary_path(vocabulary):
    given, given_idf = read_file_vocabulary(
        cfg, lookup.vocabulary_path(vocabulary), encoding, idf_weights, mask)
  elif vocabulary is not None:
    tokens, given_idf = lookup.split_vocabulary(
        cfg, read_vocabulary(vocabulary, encoding, where), idf_weights)
    # Packed once: every init shares these arrays (and their cached tables).
    given = packed.pack(tokens)
    packed.seed_cache(given.offsets, "list", list(tokens))
  return _Config(cfg, encoding, salt_arr,
                 packed.pack(lookup.special_prefix(cfg)), mask, given,
                 given_idf)


def read_file_vocabulary(cfg: lookup.LookupConfig, path: str, encoding: str,
                         idf_weights, mask: PackedStrings):
  """A vocabulary file as packed tokens, checked as a list would be, with no
  Python object per token.

  The file's bytes become the vocabulary in place, with the mask token laid
  out after it (what :func:`table_vocabulary` needs); one hash table over
  both finds repeated tokens (and the mask token among them) and is kept for
  the lookups.

  Returns:
    ``(tokens, idf)``: the vocabulary without Keras' special prefix, and
    the idf vector (or None outside tf_idf).
  """
  words = vocab.read_vocabulary_packed(path, encoding, where=cfg.where,
                                       append=[mask.data.tobytes()] *
                                       len(mask))
  n_lines = len(words) - len(mask)
  head = packed.unpack(packed.slice_packed(words, 0, min(
      n_lines, len(lookup.special_prefix(cfg)))))
  skip = lookup.special_prefix_length(cfg, head)
  with_mask = words
  if skip:  # drop the prefix; rebased in place, `words` being ours alone
    base = int(words.offsets[skip])
    offsets = words.offsets[skip:]
    offsets -= base
    with_mask = PackedStrings(words.data[base:], offsets)
  table, repeat = vocab.build_table_and_find_repeat(with_mask.data,
                                                    with_mask.offsets)
  n_tokens = n_lines - skip
  oov_at = -1
  if cfg.invert:
    oov = packed.pack([cfg.oov_token])
    oov_at = int(vocab.table_lookup(
        table, with_mask.data, with_mask.offsets,
        packed.Tokens(oov.data, oov.offsets[:-1], oov.offsets[1:],
                      np.array([0, 1])))[0])
    oov_at = oov_at if oov_at < n_tokens else -1  # the mask is no token
  token_at = lambda i: packed.unpack(packed.slice_packed(with_mask, i,
                                                         i + 1))[0]
  idf = lookup.check_file_vocabulary(cfg, path, n_lines, skip, repeat,
                                     oov_at, token_at, idf_weights)
  tokens = packed.slice_packed(with_mask, 0, n_tokens)
  if len(mask):
    packed.seed_cache(tokens.offsets, _with_mask_tag(mask), with_mask)
  packed.seed_cache(tokens.offsets, _table_tag(mask), table)
  return tokens, idf


def make_state(conf: _Config, words: PackedStrings, idf: Optional[np.ndarray],
               counts: TokenCounts, given: bool) -> StringLookupState:
  """A state over the vocabulary ``words`` with the settings of ``conf``."""
  cfg = conf.lookup
  layout = np.array(Layout(
      lookup.token_start(cfg), cfg.num_oov_indices, lookup.mask_id(cfg),
      lookup.output_depth(cfg, len(words)),
      int(cfg.output_mode == "tf_idf"), int(given)), np.int64)
  idf = np.zeros((0,), np.float32) if idf is None else idf
  return StringLookupState(words, conf.specials, conf.mask, layout,
                           conf.salt, idf, counts)


def _check_sample(sample: Any, where: str, invert: bool = False) -> None:
  """``init``'s sample: strings, or with ``invert`` also the integer ids
  that ``apply`` then takes (a Flax layer builds from its first input)."""
  checks.check_on_host(f"{where}.init", sample=sample)
  if sample is not None and not isinstance(sample, (list, tuple, str, bytes)):
    dtype = getattr(sample, "dtype", None)
    if dtype is None or np.dtype(dtype).kind not in "biufc":
      return
    if invert and np.dtype(dtype).kind in "iu":
      return
    if invert:
      raise TypeError(
          f"{where}: with `invert=True`, `sample` must be integer ids (what "
          f"apply takes) or strings (what adapt takes), got numbers of dtype "
          f"{np.dtype(dtype)}.")
    raise inputs.type_error(where, "sample",
                            f"numbers of dtype {np.dtype(dtype)}")


def batch_tokens(batch: Any, encoding: str,
                 where: str = _WHERE) -> packed.Tokens:
  """An adapt batch as Tokens, one document per row (ragged rows allowed)."""
  tb = inputs.to_tokens(batch, encoding, where=f"{where}.adapt",
                        argname="batch", allow_ragged=True)
  if len(tb.tokens.starts) == 0:
    raise ValueError(f"{where}.adapt: `batch` must hold at least one "
                     f"string, got no strings; adapt needs at least one token.")
  return tb.tokens


# Over 80 lines only by its docstring (Keras' arguments, each documented);
# the body is wiring: checks, then closures over the functions above.
@transform_factory
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
                  salt: Any = None,
                  missing: Optional[str] = None) -> transform.Transform:
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
    missing: not in Keras (None, its behaviour, is the default): "oov" or
      "mask" (see ``host/missing.py``): None, NaN and "" take that index.

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
  conf = _check_args(max_tokens, num_oov_indices, mask_token, oov_token,
                     vocabulary, idf_weights, invert, output_mode,
                     pad_to_max_tokens, encoding, salt)
  cfg = conf.lookup
  track_docs = cfg.output_mode == "tf_idf"
  missing_id = lookup.missing_id(cfg, missing)

  def init(sample=None):
    _check_sample(sample, _WHERE, cfg.invert)
    if conf.given is not None:
      return make_state(conf, conf.given, conf.given_idf, empty_counts(), True)
    return make_state(conf, packed.empty_packed(), lookup.initial_idf(cfg),
                      empty_counts(), False)

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: merge per-shard states instead
    checks.check_on_host(f"{_WHERE}.adapt", todo=lookup.ADAPT_ON_HOST,
                         state=state, batch=batch)
    if missing_id is not None:  # missing values are not counted
      batch = missing_values.without_missing(batch, True, f"{_WHERE}.adapt",
                                             "batch")
      if batch is None:
        return state
    return count_token_batch(state, batch_tokens(batch, encoding))

  def finalize(state):
    checks.check_on_host(f"{_WHERE}.adapt", todo=lookup.ADAPT_ON_HOST,
                         state=state)
    if layout_of(state).given:
      return state
    words, idf = learn_vocabulary(cfg, state.counts)
    return make_state(conf, words, idf, state.counts, False)

  def combine(a, b):
    checks.check_on_host(f"{_WHERE}.merge", todo=lookup.MERGE_ON_HOST,
                         a=a, b=b)
    return merge_states(a, b, track_docs)

  def apply(state, x, key=None):
    del key
    checks.check_on_host(_APPLY, state=state, inputs=x)
    if cfg.invert:
      return invert_ids(state, x, cfg.oov_token)
    gaps = None
    if missing_id is not None:
      x, gaps = missing_values.split_strings(x, _WHERE, "inputs")
    ids = missing_values.fill_ids(lookup_inputs(state, x, encoding), gaps,
                                  missing_id)
    if cfg.output_mode == "int":
      return ids
    lookup.check_has_vocabulary(cfg, len(state.vocabulary))
    return encode_lookup_ids(state, ids, cfg.output_mode)

  return transform.make_transform(
      _WHERE,
      init=init,
      apply=apply,
      accumulate=None if conf.given is not None else accumulate,
      combine=combine,
      finalize=finalize,
      on_host=True,
      state_type=StringLookupState)
