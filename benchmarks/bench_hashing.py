"""Hashing benchmark: prepro vs Keras 3 Hashing (TF-backed), in one run.

  /work/peers/bin/python benchmarks/bench_hashing.py [--quick]

Workloads: the tokens of corpus(n_docs=50_000) split on whitespace, hashed
into 2**20 bins, given as a Python list (what `split` gives) and as a NumPy
str array; and 1M int32 ids hashed into 2**20 bins (prepro on device, jitted).
"""
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "bench"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import prepro_core as pc  # noqa: E402


def _best(fn, repeats):
  fn()  # warm-up (compiles)
  best = float("inf")
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - t)
  return best


def run(quick: bool = False) -> list:
  import keras
  from corpus import corpus
  n_docs = 5_000 if quick else 50_000
  repeats = 2 if quick else 5
  toks = " ".join(corpus(n_docs=n_docs)).split()
  arr = np.array(toks)
  bins = 2**20
  t = pc.hashing(bins)
  s = t.init(arr[:1])
  k = keras.layers.Hashing(num_bins=bins)
  np.testing.assert_array_equal(np.asarray(t.apply(s, arr)), np.asarray(k(arr)))
  rows = []
  def add(bench, impl, sec):
    rows.append({"benchmark": bench, "impl": impl, "seconds": sec})
  add(f"hash {len(toks)} str tokens (numpy array)", "prepro",
      _best(lambda: t.apply(s, arr), repeats))
  add(f"hash {len(toks)} str tokens (numpy array)", "keras",
      _best(lambda: np.asarray(k(arr)), repeats))
  add(f"hash {len(toks)} str tokens (list)", "prepro",
      _best(lambda: t.apply(s, toks), repeats))
  sub = toks[: (20_000 if quick else 100_000)]
  add(f"hash {len(sub)} str tokens (list)", "prepro",
      _best(lambda: t.apply(s, sub), repeats))
  add(f"hash {len(sub)} str tokens (list)", "keras",
      _best(lambda: np.asarray(k(sub)), 1))
  n = 100_000 if quick else 1_000_000
  ints = np.random.default_rng(0).integers(-2**31, 2**31, n).astype(np.int32)
  xi = jnp.asarray(ints)
  f = jax.jit(lambda v: t.apply(s, v))
  np.testing.assert_array_equal(np.asarray(f(xi)), np.asarray(k(ints)))
  add(f"hash {n} int32 ids", "prepro (device, jit)", _best(lambda: f(xi), repeats))
  add(f"hash {n} int32 ids", "keras", _best(lambda: np.asarray(k(ints)), repeats))
  base = {r["benchmark"]: r["seconds"] for r in rows if r["impl"].startswith("prepro")}
  for r in rows:
    r["ratio_vs_prepro"] = r["seconds"] / base[r["benchmark"]] if r["benchmark"] in base else float("nan")
  return rows


if __name__ == "__main__":
  rows = run(quick="--quick" in sys.argv)
  print(f"{'benchmark':45s} {'impl':22s} {'seconds':>9s} {'x prepro':>9s}")
  for r in rows:
    print(f"{r['benchmark']:45s} {r['impl']:22s} {r['seconds']:9.4f} "
          f"{r['ratio_vs_prepro']:9.2f}")
