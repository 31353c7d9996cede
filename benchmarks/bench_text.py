"""TextVectorization: prepro vs Keras 3 (TensorFlow string ops), one run.

    /work/peers/bin/python benchmarks/bench_text.py [--quick]

Workload: ../shared/bench/corpus.py's corpus (200,000 documents; 20,000 with
--quick), the same documents for both. Measured: adapt (default arguments)
and apply with output_mode="int", output_sequence_length=32 on the whole
corpus as one batch and in batches of 10,000 documents. Each timing is the
median of three runs (two with --quick) after a warm-up; Keras runs on the
JAX backend (its outputs are converted to jax arrays; prepro returns NumPy
int32). prepro uses its numba kernels (host/kernels/numba_text.py) when numba
is installed; set PREPRO_HOST_KERNELS=numpy to time the NumPy kernels.

Peer rows "pyarrow" (skipped when pyarrow is missing; prepro never imports
it): the same standardize and split in ``pyarrow.compute`` on a
``pa.array`` of the documents, ``ascii_lower``, ``replace_substring_regex``
of the 32 ASCII punctuation characters, ``ascii_trim_whitespace`` (else
``ascii_split_whitespace`` splits off empty tokens), ``ascii_split_whitespace``
and ``list_flatten``; adapt then ``value_counts`` (ordering the counts into a
vocabulary is left out of its time), apply then ``index_in`` the vocabulary
and a NumPy scatter into the padded ``(n, 32)`` ids. Both are checked to
give prepro's vocabulary and ids on the corpus.
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

import prepro_core as pc  # noqa: E402


def _best(fn, repeats):
  """The median time of ``repeats`` runs of ``fn`` after a warm-up."""
  fn()  # warm-up
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    out = fn()
    if hasattr(out, "block_until_ready"):
      out.block_until_ready()
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


# The 32 ASCII punctuation characters, as RE2 ranges: 33-47, 58-64, 91-96,
# 123-126.
_PUNCTUATION_RE = "[!-/:-@\\[-`{-~]"


def _pyarrow_tokens(docs):
  """pyarrow.compute's standardize and split: (flat tokens, list offsets)."""
  import pyarrow as pa  # pylint: disable=import-outside-toplevel
  import pyarrow.compute as pac  # pylint: disable=import-outside-toplevel
  text = pac.ascii_lower(pa.array(docs, pa.string()))
  text = pac.replace_substring_regex(text, _PUNCTUATION_RE, "")
  # Trimmed first, or leading and trailing whitespace would split off "".
  lists = pac.ascii_split_whitespace(pac.ascii_trim_whitespace(text))
  return pac.list_flatten(lists), lists.offsets


def _pyarrow_adapt(docs):
  import pyarrow.compute as pac  # pylint: disable=import-outside-toplevel
  return pac.value_counts(_pyarrow_tokens(docs)[0])


def _pyarrow_vocabulary(counts) -> list:
  """Keras' order: count descending, ties by token descending (bytes)."""
  words = counts.field("values").to_pylist()
  freq = counts.field("counts").to_pylist()
  order = sorted((i for i in range(len(words)) if words[i]),  # "": empty docs
                 key=lambda i: (freq[i], words[i].encode()), reverse=True)
  return [words[i] for i in order]


def _pyarrow_apply(docs, vocab, width):
  import pyarrow.compute as pac  # pylint: disable=import-outside-toplevel
  flat, offsets = _pyarrow_tokens(docs)
  idx = pac.index_in(flat, value_set=vocab)
  ids = pac.fill_null(pac.add(idx, 2), 1).to_numpy()  # 0 mask, 1 OOV
  offs = offsets.to_numpy()
  lens = np.diff(offs)
  row = np.repeat(np.arange(len(docs)), lens)
  col = np.arange(len(ids)) - np.repeat(offs[:-1], lens)
  # An empty document splits into one "": it has no ids.
  keep = (col < width) & pac.not_equal(flat, "").to_numpy(zero_copy_only=False)
  out = np.zeros((len(docs), width), np.int32)
  out[row[keep], col[keep]] = ids[keep]
  return out


def _pyarrow_rows(docs, t, state, repeats) -> dict:
  """The pyarrow peer's times, checked against prepro; {} without pyarrow."""
  try:
    import pyarrow as pa  # pylint: disable=import-outside-toplevel
  except ImportError:
    return {}
  vocab = pc.get_vocabulary(state)[2:]
  assert _pyarrow_vocabulary(_pyarrow_adapt(docs)) == vocab
  value_set = pa.array(vocab, pa.string())
  np.testing.assert_array_equal(_pyarrow_apply(docs, value_set, 32),
                                t.apply(state, docs))
  return {
      ("adapt", "pyarrow"): _best(lambda: _pyarrow_adapt(docs), repeats),
      ("apply_int32_one_batch", "pyarrow"): _best(
          lambda: _pyarrow_apply(docs, value_set, 32), repeats),
  }


def run(quick: bool = False) -> list:
  """The rows, with the host kernels $PREPRO_HOST_KERNELS (default auto)."""
  import prepro_core as pc  # pylint: disable=import-outside-toplevel,reimported
  with pc.host_kernels(os.environ.get("PREPRO_HOST_KERNELS", "auto")):
    return _run(quick)


def _run(quick: bool) -> list:
  import keras  # pylint: disable=g-import-not-at-top
  from corpus import corpus  # pylint: disable=g-import-not-at-top
  n_docs = 20_000 if quick else 200_000
  repeats = 2 if quick else 3
  docs = corpus(n_docs=n_docs)
  arr = np.array(docs)

  # adapt
  t = pc.text_vectorization(output_sequence_length=32)
  state = pc.adapt(t, docs)
  layer = keras.layers.TextVectorization(output_sequence_length=32)
  layer.adapt(arr)
  assert pc.get_vocabulary(state) == layer.get_vocabulary()
  times = {
      ("adapt", "prepro"): _best(lambda: pc.adapt(t, docs), repeats),
      ("adapt", "keras"): _best(lambda: layer.adapt(arr), repeats),
  }
  # apply, int mode, output_sequence_length=32
  np.testing.assert_array_equal(t.apply(state, docs[:5000]),
                                np.asarray(layer(arr[:5000])))
  times[("apply_int32_one_batch", "prepro")] = _best(
      lambda: t.apply(state, docs), repeats)
  times[("apply_int32_one_batch", "keras")] = _best(lambda: layer(arr),
                                                    repeats)
  step = 10_000

  def prepro_batches():
    for i in range(0, n_docs, step):
      out = t.apply(state, docs[i:i + step])
    return out

  def keras_batches():
    for i in range(0, n_docs, step):
      out = layer(arr[i:i + step])
    return out
  times[("apply_int32_batches_10k", "prepro")] = _best(prepro_batches,
                                                       repeats)
  times[("apply_int32_batches_10k", "keras")] = _best(keras_batches, repeats)
  times.update(_pyarrow_rows(docs, t, state, repeats))

  rows = []
  for bench in ("adapt", "apply_int32_one_batch", "apply_int32_batches_10k"):
    ref = times[(bench, "prepro")]
    for impl in ("prepro", "keras", "pyarrow"):
      if (bench, impl) not in times:
        continue
      sec = times[(bench, impl)]
      rows.append({"benchmark": f"text_vectorization/{bench}/{n_docs}docs",
                   "impl": impl, "seconds": sec,
                   "ratio_vs_prepro": sec / ref})
  return rows


def main():
  rows = run(quick="--quick" in sys.argv)
  print(f"{'benchmark':50s} {'impl':8s} {'seconds':>9s} {'x prepro':>9s}")
  for r in rows:
    print(f"{r['benchmark']:50s} {r['impl']:8s} {r['seconds']:9.3f} "
          f"{r['ratio_vs_prepro']:9.2f}")


if __name__ == "__main__":
  main()
