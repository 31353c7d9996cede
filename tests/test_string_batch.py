"""pc.StringBatch / pc.pack_strings: strings packed once, read by every host
text transform as it reads a list, the same ids; and pc.grain.batch's packed
columns (sliced and shuffled)."""

import os
import pickle

import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.host import tokenize
from prepro_core._src.host.kernels import numba_text
from prepro_core._src.host.kernels import numpy_text
from prepro_core._src.lookup import string_lookup as sl

os.environ.setdefault("JAX_TRACEBACK_FILTERING", "off")

# Empty strings, non-ASCII, a NUL inside a string, long tokens, punctuation.
STRINGS = ["The cat sat.", "", "caf\u00e9 \u65e5\u672c\u8a9e", "a\x00b c",
           "don't STOP!!", "   ", "a " * 40,
           "VeryLongTokenThatIsLongerThan8bytes and-another-long-one",
           "\U0001F600 x", "b"]


def _packed_and_list():
  return pc.pack_strings(STRINGS), list(STRINGS)


def test_a_string_batch_reads_as_its_strings():
  b = pc.pack_strings(STRINGS)
  assert isinstance(b, pc.StringBatch) and len(b) == len(STRINGS)
  assert b.tolist() == list(b) == STRINGS
  assert [b[i] for i in range(len(b))] == STRINGS
  assert b[-1] == STRINGS[-1] and b[np.int64(2)] == STRINGS[2]
  assert b[2:5].tolist() == STRINGS[2:5] and b[7:].tolist() == STRINGS[7:]
  assert b[5:2].tolist() == [] and len(b[:0]) == 0
  # Its layout: each string's UTF-8 bytes, then a NUL.
  assert b.data.dtype == np.uint8 and b.offsets.dtype == np.int64
  assert b.data.tobytes() == "".join(s + "\0" for s in STRINGS).encode()
  assert b.offsets[0] == 0 and b.offsets[-1] == len(b.data)
  again = pickle.loads(pickle.dumps(b))
  assert again == b and again.tolist() == STRINGS
  assert b != pc.pack_strings(STRINGS[:-1]) and b != STRINGS
  assert repr(pc.pack_strings(["a", "b"])) == "StringBatch(['a', 'b'])"
  assert repr(b).endswith("... (10 strings)])")
  assert pc.pack_strings(b) is b


@pytest.mark.parametrize("source", [
    STRINGS, tuple(STRINGS), np.array(STRINGS), np.array(STRINGS, object),
    [s.encode() for s in STRINGS], [np.str_(s) for s in STRINGS]])
def test_pack_strings_takes_every_1d_form(source):
  assert pc.pack_strings(source) == pc.pack_strings(STRINGS)


def test_pack_strings_decodes_bytes_with_the_encoding():
  b = pc.pack_strings(["caf\u00e9".encode("latin-1"), "x"], encoding="latin-1")
  assert b.tolist() == ["caf\u00e9", "x"]


@pytest.mark.parametrize("bad, error, match", [
    ([1, 2], TypeError, "`strings`.*type int"),
    (np.arange(3), TypeError, "`strings`.*numbers"),
    (["a", None], TypeError, "`strings`.*got None at element 1"),
    ("abc", ValueError, "1-D.*wrap it in a list"),
    ([["a"], ["b"]], ValueError, "1-D"),
    (np.array([["a"]]), ValueError, "1-D"),
    (["ok", "\ud800"], ValueError, "cannot be encoded as UTF-8"),
    ([b"\xff"], ValueError, "`strings`"),
])
def test_pack_strings_names_what_is_wrong(bad, error, match):
  with pytest.raises(error, match=match) as e:
    pc.pack_strings(bad)
  assert "pc.pack_strings" in str(e.value)


def test_pack_strings_checks_its_encoding():
  with pytest.raises(TypeError, match="`encoding` must be a str"):
    pc.pack_strings(["a"], encoding=8)
  with pytest.raises(ValueError, match="`encoding` 'no-such'"):
    pc.pack_strings(["a"], encoding="no-such")


def test_string_batch_indices_are_ints_or_slices():
  b = pc.pack_strings(["a", "b"])
  with pytest.raises(IndexError, match="out of range for 2 strings"):
    b[2]  # pylint: disable=pointless-statement
  with pytest.raises(IndexError, match="step of 1"):
    b[::2]  # pylint: disable=pointless-statement
  for bad in (np.array([0]), "a", 1.0, True):
    with pytest.raises(TypeError, match="an int or a slice"):
      b[bad]  # pylint: disable=pointless-statement


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("kw", [
    dict(output_sequence_length=8),
    dict(output_sequence_length=3, standardize=None),
    dict(output_sequence_length=5, standardize="lower"),
    dict(output_sequence_length=5, standardize="strip_punctuation"),
    dict(output_sequence_length=4, standardize="lower_unicode"),
    dict(), dict(split="character", output_sequence_length=6),
    dict(ngrams=2, output_sequence_length=6),
    dict(output_mode="multi_hot"), dict(output_mode="count"),
    dict(output_mode="tf_idf"), dict(split=None),
    dict(standardize=lambda x: np.char.upper(x), output_sequence_length=4)])
def test_text_vectorization_reads_a_string_batch_as_a_list(kw, kernels):
  packed, listed = _packed_and_list()
  with pc.host_kernels(kernels):
    t = pc.text_vectorization(**kw)
    from_list, from_packed = pc.adapt(t, listed), pc.adapt(t, packed)
    assert pc.get_vocabulary(from_packed) == pc.get_vocabulary(from_list)
    np.testing.assert_array_equal(np.asarray(t.apply(from_list, packed)),
                                  np.asarray(t.apply(from_list, listed)))


def test_the_fused_kernels_read_a_string_batch_in_place(monkeypatch):
  """int mode with a length, and string_lookup, run the fused kernel on the
  batch's own bytes: nothing is encoded again."""
  docs = [f"w{i % 17} x{i % 5} the end" for i in range(300)]
  packed = pc.pack_strings(docs)
  t = pc.text_vectorization(output_sequence_length=6)
  s = pc.adapt(t, docs)
  seen = []
  real = numba_text.vectorize_int

  def spy(buf, *args):
    seen.append(buf)
    return real(buf, *args)

  monkeypatch.setattr(numba_text, "vectorize_int", spy)
  with pc.host_kernels("numba"):
    got = t.apply(s, packed)
    assert len(seen) == 1 and np.shares_memory(seen[0], packed.data)
    np.testing.assert_array_equal(got, t.apply(s, docs))
    tags = pc.pack_strings([d.split()[0] for d in docs])
    look = pc.string_lookup()
    ls = pc.adapt(look, tags)
    seen.clear()
    ids = look.apply(ls, tags)
    assert len(seen) == 1 and np.shares_memory(seen[0], tags.data)
    np.testing.assert_array_equal(ids, look.apply(ls, tags.tolist()))


def test_fused_text_vectorization_reads_big_batches_in_chunks(monkeypatch):
  docs = [f"tok{i % 101} other{i % 7} last" for i in range(2_000)]
  monkeypatch.setattr(tokenize, "_CHUNK_DOCS", 300)  # chunks on threads
  t = pc.text_vectorization(output_sequence_length=4)
  s = pc.adapt(t, docs)
  with pc.host_kernels("numba"):
    np.testing.assert_array_equal(t.apply(s, pc.pack_strings(docs)),
                                  t.apply(s, docs))


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("kw", [
    dict(), dict(num_oov_indices=3), dict(num_oov_indices=2, salt=7),
    dict(mask_token=""), dict(mask_token="b"), dict(output_mode="one_hot"),
    dict(output_mode="count"), dict(missing="mask", mask_token="[M]")])
def test_string_lookup_reads_a_string_batch_as_a_list(kw, kernels):
  packed, listed = _packed_and_list()
  with pc.host_kernels(kernels):
    t = pc.string_lookup(**kw)
    s = pc.adapt(t, listed[:6])
    assert pc.get_vocabulary(pc.adapt(t, packed[:6])) == pc.get_vocabulary(s)
    np.testing.assert_array_equal(np.asarray(t.apply(s, packed)),
                                  np.asarray(t.apply(s, listed)))


def test_string_lookup_without_oov_names_the_unknown_string():
  t = pc.string_lookup(vocabulary=["a", "b"], num_oov_indices=0)
  with pc.host_kernels("numba"):
    with pytest.raises(ValueError, match="zz"):
      t.apply(t.init(None), pc.pack_strings(["a", "zz"]))


@pytest.mark.parametrize("kw", [
    dict(num_bins=7), dict(num_bins=7, salt=3), dict(num_bins=5, mask_value=""),
    dict(num_bins=4, mask_value="", missing="mask")])
def test_hashing_reads_a_string_batch_as_a_list(kw):
  packed, listed = _packed_and_list()
  t = pc.hashing(**kw)
  np.testing.assert_array_equal(np.asarray(t.apply(None, packed)),
                                np.asarray(t.apply(None, listed)))


def test_adapt_takes_a_packed_column_or_batches_of_it():
  packed, listed = _packed_and_list()
  t = pc.text_vectorization()
  want = pc.get_vocabulary(pc.adapt(t, listed))
  assert pc.get_vocabulary(pc.adapt(t, [packed[:4], packed[4:]])) == want
  assert pc.get_vocabulary(pc.adapt(t, packed, batch_size=3)) == want
  assert pc.get_vocabulary(pc.adapt(t, packed)) == want
  look = pc.string_lookup()
  assert pc.get_vocabulary(pc.adapt(look, packed, batch_size=4)) == (
      pc.get_vocabulary(pc.adapt(look, listed)))


def test_take_strings_twins_agree():
  b = pc.pack_strings(STRINGS)
  idx = np.array([3, 0, 9, 3, 1], np.int64)
  for fast in (numpy_text, numba_text):
    data, offsets = fast.take_strings(b.data, b.offsets, idx)
    assert pc.StringBatch(data, offsets).tolist() == [STRINGS[i] for i in idx]
  data, offsets = numba_text.take_strings(b.data, b.offsets, idx[:0])
  assert len(data) == 0 and offsets.tolist() == [0]


def test_kernel_tables_are_prepared_once_per_state():
  t = pc.string_lookup(vocabulary=["a", "b"])
  s = t.init(None)
  first = sl.kernel_table(s, numba_text)
  assert sl.kernel_table(s, numba_text) is first
  # A state with the same layout array but another vocabulary gets its own.
  other = pc.string_lookup(vocabulary=["c", "d"]).init(None)._replace(
      layout=s.layout)
  with pc.host_kernels("numba"):
    np.testing.assert_array_equal(
        pc.string_lookup(vocabulary=["c", "d"]).apply(other, ["d", "a"]),
        [2, 0])
  assert sl.kernel_table(s, numba_text) is first


def test_a_string_batch_from_its_arrays_is_checked():
  b = pc.pack_strings(["ab", "", "c"])
  assert pc.StringBatch(b.data, b.offsets.astype(np.int32)) == b
  assert pc.StringBatch(np.zeros(0, np.uint8), [0]).tolist() == []
  for data, offsets, error, match in [
      (b.data.astype(np.int8), b.offsets, TypeError, "`data` must be a 1-D "
       "uint8"),
      (b.data, b.offsets.astype(float), TypeError, "`offsets` must be a 1-D "
       "integer"),
      (b.data, [], TypeError, "`offsets`"),
      (b.data, [0, 3, 3, 5], ValueError, "rise from 0"),
      (b.data, [0, 2, 3, 5], ValueError, "followed by a NUL"),
      (b.data, [1, 3, 4, 6], ValueError, "rise from 0"),
      (b.data, [0, 3, 4, 7], ValueError, "len\\(data\\) \\(6\\)"),
      (np.array([0xFF, 0], np.uint8), [0, 2], ValueError, "not UTF-8"),
  ]:
    with pytest.raises(error, match=match):
      pc.StringBatch(data, offsets)


@pytest.mark.parametrize("width", [0, 1, 3])
def test_the_fused_kernel_writes_only_inside_its_rows(width):
  """Ids go to the first `width` columns of each row, nothing past them:
  `out` here is a view into a wider array whose other columns must stay."""
  docs = [f"a b c d e f g{i}" for i in range(150)]  # more than a block
  t = pc.text_vectorization(output_sequence_length=4)
  s = pc.adapt(t, docs)
  kt = sl.kernel_table(s.lookup, numba_text, s.table)
  wide = np.full((len(docs), width + 2), -7, np.int32)
  wide[:, :width] = 0
  buf = pc.pack_strings(docs).data
  assert numba_text.vectorize_int(
      buf, len(docs), numba_text.SAME, numba_text.CLASS_KEEP, kt.slots,
      kt.vdata, *kt.id_layout, wide[:, :width]) == len(docs)
  assert (wide[:, width:] == -7).all()
  np.testing.assert_array_equal(wide[:, :width], t.apply(s, docs)[:, :width])


@pytest.mark.parametrize("keyed", [True, False])
def test_str_array_lookups_equal_the_numpy_kernels(keyed, monkeypatch):
  """numba's lookup_ucs4 (rows keyed a block ahead of their probes, in
  chunks on threads) gives NumPy's ids: hits, misses, non-ASCII, empty
  strings, OOV buckets; with keyed slots and with slot words only."""
  if not keyed:  # a fresh table: probed by its 4-byte slot words
    monkeypatch.setattr(numba_text, "MAX_KEYED_SLOTS", 8)
  rng = np.random.default_rng(int(keyed))
  vocab = [f"w{i}" for i in range(3_000)] + ["caf\u00e9", "\u65e5\u672c",
                                             "a longer token here"]
  words = np.array(vocab + [f"miss{i}" for i in range(500)] + [""])
  queries = words[rng.integers(0, len(words), 20_000)]  # several chunks
  for kw in (dict(), dict(num_oov_indices=3), dict(mask_token="")):
    t = pc.string_lookup(vocabulary=vocab, **kw)
    s = t.init(None)
    with pc.host_kernels("numba"):
      got = np.asarray(t.apply(s, queries))
    with pc.host_kernels("numpy"):
      want = np.asarray(t.apply(s, queries))
    np.testing.assert_array_equal(got, want)
  bad = queries.copy()
  bad[9_999] = "x\ud800"
  with pc.host_kernels("numba"):
    with pytest.raises(ValueError, match="element 9999 holds a code point"):
      t.apply(s, bad)
