"""The lookups' module-level pieces, tested without their factories.

Counting and merging counts, the id layout (mask, OOV slots, vocabulary),
table lookups of unknown tokens, the tokenizer and the shared checks are
functions of their modules; these tests call them directly.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.core import checks
from prepro_core._src.host import farmhash
from prepro_core._src.host import packed
from prepro_core._src.lookup import integer_lookup as il
from prepro_core._src.lookup import string_lookup as sl
from prepro_core._src.lookup import table
from prepro_core._src.lookup import text_vectorization as tv


def _count_dict(counts):
  """A string_lookup TokenCounts as {token: (count, doc_count)}."""
  data, off = counts.tokens.data.tobytes(), counts.tokens.offsets.tolist()
  docs = counts.doc_counts.tolist() or [0] * len(counts.counts)
  return {data[a:b].decode(): (c, d) for a, b, c, d in zip(
      off[:-1], off[1:], counts.counts.tolist(), docs)}


# ---------------------------------------------------------------------------
# Counting, then merging counts, equals counting the whole.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("output_mode", ["int", "tf_idf"])
def test_string_counts_merge_like_one_count(output_mode):
  rows = [["a", "b", "a"], ["c"], ["b", "b"], ["a", "d", "c"]]
  fresh = pc.string_lookup(output_mode=output_mode).init(None)
  track = output_mode == "tf_idf"
  whole = sl.count_token_batch(fresh, sl.batch_tokens(rows, "utf-8"))
  left = sl.count_token_batch(fresh, sl.batch_tokens(rows[:2], "utf-8"))
  right = sl.count_token_batch(fresh, sl.batch_tokens(rows[2:], "utf-8"))
  merged = sl.merge_states(left, right, track)
  assert _count_dict(merged.counts) == _count_dict(whole.counts)
  assert int(merged.counts.num_docs) == int(whole.counts.num_docs) == (
      4 if track else 0)
  # Counting the second half into the first half's state is the same again.
  serial = sl.count_token_batch(left, sl.batch_tokens(rows[2:], "utf-8"))
  assert _count_dict(serial.counts) == _count_dict(whole.counts)
  if track:
    assert _count_dict(whole.counts)["a"] == (3, 2)  # 3 times, in 2 rows


def test_string_learn_vocabulary_order_and_specials():
  t = pc.string_lookup(mask_token="[M]", max_tokens=5)
  s = sl.count_token_batch(t.init(None), sl.batch_tokens(
      ["x", "y", "y", "z", "z", "w", "[M]", "[M]", "[M]", "[UNK]"], "utf-8"))
  cfg = table.LookupConfig("string_lookup", 5, 1, "[M]", "[UNK]", "int",
                           False, False)
  words, idf = sl.learn_vocabulary(cfg, s.counts)
  # Specials dropped; count descending, ties by token descending; 5 - 2 slots.
  assert packed.unpack(words) == ["z", "y", "x"]
  assert idf is None


@pytest.mark.parametrize("track_docs", [False, True])
def test_integer_counts_merge_like_one_count(track_docs):
  a = np.array([[1, 2, 2], [3, 1, 1]], np.int64)
  b = np.array([[2, 5, 5]], np.int64)
  whole = il.count_values(np.concatenate([a, b]), track_docs)
  parts = il.merge_counts(il.count_values(a, track_docs),
                          il.count_values(b, track_docs), track_docs)
  assert parts.values.tolist() == whole.values.tolist() == [1, 2, 3, 5]
  assert parts.counts.tolist() == whole.counts.tolist() == [3, 3, 1, 2]
  assert parts.doc_counts.tolist() == whole.doc_counts.tolist() == (
      [2, 2, 1, 1] if track_docs else [])
  assert int(parts.num_docs) == int(whole.num_docs) == (3 if track_docs else 0)
  # Merging into empty counts changes nothing.
  again = il.merge_counts(il.empty_counts(), whole, track_docs)
  assert again.counts.tolist() == whole.counts.tolist()


def test_integer_learn_vocabulary():
  cfg = table.LookupConfig("integer_lookup", 4, 1, 0, -1, "int", False, False)
  counts = il.count_values(np.array([7, 7, 3, 3, 9, 0, 0, 0, -1]), False)
  values, idf = il.learn_vocabulary(cfg, counts)
  # Mask (0) and OOV (-1) dropped; ties by value descending; 4 - 2 slots.
  assert values.tolist() == [7, 3]
  assert idf is None


# ---------------------------------------------------------------------------
# The id layout: mask, then OOV slots, then the vocabulary.
# ---------------------------------------------------------------------------


def test_id_layout():
  assert table.id_layout(2, 1, 0, 3, True) == table.IdLayout(2, 3, 0, 1)
  lay = table.id_layout(4, 3, table.DROPPED_ID, 5, False)
  assert lay == table.IdLayout(4, -2, table.DROPPED_ID, table.UNKNOWN_ID)
  assert table.id_layout(1, 0, 0, 2, False).unknown_id == table.UNKNOWN_ID


@pytest.mark.parametrize("output_mode,start,mask_id", [
    ("int", 3, 0), ("count", 2, table.DROPPED_ID)])
def test_string_state_layout(output_mode, start, mask_id):
  s = pc.string_lookup(vocabulary=["a", "b"], mask_token="", num_oov_indices=2,
                       output_mode=output_mode).init(None)
  lay = sl.layout_of(s)
  assert (lay.token_start, lay.num_oov, lay.mask_id) == (start, 2, mask_id)
  assert lay.depth == start + 2 and lay.given and not lay.track_docs
  assert sl.vocab_size(s) == start + 2
  assert sl.id_layout(s) == table.IdLayout(start, 2, mask_id,
                                           table.UNKNOWN_ID)
  # The table holds the vocabulary, then the mask token.
  assert packed.unpack(sl.table_vocabulary(s)) == ["a", "b", ""]


# ---------------------------------------------------------------------------
# Table lookups of unknown tokens.
# ---------------------------------------------------------------------------


def test_string_lookup_of_unknown_tokens():
  one = pc.string_lookup(vocabulary=["a", "b"]).init(None)
  assert sl.lookup_tokens(one, ["b", "zz", "a"]).tolist() == [2, 0, 1]
  none = pc.string_lookup(vocabulary=["a"], num_oov_indices=0).init(None)
  with pytest.raises(ValueError, match="num_oov_indices=0"):
    sl.lookup_tokens(none, ["a", "zz"])
  three = pc.string_lookup(vocabulary=["a"], num_oov_indices=3).init(None)
  unknown = ["zz", "y", "hello"]
  want = (np.asarray(farmhash.fingerprint64_strings(np.array(unknown)),
                     np.uint64) % np.uint64(3)).tolist()
  assert sl.lookup_tokens(three, unknown).tolist() == want
  tokens = sl.batch_tokens(unknown, "utf-8")
  buckets = sl.oov_buckets(tokens, np.arange(3), 3, three.salt)
  assert buckets.tolist() == want


def test_integer_lookup_values_dense_and_sorted_agree():
  cfg = dict(rule=il.OovRule(2, 1, "floormod", np.zeros((0,), np.uint64)),
             mask_token=None, mask_id=0)
  vocab = np.array([10, 30, 20], np.int32)
  start = 3
  order = np.argsort(vocab, kind="stable")
  dense, base = il.dense_id_table(vocab, start)
  assert dense.shape == (21,) and base == 10
  x = jnp.array([10, 20, 30, 11, -7, 5], jnp.int32)
  by_gather = il.lookup_values(jnp.asarray(vocab[order]),
                               jnp.asarray(start + order, jnp.int32),
                               jnp.asarray(dense), jnp.asarray(base, jnp.int32),
                               x, **cfg)
  by_search = il.lookup_values(jnp.asarray(vocab[order]),
                               jnp.asarray(start + order, jnp.int32),
                               jnp.zeros((0,), jnp.int32),
                               jnp.asarray(0, jnp.int32), x, **cfg)
  # Known values from 3; unknown ones to floormod(x, 2) + 1.
  want = [3, 5, 4, 1 + 11 % 2, 1 + (-7) % 2, 1 + 5 % 2]
  assert np.asarray(by_gather).tolist() == want
  assert np.asarray(by_search).tolist() == want
  with pytest.raises(ValueError, match="num_oov_indices=0"):
    il.check_known(np.array([1, 2]), np.array([4, -1]))


# ---------------------------------------------------------------------------
# The tokenizer on its own, and the outputs.
# ---------------------------------------------------------------------------


def test_tokenizer_alone():
  tk = tv.Tokenizer("lower_and_strip_punctuation", "whitespace", (1, 2))
  tz = tv.tokenize_inputs(tk, ["Hello, World!", "a"], "inputs")
  assert tz.tokens.to_list() == [["hello", "world", "hello world"], ["a"]]
  assert not tz.scalar and tz.dense_width is None
  chars = tv.Tokenizer(None, "character", None)
  assert tv.tokenize_inputs(chars, "ab", "inputs").tokens.to_list() == [
      ["a", "b"]]
  rows = tv.tokenize_inputs(tv.Tokenizer(None, None, None),
                            np.array([["x", "y"], ["z", "w"]]), "inputs")
  assert rows.dense_width == 2 and rows.tokens.to_list() == [["x", "y"],
                                                            ["z", "w"]]


def test_pad_rows_and_int_output():
  ids = np.array([5, 6, 7, 8], np.int64)
  splits = np.array([0, 3, 3, 4], np.int64)
  assert tv.pad_rows(ids, splits, 2, 0).tolist() == [[5, 6], [0, 0], [8, 0]]
  tk = tv.Tokenizer(None, "whitespace", None)
  tz = tv.tokenize_inputs(tk, ["p q r", "", "s"], "inputs")
  out = tv.int_output(ids, tz, None, False)
  assert out.tolist() == [[5, 6, 7], [0, 0, 0], [8, 0, 0]]


# ---------------------------------------------------------------------------
# The shared argument checks.
# ---------------------------------------------------------------------------


def test_lookup_checks():
  assert checks.check_ngrams(None, "w") is None
  assert checks.check_ngrams(3, "w") == (1, 2, 3)
  assert checks.check_ngrams((2, 4), "w") == (2, 4)
  for bad in (True, (), (1, "2"), 0):
    with pytest.raises(ValueError, match="`ngrams`"):
      checks.check_ngrams(bad, "w")
  assert checks.check_output_mode("binary", ("multi_hot",), "w") == "multi_hot"
  assert checks.check_output_mode("tf-idf", ("tf_idf",), "w") == "tf_idf"
  with pytest.raises(ValueError, match="`output_mode`"):
    checks.check_output_mode("one_hot", ("int",), "w")
  with pytest.raises(ValueError, match="`encoding`"):
    checks.check_encoding("no-such-codec", "w")
  with pytest.raises(TypeError, match="must be a bool"):
    checks.check_bool(1, "flag", "w")
  assert checks.check_int(None, "m", "w", allow_none=True) is None
  with pytest.raises(TypeError, match="must be an int or None"):
    checks.check_int(True, "m", "w", allow_none=True)
  with pytest.raises(ValueError, match="`split` must be None, a callable"):
    checks.check_callable_or_choice("words", "split", ("whitespace",), "w")
