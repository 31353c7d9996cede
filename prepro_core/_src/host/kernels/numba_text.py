"""numba kernels for the host text code: the optional accelerator.

Imported lazily, and only when numba is installed (``pip install
'prepro[fast]'``), by ``backend.kernels("text")``; numpy_text.py has every
public function here with the same name and signature and computes the same
results (``pc.host_kernels("numpy")`` forces it). Each kernel is one loop
over the bytes or tokens, so every byte is read once instead of once per
whole-array NumPy operation:

* :func:`pack_ucs4`: a NumPy ``str_`` matrix of code points to UTF-8 bytes;
  :func:`lookup_ucs4`: the same fused with the table lookup (string_lookup
  on ``str_`` arrays), over numba's threads.
* :func:`tokenize_whitespace`: ASCII lowering, punctuation stripping and
  whitespace splitting of a batch (two branch-free passes).
* :func:`lookup`: probes of a ``vocab.TokenTable``, with the bytes of every
  tag match compared (exact), mapped to a lookup's ids; :func:`build_table`
  builds one (and finds repeated tokens), tokens gathered by span of slots.
* :func:`split_lines`: a vocabulary file's lines squeezed in place.
* :func:`keys`, :func:`count_keys`: the loops of vocab.count_distinct (one
  hash-table pass counts the keys and confirms long tokens' bytes);
  :func:`count_whitespace`: tokenize_whitespace fused with it, and
  :func:`merge_keys` to add up the tables of chunks;
  :func:`first_in_doc`: a token's first occurrence in its document.
* :func:`pad_rows`: ragged ids to a padded matrix; :func:`take_strings`:
  strings of a packed batch gathered (a shuffled pipeline's batch).
* :func:`vectorize_int`: text_vectorization's "int" mode, fused, probing
  :func:`table_slots` (a TokenTable's slots, each with its token's key).

Keys, slots and the table layout are keys.py's, bit for bit. All 64-bit
arithmetic stays in ``uint64`` (numba types a mix of signed and unsigned
ints as float64, so every constant is a ``np.uint64``). Compiled on first
use and cached on disk.

In a per-token loop, an inlined helper taking arrays must not call, under a
branch, another helper that loops (``_probe`` writes its byte check out):
numba then increfs and decrefs each array at every such call, which made a
probe four times slower (35 ns a token).
"""

from llvmlite import ir
import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
import numpy as np

# The byte tables and the slot layout are shared with the NumPy twin.
# pylint: disable-next=unused-import
from prepro_core._src.host.kernels.numpy_text import (
    CLASS_KEEP, CLASS_STRIP, CLASS_WHOLE, EMPTY, LOWER, SAME)

_jit = numba.njit(cache=True, nogil=True)
_inline = numba.njit(cache=True, nogil=True, inline="always")


@intrinsic
def _prefetch(typingctx, arr, index):  # pylint: disable=unused-argument
  """Asks the CPU to bring ``arr[index]``'s cache line in (LLVM's prefetch:
  no result, no fault), so that a later load finds it there."""
  if not (isinstance(arr, types.Array) and arr.ndim == 1 and
          isinstance(index, types.Integer)):
    return None

  def codegen(context, builder, signature, args):
    aryty = signature.args[0]
    array = context.make_array(aryty)(context, builder, args[0])
    ptr = cgutils.get_item_pointer(context, builder, aryty, array, [args[1]])
    i32 = ir.IntType(32)
    fn = cgutils.get_or_insert_function(
        builder.module,
        ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32]),
        "llvm.prefetch.p0")
    # read (0), keep in all cache levels (3), a data cache line (1)
    builder.call(fn, [builder.bitcast(ptr, cgutils.voidptr_t), i32(0), i32(3),
                      i32(1)])
    return context.get_dummy_value()
  return types.none(arr, index), codegen

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_LONG = np.uint64(1 << 63)
_U0 = np.uint64(0)
_S8 = np.uint64(8)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S56 = np.uint64(56)
_S32 = np.uint64(32)  # the token tables' 32-bit slot words
_M32 = np.uint64(0xFFFFFFFF)
_NO_KEYS = np.zeros((0, 2), np.uint64)  # no keyed slots: probe slot words


@_inline
def _mix(h):
  h = (h ^ (h >> _S30)) * _M2
  h = (h ^ (h >> _S27)) * _M3
  return h ^ (h >> _S31)


@_inline
def _word(buf, p, n):
  """The first min(n, 8) bytes at p as a little-endian word (zero beyond)."""
  w = _U0
  m = n if n < 8 else 8
  for j in range(m):
    w |= np.uint64(buf[p + j]) << (_S8 * np.uint64(j))
  return w


@_inline
def _key(buf, s, e):
  """keys.token_keys for one token."""
  n = e - s
  if n <= 7:
    return _word(buf, s, n) | (np.uint64(n) << _S56)
  h = _mix(np.uint64(n) * _M1)
  k = 0
  while k < n:
    h = _mix((h ^ _word(buf, s + k, n - k)) * _M1 + np.uint64(k + 1))
    k += 8
  return h | _LONG


@_inline
def _same(a, sa, b, sb, n):
  for j in range(n):
    if a[sa + j] != b[sb + j]:
      return False
  return True


@_inline
def _is_token(buf, s, n, vdata, voffsets, vid):
  """Whether the ``n`` bytes ``buf[s:s+n]`` are vocabulary token ``vid``."""
  vs = np.int64(voffsets[vid])
  return np.int64(voffsets[vid + 1]) - vs == n and _same(buf, s, vdata, vs, n)


@_inline
def _table_bits(size):
  """log2 of a table's ``size`` (a power of two)."""
  bits = 0
  while (1 << bits) < size:
    bits += 1
  return bits


@_inline
def _hash_word(key):
  """The top 32 bits of a key's Fibonacci hash (keys.slot_of's): a table
  of ``2**bits`` slots takes their top ``bits`` as the home slot and the
  rest as the tag a slot keeps (see numpy_text.build_table)."""
  return (key * _M1) >> _S32


@_inline
def _slot_word(hv, pos, bits):
  """What a table slot holds for vocabulary position ``pos`` of hash word
  ``hv``: its tag above ``bits`` bits of ``pos + 1`` (0: an empty slot)."""
  return ((hv << np.uint64(bits)) & _M32) | np.uint64(pos + 1)


@_inline
def _probe(keyed, table, bits, key, buf, s, n, vdata, voffsets):
  """Vocabulary position of the ``n`` bytes ``buf[s:s+n]`` (key ``key``),
  or -1 when absent, from the keyed slots :func:`table_slots` builds when
  there are (``keyed`` not empty), else from a TokenTable's slot words
  (``table``). A keyed slot whose key equals ``key`` is the token itself
  when the token is short (a short key is its bytes and length); a long
  token, or a slot word whose tag matches (one tag in ``2**(32 - bits)``
  matches by chance), is confirmed against the vocabulary's bytes (written
  out here, not a call: see the module docstring)."""
  hv = _hash_word(key)
  slot = np.int64(hv >> np.uint64(32 - bits))
  want = _slot_word(hv, -1, bits)  # the tag, with no position
  low = np.uint64(1) << np.uint64(bits)
  mask = (1 << bits) - 1
  have_keys = keyed.shape[0] > 0
  while True:
    if have_keys:
      vid = np.int64(keyed[slot, 1]) - 1
      if vid < 0:
        return -1
      hit = keyed[slot, 0] == key
      exact = key < _LONG
    else:
      v = np.uint64(table[slot])
      if v == _U0:
        return -1
      vid = np.int64(v & (low - np.uint64(1))) - 1
      hit = (v ^ want) < low
      exact = False
    if hit:
      if exact:
        return vid
      vs = np.int64(voffsets[vid])
      if np.int64(voffsets[vid + 1]) - vs == n:
        j = 0
        while j < n and buf[s + j] == vdata[vs + j]:
          j += 1
        if j == n:
          return vid
    slot = (slot + 1) & mask


@_inline
def _layout_id(res, id_offset, mask_pos, mask_id, unknown_id):
  """The lookup's id for vocabulary position ``res`` (-1: unknown)."""
  if res < 0:
    return unknown_id
  if res == mask_pos:
    return mask_id
  return res + id_offset


@_jit
def keys(buf, starts, ends):
  out = np.empty(starts.shape[0], np.uint64)
  for i in range(starts.shape[0]):
    out[i] = _key(buf, starts[i], ends[i])
  return out


@_jit
def lookup(slots, vdata, voffsets, buf, starts, ends, keys, id_offset,
           mask_pos, mask_id, unknown_id):
  """Ids of tokens, like vocab.table_lookup + the lookup's layout: position
  + ``id_offset`` for vocabulary tokens, ``mask_id`` for position
  ``mask_pos``, ``unknown_id`` when absent. ``keys`` may be empty (then
  computed here)."""
  bits = _table_bits(slots.shape[0])
  have_keys = keys.shape[0] == starts.shape[0]
  out = np.empty(starts.shape[0], np.int64)
  for i in range(starts.shape[0]):
    s = starts[i]
    e = ends[i]
    key = keys[i] if have_keys else _key(buf, s, e)
    res = _probe(_NO_KEYS, slots, bits, key, buf, s, e - s, vdata,
                 voffsets)
    out[i] = _layout_id(res, id_offset, mask_pos, mask_id, unknown_id)
  return out


def split_lines(buf, skip, spare, dtype):
  """The lines of ``buf[skip:]`` squeezed to the front of ``buf``, in
  place: the ``\\n`` ending each line dropped, and a ``\\r`` before it; a
  last line without ``\\n`` kept when not empty. Returns ``(offsets,
  size)``: line i is ``buf[offsets[i]:offsets[i + 1]]``, ``size`` bytes in
  all; ``offsets`` (of ``dtype``, int32 or int64) has ``spare`` more
  entries at its end, left unset."""
  offsets = np.empty(_count_lines(buf, skip) + 1 + spare, dtype)
  return offsets, _squeeze_lines(buf, skip, offsets)


@_jit
def _count_lines(buf, skip):
  n_buf = buf.shape[0]
  breaks = 0
  for i in range(skip, n_buf):
    breaks += buf[i] == 10
  return breaks + (1 if n_buf > skip and buf[n_buf - 1] != 10 else 0)


@_jit
def _squeeze_lines(buf, skip, offsets):
  """split_lines' loop: moves the bytes, writes the line ends."""
  n_buf = buf.shape[0]
  last = n_buf > skip and buf[n_buf - 1] != 10
  begin = skip  # the current line's first byte
  out = 0  # bytes kept so far (never ahead of i)
  prev = 0
  line = 0
  offsets[0] = 0
  for i in range(skip, n_buf):
    b = buf[i]
    if b == 10:
      if prev == 13 and i > begin:
        out -= 1
      line += 1
      offsets[line] = out
      begin = i + 1
      prev = 0
    else:
      buf[out] = b
      out += 1
      prev = b
  if last:
    if prev == 13:
      out -= 1
    offsets[line + 1] = out
  return out


# build_table fills the table a span of 2**_SPAN_BITS slots at a time (a
# span's slots and counters stay in cache), from the tokens of a group of
# spans gathered at once: at most _GROUP tokens (more only when one span
# has more), so its scratch memory is 4 bytes a token plus 8 a group token.
_SPAN_BITS = 13
_GROUP = 1 << 22


@_jit
def build_table(vdata, voffsets, bits):
  """vocab.build_table's slots for the tokens ``vdata[voffsets[i]:
  voffsets[i + 1]]``, laid out exactly as the NumPy twin's rounds lay them
  out, but in one sweep over the slots: each slot goes to the waiting token
  that reached it first (the largest home slot, then the lowest index), so
  the waiting tokens form a stack. The tokens are gathered by span of home
  slots, a group of spans at a time, and each span is filled while in
  cache. A token equal to an earlier one (same bytes) is a repeat and is
  not placed.

  Returns ``(slots, repeat)``: ``repeat`` is ``[i, j]`` for the smallest
  ``j`` that repeats an earlier token ``i``, else ``[-1, -1]``.
  """
  size = 1 << bits
  span_bits = min(bits, _SPAN_BITS)
  n_spans = size >> span_bits
  hv, first = _hash_words(vdata, voffsets, bits, span_bits, n_spans)
  slots = np.zeros(size, np.uint32)
  repeat = np.full(2, -1, np.int64)
  at_home = np.zeros((1 << span_bits) + 1, np.int32)
  widest = 0
  for p in range(n_spans):
    widest = max(widest, first[p + 1] - first[p])
  order = np.empty(widest, np.int64)  # a span's tokens by home slot
  stack = np.empty(1 << 10, np.uint32)  # slot words of the waiting tokens
  depth = 0
  p = 0
  while p < n_spans:
    q = p + 1  # the group: spans p to q - 1
    while q < n_spans and first[q + 1] - first[p] <= _GROUP:
      q += 1
    ghv, gid = _gather(hv, first, p, q, np.uint64(32 - bits + span_bits))
    for s in range(p, q):
      stack, depth = _fill_span(vdata, voffsets, slots, bits, span_bits, s,
                                ghv, gid, first[s] - first[p],
                                first[s + 1] - first[p], at_home, order,
                                stack, depth, repeat)
    p = q
  slot = 0
  while depth:  # tokens that ran past the last slot wrap to the first
    if slots[slot] == 0:
      depth -= 1
      slots[slot] = stack[depth]
    slot += 1
  return slots, repeat


@_inline
def _hash_words(vdata, voffsets, bits, span_bits, n_spans):
  """Each token's ``_hash_word``, and where each span's tokens start:
  ``first[p]`` to ``first[p + 1]`` (``(n_spans + 1,)``)."""
  n = voffsets.shape[0] - 1
  hv = np.empty(n, np.uint32)
  first = np.zeros(n_spans + 1, np.int64)
  shift = np.uint64(32 - bits + span_bits)
  for i in range(n):
    h = _hash_word(_key(vdata, np.int64(voffsets[i]),
                        np.int64(voffsets[i + 1])))
    hv[i] = h
    first[np.int64(h >> shift) + 1] += 1
  for p in range(n_spans):
    first[p + 1] += first[p]
  return hv, first


@_inline
def _gather(hv, first, p, q, shift):
  """The hash words and indices of the tokens of spans ``p`` to ``q - 1``,
  span by span (in index order within one): ``(ghv, gid)``."""
  lo = first[p]
  ghv = np.empty(first[q] - lo, np.uint32)
  gid = np.empty(first[q] - lo, np.uint32)
  cursor = first[p:q] - lo
  for i in range(hv.shape[0]):
    s = np.int64(np.uint64(hv[i]) >> shift) - p
    if 0 <= s < q - p:
      c = cursor[s]
      ghv[c] = hv[i]
      gid[c] = i
      cursor[s] = c + 1
  return ghv, gid


@_inline
def _fill_span(vdata, voffsets, slots, bits, span_bits, s, ghv, gid, lo, hi,
               at_home, order, stack, depth, repeat):
  """Fills span ``s``'s slots from its tokens ``ghv/gid[lo:hi]`` and the
  waiting tokens (``stack[:depth]``); returns the stack (grown when full)
  and its new depth. A repeat found updates ``repeat``."""
  span = 1 << span_bits
  hshift = np.uint64(32 - bits)
  at_home[:] = 0
  for k in range(lo, hi):
    at_home[(np.int64(np.uint64(ghv[k]) >> hshift) & (span - 1)) + 1] += 1
  for h in range(span):
    at_home[h + 1] += at_home[h]
  for k in range(lo, hi):  # stable: index order within a home slot
    h = np.int64(np.uint64(ghv[k]) >> hshift) & (span - 1)
    order[at_home[h]] = k
    at_home[h] += 1
  j = 0
  for h in range(span):
    # at_home[h] is now the end of home slot h's tokens in order.
    group = j
    while j < at_home[h]:
      k = order[j]
      j += 1
      r = _repeat_of(vdata, voffsets, ghv, gid, order, group, j - 1, k)
      if r >= 0:
        if repeat[1] < 0 or np.int64(gid[k]) < repeat[1]:
          repeat[0] = r
          repeat[1] = np.int64(gid[k])
        order[j - 1] = -1  # not placed
    if depth + (j - group) > stack.shape[0]:
      grown = np.empty(2 * (depth + j - group), np.uint32)
      grown[:depth] = stack[:depth]
      stack = grown
    for g in range(j - 1, group - 1, -1):  # the lowest index on top
      k = order[g]
      if k >= 0:
        stack[depth] = _slot_word(np.uint64(ghv[k]), np.int64(gid[k]), bits)
        depth += 1
    if depth:
      depth -= 1
      slots[(s << span_bits) + h] = stack[depth]
  return stack, depth


@_inline
def _repeat_of(vdata, voffsets, ghv, gid, order, group, at, k):
  """The index of an earlier token of the home group ``order[group:at]``
  equal to token ``k``, else -1. The bytes are read only after the hash
  words match (rare: they are far away in memory)."""
  for g in range(group, at):
    o = order[g]
    if o >= 0 and ghv[o] == ghv[k]:
      i = np.int64(gid[k])
      j = np.int64(gid[o])
      s = np.int64(voffsets[i])
      if _is_token(vdata, s, np.int64(voffsets[i + 1]) - s, vdata, voffsets,
                   j):
        return j
  return -1


@_jit
def _keyed_slots(slots, vdata, voffsets):
  bits = _table_bits(slots.shape[0])
  low = (1 << bits) - 1
  keyed = np.zeros((slots.shape[0], 2), np.uint64)
  for slot in range(slots.shape[0]):
    pos = np.int64(slots[slot]) & low
    if pos:
      keyed[slot, 0] = _key(vdata, np.int64(voffsets[pos - 1]),
                            np.int64(voffsets[pos]))
      keyed[slot, 1] = np.uint64(pos)
  return keyed


# The largest table given keyed slots (64 MB of them, about 2.8M tokens);
# a larger one is probed by its slot words (4 bytes a slot).
MAX_KEYED_SLOTS = 1 << 22


def table_slots(slots, vdata, voffsets):
  """What :func:`vectorize_int` probes: ``(keyed, slots, voffsets)``.
  ``keyed`` is ``(2**bits, 2)`` uint64, a TokenTable's slots with each
  token's key (keys.token_keys) and position + 1 in place of its slot word
  (0 0: an empty slot): a probe then reads one 16-byte slot, and only long
  tokens' bytes. 16 bytes a slot, so callers cache it per table, and a
  table of more than MAX_KEYED_SLOTS slots gets none (``(0, 2)``)."""
  slots = np.ascontiguousarray(slots, np.uint32)
  if slots.shape[0] > MAX_KEYED_SLOTS:
    keyed = np.zeros((0, 2), np.uint64)
  else:
    keyed = _keyed_slots(slots, np.ascontiguousarray(vdata, np.uint8),
                         voffsets)
  return keyed, slots, voffsets


_SPACE = (CLASS_KEEP == 1).astype(np.int64)


def tokenize_whitespace(buf, begins, ends, lower, strip):
  """tokenize.standardize_buffer (ASCII modes) + tokenize.split_whitespace.

  Document ``d`` is ``buf[begins[d]:ends[d]]`` (documents may lie in any
  order in ``buf``). Returns ``(out, starts, ends, row_splits)``: the
  standardized documents in order, each followed by a space (plus 8 spare
  zero bytes at the end), and the tokens in it. Two branch-free passes: one
  maps and compacts the bytes, one finds token edges.
  """
  out, new_starts = _compact(buf, begins, ends, LOWER if lower else SAME,
                             (CLASS_STRIP if strip else CLASS_KEEP) != 0)
  starts, tok_ends, row_splits = _edges(out, int(new_starts[-1]), _SPACE,
                                        new_starts)
  return out, starts, tok_ends, row_splits


@_jit
def _compact(buf, begins, ends, byte_map, keep):
  n_docs = begins.shape[0]
  size = 0
  for d in range(n_docs):
    size += ends[d] - begins[d] + 1
  out = np.empty(size + 8, np.uint8)
  new_starts = np.empty(n_docs + 1, np.int64)
  j = 0
  for d in range(n_docs):
    new_starts[d] = j
    for i in range(begins[d], ends[d]):
      b = byte_map[buf[i]]
      out[j] = b
      j += keep[b]
    out[j] = 32  # the separator
    j += 1
  new_starts[n_docs] = j
  out[j:j + 8] = 0
  return out[:j + 8], new_starts


@_jit
def _edges(out, n, space, doc_starts):
  # Every document ends with its separator (a space), so tokens end there.
  cap = n // 2 + 2
  starts = np.empty(cap, np.int64)
  ends = np.empty(cap, np.int64)
  ns = 0
  ne = 0
  prev = np.int64(1)
  for i in range(n):
    sp = space[out[i]]
    starts[ns] = i
    ends[ne] = i
    ns += prev & (1 - sp)
    ne += sp & (1 - prev)
    prev = sp
  if ne < ns:  # a last token without a separator after it
    ends[ne] = n
    ne += 1
  n_docs = doc_starts.shape[0] - 1
  row_splits = np.empty(n_docs + 1, np.int64)
  t = 0
  for d in range(n_docs + 1):
    while t < ns and starts[t] < doc_starts[d]:
      t += 1
    row_splits[d] = t
  return starts[:ns], ends[:ns], row_splits


# Tokens keyed before their slots are probed (vectorize_int, lookup_ucs4).
_BLOCK = 64


@_inline
def _prefetch_slot(flat_keys, table, bits, key):
  """Asks for the cache line of ``key``'s home slot: in the keyed slots
  (``flat_keys``, two words a slot) when there are, else the slot words."""
  home = np.int64(_hash_word(key) >> np.uint64(32 - bits))
  if flat_keys.shape[0] > 0:
    _prefetch(flat_keys, 2 * home)
  else:
    _prefetch(table, home)


@_inline
def _probe_block(keyed, table, bits, keys, tmp, starts, used, m, vdata,
                 voffsets, docs, cols, out, id_offset, mask_pos, mask_id,
                 unknown_id):
  """Probes a block's ``m`` tokens (token ``j``: ``tmp[starts[j]:]`` up to
  the next token's start or ``used``) and writes their ids into ``out``."""
  for j in range(m):
    s = starts[j]
    e = starts[j + 1] if j + 1 < m else used
    res = _probe(keyed, table, bits, keys[j], tmp, s, e - s, vdata, voffsets)
    out[docs[j], cols[j]] = _layout_id(res, id_offset, mask_pos, mask_id,
                                       unknown_id)


@_inline
def _ucs4_row(flat, i, w, tmp, j):
  """UTF-8 of row i of a flat (n * w) code point array written at tmp[j:]:
  the new j, or -1 for a code point UTF-8 cannot encode.

  Fast path (fixed-trip, vectorisable loops): count the non-NULs, narrow
  that many code points, and check they are ASCII without NULs; otherwise
  the exact path (a row's length ends at its last non-NUL)."""
  base = i * w
  cnt = 0
  for c in range(w):
    cnt += flat[base + c] != 0
  lo = np.uint32(0xFFFFFFFF)
  hi = np.uint32(0)
  for c in range(cnt):
    cp = flat[base + c]
    tmp[j + c] = cp
    lo = min(lo, cp)
    hi = max(hi, cp)
  if cnt == 0 or (lo != 0 and hi < 0x80):
    return j + cnt
  m = w
  while m > 0 and flat[base + m - 1] == 0:
    m -= 1
  for c in range(m):
    cp = flat[base + c]
    if cp < 0x80:
      tmp[j] = cp
      j += 1
    elif cp < 0x800:
      tmp[j] = 0xC0 | (cp >> 6)
      tmp[j + 1] = 0x80 | (cp & 0x3F)
      j += 2
    elif cp < 0x10000:
      if 0xD800 <= cp <= 0xDFFF:
        return -1
      tmp[j] = 0xE0 | (cp >> 12)
      tmp[j + 1] = 0x80 | ((cp >> 6) & 0x3F)
      tmp[j + 2] = 0x80 | (cp & 0x3F)
      j += 3
    else:
      if cp > 0x10FFFF:
        return -1
      tmp[j] = 0xF0 | (cp >> 18)
      tmp[j + 1] = 0x80 | ((cp >> 12) & 0x3F)
      tmp[j + 2] = 0x80 | ((cp >> 6) & 0x3F)
      tmp[j + 3] = 0x80 | (cp & 0x3F)
      j += 4
  return j


@numba.njit(cache=True, nogil=True, parallel=True)
def lookup_ucs4(cps, slots, vdata, voffsets, id_offset, mask_pos, mask_id,
                unknown_id):
  """Ids of the rows of a UCS-4 code point matrix (NumPy ``str_``), like
  pack_ucs4 then lookup, fused: rows are encoded into a small scratch
  buffer a block of 64 at a time, each keyed and its home slot prefetched,
  then the block is probed (``slots``: what :func:`table_slots` returns),
  so the slots' cache misses overlap; no packed buffer is built. Chunks of
  rows run on numba's threads. Returns ``(ids, bad)``: ``bad`` is a row
  UTF-8 cannot encode (a surrogate), else -1."""
  keyed, table, _ = slots
  flat_keys = keyed.reshape(keyed.shape[0] * 2)
  n, w = cps.shape
  flat = cps.reshape(n * w)
  bits = _table_bits(table.shape[0])
  ids = np.empty((n, 1), np.int64)
  n_chunks = max(1, min(64, n // 4096))
  bad_rows = np.full(n_chunks, -1, np.int64)
  for ch in numba.prange(n_chunks):
    tmp = np.empty(_BLOCK * 4 * w + 8, np.uint8)
    keys = np.empty(_BLOCK, np.uint64)
    starts = np.empty(_BLOCK, np.int64)
    rows = np.empty(_BLOCK, np.int64)
    cols = np.zeros(_BLOCK, np.int64)
    m = 0
    u = 0
    for i in range(ch * n // n_chunks, (ch + 1) * n // n_chunks):
      e = _ucs4_row(flat, i, w, tmp, u)
      if e < 0:
        if bad_rows[ch] < 0:
          bad_rows[ch] = i
        ids[i, 0] = unknown_id
        continue
      key = _key(tmp, u, e)
      _prefetch_slot(flat_keys, table, bits, key)
      keys[m] = key
      starts[m] = u
      rows[m] = i
      m += 1
      u = e
      if m == _BLOCK:
        _probe_block(keyed, table, bits, keys, tmp, starts, u, m, vdata,
                     voffsets, rows, cols, ids, id_offset, mask_pos, mask_id,
                     unknown_id)
        m = 0
        u = 0
    _probe_block(keyed, table, bits, keys, tmp, starts, u, m, vdata,
                 voffsets, rows, cols, ids, id_offset, mask_pos, mask_id,
                 unknown_id)
  ids = ids.reshape(n)
  for ch in range(n_chunks):
    if bad_rows[ch] >= 0:
      return ids, bad_rows[ch]
  return ids, -1


@_jit
def pack_ucs4(cps):
  """Rows of UCS-4 code points (NumPy ``str_``) to UTF-8 ``(buf, starts,
  ends, bad)``; ``bad`` is the first row holding a code point UTF-8 cannot
  encode (a surrogate), else -1. A row's length ends at its last non-NUL."""
  n, w = cps.shape
  flat = cps.reshape(n * w)
  tmp = np.empty(4 * n * w + 8, np.uint8)  # worst case; only j bytes touched
  starts = np.empty(n, np.int64)
  ends = np.empty(n, np.int64)
  j = 0
  for i in range(n):
    s = j
    j = _ucs4_row(flat, i, w, tmp, j)
    if j < 0:
      return tmp[:8], starts, ends, i
    starts[i] = s
    ends[i] = j
  buf = np.zeros(j + 8, np.uint8)
  buf[:j] = tmp[:j]
  return buf, starts, ends, -1


@_jit
def first_in_doc(keys, row_splits):
  """Marks each token whose key is new within its document (tf-idf counts a
  token once per document): a pairwise check in short documents, a sort in
  long ones."""
  flag = np.ones(keys.shape[0], np.bool_)
  for d in range(row_splits.shape[0] - 1):
    s = row_splits[d]
    e = row_splits[d + 1]
    if e - s <= 48:
      for i in range(s + 1, e):
        k = keys[i]
        for j in range(s, i):
          if keys[j] == k:
            flag[i] = False
            break
    else:
      order = np.argsort(keys[s:e], kind="mergesort")  # stable: first first
      for q in range(1, e - s):
        if keys[s + order[q]] == keys[s + order[q - 1]]:
          flag[s + order[q]] = False
  return flag


_ONE = np.uint64(1)


@_inline
def _regrow(tab, bits):
  """A count table (``key, (g + 1) << 32 | count`` per slot) of
  ``2**bits`` slots, holding ``tab``'s entries."""
  mask = (1 << bits) - 1
  shift = np.uint64(64 - bits)
  out = np.zeros(2 << bits, np.uint64)
  for h in range(tab.shape[0] // 2):
    if tab[2 * h + 1] != 0:
      sl = np.int64((tab[2 * h] * _M1) >> shift)
      while out[2 * sl + 1] != 0:
        sl = (sl + 1) & mask
      out[2 * sl] = tab[2 * h]
      out[2 * sl + 1] = tab[2 * h + 1]
  return out


@_inline
def _find(tab, bits, k):
  """The slot of key ``k`` in a count table, or of the empty slot it would
  take."""
  mask = (1 << bits) - 1
  sl = np.int64((k * _M1) >> np.uint64(64 - bits))
  while tab[2 * sl + 1] != 0 and tab[2 * sl] != k:
    sl = (sl + 1) & mask
  return sl


@_inline
def _keep_bytes(arena, used, buf, s, n):
  """``arena`` (grown when full) with ``buf[s:s + n]`` appended at
  ``used``: the long keys' first tokens, packed (so that checking a repeat
  reads cached bytes, not the batch's)."""
  if used + n > arena.shape[0]:
    grown = np.empty(2 * (used + n) + 4096, np.uint8)
    grown[:used] = arena[:used]
    arena = grown
  arena[used:used + n] = buf[s:s + n]
  return arena


@_inline
def _no_table():
  e = np.zeros(0, np.int64)
  return np.zeros(0, np.uint64), e, e, np.zeros(0, np.uint8), e, False


@_inline
def _count(buf, starts, ends, keys, row_splits, track_docs):
  """count_keys' loop; ``keys`` empty: computed here."""
  n = starts.shape[0]
  have_keys = keys.shape[0] == n
  bits = 10
  tab = np.zeros(2 << bits, np.uint64)
  ukeys = np.empty(n, np.uint64)
  offsets = np.empty(n + 1, np.int64)
  offsets[0] = 0
  arena = np.empty(0, np.uint8)
  used = 0
  nd = n if track_docs else 0
  last_doc = np.empty(nd, np.int64)
  doc_counts = np.empty(nd, np.int64)
  m = 0
  d = 0
  for i in range(n):
    s = starts[i]
    ln = ends[i] - s
    k = keys[i] if have_keys else _key(buf, s, ends[i])
    if track_docs:
      while row_splits[d + 1] <= i:
        d += 1
    sl = _find(tab, bits, k)
    v = tab[2 * sl + 1]
    if v != 0:
      tab[2 * sl + 1] = v + _ONE
      g = np.int64(v >> _S32) - 1
      if k >= _LONG and (offsets[g + 1] - offsets[g] != ln or not _same(
          buf, s, arena, offsets[g], ln)):
        return _no_table()
      if track_docs and last_doc[g] != d:
        last_doc[g] = d
        doc_counts[g] += 1
      continue
    tab[2 * sl] = k
    tab[2 * sl + 1] = (np.uint64(m + 1) << _S32) | _ONE
    ukeys[m] = k
    offsets[m] = used
    if k >= _LONG:
      arena = _keep_bytes(arena, used, buf, s, ln)
      used += ln
    offsets[m + 1] = used
    if track_docs:
      last_doc[m] = d
      doc_counts[m] = 1
    m += 1
    if 2 * m >= (1 << bits):  # keep the load under 1/2
      bits += 1
      tab = _regrow(tab, bits)
  counts = np.empty(m, np.int64)
  for h in range(tab.shape[0] // 2):
    v = tab[2 * h + 1]
    if v != 0:
      counts[np.int64(v >> _S32) - 1] = np.int64(v & _M32)
  return (ukeys[:m].copy(), counts, doc_counts[:m].copy(),
          arena[:used].copy(), offsets[:m + 1].copy(), True)


@_jit
def count_keys(keys, buf, starts, ends, row_splits, track_docs):
  """The distinct tokens ``buf[starts:ends]`` (by their ``keys``; empty:
  computed here) in order of first occurrence, counted in one hash-table
  pass: ``(ukeys, counts, doc_counts, data, offsets, ok)``; ``doc_counts``:
  the documents (rows of ``row_splits``) each occurs in (empty unless
  ``track_docs``); ``data[offsets[g]:offsets[g + 1]]``: the bytes of key
  ``g`` when long, else empty. ``ok`` False (all else empty): a long key's
  tokens differ in bytes (a 63-bit hash collision). At most 2**32 - 2
  tokens (a slot packs two 32-bit fields)."""
  return _count(buf, starts, ends, keys, row_splits, track_docs)


@_jit
def count_whitespace(buf, begins, ends, lower, strip, track_docs):
  """:func:`tokenize_whitespace` then :func:`count_keys` (keys computed)."""
  out, new_starts = _compact(buf, begins, ends, LOWER if lower else SAME,
                             (CLASS_STRIP if strip else CLASS_KEEP) != 0)
  starts, tok_ends, row_splits = _edges(out, int(new_starts[-1]), _SPACE,
                                        new_starts)
  if starts.shape[0] >= 0xFFFFFFFF:
    return _no_table()
  return _count(out, starts, tok_ends, np.zeros(0, np.uint64), row_splits,
                track_docs)


@_jit
def merge_keys(ukeys, counts, doc_counts, data, offsets):
  """:func:`count_keys`' tables of parts of one batch laid end to end
  (``offsets`` running on over ``data``), added up: the whole batch's
  :func:`count_keys` (``doc_counts`` empty when it is)."""
  n = ukeys.shape[0]
  track = doc_counts.shape[0] == n and n > 0
  bits = 10
  while (1 << bits) < n // 2:  # parts share most keys: m is well below n
    bits += 1
  tab = np.zeros(2 << bits, np.uint64)
  okeys = np.empty(n, np.uint64)
  ooff = np.empty(n + 1, np.int64)
  ooff[0] = 0
  odata = np.empty(data.shape[0], np.uint8)
  ocounts = np.zeros(n, np.int64)
  odocs = np.zeros(n if track else 0, np.int64)
  m = 0
  used = 0
  for i in range(n):
    k = ukeys[i]
    s = offsets[i]
    ln = offsets[i + 1] - s
    sl = _find(tab, bits, k)
    v = tab[2 * sl + 1]
    if v != 0:
      g = np.int64(v >> _S32) - 1
      if ooff[g + 1] - ooff[g] != ln or not _same(data, s, odata, ooff[g],
                                                  ln):
        return _no_table()
    else:
      g = m
      m += 1
      tab[2 * sl] = k
      tab[2 * sl + 1] = np.uint64(g + 1) << _S32
      okeys[g] = k
      odata[used:used + ln] = data[s:s + ln]
      used += ln
      ooff[g + 1] = used
      if 2 * m >= (1 << bits):
        bits += 1
        tab = _regrow(tab, bits)
    ocounts[g] += counts[i]
    if track:
      odocs[g] += doc_counts[i]
  return (okeys[:m].copy(), ocounts[:m].copy(), odocs[:m].copy(),
          odata[:used].copy(), ooff[:m + 1].copy(), True)


@_jit
def pad_rows(ids, row_splits, width, fill):
  """Ragged ids as an (n, width) int32 matrix, cut or padded with fill."""
  n = row_splits.shape[0] - 1
  out = np.full((n, width), fill, np.int32)
  for r in range(n):
    s = row_splits[r]
    m = min(row_splits[r + 1] - s, width)
    for c in range(m):
      out[r, c] = ids[s + c]
  return out


@_jit
def take_strings(data, offsets, idx):
  """Strings ``idx`` of a packed batch (string ``i``: ``data[offsets[i]:
  offsets[i + 1]]``), copied in order: ``(data, offsets)``."""
  m = idx.shape[0]
  out_offsets = np.zeros(m + 1, np.int64)
  for j in range(m):
    i = idx[j]
    out_offsets[j + 1] = out_offsets[j] + offsets[i + 1] - offsets[i]
  out = np.empty(out_offsets[m], np.uint8)
  for j in range(m):
    s, d, e = offsets[idx[j]], out_offsets[j], out_offsets[j + 1]
    out[d:e] = data[s:s + e - d]  # a memcpy, not a loop of bytes
  return out, out_offsets


@_jit
def vectorize_int(buf, n_docs, byte_map, klass, slots, vdata, id_offset,
                  mask_pos, mask_id, unknown_id, out):
  """Standardize, split on whitespace, look up and pad, fused, for
  text_vectorization's "int" mode with an ``output_sequence_length``.

  ``buf`` holds the UTF-8 documents, each followed by a NUL. Each byte is
  mapped by ``byte_map`` (lowering) and classed by ``klass`` (0 dropped, 1
  whitespace, 2 part of a token); a token's kept bytes are gathered into a
  scratch buffer and keyed, its home slot prefetched, and a block of 64
  such tokens probed like :func:`lookup` (``slots``: what ``table_slots``
  returns), each id written straight into row ``d`` of ``out``
  (``(n_docs, width)`` int32, zero-filled), whose filling stops at
  ``width`` tokens (the rest of the document is only skipped). Returns the
  number of documents found: not ``n_docs`` when a document holds a NUL
  itself (the caller then takes the general path).
  """
  keyed, table, voffsets = slots
  bits = _table_bits(table.shape[0])
  flat_keys = keyed.reshape(keyed.shape[0] * 2)
  width = out.shape[1]
  n = buf.shape[0]
  # A block's tokens: kept bytes back to back in tmp, then per token its
  # key, bytes and place in `out`.
  tmp = np.empty(n + 8, np.uint8)
  keys = np.empty(_BLOCK, np.uint64)
  starts = np.empty(_BLOCK, np.int64)
  docs = np.empty(_BLOCK, np.int64)
  cols = np.empty(_BLOCK, np.int64)
  m = 0  # tokens in the block
  u = 0  # bytes in tmp
  d = 0
  i = 0
  while i < n and d < n_docs:
    col = 0
    s = u  # the current token's first byte in tmp
    w = _U0  # its first 8 bytes as a word (a short token's key, but length)
    while True:
      raw = buf[i]
      i += 1
      b = byte_map[raw]
      c = klass[b]
      if c == 2 and raw != 0:
        tmp[u] = b
        # No branch: bytes past the 8th garble w, unused for long tokens.
        w |= np.uint64(b) << (np.uint64((u - s) & 7) * _S8)
        u += 1
        continue
      if c == 0:
        continue
      # whitespace or the document's NUL: the token (if any) ends here
      t = u - s
      if t > 0:
        if col < width:
          key = w | (np.uint64(t) << _S56) if t <= 7 else _key(tmp, s, u)
          # Its slot is loaded now and probed a block later, so that the
          # loads of a block's slots overlap instead of stalling in turn.
          _prefetch_slot(flat_keys, table, bits, key)
          keys[m] = key
          starts[m] = s
          docs[m] = d
          cols[m] = col
          m += 1
          col += 1
          if m == _BLOCK:
            _probe_block(keyed, table, bits, keys, tmp, starts, u, m, vdata,
                         voffsets, docs, cols, out, id_offset, mask_pos,
                         mask_id, unknown_id)
            m = 0
            u = 0
        else:
          u = s  # width 0: nothing is kept
        s = u
        w = _U0
        if col >= width:  # row full: skip to the document's end
          while buf[i - 1] != 0:
            i += 1
          break
      if raw == 0:
        break
    d += 1
  _probe_block(keyed, table, bits, keys, tmp, starts, u, m, vdata, voffsets,
               docs, cols, out, id_offset, mask_pos, mask_id, unknown_id)
  if i != n:
    return -1
  return d
