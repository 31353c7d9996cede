"""Vocabularies on the host: token tables, counting and merging, files.

Tokens (:class:`~prepro_core._src.host.packed.Tokens`) are counted and
looked up through their exact integer keys (:mod:`keys`), never as one
Python ``str`` per token:

* :class:`TokenTable`, :func:`build_table`: an open-addressing hash table
  from tokens to vocabulary positions, one ``uint32`` array (it saves with
  a state); :func:`table_lookup` and :func:`lookup_ids` probe it through the
  host kernels (``backend.kernels("text").lookup``).
* :func:`count_distinct`, :func:`merge_counts`, :func:`group_tokens`:
  distinct tokens with their counts (and document counts, for tf-idf);
  long tokens are hashed then confirmed byte for byte, falling back to an
  exact byte sort if two ever collide.
* :func:`bytes_rank`: Keras' tie order (bytewise) of distinct tokens.
* Vocabulary files: one token per line, UTF-8 (or ``encoding``):
  :func:`read_vocabulary_file` and :func:`write_vocabulary_file`.
"""

from __future__ import annotations

import codecs
import os
from typing import NamedTuple, Sequence

import numpy as np

from prepro_core._src.host import keys as keys_lib
from prepro_core._src.host import packed
from prepro_core._src.host.kernels import backend
from prepro_core._src.host.packed import (PackedStrings, Tokens, max_end,
                                          ragged_take, unpack, with_slack)


class TokenTable(NamedTuple):
  """An open-addressing hash table from tokens to vocabulary positions.

  Built for a vocabulary laid out as one byte buffer (token ``i`` is
  ``data[offsets[i]:offsets[i + 1]]``, e.g. a ``PackedStrings``), which is
  kept outside the table and holds the only copy of the tokens: the table
  keeps no keys. A slot is one ``uint32`` word, 0 when empty, else the
  token's position + 1 in its low ``bits`` bits (``2**bits`` slots) and, in
  the bits above, a tag: the bits of the token's hash just below those that
  chose its home slot. A lookup compares the bytes of a token only where
  the tag matches (by chance one slot in ``2**(32 - bits)``), so a table is
  4 bytes a slot, 6 to 12 bytes a token (:func:`table_bits`). NumPy arrays
  only, so it saves with the rest of a state.
  """
  slots: np.ndarray  # (2**bits,) uint32 slot words


def probe_slots(fast, table: TokenTable, data: np.ndarray,
                offsets: np.ndarray):
  """``fast.table_slots`` for ``table`` (what the kernel module ``fast``'s
  ``vectorize_int`` probes), built once per table and module: numba's adds
  each token's key, 16 bytes a slot."""
  return packed.cached(
      table.slots, "probe_slots:" + fast.__name__,
      lambda: fast.table_slots(table.slots, data, offsets))


class KernelTable(NamedTuple):
  """A lookup table as the fused text kernel (``fast.vectorize_int``) takes
  it: :func:`probe_slots`, the vocabulary's bytes, and the four ints of the
  lookup's id layout (``id_offset, mask_pos, mask_id, unknown_id``)."""
  slots: tuple
  vdata: np.ndarray
  id_layout: tuple


def kernel_table(fast, table: TokenTable, data: np.ndarray,
                 offsets: np.ndarray, id_layout: tuple) -> KernelTable:
  """The :class:`KernelTable` of ``table`` over the vocabulary
  ``data``/``offsets`` for the kernel module ``fast``."""
  return KernelTable(probe_slots(fast, table, data, offsets),
                     np.ascontiguousarray(data, np.uint8),
                     tuple(int(v) for v in id_layout))


def table_bits(n: int) -> int:
  """log2 of a table's size for ``n`` tokens: a load under 2/3 (linear
  probing stays short, and a slot is 4 bytes)."""
  return max(4, int(np.ceil(np.log2(max(n, 1) * 3 / 2 + 1))))


def offsets_dtype(nbytes: int) -> type:
  """The offsets of a vocabulary of ``nbytes`` bytes: int32 while they fit
  (half the memory, 4 bytes a token), int64 beyond ``2**31 - 1``."""
  return np.int32 if nbytes <= np.iinfo(np.int32).max else np.int64


def _offsets(offsets: np.ndarray) -> np.ndarray:
  """``offsets`` as the kernels take them: int32 or int64 (never copied)."""
  offsets = np.asarray(offsets)
  if offsets.dtype in (np.int32, np.int64):
    return np.ascontiguousarray(offsets)
  return np.ascontiguousarray(offsets, np.int64)


def build_table(data: np.ndarray, offsets: np.ndarray) -> TokenTable:
  """A :class:`TokenTable` for the distinct tokens laid out in ``data``."""
  return build_table_and_find_repeat(data, offsets)[0]


def build_table_and_find_repeat(data: np.ndarray, offsets: np.ndarray
                                ) -> tuple[TokenTable, np.ndarray]:
  """A :class:`TokenTable` for the tokens laid out in ``data``, and the
  first repeated token: ``[i, j]`` for the smallest ``j`` equal to an
  earlier token ``i`` (``[-1, -1]`` when the tokens are distinct). Built by
  the host kernels, with no Python object per token; its scratch memory is
  about 4 bytes a token (numba's kernels)."""
  data = np.ascontiguousarray(data, np.uint8)
  offsets = _offsets(offsets)
  n = len(offsets) - 1
  slots, repeat = backend.kernels("text", rows=n).build_table(
      data, offsets, table_bits(n))
  return TokenTable(slots), repeat


def table_lookup(table: TokenTable, data: np.ndarray, offsets: np.ndarray,
                 tokens: Tokens, keys: np.ndarray | None = None) -> np.ndarray:
  """Vocabulary position of each token, or -1 when it is not there.

  ``data``/``offsets`` must be the vocabulary the table was built from;
  ``keys`` the tokens' :func:`keys_lib.token_keys` when already computed.
  """
  return lookup_ids(table, data, offsets, tokens, 0, -2, 0, -1, keys)


def lookup_ids(table: TokenTable, data: np.ndarray, offsets: np.ndarray,
               tokens: Tokens, id_offset: int, mask_pos: int, mask_id: int,
               unknown_id: int, keys: np.ndarray | None = None) -> np.ndarray:
  """:func:`table_lookup` mapped to a lookup's ids in one pass: position
  ``p`` -> ``p + id_offset``, ``mask_pos`` -> ``mask_id``, absent ->
  ``unknown_id`` (int64)."""
  n = len(tokens.starts)
  if n == 0 or len(offsets) < 2:
    return np.full(n, unknown_id, np.int64)
  k = backend.kernels("text", rows=n)
  tokens = with_slack(tokens)
  buf = np.ascontiguousarray(tokens.buf, np.uint8)
  starts = np.asarray(tokens.starts, np.int64)
  ends = np.asarray(tokens.ends, np.int64)
  if keys is None:
    keys = tokens.keys
  if keys is None:  # a separate pass: faster than keys inside the probe loop
    keys = k.keys(buf, starts, ends)
  return k.lookup(np.asarray(table.slots, np.uint32),
                  np.ascontiguousarray(data, np.uint8), _offsets(offsets),
                  buf, starts, ends, keys, id_offset, mask_pos, mask_id,
                  unknown_id)


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
  # The numba loops count in another order than NumPy's sort-based path
  # (which is faster without them), with the same results.
  fast = backend.numba_kernels("text", rows=n)
  if fast is not None and doc_ids is None and _rows_cover(tokens):
    out = _count_distinct_fast(fast, tokens, track_docs)
    if out is not None:
      return out
  tokens = with_slack(tokens)
  reader = keys_lib.Words(tokens.buf, max_end(tokens.ends))
  length = tokens.ends - tokens.starts
  keys = tokens.keys
  if keys is None:
    keys = keys_lib.token_keys(tokens.buf, tokens.starts, tokens.ends, reader)
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


MAX_FAST = (1 << 32) - 2  # count_keys packs a count in 32 bits


def _count_distinct_fast(fast, tokens: Tokens, track_docs: bool):
  """count_distinct with the numba kernels' hash-table count (one pass, the
  long tokens' bytes confirmed in it); the same output. None after a 63-bit
  hash collision (then NumPy's exact path runs)."""
  starts = np.asarray(tokens.starts, np.int64)
  if len(starts) >= MAX_FAST:
    return None
  keys = tokens.keys if tokens.keys is not None else np.zeros(0, np.uint64)
  *table, ok = fast.count_keys(
      keys, np.ascontiguousarray(tokens.buf, np.uint8), starts,
      np.asarray(tokens.ends, np.int64),
      np.asarray(tokens.row_splits, np.int64), track_docs)
  return distinct_table(*table, track_docs) if ok else None


def distinct_table(ukeys, counts, doc_counts, data, offsets,
                   track_docs: bool):
  """A :func:`count_distinct` result from the host kernels' ``count_keys``
  table (distinct keys in order of first occurrence, long ones' bytes in
  ``data``): sorted by key, as the sort-based path gives it."""
  order = np.argsort(ukeys)
  ukeys, counts = ukeys[order], counts[order]
  doc_counts = doc_counts[order] if track_docs else np.zeros(0, np.int64)
  n_short = int(np.searchsorted(ukeys, keys_lib.LONG))
  skeys = ukeys[:n_short]
  slen = (skeys >> np.uint64(56)).astype(np.int64)
  sbytes = (skeys & np.uint64((1 << 56) - 1)).astype("<u8").view(np.uint8)
  at = np.arange(n_short, dtype=np.int64) * 8
  sdata, soff = ragged_take(sbytes, at, at + slen)
  rep = order[n_short:]
  ldata, loff = ragged_take(data, offsets[rep], offsets[rep + 1])
  data = np.concatenate([sdata, ldata])
  offsets = np.concatenate([soff, loff[1:] + soff[-1]])
  return data, offsets, counts, doc_counts


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


def group_tokens(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                 keys: np.ndarray | None = None,
                 reader: keys_lib.Words | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
  """Exact grouping of equal tokens.

  Args:
    buf, starts, ends: the tokens (``buf[starts[i]:ends[i]]``).
    keys: their :func:`keys_lib.token_keys`, when already computed.
    reader: a ``keys_lib.Words`` over ``buf``, when already made.

  Returns:
    ``(first, inverse)``: ``first[g]`` is the index of one token of group
    ``g``, and ``inverse[i]`` is token ``i``'s group. Groups are numbered in
    the order of their keys (not of the tokens' bytes).
  """
  n = len(starts)
  if n == 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  reader = reader or keys_lib.Words(buf, max_end(ends))
  if keys is None:
    keys = keys_lib.token_keys(buf, starts, ends, reader)
  first, inverse = _group_keys(keys)
  length = ends - starts
  long_idx = np.flatnonzero(length > 7)
  if len(long_idx):
    rep = first[inverse[long_idx]]
    ok = length[rep] == length[long_idx]
    ok[ok] = keys_lib.same_bytes(buf, starts[long_idx[ok]], buf,
                                 starts[rep[ok]], length[long_idx[ok]],
                                 reader, reader)
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
  reader = keys_lib.Words(data, int(offsets[-1]))
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


# Bytes checked per step of the UTF-8 check (no ``str`` of the whole file).
_BLOCK = 1 << 22
_BOM = b"\xef\xbb\xbf"


def read_vocabulary_file(path: str, encoding: str = "utf-8", *,
                         where: str = "vocabulary",
                         argname: str = "vocabulary") -> list:
  """:func:`read_vocabulary_packed`'s tokens as a list of ``str``."""
  return unpack(read_vocabulary_packed(path, encoding, where=where,
                                       argname=argname))


def read_vocabulary_packed(path: str, encoding: str = "utf-8", *,
                           where: str = "vocabulary",
                           argname: str = "vocabulary",
                           append: Sequence[bytes] = ()) -> PackedStrings:
  """A vocabulary file's tokens as UTF-8 :class:`PackedStrings`.

  One token per line (``\\n`` or ``\\r\\n``, a line kept verbatim otherwise);
  a final newline is optional; a leading byte-order mark is dropped. The
  file is read once into one byte array, which becomes the tokens' bytes in
  place (the line breaks squeezed out): no Python object per token, and
  besides the file's bytes only the offsets (:func:`offsets_dtype`: 4
  bytes a token up to 2 GB of tokens).

  Args:
    path: the file.
    encoding: its encoding; UTF-8 files are checked and used as they are,
      others are decoded and re-encoded to UTF-8.
    where, argname: for error messages.
    append: UTF-8 tokens laid out after the file's (one buffer for both).

  Raises:
    ValueError: the file is missing, empty, or not valid in ``encoding``.
  """
  if not os.path.isfile(path):
    raise ValueError(f"{where}: `{argname}` file {path!r} does not exist.")
  try:
    is_utf8 = codecs.lookup(encoding).name == "utf-8"
  except LookupError:
    raise ValueError(f"{where}: unknown `encoding` {encoding!r}.") from None
  raw = np.fromfile(path, np.uint8)
  if is_utf8:
    skip = 3 if raw[:3].tobytes() == _BOM else 0
    _check_utf8(raw, path, encoding, where, argname)
  else:
    raw, skip = _to_utf8(raw, path, encoding, where, argname), 0
  extra = [bytes(t) for t in append]
  offsets, size = backend.kernels("text", rows=len(raw)).split_lines(
      raw, skip, len(extra), offsets_dtype(len(raw) + sum(map(len, extra))))
  n = len(offsets) - 1 - len(extra)
  if n == 0:
    raise ValueError(f"{where}: `{argname}` file {path!r} is empty; it must "
                     f"hold one token per line.")
  for i, token in enumerate(extra):
    offsets[n + 1 + i] = offsets[n + i] + len(token)
  data = _shrink(raw, int(offsets[-1]))
  at = size
  for token in extra:
    data[at:at + len(token)] = np.frombuffer(token, np.uint8)
    at += len(token)
  return PackedStrings(data, offsets)


def _check_utf8(raw: np.ndarray, path: str, encoding: str, where: str,
                argname: str) -> None:
  """Python's strict UTF-8 decoder over the file, a block at a time (no
  ``str`` of the whole file); pure-ASCII blocks are skipped."""
  at = 0
  while at < len(raw):
    block = raw[at:at + _BLOCK]
    final = at + len(block) == len(raw)
    if block.max() < 0x80:
      at += len(block)
      continue
    try:
      _, used = codecs.utf_8_decode(memoryview(block), "strict", final)
    except UnicodeDecodeError as e:
      line = int(np.count_nonzero(raw[:at + e.start] == 10)) + 1
      raise ValueError(
          f"{where}: `{argname}` file {path!r} is not valid {encoding!r} at "
          f"line {line} ({e.reason}); pass the right `encoding`.") from None
    at += used  # a character cut by the block's end starts the next block


def _to_utf8(raw: np.ndarray, path: str, encoding: str, where: str,
             argname: str) -> np.ndarray:
  """A file in another encoding as UTF-8 bytes (byte-order mark dropped)."""
  blob = raw.tobytes()
  try:
    text = blob.decode(encoding)
  except UnicodeDecodeError as e:
    line = blob[:e.start].count(b"\n") + 1
    raise ValueError(
        f"{where}: `{argname}` file {path!r} is not valid {encoding!r} at "
        f"line {line} ({e.reason}); pass the right `encoding`.") from None
  # A byte-order mark (U+FEFF at the very start) marks the encoding; it is
  # not part of the first token.
  if text.startswith("\ufeff"):
    text = text[1:]
  return np.frombuffer(text.encode("utf-8"), np.uint8).copy()


def _shrink(raw: np.ndarray, size: int) -> np.ndarray:
  """``raw`` cut (or grown) to ``size`` bytes, in place when it can be."""
  try:
    raw.resize(size, refcheck=False)
    return raw
  except ValueError:  # not the owner of its memory
    out = np.zeros(size, np.uint8)
    out[:min(size, len(raw))] = raw[:size]
    return out


def write_vocabulary_file(tokens: list, path: str, encoding: str = "utf-8",
                          *, where: str = "save_vocabulary") -> None:
  """Writes ``tokens`` one per line (``\\n``), the file
  :func:`read_vocabulary_file` reads back.

  Raises:
    ValueError: a token contains a line break, so the file could not be read
      back line by line.
  """
  vocab = [str(t) for t in tokens]
  bad = [t for t in vocab if "\n" in t or "\r" in t]
  if bad:
    raise ValueError(
        f"{where}: token {bad[0]!r} contains a line break; a "
        f"one-token-per-line file cannot hold it. Save the state with "
        f"np.savez or flax.serialization instead.")
  with open(path, "w", encoding=encoding, newline="\n") as f:
    f.write("\n".join(vocab))
    f.write("\n")
