"""Beam analyzers: a text_vectorization vocabulary over a PCollection vs Keras.

    .venv-bench/bin/python benchmarks/bench_beam.py [--quick]

Workload: ../shared/bench/corpus.py's corpus (60,000 documents; 10,000 with
--quick), written as 8 text shards (one document per line) that the
pipelines read with ``beam.io.ReadFromText``. The transform is
``text_vectorization(max_tokens=20_000)`` (Keras' default standardize and
split). Measured, each on the same documents:

* prepro ``pc.adapt`` in this process, on the documents as one list;
* ``pc.beam.Adapt`` (batches of 1,024 combined with ``AdaptFn``) and
  ``pc.beam.WriteVocabulary`` (per-token counts, ``CombinePerKey``, ``Top``,
  files) on Beam's local runner, in process and on 2 worker processes
  (``--direct_running_mode=multi_processing``);
* Keras 3 ``TextVectorization.adapt`` (TensorFlow string ops) in this
  process.

Each Beam time is a whole ``with beam.Pipeline(...)`` block: graph
construction, worker start-up (a fresh Python importing jax and Beam per
worker, several seconds) and the run; that is what a user waits for on one
machine. Best of a few runs; ``items_per_s`` is documents per second;
``ratio_vs_prepro`` is the time over ``pc.adapt``'s. The vocabularies are
checked equal to Keras' (and the file to ``pc.save_vocabulary``'s) first.

TF Transform is not measured: ``pip install --dry-run tensorflow-transform``
in .venv-bench would install a second TensorFlow distribution
(``tensorflow`` over the installed ``tensorflow-cpu``), ``tf_keras`` and
``tfx-bsl``, and downgrade ``absl-py`` 2.x to 1.4, so it was not installed.
"""

import os
import pickle
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "bench"))

import numpy as np  # noqa: E402

MAX_TOKENS = 20_000
BATCH = 1024
SHARDS = 8
IN_PROCESS = ["--direct_num_workers=1"]
TWO_WORKERS = ["--direct_num_workers=2",
               "--direct_running_mode=multi_processing"]


def _best(fn, repeats):
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - t0)
  return best


def _write_shards(docs, folder):
  for i in range(SHARDS):
    with open(os.path.join(folder, f"corpus-{i:02d}.txt"), "w",
              encoding="utf-8") as f:
      f.write("".join(d + "\n" for d in docs[i::SHARDS]))
  return os.path.join(folder, "corpus-*.txt")


class _SaveState:
  """Pickles the pipeline's one state to ``path`` (a Map function)."""

  def __init__(self, path):
    self.path = path

  def __call__(self, state):
    with open(self.path, "wb") as f:
      pickle.dump(state, f)


def _beam_adapt(t, pattern, options, out_path):
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  import prepro_core as pc  # pylint: disable=g-import-not-at-top
  with beam.Pipeline(options=PipelineOptions(options)) as p:
    _ = (p | beam.io.ReadFromText(pattern)
         | pc.beam.Adapt(t, batch_size=BATCH)
         | beam.Map(_SaveState(out_path)))


def _beam_vocabulary(t, pattern, options, prefix):
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  import prepro_core as pc  # pylint: disable=g-import-not-at-top
  with beam.Pipeline(options=PipelineOptions(options)) as p:
    _ = (p | beam.io.ReadFromText(pattern)
         | pc.beam.WriteVocabulary(t, prefix, batch_size=BATCH))


def run(quick: bool = False) -> list:
  """The rows; the worker processes import this module from benchmarks/."""
  old = os.environ.get("PYTHONPATH")
  os.environ["PYTHONPATH"] = os.pathsep.join(
      p for p in (HERE, os.path.join(HERE, ".."), old) if p)
  try:
    with tempfile.TemporaryDirectory() as tmp:
      return _run(quick, tmp)
  finally:
    if old is None:
      os.environ.pop("PYTHONPATH")
    else:
      os.environ["PYTHONPATH"] = old


def _run(quick: bool, tmp: str) -> list:
  import keras  # pylint: disable=g-import-not-at-top
  import prepro_core as pc  # pylint: disable=g-import-not-at-top
  from corpus import corpus  # pylint: disable=g-import-not-at-top
  n_docs = 10_000 if quick else 60_000
  repeats = 1 if quick else 2
  docs = corpus(n_docs=n_docs)
  pattern = _write_shards(docs, tmp)
  t = pc.text_vectorization(max_tokens=MAX_TOKENS)
  layer = keras.layers.TextVectorization(max_tokens=MAX_TOKENS)
  arr = np.array(docs)

  # Same vocabulary everywhere, before anything is timed.
  state_path, prefix = os.path.join(tmp, "state.pkl"), os.path.join(tmp, "v")
  _beam_adapt(t, pattern, IN_PROCESS, state_path)
  with open(state_path, "rb") as f:
    beam_state = pickle.load(f)
  layer.adapt(arr)
  expected = layer.get_vocabulary()
  assert pc.get_vocabulary(beam_state) == expected
  _beam_vocabulary(t, pattern, IN_PROCESS, prefix)
  with open(prefix + ".vocabulary.txt", encoding="utf-8") as f:
    assert f.read().split("\n")[:-1] == expected

  times = {
      "prepro pc.adapt, in process": _best(lambda: pc.adapt(t, docs),
                                           repeats),
      "prepro pc.beam.Adapt, in process": _best(
          lambda: _beam_adapt(t, pattern, IN_PROCESS, state_path), repeats),
      "prepro pc.beam.Adapt, 2 workers": _best(
          lambda: _beam_adapt(t, pattern, TWO_WORKERS, state_path), repeats),
      "prepro pc.beam.WriteVocabulary, in process": _best(
          lambda: _beam_vocabulary(t, pattern, IN_PROCESS, prefix), repeats),
      "prepro pc.beam.WriteVocabulary, 2 workers": _best(
          lambda: _beam_vocabulary(t, pattern, TWO_WORKERS, prefix), repeats),
      "keras TextVectorization.adapt, in process": _best(
          lambda: layer.adapt(arr), repeats),
  }
  ref = times["prepro pc.adapt, in process"]
  bench = f"text_vectorization adapt over Beam, max_tokens={MAX_TOKENS}, " \
          f"{n_docs} docs"
  return [{"benchmark": bench, "impl": impl, "seconds": sec,
           "items_per_s": n_docs / sec, "ratio_vs_prepro": sec / ref}
          for impl, sec in times.items()]


def main():
  rows = run(quick="--quick" in sys.argv)
  print(f"{'impl':44s} {'seconds':>8s} {'docs/s':>10s} {'x pc.adapt':>10s}")
  for r in rows:
    print(f"{r['impl']:44s} {r['seconds']:8.2f} {r['items_per_s']:10.0f} "
          f"{r['ratio_vs_prepro']:10.2f}")


if __name__ == "__main__":
  main()
