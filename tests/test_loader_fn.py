"""pc.loader_fn: a picklable (index, record) -> output callable for any loader.

Worker processes are tested with multiprocessing's spawn Pool (torch is not
installed here; a torch DataLoader runs the same callable the same way).
"""
import multiprocessing
import pickle
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.numeric import encoding

DOCS = ["the cat sat", "the dog", "a cat and a dog", "the end", "dog dog cat",
        "zebra"]
SEED = 7


def _images(n=6, size=6):
  rng = np.random.default_rng(0)
  return rng.uniform(size=(n, size, size, 3)).astype(np.float32)


def _keyed(t, state, x, seed, index):
  return np.asarray(t.apply(state, x, key=jax.random.fold_in(
      jax.random.key(seed), index)))


# --- the NumPy twin of encode_ids -------------------------------------------

@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count",
                                  "tf_idf"])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (4, 1)])
def test_encode_ids_numpy_matches_the_device_kernel(mode, shape):
  rng = np.random.default_rng(1)
  ids = rng.integers(-2, 8, size=shape)  # some out of range: all zeros
  idf = rng.uniform(0.5, 2.0, size=6).astype(np.float32)
  kw = {"idf_weights": idf} if mode == "tf_idf" else {}
  want = np.asarray(encoding.encode_ids(jnp.asarray(ids), 6, mode, **kw))
  got = encoding.encode_ids_numpy(ids, 6, mode, **kw)
  assert isinstance(got, np.ndarray)
  assert got.dtype == want.dtype and got.shape == want.shape
  np.testing.assert_array_equal(got, want)


def test_host_outputs_switch_is_scoped_and_checked():
  t = pc.string_lookup(vocabulary=["a", "b"], output_mode="multi_hot")
  s = t.init(None)
  assert isinstance(t.apply(s, [["a", "z"]]), jax.Array)
  with encoding.host_outputs("numpy"):
    out = t.apply(s, [["a", "z"]])
  assert isinstance(out, np.ndarray)
  assert isinstance(t.apply(s, [["a", "z"]]), jax.Array)  # reset after
  with pytest.raises(ValueError, match="kind"):
    with encoding.host_outputs("torch"):
      pass


@pytest.mark.parametrize("mode", ["multi_hot", "count", "tf_idf"])
def test_text_vectorization_numpy_outputs_equal_device_outputs(mode):
  t = pc.text_vectorization(output_mode=mode)
  s = pc.adapt(t, DOCS)
  fn = pc.loader_fn(t, s)
  got = fn(0, DOCS)
  assert isinstance(got, np.ndarray)
  np.testing.assert_array_equal(got, np.asarray(t.apply(s, DOCS)))
  as_jax = pc.loader_fn(t, s, output="jax")(0, DOCS)
  assert isinstance(as_jax, jax.Array)


def test_host_transforms_start_no_jax_backend():
  # In a fresh process: building, adapting and applying host transforms
  # with NumPy outputs never initialises a JAX backend.
  code = """
import numpy as np
import prepro_core as pc
from jax._src import xla_bridge
docs = ["the cat sat", "the dog", "a cat"]
tv = pc.text_vectorization(output_mode="tf_idf")
s = pc.adapt(tv, docs)
sl = pc.string_lookup(vocabulary=["a", "b"], output_mode="one_hot")
ints = pc.text_vectorization(vocabulary=["cat"], output_sequence_length=4)
out = [pc.loader_fn(tv, s)(0, docs),
       pc.loader_fn(sl, sl.init(None))(1, ["a", "q"]),
       pc.loader_fn(ints, ints.init(None))(2, docs)]
assert all(isinstance(o, np.ndarray) for o in out), [type(o) for o in out]
assert not xla_bridge.backends_are_initialized(), "a backend was started"
print("ok")
"""
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip() == "ok"


def test_unpickled_fn_loads_numba_kernels_at_first_batch():
  """A worker gets its fn by unpickling, and may see only its share of the
  batches: its host kernels are numba's from the first batch (under "auto"
  a fresh process runs NumPy's until 2**15 rows were seen), with the same
  ids."""
  code = """
import pickle
import prepro_core as pc
from prepro_core._src.host.kernels import backend
docs = ["the cat sat", "the dog", "a cat and a dog"]
t = pc.text_vectorization(output_sequence_length=4)
fn = pc.loader_fn(t, pc.adapt(t, docs))
want = fn(0, docs)
assert backend.numba_kernels("text") is None, "numba loaded before"
got = pickle.loads(pickle.dumps(fn))(0, docs)
assert backend.numba_kernels("text") is not None, "numba not loaded"
assert (got == want).all()
print("ok")
"""
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip() == "ok"


# --- keys and records -------------------------------------------------------

def test_random_record_uses_fold_in_of_its_index():
  t = pc.chain(pc.random_flip(), pc.random_brightness(0.3))
  x = _images()
  s = t.init(x)
  fn = pc.loader_fn(t, s, seed=SEED)
  for i in (0, 3, 12345):
    got = fn(i, x[i % 6])
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, _keyed(t, s, x[i % 6], SEED, i),
                               rtol=1e-6, atol=1e-6)
  # Flips are pixel permutations: bit for bit.
  flip = pc.random_flip()
  fs = flip.init(x)
  ffn = pc.loader_fn(flip, fs, seed=SEED)
  for i in range(6):
    np.testing.assert_array_equal(ffn(i, x[i]), _keyed(flip, fs, x[i], SEED, i))


def test_a_batched_record_is_applied_as_a_batch_with_its_index_key():
  flip = pc.random_flip()
  x = _images()
  s = flip.init(x)
  fn = pc.loader_fn(flip, s, seed=SEED)
  np.testing.assert_array_equal(fn(2, x), _keyed(flip, s, x, SEED, 2))


def test_collate_random_is_per_index_and_plain_is_one_batch():
  flip = pc.random_flip()
  x = _images()
  s = flip.init(x)
  fn = pc.loader_fn(flip, s, seed=SEED)
  got = fn.collate([(i, x[i]) for i in (4, 1, 5)])
  want = np.stack([fn(i, x[i]) for i in (4, 1, 5)])
  np.testing.assert_array_equal(got, want)
  tv = pc.text_vectorization(output_sequence_length=5)
  ts = pc.adapt(tv, DOCS)
  tfn = pc.loader_fn(tv, ts)
  np.testing.assert_array_equal(tfn.collate(list(enumerate(DOCS))),
                                np.asarray(tv.apply(ts, DOCS)))
  with pytest.raises(TypeError, match="index, record"):
    tfn.collate(DOCS)


def test_field_transforms_one_key_of_mapping_records():
  tv = pc.text_vectorization(output_sequence_length=4)
  ts = pc.adapt(tv, DOCS)
  fn = pc.loader_fn(tv, ts, field="text")
  out = fn(0, {"text": ["the cat"], "label": 3})
  assert out["label"] == 3
  np.testing.assert_array_equal(out["text"], tv.apply(ts, ["the cat"]))
  with pytest.raises(TypeError, match=r"record 5.*`field`='text'"):
    fn(5, {"words": ["x"]})


# --- bad input --------------------------------------------------------------

def test_bad_arguments_raise_at_construction_naming_them():
  with pytest.raises(TypeError, match="`transform` must be a prepro Transform"):
    pc.loader_fn(lambda x: x, None)
  with pytest.raises(ValueError, match="`seed` is None.*random_flip"):
    pc.loader_fn(pc.random_flip(), None)
  with pytest.raises(TypeError, match="`seed` must be an int"):
    pc.loader_fn(pc.random_flip(), None, seed=1.5)
  with pytest.raises(ValueError, match="`output` must be one of"):
    pc.loader_fn(pc.rescaling(2.0), None, output="torch")
  tv = pc.text_vectorization()
  with pytest.raises(ValueError, match="`state` is None.*learns its state"):
    pc.loader_fn(tv, None)
  with pytest.raises(ValueError, match="`state` looks un-adapted"):
    pc.loader_fn(tv, tv.init(None))
  lookup = pc.string_lookup()
  with pytest.raises(ValueError, match="un-adapted.*vocabulary is empty"):
    pc.loader_fn(lookup, lookup.init(None))
  norm = pc.normalization()
  with pytest.raises(ValueError, match="un-adapted.*count is 0"):
    pc.loader_fn(norm, norm.init(np.zeros((4, 3), np.float32)))
  # A given vocabulary is ready from init.
  given = pc.text_vectorization(vocabulary=["a"])
  pc.loader_fn(given, given.init(None))


def test_a_record_of_the_wrong_type_raises_with_its_index():
  fn = pc.loader_fn(pc.text_vectorization(vocabulary=["a"]),
                    pc.text_vectorization(vocabulary=["a"]).init(None))
  with pytest.raises(TypeError, match=r"pc.loader_fn\(text_vectorization\): "
                     r"record 3: .*"):
    fn(3, np.arange(4.0))
  rfn = pc.loader_fn(pc.rescaling(2.0), None)
  with pytest.raises(TypeError, match="record 8"):
    rfn(8, np.array(["a", "b"]))
  with pytest.raises(ValueError, match="index must be an int"):
    rfn(-1, np.zeros(3, np.float32))


# --- worker processes -------------------------------------------------------


def _apply_in_worker(fn, index, record):
  from jax._src import xla_bridge  # pylint: disable=import-outside-toplevel
  out = fn(index, record)
  return out, xla_bridge.backends_are_initialized()


def test_spawn_pool_workers_give_the_same_outputs():
  tv = pc.text_vectorization(output_mode="tf_idf")
  ts = pc.adapt(tv, DOCS)
  text_fn = pc.loader_fn(tv, ts)
  flip = pc.random_flip()
  x = _images()
  fs = flip.init(x)
  flip_fn = pc.loader_fn(flip, fs, seed=SEED)
  assert pickle.loads(pickle.dumps(text_fn))(0, DOCS[:2]).shape[0] == 2
  jobs = [(text_fn, i, [d]) for i, d in enumerate(DOCS)]
  jobs += [(flip_fn, i, x[i]) for i in range(6)]
  with multiprocessing.get_context("spawn").Pool(2) as pool:
    results = pool.starmap(_apply_in_worker, jobs)
  for (fn, i, rec), (out, _) in zip(jobs, results):
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, fn(i, rec))
  for i in range(6):
    np.testing.assert_array_equal(results[len(DOCS) + i][0],
                                  _keyed(flip, fs, x[i], SEED, i))
  # The text jobs ran first in each fresh worker: no backend for them.
  assert not results[0][1]


@pytest.mark.parametrize("make", [
    lambda: pc.string_lookup(),
    lambda: pc.text_vectorization(output_sequence_length=4)])
def test_a_state_that_passed_still_refuses_tracers_and_device_leaves(make):
  """A traced or device-put copy of a state that already passed the host
  apply's checks is still refused."""
  t = make()
  state = pc.adapt(t, DOCS)
  fn = pc.loader_fn(t, state)
  for i in range(3):
    np.testing.assert_array_equal(fn(i, DOCS[:2]), t.apply(state, DOCS[:2]))
  with pytest.raises(TypeError, match=r"`state` must be a concrete value"):
    jax.jit(lambda s: t.apply(s, DOCS[:2]))(state)
  moved = jax.tree_util.tree_map(
      lambda x: jax.device_put(x) if isinstance(x, np.ndarray) else x, state)
  with pytest.raises(TypeError, match=r"`state` must hold NumPy arrays"):
    t.apply(moved, DOCS[:2])
  with pytest.raises(TypeError, match=r"record 5"):
    fn(5, [1.5, 2.5])


def test_record_index_checks():
  t = pc.string_lookup(vocabulary=["a"])
  fn = pc.loader_fn(t, t.init(None))
  assert fn(np.int64(3), ["a"]).tolist() == [1]
  for bad in (-1, 2**32, 1.0, True, "3"):
    with pytest.raises(ValueError, match=r"record index must be an int"):
      fn(bad, ["a"])
