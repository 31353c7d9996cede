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

from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks

from prepro_core._src.core import transform
from prepro_core._src.lookup import table as lookup
from prepro_core._src.host import strings
from prepro_core._src.numeric.encoding import encode_ids


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


def _empty_counts() -> IntegerCounts:
  return IntegerCounts(np.zeros((0,), np.int64), np.zeros((0,), np.int64),
                       np.zeros((0,), np.int64), np.zeros((), np.int64))


def _merge_counts(a: IntegerCounts, values, counts, doc_counts,
                  n_docs: int) -> IntegerCounts:
  """``a`` plus counts of distinct ``values``; a new table."""
  all_values = np.concatenate([a.values, values])
  uniq, inv = np.unique(all_values, return_inverse=True)
  out = np.zeros(uniq.shape[0], np.int64)
  np.add.at(out, inv, np.concatenate([a.counts, counts]))
  docs = a.doc_counts
  if doc_counts is not None:
    docs = np.zeros(uniq.shape[0], np.int64)
    np.add.at(docs, inv, np.concatenate([a.doc_counts, doc_counts]))
  return IntegerCounts(uniq, out, docs, np.asarray(a.num_docs + n_docs,
                                                   np.int64))


def _dense_table(tokens: np.ndarray, start: int):
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


def _check_int_token(value, argname: str, where: str, allow_none: bool):
  if value is None and allow_none:
    return None
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"{where}: `{argname}` must be an int"
                    f"{' or None' if allow_none else ''}, got {value!r}.")
  return int(value)


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
                   salt: Any = None) -> transform.Transform:
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
  where = "integer_lookup"
  cfg = lookup.LookupConfig(where, max_tokens, num_oov_indices,
                            _check_int_token(mask_token, "mask_token", where,
                                             True),
                            _check_int_token(oov_token, "oov_token", where,
                                             False),
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
  from prepro_core._src.lookup.string_lookup import _check_salt  # pylint: disable=g-import-not-at-top
  salt_arr = _check_salt(salt, where)
  dtype = np.dtype(vocabulary_dtype)
  info = np.iinfo(dtype)
  track_docs = cfg.output_mode == "tf_idf"
  start = lookup.token_start(cfg)
  mask_id = lookup.mask_id(cfg)

  def to_values(x, argname):
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and
                                           arr.dtype.kind == "f"):
      raise TypeError(f"{where}: `{argname}` must hold integers, got dtype "
                      f"{arr.dtype}.")
    arr = arr.astype(np.int64) if arr.dtype.kind == "i" or arr.size == 0 else arr
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
      raise ValueError(
          f"{where}: `{argname}` has values outside the {dtype} range "
          f"[{info.min}, {info.max}]; use vocabulary_dtype='int64' with "
          f"jax_enable_x64.")
    return arr.astype(np.int64)

  for special, argname in ((cfg.mask_token, "mask_token"),
                           (cfg.oov_token, "oov_token")):
    if special is not None:
      to_values(np.array([special]), argname)

  given_tokens, given_idf = None, None
  if vocabulary is not None:
    if isinstance(vocabulary, (str, bytes)) or hasattr(vocabulary,
                                                       "__fspath__"):
      path = vocabulary.decode() if isinstance(vocabulary, bytes) else str(
          vocabulary)
      lines = strings.read_vocabulary_file(path, where=where)
      try:
        vocab_arr = np.array([int(l) for l in lines], np.int64)
      except ValueError:
        raise ValueError(f"{where}: `vocabulary` file {path!r} must hold one "
                         f"integer per line.") from None
    else:
      vocab_arr = to_values(vocabulary, "vocabulary")
      if vocab_arr.ndim != 1:
        raise ValueError(f"{where}: `vocabulary` must be 1-D, got shape "
                         f"{vocab_arr.shape}.")
    vocab_arr = to_values(vocab_arr, "vocabulary")
    given_tokens, given_idf = lookup.split_vocabulary(cfg, vocab_arr.tolist(),
                                                      idf_weights)

  specials = np.array(lookup.special_prefix(cfg), dtype)

  def make_state(tokens: np.ndarray, idf, counts) -> IntegerLookupState:
    tokens = np.asarray(tokens, dtype)
    order = np.argsort(tokens, kind="stable")
    ids = (start + order).astype(np.int32)
    idf = np.zeros((0,), np.float32) if idf is None else idf
    dense, lo = _dense_table(tokens, start)
    return IntegerLookupState(tokens, tokens[order], ids, dense,
                              np.asarray(lo, dtype), specials, idf, counts)

  def init(sample=None):
    if sample is not None:
      dt = getattr(sample, "dtype", None)
      if dt is None:
        dt = np.asarray(sample).dtype
      if np.dtype(dt).kind not in "iu":
        raise TypeError(f"{where}: `sample` (or the `data` given to "
                        f"pc.adapt) must hold integers, got dtype "
                        f"{np.dtype(dt)}.")
    if given_tokens is not None:
      return make_state(np.array(given_tokens, np.int64), given_idf,
                        _empty_counts())
    idf = lookup.idf_from_document_counts(cfg, np.zeros(0), 0) if (
        track_docs) else None
    return make_state(np.zeros((0,), np.int64), idf, _empty_counts())

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: adapt shards, then merge their states
    lookup.check_no_trace(batch, where, "adapt")
    arr = to_values(batch, "batch")
    if arr.size == 0:
      raise ValueError(f"{where}.adapt: the batch is empty; adapt needs at "
                       f"least one value.")
    values, counts = np.unique(arr, return_counts=True)
    doc_counts, n_docs = None, 0
    if track_docs:
      if arr.ndim <= 1:  # one document per value (per row of length 1)
        doc_counts, n_docs = counts, max(arr.size, 1) if arr.ndim else 1
      else:
        rows = np.sort(arr.reshape(arr.shape[0], -1), axis=1)
        first = np.ones(rows.shape, bool)
        first[:, 1:] = rows[:, 1:] != rows[:, :-1]
        _, doc_counts = np.unique(rows[first], return_counts=True)
        n_docs = rows.shape[0]
    return state._replace(counts=_merge_counts(state.counts, values, counts,
                                               doc_counts, n_docs))

  def finalize(state):
    if given_tokens is not None:
      return state
    table = state.counts
    keep = np.ones(table.values.shape[0], bool)
    for special in (cfg.mask_token, cfg.oov_token):
      if special is not None:
        keep &= table.values != special
    keep_idx = np.flatnonzero(keep)
    order = keep_idx[lookup.order_vocabulary(
        table.counts[keep_idx], table.values[keep_idx],
        lookup.max_learned_tokens(cfg))]
    idf = None
    if track_docs:
      idf = lookup.idf_from_document_counts(cfg, table.doc_counts[order],
                                            int(table.num_docs))
    return make_state(table.values[order], idf, table)

  def combine(a, b):
    settings = lambda st: (np.asarray(st.specials).tolist(),
                           np.size(st.idf_weights) > 0)
    if settings(a) != settings(b):
      raise ValueError(
          f"{where}.merge: the two states come from integer_lookup transforms "
          f"with different settings (mask/OOV tokens, num_oov_indices or "
          f"output_mode='tf_idf'); merge only states of the same transform.")
    if given_tokens is not None:
      return a
    docs = b.counts.doc_counts if track_docs else None
    return a._replace(counts=_merge_counts(a.counts, b.counts.values,
                                           b.counts.counts, docs,
                                           int(b.counts.num_docs)))

  def oov_ids(x):
    k = cfg.num_oov_indices
    oov_start = start - k
    if k == 0:
      return jnp.full(x.shape, -1, jnp.int32)
    if k == 1:
      return jnp.full(x.shape, oov_start, jnp.int32)
    if oov_method == "floormod":
      return _floormod(x, k).astype(jnp.int32) + oov_start
    from prepro_core._src.host import farmhash  # pylint: disable=g-import-not-at-top
    if salt_arr.shape[0] == 2:
      hi, lo = farmhash.siphash64_ints(x, int(salt_arr[0]), int(salt_arr[1]))
    else:
      hi, lo = farmhash.fingerprint64_ints(x)
    return farmhash.mod_u64(hi, lo, k).astype(jnp.int32) + oov_start

  def check_input(x):
    if checks.is_concrete(x) and not isinstance(x, jax.Array):
      return jnp.asarray(to_values(x, "inputs"), dtype)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.integer):
      raise TypeError(f"{where}: `inputs` must hold integers, got dtype "
                      f"{x.dtype}.")
    return x.astype(dtype)

  @jax.jit
  def lookup_core(sorted_values, sorted_ids, dense_ids, dense_base, x):
    # Jitted as a whole: eager calls compile once instead of dispatching the
    # hashing kernels op by op; under an outer jit it is simply inlined.
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
      ids = jnp.where(inside & (found >= 0), found, oov_ids(x))
    elif n:
      keys = sorted_values.astype(x.dtype)
      # "scan" is the fastest method on CPU (measured against "sort" and
      # "scan_unrolled"; "compare_all" is O(V * n)).
      pos = jnp.clip(jnp.searchsorted(keys, x, method="scan"), 0, n - 1)
      found = keys[pos] == x
      ids = jnp.where(found, sorted_ids[pos], oov_ids(x))
    else:
      ids = oov_ids(x)
    if cfg.mask_token is not None:
      ids = jnp.where(x == cfg.mask_token, mask_id, ids)
    return ids.astype(jnp.int32)

  def lookup_ids(state, x):
    ids = lookup_core(jnp.asarray(state.sorted_values, dtype),
                      jnp.asarray(state.sorted_ids, jnp.int32),
                      jnp.asarray(state.dense_ids, jnp.int32),
                      jnp.asarray(state.dense_base, dtype), x)
    if cfg.num_oov_indices == 0 and checks.is_concrete(ids):
      bad = np.asarray(x)[np.asarray(ids) == -1]
      if bad.size:
        raise ValueError(
            f"{where}: with `num_oov_indices=0` every input must be in the "
            f"vocabulary; found unknown values {np.unique(bad)[:10].tolist()}."
            f" Set `num_oov_indices=1` (or more) to map them to OOV slots.")
    return ids

  def invert_ids(state, ids):
    ids = jnp.asarray(ids)
    if not jnp.issubdtype(ids.dtype, jnp.integer):
      raise TypeError(f"{where}: with `invert=True`, `inputs` must be integer "
                      f"ids, got dtype {ids.dtype}.")
    table = jnp.concatenate([jnp.asarray(state.specials, dtype),
                             jnp.asarray(state.vocabulary, dtype)])
    n = table.shape[0]
    valid = (ids >= 0) & (ids < n)
    if n == 0:
      return jnp.full(ids.shape, cfg.oov_token, dtype)
    return jnp.where(valid, table[jnp.clip(ids, 0, n - 1)],
                     jnp.asarray(cfg.oov_token, dtype))

  def apply(state, x, key=None):
    del key
    if cfg.invert:
      return invert_ids(state, x)
    x = check_input(x)
    ids = lookup_ids(state, x)
    if cfg.output_mode == "int":
      return ids
    n_tokens = int(np.shape(state.vocabulary)[0])
    if n_tokens == 0 and not cfg.pad_to_max_tokens:
      raise ValueError(
          f"{where}: output_mode={cfg.output_mode!r} needs a vocabulary: pass "
          f"`vocabulary` or adapt first (or set `pad_to_max_tokens=True`).")
    depth = lookup.output_depth(cfg, n_tokens)
    idf = state.idf_weights if cfg.output_mode == "tf_idf" else None
    return encode_ids(ids, depth, cfg.output_mode, idf_weights=idf)

  return transform.make_transform(
      where,
      init=init,
      apply=apply,
      accumulate=None if given_tokens is not None else accumulate,
      combine=combine,
      finalize=finalize,
      on_host=True)
