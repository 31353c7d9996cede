"""NumPy kernels for the host text code: the twins of numba_text.py.

Every public function here has the name, signature and results of its
numba twin (a test checks the names and signatures), so callers take
``backend.kernels("text")`` without asking which module they got. Each is
a composition of whole-array NumPy operations (no Python loop per token):

* :func:`keys`: :func:`prepro_core._src.host.keys.token_keys`.
* :func:`lookup`: vectorised linear probing of a ``TokenTable``, the bytes
  of tag matches confirmed word by word, mapped to a lookup's ids;
  :func:`build_table`: the table, built in rounds (finding repeated tokens).
* :func:`split_lines`: a vocabulary file's lines squeezed in place, a block
  of lines at a time.
* :func:`pack_ucs4`, :func:`lookup_ucs4`: a ``str_`` code point matrix
  narrowed to bytes in one cast (non-ASCII rows encoded one by one).
* :func:`tokenize_whitespace`, :func:`vectorize_int`: byte-table lowering
  and stripping, then token edges found by array comparisons.
* :func:`first_in_doc`, :func:`count_keys`, :func:`count_whitespace`,
  :func:`merge_keys`, :func:`pad_rows`, :func:`take_strings`:
  sorts, gathers and scatters; :func:`table_slots`: the table as
  :func:`vectorize_int` takes it.

Tokens of up to 7 bytes and table slots are keyed exactly as numba_text.py
keys them; a buffer may be laid out differently (a ``str_`` matrix keeps its
rows' padding), its tokens never differ.
"""

from __future__ import annotations

import numpy as np

from prepro_core._src.host import keys as keys_lib
from prepro_core._src.host.packed import (SLACK, byte_matrix, non_ascii_rows,
                                         ragged_take)

# Byte classes of tokenize_whitespace/vectorize_int: 0 dropped (punctuation,
# when stripping), 1 whitespace, 2 part of a token.
CLASS_KEEP = np.full(256, 2, np.uint8)
CLASS_KEEP[[32, 9, 10, 11, 12, 13]] = 1
CLASS_WHOLE = np.full(256, 2, np.uint8)  # no split: a string is one token
CLASS_STRIP = CLASS_KEEP.copy()
CLASS_STRIP[33:48] = 0  # the 32 ASCII punctuation characters
CLASS_STRIP[58:65] = 0
CLASS_STRIP[91:97] = 0
CLASS_STRIP[123:127] = 0
# Byte maps: ASCII lowering, or the identity.
LOWER = np.arange(256, dtype=np.uint8)
LOWER[65:91] += 32
SAME = np.arange(256, dtype=np.uint8)
# Token tables (build_table): a slot is a uint32 word, 0 when empty.
EMPTY = np.uint32(0)
_M32 = np.uint64(0xFFFFFFFF)


def keys(buf, starts, ends):
  """``uint64`` token keys (see :func:`keys_lib.token_keys`)."""
  return keys_lib.token_keys(buf, starts, ends)


def _slot_words(hv, pos, bits):
  """The slot word of each token of hash word ``hv`` (uint64, as
  :func:`_hash_words` gives) and vocabulary position ``pos``: its tag (the
  hash bits below the home slot's) above ``bits`` bits of ``pos + 1``."""
  tag = (hv << np.uint64(bits)) & _M32
  return tag | (np.asarray(pos, np.int64) + 1).astype(np.uint64)


def _hash_words(keys):
  """The top 32 bits of each key's Fibonacci hash, as uint64: the home slot
  of a ``2**bits`` table is their top ``bits``."""
  return keys_lib.slot_of(keys, 32).astype(np.uint64)


def _probe(slots, vdata, voffsets, buf, starts, ends, key):
  """Vocabulary position of each token, or -1: every token's first probe at
  once, then only the few whose slot is full probe on. A slot whose tag
  matches is confirmed byte for byte (a mismatch probes on)."""
  reader = keys_lib.Words(buf, int(ends.max()))
  size = len(slots)
  bits = size.bit_length() - 1
  low = np.uint64(1) << np.uint64(bits)
  hv = _hash_words(key)
  slot = (hv >> np.uint64(32 - bits)).astype(np.int64)
  want = _slot_words(hv, -1, bits)
  length = ends - starts
  out = np.full(len(key), -1, np.int64)
  pending = np.arange(len(key))
  while len(pending):
    v = slots[slot[pending]].astype(np.uint64)
    cand = np.flatnonzero((v != 0) & ((v ^ want[pending]) < low))
    go = v != 0
    if len(cand):
      c = pending[cand]
      vid = (v[cand] & (low - np.uint64(1))).astype(np.int64) - 1
      ok = (voffsets[vid + 1] - voffsets[vid]) == length[c]
      ok[ok] = keys_lib.same_bytes(buf, starts[c[ok]], vdata,
                                   voffsets[vid[ok]], length[c[ok]],
                                   ra=reader)
      out[c[ok]] = vid[ok]
      go[cand[ok]] = False
    pending = pending[go]
    slot[pending] = (slot[pending] + 1) & (size - 1)
  return out


def _layout_ids(pos, id_offset, mask_pos, mask_id, unknown_id):
  ids = pos + id_offset
  ids[pos == mask_pos] = mask_id
  ids[pos < 0] = unknown_id
  return ids


def lookup(slots, vdata, voffsets, buf, starts, ends, keys, id_offset,
           mask_pos, mask_id, unknown_id):
  """Ids of tokens: position + ``id_offset`` for vocabulary tokens,
  ``mask_id`` for position ``mask_pos``, ``unknown_id`` when absent.
  ``keys`` may be empty (then computed here)."""
  n = starts.shape[0]
  if n == 0 or voffsets.shape[0] < 2:
    return np.full(n, unknown_id, np.int64)
  if keys.shape[0] != n:
    keys = keys_lib.token_keys(buf, starts, ends)
  pos = _probe(slots, vdata, voffsets, buf, starts, ends, keys)
  return _layout_ids(pos, id_offset, mask_pos, mask_id, unknown_id)


def build_table(vdata, voffsets, bits):
  """The slots of a ``2**bits`` vocab.TokenTable over the tokens
  ``vdata[voffsets[i]:voffsets[i + 1]]``: ``uint32`` words, :data:`EMPTY`
  (0) or a token's :func:`_slot_words` (its tag and position; the table
  keeps no keys, a lookup compares the bytes of a tag match). Built in
  rounds: each round, every empty slot goes to the first pending token
  aiming at it, and the others probe on (linear probing, as lookups will).
  A token equal to the one in its slot is a repeat and is not placed.

  Returns ``(slots, repeat)``: ``repeat`` is ``[i, j]`` for the smallest
  ``j`` that repeats an earlier token ``i``, else ``[-1, -1]``.
  """
  n = voffsets.shape[0] - 1
  size = 1 << bits
  slots = np.zeros(size, np.uint32)
  repeat = np.full(2, -1, np.int64)
  starts, ends = voffsets[:-1], voffsets[1:]
  reader = keys_lib.Words(vdata, int(voffsets[-1]))
  hv = _hash_words(keys_lib.token_keys(vdata, starts, ends, reader))
  words = _slot_words(hv, np.arange(n), bits).astype(np.uint32)
  pending = np.arange(n, dtype=np.int64)
  slot = (hv >> np.uint64(32 - bits)).astype(np.int64)  # of each pending token
  del hv
  while len(pending):
    free = np.flatnonzero(slots[slot] == EMPTY)
    uniq, first = np.unique(slot[free], return_index=True)
    placed = pending[free[first]]
    slots[uniq] = words[placed]
    lost = np.ones(len(pending), bool)
    lost[free[first]] = False
    pending, slot = pending[lost], slot[lost]
    occupants = _positions(slots[slot], bits)
    rep = _repeats(vdata, starts, ends, reader, words, pending, slots[slot],
                   occupants, bits)
    if len(rep):
      j = int(rep.min())
      if repeat[1] < 0 or j < repeat[1]:
        repeat[:] = (occupants[np.searchsorted(pending, j)], j)
      stay = ~np.isin(pending, rep)
      pending, slot = pending[stay], slot[stay]
    slot = (slot + 1) & (size - 1)
  return slots, repeat


def _positions(words, bits):
  """The vocabulary position of each (full) slot word."""
  low = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
  return (words.astype(np.uint64) & low).astype(np.int64) - 1


def _repeats(vdata, starts, ends, reader, words, pending, occupant_words,
             occupants, bits):
  """The pending tokens equal to the token in the slot they aim at (of
  slot word ``occupant_words``, position ``occupants``)."""
  shift = np.uint64(bits)
  cand = np.flatnonzero((occupant_words.astype(np.uint64) >> shift) ==
                        (words[pending].astype(np.uint64) >> shift))
  a, b = pending[cand], occupants[cand]
  length = ends[a] - starts[a]
  same = length == ends[b] - starts[b]
  same[same] = keys_lib.same_bytes(vdata, starts[a[same]], vdata,
                                   starts[b[same]], length[same], reader,
                                   reader)
  return a[same]


# Bytes (or lines) handled per step of split_lines: its scratch arrays
# stay this small whatever the file's size.
_LINE_BLOCK = 1 << 22


def split_lines(buf, skip, spare, dtype):
  """The lines of ``buf[skip:]`` squeezed to the front of ``buf``, in
  place: the ``\\n`` ending each line dropped, and a ``\\r`` before it; a
  last line without ``\\n`` kept when not empty. Returns ``(offsets,
  size)``: line i is ``buf[offsets[i]:offsets[i + 1]]``, ``size`` bytes in
  all; ``offsets`` (of ``dtype``, int32 or int64) has ``spare`` more
  entries at its end, left unset."""
  blocks = range(0, len(buf), _LINE_BLOCK)
  counts = [int(np.count_nonzero(buf[a:a + _LINE_BLOCK] == 10))
            for a in blocks]
  last = int(len(buf) > skip and buf[-1] != 10)
  n = sum(counts) + last
  offsets = np.empty(n + 1 + spare, dtype)
  offsets[0] = skip - 1  # where the (virtual) line break before line 0 is
  at = 1
  for a, count in zip(blocks, counts):  # the line breaks, a block at a time
    offsets[at:at + count] = np.flatnonzero(buf[a:a + _LINE_BLOCK] == 10) + a
    at += count
  if last:
    offsets[n] = len(buf)
  return offsets, _squeeze_lines(buf, offsets[:n + 1])


def _squeeze_lines(raw: np.ndarray, offsets: np.ndarray) -> int:
  """Moves the lines' bytes to the front of ``raw``, without their line
  breaks (and a ``\\r`` ending a line), and turns ``offsets`` from line
  ends (``offsets[0]``: the break before line 0) into token offsets, in
  place, a block of lines at a time. Returns the tokens' total size."""
  n = len(offsets) - 1
  out = 0  # bytes kept so far
  begin = int(offsets[0]) + 1  # first byte of the block's first line
  for i0 in range(0, n, _LINE_BLOCK):
    ends = offsets[i0 + 1:min(i0 + _LINE_BLOCK, n) + 1]
    stop = int(ends[-1])
    cr = raw[np.maximum(ends - 1, 0)] == 13
    cr &= ends > np.concatenate([[begin - 1], ends[:-1]]) + 1  # non-empty
    keep = np.ones(stop - begin, bool)
    keep[ends[:-1] - begin] = False
    keep[ends[cr] - 1 - begin] = False
    piece = raw[begin:stop][keep]
    # Bytes kept before each line's end: all of the block's, less the line
    # breaks before it and the carriage returns up to it.
    new_ends = out + (ends - begin) - np.arange(len(ends)) - np.cumsum(cr)
    raw[out:out + len(piece)] = piece
    ends[:] = new_ends
    out += len(piece)
    begin = stop + 1
  offsets[0] = 0
  return out


def pack_ucs4(cps):
  """Rows of UCS-4 code points (NumPy ``str_``) to UTF-8 ``(buf, starts,
  ends, bad)``; ``bad`` is the first row holding a code point UTF-8 cannot
  encode (a surrogate), else -1. A row's length ends at its last non-NUL."""
  n, w = cps.shape
  rows = np.ascontiguousarray(cps).view(f"<U{w}").reshape(n)
  bad = non_ascii_rows(cps)
  extra = []
  for j, s in enumerate(rows[bad].tolist()):
    try:
      extra.append(s.encode("utf-8"))
    except UnicodeEncodeError:
      return np.zeros(SLACK, np.uint8), np.zeros(n, np.int64), np.zeros(
          n, np.int64), int(bad[j])
  buf, starts, main = byte_matrix(cps, extra)
  lens = np.strings.str_len(rows).astype(np.int64)
  if bad.size:
    sizes = np.fromiter(map(len, extra), np.int64, len(extra))
    starts[bad] = main + np.cumsum(sizes) - sizes
    lens[bad] = sizes
  return buf, starts, starts + lens, -1


def lookup_ucs4(cps, slots, vdata, voffsets, id_offset, mask_pos, mask_id,
                unknown_id):
  """Ids of the rows of a UCS-4 code point matrix (NumPy ``str_``):
  :func:`pack_ucs4` then :func:`lookup` (``slots``: what
  :func:`table_slots` returns). Returns ``(ids, bad)``: ``bad`` is a row
  UTF-8 cannot encode (a surrogate), else -1."""
  buf, starts, ends, bad = pack_ucs4(cps)
  if bad >= 0:
    return np.full(cps.shape[0], unknown_id, np.int64), bad
  ids = lookup(slots[0], vdata, voffsets, buf, starts, ends,
               np.zeros(0, np.uint64), id_offset, mask_pos, mask_id,
               unknown_id)
  return ids, -1


def _edges(space, doc_starts):
  """Token ``[start, end)`` and ``row_splits`` of a standardized buffer
  whose documents each end with a space (``space``: its whitespace mask)."""
  edge = space[1:] != space[:-1]
  starts = np.flatnonzero(edge & space[:-1]) + 1
  ends = np.flatnonzero(edge & ~space[:-1]) + 1
  if len(space) and not space[0]:
    starts = np.concatenate([[0], starts])
  row_splits = np.searchsorted(starts, doc_starts).astype(np.int64)
  return starts.astype(np.int64), ends.astype(np.int64), row_splits


def _compact(buf, doc_ends, byte_map, klass):
  """Maps every byte, drops class 0 and makes each document's last byte
  (``doc_ends``, a separator) a space: ``(out, doc_starts)``."""
  out = byte_map[buf]
  cls = klass[out]
  cls[doc_ends] = 1
  out[doc_ends] = 32
  doc_starts = np.zeros(len(doc_ends) + 1, np.int64)
  doc_starts[1:] = doc_ends + 1
  drop = cls == 0
  where = np.flatnonzero(drop)
  if len(where):
    doc_starts = doc_starts - np.searchsorted(where, doc_starts)
    out, cls = out[~drop], cls[~drop]
  return out, cls == 1, doc_starts


def tokenize_whitespace(buf, begins, ends, lower, strip):
  """ASCII standardize + whitespace split of documents
  ``buf[begins[d]:ends[d]]``: ``(out, starts, ends, row_splits)``, ``out``
  being the standardized documents in order, each followed by a space, plus
  8 zero bytes."""
  n = begins.shape[0]
  if n and begins[0] == 0 and np.array_equal(begins[1:], ends[:-1] + 1):
    src, doc_ends = buf[:int(ends[-1]) + 1], ends  # in order already
  else:
    lengths = ends - begins + 1  # each with the byte after it (made a space)
    total = int(lengths.sum())
    firsts = np.zeros(n, np.int64)
    np.cumsum(lengths[:-1], out=firsts[1:])
    src = buf[np.repeat(begins - firsts, lengths) +
              np.arange(total, dtype=np.int64)] if total else buf[:0]
    doc_ends = firsts + lengths - 1
  out, space, doc_starts = _compact(src, doc_ends, LOWER if lower else SAME,
                                    CLASS_STRIP if strip else CLASS_KEEP)
  starts, tok_ends, row_splits = _edges(space, doc_starts)
  return (np.concatenate([out, np.zeros(SLACK, np.uint8)]), starts, tok_ends,
          row_splits)


def first_in_doc(keys, row_splits):
  """Marks each token whose key is new within its document (tf-idf counts a
  token once per document)."""
  n = keys.shape[0]
  flag = np.ones(n, np.bool_)
  if n < 2:
    return flag
  doc = np.repeat(np.arange(len(row_splits) - 1, dtype=np.int64),
                  np.diff(row_splits))
  order = np.lexsort((keys, doc))  # stable: a repeat follows its first
  ks, ds = keys[order], doc[order]
  flag[order[1:]] = (ks[1:] != ks[:-1]) | (ds[1:] != ds[:-1])
  return flag


def _no_table():
  e = np.zeros(0, np.int64)
  return np.zeros(0, np.uint64), e, e, np.zeros(0, np.uint8), e, False


def _first_groups(keys):
  """``(first, inverse)`` of the distinct ``keys`` numbered in order of
  first occurrence."""
  _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
  order = np.argsort(first)  # sorted groups to first-occurrence groups
  group = np.empty(len(order), np.int64)
  group[order] = np.arange(len(order), dtype=np.int64)
  return first[order].astype(np.int64), group[inverse.ravel()]


def _same_as_first(buf, starts, length, first, inverse, check):
  """Whether each ``check`` token has its group's first token's bytes."""
  r = first[inverse[check]]
  return bool((length[r] == length[check]).all() and keys_lib.same_bytes(
      buf, starts[check], buf, starts[r], length[check]).all())


def count_keys(keys, buf, starts, ends, row_splits, track_docs):
  """The distinct tokens ``buf[starts:ends]`` (by their ``keys``; empty:
  computed here) in order of first occurrence, counted (here by a sort,
  numba's twin by one hash-table pass): ``(ukeys, counts, doc_counts, data,
  offsets, ok)``; ``doc_counts``: the documents (rows of ``row_splits``)
  each occurs in (empty unless ``track_docs``);
  ``data[offsets[g]:offsets[g + 1]]``: the bytes of key ``g`` when long,
  else empty. ``ok`` False (all else empty): a long key's tokens differ in
  bytes (a 63-bit hash collision). At most 2**32 - 2 tokens (the limit of
  numba's twin, whose slots pack two 32-bit fields)."""
  e = np.zeros(0, np.int64)
  if len(keys) != len(starts):
    keys = keys_lib.token_keys(buf, starts, ends)
  if not len(keys):
    return np.zeros(0, np.uint64), e, e, np.zeros(0, np.uint8), np.zeros(
        1, np.int64), True
  first, inverse = _first_groups(keys)
  length = ends - starts
  long_tok = keys >= keys_lib.LONG
  if not _same_as_first(buf, starts, length, first, inverse,
                        np.flatnonzero(long_tok)):
    return _no_table()
  m = len(first)
  counts = np.bincount(inverse, minlength=m).astype(np.int64)
  doc_counts = e
  if track_docs:
    doc_counts = np.bincount(inverse[first_in_doc(keys, row_splits)],
                             minlength=m).astype(np.int64)
  ukeys = keys[first]
  s = starts[first]
  data, offsets = ragged_take(buf, s, np.where(long_tok[first], ends[first],
                                               s))
  return ukeys, counts, doc_counts, data, offsets, True


def count_whitespace(buf, begins, ends, lower, strip, track_docs):
  """:func:`tokenize_whitespace` then :func:`count_keys` (keys computed)."""
  out, starts, tok_ends, row_splits = tokenize_whitespace(buf, begins, ends,
                                                          lower, strip)
  if len(starts) >= 0xFFFFFFFF:
    return _no_table()
  return count_keys(np.zeros(0, np.uint64), out, starts, tok_ends,
                    row_splits, track_docs)


def merge_keys(ukeys, counts, doc_counts, data, offsets):
  """:func:`count_keys`' tables of parts of one batch laid end to end
  (``offsets`` running on over ``data``), added up: the whole batch's
  :func:`count_keys` (``doc_counts`` empty when it is)."""
  n = len(ukeys)
  if not n:
    e = np.zeros(0, np.int64)
    return ukeys, e, e, np.zeros(0, np.uint8), np.zeros(1, np.int64), True
  first, inverse = _first_groups(ukeys)
  starts = offsets[:-1]
  length = np.diff(offsets)
  if not _same_as_first(data, starts, length, first, inverse,
                        np.arange(n)):
    return _no_table()
  m = len(first)
  ocounts = np.bincount(inverse, counts, minlength=m).astype(np.int64)
  odocs = np.zeros(0, np.int64)
  if len(doc_counts) == n:
    odocs = np.bincount(inverse, doc_counts, minlength=m).astype(np.int64)
  odata, ooff = ragged_take(data, starts[first], offsets[1:][first])
  return ukeys[first], ocounts, odocs, odata, ooff, True


def pad_rows(ids, row_splits, width, fill):
  """Ragged ids as an (n, width) int32 matrix, cut or padded with fill."""
  lengths = np.diff(row_splits)
  n = len(lengths)
  out = np.full((n, width), fill, np.int32)
  # Row and position within the row of each id; ids past `width` are cut.
  row = np.repeat(np.arange(n, dtype=np.int64), lengths)
  pos = np.arange(len(ids), dtype=np.int64) - row_splits[:-1][row]
  keep = pos < width
  out[row[keep], pos[keep]] = ids[keep]
  return out


def take_strings(data, offsets, idx):
  """Strings ``idx`` of a packed batch (string ``i``: ``data[offsets[i]:
  offsets[i + 1]]``), gathered: ``(data, offsets)``."""
  return ragged_take(data, offsets[idx], offsets[idx + 1])


def table_slots(slots, vdata, voffsets):  # pylint: disable=unused-argument
  """What :func:`vectorize_int` probes: ``(slots, voffsets)``, a
  TokenTable's slot words and its vocabulary's offsets, no copy made
  (numba's twin adds each token's key to its slot)."""
  return np.ascontiguousarray(slots, np.uint32), voffsets


def vectorize_int(buf, n_docs, byte_map, klass, slots, vdata, id_offset,
                  mask_pos, mask_id, unknown_id, out):
  """Standardize, split on whitespace, look up and pad, for
  text_vectorization's "int" mode with an ``output_sequence_length``.

  ``buf`` holds the UTF-8 documents, each followed by a NUL; bytes are
  mapped by ``byte_map`` and classed by ``klass`` (0 dropped, 1 whitespace,
  2 part of a token); ids are written into ``out`` (``(n_docs, width)``
  int32, zero-filled), at most ``width`` per row. Returns the number of
  documents found: not ``n_docs`` (-1) when a document holds a NUL itself
  (the caller then takes the general path).
  """
  doc_ends = np.flatnonzero(buf == 0)
  if len(doc_ends) != n_docs or (n_docs and doc_ends[-1] != len(buf) - 1):
    return -1
  mapped, space, doc_starts = _compact(buf, doc_ends, byte_map, klass)
  starts, ends, row_splits = _edges(space, doc_starts)
  if not len(starts):
    return n_docs
  mapped = np.concatenate([mapped, np.zeros(SLACK, np.uint8)])
  table, voffsets = slots
  ids = lookup(table, vdata, voffsets, mapped, starts, ends,
               np.zeros(0, np.uint64), id_offset, mask_pos, mask_id,
               unknown_id)
  width = out.shape[1]
  out[...] = pad_rows(ids, row_splits, width, 0)
  return n_docs
