"""integer_lookup: Keras' ``IntegerLookup``, applied on device under jit.

Adapt counts values on the host (mergeable counts); ``apply`` is pure
``jax.numpy``: one gather in a dense id table when the vocabulary's values
span a small enough range, else a binary search in the sorted vocabulary,
then the OOV, mask and encoding rules of Keras' ``IndexLookup``. It jits, vmaps and runs under
``pmap``/``shard_map`` like any numeric transform.

JAX runs in 32-bit mode by default, so values and ids are int32
(``vocabulary_dtype="int32"``); Keras uses int64. ``vocabulary_dtype="int64"``
needs ``jax.config.update("jax_enable_x64", True)``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks

from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core import transform
from prepro_core._src.lookup import table as lookup
from prepro_core._src.host import missing as missing_values
from prepro_core._src.host import vocab
from prepro_core._src.numeric.encoding import encode_ids

_WHERE = "integer_lookup"
_WHY_HOST = "it builds a vocabulary of data-dependent size"


class IntegerCounts(NamedTuple):
  """Adapt statistics: distinct values seen, with their counts."""
  values: np.ndarray      # (T,) int64, ascending
  counts: np.ndarray      # (T,) int64: occurrences
  doc_counts: np.ndarray  # (T,) int64: documents holding the value (tf_idf), else (0,)
  num_docs: np.ndarray    # () int64: documents seen (tf_idf), else 0


class IntegerLookupState(NamedTuple):
  """State of :func:`integer_lookup`."""
  vocabulary: Any     # (V,) values in index order (index token_start + i)
  sorted_values: Any  # (V,) the vocabulary ascending, for the binary search
  sorted_ids: Any     # (V,) int32: index of each sorted value
  dense_ids: Any      # (R,) int32: id of value dense_base + i (-1: none); (0,) when too sparse
  dense_base: Any     # () the smallest vocabulary value (0 when empty)
  specials: Any       # (token_start,) Keras' prefix: [mask]*oov_start + [oov]*num_oov
  idf_weights: Any    # (depth,) float32 in tf_idf mode, else (0,)
  counts: IntegerCounts

  def vocabulary_in_order(self) -> list:
    """Keras' ``get_vocabulary()``: mask, OOV tokens, then the vocabulary."""
    return (np.asarray(self.specials).tolist() +
            np.asarray(self.vocabulary).tolist())


class OovRule(NamedTuple):
  """Where values outside the vocabulary go (Keras' ``IndexLookup``)."""
  num_oov: int       # 0: nowhere (-1, an error when eager); 1: one slot
  oov_start: int     # id of the first OOV slot
  method: str        # "floormod" or "farmhash", with num_oov > 1
  salt: np.ndarray   # (0,) or (2,) uint64: SipHash key for "farmhash"


# ---------------------------------------------------------------------------
# Adapt: counting values, merging counts, learning the vocabulary.
# ---------------------------------------------------------------------------


def empty_counts() -> IntegerCounts:
  """Adapt statistics before any batch."""
  return IntegerCounts(np.zeros((0,), np.int64), np.zeros((0,), np.int64),
                       np.zeros((0,), np.int64), np.zeros((), np.int64))


def count_values(arr: np.ndarray, track_docs: bool) -> IntegerCounts:
  """The counts of one batch of int64 values.

  With ``track_docs`` (tf_idf), axis 0 indexes documents: a rank-0 or
  rank-1 batch is one document per value, a rank-2 batch one per row.
  """
  values, counts = np.unique(arr, return_counts=True)
  if not track_docs:
    return IntegerCounts(values, counts, np.zeros((0,), np.int64),
                         np.zeros((), np.int64))
  if arr.ndim <= 1:  # one document per value (per row of length 1)
    doc_counts, n_docs = counts, max(arr.size, 1) if arr.ndim else 1
  else:
    rows = np.sort(arr.reshape(arr.shape[0], -1), axis=1)
    first = np.ones(rows.shape, bool)
    first[:, 1:] = rows[:, 1:] != rows[:, :-1]
    _, doc_counts = np.unique(rows[first], return_counts=True)
    n_docs = rows.shape[0]
  return IntegerCounts(values, counts, doc_counts,
                       np.asarray(n_docs, np.int64))


def merge_counts(a: IntegerCounts, b: IntegerCounts,
                 track_docs: bool) -> IntegerCounts:
  """``a`` plus ``b``: counts added per distinct value (a new table).

  Associative and commutative; document counts are added only with
  ``track_docs`` (otherwise ``a``'s empty ones are kept).
  """
  uniq, inv = np.unique(np.concatenate([a.values, b.values]),
                        return_inverse=True)
  out = np.zeros(uniq.shape[0], np.int64)
  np.add.at(out, inv, np.concatenate([a.counts, b.counts]))
  docs = a.doc_counts
  if track_docs:
    docs = np.zeros(uniq.shape[0], np.int64)
    np.add.at(docs, inv, np.concatenate([a.doc_counts, b.doc_counts]))
  return IntegerCounts(uniq, out, docs,
                       np.asarray(a.num_docs + int(b.num_docs), np.int64))


def learn_vocabulary(cfg: lookup.LookupConfig, counts: IntegerCounts):
  """The adapted vocabulary (values in index order) and its idf vector.

  Keras' order: count descending, ties by value descending, the mask and
  OOV tokens left out, cut to ``max_tokens``.

  Returns:
    ``(values, idf)``: int64 values and a float32 array (None outside
    tf_idf).
  """
  keep = np.ones(counts.values.shape[0], bool)
  for special in (cfg.mask_token, cfg.oov_token):
    if special is not None:
      keep &= counts.values != special
  order = lookup.adapted_order(cfg, counts.counts, counts.values, keep)
  idf = lookup.adapted_idf(cfg, counts.doc_counts, int(counts.num_docs),
                           order)
  return counts.values[order], idf


# ---------------------------------------------------------------------------
# Apply: the id tables and the lookup on device.
# ---------------------------------------------------------------------------


def dense_id_table(tokens: np.ndarray, start: int):
  """``(dense_ids, base)``: the id of every value in the vocabulary's range.

  Used when the range is small enough (at most ``max(4 * V, 2**20)``
  entries, 4 bytes each), so that a lookup is one gather; otherwise
  ``dense_ids`` is empty and apply binary-searches the sorted vocabulary.
  """
  n = tokens.shape[0]
  if n == 0:
    return np.zeros((0,), np.int32), 0
  lo, hi = int(tokens.min()), int(tokens.max())
  size = hi - lo + 1
  if size > max(4 * n, 1 << 20):
    return np.zeros((0,), np.int32), 0
  dense = np.full(size, -1, np.int32)
  dense[tokens.astype(np.int64) - lo] = start + np.arange(n, dtype=np.int32)
  return dense, lo


def _floormod(x, k: int):
  """Keras' integer OOV bucket: ``floormod(x, k)`` (sign of the divisor)."""
  return jnp.remainder(x, jnp.asarray(k, x.dtype))


def oov_ids(x, rule: OovRule):
  """The int32 ids of values ``x`` that are not in the vocabulary."""
  k = rule.num_oov
  oov_start = rule.oov_start
  if k == 0:
    return jnp.full(x.shape, -1, jnp.int32)
  if k == 1:
    return jnp.full(x.shape, oov_start, jnp.int32)
  if rule.method == "floormod":
    return _floormod(x, k).astype(jnp.int32) + oov_start
  salt_arr = rule.salt
  from prepro_core._src.hashing import device_hash, u64  # pylint: disable=g-import-not-at-top
  if salt_arr.shape[0] == 2:
    hi, lo = device_hash.siphash64_ints(x, int(salt_arr[0]), int(salt_arr[1]))
  else:
    hi, lo = device_hash.fingerprint64_ints(x)
  return u64.mod_u64(hi, lo, k).astype(jnp.int32) + oov_start


def lookup_values(sorted_values, sorted_ids, dense_ids, dense_base, x, *,
                  rule: OovRule, mask_token: Optional[int], mask_id: int):
  """int32 ids of the values ``x`` (pure ``jax.numpy``; jit it).

  A gather in ``dense_ids`` when the state has one, else a binary search
  in ``sorted_values``; values not found get :func:`oov_ids`, the mask
  token gets ``mask_id``.
  """
  n = sorted_values.shape[0]
  size = dense_ids.shape[0]
  if size:
    # One gather at x - min. The difference is taken in the unsigned type
    # of the same width, so that it wraps instead of overflowing: values
    # below the minimum land far above `size` and miss, like those above.
    udt = jnp.uint64 if x.dtype.itemsize == 8 else jnp.uint32
    off = x.astype(udt) - dense_base.astype(x.dtype).astype(udt)
    inside = off < size
    found = dense_ids[jnp.where(inside, off, 0).astype(jnp.int32)]
    ids = jnp.where(inside & (found >= 0), found, oov_ids(x, rule))
  elif n:
    keys = sorted_values.astype(x.dtype)
    # "scan" is the fastest method on CPU (measured against "sort" and
    # "scan_unrolled"; "compare_all" is O(V * n)).
    pos = jnp.clip(jnp.searchsorted(keys, x, method="scan"), 0, n - 1)
    found = keys[pos] == x
    ids = jnp.where(found, sorted_ids[pos], oov_ids(x, rule))
  else:
    ids = oov_ids(x, rule)
  if mask_token is not None:
    ids = jnp.where(x == mask_token, mask_id, ids)
  return ids.astype(jnp.int32)


def table_arrays(state: IntegerLookupState, dtype) -> tuple:
  """The arrays :func:`lookup_values` reads, as jax arrays."""
  return (jnp.asarray(state.sorted_values, dtype),
          jnp.asarray(state.sorted_ids, jnp.int32),
          jnp.asarray(state.dense_ids, jnp.int32),
          jnp.asarray(state.dense_base, dtype))


def encode_lookup_ids(cfg: lookup.LookupConfig, state: IntegerLookupState,
                      ids):
  """"one_hot"/"multi_hot"/"count"/"tf_idf" rows of the ids, on device.

  The width is ``max_tokens`` with ``pad_to_max_tokens``, else the mask/OOV
  slots plus the vocabulary.
  """
  n_tokens = int(np.shape(state.vocabulary)[0])
  lookup.check_has_vocabulary(cfg, n_tokens)
  idf = state.idf_weights if cfg.output_mode == "tf_idf" else None
  return encode_ids(ids, lookup.output_depth(cfg, n_tokens), cfg.output_mode,
                    idf_weights=idf)


def lookup_and_encode(cfg: lookup.LookupConfig, dtype, lookup_core,
                      missing_id: Optional[int], state: IntegerLookupState,
                      x) -> Any:
  """``apply`` (not inverted): ids of ``x``, encoded in ``cfg.output_mode``;
  with a ``missing=`` policy, host inputs' gaps take ``missing_id``."""
  gaps = None
  if missing_id is not None and isinstance(x, (np.ndarray, list, tuple)):
    x, gaps = missing_values.split_integers(x, _WHERE, "inputs")
  x = check_input(x, dtype)
  ids = lookup_core(*table_arrays(state, dtype), x)
  if cfg.num_oov_indices == 0:
    check_known(x, ids)
  if gaps is not None:
    ids = jnp.where(gaps, jnp.asarray(missing_id, ids.dtype), ids)
  if cfg.output_mode == "int":
    return ids
  return encode_lookup_ids(cfg, state, ids)


def check_known(x, ids, where: str = _WHERE) -> None:
  """With no OOV slot, eager unknown values (id -1) are an error.

  A no-op under jit, where a traced function cannot raise.
  """
  if checks.is_concrete(ids):
    bad = np.asarray(x)[np.asarray(ids) == -1]
    if bad.size:
      raise lookup.unknown_error(where, "values",
                                 np.unique(bad)[:10].tolist())


def invert_ids(state: IntegerLookupState, ids, oov_token: int, dtype,
               where: str = _WHERE):
  """Ids back to values (``invert=True``); ids outside give ``oov_token``."""
  ids = jnp.asarray(ids)
  if not jnp.issubdtype(ids.dtype, jnp.integer):
    raise TypeError(f"{where}: with `invert=True`, `inputs` must be integer "
                    f"ids, got dtype {ids.dtype}.")
  table = jnp.concatenate([jnp.asarray(state.specials, dtype),
                           jnp.asarray(state.vocabulary, dtype)])
  n = table.shape[0]
  valid = (ids >= 0) & (ids < n)
  if n == 0:
    return jnp.full(ids.shape, oov_token, dtype)
  return jnp.where(valid, table[jnp.clip(ids, 0, n - 1)],
                   jnp.asarray(oov_token, dtype))


# ---------------------------------------------------------------------------
# Inputs and arguments.
# ---------------------------------------------------------------------------


def host_array(x, argname: str, where: str = _WHERE) -> np.ndarray:
  """``np.asarray(x)``, with prepro's error for ragged nested lists."""
  try:
    return np.asarray(x)
  except ValueError:
    raise ValueError(
        f"{where}: `{argname}` must be a rectangular array of integers, got "
        f"ragged nested lists ({type(x).__name__} of length {len(x)}); pad "
        f"the rows to one length (e.g. with the mask token) first.") from None


def as_values(x, argname: str, dtype, where: str = _WHERE) -> np.ndarray:
  """Host integers as int64, checked to fit ``dtype`` (the lookup's)."""
  info = np.iinfo(dtype)
  arr = host_array(x, argname, where)
  if arr.dtype.kind not in "iu" and not (arr.size == 0 and
                                         arr.dtype.kind == "f"):
    raise TypeError(f"{where}: `{argname}` must hold integers, got dtype "
                    f"{arr.dtype}.")
  arr = arr.astype(np.int64) if arr.dtype.kind == "i" or arr.size == 0 else arr
  if arr.size and (arr.min() < info.min or arr.max() > info.max):
    raise ValueError(
        f"{where}: `{argname}` has values outside the {np.dtype(dtype)} "
        f"range [{info.min}, {info.max}]; use vocabulary_dtype='int64' with "
        f"jax_enable_x64.")
  return arr.astype(np.int64)


def batch_values(batch, dtype, where: str = _WHERE) -> np.ndarray:
  """An adapt batch as int64 values (eager only; at least one value)."""
  checks.check_on_host(f"{where}.adapt", why=_WHY_HOST,
                       todo=lookup.ADAPT_ON_HOST, batch=batch)
  arr = as_values(batch, "batch", dtype, where)
  if arr.size == 0:
    raise ValueError(f"{where}.adapt: `batch` is empty; adapt needs at "
                     f"least one value.")
  return arr


def check_input(x, dtype, where: str = _WHERE):
  """``apply``'s input as a jax integer array of the lookup's dtype."""
  if checks.is_concrete(x) and not isinstance(x, jax.Array):
    return jnp.asarray(as_values(x, "inputs", dtype, where), dtype)
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.integer):
    raise TypeError(f"{where}: `inputs` must hold integers, got dtype "
                    f"{x.dtype}.")
  return x.astype(dtype)


def read_vocabulary(vocabulary, dtype, where: str = _WHERE) -> np.ndarray:
  """A ``vocabulary`` argument (a file of ints, one a line, or a 1-D
  sequence) as int64 values that fit ``dtype``."""
  if lookup.is_vocabulary_path(vocabulary):
    path = lookup.vocabulary_path(vocabulary)
    lines = vocab.read_vocabulary_file(path, where=where)
    try:
      vocab_arr = np.array([int(l) for l in lines], np.int64)
    except ValueError:
      raise ValueError(f"{where}: `vocabulary` file {path!r} must hold one "
                       f"integer per line.") from None
  else:
    vocab_arr = as_values(vocabulary, "vocabulary", dtype, where)
    if vocab_arr.ndim != 1:
      raise ValueError(f"{where}: `vocabulary` must be 1-D, got shape "
                       f"{vocab_arr.shape}.")
  return as_values(vocab_arr, "vocabulary", dtype, where)


class _Config(NamedTuple):
  """integer_lookup's checked arguments."""
  lookup: lookup.LookupConfig
  dtype: np.dtype
  oov: OovRule
  specials: np.ndarray             # Keras' mask/OOV prefix, of dtype
  given: Optional[np.ndarray]      # a given vocabulary (prefix stripped)
  given_idf: Optional[np.ndarray]


def _check_args(max_tokens, num_oov_indices, mask_token, oov_token,
                vocabulary, vocabulary_dtype, idf_weights, invert,
                output_mode, pad_to_max_tokens, oov_method, salt) -> _Config:
  where = _WHERE
  cfg = lookup.LookupConfig(
      where, max_tokens, num_oov_indices,
      checks.check_int(mask_token, "mask_token", where, allow_none=True),
      checks.check_int(oov_token, "oov_token", where),
      output_mode, pad_to_max_tokens, invert)
  cfg = lookup.check_config(cfg, idf_weights, vocabulary)
  checks.check_choice(oov_method, "oov_method", ("floormod", "farmhash"), where)
  checks.check_choice(vocabulary_dtype, "vocabulary_dtype", ("int32", "int64"),
                      where)
  if vocabulary_dtype == "int64" and not jax.config.jax_enable_x64:
    raise ValueError(
        f"{where}: vocabulary_dtype='int64' needs 64-bit JAX "
        f"(jax.config.update('jax_enable_x64', True)); JAX's default is "
        f"32-bit, so use vocabulary_dtype='int32'.")
  if salt is not None and oov_method != "farmhash":
    raise ValueError(f"{where}: `salt` is only used with "
                     f"oov_method='farmhash', got oov_method={oov_method!r}.")
  salt_arr = np.array(checks.check_salt(salt, where) or (), np.uint64)
  dtype = np.dtype(vocabulary_dtype)
  for special, argname in ((cfg.mask_token, "mask_token"),
                           (cfg.oov_token, "oov_token")):
    if special is not None:
      as_values(np.array([special]), argname, dtype, where)
  given, given_idf = None, None
  if vocabulary is not None:
    tokens, given_idf = lookup.split_vocabulary(
        cfg, read_vocabulary(vocabulary, dtype, where).tolist(), idf_weights)
    given = np.array(tokens, np.int64)
  rule = OovRule(cfg.num_oov_indices, lookup.oov_start(cfg), oov_method,
                 salt_arr)
  return _Config(cfg, dtype, rule, np.array(lookup.special_prefix(cfg), dtype),
                 given, given_idf)


def make_state(conf: _Config, tokens: np.ndarray, idf: Optional[np.ndarray],
               counts: IntegerCounts) -> IntegerLookupState:
  """A state over the vocabulary ``tokens`` (in index order)."""
  start = lookup.token_start(conf.lookup)
  tokens = np.asarray(tokens, conf.dtype)
  order = np.argsort(tokens, kind="stable")
  ids = (start + order).astype(np.int32)
  idf = np.zeros((0,), np.float32) if idf is None else idf
  dense, lo = dense_id_table(tokens, start)
  return IntegerLookupState(tokens, tokens[order], ids, dense,
                            np.asarray(lo, conf.dtype), conf.specials, idf,
                            counts)


def _check_sample(sample, where: str, with_missing: bool = False) -> None:
  if sample is not None and with_missing:
    missing_values.split_integers(sample, where, "sample")  # raises if not
  elif sample is not None:
    dt = getattr(sample, "dtype", None)
    if dt is None:
      dt = host_array(sample, "sample", where).dtype
    if np.dtype(dt).kind not in "iu":
      raise TypeError(f"{where}: `sample` (or the `data` given to "
                      f"pc.adapt) must hold integers, got dtype "
                      f"{np.dtype(dt)}.")


def merge_states(a: IntegerLookupState, b: IntegerLookupState,
                 track_docs: bool, given: bool,
                 where: str = _WHERE) -> IntegerLookupState:
  """``a`` with ``b``'s adapt counts added (the transform's ``merge``)."""
  settings = lambda st: (np.asarray(st.specials).tolist(),
                         np.size(st.idf_weights) > 0)
  if settings(a) != settings(b):
    raise ValueError(
        f"{where}.merge: the two states come from integer_lookup transforms "
        f"with different settings (mask/OOV tokens, num_oov_indices or "
        f"output_mode='tf_idf'); merge only states of the same transform.")
  if given:
    return a
  return a._replace(counts=merge_counts(a.counts, b.counts, track_docs))


# Over 80 lines only by its docstring (Keras' arguments, each documented);
# the body is wiring: checks, then closures over the functions above.
@transform_factory
def integer_lookup(max_tokens: Optional[int] = None,
                   num_oov_indices: int = 1,
                   mask_token: Optional[int] = None,
                   oov_token: int = -1,
                   vocabulary: Any = None,
                   vocabulary_dtype: str = "int32",
                   idf_weights: Any = None,
                   invert: bool = False,
                   output_mode: str = "int",
                   pad_to_max_tokens: bool = False,
                   oov_method: str = "floormod",
                   salt: Any = None,
                   missing: Optional[str] = None) -> transform.Transform:
  """Maps integers to (possibly encoded) indices, like Keras' ``IntegerLookup``.

  Index layout (mask at 0 in "int" mode, then the OOV slots, then the
  vocabulary), adapt order (count descending, ties by value descending),
  ``max_tokens`` truncation (mask and OOV slots included), OOV buckets
  (``floormod(x, num_oov_indices)``, or FarmHash Fingerprint64 of the decimal
  string with ``oov_method="farmhash"``, SipHash-2-4 with a ``salt``) and
  tf-idf (``log(1 + num_docs / (1 + doc_count))``, OOV slots get the mean)
  follow Keras. In adapt, axis 0 indexes documents (tf_idf): a rank-1 batch
  is one document per value, a rank-2 batch one per row.

  ``apply`` runs on device and jits. With ``num_oov_indices=0`` an unknown
  value raises ``ValueError`` eagerly; under jit it maps to -1 (encoded as
  all zeros) since a traced function cannot raise.

  Args:
    max_tokens: cap on the vocabulary size, mask and OOV slots included.
    num_oov_indices: OOV slots; 0 makes unknown values an error.
    mask_token: a value mapped to 0 in "int" mode (dropped in other modes).
    oov_token: returned by ``invert=True`` for OOV and unknown ids.
    vocabulary: a list/tuple/array of ints, or a path to a file with one int
      per line (Keras' special prefix, if present, is stripped).
    vocabulary_dtype: "int32" (JAX's default) or "int64" (needs x64).
    idf_weights: one weight per vocabulary entry (tf_idf with a vocabulary).
    invert: map ids back to values (``output_mode="int"`` only).
    output_mode: "int", "one_hot", "multi_hot", "count" or "tf_idf".
    pad_to_max_tokens: encoded outputs get ``max_tokens`` columns.
    oov_method: "floormod" (Keras' default) or "farmhash".
    salt: with ``oov_method="farmhash"``: an int or a pair of ints, the
      SipHash-2-4 key.
    missing: not in Keras (None, its behaviour, is the default): "oov" or
      "mask" (see ``host/missing.py``): None and NaN take that index; host
      inputs may then be whole-valued floats (2.5 raises).

  Returns:
    A :class:`~prepro_core._src.transform.Transform`. Adapt runs on the host
    (``on_host=True``: ``pc.adapt`` does not trace it); ``apply`` is jittable.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.integer_lookup(vocabulary=[12, 36, 1138, 42])
    >>> s = t.init(None)
    >>> np.asarray(t.apply(s, np.array([[12, 1138, 42], [42, 1000, 36]]))).tolist()
    [[1, 3, 4], [4, 0, 2]]
  """
  conf = _check_args(max_tokens, num_oov_indices, mask_token, oov_token,
                     vocabulary, vocabulary_dtype, idf_weights, invert,
                     output_mode, pad_to_max_tokens, oov_method, salt)
  cfg, dtype = conf.lookup, conf.dtype
  track_docs = cfg.output_mode == "tf_idf"
  missing_id = lookup.missing_id(cfg, missing)
  # Jitted as a whole: eager calls compile once instead of dispatching the
  # hashing kernels op by op; under an outer jit it is simply inlined.
  lookup_core = jax.jit(functools.partial(
      lookup_values, rule=conf.oov, mask_token=cfg.mask_token,
      mask_id=lookup.mask_id(cfg)))

  def init(sample=None):
    _check_sample(sample, _WHERE, missing_id is not None)
    if conf.given is not None:
      return make_state(conf, conf.given, conf.given_idf, empty_counts())
    return make_state(conf, np.zeros((0,), np.int64), lookup.initial_idf(cfg),
                      empty_counts())

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: adapt shards, then merge their states
    checks.check_on_host(f"{_WHERE}.adapt", why=_WHY_HOST,
                         todo=lookup.ADAPT_ON_HOST, state=state, batch=batch)
    if missing_id is not None:  # missing values are not counted
      batch = missing_values.without_missing(batch, False, f"{_WHERE}.adapt",
                                             "batch")
      if batch is None:
        return state
    counts = count_values(batch_values(batch, dtype), track_docs)
    return state._replace(
        counts=merge_counts(state.counts, counts, track_docs))

  def finalize(state):
    if conf.given is not None:
      return state
    checks.check_on_host(f"{_WHERE}.adapt", why=_WHY_HOST,
                         todo=lookup.ADAPT_ON_HOST, state=state)
    values, idf = learn_vocabulary(cfg, state.counts)
    return make_state(conf, values, idf, state.counts)

  def combine(a, b):
    checks.check_on_host(f"{_WHERE}.merge", why=_WHY_HOST,
                         todo=lookup.MERGE_ON_HOST, a=a, b=b)
    return merge_states(a, b, track_docs, conf.given is not None)

  def apply(state, x, key=None):
    del key
    if cfg.invert:
      return invert_ids(state, x, cfg.oov_token, dtype)
    return lookup_and_encode(cfg, dtype, lookup_core, missing_id, state, x)

  return transform.make_transform(
      _WHERE,
      init=init,
      apply=apply,
      accumulate=None if conf.given is not None else accumulate,
      combine=combine,
      finalize=finalize,
      on_host=True,
      state_type=IntegerLookupState)
