"""pc.feature_space against Keras' FeatureSpace (keras 3.15, JAX backend).

Records: tests/keras_records/record_feature_space.py writes
keras_records/feature_space.json: a seeded heart-disease style table (train
and a test split with unseen integer and string values), and for each case
Keras' configuration, output layout, adapted states and outputs. Keras
adapted each space on ``tf.data.Dataset.from_tensor_slices(train)``, which
batches the scalar rows by 32 per feature, so prepro adapts with
``batch_size=32``: learned bin boundaries then match exactly, normalization
within float32 tolerance.
"""
import functools
import json
import os

import numpy as np
import pytest

import prepro_core as pc

FS = pc.feature_space
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "keras_records", "feature_space.json")) as f:
  RECORD = json.load(f)
INTS = ("sex", "cp", "fbs", "restecg", "exang", "ca")
FLOAT_KINDS = ("float", "float_rescaled", "float_normalized", "text_tf_idf")
TOL = dict(rtol=1e-5, atol=1e-5)
N_HEAD = len(RECORD["cases"]["all_types_concat"]["train"]["value"])


def _table(columns):
  def column(name, values):
    if name in INTS:
      return np.asarray(values, np.int64)
    if isinstance(values[0], float):
      return np.asarray(values, np.float32)
    return np.asarray(values)
  return {n: column(n, v) for n, v in columns.items()}


TRAIN = _table(RECORD["train"])
TEST = _table(RECORD["test"])


def _spec(value):
  if isinstance(value, str):  # a feature type by name
    return value
  kind, args = value
  if kind == "text_tf_idf":
    return FS.feature("string", pc.text_vectorization(output_mode="tf_idf"),
                      "float")
  return getattr(FS, kind)(**args)


def _kind(value):
  return value if isinstance(value, str) else value[0]


def _space(case):
  features = {n: _spec(v) for n, v in case["features"].items()}
  crosses = [FS.cross(**a) if k == "cross" else tuple(a)
             for k, a in case["crosses"]]
  return pc.feature_space(features, crosses=crosses,
                          output_mode=case["output_mode"], **case["kwargs"])


# Same features and crosses as another case, output_mode apart: adapt does
# not read output_mode, so that case's adapted state is reused (it keeps the
# test's compile time down).
SAME_ADAPT = {"all_types_dict": "all_types_concat"}


@functools.lru_cache(maxsize=None)
def _adapted(name):
  """The case's feature space, its state adapted as Keras', and its output
  on the recorded train rows followed by the test split (one call)."""
  case = RECORD["cases"][name]
  fs = _space(case)
  names = sorted(case["features"])
  if name in SAME_ADAPT:
    twin = RECORD["cases"][SAME_ADAPT[name]]
    assert (twin["features"], twin["crosses"]) == (case["features"],
                                                   case["crosses"])
    state = _adapted(SAME_ADAPT[name])[1]
  else:
    state = pc.adapt(fs, {n: TRAIN[n] for n in names}, batch_size=32)
  rows = {n: np.concatenate([TRAIN[n][:N_HEAD], TEST[n]]) for n in names}
  return fs, state, fs.apply(state, rows)


def _keras_output(case):
  """Keras' recorded train-head and test outputs, stacked like ours."""
  if case["output_mode"] == "concat":
    return np.concatenate([np.asarray(case["train"]["value"]),
                           np.asarray(case["test"]["value"])])
  return {k: (v["dtype"], np.concatenate([np.asarray(v["value"]),
                                          np.asarray(case["test"][k]["value"])]))
          for k, v in case["train"].items()}


def _is_float(case, name):
  """A float part (compared with a tolerance); ids, one-hot, hashing and
  crosses are compared exactly."""
  return name in case["features"] and _kind(case["features"][name]) in (
      FLOAT_KINDS)


CASES = sorted(RECORD["cases"])
CONCAT = [c for c in CASES if RECORD["cases"][c]["output_mode"] == "concat"]
DICT = [c for c in CASES if RECORD["cases"][c]["output_mode"] == "dict"]


@pytest.mark.parametrize("name", CASES)
def test_output_layout_is_keras(name):
  fs, state, _ = _adapted(name)
  layout = FS.output_layout(fs, state)
  got = [[n, s.stop - s.start] for n, s in layout.items()]
  assert got == RECORD["cases"][name]["layout"]
  starts = [s.start for s in layout.values()]
  assert starts == list(np.cumsum([0] + [w for _, w in got])[:-1])


@pytest.mark.parametrize("name", CASES)
def test_adapted_states_are_keras(name):
  case = RECORD["cases"][name]
  _, state, _ = _adapted(name)
  states = {**state.host.preprocessors, **state.device.preprocessors}
  for feature, want in case["adapted"].items():
    s = states[feature]
    if "vocabulary" in want:
      assert pc.get_vocabulary(s) == want["vocabulary"], feature
    if "bin_boundaries" in want:
      np.testing.assert_array_equal(np.asarray(s.bin_boundaries),
                                    np.float32(want["bin_boundaries"]),
                                    err_msg=feature)
    if "mean" in want:
      np.testing.assert_allclose(np.reshape(s.mean, -1), want["mean"],
                                 rtol=1e-6, err_msg=feature)
      np.testing.assert_allclose(np.reshape(s.variance, -1),
                                 want["variance"], rtol=1e-5, err_msg=feature)


@pytest.mark.parametrize("name", CONCAT)
def test_concat_output_is_keras(name):
  case = RECORD["cases"][name]
  fs, state, got = _adapted(name)
  want = _keras_output(case)
  got = np.asarray(got)
  assert got.dtype == np.float32 and got.shape == want.shape
  for part, cols in FS.output_layout(fs, state).items():
    if _is_float(case, part):
      np.testing.assert_allclose(got[:, cols], want[:, cols], **TOL,
                                 err_msg=part)
    else:
      np.testing.assert_array_equal(got[:, cols], want[:, cols], err_msg=part)


@pytest.mark.parametrize("name", DICT)
def test_dict_output_is_keras(name):
  case = RECORD["cases"][name]
  _, _, got = _adapted(name)
  want = _keras_output(case)
  assert sorted(got) == sorted(want)
  for part, (dtype, value) in want.items():
    y = np.asarray(got[part])
    # Keras on JAX gives int32 ids (its int64 is truncated) and float32.
    assert (y.dtype, y.shape) == (np.dtype(dtype), value.shape), part
    if _is_float(case, part):
      np.testing.assert_allclose(y, value, **TOL, err_msg=part)
    else:
      np.testing.assert_array_equal(y, value, err_msg=part)


@pytest.mark.parametrize("name", CONCAT)
def test_one_unbatched_row_is_keras(name):
  case = RECORD["cases"][name]
  fs, state, _ = _adapted(name)
  row = {n: TEST[n][0] for n in case["features"]}
  got = np.asarray(fs.apply(state, row))
  assert list(got.shape) == case["one_row"]["shape"]
  np.testing.assert_allclose(got, case["one_row"]["value"], **TOL)


def test_given_bin_boundaries_match_keras_layers():
  """Keras' FeatureSpace cannot use given boundaries (recorded errors);
  prepro's float_discretized(num_bins, bin_boundaries) gives what Keras'
  Discretization(bin_boundaries) + CategoryEncoding(multi_hot) give."""
  rec = RECORD["given_bin_boundaries"]
  assert "should not be set" in rec["keras_errors"]["num_bins_and_boundaries"]
  assert "Cannot adapt" in rec["keras_errors"]["num_bins_none"]
  bounds = rec["bin_boundaries"]
  for mode, key in (("one_hot", "one_hot"), ("int", "int")):
    fs = pc.feature_space(
        {"thalach": FS.float_discretized(len(bounds) + 1, bounds, mode)},
        output_mode="dict")
    state = fs.init()
    for split, table in (("train", TRAIN), ("test", TEST)):
      got = np.asarray(fs.apply(state, {"thalach": table["thalach"]})
                       ["thalach"])
      np.testing.assert_array_equal(got, rec[split][key])
  with pytest.raises(ValueError, match="num_bins - 1"):
    FS.float_discretized(3, bounds)


def test_keras_limits_recorded():
  """Where Keras 3.15 refuses and prepro goes on (not parity cases): a
  cross of three features, and a TF-IDF text feature in concat mode."""
  errors = RECORD["given_bin_boundaries"]["keras_errors"]
  assert "list/tuple of 2 tensors" in errors["cross_of_three"]
  assert "Cannot concatenate" in errors["text_concat"]
