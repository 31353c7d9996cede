"""Adapting across 2 JAX processes on localhost (multi-worker training).

One pair of worker processes (this file run as a script: CPU, gloo
collectives, 2 local devices each) runs every case once and pickles what
each process got; the tests compare that with a single-process ``pc.adapt``
over all the data. Cases:

* a global array built with ``jax.make_array_from_process_local_data``,
  adapted under ``shard_map`` with ``axis_name`` (collectives span both
  processes);
* ``pc.distributed.adapt`` with different data on each process, for
  normalization, discretization and the host-side lookups;
* bad input: every process raises the same error, none hangs.
"""
import os
import pickle
import socket
import subprocess
import sys

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np
import pytest

# Imported before jax.distributed.initialize, as users do: importing
# prepro_core must not start a jax backend.
import prepro_core as pc

N_PROC = 2
WORKER_TIMEOUT_S = 240  # generous: the CPUs are shared


# ---------------------------------------------------------------------------
# Data: each process's part, from seeds, so the tests can rebuild it.
# ---------------------------------------------------------------------------


def _rows(pid, n, d, seed=0):
  rng = np.random.default_rng(100 * seed + pid)
  return np.round(rng.normal(3.0 + pid, 2.0, (n, d)), 3).astype(np.float32)


def _values(pid, n, seed):
  return _rows(pid, n, 1, seed)[:, 0]


WORDS = ["apple", "pear", "fig", "kiwi", "plum", "lime", "date", "yuzu"]


def _tokens(pid):
  rng = np.random.default_rng(7 + pid)
  # Skewed, and different per process: the global order is not either one's.
  p = np.roll(np.arange(len(WORDS), 0, -1.0), 3 * pid)
  return list(rng.choice(WORDS, size=30 + 17 * pid, p=p / p.sum()))


def _ints(pid):
  rng = np.random.default_rng(11 + pid)
  return rng.integers(0, 12 + 5 * pid, size=(20 + 9 * pid, 2))


def _documents(pid):
  rng = np.random.default_rng(13 + pid)
  return [" ".join(rng.choice(WORDS[:5 + pid], size=rng.integers(1, 6)))
          + (", The End." if i % 4 == pid else "")
          for i in range(12 + 5 * pid)]


def _transforms():
  return {
      # Batch sizes that divide the data: one compiled program per case.
      "normalization": (pc.normalization(), lambda i: _rows(i, 40 - 16 * i, 3),
                        8),
      # 24 + 36 values < 1 / epsilon: the summary is every value.
      "discretization_small": (pc.discretization(num_bins=4, epsilon=0.01),
                               lambda i: _values(i, 24 + 12 * i, 1), 12),
      "discretization": (pc.discretization(num_bins=4, epsilon=0.01),
                         lambda i: _values(i, 3000 - 1000 * i, 2), 500),
      "string_lookup": (pc.string_lookup(max_tokens=7, num_oov_indices=2),
                        _tokens, 10),
      "integer_lookup": (pc.integer_lookup(output_mode="count"), _ints, 8),
      "text_vectorization": (pc.text_vectorization(output_mode="tf_idf",
                                                   ngrams=2), _documents, 5),
  }


# ---------------------------------------------------------------------------
# The worker: `python test_distributed.py PROCESS_ID PORT OUT_DIR`.
# ---------------------------------------------------------------------------


def _worker(pid, port, out_dir):
  # The parent's env set 2 CPU devices (XLA_FLAGS) for this process.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=f"localhost:{port}",
                             num_processes=N_PROC, process_id=pid,
                             initialization_timeout=60)
  assert jax.process_count() == N_PROC and jax.local_device_count() == 2
  results = {"sharded": _sharded_cases(pid)}
  for name, (t, data, batch_size) in _transforms().items():
    results[name] = pc.distributed.adapt(t, data(pid), batch_size=batch_size)
  results["errors"] = _bad_input_cases(pid)
  with open(os.path.join(out_dir, f"{pid}.pkl"), "wb") as f:
    pickle.dump(jax.device_get(results), f)


def _sharded_cases(pid):
  """adapt with axis_name under shard_map over both processes' devices."""
  mesh = Mesh(np.array(jax.devices()), ("data",))
  sharding = NamedSharding(mesh, P("data"))
  out = {}
  for name, t, local in (
      ("normalization", pc.normalization(), _rows(pid, 16, 3, seed=3)),
      ("discretization", pc.discretization(num_bins=4, epsilon=0.05),
       _rows(pid, 16, 8, seed=4))):
    xs = jax.make_array_from_process_local_data(sharding, local)

    def step(state, x, t=t):
      s = t.adapt(state, x, axis_name="data")
      return jax.tree_util.tree_map(lambda leaf: leaf[None], s)

    f = jax.jit(jax.shard_map(step, mesh=mesh, in_specs=(P(), P("data")),
                              out_specs=P("data")))
    states = f(t.init(local), xs)
    # This process's devices' copies of the state, stacked.
    out[name] = jax.tree_util.tree_map(
        lambda leaf: np.stack([np.asarray(s.data)[0]
                               for s in leaf.addressable_shards]), states)
  return out


def _bad_input_cases(pid):
  """Each case's (exception type, message), or its state where one is due."""
  x = _rows(pid, 8, 3)  # the normalization case's batch shape: compiled once
  norm = pc.normalization()
  cases = {
      "dtypes": (norm, x if pid == 0 else x.astype(np.float64), None),
      "features": (norm, x if pid == 0 else x[:, :2], None),
      "one_empty": (norm, x if pid == 0 else x[:0], None),
      "one_empty_list": (pc.string_lookup(), _tokens(pid) if pid else [],
                         None),
      "all_empty": (norm, x[:0], None),
      "one_fails": (norm, x if pid == 0 else np.full((8, 3), np.nan,
                                                     np.float32), None),
      "one_bad_batch_size": (norm, x, 0 if pid == 1 else 2),
      "not_adaptable": (pc.rescaling(2.0), x, None),
      # The processes are still in step after the errors.
      "after_errors": (norm, x, None),
  }
  out = {}
  for name, (t, data, batch_size) in cases.items():
    try:
      out[name] = pc.distributed.adapt(t, data, batch_size)
    except Exception as e:  # pylint: disable=broad-except
      out[name] = (type(e).__name__, str(e))
  return out


# ---------------------------------------------------------------------------
# The tests.
# ---------------------------------------------------------------------------


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
  """What each worker process got, in process order."""
  out_dir = tmp_path_factory.mktemp("distributed")
  env = dict(os.environ,
             XLA_FLAGS="--xla_force_host_platform_device_count=2",
             JAX_PLATFORMS="cpu")
  port = str(_free_port())
  procs = [subprocess.Popen(
      [sys.executable, __file__, str(i), port, str(out_dir)], env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for i in range(N_PROC)]
  logs = []
  for p in procs:
    try:
      logs.append(p.communicate(timeout=WORKER_TIMEOUT_S)[1])
    except subprocess.TimeoutExpired:
      for q in procs:
        q.kill()
      logs.append(p.communicate()[1] + "\n[timed out]")
  failed = [(i, p.returncode, log) for i, (p, log) in enumerate(
      zip(procs, logs)) if p.returncode != 0]
  assert not failed, "\n".join(f"--- worker {i} (rc {rc}) stderr:\n{log}"
                               for i, rc, log in failed)
  parts = []
  for i in range(N_PROC):
    with open(out_dir / f"{i}.pkl", "rb") as f:
      parts.append(pickle.load(f))
  return parts


def _leaves(state):
  return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(state)]


def _assert_same_on_every_process(states):
  for other in states[1:]:
    for a, b in zip(_leaves(states[0]), _leaves(other)):
      np.testing.assert_array_equal(a, b)


def _concatenated(data):
  parts = [data(i) for i in range(N_PROC)]
  if isinstance(parts[0], list):
    return [row for part in parts for row in part]
  return np.concatenate(parts)


@pytest.mark.parametrize("name", ["normalization", "discretization"])
def test_shard_map_over_processes_gives_the_single_process_state(
    results, name):
  if name == "normalization":
    t, x = pc.normalization(), [_rows(i, 16, 3, seed=3) for i in range(2)]
  else:
    t = pc.discretization(num_bins=4, epsilon=0.05)
    x = [_rows(i, 16, 8, seed=4) for i in range(2)]
  ref = pc.adapt(t, np.concatenate(x))
  for part in results:
    stacked = part["sharded"][name]
    for device in range(2):
      for leaf, ref_leaf in zip(_leaves(stacked), _leaves(ref)):
        if name == "normalization":
          np.testing.assert_allclose(leaf[device], ref_leaf, rtol=1e-5,
                                     atol=1e-5)
        else:  # all_gather of the shards: the single-device summary
          np.testing.assert_allclose(leaf[device], ref_leaf, rtol=2.4e-7,
                                     atol=0)


def test_normalization_equals_one_adapt_over_all_data(results):
  t, data, _ = _transforms()["normalization"]
  ref = pc.adapt(t, _concatenated(data))
  states = [r["normalization"] for r in results]
  _assert_same_on_every_process(states)
  for leaf, ref_leaf in zip(_leaves(states[0]), _leaves(ref)):
    np.testing.assert_allclose(leaf, ref_leaf, rtol=1e-6, atol=1e-6)


def test_discretization_small_data_is_exact(results):
  t, data, _ = _transforms()["discretization_small"]
  ref = pc.adapt(t, _concatenated(data))
  states = [r["discretization_small"] for r in results]
  _assert_same_on_every_process(states)
  for leaf, ref_leaf in zip(_leaves(states[0]), _leaves(ref)):
    np.testing.assert_array_equal(leaf, ref_leaf)


def test_discretization_is_the_merge_in_process_order_within_epsilon(results):
  t, data, batch_size = _transforms()["discretization"]
  states = [r["discretization"] for r in results]
  _assert_same_on_every_process(states)
  merged = t.merge(*(pc.adapt(t, data(i), batch_size) for i in range(N_PROC)))
  np.testing.assert_allclose(states[0].bin_boundaries, merged.bin_boundaries,
                             rtol=1e-6)
  # Each boundary's rank in all the data is within the summaries' error
  # (epsilon = 0.01, merged twice) of the exact quantile's and of the rank
  # of one adapt's boundary.
  x = _concatenated(data)
  ref = pc.adapt(t, x)

  def ranks(boundaries):
    return np.searchsorted(np.sort(x), np.asarray(boundaries)) / x.size

  got = ranks(states[0].bin_boundaries)
  np.testing.assert_allclose(got, np.arange(1, 4) / 4, atol=0.02)
  np.testing.assert_allclose(got, ranks(ref.bin_boundaries), atol=0.02)


@pytest.mark.parametrize("name", ["string_lookup", "integer_lookup",
                                  "text_vectorization"])
def test_lookups_equal_one_adapt_over_all_data(results, name):
  t, data, batch_size = _transforms()[name]
  everything = _concatenated(data)
  ref = pc.adapt(t, everything, batch_size)
  states = [r[name] for r in results]
  for state in states:
    assert pc.get_vocabulary(state) == pc.get_vocabulary(ref)
  idf = {"integer_lookup": None, "string_lookup": None,
         "text_vectorization": lambda s: s.lookup.idf_weights}[name]
  if idf is not None:
    assert idf(ref).size > 0
    np.testing.assert_array_equal(idf(states[0]), idf(ref))
    np.testing.assert_array_equal(idf(states[1]), idf(ref))
  np.testing.assert_array_equal(np.asarray(t.apply(states[1], everything)),
                                np.asarray(t.apply(ref, everything)))


def _error(results, name):
  got = [r["errors"][name] for r in results]
  assert got[0] == got[1], got  # the same error on every process
  return got[0]


def test_different_dtypes_or_feature_shapes_raise_on_every_process(results):
  kind, message = _error(results, "dtypes")
  assert kind == "ValueError"
  assert message.startswith("`pc.distributed.adapt`: `local_data` must have "
                            "one dtype and feature shape on every process")
  assert "process 0: float32 of shape (n, 3)" in message
  assert "process 1: float64 of shape (n, 3)" in message
  kind, message = _error(results, "features")
  assert kind == "ValueError"
  assert "process 1: float32 of shape (n, 2)" in message


def test_empty_data_on_one_process_contributes_nothing(results):
  ref = pc.adapt(pc.normalization(), _rows(0, 8, 3))
  for r in results:
    for leaf, ref_leaf in zip(_leaves(r["errors"]["one_empty"]),
                              _leaves(ref)):
      np.testing.assert_array_equal(leaf, ref_leaf)
  ref = pc.adapt(pc.string_lookup(), _tokens(1))
  for r in results:
    assert pc.get_vocabulary(r["errors"]["one_empty_list"]) == (
        pc.get_vocabulary(ref))


def test_empty_data_on_all_processes_is_an_error(results):
  kind, message = _error(results, "all_empty")
  assert kind == "ValueError"
  assert message == ("`pc.distributed.adapt`: `local_data` is empty on all 2 "
                     "processes; at least one process must pass data to "
                     "adapt on.")


def test_one_process_failing_fails_every_process(results):
  kind, message = _error(results, "one_fails")
  assert kind == "ValueError"
  assert message.startswith("`pc.distributed.adapt`: process 1 of 2 could "
                            "not adapt its `local_data`: ")
  assert "NaN" in message


def test_bad_arguments_on_one_process_fail_every_process(results):
  assert _error(results, "one_bad_batch_size") == (
      "ValueError", "`pc.distributed.adapt`: `batch_size` must be an int >= "
      "1, got 0 (on process 1 of 2; the processes passed different "
      "arguments).")
  kind, message = _error(results, "not_adaptable")
  assert kind == "ValueError" and "got rescaling" in message


def test_processes_stay_in_step_after_errors(results):
  ref = pc.adapt(pc.normalization(), np.concatenate([_rows(0, 8, 3),
                                                     _rows(1, 8, 3)]))
  for r in results:
    for leaf, ref_leaf in zip(_leaves(r["errors"]["after_errors"]),
                              _leaves(ref)):
      np.testing.assert_allclose(leaf, ref_leaf, rtol=1e-6, atol=1e-6)


# One process (no jax.distributed): plain pc.adapt, the same checks.


def test_one_process_is_plain_adapt():
  t = pc.normalization()
  x = _rows(0, 10, 3)
  for leaf, ref_leaf in zip(_leaves(pc.distributed.adapt(t, x, 4)),
                            _leaves(pc.adapt(t, x, 4))):
    np.testing.assert_array_equal(leaf, ref_leaf)


@pytest.mark.parametrize("transform, error, message", [
    ("three", TypeError, "`pc.distributed.adapt`: `transform` must be a "
     "prepro Transform (e.g. pc.normalization()), got str."),
    ("random_flip", ValueError, "`pc.distributed.adapt`: `transform` must "
     "learn from data (e.g. pc.normalization(), pc.string_lookup()), got "
     "random_flip, a random transform, which learns nothing"),
    ("rescaling", ValueError, "got rescaling, a transform that learns "
     "nothing"),
])
def test_bad_transforms(transform, error, message):
  t = {"three": "three", "random_flip": pc.random_flip(),
       "rescaling": pc.rescaling(2.0)}[transform]
  with pytest.raises(error) as info:
    pc.distributed.adapt(t, np.zeros((2, 4, 4, 3), np.float32))
  assert message in str(info.value)


def test_bad_batch_size():
  with pytest.raises(ValueError, match=r"^`pc.distributed.adapt`: "
                     r"`batch_size` must be an int >= 1, got 0.$"):
    pc.distributed.adapt(pc.normalization(), _rows(0, 4, 3), batch_size=0)


if __name__ == "__main__":
  _worker(int(sys.argv[1]), sys.argv[2], sys.argv[3])
