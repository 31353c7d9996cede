"""pc.beam: Beam analyzers equal pc.adapt, on Beam's local runners.

Most pipelines run on the in-process DirectRunner; data is split over
several bundles by flattening several ``Create``s. Two pipelines run on two
worker processes (``--direct_running_mode=multi_processing``), whose start-up
(a fresh Python importing jax per worker) is most of their time.
"""
import os
import pickle
import uuid

import numpy as np
import pytest

beam = pytest.importorskip("apache_beam")  # in the test extra

import prepro_core as pc  # pylint: disable=g-import-not-at-top,wrong-import-position
from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top,wrong-import-position

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def two_workers(monkeypatch):
  """Options for two local worker processes, which import this module (for
  its DoFns) from the tests folder."""
  path = os.environ.get("PYTHONPATH", "")
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
      p for p in (TESTS_DIR, path) if p))
  return ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]

WORDS = ["the", "cat", "sat", "dog", "a", "and", "end", "zebra", "Été",
         "naïve", "日本", "çà", "x"]


def _docs(n, seed=0):
  rng = np.random.default_rng(seed)
  ranks = rng.zipf(1.6, size=(n, 7)) % len(WORDS)
  lengths = rng.integers(1, 8, size=n)
  punct = ["", "", ",", "!", "."]
  return [" ".join(WORDS[r] + punct[r % 5] for r in row[:k])
          for row, k in zip(ranks, lengths)]


def _ints(n, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.zipf(1.5, size=n) % 40).astype(np.int64)


def _bundles(p, examples, parts=4, name="data"):
  """``examples`` as one PCollection made of ``parts`` separate bundles."""
  n = len(examples)
  # Each Create is a bundle of its own (no reshuffle: fewer stages).
  pieces = [p | f"{name}{i}" >> beam.Create(
      list(examples[i * n // parts:(i + 1) * n // parts]), reshuffle=False)
            for i in range(parts)]
  return pieces | f"{name}Flatten" >> beam.Flatten()


class _Save(beam.DoFn):
  """Pickles the (single) element it sees to ``path``."""

  def __init__(self, path):
    super().__init__()
    self.path = path

  def process(self, element):
    with open(self.path, "wb") as f:
      pickle.dump(element, f)


def _run(tmp_path, build, options=()):
  """Runs ``build(p) -> {name: one-element PCollection}``; their elements."""
  paths = {}
  with beam.Pipeline(options=PipelineOptions(list(options))) as p:
    for name, pcoll in build(p).items():
      paths[name] = str(tmp_path / f"{name.replace('/', '_')}-{uuid.uuid4().hex}.pkl")
      _ = pcoll | f"Save{name}" >> beam.ParDo(_Save(paths[name]))
  out = {}
  for name, path in paths.items():
    with open(path, "rb") as f:
      out[name] = pickle.load(f)
  return out


def _assert_same_state(a, b):
  la, lb = (__import__("jax").tree_util.tree_leaves(s) for s in (a, b))
  assert type(a) is type(b) and len(la) == len(lb)
  for x, y in zip(la, lb):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _cdf(data, bounds):
  return np.array([np.mean(data < b) for b in bounds])


# --- Adapt == pc.adapt: one in-process pipeline for every case ----------------

NUMBERS = np.random.default_rng(1).normal(3., 2., size=(203, 3)).astype(
    np.float32)
SKEWED = np.random.default_rng(2).gamma(2., size=1200).astype(np.float32)
EPSILON = 0.01
INTS = _ints(500)
DOCS = _docs(150, seed=4)
WORD_DOCS = _docs(120, seed=3)
TOKENS = [w for d in WORD_DOCS for w in d.split()]
ROWS = [d.split() or ["x"] for d in WORD_DOCS]  # a ragged row is one document
ODD_TOKENS = ["héllo", "日本語", "a b", "tab\there", " lead", "trail ", "😀",
              "a b"]

# name: (factory, its arguments, examples, examples to apply the states to)
LOOKUP_CASES = {
    "integer_lookup-int": (pc.integer_lookup, {}, INTS, INTS),
    "integer_lookup-tf_idf": (pc.integer_lookup, dict(
        max_tokens=8, output_mode="tf_idf", mask_token=0), INTS, INTS),
    "string_lookup-int": (pc.string_lookup, {}, TOKENS, TOKENS),
    "string_lookup-max_tokens-mask": (pc.string_lookup, dict(
        max_tokens=6, num_oov_indices=2, mask_token="a"), TOKENS, TOKENS),
    "string_lookup-tf_idf-rows": (pc.string_lookup, dict(
        output_mode="tf_idf"), ROWS, [["the", "cat", "zzz"],
                                      ["a", "x", "日本"]]),
    "string_lookup-utf8-spaces-tabs": (pc.string_lookup, {}, ODD_TOKENS,
                                       ODD_TOKENS),
    "text_vectorization-int": (pc.text_vectorization, dict(
        output_sequence_length=6), DOCS, DOCS),
    "text_vectorization-multi_hot": (pc.text_vectorization, dict(
        output_mode="multi_hot", max_tokens=9), DOCS, DOCS),
    "text_vectorization-tf_idf": (pc.text_vectorization, dict(
        output_mode="tf_idf", max_tokens=10, pad_to_max_tokens=True), DOCS,
                                  DOCS),
    "text_vectorization-ngrams2": (pc.text_vectorization, dict(
        ngrams=2, max_tokens=12, output_sequence_length=10), DOCS, DOCS),
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
  """Every case's Beam outputs, from one pipeline (start-up is its cost)."""
  tmp = tmp_path_factory.mktemp("beam")
  norm = pc.normalization()
  disc = pc.discretization(num_bins=4, epsilon=EPSILON)

  def build(p):
    out = {
        "normalization": _bundles(p, NUMBERS, name="numbers")
                         | "Norm" >> pc.beam.Adapt(norm, batch_size=16),
        # One bundle, one batch of all examples: pc.adapt's state exactly.
        "discretization-one_batch": (
            p | "one" >> beam.Create(list(SKEWED))
            | "Disc1" >> pc.beam.Adapt(disc, batch_size=len(SKEWED))),
        # batch_size=None: each element is already a batch.
        "discretization-given_batch": (
            p | "whole" >> beam.Create([SKEWED])
            | "Disc2" >> pc.beam.Adapt(disc, batch_size=None)),
        "discretization-bundles": (
            _bundles(p, SKEWED, name="skewed")
            | "Disc3" >> pc.beam.Adapt(disc, batch_size=100)),
    }
    datasets = {}  # cases on the same examples share their PCollection
    for name, (factory, kwargs, examples, _) in LOOKUP_CASES.items():
      t = factory(**kwargs)
      if id(examples) not in datasets:
        datasets[id(examples)] = _bundles(p, examples, name=name)
      data = datasets[id(examples)]
      out[name] = data | f"Adapt-{name}" >> pc.beam.Adapt(t, batch_size=13)
      out[name + "/files"] = data | f"Write-{name}" >> pc.beam.WriteVocabulary(
          t, str(tmp / name), batch_size=13)
    return out
  # Type checks cost a fifth of this large pipeline's time; the other
  # pipelines here run with them.
  return _run(tmp, build, ["--no_pipeline_type_check"])


def test_normalization_over_bundles(outputs):
  t = pc.normalization()
  out, ref = outputs["normalization"], pc.adapt(t, NUMBERS)
  assert isinstance(out, pc.NormalizationState)
  assert float(out.count) == float(ref.count) == 203
  # Chan's merge in another order: equal to float32 rounding.
  np.testing.assert_allclose(out.mean, ref.mean, rtol=1e-6)
  np.testing.assert_allclose(out.variance, ref.variance, rtol=1e-5)
  np.testing.assert_allclose(t.apply(out, NUMBERS), t.apply(ref, NUMBERS),
                             atol=1e-5)


def test_discretization_one_batch_is_bit_exact(outputs):
  ref = pc.adapt(pc.discretization(num_bins=4, epsilon=EPSILON), SKEWED)
  _assert_same_state(outputs["discretization-one_batch"], ref)
  _assert_same_state(outputs["discretization-given_batch"], ref)


def test_discretization_over_bundles_within_epsilon(outputs):
  # Keras' summary keeps every boundary's rank within a few epsilon of its
  # quantile (pc.adapt streamed over the same batches does no better).
  bounds = np.asarray(outputs["discretization-bundles"].bin_boundaries)
  assert np.all(np.diff(bounds) >= 0)
  np.testing.assert_array_less(np.abs(_cdf(SKEWED, bounds) - [.25, .5, .75]),
                               2 * EPSILON)


@pytest.mark.parametrize("name", LOOKUP_CASES)
def test_lookup_adapt_equals_pc_adapt(outputs, name):
  factory, kwargs, examples, apply_on = LOOKUP_CASES[name]
  t = factory(**kwargs)
  ref = pc.adapt(t, examples)
  _assert_same_state(outputs[name], ref)
  np.testing.assert_array_equal(np.asarray(t.apply(outputs[name], apply_on)),
                                np.asarray(t.apply(ref, apply_on)))


@pytest.mark.parametrize("name", LOOKUP_CASES)
def test_vocabulary_files_load_like_pc_adapt(outputs, tmp_path, name):
  factory, kwargs, examples, apply_on = LOOKUP_CASES[name]
  t = factory(**kwargs)
  files = outputs[name + "/files"]
  assert (files.idf_weights is not None) == (
      kwargs.get("output_mode") == "tf_idf")
  _assert_loaded_file_matches(tmp_path, t, pc.adapt(t, examples), files,
                              factory, kwargs, apply_on)


def _assert_loaded_file_matches(tmp_path, t, ref, files, factory, kwargs,
                                data):
  """The written vocabulary is pc.save_vocabulary's file, and a lookup
  loaded from it applies like the adapted state."""
  saved = str(tmp_path / "saved.txt")
  pc.save_vocabulary(ref, saved)
  with open(saved, "rb") as a, open(files.vocabulary, "rb") as b:
    assert a.read() == b.read()
  loaded_kwargs = dict(kwargs, vocabulary=files.vocabulary)
  if files.idf_weights is not None:
    loaded_kwargs["idf_weights"] = pc.beam.read_idf_weights(files.idf_weights)
  loaded = factory(**loaded_kwargs)
  state = loaded.init(None)
  assert pc.get_vocabulary(state) == pc.get_vocabulary(ref)
  np.testing.assert_array_equal(np.asarray(loaded.apply(state, data)),
                                np.asarray(t.apply(ref, data)))


def test_tokens_with_spaces_and_tabs_are_lines_verbatim(outputs):
  ref = pc.adapt(pc.string_lookup(), ODD_TOKENS)
  path = outputs["string_lookup-utf8-spaces-tabs/files"].vocabulary
  with open(path, encoding="utf-8") as f:
    assert f.read().split("\n")[:-1] == pc.get_vocabulary(ref)


def test_two_worker_processes(tmp_path, two_workers):
  docs = _docs(400, seed=5)
  kwargs = dict(output_mode="tf_idf", ngrams=2, max_tokens=15)
  t, norm = pc.text_vectorization(**kwargs), pc.normalization()

  def build(p):
    data = _bundles(p, docs, parts=6)
    return {"text": data | pc.beam.Adapt(t, batch_size=20),
            "files": data | pc.beam.WriteVocabulary(
                t, str(tmp_path / "mp"), batch_size=20),
            "numbers": _bundles(p, NUMBERS, name="numbers")
                       | "Norm" >> pc.beam.Adapt(norm, batch_size=16)}
  out = _run(tmp_path, build, two_workers)
  ref = pc.adapt(t, docs)
  _assert_same_state(out["text"], ref)
  _assert_loaded_file_matches(tmp_path, t, ref, out["files"],
                              pc.text_vectorization, kwargs, docs)
  np.testing.assert_allclose(out["numbers"].variance,
                             pc.adapt(norm, NUMBERS).variance, rtol=1e-5)


# --- vocabulary files: what the lines cannot hold -----------------------------


def test_newline_token_is_refused(tmp_path):
  t = pc.string_lookup()
  with pytest.raises(Exception, match=r"`pc\.beam\.WriteVocabulary\("
                     r"string_lookup\)`: token 'two\\nlines' contains a line "
                     r"break"):
    _run(tmp_path, lambda p: {"files": p | beam.Create(
        ["a", "two\nlines", "b"]) | pc.beam.WriteVocabulary(
            t, str(tmp_path / "nl"))})
  assert not os.path.exists(tmp_path / "nl.vocabulary.txt")


# --- AdaptFn and its coder, without a pipeline ---------------------------------


def test_adapt_fn_pickles_and_combines_like_adapt():
  docs = _docs(60, seed=6)
  t = pc.string_lookup(output_mode="tf_idf")
  fn = pickle.loads(pickle.dumps(pc.beam.AdaptFn(t)))
  assert fn.transform == t
  coder = fn.get_accumulator_coder()
  shards = []
  for lo in range(0, 60, 20):
    acc = fn.create_accumulator()
    for i in range(lo, lo + 20, 5):
      acc = fn.add_input(acc, docs[i:i + 5])
    encoded = coder.encode(acc)
    assert coder.encode(coder.decode(encoded)) == encoded  # deterministic
    shards.append(coder.decode(encoded))
  merged = fn.merge_accumulators([fn.create_accumulator()] + shards)
  _assert_same_state(fn.extract_output(merged), pc.adapt(t, docs))
  assert coder.is_deterministic()


def test_state_coder_round_trips_device_states():
  t = pc.normalization(axis=None)
  state = pc.adapt(t, np.arange(10, dtype=np.float32))
  coder = pc.beam.StateCoder()
  back = coder.decode(coder.encode(state))
  _assert_same_state(back, state)
  assert all(isinstance(leaf, np.ndarray) for leaf in back)


# --- bad input ------------------------------------------------------------------


def _module_level_split(x):
  return [s.split("-") for s in x]


def test_bad_transforms_are_refused_when_built(tmp_path):
  with pytest.raises(ValueError, match="`pc.beam.Adapt`: `transform` must be "
                     "an adaptable transform .*got random_flip"):
    pc.beam.Adapt(pc.random_flip())
  with pytest.raises(ValueError, match="`pc.beam.AdaptFn`: `transform` must "
                     "be an adaptable transform .*got string_lookup"):
    pc.beam.AdaptFn(pc.string_lookup(vocabulary=["a"]))
  with pytest.raises(TypeError, match="`pc.beam.Adapt`: `transform` must be "
                     "an adaptable prepro Transform .*got str"):
    pc.beam.Adapt("normalization")
  with pytest.raises(TypeError, match="`pc.beam.Adapt`: `transform` must "
                     "pickle .*lambda"):
    pc.beam.Adapt(pc.text_vectorization(standardize=lambda x: x))
  with pytest.raises(ValueError, match="`pc.beam.WriteVocabulary`: "
                     "`transform` must be one of integer_lookup, "
                     "string_lookup, text_vectorization .*got normalization"):
    pc.beam.WriteVocabulary(pc.normalization(), str(tmp_path / "v"))
  with pytest.raises(TypeError, match="`pc.beam.WriteVocabulary`: "
                     "`path_prefix` must be a str"):
    pc.beam.WriteVocabulary(pc.string_lookup(), 3)
  with pytest.raises(ValueError, match="`pc.beam.Adapt`: `batch_size` must "
                     "be an int >= 1, got 0"):
    pc.beam.Adapt(pc.normalization(), batch_size=0)
  # A module-level callable pickles by reference: accepted.
  pc.beam.Adapt(pc.text_vectorization(split=_module_level_split))


def test_adapt_fn_bad_batches():
  fn = pc.beam.AdaptFn(pc.normalization())
  with pytest.raises(ValueError, match=r"`pc.beam.AdaptFn\(normalization\)`: "
                     r"the PCollection is empty"):
    fn.extract_output(fn.create_accumulator())
  with pytest.raises(TypeError, match="each input must be a batch"):
    fn.add_input(None, 1.5)
  with pytest.raises(ValueError, match="one dtype and shape, got float32 of "
                     r"shape \(2,\) and float32 of shape \(3,\)"):
    fn.add_input(None, [np.zeros(2, np.float32), np.zeros(3, np.float32)])
  a = fn.add_input(None, [np.zeros(2, np.float32)])
  b = fn.add_input(None, [np.zeros(2, np.float64)])
  with pytest.raises(ValueError, match="float32 of shape .* and float64"):
    fn.merge_accumulators([a, b])
  with pytest.raises(ValueError, match="float32 of shape .* and float64"):
    fn.add_input(a, np.zeros((4, 2), np.float64))
  with pytest.raises(ValueError, match=r"`pc.beam.AdaptFn\(normalization\)`: "
                     r"`data` contains 1 NaN"):
    fn.add_input(None, [np.array([np.nan, 0.], np.float32)])


def test_errors_in_workers_keep_prepro_messages(tmp_path):
  with pytest.raises(Exception, match=r"`pc.beam.Adapt\(normalization\)`: "
                     r"the PCollection is empty"):
    _run(tmp_path, lambda p: {"s": p | beam.Create([]) | pc.beam.Adapt(
        pc.normalization())})
  with pytest.raises(Exception, match=r"`pc.beam.WriteVocabulary\("
                     r"text_vectorization\)`: the PCollection is empty"):
    _run(tmp_path, lambda p: {"s": p | beam.Create([]) | pc.beam.
                              WriteVocabulary(pc.text_vectorization(),
                                              str(tmp_path / "e"))})
  with pytest.raises(Exception, match=r"`pc.beam.Adapt\(string_lookup\)`: "
                     r"the examples must all have one dtype and shape, got "
                     r"str .* and int64"):
    _run(tmp_path, lambda p: {"s": p | beam.Create(["a", 3, "b"]) | pc.beam.
                              Adapt(pc.string_lookup())})
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  with pytest.raises(Exception, match=r"`pc.beam.WriteVocabulary\("
                     r"string_lookup\)`: cannot write the vocabulary file "):
    _run(tmp_path, lambda p: {"s": p | beam.Create(["a", "b"]) | pc.beam.
                              WriteVocabulary(pc.string_lookup(),
                                              str(blocker / "sub" / "v"))})


def test_mixed_dtypes_in_a_worker_process(tmp_path, two_workers):
  with pytest.raises(Exception, match=r"`pc.beam.Adapt\(normalization\)`: "
                     r"the examples must all have one dtype and shape, got "
                     r"float64 of shape \(\) and int64 of shape \(\)"):
    _run(tmp_path, lambda p: {"s": p | beam.Create([1.5, 2.5, 3]) | pc.beam.
                              Adapt(pc.normalization(axis=None))},
         two_workers)
