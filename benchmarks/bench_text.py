"""TextVectorization: prepro vs Keras 3 (TensorFlow string ops), one run.

    /work/peers/bin/python benchmarks/bench_text.py [--quick]

Workload: ../shared/bench/corpus.py's corpus (200,000 documents; 20,000 with
--quick), the same documents for both. Measured: adapt (default arguments)
and apply with output_mode="int", output_sequence_length=32 on the whole
corpus as one batch and in batches of 10,000 documents. Each timing is the
best of a few runs after a warm-up; Keras runs on the JAX backend (its
outputs are converted to jax arrays; prepro returns NumPy int32). prepro
uses its numba kernels (host/kernels/numba_text.py) when numba is installed; set
PREPRO_HOST_KERNELS=numpy to time the NumPy kernels.
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "bench"))

import numpy as np  # noqa: E402

import prepro_core as pc  # noqa: E402


def _best(fn, repeats):
  fn()  # warm-up
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = fn()
    if hasattr(out, "block_until_ready"):
      out.block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return best


def run(quick: bool = False) -> list:
  """The rows, with the host kernels $PREPRO_HOST_KERNELS (default auto)."""
  import prepro_core as pc  # pylint: disable=import-outside-toplevel,reimported
  with pc.host_kernels(os.environ.get("PREPRO_HOST_KERNELS", "auto")):
    return _run(quick)


def _run(quick: bool) -> list:
  import keras  # pylint: disable=g-import-not-at-top
  from corpus import corpus  # pylint: disable=g-import-not-at-top
  n_docs = 20_000 if quick else 200_000
  repeats = 2 if quick else 3
  docs = corpus(n_docs=n_docs)
  arr = np.array(docs)

  # adapt
  t = pc.text_vectorization(output_sequence_length=32)
  state = pc.adapt(t, docs)
  layer = keras.layers.TextVectorization(output_sequence_length=32)
  layer.adapt(arr)
  assert pc.get_vocabulary(state) == layer.get_vocabulary()
  times = {
      ("adapt", "prepro"): _best(lambda: pc.adapt(t, docs), repeats),
      ("adapt", "keras"): _best(lambda: layer.adapt(arr), repeats),
  }
  # apply, int mode, output_sequence_length=32
  np.testing.assert_array_equal(t.apply(state, docs[:5000]),
                                np.asarray(layer(arr[:5000])))
  times[("apply_int32_one_batch", "prepro")] = _best(
      lambda: t.apply(state, docs), repeats)
  times[("apply_int32_one_batch", "keras")] = _best(lambda: layer(arr),
                                                    repeats)
  step = 10_000

  def prepro_batches():
    for i in range(0, n_docs, step):
      out = t.apply(state, docs[i:i + step])
    return out

  def keras_batches():
    for i in range(0, n_docs, step):
      out = layer(arr[i:i + step])
    return out
  times[("apply_int32_batches_10k", "prepro")] = _best(prepro_batches,
                                                       repeats)
  times[("apply_int32_batches_10k", "keras")] = _best(keras_batches, repeats)

  rows = []
  for bench in ("adapt", "apply_int32_one_batch", "apply_int32_batches_10k"):
    ref = times[(bench, "prepro")]
    for impl in ("prepro", "keras"):
      sec = times[(bench, impl)]
      rows.append({"benchmark": f"text_vectorization/{bench}/{n_docs}docs",
                   "impl": impl, "seconds": sec,
                   "ratio_vs_prepro": sec / ref})
  return rows


def main():
  rows = run(quick="--quick" in sys.argv)
  print(f"{'benchmark':50s} {'impl':8s} {'seconds':>9s} {'x prepro':>9s}")
  for r in rows:
    print(f"{r['benchmark']:50s} {r['impl']:8s} {r['seconds']:9.3f} "
          f"{r['ratio_vs_prepro']:9.2f}")


if __name__ == "__main__":
  main()
