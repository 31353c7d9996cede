"""Records Keras' FeatureSpace on a heart-disease style table.

Run with the benchmark environment (keras 3 + tensorflow):

  .venv-bench/bin/python tests/keras_records/record_feature_space.py

Writes tests/keras_records/feature_space.json, read by
tests/test_feature_space_keras.py. The table is generated from a seeded NumPy
RNG (`make_table`) and stored in the record too, so the test reads exactly
the inputs Keras saw. Every feature space is adapted the way Keras users do
(`feature_space.adapt(tf.data.Dataset.from_tensor_slices(train))`, which
batches the scalar rows by 32 per feature) and called on the dict of arrays.

Each case records: its configuration (a small JSON description that the test
turns into prepro specs), Keras' output on the train and test splits (concat:
one matrix; dict: name -> array), the output order with each part's width,
and the adapted vocabularies / bin boundaries / moments for diagnosis.
"""

import json
import os
import re

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402
from keras.utils import FeatureSpace  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "feature_space.json")
SEED = 14
N_TRAIN, N_TEST = 320, 40  # 320: ten adapt batches of 32
N_APPLIED_TRAIN = 64  # train rows whose outputs are recorded (all adapt)

FLOATS = ("age", "trestbps", "chol", "thalach", "oldpeak")
INTS = ("sex", "cp", "fbs", "restecg", "exang", "ca")
STRINGS = ("thal", "slope")
WORDS = ("chest", "pain", "mild", "severe", "at", "rest", "after", "exercise",
         "no", "history", "of", "angina", "smoker", "Family", "risk!")


def _f32(x):
  return np.round(np.asarray(x, np.float64), 1).astype(np.float32)


def make_table(rng, n, unseen):
  """A heart-disease style table; ``unseen`` adds values the train split
  never has (new integer codes, new strings, an empty string)."""
  t = {
      "age": _f32(rng.normal(54, 9, n)),
      "trestbps": _f32(rng.normal(131, 17, n)),
      "chol": _f32(rng.normal(246, 51, n)),
      "thalach": _f32(rng.normal(150, 23, n)),
      "oldpeak": _f32(np.abs(rng.normal(1.0, 1.1, n))),
      "sex": rng.integers(0, 2, n),
      "cp": rng.choice([0, 1, 2, 3], n, p=[0.47, 0.17, 0.28, 0.08]),
      "fbs": rng.choice([0, 1], n, p=[0.85, 0.15]),
      "restecg": rng.choice([0, 1, 2], n, p=[0.5, 0.48, 0.02]),
      "exang": rng.integers(0, 2, n),
      "ca": rng.choice([0, 1, 2, 3], n, p=[0.58, 0.22, 0.13, 0.07]),
      "thal": rng.choice(["normal", "fixed", "reversible"], n,
                         p=[0.55, 0.07, 0.38]),
      "slope": rng.choice(["up", "flat", "down"], n, p=[0.47, 0.46, 0.07]),
      "notes": np.array([" ".join(rng.choice(WORDS, rng.integers(1, 6)))
                         for _ in range(n)]),
  }
  if unseen:
    k = n // 4
    rows = rng.choice(n, 3 * k, replace=False)
    a, b, c = rows[:k], rows[k:2 * k], rows[2 * k:]
    t["cp"][a] = rng.choice([4, 7, -1], k)
    t["ca"][b] = rng.choice([4, 9], k)
    t["restecg"][c] = 5
    t["sex"][c[:3]] = 3
    t["thal"][a] = rng.choice(["1", "2", "", "NORMAL"], k)
    t["slope"][b] = rng.choice(["unknown", "Up"], k)
    t["notes"][c] = rng.choice(["brand new words", "pain pain pain", ""], k)
  return {k: v.astype(np.int64) if k in INTS else v for k, v in t.items()}


# Configurations: name -> (kind, args), the same in the test.
ALL_TYPES = {
    "age": ("float_discretized", {"num_bins": 8}),
    "trestbps": ("float_rescaled", {"scale": 0.005, "offset": -0.5}),
    "chol": ("float_normalized", {}),
    "thalach": ("float_discretized", {"num_bins": 5}),
    "oldpeak": ("float", {}),
    "sex": ("integer_categorical", {}),
    "cp": ("integer_categorical", {"num_oov_indices": 2}),
    "fbs": ("integer_hashed", {"num_bins": 4}),
    "restecg": ("integer_categorical", {"max_tokens": 3}),
    "exang": ("integer_categorical", {}),
    "ca": ("integer_hashed", {"num_bins": 16}),
    "thal": ("string_categorical", {}),
    "slope": ("string_hashed", {"num_bins": 8}),
}
ALL_CROSSES = [
    ("cross", {"feature_names": ["sex", "age"], "crossing_dim": 16}),
    ("cross", {"feature_names": ["thal", "cp"], "crossing_dim": 32}),
    ("tuple", ["ca", "slope"]),
]
INT_MODES = {  # dict mode: ids instead of one-hot
    "age": ("float_discretized", {"num_bins": 8, "output_mode": "int"}),
    "chol": ("float_normalized", {}),
    "sex": ("integer_categorical", {"output_mode": "int"}),
    "cp": ("integer_categorical", {"output_mode": "int",
                                   "num_oov_indices": 3}),
    "ca": ("integer_hashed", {"num_bins": 16, "output_mode": "int"}),
    "thal": ("string_categorical", {"output_mode": "int",
                                    "num_oov_indices": 2}),
    "slope": ("string_hashed", {"num_bins": 8, "output_mode": "int"}),
}
INT_CROSSES = [
    ("cross", {"feature_names": ["thal", "sex"], "crossing_dim": 8,
               "output_mode": "int"}),
    ("cross", {"feature_names": ["age", "cp"], "crossing_dim": 64}),
]
BY_NAME = {  # feature types given by name, with the space's defaults
    "age": "float_discretized", "thalach": "float_normalized",
    "oldpeak": "float_rescaled", "trestbps": "float", "cp":
    "integer_categorical", "ca": "integer_hashed", "thal":
    "string_categorical", "slope": "string_hashed",
}
BY_NAME_ARGS = {"crossing_dim": 12, "hashing_dim": 6,
                "num_discretization_bins": 6}
BY_NAME_CROSSES = [("tuple", ["slope", "thal"]), ("tuple", ["cp", "age"])]
TEXT = {
    "notes": ("text_tf_idf", {}),
    "chol": ("float_normalized", {}),
    "thal": ("string_categorical", {}),
}

CASES = [
    # (name, features, crosses, output_mode, feature space kwargs)
    ("all_types_concat", ALL_TYPES, ALL_CROSSES, "concat", {}),
    ("all_types_dict", ALL_TYPES, ALL_CROSSES, "dict", {}),
    ("int_modes_dict", INT_MODES, INT_CROSSES, "dict", {}),
    ("by_name_concat", BY_NAME, BY_NAME_CROSSES, "concat", BY_NAME_ARGS),
    ("text_dict", TEXT, [], "dict", {}),
]


def keras_feature(kind, args):
  if kind == "text_tf_idf":
    return FeatureSpace.feature(
        dtype="string", output_mode="float",
        preprocessor=layers.TextVectorization(output_mode="tf_idf"))
  return getattr(FeatureSpace, kind)(**args)


def keras_space(features, crosses, output_mode, kwargs):
  feats = {n: v if isinstance(v, str) else keras_feature(*v)
           for n, v in features.items()}
  cr = [FeatureSpace.cross(**a) if k == "cross" else tuple(a)
        for k, a in crosses]
  return FeatureSpace(features=feats, crosses=cr or None,
                      output_mode=output_mode, **kwargs)


def columns(table, names):
  return {n: table[n] for n in names}


def np_out(x):
  return np.asarray(keras.ops.convert_to_numpy(x))


def as_json(x):
  x = np.asarray(x)
  if x.dtype.kind == "f":
    return x.astype(np.float64).tolist()
  if x.dtype.kind in "iu":
    return x.astype(np.int64).tolist()
  return x.tolist()


def layout(fs):
  """Keras' output order and each part's width (1 if not one-hot)."""
  names = fs._preprocessed_features_names + fs._crossed_features_names
  return [[n, int(fs.one_hot_encoders[n].num_tokens)
           if n in fs.one_hot_encoders else 1] for n in names]


def adapted(fs):
  """The adapted preprocessors' states, for diagnosing a difference."""
  out = {}
  for name, pre in fs.preprocessors.items():
    if isinstance(pre, (layers.IntegerLookup, layers.StringLookup)):
      out[name] = {"vocabulary": [v if isinstance(v, str) else int(v)
                                  for v in pre.get_vocabulary()]}
    elif isinstance(pre, layers.Discretization):
      out[name] = {"bin_boundaries": [float(b) for b in pre.bin_boundaries]}
    elif isinstance(pre, layers.Normalization):
      out[name] = {"mean": np_out(pre.mean).reshape(-1).tolist(),
                   "variance": np_out(pre.variance).reshape(-1).tolist()}
    elif isinstance(pre, layers.TextVectorization):
      out[name] = {"vocabulary": pre.get_vocabulary()}
  return out


def record_case(name, features, crosses, output_mode, kwargs, train, test):
  fs = keras_space(features, crosses, output_mode, kwargs)
  names = sorted(features)
  fs.adapt(tf.data.Dataset.from_tensor_slices(columns(train, names)))
  case = {"features": features, "crosses": crosses,
          "output_mode": output_mode, "kwargs": kwargs,
          "layout": layout(fs), "adapted": adapted(fs)}
  head = {n: train[n][:N_APPLIED_TRAIN] for n in names}
  for split, table in (("train", head), ("test", test)):
    y = fs(columns(table, names))
    if output_mode == "dict":
      case[split] = {k: {"dtype": str(np_out(v).dtype),
                         "value": as_json(np_out(v))} for k, v in y.items()}
    else:
      case[split] = {"dtype": str(np_out(y).dtype), "value": as_json(np_out(y))}
  if output_mode == "concat":  # one unbatched row (all scalars)
    row = {n: test[n][0] for n in names}
    y = fs(row)
    case["one_row"] = {"dtype": str(np_out(y).dtype),
                       "shape": list(np_out(y).shape),
                       "value": as_json(np_out(y))}
  return case


BOUNDARIES = [120., 140., 160., 180.]


def _plain(line):
  """An error line without its terminal colour codes."""
  return re.sub(r"\x1b\[[0-9;]*m", "", line).strip()


def record_given_boundaries(train, test):
  """Keras' FeatureSpace cannot use given bin boundaries (float_discretized
  always passes num_bins, which Discretization refuses next to
  bin_boundaries; with num_bins=None its adapt() raises on the
  non-adaptable layer). Recorded: those errors, and what the same layers
  give outside a feature space (Discretization(bin_boundaries) then
  CategoryEncoding(len + 1, "multi_hot")), prepro's reference."""
  errors = {}
  attempts = {
      "num_bins_and_boundaries": lambda: FeatureSpace.float_discretized(
          num_bins=len(BOUNDARIES) + 1, bin_boundaries=BOUNDARIES),
      "num_bins_none": lambda: FeatureSpace.float_discretized(
          num_bins=None, bin_boundaries=BOUNDARIES),
  }
  for name, make in attempts.items():
    try:
      fs = FeatureSpace({"thalach": make()})
      fs.adapt(tf.data.Dataset.from_tensor_slices(columns(train, ["thalach"])))
      errors[name] = None
    except ValueError as e:
      errors[name] = str(e)
  disc = layers.Discretization(bin_boundaries=BOUNDARIES)
  enc = layers.CategoryEncoding(num_tokens=len(BOUNDARIES) + 1,
                                output_mode="multi_hot")
  try:  # Keras' HashedCrossing takes exactly two features
    keras_space({"sex": "integer_categorical", "cp": "integer_categorical",
                 "ca": "integer_categorical"}, [("tuple", ["sex", "cp", "ca"])],
                "concat", {}).adapt(tf.data.Dataset.from_tensor_slices(
                    columns(train, ["sex", "cp", "ca"])))
    errors["cross_of_three"] = None
  except ValueError as e:
    errors["cross_of_three"] = _plain(
        [l for l in str(e).splitlines() if "Expected" in l][0])
  try:  # a TF-IDF text feature in concat mode: Keras' symbolic shapes
    keras_space(TEXT, [], "concat", {}).adapt(  # are (None, 1, vocab)
        tf.data.Dataset.from_tensor_slices(columns(train, sorted(TEXT))))
    errors["text_concat"] = None
  except (TypeError, ValueError) as e:
    errors["text_concat"] = _plain(
        [l for l in str(e).splitlines() if "Cannot concatenate" in l][0])
  out = {"bin_boundaries": BOUNDARIES, "keras_errors": errors}
  for split, table in (("train", train), ("test", test)):
    ids = disc(table["thalach"].reshape(-1, 1))
    out[split] = {"int": as_json(np_out(ids)),
                  "one_hot": as_json(np_out(enc(ids)))}
  return out


def main():
  rng = np.random.default_rng(SEED)
  train = make_table(rng, N_TRAIN, unseen=False)
  test = make_table(rng, N_TEST, unseen=True)
  out = {"keras_version": keras.__version__, "tensorflow_version":
         tf.__version__, "seed": SEED,
         "train": {k: as_json(v) for k, v in train.items()},
         "test": {k: as_json(v) for k, v in test.items()},
         "cases": {}}
  for name, features, crosses, output_mode, kwargs in CASES:
    out["cases"][name] = record_case(name, features, crosses, output_mode,
                                     kwargs, train, test)
    print(f"recorded {name}")
  out["given_bin_boundaries"] = record_given_boundaries(train, test)
  with open(OUT, "w") as f:
    json.dump(out, f, separators=(",", ":"), sort_keys=True)
    f.write("\n")
  print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
  main()
