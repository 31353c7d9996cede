"""prepro in grain pipelines (``pc.grain``): map, batch, threaded_read,
mp_prefetch, adapt.

Imported on first use (``pc.grain`` or ``import prepro_core.grain``), so
``import prepro_core`` never imports grain; install it with
``pip install 'prepro[grain]'``.

  >>> import grain, numpy as np, prepro_core as pc
  >>> t = pc.text_vectorization(vocabulary=["a", "b"], output_sequence_length=3)
  >>> ds = (grain.MapDataset.source(["a b", "b z"])
  ...       .map_with_index(pc.grain.map(t, t.init(None))))
  >>> [row.tolist() for row in ds]
  [[2, 3, 0], [3, 1, 0]]

A record is whatever the transform's ``apply`` takes: one example (one image,
one document), or a batch after ``.batch()``. The key of record ``i`` is
``jax.random.fold_in(jax.random.key(seed), i)``; a batched record is applied
as a batch with the one key of its (batch) index, the transform folding in
each example's position in the batch, so its result differs from mapping the
examples before batching. Either way the output depends only on (state,
seed, index): the same with 0, 1 or N workers, after an iterator checkpoint
restore, and on every host.

Where the index comes from (grain's ``map_with_index``): on a ``MapDataset``
it is the record's position in that dataset, whatever worker reads it; on an
``IterDataset`` it counts the elements that iterator produced (restored with
its checkpoint), which inside ``mp_prefetch`` workers is per worker. Put
random maps on the ``MapDataset`` (before ``to_iter_dataset``/``mp_prefetch``,
and before any per-host slicing) for worker-count and host independence.
"""

from __future__ import annotations

import functools
import os
import pickle
import queue
import threading
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import numpy as np

try:
  import grain
except ImportError as e:  # grain is an optional extra
  raise ImportError(
      "prepro_core.grain needs grain: pip install 'prepro[grain]' (or "
      "grain>=0.2.18).") from e

from absl import flags as absl_flags  # a grain dependency

from prepro_core._src.core import checks
from prepro_core._src.core.adapt import adapt as pc_adapt
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform
from prepro_core._src.host import inputs
from prepro_core._src.host.packed import StringBatch, nul_terminated
from prepro_core._src.pipeline import records



def _let_mp_prefetch_run_without_parsed_flags() -> None:
  # grain 0.2.18's mp_prefetch reads the absl flag below with `.value`, which
  # raises UnparsedFlagAccessError in any program that did not parse absl
  # flags (no absl.app.run: scripts, notebooks, pytest). Marking that one flag
  # as given keeps its default value (False); a later parse still sets it.
  name = "grain_enable_multiprocess_worker_profiling"
  if name in absl_flags.FLAGS and not absl_flags.FLAGS.is_parsed():
    absl_flags.FLAGS[name].present = max(absl_flags.FLAGS[name].present, 1)


_let_mp_prefetch_run_without_parsed_flags()

__all__ = ["map", "adapt", "batch", "mp_prefetch", "threaded_read",
           "cpu_worker_init", "MIN_SHARED_MEMORY_BYTES", "TransformMap",
           "RandomTransformMap", "BatchedRead", "ThreadedRead"]


class TransformMap(grain.transforms.Map, grain.transforms.MapWithIndex):
  """A non-random prepro transform as a grain ``Map`` (also a
  ``MapWithIndex``, whose errors then name the record index).

  ``ds.map(m)``, ``ds.map_with_index(m)`` and ``ds.apply(m)`` all work, on a
  ``MapDataset`` or an ``IterDataset``. Built by :func:`map`.
  """

  def __init__(self, fn: records.RecordFn):
    self.fn = fn

  def map(self, element):
    return self.fn(None, element)

  def map_with_index(self, index: int, element):
    return self.fn(index, element)

  def output_spec(self, input_spec: Any) -> Any:
    """grain's element-spec hook (device transforms: ``jax.eval_shape``)."""
    return self.fn.output_spec(input_spec)

  def __repr__(self) -> str:
    return self.fn.where


class RandomTransformMap(grain.transforms.MapWithIndex):
  """A random prepro transform as a grain ``MapWithIndex``: record ``i`` gets
  the key ``fold_in(key(seed), i)``.

  Use ``ds.map_with_index(m)`` or ``ds.apply(m)``; ``ds.map(m)`` cannot give
  the index and raises on the first record. Built by :func:`map`.
  """

  def __init__(self, fn: records.RecordFn):
    self.fn = fn

  def map_with_index(self, index: int, element):
    return self.fn(index, element)

  def output_spec(self, input_spec: Any) -> Any:
    """grain's element-spec hook (``jax.eval_shape``)."""
    return self.fn.output_spec(input_spec)

  def __call__(self, *args):
    # grain's `ds.map` calls a non-`Map` transform with the element alone.
    raise TypeError(
        f"{self.fn.where}: a random transform needs each record's index for "
        f"its key: use `ds.map_with_index(...)` or `ds.apply(...)`, not "
        f"`ds.map(...)`.")

  def __repr__(self) -> str:
    return self.fn.where


# pylint: disable-next=redefined-builtin
def map(transform: Transform,
        state: Optional[State] = None,
        seed: Optional[int] = None,
        output: str = "numpy",
        *,
        field: Any = None):
  """A prepro transform as a grain transformation.

  Args:
    transform: a prepro :class:`~prepro_core.Transform`.
    state: its state (``pc.adapt(t, data)``, or ``t.init(...)`` when built
      with a vocabulary or constants); None only for transforms that learn
      nothing.
    seed: an int, needed by random transforms: record ``i`` is applied with
      ``jax.random.fold_in(jax.random.key(seed), i)``.
    output: ``"numpy"`` (default; host transforms then never create device
      arrays nor start a JAX backend) or ``"jax"``.
    field: with records that are mappings (``{"text": ..., "label": ...}``),
      the key to transform; the other keys pass through.

  Returns:
    A :class:`TransformMap` (a ``grain.transforms.Map``, also usable with
    ``map_with_index``) for a non-random transform, a
    :class:`RandomTransformMap` (a ``grain.transforms.MapWithIndex``) for a
    random one. Either works with ``ds.map_with_index(...)`` and
    ``ds.apply(...)``.

  Raises:
    TypeError / ValueError at construction (naming the argument): not a
    Transform, a random transform without a seed, an adaptable transform
    without a state or with an un-adapted one. A record the transform
    refuses raises its error prefixed with the record index.
  """
  where = f"pc.grain.map({getattr(transform, 'name', '?')})"
  records.check_pipeline_args(transform, state, seed, output, where)
  fn = records.RecordFn(transform, state, seed, output, field, where)
  return RandomTransformMap(fn) if transform.is_random else TransformMap(fn)


def _slicer(source: Any) -> Optional[Any]:
  """The sequence or array under ``source`` that slices in one call, or None.

  ``grain.MapDataset.source(seq)`` reads record by record, with grain's
  per-record bookkeeping; slicing the list or array under it reads a batch at
  C speed. Only a bare source dataset is unwrapped (maps, shuffles and
  slices must run).
  """
  if isinstance(source, grain.MapDataset):
    if type(source).__name__ != "SourceMapDataset":
      return None
    source = getattr(source, "_source", None)
  if isinstance(source, (list, tuple, np.ndarray)):
    return source
  return None


def _columns(source: Any, where: str) -> Optional[dict]:
  """A mapping of equal-length columns (``{"text": docs, "label": ys}``, as
  ``tf.data.Dataset.from_tensor_slices`` takes) as a dict, or None for
  any other source. Raises, naming ``source``, on a bad column."""
  if not isinstance(source, Mapping):
    return None
  if not source:
    raise ValueError(f"{where}: `source` is an empty mapping: give columns, "
                     f"e.g. {{'text': docs, 'label': labels}}.")
  columns, lengths = {}, set()
  for name, column in source.items():
    if not (isinstance(column, (list, tuple)) or
            (isinstance(column, np.ndarray) and column.ndim >= 1)):
      raise TypeError(
          f"{where}: `source` is a mapping of columns, each a list, tuple or "
          f"NumPy array with a first axis; column {name!r} is "
          f"{type(column).__name__}.")
    columns[name] = column
    lengths.add(len(column))
  if len(lengths) != 1:
    sizes = {name: len(c) for name, c in columns.items()}
    raise ValueError(f"{where}: `source`'s columns must have the same "
                     f"length, got {sizes}.")
  return columns


def _take(column: Any, lo: int, hi: int, indices: Optional[np.ndarray]):
  """Rows ``[lo, hi)`` of a column, or rows ``indices``: arrays as arrays of
  their own (as ``np.stack`` gives), packed strings as a StringBatch (a
  view of the column's bytes when in order), lists and tuples as lists."""
  if indices is None:
    part = column[lo:hi]
    if isinstance(part, np.ndarray):
      return part.copy()
    return list(part) if isinstance(part, tuple) else part
  if isinstance(column, np.ndarray):
    return column[indices]
  if isinstance(column, StringBatch):
    return inputs.take_strings(column, indices)
  return [column[i] for i in indices.tolist()]


def _packed(strings: Any) -> Any:
  """A list or tuple of ``str`` as a StringBatch, packed once; anything else
  (bytes, None, a string UTF-8 cannot encode) as it is, for the transform
  to read or to refuse naming the record."""
  if not isinstance(strings, (list, tuple)) or not strings or not all(
      type(v) is str for v in strings):  # pylint: disable=unidiomatic-typecheck
    return strings
  try:
    return nul_terminated(list(strings))
  except UnicodeEncodeError:
    return strings


def _read_indices(source: Any, indices: Sequence[int]) -> Any:
  """Records ``indices`` of a source that does not slice: grain's batched
  read (``_getitems``, which grain's own sources and datasets pass down),
  else one ``source[i]`` each."""
  getitems = getattr(source, "_getitems", None) or getattr(
      source, "__getitems__", None)
  if getitems is not None:
    return list(getitems(list(indices)))
  return [source[i] for i in indices]


class BatchedRead(grain.MapDataset):
  """A ``grain.MapDataset`` whose record ``i`` is the batch of source records
  ``[i * batch_size, (i + 1) * batch_size)`` (of a permutation drawn from
  ``(shuffle_seed, epoch)`` with a ``shuffle_seed``), read in one call.
  Built by :func:`batch`."""

  def __init__(self, source: Any, batch_size: int, drop_remainder: bool,
               shuffle_seed: Optional[int], pack_strings: bool, where: str):
    super().__init__()
    self._shuffle_seed = shuffle_seed
    self._order = (None, None)  # (epoch, its permutation), built lazily
    self._columns = _columns(source, where)
    self._slicer = _slicer(source)
    if pack_strings and self._columns is not None:
      # Packed once here, as tf.data's from_tensor_slices makes one tensor.
      self._columns = {k: _packed(c) for k, c in self._columns.items()}
    elif pack_strings and self._slicer is not None:
      self._slicer = _packed(self._slicer)
    # What _read reads: the packed columns, not the lists under them too.
    self._source = (self._columns if self._columns is not None else
                    self._slicer if isinstance(self._slicer, StringBatch)
                    else source)
    self._n = (len(next(iter(self._columns.values())))
               if self._columns is not None else len(source))
    self._batch_size = batch_size
    self._drop_remainder = drop_remainder
    self._where = where
    n, b = self._n, batch_size
    self._length = n // b if drop_remainder else -(-n // b)

  def __len__(self) -> int:
    return self._length

  def __str__(self) -> str:
    return (f"{self._where}(batch_size={self._batch_size}, "
            f"drop_remainder={self._drop_remainder}, "
            f"shuffle_seed={self._shuffle_seed})")

  def __getitem__(self, index):
    if isinstance(index, slice):
      return self.slice(index)
    if self._length == 0:
      raise IndexError(f"{self._where}: the dataset has no batches.")
    # Past the end wraps to the next epoch, as grain's own batch does.
    epoch, index = divmod(int(index), self._length)
    lo = index * self._batch_size
    hi = min(lo + self._batch_size, self._n)
    with self._stats.record_self_time():
      part = self._read(epoch, lo, hi)
      if isinstance(part, (np.ndarray, dict, StringBatch)):  # read as is
        return part
      if any(r is None for r in part):
        raise ValueError(
            f"{self._where}: batch {index} holds a missing (None) record; "
            f"batch before any filter, or batch the IterDataset with "
            f"grain's `.batch()`.")
      # Records read one by one keep their strings as lists: packing them
      # here would cost what the text transforms' own encoding of a list
      # costs (measured: 0.59M against 0.89M docs/s in a text pipeline).
      return records.stack_records(part)

  def _read(self, epoch: int, lo: int, hi: int) -> Any:
    if self._columns is not None:
      indices = (None if self._shuffle_seed is None else
                 self._permutation(epoch)[lo:hi])
      return {name: _take(column, lo, hi, indices)
              for name, column in self._columns.items()}
    src = self._slicer
    if self._shuffle_seed is None:
      if src is None:
        return _read_indices(self._source, range(lo, hi))
      return _take(src, lo, hi, None)
    indices = self._permutation(epoch)[lo:hi]
    if src is not None:
      return _take(src, lo, hi, indices)
    return _read_indices(self._source, indices.tolist())

  def _permutation(self, epoch: int) -> np.ndarray:
    # Depends only on (shuffle_seed, epoch): the same in every worker.
    cached_epoch, order = self._order
    if cached_epoch != epoch:
      rng = np.random.default_rng([self._shuffle_seed, epoch])
      order = rng.permutation(self._n)
      self._order = (epoch, order)
    return order

  def __getstate__(self):
    d = dict(self.__dict__)
    d["_order"] = (None, None)  # rebuilt where it is read
    return d


def batch(source: Any, batch_size: int, drop_remainder: bool = False,
          *, shuffle_seed: Optional[int] = None,
          pack_strings: bool = True) -> BatchedRead:
  """Batches of single-example records, each read in one call.

  ``pc.grain.batch(source, 256)`` is ``grain.MapDataset.source(source)
  .batch(256)`` without grain's per-record cost (about 30 us a record,
  more than prepro's text transforms spend on a document): a slice of a
  list, tuple or NumPy array (also under a bare
  ``grain.MapDataset.source(...)``), else grain's batched read
  (``_getitems``) of a source or a ``MapDataset`` that has one, else one
  read per record. Chain prepro maps after it as after ``.batch()``.

  A mapping of columns (``{"text": docs, "label": labels}``, lists or
  arrays of one length, what ``tf.data.Dataset.from_tensor_slices`` takes)
  is read column by column: a batch is ``{"text": docs[lo:hi], "label":
  labels[lo:hi]}``, the same as batching the records
  ``{"text": docs[i], "label": labels[i]}``, with no Python object a record.

  A batch stacks its records as ``.batch()`` does, field by field for
  mappings and tuples, numbers and arrays with ``np.stack``, with one
  difference: strings stay strings. A column of ``str`` (or a source that
  is a list or tuple of ``str``) is packed once, when the dataset is built,
  into a :class:`~prepro_core.StringBatch` (one UTF-8 buffer, as
  ``tf.data.Dataset.from_tensor_slices`` makes one tensor of it), and each
  batch is a StringBatch view of its bytes that prepro's text transforms
  read as it is: no string is joined or encoded again, which is a third of
  a text pipeline's host time. A StringBatch reads as a sequence of
  ``str`` (``len``, indexing, iteration, ``.tolist()``). Columns holding
  bytes or anything but ``str``, and the string fields of records read one
  by one (mappings or tuples: packing them per batch costs what the
  transforms' own encoding of a list costs), stay Python lists (grain's
  ``.batch()`` makes a ``'<U'`` array: ``np.asarray`` gives the same).

  Args:
    source: a sequence or NumPy array of records, a grain ``MapDataset``, a
      grain random-access source (``__len__`` and ``__getitem__``), or a
      mapping of equal-length columns (lists, tuples or arrays).
    batch_size: records per batch.
    drop_remainder: drop the last batch when it is short.
    shuffle_seed: None (records in order), or an int: each epoch's batches
      are read through a permutation of the records drawn from
      ``(shuffle_seed, epoch)`` (index ``i`` of the dataset is batch
      ``i % len(ds)`` of epoch ``i // len(ds)``), the same in every worker.
    pack_strings: pack ``str`` columns into StringBatches (default), or
      give their batches as Python lists (False).

  Returns:
    A :class:`BatchedRead` (a ``grain.MapDataset``): shuffle it,
    ``map``/``map_with_index`` it, ``to_iter_dataset()`` and ``mp_prefetch``
    as any ``MapDataset``. To shuffle records use ``shuffle_seed``: a
    ``.shuffle()`` after it shuffles whole batches, and one before it
    (``MapDataset.source(x).shuffle(seed)``) reads record by record, at
    grain's per-record cost.

  Raises:
    TypeError / ValueError naming the argument: ``source`` is an
    ``IterDataset``, a str, or has no length or indexing, or is a mapping
    whose columns are not sequences or arrays of one length; ``batch_size`` is
    not an int >= 1; ``drop_remainder`` or ``pack_strings`` is not a bool;
    ``shuffle_seed`` is not an int >= 0 or None.

  Example:
    >>> import prepro_core as pc
    >>> ds = pc.grain.batch([{"text": "a b", "n": 1}, {"text": "c", "n": 2},
    ...                      {"text": "d", "n": 3}], batch_size=2)
    >>> len(ds), ds[0]["text"], ds[0]["n"].tolist(), ds[1]["text"]
    (2, ['a b', 'c'], [1, 2], ['d'])
    >>> columns = pc.grain.batch({"text": ["a b", "c", "d"]}, batch_size=2)
    >>> columns[0]["text"], columns[0]["text"].tolist()
    (StringBatch(['a b', 'c']), ['a b', 'c'])
  """
  where = "pc.grain.batch"
  if isinstance(source, grain.IterDataset):
    raise TypeError(
        f"{where}: `source` must be a grain.MapDataset, a sequence or a "
        f"random-access source, got an IterDataset (it cannot be read by "
        f"index); batch it with grain's `.batch()`.")
  if isinstance(source, (str, bytes)) or not (
      hasattr(source, "__len__") and hasattr(source, "__getitem__")):
    raise TypeError(
        f"{where}: `source` must be a grain.MapDataset, a sequence or NumPy "
        f"array of records, or a random-access source (with __len__ and "
        f"__getitem__), got {type(source).__name__}.")
  batch_size = checks.check_positive_int(batch_size, "batch_size", where)
  for name, flag in (("drop_remainder", drop_remainder),
                     ("pack_strings", pack_strings)):
    if not isinstance(flag, (bool, np.bool_)):
      raise TypeError(f"{where}: `{name}` must be a bool, got {flag!r}.")
  if shuffle_seed is not None:
    shuffle_seed = checks.check_positive_int(shuffle_seed, "shuffle_seed",
                                             where, minimum=0)
  return BatchedRead(source, batch_size, bool(drop_remainder), shuffle_seed,
                     bool(pack_strings), where)


def cpu_worker_init(worker_index: int = 0, worker_count: int = 1) -> None:
  """A ``worker_init_fn`` for ``mp_prefetch``: the worker's JAX runs on CPU.

  ``ds.mp_prefetch(options, worker_init_fn=pc.grain.cpu_worker_init)``
  keeps random image transforms (and any device kernel) in the workers off
  the accelerator, as ``JAX_PLATFORMS=cpu`` in the workers' environment does.
  Host transforms need neither: with NumPy outputs they start no backend.
  """
  del worker_index, worker_count
  jax.config.update("jax_platforms", "cpu")


# Arrays under this many bytes leave a pc.grain.mp_prefetch worker pickled in
# its queue instead of each in a shared memory block of its own (grain's
# default for every array): for a batch of token ids (256 x 64 int32, 64 KB)
# making, mapping and unlinking a block cost more than the copy (2 workers
# here: 310k docs/s with a block each, 590k without).
MIN_SHARED_MEMORY_BYTES = 1 << 20


def mp_prefetch(dataset: Any, num_workers: int, *,
                per_worker_buffer_size: int = 1,
                min_shm_size: int = MIN_SHARED_MEMORY_BYTES,
                worker_init_fn: Optional[Callable[[int, int], None]] = (
                    cpu_worker_init)) -> grain.IterDataset:
  """``dataset.mp_prefetch(...)`` in ``num_workers`` processes, set up for
  prepro's outputs.

  The same elements as grain's ``mp_prefetch`` (so the same outputs, in the
  same order, as in process), with three settings grain leaves to the user:

  * a ``MapDataset`` is read by each worker in its own loop, without reader
    threads (``to_iter_dataset(grain.ReadOptions(num_threads=0))``): grain's
    16 threads reading ahead starve the thread that sends the outputs (pass
    an ``IterDataset`` to choose its read options yourself);
  * arrays smaller than ``min_shm_size`` bytes (1 MiB) travel pickled
    through the workers' queues rather than each in a shared memory block
    (``grain.experimental.DatasetOptions(min_shm_size=...)``): a batch of
    token ids is tens of KB, for which a block costs more than it saves;
    image batches of megabytes still go through shared memory;
  * ``worker_init_fn`` defaults to :func:`cpu_worker_init`, so device
    transforms in the workers (random image augmentation) run on CPU and
    never take accelerator memory (``None``: leave JAX's platform as is).

  Args:
    dataset: a grain ``MapDataset`` (read as said above) or
      ``IterDataset`` (taken as it is).
    num_workers: worker processes (0: none, the pipeline runs in this
      process, as with grain).
    per_worker_buffer_size: outputs each worker keeps ready (grain's
      ``MultiprocessingOptions``).
    min_shm_size: the smallest array, in bytes, sent through shared memory.
    worker_init_fn: called in each worker as ``fn(worker_index,
      worker_count)`` before it reads, or None.

  Returns:
    A grain ``IterDataset``.

  Raises:
    TypeError / ValueError naming the argument: ``dataset`` is not a grain
    dataset; ``num_workers`` or ``min_shm_size`` is not an int >= 0;
    ``per_worker_buffer_size`` is not an int >= 1; ``worker_init_fn`` is
    not callable or None.
  """
  where = "pc.grain.mp_prefetch"
  if not isinstance(dataset, (grain.MapDataset, grain.IterDataset)):
    raise TypeError(
        f"{where}: `dataset` must be a grain.MapDataset or IterDataset, got "
        f"{type(dataset).__name__}.")
  num_workers = checks.check_positive_int(num_workers, "num_workers", where,
                                          minimum=0)
  per_worker_buffer_size = checks.check_positive_int(
      per_worker_buffer_size, "per_worker_buffer_size", where)
  min_shm_size = checks.check_positive_int(min_shm_size, "min_shm_size",
                                           where, minimum=0)
  if worker_init_fn is not None and not callable(worker_init_fn):
    raise TypeError(f"{where}: `worker_init_fn` must be callable or None, "
                    f"got {type(worker_init_fn).__name__}.")
  if isinstance(dataset, grain.MapDataset):
    # Read in each worker's own loop: grain's default 16 reader threads, up
    # to 500 elements ahead, starve the thread that sends the outputs of the
    # GIL (2 workers here: 350k docs/s and 5k images/s with them, 590k and
    # 19k without).
    dataset = dataset.to_iter_dataset(grain.ReadOptions(num_threads=0))
  dataset = grain.experimental.WithOptionsIterDataset(
      dataset, grain.experimental.DatasetOptions(min_shm_size=min_shm_size))
  return dataset.mp_prefetch(
      grain.MultiprocessingOptions(
          num_workers=num_workers,
          per_worker_buffer_size=per_worker_buffer_size),
      worker_init_fn=worker_init_fn)


class _Failed(NamedTuple):
  """What a helper thread hands on instead of a record that raised."""
  error: Exception


def _help_read(dataset: grain.MapDataset, index: int, step: int,
               out: queue.Queue, stop: threading.Event) -> None:
  """A threaded_read helper: records ``index, index + step, ...`` of
  ``dataset`` into ``out`` until the end, an error, or ``stop``."""
  n = len(dataset)
  while index < n and not stop.is_set():
    try:
      record = dataset[index]
    except Exception as e:  # pylint: disable=broad-except
      record = _Failed(e)  # raised from next(), at its place in the order
    while not stop.is_set():
      try:
        out.put(record, timeout=0.1)
        break
      except queue.Full:
        continue
    if isinstance(record, _Failed):
      return
    index += step


class _ThreadedReadIterator(grain.DatasetIterator):
  """Reads records ``i, i + 1, ...`` of a MapDataset in ``k`` threads: the
  record at position ``p`` from ``i`` is computed by the calling thread when
  ``p % k == 0``, else by helper thread ``p % k`` ahead of time into a
  queue of its own. Yields them in order, skipping filtered ones (None)."""

  def __init__(self, dataset: grain.MapDataset, num_threads: int,
               buffer_size: int):
    super().__init__()
    self._dataset = dataset
    self._k = num_threads
    self._buffer_size = buffer_size
    self._next = 0  # the index of the next record to yield
    self._helpers = None  # (first index, queues, stop event, threads)

  def _start(self) -> None:
    first, stop = self._next, threading.Event()
    # queues[j]: helper j's records (this thread, turn 0, keeps none).
    queues = [None] + [queue.Queue(self._buffer_size)
                       for _ in range(1, self._k)]
    # The helpers hold the dataset, not this iterator, so that an iterator
    # dropped unclosed is collected and its __del__ stops them.
    threads = [threading.Thread(
        target=_help_read, daemon=True,
        args=(self._dataset, first + j, self._k, queues[j], stop),
        name=f"pc.grain.threaded_read-{j}") for j in range(1, self._k)]
    for t in threads:
      t.start()
    self._helpers = (first, queues, stop, threads)

  def __next__(self):
    self._assert_not_closed()
    n = len(self._dataset)
    while True:
      if self._next >= n:
        raise StopIteration
      if self._helpers is None:
        self._start()
      first, queues, _, _ = self._helpers
      turn = (self._next - first) % self._k
      if turn == 0:  # this thread's share
        try:
          record = self._dataset[self._next]
        except Exception:
          self._stop()
          raise
      else:
        record = queues[turn].get()
        if isinstance(record, _Failed):
          self._stop()
          raise record.error
      self._next += 1
      if record is not None:  # None: a record a filter dropped
        return record

  def _stop(self) -> None:
    if self._helpers is not None:
      _, _, stop, threads = self._helpers
      stop.set()
      for t in threads:
        t.join()
      self._helpers = None

  def get_state(self) -> dict[str, Any]:
    return {"next_index": self._next}

  def set_state(self, state: dict[str, Any]) -> None:
    self._stop()  # the helpers restart from the restored index
    self._next = int(state["next_index"])

  def close(self) -> None:
    self._stop()
    super().close()

  def __del__(self):
    if getattr(self, "_helpers", None) is not None:
      self._helpers[2].set()  # let the helper threads end

  def __str__(self) -> str:
    return f"ThreadedRead(num_threads={self._k})"


class ThreadedRead(grain.IterDataset):
  """A ``grain.IterDataset`` of a MapDataset's records, computed in threads
  of this process and yielded in order. Built by :func:`threaded_read`."""

  def __init__(self, parent: grain.MapDataset, num_threads: int,
               buffer_size: int):
    super().__init__(parent)
    self._num_threads = num_threads
    self._buffer_size = buffer_size

  def __iter__(self) -> _ThreadedReadIterator:
    return _ThreadedReadIterator(self._parent, self._num_threads,
                                 self._buffer_size)

  def __str__(self) -> str:
    return f"ThreadedRead(num_threads={self._num_threads})"


def threaded_read(dataset: grain.MapDataset,
                  num_threads: Optional[int] = None, *,
                  per_thread_buffer_size: int = 4) -> ThreadedRead:
  """A ``MapDataset``'s records computed in ``num_threads`` threads of this
  process (the one that iterates, and ``num_threads - 1`` helpers), yielded
  in order: ``mp_prefetch`` without processes, for host text pipelines.

  prepro's text kernels release the GIL, so threads each computing a batch
  of documents run side by side. The calling thread computes every
  ``num_threads``-th record when it asks for it; each helper computes its
  own share ahead, in a loop, into a queue of its own. (grain's
  ``to_iter_dataset(ReadOptions(num_threads=k))`` hands every record to a
  thread pool and back, which on 2 cores here costs as much as the threads
  gain; worker processes cost more, in pickling and in the receiving
  process.) Record ``i`` is ``dataset[i]``, keyed by its index, so the
  output is the same as in one thread, whatever ``num_threads``; records a
  filter dropped (None) are skipped, as ``to_iter_dataset`` does. The
  iterator checkpoints like grain's (``get_state``/``set_state``: the index
  of the next record).

  Args:
    dataset: a grain ``MapDataset`` (e.g. ``pc.grain.batch(...)`` with
      ``pc.grain.map`` steps).
    num_threads: threads computing records, this one included (1: this
      thread alone); None: one a core this process may run on.
    per_thread_buffer_size: records each helper keeps ready.

  Returns:
    A :class:`ThreadedRead` (a grain ``IterDataset``).

  Raises:
    TypeError / ValueError naming the argument: ``dataset`` is not a
    ``MapDataset``; ``num_threads`` is not an int >= 1 or None;
    ``per_thread_buffer_size`` is not an int >= 1. A record that raises
    raises from ``next()`` at its place in the order.

  Example:
    >>> import prepro_core as pc
    >>> t = pc.string_lookup(vocabulary=["a", "b"])
    >>> ds = pc.grain.batch({"tag": ["a", "b", "c"]}, 2).map(
    ...     pc.grain.map(t, t.init(None), field="tag"))
    >>> [b["tag"].tolist() for b in pc.grain.threaded_read(ds, 2)]
    [[1, 2], [0]]
  """
  where = "pc.grain.threaded_read"
  if not isinstance(dataset, grain.MapDataset):
    raise TypeError(
        f"{where}: `dataset` must be a grain.MapDataset (its records are "
        f"read by index), got {type(dataset).__name__}; for an IterDataset "
        f"use pc.grain.mp_prefetch.")
  if num_threads is None:
    num_threads = (len(os.sched_getaffinity(0)) if hasattr(
        os, "sched_getaffinity") else os.cpu_count() or 1)
  num_threads = checks.check_positive_int(num_threads, "num_threads", where)
  per_thread_buffer_size = checks.check_positive_int(
      per_thread_buffer_size, "per_thread_buffer_size", where)
  return ThreadedRead(dataset, num_threads, per_thread_buffer_size)


class _ShardAdapter:
  """Adapts ``transform`` on records ``[lo, hi)`` of ``dataset``; returns the
  pickled state (NumPy leaves), so it travels between processes as bytes."""

  def __init__(self, transform: Transform, dataset: grain.MapDataset,
               batch_size: Optional[int]):
    self.transform = transform
    self.dataset = dataset
    self.batch_size = batch_size

  def __call__(self, bounds) -> bytes:
    lo, hi = bounds
    state = pc_adapt(self.transform, self._batches(lo, hi))
    state = jax.tree_util.tree_map(
        lambda x: np.asarray(x) if isinstance(x, jax.Array) else x, state)
    return pickle.dumps(state)

  def _batches(self, lo: int, hi: int):
    ds, step = self.dataset, self.batch_size
    if step is None:  # each record is a batch
      for i in range(lo, hi):
        yield ds[i]
      return
    for start in range(lo, hi, step):
      yield records.stack_records(
          [ds[i] for i in range(start, min(start + step, hi))])


def adapt(transform: Transform,
          dataset: Any,
          num_workers: int = 0,
          batch_size: Optional[int] = None,
          *,
          worker_init_fn: Optional[Callable[[int, int], None]] = None) -> State:
  """Adapts ``transform`` over a grain ``MapDataset`` in ``num_workers``
  worker processes, merging their states.

  The records are split into ``num_workers`` contiguous shards; each worker
  runs ``pc.adapt`` on its shard (in batches of ``batch_size`` records) and
  the states are merged in shard order with ``transform.merge``. Mergeable
  states make that equal to one ``pc.adapt`` over all the records: exactly
  for the lookups and text_vectorization (counts), up to float rounding for
  normalization (Chan's merge), within ``epsilon`` for discretization.

  Args:
    transform: a prepro :class:`~prepro_core.Transform`.
    dataset: a ``grain.MapDataset`` (or a sequence, wrapped with
      ``MapDataset.source``) of examples, or of batches with
      ``batch_size=None``.
    num_workers: worker processes (grain's ``mp_prefetch``); 0 adapts in
      this process.
    batch_size: records per adapt batch (examples are stacked: strings as a
      list, arrays with ``np.stack``); None: every record is a batch.
    worker_init_fn: passed to ``mp_prefetch`` (e.g. :func:`cpu_worker_init`).

  Returns:
    A state ready to apply.
  """
  where = f"pc.grain.adapt({getattr(transform, 'name', '?')})"
  if not isinstance(transform, Transform):
    raise TypeError(
        f"{where}: `transform` must be a prepro Transform (e.g. "
        f"pc.normalization()), got {type(transform).__name__}.")
  if isinstance(dataset, grain.IterDataset):
    raise TypeError(
        f"{where}: `dataset` must be a grain.MapDataset (it is split into "
        f"shards by index), got an IterDataset; adapt an IterDataset in one "
        f"process with pc.adapt(t, iter_dataset).")
  if not isinstance(dataset, grain.MapDataset):
    if not isinstance(dataset, (Sequence, np.ndarray)) or isinstance(
        dataset, (str, bytes)):
      raise TypeError(
          f"{where}: `dataset` must be a grain.MapDataset or a sequence of "
          f"records, got {type(dataset).__name__}.")
    if isinstance(dataset, np.ndarray):
      dataset = list(dataset)  # rows
    dataset = grain.MapDataset.source(dataset)
  checks.check_positive_int(num_workers, "num_workers", where, minimum=0)
  if batch_size is not None:
    checks.check_positive_int(batch_size, "batch_size", where)
  n = len(dataset)
  if n == 0:
    raise ValueError(f"{where}: `dataset` is empty; adapt needs at least one "
                     f"record.")
  shards = min(max(num_workers, 1), n)
  bounds = [(w * n // shards, (w + 1) * n // shards) for w in range(shards)]
  parts = grain.MapDataset.source(bounds).map(
      _ShardAdapter(transform, dataset, batch_size)).to_iter_dataset()
  if num_workers > 0:
    parts = parts.mp_prefetch(
        grain.MultiprocessingOptions(num_workers=shards),
        worker_init_fn=worker_init_fn)
  it = iter(parts)
  try:
    states = [pickle.loads(b) for b in it]
  finally:
    if hasattr(it, "close"):
      it.close()  # ends the worker processes now, not at garbage collection
  return functools.reduce(transform.merge, states)
