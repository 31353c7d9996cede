"""StringLookup / IntegerLookup: prepro against Keras 3 in one run.

  /work/peers/bin/python benchmarks/bench_lookups.py [--quick]

Workload: the shared corpus (../shared/bench/corpus.py) split on whitespace;
Keras' layers run on the TensorFlow ops they are built on (what any backend
uses for them). Each timing is the best of a few repeats after a warm-up;
device results are block_until_ready'd. prepro uses its numba kernels
(host/kernels/numba_text.py) when numba is installed; set PREPRO_HOST_KERNELS=numpy
to time the NumPy kernels.
"""
from __future__ import annotations

import os
import pathlib
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
for p in (HERE.parents[1] / "shared" / "bench", pathlib.Path("/work/shared/bench")):
  sys.path.insert(0, str(p))

import jax  # noqa: E402
import numpy as np  # noqa: E402


def _best(fn, repeats=3):
  fn()  # warm-up (compiles, builds caches)
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(out) if isinstance(out, jax.Array) else None
    best = min(best, time.perf_counter() - t0)
  return best


def _rows(name, results):
  ours = results["prepro"]
  return [{"benchmark": name, "impl": impl, "seconds": sec,
           "ratio_vs_prepro": sec / ours} for impl, sec in results.items()]


def run(quick: bool = False) -> list:
  """The rows, with the host kernels $PREPRO_HOST_KERNELS (default auto)."""
  import prepro_core as pc  # pylint: disable=import-outside-toplevel,reimported
  with pc.host_kernels(os.environ.get("PREPRO_HOST_KERNELS", "auto")):
    return _run(quick)


def _run(quick: bool) -> list:
  import keras  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  from corpus import corpus  # pylint: disable=import-outside-toplevel

  n_docs = 20_000 if quick else 100_000
  docs = corpus(n_docs=n_docs)
  tokens_list = " ".join(docs).split()
  tokens = np.array(tokens_list)
  rows = []

  # StringLookup adapt on all tokens (one batch).
  t = pc.string_lookup()
  res = {"prepro": _best(lambda: t.adapt(t.init(None), tokens), 2)}
  layer = keras.layers.StringLookup()
  res["keras"] = _best(lambda: layer.adapt(tokens), 2)
  rows += _rows(f"string_lookup adapt ({tokens.size} tokens)", res)

  state = t.adapt(t.init(None), tokens)
  vocab = pc.get_vocabulary(state)[1:]
  layer = keras.layers.StringLookup(vocabulary=vocab)
  assert np.array_equal(np.asarray(layer(tokens)), t.apply(state, tokens))
  res = {"prepro": _best(lambda: t.apply(state, tokens)),
         "keras": _best(lambda: np.asarray(layer(tokens)))}
  rows += _rows(f"string_lookup apply int, str_ array ({tokens.size})", res)
  res = {"prepro": _best(lambda: t.apply(state, tokens_list)),
         "keras": _best(lambda: np.asarray(layer(tokens_list)))}
  rows += _rows(f"string_lookup apply int, list of str ({tokens.size})", res)

  # IntegerLookup apply (jitted on our side; Keras runs TF ops eagerly).
  rng = np.random.default_rng(0)
  values = (rng.zipf(1.2, size=2_000_000 if not quick else 400_000) %
            1_000_000).astype(np.int32)
  ti = pc.integer_lookup(max_tokens=50_000)
  si = ti.adapt(ti.init(None), values)
  ilayer = keras.layers.IntegerLookup(vocabulary=pc.get_vocabulary(si)[1:])
  apply = jax.jit(ti.apply)
  si_dev = jax.device_put(si)
  xv = jax.device_put(values)
  assert np.array_equal(np.asarray(apply(si_dev, xv)),
                        np.asarray(ilayer(values)))
  res = {"prepro": _best(lambda: apply(si_dev, xv)),
         "keras": _best(lambda: np.asarray(ilayer(values)))}
  rows += _rows(f"integer_lookup apply int ({values.size} values)", res)
  res = {"prepro": _best(lambda: ti.adapt(ti.init(None), values), 2)}
  ilayer2 = keras.layers.IntegerLookup(max_tokens=50_000)
  res["keras"] = _best(lambda: ilayer2.adapt(values), 2)
  rows += _rows(f"integer_lookup adapt ({values.size} values)", res)
  return rows


def main():
  rows = run(quick="--quick" in sys.argv)
  print(f"{'benchmark':58s} {'impl':8s} {'seconds':>9s} {'ratio':>7s}")
  for r in rows:
    print(f"{r['benchmark']:58s} {r['impl']:8s} {r['seconds']:9.4f} "
          f"{r['ratio_vs_prepro']:7.2f}")


if __name__ == "__main__":
  main()
