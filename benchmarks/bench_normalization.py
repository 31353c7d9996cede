"""Normalization adapt and apply on 2,000,000 x 32 float32, against the peers.

Run: /work/peers/bin/python benchmarks/bench_normalization.py [--quick]

Peers, measured in the same run: NumPy (x.mean(0), x.var(0); (x - m) / s),
Keras 3 Normalization on the JAX backend (adapt, call), scikit-learn
StandardScaler (fit, transform). Each timing is the best of `repeats` runs
after one warm-up (which also compiles prepro's jitted functions); JAX
results are waited on with block_until_ready.

prepro is timed twice: on the NumPy array as given (its host-to-device copy
included: NumPy's allocations are usually only 16-byte aligned, so XLA must
copy them) and on the same data already in a jax.Array.
"""
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import prepro_core as pc  # noqa: E402


def _time(fn, repeats):
  fn()  # warm-up / compile
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - start)
  return best


def run(quick: bool = False) -> list:
  rows_n = 200_000 if quick else 2_000_000
  repeats = 2 if quick else 3
  x = np.random.default_rng(0).normal(3.0, 2.0, (rows_n, 32)).astype(np.float32)
  xj = jax.device_put(x)
  t = pc.normalization()
  state = pc.adapt(t, x)
  apply = jax.jit(t.apply)
  m, s = x.mean(0), x.std(0)

  adapt_impls = {
      "prepro (numpy input)": lambda: pc.adapt(t, x),
      "prepro (jax.Array input)": lambda: pc.adapt(t, xj),
      "numpy mean+var": lambda: (x.mean(0), x.var(0)),
  }
  apply_impls = {
      "prepro (numpy input)": lambda: apply(state, x),
      "prepro (jax.Array input)": lambda: apply(state, xj),
      "numpy (x-m)/s": lambda: (x - m) / s,
  }
  try:
    import keras
    layer = keras.layers.Normalization()
    layer.adapt(x[:10])
    adapt_impls["keras3-jax Normalization.adapt"] = lambda: layer.adapt(x)
    apply_impls["keras3-jax Normalization.__call__"] = lambda: layer(x)
  except ImportError:
    pass
  try:
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(x)
    adapt_impls["sklearn StandardScaler.fit"] = lambda: StandardScaler().fit(x)
    apply_impls["sklearn StandardScaler.transform"] = lambda: scaler.transform(x)
  except ImportError:
    pass

  rows = []
  for bench, impls in (("normalization adapt", adapt_impls),
                       ("normalization apply", apply_impls)):
    times = {name: _time(fn, repeats) for name, fn in impls.items()}
    ref = times["prepro (numpy input)"]
    for name, sec in times.items():
      rows.append({"benchmark": f"{bench} {rows_n}x32", "impl": name,
                   "seconds": sec, "ratio_vs_prepro": sec / ref})
  return rows


def main():
  rows = run(quick="--quick" in sys.argv)
  print(f"{'benchmark':34s} {'impl':36s} {'seconds':>9s} {'x prepro':>9s}")
  for r in rows:
    print(f"{r['benchmark']:34s} {r['impl']:36s} {r['seconds']:9.4f} "
          f"{r['ratio_vs_prepro']:9.2f}")


if __name__ == "__main__":
  main()
