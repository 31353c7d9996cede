"""Apache Beam analyzers: adapt prepro transforms over a ``PCollection``.

Imported on first use (``pc.beam`` or ``import prepro_core.beam``), so
``import prepro_core`` never imports Beam; install it with
``pip install 'prepro[beam]'``.

Two ways to learn a state from data too big for one machine:

* ``pcoll | pc.beam.Adapt(t)``: batches the examples, folds each batch with
  ``pc.adapt``'s own step (:class:`AdaptFn`, a ``beam.CombineFn``), merges
  the partial states (``t.combine``: exact counts for the lookups, Chan's
  formula for normalization, Keras' summary merge for discretization) and
  gives a one-element ``PCollection`` holding the state, ready to apply.
  Any adaptable transform (or chain) works.
* ``pcoll | pc.beam.WriteVocabulary(t, prefix)``, for integer_lookup,
  string_lookup and text_vectorization: each batch is tokenized and counted
  in a ``ParDo`` (the transform's own adapt step, so the tokens are exactly
  what ``pc.adapt`` counts), counts are summed per token across workers
  (``CombinePerKey``), the top tokens in Keras' order are kept (``Top``) and
  written as a vocabulary file (one token per line, the format
  ``pc.save_vocabulary`` writes and ``vocabulary=path`` reads), plus an idf
  file (one float per line) in ``tf_idf`` mode. No state holding every
  distinct token ever sits on one worker.

An example is one element of the ``PCollection``: one row of numbers, one
int, one string or document, or one ragged row of strings (one document, for
tf-idf), as ``pc.adapt`` takes them in a list.

  >>> import apache_beam as beam, numpy as np, prepro_core as pc
  >>> t = pc.normalization(axis=None)
  >>> with beam.Pipeline() as p:  # the in-process DirectRunner
  ...   states = (p | beam.Create([1., 2., 3., 4., 5.])
  ...               | pc.beam.Adapt(t, batch_size=2))
  ...   _ = states | beam.Map(lambda s: print(s.mean[0], s.variance[0]))
  3.0 2.0

The same pipeline runs on other runners with their options only, e.g. two
local worker processes::

  options = beam.options.pipeline_options.PipelineOptions([
      "--direct_num_workers=2", "--direct_running_mode=multi_processing"])

or Dataflow (``--runner=DataflowRunner --project=... --region=...
--temp_location=gs://...``; the workers need ``prepro[beam]`` installed,
e.g. through ``--requirements_file``), Flink (``--runner=FlinkRunner``) or
Spark (``--runner=SparkRunner``). Vocabulary files may go to any path Beam's
``FileSystems`` can write (``gs://...`` on Dataflow); reading them back with
``vocabulary=path`` needs a local path.

Errors that a worker raises reach the caller wrapped by Beam; their text
holds prepro's message (``"`pc.beam.Adapt(normalization)`: ..."``).
"""

from __future__ import annotations

import functools
import os
import pickle
import tempfile
from typing import Any, NamedTuple, Optional

import jax
import numpy as np

try:
  import apache_beam as beam
except ImportError as e:  # apache-beam is an optional extra
  raise ImportError(
      "prepro_core.beam needs Apache Beam: pip install 'prepro[beam]' (or "
      "apache-beam>=2.77).") from e

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from prepro_core._src.core import checks
from prepro_core._src.core.adapt import accumulate_batch
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform
from prepro_core._src.host import packed
from prepro_core._src.host import vocab
from prepro_core._src.lookup import table
from prepro_core._src.lookup.integer_lookup import IntegerCounts
from prepro_core._src.lookup.integer_lookup import IntegerLookupState
from prepro_core._src.lookup.string_lookup import TokenCounts
from prepro_core._src.lookup.text_vectorization import TextVectorizationState

__all__ = ["Adapt", "AdaptFn", "StateCoder", "WriteVocabulary",
           "VocabularyFiles", "read_idf_weights"]

VOCABULARY_LOOKUPS = ("integer_lookup", "string_lookup", "text_vectorization")
DEFAULT_BATCH_SIZE = 1024


# ---------------------------------------------------------------------------
# Argument checks.
# ---------------------------------------------------------------------------


def check_transform(transform: Any, where: str, names=None) -> Transform:
  """An adaptable transform (one of ``names``, when given) that pickles.

  Raises:
    TypeError: not a prepro Transform, or one that cannot be pickled to
      Beam's workers.
    ValueError: a transform that learns nothing from data (or not one of
      ``names``).
  """
  if not isinstance(transform, Transform):
    raise TypeError(
        f"{where}: `transform` must be an adaptable prepro Transform (e.g. "
        f"pc.normalization()), got {type(transform).__name__}.")
  if names is not None and transform.name not in names:
    raise ValueError(
        f"{where}: `transform` must be one of {', '.join(names)} (a lookup "
        f"that learns a vocabulary), got {transform.name}; use "
        f"pc.beam.Adapt for other transforms.")
  if not transform.adaptable:
    raise ValueError(
        f"{where}: `transform` must be an adaptable transform (one that "
        f"learns from data, e.g. pc.normalization(), pc.string_lookup()), got "
        f"{transform.name}, which learns nothing (a random transform, or one "
        f"built with constants or a vocabulary); use `transform.init(sample)`"
        f" as its state.")
  try:
    pickle.dumps(transform)
  except (TypeError, pickle.PicklingError, AttributeError) as e:
    raise TypeError(
        f"{where}: `transform` must pickle to travel to Beam's workers: "
        f"{e}") from None
  return transform


def check_path_prefix(path_prefix: Any, where: str) -> str:
  """``path_prefix`` as a non-empty ``str`` (a local path or a Beam URL)."""
  if isinstance(path_prefix, bytes) or not isinstance(
      path_prefix, (str, os.PathLike)):
    raise TypeError(
        f"{where}: `path_prefix` must be a str or os.PathLike (a local path "
        f"or a URL such as gs://bucket/vocab), got "
        f"{type(path_prefix).__name__}.")
  path = os.fspath(path_prefix)
  if not path:
    raise ValueError(f"{where}: `path_prefix` must not be empty.")
  return path


def check_batch_size(batch_size: Any, where: str) -> Optional[int]:
  if batch_size is None:
    return None
  return checks.check_positive_int(batch_size, "batch_size", where)


# Beam deserializes a CombineFn or DoFn once per stage (and more), and each
# copy rebuilds its transform's closures, which jax.jit would compile anew.
# Equal transforms (same factory and arguments) share one instance per
# process instead, and with it its compiled programs.
_SHARED_TRANSFORMS: dict = {}


def shared_transform(transform: Transform) -> Transform:
  """The first transform equal to ``transform`` seen in this process."""
  return _SHARED_TRANSFORMS.setdefault(transform, transform)


# ---------------------------------------------------------------------------
# Examples -> batches, with one dtype and shape per PCollection.
# ---------------------------------------------------------------------------


class Signature(NamedTuple):
  """What every example of one PCollection must share."""
  dtype: str    # a NumPy dtype name, or "str"/"bytes" for text
  shape: tuple  # the example's shape; None where text rows are ragged

  def describe(self) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in self.shape)
    return f"{self.dtype} of shape ({dims}{',' if len(self.shape) == 1 else ''})"


def example_signature(example: Any) -> Signature:
  """The dtype and shape of one example (text rows: their rank only)."""
  leaf, rank = example, 0
  while isinstance(leaf, (list, tuple)) and leaf:
    leaf, rank = leaf[0], rank + 1
  if isinstance(leaf, (str, bytes)):
    return Signature("bytes" if isinstance(leaf, bytes) else "str",
                     (None,) * rank)
  arr = example if hasattr(example, "dtype") and hasattr(
      example, "shape") else np.asarray(example)
  kind = np.dtype(arr.dtype).kind
  if kind in "US":
    return Signature("str" if kind == "U" else "bytes",
                     (None,) * np.ndim(arr))
  return Signature(np.dtype(arr.dtype).name, tuple(np.shape(arr)))


def check_same_signature(a: Signature, b: Signature, where: str) -> None:
  """Examples of another dtype or shape than the ones before are refused."""
  if a != b:
    raise ValueError(
        f"{where}: the examples must all have one dtype and shape, got "
        f"{a.describe()} and {b.describe()}; cast or reshape them the same "
        f"way first (e.g. beam.Map(np.float32)).")


def stack_examples(examples: list, where: str):
  """``(batch, signature)``: examples as one ``pc.adapt`` batch.

  Text stays a list (ragged rows allowed); numbers are stacked along a new
  axis 0, as ``pc.adapt`` stacks a list of rows.
  """
  sig = example_signature(examples[0])
  for example in examples[1:]:
    other = example_signature(example)
    if other != sig:
      check_same_signature(sig, other, where)  # raises
  if sig.dtype in ("str", "bytes"):
    return list(examples), sig
  return np.stack([np.asarray(x) for x in examples]), sig


def as_batch(element: Any, where: str):
  """``(batch, signature)`` of one :class:`AdaptFn` input: a list of
  examples (what ``beam.BatchElements`` makes) or an array of them."""
  if isinstance(element, (list, tuple)):
    if not element:
      return None, None
    return stack_examples(list(element), where)
  if isinstance(element, (np.ndarray, jax.Array)) and np.ndim(element) >= 1:
    if np.shape(element)[0] == 0:
      return None, None
    return element, example_signature(element[0])
  raise TypeError(
      f"{where}: each input must be a batch (a list of examples, as "
      f"beam.BatchElements makes, or an array with the examples along axis "
      f"0), got {type(element).__name__}; use pc.beam.Adapt(transform) on a "
      f"PCollection of single examples.")


# ---------------------------------------------------------------------------
# States on the wire.
# ---------------------------------------------------------------------------


def to_numpy(tree: Any) -> Any:
  """``tree`` with every array leaf a fresh NumPy array (device arrays are
  fetched; no two leaves share an object, so equal trees pickle alike)."""
  return jax.tree_util.tree_map(
      lambda x: np.array(x) if isinstance(x, (np.ndarray, jax.Array)) else x,
      tree)


class StateCoder(beam.coders.Coder):
  """Encodes a state pytree (or an :class:`AdaptFn` accumulator) as pickled
  NumPy leaves, so that it travels between Beam's worker processes.

  Deterministic: equal states (same NamedTuple types, same leaf dtypes,
  shapes and bytes) encode to equal bytes, pickle protocol 5 fixed.
  """

  def encode(self, value: Any) -> bytes:
    return pickle.dumps(to_numpy(value), protocol=5)

  def decode(self, encoded: bytes) -> Any:
    # Encoded by this coder in a worker of the same pipeline.
    return pickle.loads(encoded)

  def is_deterministic(self) -> bool:
    return True

  def __eq__(self, other):
    return type(self) is type(other)

  def __hash__(self):
    return hash(type(self))


# ---------------------------------------------------------------------------
# pc.beam.AdaptFn / pc.beam.Adapt.
# ---------------------------------------------------------------------------


class Accumulator(NamedTuple):
  """What :class:`AdaptFn` carries: the examples' signature and the
  unfinalized state of the batches folded so far."""
  signature: Signature
  state: State


class AdaptFn(beam.CombineFn):
  """``pc.adapt`` as a ``beam.CombineFn`` over batches of examples.

  ``add_input`` folds one batch (a list of examples, as ``BatchElements``
  makes, or an array) into the accumulator with ``pc.adapt``'s own step,
  initialising the state from the first batch; ``merge_accumulators`` merges
  partial states with the transform's ``combine``; ``extract_output``
  finalizes, returning a state with NumPy leaves, ready to apply. Before any
  batch the accumulator is None (never an empty state merged in), so data
  that arrives as one batch gives exactly ``pc.adapt``'s state.

  Raises (in the worker, wrapped by Beam; the text is prepro's):
    ValueError: no example at all; examples of another dtype or shape than
      the others.
  """

  def __init__(self, transform: Transform, where: Optional[str] = None):
    super().__init__()
    check_transform(transform, "`pc.beam.AdaptFn`")
    self.transform = transform
    self.where = where or f"`pc.beam.AdaptFn({transform.name})`"

  def __setstate__(self, state):
    self.__dict__.update(state)
    self.transform = shared_transform(self.transform)

  def create_accumulator(self) -> Optional[Accumulator]:
    return None

  def add_input(self, accumulator: Optional[Accumulator],
                element: Any) -> Optional[Accumulator]:
    batch, sig = as_batch(element, self.where)
    if batch is None:
      return accumulator  # an empty batch: pc.adapt skips those too
    state = None
    if accumulator is not None:
      check_same_signature(accumulator.signature, sig, self.where)
      state = accumulator.state
    return Accumulator(sig, accumulate_batch(self.transform, state, batch,
                                             self.where))

  def merge_accumulators(self, accumulators) -> Optional[Accumulator]:
    parts = [a for a in accumulators if a is not None]
    if not parts:
      return None
    for a in parts[1:]:
      check_same_signature(parts[0].signature, a.signature, self.where)
    state = functools.reduce(self.transform.combine, (a.state for a in parts))
    return Accumulator(parts[0].signature, state)

  def extract_output(self, accumulator: Optional[Accumulator]) -> State:
    if accumulator is None:
      raise ValueError(
          f"{self.where}: the PCollection is empty; adapt needs at least one "
          f"example.")
    return to_numpy(self.transform.finalize(accumulator.state))

  def get_accumulator_coder(self) -> beam.coders.Coder:
    return StateCoder()


class Adapt(beam.PTransform):
  """``pcoll | pc.beam.Adapt(t)``: the state ``pc.adapt(t, all_examples)``
  gives, as a one-element ``PCollection``.

  Args:
    transform: an adaptable prepro :class:`~prepro_core.Transform`.
    batch_size: examples per adapt batch (``beam.BatchElements``; a bundle's
      last batch may be shorter). None: each element is already a batch (a
      list of examples or an array).

  The state equals ``pc.adapt``'s exactly for the lookups and
  text_vectorization (token counts add up), to float rounding for
  normalization (Chan's merge), and for discretization within Keras'
  ``epsilon`` guarantee (bit for bit when the data arrives as one batch).
  """

  def __init__(self, transform: Transform,
               batch_size: Optional[int] = DEFAULT_BATCH_SIZE,
               label: Optional[str] = None):
    super().__init__(label)
    self.transform = check_transform(transform, "`pc.beam.Adapt`")
    self.batch_size = check_batch_size(batch_size, "`pc.beam.Adapt`")

  def expand(self, pcoll):
    where = f"`pc.beam.Adapt({self.transform.name})`"
    if self.batch_size is not None:
      pcoll = pcoll | "Batch" >> beam.BatchElements(
          min_batch_size=self.batch_size, max_batch_size=self.batch_size)
    return pcoll | "AdaptFn" >> beam.CombineGlobally(
        AdaptFn(self.transform, where))


# ---------------------------------------------------------------------------
# pc.beam.WriteVocabulary: the per-token path.
# ---------------------------------------------------------------------------


class VocabularyFiles(NamedTuple):
  """The files :class:`WriteVocabulary` wrote."""
  vocabulary: str             # one token per line, mask/OOV prefix first
  idf_weights: Optional[str]  # tf_idf: one float per vocabulary line, else None


def lookup_part(state: State) -> State:
  """The lookup state inside a text_vectorization state (else ``state``)."""
  return state.lookup if isinstance(state, TextVectorizationState) else state


def count_table(state: State):
  """``(tokens, counts, doc_counts, num_docs)`` of a lookup's adapt counts:
  Python lists (tokens as ``str``, ints for integer_lookup)."""
  counts = lookup_part(state).counts
  if isinstance(counts, IntegerCounts):
    tokens = counts.values.tolist()
  else:
    tokens = packed.unpack(counts.tokens)
  doc_counts = counts.doc_counts.tolist() or [0] * len(tokens)
  return tokens, counts.counts.tolist(), doc_counts, int(counts.num_docs)


def with_counts(state: State, tokens: list, counts: list, doc_counts: list,
                num_docs: int) -> State:
  """``state`` (a fresh lookup state) holding the given adapt counts."""
  inner = lookup_part(state)
  track = num_docs > 0  # documents are counted in tf_idf mode only
  docs = np.asarray(doc_counts if track else [], np.int64)
  n_docs = np.asarray(num_docs, np.int64)
  counts = np.asarray(counts, np.int64)
  if isinstance(inner, IntegerLookupState):
    values = np.asarray(tokens, np.int64)
    order = np.argsort(values, kind="stable")  # IntegerCounts: ascending
    table_ = IntegerCounts(values[order], counts[order],
                           docs[order] if track else docs, n_docs)
  else:
    table_ = TokenCounts(packed.pack(tokens), counts, docs, n_docs)
  inner = inner._replace(counts=table_)
  if isinstance(state, TextVectorizationState):
    return state._replace(lookup=inner)
  return inner


def keras_order(token_and_counts) -> tuple:
  """Keras' vocabulary order as a sort key: count, then token (both
  descending under ``Top``). ``str`` order is UTF-8 byte order."""
  token, (count, _) = token_and_counts
  return count, token


def top_size(transform: Transform) -> Optional[int]:
  """How many of the most frequent tokens can make the vocabulary.

  ``max_tokens`` less the mask/OOV slots, as the lookup's adapt cuts it,
  plus 2: the mask and OOV tokens may be among the most frequent, and are
  dropped (as Keras drops them) when the vocabulary is learned. None: every
  token.
  """
  max_tokens = transform.recipe.arguments.get("max_tokens")
  if max_tokens is None:
    return None
  reserved = len(table.get_vocabulary(transform.init(None)))
  return max(max_tokens - reserved, 0) + 2


class CountBatch(beam.DoFn):
  """Tokenizes and counts one batch with the lookup's own adapt step.

  Emits ``(token, (count, documents holding it))`` per distinct token, and
  ``(examples, documents)`` on the ``totals`` output.
  """
  TOTALS = "totals"

  def __init__(self, transform: Transform, where: str):
    super().__init__()
    self.transform = transform
    self.where = where

  def __setstate__(self, state):
    self.__dict__.update(state)
    self.transform = shared_transform(self.transform)

  def process(self, element):
    batch, _ = as_batch(element, self.where)
    if batch is None:
      return
    state = accumulate_batch(self.transform, None, batch, self.where)
    tokens, counts, doc_counts, num_docs = count_table(state)
    yield from zip(tokens, zip(counts, doc_counts))
    yield beam.pvalue.TaggedOutput(self.TOTALS, (len(batch), num_docs))


def write_file(path: str, write_local, where: str) -> None:
  """Writes ``path`` (any Beam filesystem) with what ``write_local(local)``
  writes to a local file, byte for byte."""
  with tempfile.TemporaryDirectory() as tmp:
    local = os.path.join(tmp, "file")
    write_local(local)
    with open(local, "rb") as f:
      data = f.read()
  try:
    with FileSystems.create(
        path, compression_type=CompressionTypes.UNCOMPRESSED) as out:
      out.write(data)
  except OSError as e:  # Beam's BeamIOError is an OSError too
    raise ValueError(
        f"{where}: cannot write the vocabulary file {path!r}: {e}. Check "
        f"that `path_prefix` names a writable location.") from None


def write_idf_lines(weights: np.ndarray, path: str) -> None:
  """One float per line, each the shortest text that reads back to the same
  float32."""
  with open(path, "w", encoding="utf-8", newline="\n") as f:
    f.write("".join(f"{float(w)!r}\n" for w in weights))


def write_vocabulary(top: list, totals: tuple, transform: Transform,
                     path_prefix: str, where: str) -> VocabularyFiles:
  """The vocabulary (and idf) files of the top tokens' counts.

  The lookup's own finalize orders and cuts the vocabulary and computes the
  idf, so the files hold exactly what ``pc.adapt``'s state holds.
  """
  examples, num_docs = totals
  if examples == 0:
    raise ValueError(f"{where}: the PCollection is empty; a vocabulary needs "
                     f"at least one example.")
  tokens = [token for token, _ in top]
  counts = [c for _, (c, _) in top]
  doc_counts = [d for _, (_, d) in top]
  state = transform.finalize(with_counts(transform.init(None), tokens, counts,
                                         doc_counts, num_docs))
  words = table.get_vocabulary(state)
  encoding = transform.recipe.arguments.get("encoding", "utf-8")
  files = VocabularyFiles(f"{path_prefix}.vocabulary.txt", None)
  write_file(files.vocabulary, functools.partial(
      vocab.write_vocabulary_file, words, encoding=encoding, where=where),
             where)
  idf = np.asarray(lookup_part(state).idf_weights)
  if idf.size:
    files = files._replace(idf_weights=f"{path_prefix}.idf.txt")
    # The back padding of pad_to_max_tokens is added again on load.
    write_file(files.idf_weights, functools.partial(
        write_idf_lines, idf[:len(words)]), where)
  return files


class WriteVocabulary(beam.PTransform):
  """``pcoll | pc.beam.WriteVocabulary(t, prefix)``: a lookup's adapted
  vocabulary written as files, counted per token across workers.

  Writes ``{path_prefix}.vocabulary.txt`` (one token per line, Keras'
  mask/OOV prefix first: the file ``pc.save_vocabulary`` writes for the
  state ``pc.adapt(t, all_examples)`` gives) and, in ``tf_idf`` mode,
  ``{path_prefix}.idf.txt`` (one float per vocabulary line). Load them with
  the same factory arguments plus ``vocabulary=files.vocabulary`` (and
  ``idf_weights=pc.beam.read_idf_weights(files.idf_weights)``).

  Args:
    transform: an adaptable integer_lookup, string_lookup or
      text_vectorization.
    path_prefix: where the files go: a local path or a Beam filesystem URL.
    batch_size: examples per tokenize-and-count batch; None: each element
      is already a batch.

  Returns (from ``expand``):
    A one-element ``PCollection`` of :class:`VocabularyFiles`.

  Raises (in the worker, wrapped by Beam; the text is prepro's):
    ValueError: an empty PCollection; a vocabulary token with a line break
      (a line-based file cannot hold it: use :class:`Adapt` and pickle the
      state); a file that cannot be written.
  """

  def __init__(self, transform: Transform, path_prefix: Any,
               batch_size: Optional[int] = DEFAULT_BATCH_SIZE,
               label: Optional[str] = None):
    super().__init__(label)
    where = "`pc.beam.WriteVocabulary`"
    self.transform = check_transform(transform, where, VOCABULARY_LOOKUPS)
    self.path_prefix = check_path_prefix(path_prefix, where)
    self.batch_size = check_batch_size(batch_size, where)

  def expand(self, pcoll):
    where = f"`pc.beam.WriteVocabulary({self.transform.name})`"
    if self.batch_size is not None:
      pcoll = pcoll | "Batch" >> beam.BatchElements(
          min_batch_size=self.batch_size, max_batch_size=self.batch_size)
    counted = pcoll | "CountBatch" >> beam.ParDo(
        CountBatch(self.transform, where)).with_outputs(CountBatch.TOTALS,
                                                         main="tokens")
    add_pairs = beam.combiners.TupleCombineFn(sum, sum)
    per_token = counted.tokens | "SumPerToken" >> beam.CombinePerKey(add_pairs)
    totals = counted[CountBatch.TOTALS] | "SumTotals" >> beam.CombineGlobally(
        add_pairs)
    k = top_size(self.transform)
    if k is None:
      top = per_token | "AllTokens" >> beam.combiners.ToList()
    else:
      top = per_token | "TopTokens" >> beam.combiners.Top.Of(k, key=keras_order)
    return top | "Write" >> beam.Map(
        write_vocabulary, totals=beam.pvalue.AsSingleton(totals),
        transform=self.transform, path_prefix=self.path_prefix, where=where)


def read_idf_weights(path: str) -> np.ndarray:
  """The idf file :class:`WriteVocabulary` writes, as float64 weights for a
  lookup's ``idf_weights`` argument (they round to the written float32s).

  Raises:
    ValueError: the file is missing or a line is not a number.
  """
  where = "`pc.beam.read_idf_weights`"
  try:
    with FileSystems.open(
        path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
      lines = f.read().decode("utf-8").splitlines()
  except OSError as e:
    raise ValueError(f"{where}: cannot read {path!r}: {e}") from None
  try:
    return np.array([float(line) for line in lines], np.float64)
  except ValueError:
    raise ValueError(f"{where}: {path!r} must hold one number per line (an "
                     f"idf file pc.beam.WriteVocabulary wrote).") from None
