"""Hashing benchmark: prepro vs Keras 3 Hashing (TF-backed), in one run.

  /work/peers/bin/python benchmarks/bench_hashing.py [--quick]

Workloads: the tokens of corpus(n_docs=50_000) split on whitespace, hashed
into 2**20 bins, given as a Python list (what `split` gives) and as a NumPy
str array (also with a salt: SipHash); and 1M int32 ids hashed into 2**20
bins (prepro on device, jitted). prepro's string kernels are timed both ways:
numba's (the `fast` extra, used when installed) and the pure-NumPy fallback.
Each time is the median of `repeats` runs (3; `--repeats N`) after a warm-up
(Keras on the whole list: one run).
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
  """The median time of ``repeats`` runs of ``fn`` after a warm-up."""
  fn()  # warm-up (compiles)
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t)
  return float(np.median(times))


def _host_paths():
  """prepro's string kernels to time: numba's when installed, and NumPy's."""
  try:
    import numba  # noqa: F401
    return [("numba", "prepro"), ("numpy", "prepro (numpy kernels)")]
  except ImportError:
    return [("numpy", "prepro")]


def run(quick: bool = False, repeats: int = 3) -> list:
  """The rows; each time the median of ``repeats`` runs."""
  import keras
  from corpus import corpus
  n_docs = 5_000 if quick else 50_000
  toks = " ".join(corpus(n_docs=n_docs)).split()
  arr = np.array(toks)
  bins = 2**20
  t = pc.hashing(bins)
  s = t.init(arr[:1])
  ts = pc.hashing(bins, salt=(7, 42))
  k = keras.layers.Hashing(num_bins=bins)
  ks = keras.layers.Hashing(num_bins=bins, salt=(7, 42))
  sub = toks[: (20_000 if quick else 100_000)]
  rows = []
  def add(bench, impl, sec):
    rows.append({"benchmark": bench, "impl": impl, "seconds": sec})
  b_arr = f"hash {len(toks)} str tokens (numpy array)"
  b_list = f"hash {len(toks)} str tokens (list)"
  b_salt = f"hash {len(toks)} str tokens, salt (array)"
  b_sub = f"hash {len(sub)} str tokens (list)"
  want = np.asarray(k(arr))
  want_salt = np.asarray(ks(arr))
  for kernels, impl in _host_paths():
    with pc.host_kernels(kernels):
      np.testing.assert_array_equal(np.asarray(t.apply(s, arr)), want)
      np.testing.assert_array_equal(np.asarray(t.apply(s, toks)), want)
      np.testing.assert_array_equal(np.asarray(ts.apply(s, arr)), want_salt)
      add(b_arr, impl, _best(lambda: t.apply(s, arr), repeats))
      add(b_list, impl, _best(lambda: t.apply(s, toks), repeats))
      add(b_salt, impl, _best(lambda: ts.apply(s, arr), repeats))
      add(b_sub, impl, _best(lambda: t.apply(s, sub), repeats))
  # Keras converts its input to a tf.Tensor first; that is part of its cost.
  add(b_arr, "keras", _best(lambda: np.asarray(k(arr)), repeats))
  add(b_list, "keras", _best(lambda: np.asarray(k(toks)), 1))
  add(b_salt, "keras", _best(lambda: np.asarray(ks(arr)), repeats))
  add(b_sub, "keras", _best(lambda: np.asarray(k(sub)), repeats))
  n = 100_000 if quick else 1_000_000
  ints = np.random.default_rng(0).integers(-2**31, 2**31, n).astype(np.int32)
  xi = jnp.asarray(ints)
  f = jax.jit(lambda v: t.apply(s, v))
  np.testing.assert_array_equal(np.asarray(f(xi)), np.asarray(k(ints)))
  b_int = f"hash {n} int32 ids"
  add(b_int, "prepro (device, jit)", _best(lambda: f(xi), repeats))
  add(b_int, "keras", _best(lambda: np.asarray(k(ints)), repeats))
  base = {r["benchmark"]: r["seconds"] for r in rows
          if r["impl"].startswith("prepro") and "numpy" not in r["impl"]}
  for r in rows:
    r["ratio_vs_prepro"] = r["seconds"] / base[r["benchmark"]]
  return rows


if __name__ == "__main__":
  argv = sys.argv[1:]
  rows = run(quick="--quick" in argv,
             repeats=int(argv[argv.index("--repeats") + 1])
             if "--repeats" in argv else 3)
  print(f"{'benchmark':45s} {'impl':24s} {'seconds':>9s} {'x prepro':>9s}")
  for r in rows:
    print(f"{r['benchmark']:45s} {r['impl']:24s} {r['seconds']:9.4f} "
          f"{r['ratio_vs_prepro']:9.2f}")
