"""Input pipelines: prepro in grain (0, 1, 2 workers) vs Keras on tf.data.

    .venv-bench/bin/python benchmarks/bench_pipeline.py [--quick]

Text: records {"text": document, "tag": its first word} from
../shared/bench/corpus.py (50,000 documents; 10,000 with --quick), batched
by 256. prepro: TextVectorization(int, output_sequence_length=64) on "text"
and StringLookup on "tag", both adapted beforehand, as `pc.grain.map` steps
of a grain pipeline, in process and with `mp_prefetch` over 1 and 2 worker
processes. Keras: the same two layers adapted on the same data, mapped over
`tf.data` with `num_parallel_calls=AUTOTUNE` and `prefetch(AUTOTUNE)`, read
as NumPy (prepro's pipeline yields NumPy too).

Images: flip + rotation + zoom on 4,096 64x64x3 float32 images in batches of
128: `pc.chain` as a keyed `pc.grain.map` in 2 grain workers (on the CPU
backend), against the same chain applied in a jitted step in this process.

"256-doc records": the same, from a source whose records are already
256-document chunks (as a reader of file shards gives them), so grain's
per-record cost (about 30 us a record here, most of the time of the
pipeline above) is paid once a batch.

"pc.grain.batch columns": the same batches from a mapping of columns,
`pc.grain.batch({"text": docs, "tag": tags}, 256)` (tf.data's
`from_tensor_slices` input above), no Python object a record.

"pc.grain.batch": the single-document records again, batched by
`pc.grain.batch(records, 256)` (each batch read as one slice of the list)
instead of grain's `.batch(256)`; what a grain user whose records are single
examples writes to skip that per-record cost ("shuffled": with
`shuffle_seed=0`, each batch gathered through a per-epoch permutation).
Grain's default ReadOptions (16 threads) throughout, but for "a thread a
core" (`ReadOptions(num_threads=<cores>)`) and the pc.grain.mp_prefetch
rows below. prepro's numba kernels release the GIL, so reader threads could
overlap them; on 2 cores here they do not gain, as waking a thread costs
about as much as the work it takes.

"pc.grain.threaded_read": the columns pipeline (also shuffled, with
`shuffle_seed=0`) in this process's threads, one a core: the iterating
thread computes every other batch, one helper thread the rest ahead, each
in a loop of its own (the text kernels release the GIL).

"pc.grain.mp_prefetch": the columns pipeline in 1 and 2 worker processes
through `pc.grain.mp_prefetch(ds, k)` (each worker reads in its own loop,
without grain's 16 reader threads; arrays under 1 MiB pickled through the
workers' queues instead of each in a shared memory block; workers on the
CPU backend) instead of grain's `mp_prefetch` with its defaults. The image
workers use it too.

Timing, best of a few runs: each pipeline reads its data over and over in
one iterator and its second pass (epoch) is timed, from the arrival of the
last batch before it to the arrival of its own last batch. The first pass
is start-up (worker processes, ~5 s a worker here; compilation; buffers
filling); after the timed pass the pipeline runs on for at least
READ_AHEAD batches (then closed unread), so batches read ahead (grain's
readers go up to 500 ahead, workers keep a buffer) are as many at the end
of the timing as at its start and none is counted for free. (Earlier
versions timed one pass, or the middle of three: both counted read-ahead
done before the timing; workers reading with grain's 16 threads ran 500
batches ahead of what they sent, and the last pass was served from there.)
`items_per_s` is documents or images per second.
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "bench"))

import numpy as np  # noqa: E402

BATCH = 256
IMAGE_BATCH = 128


# Batches a pipeline may have read ahead of the one it yields: grain's
# in-process readers up to 500 (prefetch_buffer_size), and as many in each of
# 2 workers reading with grain's defaults, plus their output buffers.
READ_AHEAD = 1_100


def _steady_seconds(make_iter, n_batches, repeats):
  """Best time to read the second epoch (batches ``n_batches`` to
  ``2 * n_batches - 1`` of what ``make_iter(epochs)`` yields), and the
  items in it. The first epoch is start-up (worker processes, compilation,
  filling buffers); the pipeline runs on for at least READ_AHEAD batches
  after the timed ones (it is closed unread), so that batches read ahead
  are as many at the end of the timing as at its start and none is counted
  for free."""
  epochs = 2 + -(-READ_AHEAD // n_batches)
  best, items = float("inf"), 0
  for _ in range(repeats):
    it = iter(make_iter(epochs))
    for _ in range(n_batches):
      next(it)
    t0 = time.perf_counter()
    items = 0
    for _ in range(n_batches):
      batch = next(it)
      first = batch["text"] if isinstance(batch, dict) else batch
      items += len(first)
    best = min(best, time.perf_counter() - t0)
    if hasattr(it, "close"):  # stop the readers and workers
      it.close()
  return best, items


def _text_records(n_docs):
  from corpus import corpus  # pylint: disable=import-outside-toplevel
  docs = corpus(n_docs=n_docs)
  tags = [d.split()[0].lower() for d in docs]
  return docs, tags


def _warm_host_kernels(docs):
  """Loads prepro's numba text kernels before any row is timed: under
  "auto" NumPy's run until enough rows were seen, and the numba load (a
  compile when not cached) is start-up, left out like the workers' start."""
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  tv = pc.text_vectorization(output_sequence_length=64)
  tv.apply(pc.adapt(tv, docs), np.array(docs))


def _grain_text(docs, tags, num_workers, repeats, chunked=False,
                batched_read=False, columns=False, shuffle_seed=None,
                read_options=None, prepro_prefetch=False, threads=None):
  import grain  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  tv = pc.text_vectorization(output_sequence_length=64)
  tv_state = pc.adapt(tv, docs)
  sl = pc.string_lookup()
  sl_state = pc.adapt(sl, tags)
  if chunked:  # the source's records are already batches (e.g. file chunks)
    source = grain.MapDataset.source(
        [{"text": docs[i:i + BATCH], "tag": tags[i:i + BATCH]}
         for i in range(0, len(docs), BATCH)])
  elif columns:  # a column per field, each batch one slice of each
    source = pc.grain.batch({"text": docs, "tag": tags}, BATCH,
                            shuffle_seed=shuffle_seed)
  elif batched_read:  # single-document records, each batch one slice
    source = pc.grain.batch(
        [{"text": d, "tag": g} for d, g in zip(docs, tags)], BATCH,
        shuffle_seed=shuffle_seed)
  else:
    source = grain.MapDataset.source(
        [{"text": d, "tag": g} for d, g in zip(docs, tags)]).batch(BATCH)

  def make(epochs):
    ds = (source.repeat(epochs)
          .map(pc.grain.map(tv, tv_state, field="text"))
          .map(pc.grain.map(sl, sl_state, field="tag")))
    if prepro_prefetch:  # read in each worker's loop, small arrays pickled
      return pc.grain.mp_prefetch(ds, num_workers)
    if threads:  # this thread and threads - 1 helpers, each its own share
      return pc.grain.threaded_read(ds, threads)
    ds = ds.to_iter_dataset(read_options)
    if num_workers:
      ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=num_workers))
    return ds
  return _steady_seconds(make, len(source), repeats)


def _read_options(num_threads):
  import grain  # pylint: disable=import-outside-toplevel
  return grain.ReadOptions(num_threads=num_threads)


def _tfdata_text(docs, tags, repeats):
  import keras  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  tv = keras.layers.TextVectorization(output_mode="int",
                                      output_sequence_length=64)
  tv.adapt(np.array(docs))
  sl = keras.layers.StringLookup()
  sl.adapt(np.array(tags))

  def make(epochs):
    ds = (tf.data.Dataset.from_tensor_slices({"text": docs, "tag": tags})
          .batch(BATCH)
          .repeat(epochs)
          .map(lambda r: {"text": tv(r["text"]), "tag": sl(r["tag"])},
               num_parallel_calls=tf.data.AUTOTUNE)
          .prefetch(tf.data.AUTOTUNE))
    return ds.as_numpy_iterator()
  return _steady_seconds(make, -(-len(docs) // BATCH), repeats)


def _images(n):
  rng = np.random.default_rng(0)
  return rng.uniform(0, 255, (n, 64, 64, 3)).astype(np.float32)


def _augment():
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  return pc.chain(pc.random_flip(), pc.random_rotation(0.1),
                  pc.random_zoom(0.2))


def _grain_images(images, repeats):
  import grain  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  t = _augment()
  state = t.init(images[:IMAGE_BATCH])
  source = grain.MapDataset.source(images).batch(IMAGE_BATCH)

  def make(epochs):
    return pc.grain.mp_prefetch(
        source.repeat(epochs).map_with_index(pc.grain.map(t, state, seed=0)),
        num_workers=2)  # the workers' JAX on CPU
  return _steady_seconds(make, len(source), repeats)


def _jitted_images(images, repeats):
  import jax  # pylint: disable=import-outside-toplevel
  t = _augment()
  state = t.init(images[:IMAGE_BATCH])
  step = jax.jit(lambda s, x, i: t.apply(
      s, x, key=jax.random.fold_in(jax.random.key(0), i)))

  starts = range(0, len(images), IMAGE_BATCH)

  def make(epochs):
    for _ in range(epochs):
      for i in starts:
        yield jax.block_until_ready(step(state, images[i:i + IMAGE_BATCH], i))
  return _steady_seconds(make, len(starts), repeats)


def run(quick: bool = False) -> list:
  n_docs = 10_000 if quick else 50_000
  repeats = 1 if quick else 3
  docs, tags = _text_records(n_docs)
  _warm_host_kernels(docs)
  text = {f"prepro in grain, {k} workers" if k else "prepro in grain, in process":
          _grain_text(docs, tags, k, repeats) for k in (0, 1, 2)}
  for k in (0, 2):
    text[f"prepro in grain, 256-doc records, {k} workers" if k else
         "prepro in grain, 256-doc records, in process"] = _grain_text(
             docs, tags, k, repeats, chunked=True)
  for k in (0, 2):
    text[f"prepro in grain, pc.grain.batch, {k} workers" if k else
         "prepro in grain, pc.grain.batch, in process"] = _grain_text(
             docs, tags, k, repeats, batched_read=True)
  text["prepro in grain, pc.grain.batch shuffled, in process"] = _grain_text(
      docs, tags, 0, repeats, batched_read=True, shuffle_seed=0)
  cores = len(os.sched_getaffinity(0))
  text["prepro in grain, pc.grain.batch columns, in process, a thread a core"] = (
      _grain_text(docs, tags, 0, repeats, columns=True,
                  read_options=_read_options(cores)))
  for k in (0, 1, 2):
    text[f"prepro in grain, pc.grain.batch columns, {k} workers" if k else
         "prepro in grain, pc.grain.batch columns, in process"] = _grain_text(
             docs, tags, k, repeats, columns=True)
  for k in (1, 2):
    text[f"prepro in grain, pc.grain.batch columns, pc.grain.mp_prefetch, {k} "
         f"workers"] = _grain_text(docs, tags, k, repeats, columns=True,
                                   prepro_prefetch=True)
  for seed in (None, 0):
    text["prepro in grain, pc.grain.batch columns" +
         (" shuffled" if seed is not None else "") +
         ", pc.grain.threaded_read, a thread a core"] = _grain_text(
             docs, tags, 0, repeats, columns=True, shuffle_seed=seed,
             threads=cores)
  text["keras on tf.data (AUTOTUNE, prefetch)"] = _tfdata_text(docs, tags,
                                                               repeats)
  images = _images(512 if quick else 4096)
  pictures = {"prepro in grain, 2 workers (cpu)": _grain_images(images, repeats),
              "prepro in the jitted step": _jitted_images(images, repeats)}

  rows = []
  for bench, times, ref in (
      (f"text pipeline tv(int,64)+string_lookup, {n_docs} docs", text,
       "prepro in grain, in process"),
      (f"flip+rotation+zoom pipeline, {len(images)}x64x64x3", pictures,
       "prepro in grain, 2 workers (cpu)")):
    ref_rate = times[ref][1] / times[ref][0]
    for impl, (sec, items) in times.items():
      rate = items / sec
      rows.append({"benchmark": bench, "impl": impl, "seconds": sec,
                   "items_per_s": rate, "ratio_vs_prepro": ref_rate / rate})
  return rows


def main():
  rows = run(quick="--quick" in sys.argv)
  for r in rows:
    print(f"{r['benchmark'][:48]:48s} {r['impl']:40s} {r['seconds']:8.3f}s "
          f"{r['items_per_s']:10.0f}/s x{r['ratio_vs_prepro']:6.2f}")


if __name__ == "__main__":
  main()
