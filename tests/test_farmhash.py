"""The hash kernels against TensorFlow's (recorded in keras_records/hashing.npz)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.hashing import device_hash
from prepro_core._src.hashing import u64
from prepro_core._src.host import farmhash as fh
from prepro_core._src.host.kernels import backend

REC = np.load(os.path.join(os.path.dirname(__file__), "keras_records",
                           "hashing.npz"))


def _recorded_bytes():
  blob = REC["str_blob"].tobytes()
  lens = REC["str_lens"]
  offs = np.concatenate([[0], np.cumsum(lens)[:-1]])
  return [blob[o:o + n] for o, n in zip(offs, lens)]


BYTES = _recorded_bytes()
STRS = [b.decode("utf-8") for b in BYTES]
# NumPy's fixed-width strings drop trailing NULs, so arrays leave those out.
KEEP = [i for i, s in enumerate(STRS) if not s.endswith("\x00")]


@pytest.fixture(params=["numpy", "numba"])
def kernels(request):
  """Runs a test with the NumPy kernels and with the numba accelerator (the
  `fast` extra; the test extra installs it): both must give TF's bits."""
  with pc.host_kernels(request.param):
    yield request.param


def test_record_covers_all_lengths():
  lens = REC["str_lens"]
  assert len(BYTES) >= 10_000
  assert set(range(0, 301)) <= set(lens.tolist())
  assert any(not s.isascii() for s in STRS)


def test_fingerprint64_of_str_list_matches_tf(kernels):
  np.testing.assert_array_equal(fh.fingerprint64_strings(STRS), REC["str_fp64"])


def test_fingerprint64_of_bytes_matches_tf(kernels):
  np.testing.assert_array_equal(
      fh.fingerprint64_strings(np.array(BYTES, dtype=object)), REC["str_fp64"])


def test_fingerprint64_of_numpy_str_array_matches_tf(kernels):
  arr = np.array([STRS[i] for i in KEEP])  # non-ASCII rows included
  np.testing.assert_array_equal(fh.fingerprint64_strings(arr),
                                REC["str_fp64"][KEEP])
  ascii_idx = [i for i in KEEP if STRS[i].isascii()]
  arr = np.array([STRS[i] for i in ascii_idx])
  np.testing.assert_array_equal(fh.fingerprint64_strings(arr),
                                REC["str_fp64"][ascii_idx])
  arr_s = np.array([BYTES[i] for i in ascii_idx], dtype="S")
  np.testing.assert_array_equal(fh.fingerprint64_strings(arr_s),
                                REC["str_fp64"][ascii_idx])


@pytest.mark.parametrize("width", [1, 3, 4, 7, 8, 9, 15, 16, 17, 33, 65])
def test_narrow_numpy_arrays_match_tf(kernels, width):
  # Rows as wide as the array or nearly: the in-place loads must not need
  # bytes past a row (numba hashes short-width rows from a scratch copy).
  idx = [i for i in KEEP if len(STRS[i]) <= width][:300]
  arr = np.array([STRS[i] for i in idx], dtype=f"U{width}")
  np.testing.assert_array_equal(fh.fingerprint64_strings(arr),
                                REC["str_fp64"][idx])
  np.testing.assert_array_equal(fh.siphash64_strings(arr, 133, 137),
                                REC["str_sip_133_137"][idx])


def test_fingerprint64_keeps_shape_and_known_value(kernels):
  out = fh.fingerprint64_strings([["hello", "a"], ["", "b"]])
  assert out.shape == (2, 2) and out.dtype == np.uint64
  assert int(out[0, 0]) == 0xb48be5a931380ce8  # TF's Fingerprint64("hello")
  np.testing.assert_array_equal(
      fh.fingerprint64_strings(np.array([["hello", "a"], ["", "b"]])), out)
  np.testing.assert_array_equal(
      fh.fingerprint64_strings(np.array([[b"hello", b"a"], [b"", b"b"]])), out)
  assert fh.fingerprint64_strings("hello").shape == ()
  assert int(fh.fingerprint64_strings("hello")) == 0xb48be5a931380ce8
  assert fh.fingerprint64_strings(np.zeros((0, 3), "U2")).shape == (0, 3)
  assert fh.siphash64_strings([], 1, 2).shape == (0,)


def test_long_strings_of_mixed_chunk_counts(kernels):
  # Strings whose 64-byte chunk counts differ, in scrambled order.
  idx = [i for i, n in enumerate(REC["str_lens"]) if n > 64][::-1][:200]
  rng = np.random.default_rng(0)
  rng.shuffle(idx)
  np.testing.assert_array_equal(
      fh.fingerprint64_strings([STRS[i] for i in idx]), REC["str_fp64"][idx])


def test_siphash_matches_tf(kernels):
  np.testing.assert_array_equal(fh.siphash64_strings(STRS, 133, 137),
                                REC["str_sip_133_137"])
  np.testing.assert_array_equal(
      fh.siphash64_strings(BYTES, 2**64 - 1, 2**63 + 12345), REC["str_sip_big"])
  arr = np.array([STRS[i] for i in KEEP])
  np.testing.assert_array_equal(fh.siphash64_strings(arr, 133, 137),
                                REC["str_sip_133_137"][KEEP])
  arr_s = np.array([BYTES[i] for i in KEEP], dtype="S")
  np.testing.assert_array_equal(
      fh.siphash64_strings(arr_s, 2**64 - 1, 2**63 + 12345),
      REC["str_sip_big"][KEEP])


def test_threads_split_large_batches(kernels, monkeypatch):
  # Large batches are split over threads: same bits, same order, and a bad
  # string in a later part is still reported.
  monkeypatch.setattr(backend, "ROWS_PER_THREAD", 1000)
  arr = np.array([STRS[i] for i in KEEP])
  bad = arr.astype(object)
  bad[-5] = "ok\ud800"
  with pc.host_kernels(kernels, num_threads=3):
    np.testing.assert_array_equal(fh.fingerprint64_strings(arr),
                                  REC["str_fp64"][KEEP])
    np.testing.assert_array_equal(fh.siphash64_strings(STRS, 133, 137),
                                  REC["str_sip_133_137"])
    with pytest.raises(ValueError, match="UTF-8"):
      fh.fingerprint64_strings(bad.astype(str))


def test_siphash_key_errors():
  with pytest.raises(TypeError, match="key0"):
    fh.siphash64_strings(["a"], 1.5, 2)
  with pytest.raises(ValueError, match="key1"):
    fh.siphash64_strings(["a"], 1, -1)


def test_bad_string_inputs(kernels):
  with pytest.raises(ValueError, match="UTF-8"):
    fh.fingerprint64_strings(["ok", "\ud800"])
  with pytest.raises(ValueError, match="UTF-8"):
    fh.fingerprint64_strings(np.array(["ok", "a\udfffb"]))
  with pytest.raises(ValueError, match="UTF-8"):
    fh.siphash64_strings(np.array(["ok", "a\udfffb"]), 1, 2)
  with pytest.raises(TypeError, match="strings"):
    fh.fingerprint64_strings(["a", 3])
  with pytest.raises(TypeError, match="strings"):
    fh.fingerprint64_strings(np.array(["a", 3], dtype=object))
  with pytest.raises(TypeError, match="dtype"):
    fh.fingerprint64_strings(np.array([1.0, 2.0]))


def test_int_fingerprint_host_matches_tf():
  np.testing.assert_array_equal(fh.fingerprint64_ints_host(REC["i64"]),
                                REC["i64_fp64"])


def test_int_fingerprint_device_matches_host_and_tf():
  i32 = REC["i32"]
  want = REC["i64_fp64"][:i32.size]  # i64 starts with the i32 values
  hi, lo = device_hash.fingerprint64_ints(jnp.asarray(i32))
  np.testing.assert_array_equal(u64.u64_from_pair(hi, lo), want)
  hi_j, lo_j = jax.jit(device_hash.fingerprint64_ints)(i32)
  np.testing.assert_array_equal(u64.u64_from_pair(hi_j, lo_j), want)
  hi_v, lo_v = jax.vmap(device_hash.fingerprint64_ints)(
      i32.reshape(-1, 7)[:100])
  np.testing.assert_array_equal(u64.u64_from_pair(hi_v, lo_v).ravel(),
                                want[:700])


def test_int_fingerprint_device_small_dtypes():
  for dt in (np.int8, np.uint32):
    x = np.array([0, 1, 7, 100, np.iinfo(dt).max, np.iinfo(dt).min], dt)
    np.testing.assert_array_equal(
        u64.u64_from_pair(*jax.jit(device_hash.fingerprint64_ints)(x)),
        fh.fingerprint64_ints_host(x))


def test_int_fingerprint_device_x64():
  with jax.enable_x64(True):
    x = jnp.asarray(REC["i64"])
    assert x.dtype == jnp.int64
    hi, lo = jax.jit(device_hash.fingerprint64_ints)(x)
    np.testing.assert_array_equal(u64.u64_from_pair(hi, lo), REC["i64_fp64"])
    u = np.array([0, 2**63, 2**64 - 1, 12345678901234567890], np.uint64)
    np.testing.assert_array_equal(
        u64.u64_from_pair(*device_hash.fingerprint64_ints(jnp.asarray(u))),
        fh.fingerprint64_ints_host(u))


def test_siphash_ints_device_matches_host():
  x = REC["i32"][::5]
  for key in ((133, 137), (2**64 - 1, 3)):
    np.testing.assert_array_equal(
        u64.u64_from_pair(
            *jax.jit(lambda v: device_hash.siphash64_ints(v, *key))(x)),
        fh.siphash64_ints_host(x, *key))
  np.testing.assert_array_equal(
      u64.u64_from_pair(
          *device_hash.siphash64_ints(jnp.array([True, False]), 5, 5)),
      fh.siphash64_strings(["true", "false"], 5, 5))


@pytest.mark.parametrize("k", [1, 2, 3, 10, 97, 2**16 - 1, 2**16, 2**16 + 1,
                               1000003, 2**24 + 7, 2**31 - 1, 2**31,
                               2**31 + 11, 2**32 - 1])
def test_mod_u64_exact(k):
  rng = np.random.default_rng(k)
  hi = rng.integers(0, 2**32, size=2000, dtype=np.uint64).astype(np.uint32)
  lo = rng.integers(0, 2**32, size=2000, dtype=np.uint64).astype(np.uint32)
  hi[:4] = [0, 0, 2**32 - 1, 2**32 - 1]
  lo[:4] = [0, k - 1, 2**32 - 1, 0]
  got = jax.jit(lambda a, b: u64.mod_u64(a, b, k))(hi, lo)
  want = u64.u64_from_pair(hi, lo) % np.uint64(k)
  np.testing.assert_array_equal(np.asarray(got, np.uint64), want)


def test_mod_u64_bad_k():
  with pytest.raises(ValueError, match="`k`"):
    u64.mod_u64(jnp.zeros(2, jnp.uint32), jnp.zeros(2, jnp.uint32), 0)
  with pytest.raises(TypeError, match="`k`"):
    u64.mod_u64(jnp.zeros(2, jnp.uint32), jnp.zeros(2, jnp.uint32), 3.0)


def test_fingerprint_cat64_device_matches_host():
  rng = np.random.default_rng(3)
  a = rng.integers(0, 2**64, size=500, dtype=np.uint64)
  b = rng.integers(0, 2**64, size=500, dtype=np.uint64)
  split = lambda v: (jnp.asarray((v >> np.uint64(32)).astype(np.uint32)),
                     jnp.asarray((v & np.uint64(0xffffffff)).astype(np.uint32)))
  got = jax.jit(device_hash.fingerprint_cat64_device)(split(a), split(b))
  np.testing.assert_array_equal(u64.u64_from_pair(*got),
                                fh.fingerprint_cat64(a, b))


def test_bytes_arrays_hashed_raw(kernels):
  # TF hashes bytes as given, invalid UTF-8 included: a bytes_ array (packed
  # by strings.pack_fixed with raw=True) must hash like the same bytes in a
  # list (packed by the list packer), non-ASCII and empty rows included.
  rows = [b"\xff", b"a\xc3", b"\xc3\xa9t\xc3\xa9", b"", b"abc\x00d", b"\x80" * 9,
          "h\u00e9llo \U0001F600".encode("utf-8"), b"plain ascii"] * 3
  arr = np.array(rows, dtype="S")
  for h in (fh.fingerprint64_strings,
            lambda x: fh.siphash64_strings(x, 133, 137)):
    np.testing.assert_array_equal(h(arr), h(np.array(rows, dtype=object)))
  buf, offs, lens = fh.pack_strings(arr)
  assert [buf[o:o + n].tobytes() for o, n in zip(offs, lens)] == rows
  assert not buf[-8:].any()


def test_fixed_width_edge_cases(kernels):
  strs = ["", "\u00e9", "a\u0100b", "\U0001F600x", "plain", ""] * 4
  np.testing.assert_array_equal(fh.fingerprint64_strings(np.array(strs)),
                                fh.fingerprint64_strings(strs))
  np.testing.assert_array_equal(
      fh.siphash64_strings(np.array(strs), 1, 2),
      fh.siphash64_strings([s.encode("utf-8") for s in strs], 1, 2))
  empty = fh.fingerprint64_strings([""])
  for dt in ("U0", "S0"):
    np.testing.assert_array_equal(fh.fingerprint64_strings(np.zeros(3, dt)),
                                  np.repeat(empty, 3))
