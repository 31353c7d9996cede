"""Normalization adapt and apply on 2,000,000 x 32 float32, against the peers.

Run: python benchmarks/bench_normalization.py [--quick]

Peers, measured in the same run: NumPy (x.mean(0), x.var(0); (x - m) / s),
Keras 3 Normalization on the JAX backend (adapt, call), scikit-learn
StandardScaler (fit, transform). Each timing is the best of `repeats` runs
after one warm-up (which also compiles prepro's jitted functions); JAX
results are waited on with block_until_ready.

adapt: prepro on the NumPy array as given (pc.adapt stages it into an aligned
buffer that XLA aliases; see prepro_core/_src/device_transfer.py) and on the
same data already in a jax.Array.

apply, one 256 MB array: each result is a new 256 MB buffer, and on the CPU
backend that allocation dominates. XLA's buffers come from glibc malloc, which
maps large ones fresh from the kernel with 4 KiB pages, so writing the result
takes 62,500 page faults; NumPy asks for huge pages on large arrays (512x
fewer faults). So three regimes are measured, each against NumPy doing the
same: a fresh result (prepro jax.Array input, and NumPy input with jax's own
transfer or through pc.to_device); in place (prepro jitted with the input
donated, NumPy with out=); and the array streamed in 1 MiB batches, as an
input pipeline feeds a model (buffers that size are recycled by malloc). A
subprocess then repeats the fresh-result rows with glibc told to use huge
pages too (GLIBC_TUNABLES=glibc.malloc.hugetlb=1, glibc >= 2.35), to show the
arithmetic itself once the allocator is out of the way.
"""
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import prepro_core as pc  # noqa: E402

HUGEPAGE_ENV = "glibc.malloc.hugetlb=1"
STREAM_ROWS = 8192  # 1 MiB batches of 32 float32 features


def _time(fn, repeats):
  jax.block_until_ready(fn())  # warm-up / compile
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - start)
  return best


def _data(rows_n):
  return np.random.default_rng(0).normal(3.0, 2.0, (rows_n, 32)).astype(
      np.float32)


def _fresh_result_impls(x, xj, t, state):
  """apply returning a new array, prepro and NumPy (xj: x on the device)."""
  apply = jax.jit(t.apply)
  m, s = x.mean(0), x.std(0)
  return {
      "prepro, jax.Array input": lambda: apply(state, xj),
      "prepro, jax.Array input, eager t.apply": lambda: t.apply(state, xj),
      "prepro, NumPy input via jax's transfer": lambda: apply(state, x),
      "prepro, NumPy input via pc.to_device": lambda: apply(
          state, pc.to_device(x)),
      "numpy (x-m)/s": lambda: (x - m) / s,
  }


def _in_place_impls(x, t, state):
  """apply writing over its input: prepro donates it, NumPy uses out=."""
  apply_donated = jax.jit(t.apply, donate_argnums=1)
  m, s = x.mean(0), x.std(0)
  # Each call consumes its input, so the output is fed back in: the values
  # drift towards a finite fixed point, the work per call does not change.
  box = {"x": pc.to_device(x)}

  def prepro_in_place():
    box["x"] = apply_donated(state, box["x"])
    return box["x"]

  out = np.empty_like(x)

  def numpy_in_place():
    np.subtract(x, m, out=out)
    return np.divide(out, s, out=out)

  return {"prepro, jax.Array input donated": prepro_in_place,
          "numpy, out=": numpy_in_place}


def _streamed_impls(x, t, state):
  """apply over the array in 1 MiB batches (an input pipeline's view)."""
  apply = jax.jit(t.apply)
  m, s = x.mean(0), x.std(0)
  starts = range(0, x.shape[0], STREAM_ROWS)
  device_batches = [pc.to_device(x[i:i + STREAM_ROWS]) for i in starts]
  host_batches = [x[i:i + STREAM_ROWS] for i in starts]

  # Each batch's result is dropped once the next is asked for, as a consumer
  # would; the last one is returned (and waited on).
  def prepro_stream():
    for b in device_batches:
      y = apply(state, b)
    return y

  def numpy_stream():
    for b in host_batches:
      y = (b - m) / s
    return y

  return {"prepro, jax.Array batches": prepro_stream,
          "numpy (x-m)/s per batch": numpy_stream}


def _rows(bench, times, ref):
  return [{"benchmark": bench, "impl": name, "seconds": sec,
           "ratio_vs_prepro": sec / times[ref]} for name, sec in times.items()]


def _hugepage_rows(quick):
  """The fresh-result rows again, in a process whose malloc uses huge pages."""
  env = dict(os.environ, GLIBC_TUNABLES=HUGEPAGE_ENV)
  cmd = [sys.executable, os.path.abspath(__file__), "--fresh-json"]
  if quick:
    cmd.append("--quick")
  done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                        check=True)
  return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list:
  rows_n = 200_000 if quick else 2_000_000
  repeats = 2 if quick else 5
  x = _data(rows_n)
  t = pc.normalization()
  state = pc.adapt(t, x)
  size = f"{rows_n}x32"
  xj = pc.to_device(x)

  adapt_impls = {
      "prepro, NumPy input": lambda: pc.adapt(t, x),
      "prepro, jax.Array input": lambda: pc.adapt(t, xj),
      "numpy mean+var": lambda: (x.mean(0), x.var(0)),
  }
  fresh = _fresh_result_impls(x, xj, t, state)
  try:
    import keras
    layer = keras.layers.Normalization()
    layer.adapt(x[:10])
    adapt_impls["keras3-jax Normalization.adapt"] = lambda: layer.adapt(x)
    fresh["keras3-jax Normalization.__call__"] = lambda: layer(x)
  except ImportError:
    pass
  try:
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(x)
    adapt_impls["sklearn StandardScaler.fit"] = lambda: StandardScaler().fit(x)
    fresh["sklearn StandardScaler.transform"] = lambda: scaler.transform(x)
  except ImportError:
    pass

  ref = "prepro, jax.Array input"
  rows = []
  rows += _rows(f"normalization adapt {size}",
                {k: _time(f, repeats) for k, f in adapt_impls.items()},
                "prepro, NumPy input")
  rows += _rows(f"normalization apply {size}, fresh result",
                {k: _time(f, repeats) for k, f in fresh.items()}, ref)
  rows += _rows(f"normalization apply {size}, in place",
                {k: _time(f, repeats)
                 for k, f in _in_place_impls(x, t, state).items()},
                "prepro, jax.Array input donated")
  rows += _rows(f"normalization apply {size}, {STREAM_ROWS}-row batches",
                {k: _time(f, repeats)
                 for k, f in _streamed_impls(x, t, state).items()},
                "prepro, jax.Array batches")
  hugepage_times = _hugepage_rows(quick)
  rows += _rows(f"normalization apply {size}, fresh result, "
                f"GLIBC_TUNABLES={HUGEPAGE_ENV}", hugepage_times, ref)
  return rows


def _fresh_json(quick):
  """Prints the fresh-result timings as JSON (run by _hugepage_rows)."""
  rows_n = 200_000 if quick else 2_000_000
  x = _data(rows_n)
  t = pc.normalization()
  state = pc.adapt(t, x)
  times = {k: _time(f, 2 if quick else 5)
           for k, f in _fresh_result_impls(x, pc.to_device(x), t,
                                           state).items()}
  print(json.dumps(times))


def main():
  quick = "--quick" in sys.argv
  if "--fresh-json" in sys.argv:
    _fresh_json(quick)
    return
  rows = run(quick=quick)
  print(f"{'benchmark':70s} {'impl':40s} {'seconds':>9s} {'x prepro':>9s}")
  for r in rows:
    print(f"{r['benchmark']:70s} {r['impl']:40s} {r['seconds']:9.4f} "
          f"{r['ratio_vs_prepro']:9.2f}")


if __name__ == "__main__":
  main()
