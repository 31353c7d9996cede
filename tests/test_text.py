"""Tests of the host-side tokenizer (prepro_core/_src/host/tokenize.py,
inputs.py, keys.py and vocab.py).

The vectorised byte-buffer code is checked against plain-Python references
that follow TensorFlow's definitions (ASCII lowering, the 32 ASCII
punctuation characters, ASCII whitespace, code points, ngrams joined by one
space), and the exact-grouping/lookup machinery against Python dicts,
including its hash-collision fallbacks.
"""

import contextlib
import string

import numpy as np
import pytest
import prepro_core as pc
from hypothesis import given, settings, strategies as st

from prepro_core._src.host import inputs
from prepro_core._src.host import keys
from prepro_core._src.host import packed as packed_lib
from prepro_core._src.host import tokenize
from prepro_core._src.host import vocab as vocab_lib


@pytest.fixture
def kernels_backend():
  """``kernels_backend(name)`` selects the host kernels for the rest of the
  test (``pc.host_kernels``, entered until the test ends)."""
  with contextlib.ExitStack() as stack:
    yield lambda name: stack.enter_context(pc.host_kernels(name))

PUNCT = set(string.punctuation.encode())
SPACE = set(b" \t\n\x0b\x0c\r")


def ref_standardize(doc: str, mode) -> bytes:
  b = doc.encode("utf-8")
  if mode in ("lower", "lower_and_strip_punctuation"):
    b = bytes(c + 32 if 65 <= c <= 90 else c for c in b)
  if mode in ("strip_punctuation", "lower_and_strip_punctuation"):
    b = bytes(c for c in b if c not in PUNCT)
  return b


def ref_split_ws(b: bytes) -> list:
  out, cur = [], bytearray()
  for c in b:
    if c in SPACE:
      if cur:
        out.append(bytes(cur))
      cur = bytearray()
    else:
      cur.append(c)
  if cur:
    out.append(bytes(cur))
  return out


def ref_ngrams(toks: list, widths) -> list:
  out = []
  for w in widths:
    out += [b" ".join(toks[i:i + w]) for i in range(len(toks) - w + 1)]
  return out


@pytest.fixture(params=["numpy", "numba"])
def accelerator(request):
  """Runs a test with the NumPy code and with the numba kernels (the
  host kernels, numpy_text.py and numba_text.py); both must give the same results."""
  with pc.host_kernels(request.param):
    yield request.param


def rows(t: packed_lib.Tokens) -> list:
  flat = t.to_bytes()
  rs = t.row_splits.tolist()
  return [flat[rs[i]:rs[i + 1]] for i in range(len(rs) - 1)]


def pipeline(docs, mode, split="whitespace", widths=None):
  buf, starts = inputs.encode_documents(docs)
  if mode is not None:
    buf, starts = tokenize.standardize_buffer(buf, starts, mode)
  toks = {"whitespace": tokenize.split_whitespace, "character":
          tokenize.split_characters, None: tokenize.no_split}[split](buf, starts)
  if widths:
    toks = tokenize.ngrams(toks, widths)
  return toks


EDGE = [
    "", " ", "\t\n\r\x0b\x0c", "!!!", "a", "Hello, World!", "  two  spaces ",
    "tab\tsep\nline", "ÉCOLE Straße", "emoji 😀 x", "nbsp\u00a0kept",
    "ideographic\u3000space", "curly “quotes”", "x-y_z", "UPPER lower",
    "\x00nul", "a\x1fb",
]
docs_strategy = st.lists(
    st.text(alphabet=st.sampled_from(
        list("aAbBzZ09 \t\n\r\x0b\x0c.,!-'\"_") + ["é", "É", "ß", "😀",
                                                  "\u00a0", "漢"]),
            max_size=30), max_size=12)


def test_tables_match_arithmetic():
  b = np.arange(256, dtype=np.uint8)
  np.testing.assert_array_equal(tokenize.is_ascii_punctuation(b), tokenize._PUNCT_TABLE)
  np.testing.assert_array_equal(tokenize.is_ascii_space(b), tokenize._SPACE_TABLE)
  assert tokenize._PUNCT_TABLE.sum() == 32 and tokenize._SPACE_TABLE.sum() == 6
  lowered = tokenize.lower_ascii(b)
  expect = np.array([c + 32 if 65 <= c <= 90 else c for c in range(256)])
  np.testing.assert_array_equal(lowered, expect)


@pytest.mark.parametrize("mode", [None, "lower", "strip_punctuation",
                                  "lower_and_strip_punctuation"])
def test_standardize_and_split_edge_cases(mode):
  got = rows(pipeline(EDGE, mode))
  assert got == [ref_split_ws(ref_standardize(d, mode)) for d in EDGE]


@settings(max_examples=60, deadline=None)
@given(docs_strategy, st.sampled_from([None, "lower_and_strip_punctuation"]),
       st.sampled_from([(1,), (2,), (1, 2), (3, 1), (2, 3)]))
def test_split_and_ngrams_match_reference(docs, mode, widths):
  got = rows(pipeline(docs, mode, widths=widths))
  want = [ref_ngrams(ref_split_ws(ref_standardize(d, mode)), widths)
          for d in docs]
  assert got == want


@settings(max_examples=40, deadline=None)
@given(docs_strategy, st.sampled_from([(1,), (1, 2)]))
def test_character_split_matches_code_points(docs, widths):
  got = rows(pipeline(docs, None, "character", widths))
  want = [ref_ngrams([c.encode() for c in d], widths) for d in docs]
  assert got == want


def test_no_split_keeps_documents_whole():
  got = rows(pipeline(EDGE, None, None))
  assert got == [[d.encode()] for d in EDGE]


def test_unicode_standardize_option():
  docs = ["ÉCOLE «Straße»! İ¿Qué? 「漢字」 a—b", "KELVIN \u212a"]
  docs2 = tokenize.standardize_strings(docs, "lower_and_strip_punctuation_unicode")
  buf, starts = inputs.encode_documents(docs2)
  buf, starts = tokenize.standardize_buffer(
      buf, starts, "lower_and_strip_punctuation_unicode")
  got = inputs.decode_documents(buf, starts)
  assert got == ["école straße i̇qué 漢字 ab", "kelvin k"]
  # The ASCII default leaves non-ASCII letters and punctuation alone.
  buf, starts = inputs.encode_documents(docs)
  buf, starts = tokenize.standardize_buffer(buf, starts,
                                        "lower_and_strip_punctuation")
  assert inputs.decode_documents(buf, starts)[0] == (
      "École «straße» İ¿qué 「漢字」 a—b")


def test_bytes_inputs_are_validated():
  buf, starts = inputs.encode_documents([b"caf\xc3\xa9", b"ok"])
  assert inputs.decode_documents(buf, starts) == ["café", "ok"]
  with pytest.raises(ValueError, match="element 1 is not valid utf-8"):
    inputs.encode_documents([b"ok", b"bad \xff byte"], argname="inputs")
  # A truncated sequence must not be completed by the next document.
  with pytest.raises(ValueError, match="not valid utf-8"):
    inputs.encode_documents([b"\xc3", b"\xa9"])
  buf, starts = inputs.encode_documents([b"caf\xe9"], encoding="latin-1")
  assert inputs.decode_documents(buf, starts) == ["café"]
  with pytest.raises(ValueError, match="cannot be encoded as UTF-8"):
    inputs.encode_documents(["lone \ud800 surrogate"])


def test_as_text_array_rejects_numbers():
  for bad in (np.arange(3), [1, 2], 3.5, [["a"], [2]]):
    with pytest.raises(TypeError, match="str"):
      inputs.as_text_array(bad, "inputs", "t")


def _random_tokens(rng, n, max_len):
  alphabet = np.frombuffer(b"abcde\x00\xff", np.uint8)
  lengths = rng.integers(0, max_len + 1, n)
  pool = [bytes(rng.choice(alphabet, size=k)) for k in lengths]
  # Repeat tokens so that groups have several members.
  return [pool[i] for i in rng.integers(0, n, 3 * n)]


def _tokens_of(items):
  data = b"".join(items)
  offsets = np.zeros(len(items) + 1, np.int64)
  np.cumsum([len(t) for t in items], out=offsets[1:])
  return packed_lib.Tokens(np.frombuffer(data, np.uint8), offsets[:-1], offsets[1:],
                     np.array([0, len(items)]))


@pytest.mark.parametrize("max_len", [3, 7, 8, 9, 17, 40])
def test_group_tokens_is_exact(max_len):
  items = _random_tokens(np.random.default_rng(max_len), 300, max_len)
  t = _tokens_of(items)
  first, inverse = vocab_lib.group_tokens(t.buf, t.starts, t.ends)
  assert len(first) == len(set(items))
  for i, g in enumerate(inverse):
    assert items[first[g]] == items[i]


def test_group_tokens_survives_hash_collisions(monkeypatch):
  items = _random_tokens(np.random.default_rng(0), 200, 30)
  t = _tokens_of(items)
  # Every long token hashes alike: the byte check must catch it and regroup.
  monkeypatch.setattr(keys, "_long_hash",
                      lambda r, s, l: np.full(len(s), 1 << 63, np.uint64))
  first, inverse = vocab_lib.group_tokens(t.buf, t.starts, t.ends)
  assert len(first) == len(set(items))
  for i, g in enumerate(inverse):
    assert items[first[g]] == items[i]


@pytest.mark.parametrize("collide", [False, True])
def test_table_lookup_is_exact(collide, monkeypatch, kernels_backend):
  rng = np.random.default_rng(1)
  vocab = sorted(set(_random_tokens(rng, 400, 20)))
  queries = _random_tokens(rng, 400, 20)
  if collide:  # (a NumPy-only hash: the numba kernels compare bytes anyway)
    kernels_backend("numpy")
    monkeypatch.setattr(keys, "_long_hash",
                        lambda r, s, l: np.full(len(s), 1 << 63, np.uint64))
  v = _tokens_of(vocab)
  data = v.buf
  offsets = np.concatenate([v.starts, v.ends[-1:]])
  table = vocab_lib.build_table(data, offsets)
  got = vocab_lib.table_lookup(table, data, offsets, _tokens_of(queries))
  index = {tok: i for i, tok in enumerate(vocab)}
  assert got.tolist() == [index.get(q, -1) for q in queries]


def test_count_distinct_and_merge_counts(accelerator):
  rng = np.random.default_rng(2)
  docs = [_random_tokens(rng, 5, 12)[:rng.integers(0, 8)] for _ in range(50)]
  lengths = [len(d) for d in docs]
  flat = [t for d in docs for t in d]
  t = _tokens_of(flat)
  t = t._replace(row_splits=np.concatenate([[0], np.cumsum(lengths)]))
  data, offsets, counts, doc_counts = vocab_lib.count_distinct(t, True)
  blob = data.tobytes()
  got = {blob[offsets[i]:offsets[i + 1]]: (counts[i], doc_counts[i])
         for i in range(len(counts))}
  want = {tok: (flat.count(tok), sum(tok in d for d in docs))
          for tok in set(flat)}
  assert got == want
  merged = vocab_lib.merge_counts((data, offsets, counts, doc_counts),
                             (data, offsets, counts, doc_counts))
  blob = merged[0].tobytes()
  got2 = {blob[merged[1][i]:merged[1][i + 1]]: (merged[2][i], merged[3][i])
          for i in range(len(merged[2]))}
  assert got2 == {k: (2 * a, 2 * b) for k, (a, b) in want.items()}


# ---------------------------------------------------------------------------
# The accelerated kernels (numba) against the NumPy code and references.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [None, "lower", "strip_punctuation",
                                  "lower_and_strip_punctuation"])
def test_fused_whitespace_tokenizer(mode, accelerator):
  docs = EDGE + ["", "only ascii here", "mixé ascii", "a\x00b c", ""]
  got = rows(tokenize.tokenize_whitespace(docs, mode))
  want = [ref_split_ws(ref_standardize(d, mode)) for d in docs]
  assert got == want
  assert rows(tokenize.tokenize_whitespace(
      [d.encode() for d in docs], mode)) == want
  with pytest.raises(ValueError, match="UTF-8"):
    tokenize.tokenize_whitespace(["ok", "lone \ud800"], mode)


@settings(max_examples=30, deadline=None)
@given(docs_strategy)
def test_fused_tokenizer_property(docs):
  for acc in ("numpy", "numba"):
    with pc.host_kernels(acc):
      got = rows(tokenize.tokenize_whitespace(docs, "lower_and_strip_punctuation"))
    assert got == [ref_split_ws(ref_standardize(d, "lower_and_strip_punctuation"))
                   for d in docs]


def test_bytes_rank_is_bytewise_order():
  rng = np.random.default_rng(3)
  for alphabet in (np.array([0, 1, 97, 98, 255], np.uint8),
                   np.arange(256, dtype=np.uint8)):
    items = sorted({bytes(rng.choice(alphabet, size=k))
                    for k in rng.integers(0, 30, 400)})
    order = rng.permutation(len(items))
    shuffled = [items[i] for i in order]
    t = _tokens_of(shuffled)
    rank = vocab_lib.bytes_rank(t.buf, np.concatenate([t.starts, t.ends[-1:]]))
    np.testing.assert_array_equal(rank, order)


@pytest.mark.parametrize("max_len", [5, 9, 40])
def test_accelerated_counts_and_lookups_match_numpy(max_len, monkeypatch, kernels_backend):
  rng = np.random.default_rng(max_len)
  docs = [_random_tokens(rng, 30, max_len)[:rng.integers(0, 12)]
          for _ in range(80)]
  flat = [t for d in docs for t in d]
  t = _tokens_of(flat)._replace(row_splits=np.concatenate(
      [[0], np.cumsum([len(d) for d in docs])]))
  vocab = sorted(set(flat[::3]))
  v = _tokens_of(vocab)
  offsets = np.concatenate([v.starts, v.ends[-1:]])
  out = {}
  for acc in ("numpy", "numba"):
    kernels_backend(acc)
    table = vocab_lib.build_table(v.buf, offsets)
    out[acc] = (vocab_lib.count_distinct(t, True), vocab_lib.count_distinct(t, False),
                vocab_lib.table_lookup(table, v.buf, offsets, t),
                vocab_lib.lookup_ids(table, v.buf, offsets, t, 3, 0, -1, 1))
  for a, b in zip(jax_leaves(out["numpy"]), jax_leaves(out["numba"])):
    np.testing.assert_array_equal(a, b)
  index = {tok: i for i, tok in enumerate(vocab)}
  assert out["numba"][2].tolist() == [index.get(q, -1) for q in flat]


def jax_leaves(tree):
  if isinstance(tree, (tuple, list)):
    return [x for item in tree for x in jax_leaves(item)]
  return [tree]
