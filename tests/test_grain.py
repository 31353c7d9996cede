"""pc.grain: prepro transforms in grain pipelines, in process and in workers.

Worker start-up is the cost here (each mp_prefetch iterator spawns fresh
processes that import jax), so each multi-worker pipeline is built once per
module and its outputs reused across assertions.
"""
import gc
import subprocess
import sys
import threading
import time

import cloudpickle
import jax
import numpy as np
import pytest

import grain  # in the test extra  # pylint: disable=g-import-not-at-top

import prepro_core as pc  # pylint: disable=g-import-not-at-top,wrong-import-position

# Classes defined here travel to the workers by value (the workers need not
# import this test module).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

DOCS = ["the cat sat", "the dog", "a cat and a dog", "the end", "dog dog cat",
        "zebra", "cat", "the the the", "a b c", "end"]
SEED = 3
N_IMAGES = 12


def _images():
  rng = np.random.default_rng(0)
  return rng.uniform(size=(N_IMAGES, 6, 6, 3)).astype(np.float32)


def _key(index):
  return jax.random.fold_in(jax.random.key(SEED), index)


class BackendProbe(grain.transforms.Map):
  """Adds whether this process has started a JAX backend."""

  def map(self, element):
    from jax._src import xla_bridge  # pylint: disable=import-outside-toplevel
    return {"out": element, "backend": xla_bridge.backends_are_initialized()}


def _text():
  tv = pc.text_vectorization(output_mode="tf_idf")
  return tv, pc.adapt(tv, DOCS)


def _augment():
  t = pc.random_rotation(0.2)
  return t, t.init(_images())


def _flip():
  t = pc.random_flip()
  return t, t.init(_images())


def _image_pipeline(num_workers, batched=True):
  t, s = _flip()
  aug, aug_s = _augment()
  ds = grain.MapDataset.source(list(_images()))
  ds = ds.map_with_index(pc.grain.map(t, s, seed=SEED))
  ds = ds.map(lambda x: {"flip": x, "aug": x})
  ds = ds.map_with_index(pc.grain.map(aug, aug_s, seed=SEED + 1,
                                      field="aug"))
  if batched:
    ds = ds.batch(4)
  it = ds.to_iter_dataset()
  if num_workers:
    it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers),
                        worker_init_fn=pc.grain.cpu_worker_init)
  return it


def _read(it_ds, state_after=None):
  """All elements; and the iterator state after `state_after` of them."""
  it = iter(it_ds)
  out, saved = [], None
  for i, x in enumerate(it):
    out.append(x)
    if state_after is not None and i + 1 == state_after:
      saved = it.get_state()
  if hasattr(it, "close"):
    it.close()
  return out, saved


@pytest.fixture(scope="module")
def image_runs():
  """The image pipeline read in process and with 2 workers, each with the
  iterator state saved after the first batch."""
  runs = {}
  runs[0], runs["state0"] = _read(_image_pipeline(0), state_after=1)
  runs[2], runs["state2"] = _read(_image_pipeline(2), state_after=1)
  return runs


@pytest.fixture(scope="module")
def text_runs():
  """Host-only pipeline (tf_idf text) in process and in 1 worker (the 2-worker
  runs are the image pipeline's and the parallel adapt's), with a probe."""
  tv, ts = _text()

  def pipeline(num_workers):
    ds = grain.MapDataset.source(DOCS).batch(2, batch_fn=list)
    ds = ds.map_with_index(pc.grain.map(tv, ts)).map(BackendProbe())
    it = ds.to_iter_dataset()
    if num_workers:
      it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers))
    return it

  return {0: _read(pipeline(0))[0], 1: _read(pipeline(1))[0]}


# --- import -----------------------------------------------------------------

def test_import_prepro_core_does_not_import_grain():
  code = ("import sys, prepro_core as pc\n"
          "assert 'grain' not in sys.modules\n"
          "assert pc.grain.map is not None and 'grain' in sys.modules\n"
          "import prepro_core.grain\n"
          "assert prepro_core.grain is pc.grain\n")
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0, done.stderr


def test_map_kinds():
  tv, ts = _text()
  m = pc.grain.map(tv, ts)
  assert isinstance(m, grain.transforms.Map)
  assert isinstance(m, grain.transforms.MapWithIndex)
  t, s = _flip()
  r = pc.grain.map(t, s, seed=0)
  assert isinstance(r, grain.transforms.MapWithIndex)
  assert not isinstance(r, grain.transforms.Map)
  assert "random_flip" in repr(r)


# --- in process -------------------------------------------------------------

def test_text_in_process_equals_apply_and_is_numpy():
  tv, ts = _text()
  ds = grain.MapDataset.source(DOCS).batch(4, batch_fn=list).map(
      pc.grain.map(tv, ts))
  got = list(ds)
  assert all(isinstance(b, np.ndarray) for b in got)
  np.testing.assert_array_equal(np.concatenate(got),
                                np.asarray(tv.apply(ts, DOCS)))
  # The same on an IterDataset, and with ds.apply.
  it = grain.MapDataset.source(DOCS).to_iter_dataset().apply(
      [pc.grain.map(tv, ts)])
  for doc, row in zip(DOCS, it):
    np.testing.assert_array_equal(row, np.asarray(tv.apply(ts, doc)))


def test_random_examples_use_their_index_key(image_runs):
  t, s = _flip()
  aug, aug_s = _augment()
  x = _images()
  got = image_runs[0]
  flips = np.concatenate([b["flip"] for b in got])
  augs = np.concatenate([b["aug"] for b in got])
  for i in range(N_IMAGES):
    # Applied on device with the same keys: flips bit for bit ...
    want = np.asarray(t.apply(s, x[i], key=_key(i)))
    np.testing.assert_array_equal(flips[i], want)
    # ... rotation (bilinear) to float rounding (jit vs eager).
    y = np.asarray(t.apply(s, x[i], key=_key(i)))
    want = aug.apply(aug_s, y,
                     key=jax.random.fold_in(jax.random.key(SEED + 1), i))
    np.testing.assert_allclose(augs[i], np.asarray(want), atol=1e-5)
  assert isinstance(flips, np.ndarray)


def test_a_batched_record_is_applied_as_a_batch():
  t, s = _flip()
  x = _images()
  ds = grain.MapDataset.source(list(x)).batch(4).map_with_index(
      pc.grain.map(t, s, seed=SEED))
  for b, batch in enumerate(ds):
    want = t.apply(s, x[4 * b:4 * b + 4], key=_key(b))
    np.testing.assert_array_equal(batch, np.asarray(want))


def test_iter_dataset_index_counts_the_elements():
  t, s = _flip()
  x = _images()
  it = grain.MapDataset.source(list(x)).to_iter_dataset().map_with_index(
      pc.grain.map(t, s, seed=SEED))
  for i, y in enumerate(it):
    np.testing.assert_array_equal(y, np.asarray(t.apply(s, x[i], key=_key(i))))


def test_jax_output():
  t, s = _flip()
  ds = grain.MapDataset.source(list(_images())).map_with_index(
      pc.grain.map(t, s, seed=SEED, output="jax"))
  assert isinstance(ds[0], jax.Array)


def test_output_spec():
  t, s = _flip()
  m = pc.grain.map(t, s, seed=SEED)
  spec = m.output_spec(jax.ShapeDtypeStruct((6, 6, 3), np.float32))
  assert spec.shape == (6, 6, 3) and spec.dtype == np.float32
  r = pc.grain.map(pc.rescaling(1 / 255), None, field="image")
  spec = r.output_spec({"image": jax.ShapeDtypeStruct((2, 4, 4, 3), np.uint8),
                        "label": jax.ShapeDtypeStruct((2,), np.int32)})
  assert spec["image"].dtype == np.float32 and spec["label"].shape == (2,)
  tv, ts = _text()
  with pytest.raises(ValueError, match="host"):
    pc.grain.map(tv, ts).output_spec(jax.ShapeDtypeStruct((2,), np.int32))


# --- worker processes -------------------------------------------------------

def _assert_same_runs(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    for k in x:
      np.testing.assert_array_equal(x[k], y[k])


def test_worker_count_does_not_change_random_outputs(image_runs):
  assert len(image_runs[0]) == N_IMAGES // 4
  _assert_same_runs(image_runs[0], image_runs[2])
  assert isinstance(image_runs[2][0]["flip"], np.ndarray)


def test_iterator_resume_gives_the_same_batches(image_runs):
  for workers, key in ((0, "state0"), (2, "state2")):
    it = iter(_image_pipeline(workers))
    it.set_state(image_runs[key])
    rest = list(it)
    if hasattr(it, "close"):
      it.close()
    _assert_same_runs(rest, image_runs[0][1:])


def test_text_workers_give_numpy_and_start_no_backend(text_runs):
  tv, ts = _text()
  for workers in (0, 1):
    got = text_runs[workers]
    assert all(isinstance(b["out"], np.ndarray) for b in got)
    np.testing.assert_array_equal(np.concatenate([b["out"] for b in got]),
                                  np.asarray(tv.apply(ts, DOCS)))
  # In the worker processes, a host transform with NumPy outputs never
  # started a JAX backend (in this process the test itself has started one).
  assert not any(b["backend"] for b in text_runs[1])


# --- parallel adapt ---------------------------------------------------------

def test_parallel_adapt_equals_one_process_adapt():
  rng = np.random.default_rng(0)
  numbers = rng.normal(size=(40, 3)).astype(np.float32) * 3 + 1
  words = [f"w{int(i)}" for i in rng.integers(0, 15, size=60)]
  cases = [
      (pc.normalization(), list(numbers), 8),
      (pc.string_lookup(), words, 7),
      (pc.text_vectorization(output_mode="tf_idf"), DOCS, 3),
  ]
  # One grain pipeline with two workers per transform is the cost here:
  # check the worker path once on the text, the sharded merge for all.
  for t, data, bs in cases:
    want = pc.adapt(t, data if isinstance(data[0], str) else numbers,
                    batch_size=bs)
    workers = 2 if t.name == "text_vectorization" else 0
    got = pc.grain.adapt(t, data, num_workers=workers, batch_size=bs)
    if t.name == "normalization":
      np.testing.assert_allclose(got.mean, want.mean, rtol=1e-6)
      np.testing.assert_allclose(got.variance, want.variance, rtol=1e-5)
      assert float(got.count) == float(want.count)
    else:
      assert pc.get_vocabulary(got) == pc.get_vocabulary(want)
      if t.name == "text_vectorization":
        np.testing.assert_array_equal(got.lookup.idf_weights,
                                      want.lookup.idf_weights)


def test_parallel_adapt_of_batched_records():
  norm = pc.normalization()
  x = np.arange(48, dtype=np.float32).reshape(16, 3)
  got = pc.grain.adapt(norm, grain.MapDataset.source(list(x)).batch(4))
  want = pc.adapt(norm, x)
  np.testing.assert_allclose(got.mean, want.mean, rtol=1e-6)


# --- bad input --------------------------------------------------------------

def test_bad_arguments_raise_at_construction():
  with pytest.raises(TypeError, match=r"pc.grain.map\(\?\): `transform`"):
    pc.grain.map("text_vectorization")
  with pytest.raises(ValueError, match="`seed` is None"):
    pc.grain.map(pc.random_flip())
  tv = pc.text_vectorization()
  with pytest.raises(ValueError, match="`state` is None"):
    pc.grain.map(tv)
  with pytest.raises(ValueError, match="un-adapted"):
    pc.grain.map(tv, tv.init(None))
  with pytest.raises(TypeError, match="IterDataset"):
    pc.grain.adapt(tv, grain.MapDataset.source(DOCS).to_iter_dataset())
  with pytest.raises(TypeError, match="`transform`"):
    pc.grain.adapt(None, DOCS)
  with pytest.raises(ValueError, match="empty"):
    pc.grain.adapt(tv, [])


def test_a_bad_record_raises_with_its_index():
  tv, ts = _text()
  ds = grain.MapDataset.source(["fine", 3.5, "fine"]).map_with_index(
      pc.grain.map(tv, ts))
  with pytest.raises(TypeError, match=r"pc.grain.map\(text_vectorization\): "
                     r"record 1"):
    list(ds)
  images = grain.MapDataset.source(["not an image"]).map_with_index(
      pc.grain.map(pc.rescaling(2.0)))
  with pytest.raises(TypeError, match="record 0"):
    list(images)


def test_random_map_through_ds_map_says_what_to_do():
  t, s = _flip()
  ds = grain.MapDataset.source(list(_images())).map(
      pc.grain.map(t, s, seed=0))
  with pytest.raises(TypeError, match="map_with_index"):
    ds[0]  # pylint: disable=pointless-statement


# --- pc.grain.batch ---------------------------------------------------------

RECORDS = [{"text": d, "tag": d.split()[0], "n": i, "v": np.full(2, i, "f4")}
           for i, d in enumerate(DOCS)]


def _as_grain_batch(b):
  """pc.grain.batch's batch as grain's .batch() gives it (str lists as
  '<U' arrays, the one documented difference)."""
  return {k: np.asarray(v) for k, v in b.items()}


def _assert_batches_equal(ours, theirs):
  assert len(ours) == len(theirs)
  for a, b in zip(ours, theirs):
    a = _as_grain_batch(a)
    assert set(a) == set(b)
    for k in b:
      assert a[k].dtype == b[k].dtype, k
      np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("drop_remainder", [False, True])
@pytest.mark.parametrize("wrap", ["list", "source", "mapped", "getitems"])
def test_batch_equals_grain_batch(wrap, drop_remainder):
  class BatchedSource:  # grain's batched-read protocol
    def __len__(self):
      return len(RECORDS)

    def __getitem__(self, i):
      raise AssertionError("read one by one")

    def _getitems(self, indices):
      return [RECORDS[i] for i in indices]

  source = {"list": RECORDS,
            "source": grain.MapDataset.source(RECORDS),
            "mapped": grain.MapDataset.source(RECORDS).map(dict),
            "getitems": BatchedSource()}[wrap]
  ours = pc.grain.batch(source, 4, drop_remainder=drop_remainder)
  theirs = grain.MapDataset.source(RECORDS).batch(
      4, drop_remainder=drop_remainder)
  assert isinstance(ours, grain.MapDataset)
  assert len(ours) == (2 if drop_remainder else 3)
  _assert_batches_equal(list(ours), list(theirs))
  assert isinstance(ours[0]["text"], list)  # records' strings stay lists
  assert ours[len(ours)]["n"].tolist() == ours[0]["n"].tolist()  # next epoch


def test_batch_of_arrays_and_strings():
  images = _images()
  np.testing.assert_array_equal(pc.grain.batch(images, 5)[2], images[10:])
  np.testing.assert_array_equal(pc.grain.batch(list(images), 5)[0],
                                images[:5])
  assert pc.grain.batch(DOCS, 4)[2].tolist() == DOCS[8:]
  assert pc.grain.batch(DOCS, 4, pack_strings=False)[2] == DOCS[8:]
  out = pc.grain.batch(images, 5)[0]
  out[...] = -1  # a batch of its own: the source is unchanged
  assert images.min() >= 0


def _columns_of(recs, as_arrays):
  cols = {k: [r[k] for r in recs] for k in recs[0]}
  if as_arrays:  # numbers and vectors as arrays, strings as a tuple
    cols = {k: tuple(v) if isinstance(v[0], str) else np.stack(v)
            for k, v in cols.items()}
  return cols


@pytest.mark.parametrize("shuffle_seed", [None, 7])
@pytest.mark.parametrize("as_arrays", [False, True])
def test_batch_of_columns_equals_batch_of_records(as_arrays, shuffle_seed):
  cols = _columns_of(RECORDS, as_arrays)
  ours = pc.grain.batch(cols, 4, shuffle_seed=shuffle_seed)
  theirs = pc.grain.batch(RECORDS, 4, shuffle_seed=shuffle_seed)
  assert len(ours) == len(theirs) == 3
  for i in range(2 * len(ours)):  # two epochs
    a, b = ours[i], theirs[i]
    assert list(a) == list(b)
    assert a["text"].tolist() == b["text"]
    assert isinstance(a["text"], pc.StringBatch)
    for k in ("n", "v"):
      np.testing.assert_array_equal(np.asarray(a[k]), b[k])
  if as_arrays:  # an array batch is a copy: the column is unchanged
    ours[0]["v"][...] = -1
    assert cols["v"].min() >= 0
  tv = pc.text_vectorization(output_sequence_length=5)
  ts = pc.adapt(tv, DOCS)
  mapped = list(ours.map(pc.grain.map(tv, ts, field="text"))
                .to_iter_dataset())
  want = [tv.apply(ts, b["text"]) for b in theirs]
  for g, w in zip(mapped, want):
    np.testing.assert_array_equal(g["text"], w)


@pytest.mark.parametrize("shuffle_seed", [None, 3])
def test_batch_packs_each_str_column_once(shuffle_seed):
  """A column of str becomes one packed buffer when the dataset is built:
  in order, a batch is a view of it; shuffled, the same strings gathered.
  Either way the same strings as with pack_strings=False (lists)."""
  cols = {"text": DOCS, "tag": tuple(d.split()[0] for d in DOCS),
          "n": np.arange(len(DOCS))}
  ours = pc.grain.batch(cols, 4, shuffle_seed=shuffle_seed)
  lists = pc.grain.batch(cols, 4, shuffle_seed=shuffle_seed,
                         pack_strings=False)
  for i in range(2 * len(ours)):  # two epochs
    a, b = ours[i], lists[i]
    for k in ("text", "tag"):
      assert isinstance(a[k], pc.StringBatch) and isinstance(b[k], list)
      assert a[k].tolist() == b[k]
    np.testing.assert_array_equal(a["n"], b["n"])
  if shuffle_seed is None:  # views of one buffer
    first, second = ours[0]["text"].data, ours[1]["text"].data
    assert first.base is not None and first.base is second.base
  # A plain list of str records is packed the same way.
  assert pc.grain.batch(DOCS, 3)[1] == pc.pack_strings(DOCS[3:6])


def test_batch_leaves_what_it_cannot_pack_as_a_list():
  cols = {"raw": [b"x", b"y"], "gaps": ["a", None], "bad": ["\ud800", "b"],
          "mixed": ["a", b"b"], "text": ["a", "b"]}
  got = pc.grain.batch(cols, 2)[0]
  for k in ("raw", "gaps", "bad", "mixed"):
    assert got[k] == cols[k], k
  assert isinstance(got["text"], pc.StringBatch)
  # Records read one by one keep their fields' strings as lists.
  recs = [{"text": "a b", "tag": b"t"}, {"text": "c", "tag": b"u"}]
  got = pc.grain.batch(grain.MapDataset.source(recs).map(dict), 2)[0]
  assert got["text"] == ["a b", "c"] and got["tag"] == [b"t", b"u"]
  with pytest.raises(TypeError, match="`pack_strings` must be a bool"):
    pc.grain.batch(DOCS, 2, pack_strings="yes")


def test_batch_of_bad_columns_names_source():
  with pytest.raises(ValueError, match=r"pc.grain.batch: `source` is an "
                     r"empty mapping"):
    pc.grain.batch({}, 2)
  with pytest.raises(TypeError, match=r"pc.grain.batch: `source` is a "
                     r"mapping of columns.*column 'n' is int"):
    pc.grain.batch({"text": DOCS, "n": 3}, 2)
  with pytest.raises(TypeError, match=r"column 'n' is ndarray"):
    pc.grain.batch({"text": DOCS, "n": np.zeros(())}, 2)
  with pytest.raises(ValueError, match=r"pc.grain.batch: `source`'s columns "
                     r"must have the same length.*'text': 10, 'n': 3"):
    pc.grain.batch({"text": DOCS, "n": [1, 2, 3]}, 2)


def test_batch_then_prepro_maps_equal_grain_batch_then_maps():
  tv = pc.text_vectorization(output_sequence_length=5)
  ts = pc.adapt(tv, DOCS)
  sl = pc.string_lookup()
  ss = pc.adapt(sl, [r["tag"] for r in RECORDS])

  def pipeline(ds):
    return list(ds.map(pc.grain.map(tv, ts, field="text"))
                .map(pc.grain.map(sl, ss, field="tag"))
                .to_iter_dataset())

  ours = pipeline(pc.grain.batch(RECORDS, 4))
  theirs = pipeline(grain.MapDataset.source(RECORDS).batch(4))
  _assert_batches_equal(ours, theirs)


def test_batch_pickles_and_runs_in_two_workers():
  ds = pc.grain.batch(grain.MapDataset.source(RECORDS), 3)
  again = cloudpickle.loads(cloudpickle.dumps(ds))
  _assert_batches_equal(list(again), [_as_grain_batch(b) for b in ds])
  tv, ts = _text()
  it = (ds.map(pc.grain.map(tv, ts, field="text")).to_iter_dataset()
        .mp_prefetch(grain.MultiprocessingOptions(num_workers=2)))
  got, _ = _read(it)
  want = [tv.apply(ts, DOCS[i:i + 3]) for i in range(0, len(DOCS), 3)]
  assert len(got) == len(want)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g["text"], w, rtol=1e-6)
    assert isinstance(g["text"], np.ndarray)


def test_batch_bad_arguments_name_the_argument():
  with pytest.raises(TypeError, match=r"pc.grain.batch: `source`.*IterDataset"):
    pc.grain.batch(grain.MapDataset.source(DOCS).to_iter_dataset(), 2)
  for bad in ("some text", 3, iter(DOCS)):
    with pytest.raises(TypeError, match=r"pc.grain.batch: `source` must be"):
      pc.grain.batch(bad, 2)
  for bad, kind in ((0, ValueError), (-1, ValueError), (2.0, TypeError),
                    (True, TypeError), ("2", TypeError)):
    with pytest.raises(kind, match=r"pc.grain.batch: `batch_size` must be an "
                       r"int >= 1"):
      pc.grain.batch(DOCS, bad)
  with pytest.raises(TypeError, match=r"`drop_remainder` must be a bool"):
    pc.grain.batch(DOCS, 2, drop_remainder="yes")
  missing = grain.MapDataset.source([None, "a"])
  with pytest.raises(ValueError, match=r"pc.grain.batch.*batch 0.*None"):
    pc.grain.batch(missing, 2)[0]  # pylint: disable=expression-not-assigned


@pytest.mark.parametrize("wrap", ["list", "source", "array", "mapped"])
def test_batch_shuffle_seed_permutes_each_epoch(wrap):
  n = np.arange(len(RECORDS))
  source = {"list": RECORDS, "source": grain.MapDataset.source(RECORDS),
            "array": n,
            "mapped": grain.MapDataset.source(RECORDS).map(dict)}[wrap]

  def numbers(ds, epoch):
    out = [ds[epoch * len(ds) + i] for i in range(len(ds))]
    return np.concatenate([b if wrap == "array" else b["n"] for b in out])

  ds = pc.grain.batch(source, 4, shuffle_seed=5)
  first, second = numbers(ds, 0), numbers(ds, 1)
  assert sorted(first.tolist()) == n.tolist() == sorted(second.tolist())
  assert first.tolist() != n.tolist() and first.tolist() != second.tolist()
  # Only (shuffle_seed, index) decide a batch: a fresh or unpickled copy.
  again = cloudpickle.loads(cloudpickle.dumps(ds))
  assert numbers(again, 1).tolist() == second.tolist()
  assert numbers(pc.grain.batch(source, 4, shuffle_seed=5), 0).tolist() == (
      first.tolist())
  assert numbers(pc.grain.batch(source, 4, shuffle_seed=6), 0).tolist() != (
      first.tolist())
  if wrap != "array":  # a batch's fields stay together
    b = ds[1]
    assert list(b["text"]) == [DOCS[i] for i in b["n"]]


def test_batch_bad_shuffle_seed_names_it():
  for bad, kind in ((-1, ValueError), (1.5, TypeError), ("0", TypeError)):
    with pytest.raises(kind, match=r"pc.grain.batch: `shuffle_seed` must be "
                       r"an int >= 0"):
      pc.grain.batch(DOCS, 2, shuffle_seed=bad)


# --- pc.grain.mp_prefetch ---------------------------------------------------

def _columns_pipeline():
  """Text ids and flipped images from columns, 4 records a batch."""
  tv = pc.text_vectorization(output_sequence_length=4)
  tv_state = pc.adapt(tv, DOCS)
  flip, flip_state = _flip()
  images = _images()[:len(DOCS)]
  return (pc.grain.batch({"text": DOCS, "image": images}, 4)
          .map(pc.grain.map(tv, tv_state, field="text"))
          .map_with_index(pc.grain.map(flip, flip_state, seed=SEED,
                                       field="image")))


def test_mp_prefetch_equals_in_process_and_pickles_small_arrays():
  ds = _columns_pipeline()
  want, _ = _read(ds.to_iter_dataset())
  got, _ = _read(pc.grain.mp_prefetch(ds, num_workers=2))
  assert len(got) == len(want) == 3
  for g, w in zip(got, want):
    for name in ("text", "image"):
      np.testing.assert_array_equal(g[name], w[name])
      # Under min_shm_size the arrays came pickled: plain NumPy arrays, not
      # grain's SharedMemoryArray views of a block.
      assert type(g[name]) is np.ndarray, name
  # With min_shm_size=0 (grain's default) every array takes a block.
  shared, _ = _read(pc.grain.mp_prefetch(ds.to_iter_dataset(), num_workers=1,
                                         min_shm_size=0))
  assert all(type(b["text"]) is not np.ndarray and
             isinstance(b["text"], np.ndarray) for b in shared)
  for s, w in zip(shared, want):
    np.testing.assert_array_equal(s["text"], w["text"])


def test_mp_prefetch_bad_arguments_name_the_argument():
  ds = _columns_pipeline()
  with pytest.raises(TypeError, match=r"pc.grain.mp_prefetch: `dataset` must "
                     r"be a grain.MapDataset or IterDataset, got list"):
    pc.grain.mp_prefetch(DOCS, 2)
  for bad, kind in ((-1, ValueError), (2.0, TypeError), (True, TypeError)):
    with pytest.raises(kind, match=r"`num_workers` must be an int >= 0"):
      pc.grain.mp_prefetch(ds, bad)
  with pytest.raises(ValueError, match=r"`per_worker_buffer_size` must be an "
                     r"int >= 1"):
    pc.grain.mp_prefetch(ds, 2, per_worker_buffer_size=0)
  with pytest.raises(TypeError, match=r"`min_shm_size` must be an int >= 0"):
    pc.grain.mp_prefetch(ds, 2, min_shm_size="1MB")
  with pytest.raises(TypeError, match=r"`worker_init_fn` must be callable or "
                     r"None, got int"):
    pc.grain.mp_prefetch(ds, 2, worker_init_fn=3)


def _assert_same_batches(got, want):
  assert len(got) == len(want)
  for g, w in zip(got, want):
    assert set(g) == set(w)
    for name in w:
      np.testing.assert_array_equal(g[name], w[name])


@pytest.mark.parametrize("num_threads", [1, 2, 3])
def test_threaded_read_equals_one_thread(num_threads):
  """Text ids and keyed random flips: the same batches, in order, whatever
  the thread count; a filter's dropped records are skipped."""
  ds = _columns_pipeline().repeat(3)
  want, _ = _read(ds.to_iter_dataset(grain.ReadOptions(num_threads=0)))
  before = threading.active_count()
  got, _ = _read(pc.grain.threaded_read(ds, num_threads))
  _assert_same_batches(got, want)
  assert threading.active_count() == before  # close() ended the helpers
  kept = ds.filter(lambda b: int(b["text"][0, 0]) % 2 == 0)
  _assert_same_batches(
      _read(pc.grain.threaded_read(kept, num_threads))[0],
      _read(kept.to_iter_dataset(grain.ReadOptions(num_threads=0)))[0])


def test_threaded_read_helpers_end_with_an_iterator_dropped_unclosed():
  before = threading.active_count()
  it = iter(pc.grain.threaded_read(_columns_pipeline().repeat(50), 3))
  next(it)
  assert threading.active_count() == before + 2
  del it
  gc.collect()
  for _ in range(50):  # a helper notices within its 0.1 s put timeout
    if threading.active_count() == before:
      break
    time.sleep(0.05)
  assert threading.active_count() == before


def test_threaded_read_resumes_from_a_checkpoint():
  ds = _columns_pipeline().repeat(4)  # 12 batches
  want, state = _read(pc.grain.threaded_read(ds, 2), state_after=5)
  assert state == {"next_index": 5}
  it = iter(pc.grain.threaded_read(ds, 3))
  it.set_state(state)
  _assert_same_batches(list(it), want[5:])
  it = iter(pc.grain.threaded_read(ds, 2))  # restored while running
  for _ in range(8):
    next(it)
  it.set_state({"next_index": 2})
  _assert_same_batches([next(it), next(it)], want[2:4])
  it.close()
  with pytest.raises(ValueError, match="closed iterator"):
    next(it)


@pytest.mark.parametrize("bad_batch", [2, 3])  # a helper's and this thread's
def test_threaded_read_raises_a_record_error_in_order(bad_batch):
  tv = pc.text_vectorization(output_sequence_length=2)
  state = pc.adapt(tv, DOCS)
  docs = list(DOCS[:12])
  docs[bad_batch * 2] = 7  # not text
  ds = pc.grain.batch({"text": docs}, 2).map_with_index(
      pc.grain.map(tv, state, field="text"))
  it = iter(pc.grain.threaded_read(ds, 2))
  for _ in range(bad_batch):
    next(it)
  with pytest.raises(TypeError, match=rf"record {bad_batch}: .*`inputs`"):
    next(it)


def test_threaded_read_bad_arguments_name_the_argument():
  ds = _columns_pipeline()
  with pytest.raises(TypeError, match=r"pc.grain.threaded_read: `dataset` "
                     r"must be a grain.MapDataset .*got list"):
    pc.grain.threaded_read(DOCS, 2)
  with pytest.raises(TypeError, match=r"`dataset` must be a grain.MapDataset"):
    pc.grain.threaded_read(ds.to_iter_dataset(), 2)
  for bad, kind in ((0, ValueError), (2.0, TypeError), (True, TypeError)):
    with pytest.raises(kind, match=r"`num_threads` must be an int >= 1"):
      pc.grain.threaded_read(ds, bad)
  with pytest.raises(ValueError, match=r"`per_thread_buffer_size` must be an "
                     r"int >= 1"):
    pc.grain.threaded_read(ds, 2, per_thread_buffer_size=0)
  assert len(list(pc.grain.threaded_read(ds))) == 3  # a thread a core
