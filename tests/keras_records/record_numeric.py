"""Records Keras' numbers for the numeric family's parity tests.

Run with the peers environment (keras 3, JAX backend):
  KERAS_BACKEND=jax /work/peers/bin/python tests/keras_records/record_numeric.py
Writes tests/keras_records/numeric.json. Inputs are generated from seeds by
`make_data` (duplicated in tests/_numeric_data.py, which the tests import) and
a checksum of each input is stored so a drift in generation is caught.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from _numeric_data import make_data  # noqa: E402  (tests/_numeric_data.py)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "numeric.json")


def arr(x):
  return np.asarray(x).tolist()


def checksum(x):
  return float(np.sum(np.asarray(x, np.float64)))


def record_normalization():
  cases = []
  specs = [
      # (name, seed, shape, loc, scale, axis, invert, batch_size)
      ("axis_last", 1, (64, 5), 3.0, 2.0, -1, False, None),
      ("axis_none", 2, (40,), -1.0, 0.5, None, False, None),
      ("axis_tuple", 3, (16, 3, 4), 10.0, 3.0, (1, 2), False, None),
      ("axis_1_of_3", 4, (12, 3, 4), 0.0, 1.0, 1, False, None),
      ("invert", 5, (50, 3), 5.0, 4.0, -1, True, None),
      ("streamed", 6, (90, 4), 100.0, 2.0, -1, False, 32),
  ]
  for name, seed, shape, loc, scale, axis, invert, bs in specs:
    x = make_data(seed, shape, loc, scale)
    layer = keras.layers.Normalization(axis=axis, invert=invert)
    if bs is None:
      layer.adapt(x)
    else:
      layer.adapt([x[i:i + bs] for i in range(0, len(x), bs)])
    probe = make_data(seed + 100, shape, loc, scale)[:7]
    cases.append({
        "name": name, "seed": seed, "shape": list(shape), "loc": loc,
        "scale": scale, "axis": axis, "invert": invert, "batch_size": bs,
        "checksum": checksum(x),
        "mean": arr(np.asarray(layer.mean)),
        "variance": arr(np.asarray(layer.variance)),
        "output": arr(np.asarray(layer(probe))),
    })
  const = []
  for axis, mean, var, shape in [(-1, 3.0, 2.0, (3, 1)),
                                 (-1, [1., 2., 3.], [1., 4., 9.], (2, 3)),
                                 ((1, 2), [1., 2., 3.], [1., 4., 9.],
                                  (2, 2, 3)),
                                 ((1, 2), [[1.], [2.]], [[4.], [9.]],
                                  (2, 2, 3))]:
    probe = make_data(7, shape, 1.0, 2.0)
    layer = keras.layers.Normalization(axis=axis, mean=mean, variance=var)
    const.append({"axis": axis, "mean": mean, "variance": var,
                  "shape": list(shape), "output": arr(np.asarray(layer(probe)))})
  return {"adapted": cases, "constants": const}


def record_discretization():
  cases = []
  # (seed, n, scale, num_bins, epsilon): every branch of Keras' summary
  # (uncompressed, compressed, fewer points than bins, 49 -> 50 bins).
  for seed, n, scale, num_bins, epsilon in [
      (11, 7, 1.0, 4, 0.01), (12, 120, 3.0, 4, 0.01), (12, 120, 3.0, 7, 0.05),
      (13, 1000, 50.0, 49, 0.01), (13, 1000, 50.0, 4, 0.003),
      (13, 1000, 50.0, 7, 0.05), (14, 5000, 0.1, 7, 0.01),
      (14, 5000, 0.1, 2, 0.05)]:
    x = make_data(seed, (n,), 0.0, scale)
    layer = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    layer.adapt(x)
    cases.append({"seed": seed, "n": n, "scale": scale,
                  "num_bins": num_bins, "epsilon": epsilon,
                  "checksum": checksum(x),
                  "bin_boundaries": [float(b) for b in layer.bin_boundaries],
                  "digitized": arr(np.asarray(layer(x[:20])))})
  streamed = []
  for seed, n, bs, num_bins, epsilon in [(21, 600, 100, 5, 0.05),
                                         (22, 2000, 250, 10, 0.01)]:
    x = make_data(seed, (n,), 1.0, 2.0)
    layer = keras.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    layer.adapt([x[i:i + bs] for i in range(0, n, bs)])
    streamed.append({"seed": seed, "n": n, "batch_size": bs,
                     "num_bins": num_bins, "epsilon": epsilon,
                     "checksum": checksum(x),
                     "bin_boundaries": [float(b) for b in
                                        layer.bin_boundaries]})
  modes = []
  bounds = [-1.0, 0.0, 0.5, 2.0]
  for mode, shape in [("int", (3, 4)), ("one_hot", (6,)), ("one_hot", (6, 1)),
                      ("one_hot", (2, 3)), ("multi_hot", (5,)),
                      ("multi_hot", (3, 4)), ("count", (5,)),
                      ("count", (3, 4))]:
    x = make_data(31, shape, 0.3, 1.5)
    layer = keras.layers.Discretization(bin_boundaries=bounds,
                                        output_mode=mode)
    modes.append({"mode": mode, "shape": list(shape), "bin_boundaries": bounds,
                  "output": arr(np.asarray(layer(x)))})
  return {"adapted": cases, "streamed": streamed, "modes": modes}


def record_category_encoding():
  out = []
  ids1 = [3, 2, 0, 1, 1]
  ids2 = [[0, 1], [0, 0], [1, 2], [3, 1]]
  ids21 = [[3], [0], [2]]
  weights2 = [[.1, .2], [.1, .1], [.2, .3], [.4, .2]]
  for mode, ids, w in [("one_hot", ids1, None), ("one_hot", ids21, None),
                       ("one_hot", ids2, None), ("multi_hot", ids1, None),
                       ("multi_hot", ids2, None), ("count", ids1, None),
                       ("count", ids2, None), ("count", ids2, weights2)]:
    layer = keras.layers.CategoryEncoding(num_tokens=5, output_mode=mode)
    x = np.asarray(ids, np.int32)
    y = layer(x) if w is None else layer(x, count_weights=np.asarray(w))
    out.append({"mode": mode, "ids": ids, "count_weights": w,
                "output": arr(np.asarray(y))})
  return out


def record_rescaling():
  out = []
  for scale, offset, x, dtype in [(1 / 255, 0.0, [[0, 128, 255]], "uint8"),
                                  (1 / 127.5, -1.0, [[0, 64, 255]], "int32"),
                                  (2.0, 0.5, [[-1.5, 0.25]], "float32"),
                                  ([1., 2., 3.], 1.0, [[1, 1, 1]], "uint8")]:
    layer = keras.layers.Rescaling(scale=scale, offset=offset)
    y = layer(np.asarray(x, dtype))
    out.append({"scale": scale, "offset": offset, "x": x, "dtype": dtype,
                "output": arr(np.asarray(y)), "out_dtype": str(y.dtype)})
  return out


def main():
  record = {
      "keras_version": keras.__version__,
      "normalization": record_normalization(),
      "discretization": record_discretization(),
      "category_encoding": record_category_encoding(),
      "rescaling": record_rescaling(),
  }
  with open(OUT, "w") as f:
    json.dump(record, f, indent=None, separators=(",", ":"))
    f.write("\n")
  print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
  main()
