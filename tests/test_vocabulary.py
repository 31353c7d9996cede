"""Vocabularies: lists, arrays, files, save/load round trips, 1e6 tokens."""
import contextlib
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.lookup import string_lookup as sl
from prepro_core._src.host import inputs
from prepro_core._src.host import packed as packed_lib


@pytest.fixture
def kernels_backend():
  """``kernels_backend(name)`` selects the host kernels for the rest of the
  test (``pc.host_kernels``, entered until the test ends)."""
  with contextlib.ExitStack() as stack:
    yield lambda name: stack.enter_context(pc.host_kernels(name))


def test_file_vocabulary_strings(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_text("a\nb\r\nc\nd\n", encoding="utf-8")
  t = pc.string_lookup(vocabulary=str(path))
  s = t.init(None)
  assert pc.get_vocabulary(s) == ["[UNK]", "a", "b", "c", "d"]
  np.testing.assert_array_equal(t.apply(s, ["d", "b", "x"]), [4, 2, 0])
  t = pc.string_lookup(vocabulary=path)  # a pathlib.Path works too
  assert pc.get_vocabulary(t.init(None))[1:] == ["a", "b", "c", "d"]


def test_file_vocabulary_integers(tmp_path):
  path = tmp_path / "ints.txt"
  path.write_text("12\n36\n1138\n42")
  t = pc.integer_lookup(vocabulary=str(path))
  s = t.init(None)
  np.testing.assert_array_equal(t.apply(s, np.array([12, 1000, 42])), [1, 0, 4])
  path.write_text("12\nx\n")
  with pytest.raises(ValueError, match="one integer per line"):
    pc.integer_lookup(vocabulary=str(path))


@pytest.mark.parametrize("kw", [dict(), dict(mask_token="", num_oov_indices=3),
                                dict(output_mode="count", mask_token="")])
def test_save_and_load_round_trip(tmp_path, kw):
  t = pc.string_lookup(**kw)
  s = pc.adapt(t, [["é", "b", "b", "c", "", "c", "c"]])
  path = tmp_path / "v.txt"
  pc.save_vocabulary(s, str(path))
  t2 = pc.string_lookup(vocabulary=str(path), **kw)
  s2 = t2.init(None)
  assert pc.get_vocabulary(s2) == pc.get_vocabulary(s)
  q = [["c", "é", "zz", ""]]
  np.testing.assert_array_equal(np.asarray(t2.apply(s2, q)),
                                np.asarray(t.apply(s, q)))


def test_save_integer_vocabulary(tmp_path):
  t = pc.integer_lookup(mask_token=0)
  s = pc.adapt(t, np.array([5, 5, 7, 0, 9]))
  path = tmp_path / "v.txt"
  pc.save_vocabulary(s, str(path))
  assert path.read_text() == "0\n-1\n5\n9\n7\n"
  s2 = pc.integer_lookup(mask_token=0, vocabulary=str(path)).init(None)
  assert pc.get_vocabulary(s2) == pc.get_vocabulary(s)


def test_file_errors(tmp_path):
  with pytest.raises(ValueError, match="does not exist"):
    pc.string_lookup(vocabulary=str(tmp_path / "missing.txt"))
  empty = tmp_path / "empty.txt"
  empty.write_text("")
  with pytest.raises(ValueError, match="empty"):
    pc.string_lookup(vocabulary=str(empty))
  bad = tmp_path / "bad.txt"
  bad.write_bytes(b"a\n\xff\xfe\n")
  with pytest.raises(ValueError, match="not valid 'utf-8' at line 2"):
    pc.string_lookup(vocabulary=str(bad))
  dup = tmp_path / "dup.txt"
  dup.write_text("a\nb\na\n")
  with pytest.raises(ValueError, match="repeated"):
    pc.string_lookup(vocabulary=str(dup))
  t = pc.string_lookup()
  s = pc.adapt(t, [["a\nb", "c"]])
  with pytest.raises(ValueError, match="line break"):
    pc.save_vocabulary(s, str(tmp_path / "x.txt"))


def test_vocabulary_from_array_and_tuple():
  for v in (np.array(["a", "b"]), ("a", "b"), np.array([b"a", b"b"])):
    t = pc.string_lookup(vocabulary=v)
    assert pc.get_vocabulary(t.init(None)) == ["[UNK]", "a", "b"]


def test_packed_strings_round_trip():
  toks = ["", "a", "é", "日本語", "x" * 300, "\x00b"]
  packed = packed_lib.pack(toks)
  assert packed.data.dtype == np.uint8 and packed.offsets.dtype == np.int64
  fresh = packed_lib.PackedStrings(packed.data.copy(), packed.offsets.copy())
  assert packed_lib.unpack(fresh) == toks


def test_million_token_vocabulary(tmp_path):
  n = 1_000_000
  vocab = [f"t{i}" for i in range(n)]
  path = tmp_path / "big.txt"
  path.write_text("\n".join(vocab))
  t = pc.string_lookup(vocabulary=str(path))
  s = t.init(None)
  pos = np.random.default_rng(0).integers(0, n, 200_000)
  query = np.array(vocab)[pos]
  np.testing.assert_array_equal(t.apply(s, query), pos + 1)
  assert sl.vocab_size(s) == n + 1
  assert t.apply(s, ["nope"]) == 0


def test_million_integer_vocabulary():
  n = 1_000_000
  vocab = np.random.default_rng(1).permutation(4 * n)[:n]
  t = pc.integer_lookup(vocabulary=vocab)
  s = t.init(None)
  pos = np.random.default_rng(2).integers(0, n, 100_000)
  np.testing.assert_array_equal(np.asarray(t.apply(s, vocab[pos])), pos + 1)


@pytest.mark.parametrize("acc", ["numpy", "numba"])
def test_fixed_width_arrays_to_tokens(acc, monkeypatch, kernels_backend):
  kernels_backend(acc)

  def toks(x, encoding="utf-8"):
    t = inputs.to_tokens(x, encoding).tokens
    return [t.buf[s:e].tobytes() for s, e in zip(t.starts, t.ends)]

  strs = ["", "caf\u00e9", "a\u0100b", "\U0001F600", "ascii", ""] * 3
  want = [s.encode("utf-8") for s in strs]
  assert toks(np.array(strs)) == want
  assert toks(np.array(want, dtype="S")) == want
  # bytes rows are validated, or transcoded from another encoding.
  assert toks(np.array([b"caf\xe9", b"x"]), "latin-1") == [b"caf\xc3\xa9",
                                                           b"x"]
  # The message numbers the bad element within the whole input.
  with pytest.raises(ValueError, match="element 3 .* not valid .utf-8."):
    toks(np.array([b"ok", b"caf\xc3\xa9", b"x", b"caf\xe9"]))
  with pytest.raises(ValueError, match="UTF-8"):
    toks(np.array(["ok", "a\udfffb"]))
  assert toks(np.zeros(3, "U0")) == [b""] * 3
  assert toks(np.zeros(3, "S0")) == [b""] * 3
