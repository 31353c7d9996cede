"""FeatureSpace adapt and apply (concat): prepro against Keras 3 in one run.

  .venv-bench/bin/python benchmarks/bench_feature_space.py [--quick]

Workload: a seeded table of 1,000,000 rows x 12 mixed columns (200,000 with
--quick): 5 floats (2 float_normalized, 2 float_discretized with 16 bins, 1
float), 4 integer_categorical (3 to 50 values), 2 string_categorical (4 and
30 values), 1 string_hashed (32 bins, 5,000 distinct strings) and one cross
(an integer by a string category, 32 bins): 217 output columns.

Keras (KERAS_BACKEND=jax; its FeatureSpace runs on TensorFlow ops inside
tf.data whatever the backend) is measured the way its recipe uses it:
  * adapt: ``feature_space.adapt(tf.data.Dataset.from_tensor_slices(table))``
    (rows unbatched; Keras maps out each feature and batches it by 32, one
    adapt pass per feature);
  * apply: ``dataset.batch(B).map(feature_space, AUTOTUNE)``, iterated to the
    end, with B = APPLY_BATCH (Keras' fastest case; the recipe's batch of 32
    would be slower still).
  * apply, also: ``feature_space(batch)`` called on dicts of NumPy batches
    of APPLY_BATCH rows (outside tf.data; faster than the recipe on this
    machine), reported as a second Keras row.
Keras' adapt (one Python step per batch of 32 per feature) runs on the whole
table: 400 s for 1,000,000 rows on 2 shared CPU cores (the whole run takes
about 8 minutes; --quick runs 200,000 rows).

prepro: ``pc.adapt(fs, table, batch_size=ADAPT_BATCH)`` and
``fs.apply(state, batch)`` over batches of APPLY_BATCH rows (host stage in
NumPy/numba, then the jitted device stage), results block_until_ready'd.
Each prepro timing is the best of a few runs after a warm-up; Keras' are
one run each after a small warm-up (the first tf.data pass traces).
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

import jax  # noqa: E402
import numpy as np  # noqa: E402

ADAPT_BATCH = 65_536
APPLY_BATCH = 65_536

INT_CARDINALITIES = {"i_cat0": 3, "i_cat1": 5, "i_cat2": 20, "i_cat3": 50}
STR_CARDINALITIES = {"s_cat0": 4, "s_cat1": 30}
HASHED_DISTINCT, HASH_BINS, DISC_BINS, CROSS_DIM = 5_000, 32, 16, 32
CROSS = ("i_cat0", "s_cat0")


def make_table(rows: int, seed: int = 0) -> dict:
  """12 columns, 1-D: float32, int64 and NumPy str_ arrays."""
  rng = np.random.default_rng(seed)
  t = {
      "f_norm0": rng.normal(50, 10, rows).astype(np.float32),
      "f_norm1": rng.lognormal(3, 1, rows).astype(np.float32),
      "f_disc0": rng.normal(0, 1, rows).astype(np.float32),
      "f_disc1": rng.uniform(0, 100, rows).astype(np.float32),
      "f_plain": rng.uniform(-1, 1, rows).astype(np.float32),
  }
  for name, k in INT_CARDINALITIES.items():  # Zipf-like frequencies
    p = 1.0 / np.arange(1, k + 1)
    t[name] = rng.choice(np.arange(k) * 7 + 1, rows, p=p / p.sum())
  for name, k in STR_CARDINALITIES.items():
    p = 1.0 / np.arange(1, k + 1)
    t[name] = rng.choice(np.array([f"{name}_v{i}" for i in range(k)]), rows,
                         p=p / p.sum())
  t["s_hash"] = np.char.add("user_", rng.integers(
      0, HASHED_DISTINCT, rows).astype(str))
  return t


def prepro_space():
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  fs = pc.feature_space
  features = {
      "f_norm0": fs.float_normalized(), "f_norm1": fs.float_normalized(),
      "f_disc0": fs.float_discretized(DISC_BINS),
      "f_disc1": fs.float_discretized(DISC_BINS), "f_plain": fs.float(),
      **{n: fs.integer_categorical() for n in INT_CARDINALITIES},
      **{n: fs.string_categorical() for n in STR_CARDINALITIES},
      "s_hash": fs.string_hashed(HASH_BINS),
  }
  return pc.feature_space(features, crosses=[fs.cross(CROSS, CROSS_DIM)])


def keras_space():
  from keras.utils import FeatureSpace  # pylint: disable=import-outside-toplevel
  features = {
      "f_norm0": FeatureSpace.float_normalized(),
      "f_norm1": FeatureSpace.float_normalized(),
      "f_disc0": FeatureSpace.float_discretized(DISC_BINS),
      "f_disc1": FeatureSpace.float_discretized(DISC_BINS),
      "f_plain": FeatureSpace.float(),
      **{n: FeatureSpace.integer_categorical() for n in INT_CARDINALITIES},
      **{n: FeatureSpace.string_categorical() for n in STR_CARDINALITIES},
      "s_hash": FeatureSpace.string_hashed(HASH_BINS),
  }
  return FeatureSpace(features, crosses=[FeatureSpace.cross(CROSS, CROSS_DIM)],
                      output_mode="concat")


def _batches(table: dict, size: int):
  rows = len(next(iter(table.values())))
  for start in range(0, rows, size):
    yield {n: c[start:start + size] for n, c in table.items()}


def _best(fn, repeats):
  jax.block_until_ready(fn())  # warm-up: compiles, builds caches
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - t0)
  return best


def _once(fn):
  t0 = time.perf_counter()
  fn()
  return time.perf_counter() - t0


def _row(name, impl, seconds, rows, prepro_seconds):
  return {"benchmark": name, "impl": impl, "seconds": seconds,
          "ratio_vs_prepro": seconds / prepro_seconds,
          "items_per_s": rows / seconds}


def run(quick: bool = False) -> list:
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  rows = 200_000 if quick else 1_000_000
  table = make_table(rows)
  out = []

  # --- adapt ----------------------------------------------------------------
  fs = prepro_space()
  t_pre = _best(lambda: pc.adapt(fs, table, batch_size=ADAPT_BATCH), 2)
  state = pc.adapt(fs, table, batch_size=ADAPT_BATCH)

  kfs = keras_space()
  t_keras = _once(lambda: kfs.adapt(tf.data.Dataset.from_tensor_slices(
      table)))
  name = f"feature_space adapt ({rows} rows x 12 columns)"
  out.append(_row(name, f"prepro (batch_size={ADAPT_BATCH})", t_pre, rows,
                  t_pre))
  out.append(_row(name, "keras (tf.data, batches of 32)", t_keras, rows,
                  t_pre))

  # --- apply (concat) ---------------------------------------------------------
  def prepro_apply():
    last = None
    for batch in _batches(table, APPLY_BATCH):
      last = fs.apply(state, batch)
    return last

  t_pre = _best(prepro_apply, 3)
  width = prepro_apply().shape[-1]

  ds = tf.data.Dataset.from_tensor_slices(table).batch(APPLY_BATCH).map(
      kfs, num_parallel_calls=tf.data.AUTOTUNE)

  def keras_apply():
    n = 0
    for y in ds:
      n += int(y.shape[0])
    assert n == rows and int(y.shape[-1]) == width, (n, y.shape, width)

  next(iter(ds.take(1)))  # warm-up: traces the map function
  t_keras = _once(keras_apply)
  name = f"feature_space apply concat ({rows} rows -> {width} columns)"
  out.append(_row(name, f"prepro (batches of {APPLY_BATCH})", t_pre, rows,
                  t_pre))
  out.append(_row(name, f"keras (tf.data batch({APPLY_BATCH}).map)", t_keras,
                  rows, t_pre))

  def keras_call():
    last = None
    for batch in _batches(table, APPLY_BATCH):
      last = kfs(batch)
    return last

  t_keras = _best(keras_call, 1)
  out.append(_row(name, f"keras (called on dict batches of {APPLY_BATCH})",
                  t_keras, rows, t_pre))
  return out


def main():
  rows = run(quick="--quick" in sys.argv)
  print(f"{'benchmark':54s} {'impl':58s} {'seconds':>9s} {'rows/s':>11s} "
        f"{'ratio':>7s}")
  for r in rows:
    print(f"{r['benchmark']:54s} {r['impl']:58s} {r['seconds']:9.3f} "
          f"{r['items_per_s']:11.0f} {r['ratio_vs_prepro']:7.2f}")


if __name__ == "__main__":
  main()
