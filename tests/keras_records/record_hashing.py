"""Records Keras' Hashing / HashedCrossing outputs for tests/test_hashing.py.

Run under the peers environment (keras + tensorflow):

  /work/peers/bin/python tests/keras_records/record_hashing.py

Writes tests/keras_records/hashing.npz. Everything is deterministic (fixed
seeds, the shared corpus), so a re-run re-creates the file exactly. Full
64-bit hashes are recovered from TF's bucket ops by the Chinese remainder
theorem (residues mod 2**63 - 1, 2 and 3), so no hash is computed here by
anything but TensorFlow.
"""
import io
import os
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "bench"))
sys.path.insert(0, "/work/shared/bench")
from corpus import corpus  # noqa: E402

M = 2**63 - 1


def full_u64(bucket_fn, t):
  """The full uint64 hash from TF's `hash % m` for m = 2**63-1, 2, 3."""
  r1, r2, r3 = (bucket_fn(t, m).numpy().reshape(-1) for m in (M, 2, 3))
  out = np.empty(r1.size, np.uint64)
  for i, (a, b, c) in enumerate(zip(r1.tolist(), r2.tolist(), r3.tolist())):
    for j in range(3):
      h = a + j * M
      if h < 2**64 and h % 2 == b and h % 3 == c:
        out[i] = h
        break
    else:
      raise RuntimeError("no consistent 64-bit hash")
  return out


def make_strings():
  rng = np.random.default_rng(1234)
  docs = corpus(n_docs=6000)
  toks = sorted(set(" ".join(docs).split()))[:6500]
  alphabet = list("abcdefghijklmnopqrstuvwxyzABC 0123456789-_.,!?") + list(
      "éüßñçøåπλЖж中文字한국語€😀\u00ff\u0100\t")
  gen = []
  for length in range(0, 301):
    for _ in range(10):
      gen.append("".join(rng.choice(alphabet, size=length)))
  return [""] + toks + docs[:1000] + gen + ["\x00", "a\x00b", "\x00\x00"]


def main():
  strs = make_strings()
  data = [s.encode("utf-8") for s in strs]
  t = tf.constant(data)
  rec = {}
  rec["str_blob"] = np.frombuffer(b"".join(data), np.uint8)
  rec["str_lens"] = np.array([len(b) for b in data], np.int64)
  rec["str_fp64"] = full_u64(tf.strings.to_hash_bucket_fast, t)
  rec["str_sip_133_137"] = full_u64(
      lambda x, m: tf.strings.to_hash_bucket_strong(x, m, key=[133, 137]), t)
  rec["str_sip_big"] = full_u64(
      lambda x, m: tf.strings.to_hash_bucket_strong(
          x, m, key=[-1, -2**63 + 12345]), t)
  arr = np.array(strs, dtype=object)
  rec["str_keras_1000"] = np.asarray(keras.layers.Hashing(1000)(t))
  rec["str_keras_salt"] = np.asarray(
      keras.layers.Hashing(1000, salt=[7, 42])(t))
  rec["str_keras_mask"] = np.asarray(
      keras.layers.Hashing(1000, mask_value="")(t))
  del arr

  rng = np.random.default_rng(99)
  i32 = np.concatenate([
      np.arange(-1100, 1100),
      [2**31 - 1, -2**31, 2**31 - 2, -2**31 + 1, 10**9, -10**9, 999999999],
      rng.integers(-2**31, 2**31, size=5000),
      (10 ** rng.integers(0, 10, size=500)) * rng.choice([-1, 1], size=500),
  ]).astype(np.int32)
  i64 = np.concatenate([
      i32.astype(np.int64),
      [2**63 - 1, -2**63, 2**62, -2**62, 10**18, -10**18, 2**32, -2**32],
      rng.integers(-2**63, 2**63 - 1, size=3000, dtype=np.int64),
  ]).astype(np.int64)
  rec["i32"] = i32
  rec["i64"] = i64
  rec["i64_fp64"] = full_u64(tf.strings.to_hash_bucket_fast,
                             tf.as_string(tf.constant(i64)))
  rec["i64_keras_97"] = np.asarray(keras.layers.Hashing(97)(i64))
  rec["i64_keras_big"] = np.asarray(keras.layers.Hashing(2**31 - 1)(i64))
  rec["i64_keras_salt"] = np.asarray(keras.layers.Hashing(97, salt=5)(i64))
  rec["i64_keras_salt2"] = np.asarray(
      keras.layers.Hashing(1000003, salt=[-1, 3])(i64))
  rec["i64_keras_mask"] = np.asarray(
      keras.layers.Hashing(97, mask_value=0)(i64))
  rec["i32_keras_7919"] = np.asarray(keras.layers.Hashing(7919)(i32))
  rec["bool_keras_1000"] = np.asarray(
      keras.layers.Hashing(1000)(np.array([True, False, True])))

  f = np.concatenate([
      np.array([0.0, -0.0, 0.5, -0.5, 1.7, -1.7, 3.0, 1e10, -1e10, 2.0**62,
                -2.0**63, 2.0**63, 1e30, -1e30, np.nan, np.inf, -np.inf]),
      rng.normal(scale=1e6, size=500)]).astype(np.float32)
  rec["f32"] = f
  rec["f32_keras_1000"] = np.asarray(keras.layers.Hashing(1000)(f))
  rec["f32_keras_salt"] = np.asarray(keras.layers.Hashing(1000, salt=9)(f))

  for mode in ("one_hot", "multi_hot", "count"):
    x = np.array([["a", "b", "a"], ["c", "c", "c"]])
    rec[f"mode_{mode}_rank2"] = np.asarray(
        keras.layers.Hashing(6, output_mode=mode)(x))
    rec[f"mode_{mode}_rank1"] = np.asarray(
        keras.layers.Hashing(6, output_mode=mode)(np.array(["a", "b", "q"])))

  n = 2000
  c_str = np.array(rng.choice(toks_for_cross(), size=n))
  c_int = rng.integers(-2**40, 2**40, size=n)
  c_int2 = rng.integers(-1000, 1000, size=n)
  c_i32a = rng.integers(-2**31, 2**31, size=n).astype(np.int32)
  c_i32b = rng.integers(-5, 5, size=n).astype(np.int32)
  rec["cross_str"] = c_str
  rec["cross_int"] = c_int
  rec["cross_int2"] = c_int2
  rec["cross_i32a"] = c_i32a
  rec["cross_i32b"] = c_i32b
  rec["cross_str_int"] = np.asarray(
      keras.layers.HashedCrossing(1000003)((c_str, c_int)))
  rec["cross_int_str_int"] = np.asarray(
      keras.layers.HashedCrossing(7919)((c_int2, c_str, c_int)))
  rec["cross_i32"] = np.asarray(
      keras.layers.HashedCrossing(2**31 - 1)((c_i32a, c_i32b)))
  rec["cross_col"] = np.asarray(keras.layers.HashedCrossing(13)(
      (c_str[:50, None], c_int2[:50, None])))
  rec["cross_onehot"] = np.asarray(keras.layers.HashedCrossing(
      13, output_mode="one_hot")((c_str[:50, None], c_int2[:50, None])))
  rec["cross_scalar"] = np.asarray(
      keras.layers.HashedCrossing(13)((np.array("x"), np.array(4))))

  out = os.path.join(HERE, "hashing.npz")
  # np.savez_compressed stamps zip entries with the current time; write the
  # archive by hand with a fixed date so a re-run gives identical bytes.
  with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
    for k in sorted(rec):
      buf = io.BytesIO()
      np.save(buf, np.asarray(rec[k]), allow_pickle=False)
      info = zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
      info.compress_type = zipfile.ZIP_DEFLATED
      zf.writestr(info, buf.getvalue())
  print(f"wrote {out}: {len(rec)} arrays, {len(strs)} strings, "
        f"{i64.size} ints, {os.path.getsize(out)} bytes")


def toks_for_cross():
  return ["", "a", "b", "abc", "hello world", "é", "😀x", "0", "-1",
          "longer token " * 5]


if __name__ == "__main__":
  main()
