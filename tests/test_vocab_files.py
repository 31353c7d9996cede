"""Vocabulary files: verbatim round trips, a large file, the error cases.

Keras reads a vocabulary file line by line and keeps each line verbatim
(spaces, tabs, any UTF-8); prepro reads it as bytes, with no Python object
per token, and must give the same tokens and ids as the same vocabulary
passed as a list.
"""
import contextlib

import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.host import keys as keys_lib
from prepro_core._src.host import packed
from prepro_core._src.host import vocab as vocab_lib
from prepro_core._src.host.kernels import backend
from prepro_core._src.lookup import string_lookup as sl

TOKENS = ["a", "hello world", "tab\there", " lead", "trail ", "é", "日本語",
          "\U0001F600", "x" * 40, "[not special]", "a b\tc d"]


@pytest.fixture(params=["numpy", "numba"])
def kernels(request):
  """Runs the test with each host kernel backend."""
  with contextlib.ExitStack() as stack:
    stack.enter_context(pc.host_kernels(request.param))
    yield request.param


def _write(path, data: bytes):
  path.write_bytes(data)
  return str(path)


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_lines_are_read_verbatim(tmp_path, kernels, ending, final_newline):
  text = ending.join(TOKENS) + (ending if final_newline else "")
  path = _write(tmp_path / "v.txt", text.encode("utf-8"))
  t = pc.string_lookup(vocabulary=path)
  s = t.init(None)
  assert pc.get_vocabulary(s) == ["[UNK]"] + TOKENS
  np.testing.assert_array_equal(t.apply(s, np.array(TOKENS[::-1] + ["zz"])),
                                list(range(len(TOKENS), 0, -1)) + [0])


@pytest.mark.parametrize("kw", [dict(), dict(mask_token="[MASK]"),
                                dict(num_oov_indices=2, mask_token="")])
def test_save_then_load_round_trips(tmp_path, kernels, kw):
  t = pc.string_lookup(vocabulary=TOKENS, **kw)
  s = t.init(None)
  path = str(tmp_path / "v.txt")
  pc.save_vocabulary(s, path)
  assert open(path, "rb").read().decode("utf-8").split("\n")[:-1] == (
      pc.get_vocabulary(s))
  t2 = pc.string_lookup(vocabulary=path, **kw)
  s2 = t2.init(None)
  assert pc.get_vocabulary(s2) == pc.get_vocabulary(s)
  queries = TOKENS + ["nope", "", "[MASK]"]
  np.testing.assert_array_equal(t2.apply(s2, queries), t.apply(s, queries))


def test_text_vectorization_and_integer_lookup_read_files(tmp_path, kernels):
  path = _write(tmp_path / "v.txt", b"earth\nwind\nand\nfire\n")
  t = pc.text_vectorization(vocabulary=path, output_sequence_length=4)
  s = t.init(None)
  assert pc.get_vocabulary(s) == ["", "[UNK]", "earth", "wind", "and", "fire"]
  assert t.apply(s, ["Earth, wind and fire!"]).tolist() == [[2, 3, 4, 5]]
  ipath = _write(tmp_path / "i.txt", b"12\n-3\n1138\n")
  ti = pc.integer_lookup(vocabulary=ipath)
  np.testing.assert_array_equal(
      np.asarray(ti.apply(ti.init(None), np.array([1138, 5, -3]))), [3, 0, 2])


def test_file_state_equals_list_state_and_pickles(tmp_path, kernels):
  import pickle  # pylint: disable=import-outside-toplevel
  path = _write(tmp_path / "v.txt", "\n".join(TOKENS).encode("utf-8"))
  from_file = pc.string_lookup(vocabulary=path).init(None)
  from_list = pc.string_lookup(vocabulary=TOKENS).init(None)
  for a, b in zip(from_file.vocabulary, from_list.vocabulary):
    np.testing.assert_array_equal(a, b)
  t = pc.string_lookup(vocabulary=path)
  t2 = pickle.loads(pickle.dumps(t))
  assert t2 == t
  np.testing.assert_array_equal(t2.apply(t2.init(None), TOKENS),
                                t.apply(t.init(None), TOKENS))


def test_large_file_gives_the_ids_of_the_list(tmp_path, kernels):
  rng = np.random.default_rng(0)
  n = 200_000
  ids = rng.permutation(n)
  accents = np.array(["", "é", "日", "ß "])
  tokens = [f"{accents[i % 4]}tok{i:x}" for i in ids.tolist()]
  path = tmp_path / "big.txt"
  path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
  t_file = pc.string_lookup(vocabulary=str(path))
  t_list = pc.string_lookup(vocabulary=tokens)
  s_file, s_list = t_file.init(None), t_list.init(None)
  queries = np.array([tokens[i] for i in rng.integers(0, n, 20_000)] +
                     [f"miss{i}" for i in range(20_000)])
  got = t_file.apply(s_file, queries)
  np.testing.assert_array_equal(got, t_list.apply(s_list, queries))
  assert (got[:20_000] > 0).all() and (got[20_000:] == 0).all()
  assert pc.get_vocabulary(s_file) == pc.get_vocabulary(s_list)


def test_missing_empty_and_bom_only_files(tmp_path):
  with pytest.raises(ValueError, match="`vocabulary` file .* does not exist"):
    pc.string_lookup(vocabulary=str(tmp_path / "missing.txt"))
  for data in (b"", b"\xef\xbb\xbf"):
    path = _write(tmp_path / "empty.txt", data)
    with pytest.raises(ValueError, match="`vocabulary` file .* is empty"):
      pc.string_lookup(vocabulary=path)
  with pytest.raises(ValueError, match="is empty"):
    pc.text_vectorization(vocabulary=_write(tmp_path / "e2.txt", b""))


def test_not_utf8_names_the_line(tmp_path, kernels):
  # The bad byte sits past the first block the UTF-8 check reads.
  lines = [b"ok%d" % i for i in range(300_000)]
  lines[250_000] = b"caf\xe9"
  path = _write(tmp_path / "bad.txt", b"\n".join(lines))
  with pytest.raises(ValueError,
                     match="not valid 'utf-8' at line 250001 .*`encoding`"):
    pc.string_lookup(vocabulary=path)
  # Read in the right encoding, the same file loads.
  t = pc.string_lookup(vocabulary=path, encoding="latin-1")
  assert t.apply(t.init(None), ["café", "ok7"]).tolist() == [250_001, 8]


def test_repeated_token_names_the_first_repeat_and_its_lines(tmp_path,
                                                            kernels):
  tokens = [f"t{i}" for i in range(1000)] + ["long token number 5", "t7",
                                             "t3"]
  tokens.insert(10, "long token number 5")
  path = _write(tmp_path / "dup.txt", "\n".join(tokens).encode())
  with pytest.raises(ValueError, match=r"repeated entries: line 1002 repeats "
                     r"line 11, 'long token number 5'"):
    pc.string_lookup(vocabulary=path)
  # Line numbers count Keras' special prefix when the file starts with it.
  path = _write(tmp_path / "dup2.txt", b"[UNK]\na\nb\na\n")
  with pytest.raises(ValueError, match="line 4 repeats line 2, 'a'"):
    pc.string_lookup(vocabulary=path)


def test_special_tokens_inside_the_file(tmp_path, kernels):
  path = _write(tmp_path / "m.txt", b"a\n\nb\n")
  with pytest.raises(ValueError, match="contains the mask token '' at line 2"):
    pc.text_vectorization(vocabulary=path)
  path = _write(tmp_path / "o.txt", b"a\n[UNK]\n")
  with pytest.raises(ValueError, match="contains the OOV token .* at line 2"):
    pc.string_lookup(vocabulary=path, invert=True)
  assert pc.get_vocabulary(pc.string_lookup(vocabulary=path).init(None)) == [
      "[UNK]", "a", "[UNK]"]  # as Keras: without invert it is a token
  with pytest.raises(ValueError, match="more than `max_tokens`=2"):
    pc.string_lookup(vocabulary=path, max_tokens=2)


def test_save_refuses_line_breaks_inside_tokens(tmp_path):
  for bad in ("a\nb", "a\rb"):
    s = pc.string_lookup(vocabulary=["ok", bad]).init(None)
    with pytest.raises(ValueError, match="contains a line break"):
      pc.save_vocabulary(s, str(tmp_path / "x.txt"))


def test_reader_keeps_no_python_object_per_token(tmp_path):
  path = _write(tmp_path / "v.txt", b"\xef\xbb\xbfab\r\ncd\n\nef")
  words = vocab_lib.read_vocabulary_packed(str(path), append=[b"[M]"])
  assert words.data.dtype == np.uint8 and words.offsets.dtype == np.int32
  assert words.data.tobytes() == b"abcdef[M]"
  assert words.offsets.tolist() == [0, 2, 4, 4, 6, 9]


# ---------------------------------------------------------------------------
# The token table: 4 bytes a slot, no keys, exact lookups.
# ---------------------------------------------------------------------------


def _packed(tokens):
  data = b"".join(tokens)
  offsets = np.zeros(len(tokens) + 1, np.int64)
  np.cumsum([len(t) for t in tokens], out=offsets[1:])
  return np.frombuffer(data, np.uint8).copy(), offsets


def _lookup(data, offsets, table, queries):
  q, qoff = _packed(queries)
  tokens = packed.Tokens(q, qoff[:-1], qoff[1:], np.array([0, len(queries)]))
  return vocab_lib.table_lookup(table, data, offsets, tokens).tolist()


def _probe_heavy_vocab(rng, n):
  """Tokens sharing long prefixes, many of one length, a few short."""
  stems = [b"prefix-shared-", b"p", b"", "é日".encode()]
  out = {stems[i % 4] + b"%06d" % v for i, v in
         enumerate(rng.integers(0, 10 * n, n))}
  out |= {bytes(rng.integers(97, 100, k, dtype=np.uint8))
          for k in rng.integers(0, 6, n // 4)}
  return sorted(out)


@pytest.mark.parametrize("seed", range(4))
def test_table_lookups_equal_a_dict_and_the_twins_agree(seed):
  rng = np.random.default_rng(seed)
  vocab = _probe_heavy_vocab(rng, [5, 60, 3000, 40000][seed])
  rng.shuffle(vocab)
  data, offsets = _packed(vocab)
  queries = vocab[::3] + _probe_heavy_vocab(rng, 2000)
  index = {t: i for i, t in enumerate(vocab)}
  want = [index.get(q, -1) for q in queries]
  slots = {}
  for acc in ("numpy", "numba"):
    with pc.host_kernels(acc):
      for off in (offsets, offsets.astype(np.int32)):
        table, repeat = vocab_lib.build_table_and_find_repeat(data, off)
        assert repeat.tolist() == [-1, -1]
        assert table.slots.dtype == np.uint32
        assert _lookup(data, off, table, queries) == want
        slots.setdefault(acc, table.slots)
  np.testing.assert_array_equal(slots["numpy"], slots["numba"])


def test_tiny_tables_wrap_around_alike():
  # 10 tokens in 16 slots: tokens pushed past the last slot wrap to slot 0.
  for seed in range(40):
    rng = np.random.default_rng(seed)
    vocab = sorted({b"w%d" % v for v in rng.integers(0, 10**6, 10)})
    data, offsets = _packed(vocab)
    out = []
    for acc in ("numpy", "numba"):
      with pc.host_kernels(acc):
        out.append(vocab_lib.build_table(data, offsets))
        assert _lookup(data, offsets, out[-1], vocab) == list(range(len(vocab)))
    np.testing.assert_array_equal(out[0].slots, out[1].slots)


def test_table_survives_colliding_hashes(monkeypatch):
  # Every long token keys alike (home slot and tag): one long probe chain,
  # which the byte compares keep exact, repeats included.
  monkeypatch.setattr(keys_lib, "_long_hash",
                      lambda r, s, l: np.full(len(s), 1 << 63, np.uint64))
  vocab = [b"collide-%03d" % i for i in range(200)] + [b"a", b""]
  data, offsets = _packed(vocab + [b"collide-007"])
  with pc.host_kernels("numpy"):
    table, repeat = vocab_lib.build_table_and_find_repeat(data, offsets)
    assert repeat.tolist() == [7, 202]
    queries = vocab + [b"collide-999", b"b"]
    assert _lookup(data, offsets, table, queries) == list(range(202)) + [-1,
                                                                        -1]


def test_table_memory_is_bounded(tmp_path):
  n = 150_000
  tokens = [f"tok{i:07d}" for i in range(n)]  # 10 bytes, 11 with "\n"
  path = tmp_path / "v.txt"
  path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
  s = pc.string_lookup(vocabulary=str(path)).init(None)
  table = sl.token_table(s)
  assert table.slots.nbytes <= 12 * n + 64  # a load over 1/3: <= 3 slots a token
  held = s.vocabulary.data.nbytes + s.vocabulary.offsets.nbytes + (
      table.slots.nbytes)
  assert held <= 2 * path.stat().st_size
  assert s.vocabulary.offsets.dtype == np.int32
  np.testing.assert_array_equal(
      sl.lookup_inputs(s, np.array(tokens[::7]), "utf-8"),
      np.arange(0, n, 7) + 1)


def test_offsets_are_int32_while_they_fit():
  assert vocab_lib.offsets_dtype(0) is np.int32
  assert vocab_lib.offsets_dtype(2**31 - 1) is np.int32
  assert vocab_lib.offsets_dtype(2**31) is np.int64
  raw = b"ab\r\ncd\n\nef"
  for acc in ("numpy", "numba"):
    with pc.host_kernels(acc):
      for dtype in (np.int32, np.int64):
        buf = np.frombuffer(raw, np.uint8).copy()
        offsets, size = backend.kernels("text").split_lines(buf, 0, 1, dtype)
        assert offsets.dtype == dtype and size == 6
        assert offsets[:-1].tolist() == [0, 2, 4, 4, 6]
        assert buf[:size].tobytes() == b"abcdef"
