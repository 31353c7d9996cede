"""pc.feature_space / pf.FeatureSpace (issue 14): the behaviour users rely on.

Keras parity is in test_feature_space_keras.py (recorded numbers); here:
adapt on every kind of data, merge == whole, the host/device split, missing
values, unbatched rows, errors, pickling, the NNX layer under nnx.jit and
its checkpoint.
"""
from __future__ import annotations

import pickle

import flax.nnx as nnx
import jax
import numpy as np
import pytest

import prepro_core as pc
import prepro_flax as pf

FS = pc.feature_space


def _table(n=200, seed=0):
  rng = np.random.default_rng(seed)
  return {
      "age": rng.normal(50, 10, n).astype(np.float32),
      "chol": rng.normal(200, 30, n),
      "sex": rng.integers(0, 2, n),
      "cp": rng.integers(0, 4, n).astype(np.float64),  # whole-valued floats
      "thal": rng.choice(["normal", "fixed", "reversible"], n),
      "slope": rng.choice(["up", "flat", "down"], n).tolist(),
  }


def _space(output_mode="concat", **kw):
  return FS({
      "age": FS.float_discretized(num_bins=4, bin_boundaries=[40., 50., 60.]),
      "chol": "float_normalized",
      "sex": "integer_categorical",
      "cp": FS.integer_categorical(output_mode="one_hot"),
      "thal": FS.string_categorical(missing="oov"),
      "slope": FS.string_hashed(8),
  }, crosses=[FS.cross(("sex", "thal"), 16)], output_mode=output_mode, **kw)


def _rows(cols, sl):
  return {k: v[sl] for k, v in cols.items()}


def test_outputs_follow_keras_layout():
  fs, cols = _space(), _table()
  state = pc.adapt(fs, cols)
  y = np.asarray(fs.apply(state, cols))
  layout = FS.output_layout(fs, state)
  assert list(layout) == ["age", "chol", "cp", "sex", "slope", "thal",
                          "sex_X_thal"]  # features by name, then crosses
  assert y.shape == (200, layout["sex_X_thal"].stop) and y.dtype == np.float32
  # Each one-hot block holds exactly one 1 per row.
  for name in ("age", "cp", "sex", "slope", "thal", "sex_X_thal"):
    np.testing.assert_array_equal(y[:, layout[name]].sum(1), 1.0)
  # float_normalized: zero mean, unit (population) variance.
  chol = y[:, layout["chol"]][:, 0]
  assert abs(chol.mean()) < 1e-5 and abs(chol.std() - 1) < 1e-4
  # The discretized bins are digitize's.
  np.testing.assert_array_equal(
      y[:, layout["age"]].argmax(1),
      np.digitize(cols["age"], [40., 50., 60.]))
  # A lookup's one-hot: OOV first, then by count.
  vocab = pc.get_vocabulary(state.host.preprocessors["thal"])
  np.testing.assert_array_equal(
      y[:, layout["thal"]].argmax(1),
      [vocab.index(t) for t in cols["thal"]])


def test_dict_output_and_int_mode():
  fs = FS({"sex": FS.integer_categorical(output_mode="int"), "age": "float"},
          output_mode="dict")
  cols = _table()
  out = fs.apply(pc.adapt(fs, cols), cols)
  assert set(out) == {"sex", "age"}
  assert out["sex"].shape == (200, 1) and out["sex"].dtype.kind == "i"
  np.testing.assert_array_equal(np.asarray(out["age"])[:, 0], cols["age"])


@pytest.mark.parametrize("kind", ["dict", "rows", "batches", "grain"])
def test_adapt_on_every_kind_of_data(kind):
  fs, cols = _space(), _table()
  want = fs.apply(pc.adapt(fs, cols), cols)
  if kind == "dict":
    data = cols
  elif kind == "rows":
    data = [{k: v[i] for k, v in cols.items()} for i in range(200)]
  elif kind == "batches":
    data = [_rows(cols, slice(i, i + 50)) for i in range(0, 200, 50)]
  else:
    grain = pytest.importorskip("grain")
    rows = [{k: v[i] for k, v in cols.items()} for i in range(200)]
    data = grain.MapDataset.source(rows).batch(64)
  state = pc.adapt(fs, data, batch_size=64 if kind in ("dict", "rows") else None)
  np.testing.assert_allclose(fs.apply(state, cols), want, atol=1e-5)


def test_merge_of_shards_equals_one_adapt():
  fs, cols = _space(), _table()
  whole = pc.adapt(fs, cols)
  merged = fs.merge(pc.adapt(fs, _rows(cols, slice(0, 77))),
                    pc.adapt(fs, _rows(cols, slice(77, None))))
  np.testing.assert_allclose(fs.apply(merged, cols), fs.apply(whole, cols),
                             atol=1e-5)
  assert pc.get_vocabulary(merged.host.preprocessors["thal"]) == \
      pc.get_vocabulary(whole.host.preprocessors["thal"])


def test_split_equals_eager_and_the_device_stage_jits():
  fs, cols = _space(), _table()
  state = pc.adapt(fs, cols)
  split = pc.split_host_device(fs)
  host_state, device_state = split.split_state(state)
  ids = split.host.apply(host_state, cols)
  assert all(isinstance(v, np.ndarray) for v in ids.values())  # host: NumPy
  y = jax.jit(split.device.apply)(device_state, ids)
  np.testing.assert_array_equal(y, fs.apply(state, cols))
  # The feature space itself, given the host stage's output, runs the device
  # stage only, so it traces too.
  np.testing.assert_array_equal(
      jax.jit(lambda s, x: fs.apply(s, x))(state, ids), y)
  predict = pc.predict_fn(fs, state, lambda z: z.sum(-1))
  np.testing.assert_allclose(predict(cols), np.asarray(y).sum(-1), rtol=1e-6)


def test_split_of_a_chain_cuts_after_its_last_host_part():
  t = pc.chain(pc.string_lookup(vocabulary=["a", "b"]),
               pc.category_encoding(3, output_mode="one_hot"))
  state = t.init(["a"])
  split = pc.split_host_device(t)
  hs, ds = split.split_state(state)
  ids = split.host.apply(hs, ["a", "z", "b"])
  np.testing.assert_array_equal(jax.jit(split.device.apply)(ds, ids),
                                t.apply(state, ["a", "z", "b"]))
  numeric = pc.split_host_device(pc.normalization(mean=1.0, variance=4.0))
  assert numeric.host.name == "identity" and numeric.device.name == "normalization"


def test_missing_values_and_unseen_categories():
  fs, cols = _space(), _table()
  state = pc.adapt(fs, cols)
  layout = FS.output_layout(fs, state)
  test = _rows(cols, slice(0, 4))
  test["thal"] = [None, "", float("nan"), "never seen"]
  y = np.asarray(fs.apply(state, test))[:, layout["thal"]]
  np.testing.assert_array_equal(y.argmax(1), 0)  # all take the OOV slot
  # Without a policy a gap is refused, naming the column and the row.
  strict = FS({"thal": "string_categorical"})
  with pytest.raises(TypeError, match=r"`inputs\['thal'\]` holds a missing "
                     r"value \(None or NaN\) at index 1; pass missing='oov'"):
    strict.apply(pc.adapt(strict, cols), {"thal": ["normal", None]})


def test_integer_columns_take_whole_floats_and_nan_under_a_policy():
  fs = FS({"ca": FS.integer_categorical(missing="oov")})
  state = pc.adapt(fs, {"ca": [0.0, 1.0, np.nan, 1.0, 3.0]})
  assert pc.get_vocabulary(state.host.preprocessors["ca"]) == [-1, 1, 3, 0]
  y = np.asarray(fs.apply(state, {"ca": np.array([1.0, np.nan, 7.0])}))
  np.testing.assert_array_equal(y.argmax(1), [1, 0, 0])
  with pytest.raises(ValueError, match=r"must hold whole numbers.*got 2\.5"):
    fs.apply(state, {"ca": [2.5]})
  strict = FS({"ca": "integer_categorical"})
  with pytest.raises(TypeError, match=r"`batch\['ca'\]` holds a missing value"):
    pc.adapt(strict, {"ca": [1.0, np.nan]})


def test_unbatched_row_has_no_batch_axis():
  fs, cols = _space(), _table()
  state = pc.adapt(fs, cols)
  row = {k: v[3] for k, v in cols.items()}
  np.testing.assert_array_equal(fs.apply(state, row),
                                np.asarray(fs.apply(state, _rows(cols, slice(3, 4))))[0])


@pytest.mark.parametrize("build, message", [
    (lambda: FS({}), r"`features` must be a non-empty dict"),
    (lambda: FS({"a": "floaty"}), r"must be a feature type name, one of"),
    (lambda: FS({"a": "float"}, crosses=[("a", "b")]), r"unknown features \['b'\]"),
    (lambda: FS({"a": "float", "b": "float"}, crosses=[("a", "b")]),
     r"crosses 'a', whose values are floats"),
    (lambda: FS({"a": FS.integer_categorical(output_mode="int")}),
     r"cannot concatenate 'a': its output_mode is 'int'"),
    (lambda: FS({"a": FS.feature("float32", pc.normalization(), "one_hot")}),
     r"size of its preprocessor's output space is not known"),
    (lambda: FS({"a": FS.feature("string", None, "float")}),
     r"reads strings, so its preprocessor must be a host-side transform"),
    (lambda: FS({"a": "float"}, output_mode="tuple"), r"`output_mode` must be one of"),
    (lambda: FS.float_discretized(4, bin_boundaries=[1.0]), r"num_bins - 1 = 3"),
    (lambda: FS.feature("float32", pc.random_flip(), "float"), r"must be deterministic"),
])
def test_bad_specs_are_refused_at_construction(build, message):
  with pytest.raises((TypeError, ValueError), match=message):
    build()


def test_bad_columns_name_the_column():
  fs, cols = _space(), _table()
  state = pc.adapt(fs, cols)
  with pytest.raises(ValueError, match=r"`inputs` has no column 'thal'"):
    fs.apply(state, {k: v for k, v in cols.items() if k != "thal"})
  with pytest.raises(ValueError, match=r"the columns must all have one length"):
    fs.apply(state, {**cols, "age": cols["age"][:5]})
  with pytest.raises(ValueError, match=r"`batch\['age'\]` holds nan at row 1"):
    pc.adapt(fs, {**cols, "age": np.array([1.0, np.nan] * 100, np.float32)})
  with pytest.raises(TypeError, match=r"`inputs\['chol'\]` must hold numbers"):
    fs.apply(state, {**cols, "chol": ["high"] * 200})
  with pytest.raises(TypeError, match=r"`inputs` must be a dict of columns"):
    fs.apply(state, np.zeros((3, 2)))


def test_host_stage_under_jit_says_what_to_do():
  fs, cols = _space(), _table()
  state = pc.adapt(fs, cols)
  numeric = {"age": cols["age"], "chol": cols["chol"], "sex": cols["sex"],
             "cp": cols["cp"], "thal": np.zeros(200, np.int32),
             "slope": np.zeros(200, np.int32)}
  with pytest.raises(pc.HostOnlyError, match=r"runs on the host.*see "
                     r"pc\.split_host_device"):
    jax.jit(lambda x: fs.apply(state, x))(numeric)


def test_transform_state_and_layer_pickle():
  fs, cols = _space(), _table()
  state = pc.adapt(fs, cols)
  fs2, state2 = pickle.loads(pickle.dumps((fs, state)))
  assert fs2 == fs
  np.testing.assert_array_equal(fs2.apply(state2, cols), fs.apply(state, cols))
  split = pc.split_host_device(fs)
  assert pickle.loads(pickle.dumps(split.host)) == split.host


class _Model(nnx.Module):

  def __init__(self, rngs):
    self.features = pf.FeatureSpace({
        "age": "float_normalized",
        "thal": pf.FeatureSpace.string_categorical(missing="oov"),
        "sex": "integer_categorical"}, crosses=[("sex", "thal")])
    self.dense = nnx.Linear(40, 1, rngs=rngs)

  def __call__(self, columns):
    return self.dense(self.features(columns))


def test_nnx_layer_eager_jitted_and_checkpointed():
  cols = _table()
  model = _Model(nnx.Rngs(0))
  model.features.adapt(cols)
  eager = model(cols)
  jitted = nnx.jit(lambda m, x: m(x))(model, model.features.host_stage(cols))
  np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(pf.predict_fn(model, model.features)(cols), eager,
                             rtol=1e-6, atol=1e-6)
  # Raw string columns cannot enter a jitted function; the error says why.
  with pytest.raises(TypeError, match=r"FeatureSpace runs on the host"):
    jax.jit(lambda x: model.features(x))(
        {k: np.zeros(4, np.float32) for k in ("age", "thal", "sex")})
  # Checkpoint: a fresh model restores the adapted state, vocabularies included.
  blob = pf.save(model)
  fresh = _Model(nnx.Rngs(1))
  pf.restore(fresh, blob)
  np.testing.assert_allclose(fresh(cols), eager, rtol=1e-6, atol=1e-6)
  assert pickle.loads(pickle.dumps(model.features)).output_layout() == \
      model.features.output_layout()


def test_a_host_state_moved_to_device_is_refused():
  # jax.device_put cuts the lookups' uint64 keys to 32 bits: refused, not
  # looked up with wrong keys.
  fs, cols = _space(), _table()
  state = jax.device_put(pc.adapt(fs, cols))
  with pytest.raises(TypeError, match=r"`state` must hold NumPy arrays.*"
                     r"pc\.split_host_device"):
    fs.apply(state, cols)
  t = pc.string_lookup(vocabulary=["a", "b"])
  with pytest.raises(TypeError, match=r"string_lookup.apply: `state` must "
                     r"hold NumPy arrays"):
    t.apply(jax.device_put(t.init(None)), ["a"])
