"""Records real Keras ``TextVectorization`` outputs for tests/test_text*.py.

Run with the peers environment (Keras 3 + TensorFlow), from the repo root:

    KERAS_BACKEND=jax /work/peers/bin/python tests/keras_records/record_text.py

Writes tests/keras_records/text.json (small edge cases) and text.npz (the
corpus cases: 10,000 documents of ../shared/bench/corpus.py, stored in the
file so the tests do not depend on that script). Re-running re-creates both
files byte for byte.
"""

import hashlib
import io
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "shared", "bench"))
from corpus import corpus  # noqa: E402  pylint: disable=g-import-not-at-top

TV = keras.layers.TextVectorization


def sha(a) -> str:
  a = np.ascontiguousarray(a)
  return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() +
                        a.tobytes()).hexdigest()


def call(layer, x):
  return np.asarray(layer(x))


# ---------------------------------------------------------------------------
# Small edge cases (JSON).
# ---------------------------------------------------------------------------

EDGE_DOCS = [
    "Hello, World!",
    "  leading and trailing  ",
    "tabs\tand\nnewlines\rand\x0bvertical\x0cfeed",
    "",
    "!!! ... ???",
    "ÉCOLE Straße ÀÉÎ naïve café",
    "emoji 😀 and CJK 漢字 text",
    "curly “quotes” and — dashes…",
    "a-b c.d e_f g'h [i] {j} (k) <l> m|n o~p q^r s`t u@v w#x y$z 1%2 3&4 5*6 7+8 9=0 a/b c\\d e:f g;h i?j \"k\"",
    "nbsp\u00a0between and\u3000ideographic space",
    "UPPER lower MiXeD 123 ABC",
    "repeat repeat repeat word",
]


def edge_cases():
  out = {"docs": EDGE_DOCS, "cases": []}
  configs = [
      dict(),
      dict(standardize=None),
      dict(standardize="lower"),
      dict(standardize="strip_punctuation"),
      dict(split="character"),
      dict(split="character", standardize=None),
      dict(split=None),
      dict(ngrams=2),
      dict(ngrams=(3, 1)),
      dict(ngrams=(2,), standardize=None),
      dict(split="character", ngrams=2),
      dict(output_mode="multi_hot", ngrams=2),
      dict(output_mode="count"),
      dict(output_mode="tf_idf", ngrams=(1, 2)),
      dict(output_mode="tf_idf", split=None),
      dict(max_tokens=10),
      dict(max_tokens=10, output_mode="count", pad_to_max_tokens=True),
      dict(output_sequence_length=3),
      dict(output_sequence_length=12),
  ]
  for cfg in configs:
    layer = TV(**cfg)
    layer.adapt(EDGE_DOCS)
    out["cases"].append({
        "config": {k: list(v) if isinstance(v, tuple) else v
                   for k, v in cfg.items()},
        "vocabulary": layer.get_vocabulary(),
        "output": call(layer, EDGE_DOCS).tolist(),
    })
  # Callables: a NumPy standardize (what Keras passes on non-TF backends)
  # and a split on commas (Keras hands split a tf tensor; the tests use the
  # NumPy equivalent).
  def std_upper_strip_digits(x):
    x = np.char.upper(x)
    for d in "0123456789":
      x = np.char.replace(x, d, "")
    return x
  layer = TV(standardize=std_upper_strip_digits)
  layer.adapt(EDGE_DOCS)
  out["callable_standardize"] = {
      "vocabulary": layer.get_vocabulary(),
      "output": call(layer, EDGE_DOCS).tolist()}
  comma_docs = ["a,b,,c", "one, two,three", "", "x"]
  layer = TV(split=lambda x: tf.strings.split(x, sep=","), standardize=None)
  layer.adapt(comma_docs)
  out["callable_split"] = {
      "docs": comma_docs,
      "vocabulary": layer.get_vocabulary(),
      "output": call(layer, comma_docs).tolist()}
  # The guide's Greek example: a given vocabulary, int mode.
  vocab = ["ξεῖνος", "ἦ", "τοι", "ὄνειροι", "ἀμήχανοι"]
  greek = [["ξεῖνος ἦ τοι μὲν ὄνειροι ἀμήχανοι ἀκριτόμυθοι"],
           ["γίγνοντ᾽, οὐδέ τι πάντα τελείεται ἀνθρώποισι."]]
  layer = TV(vocabulary=vocab)
  out["greek"] = {"vocabulary_in": vocab, "docs": greek,
                  "vocabulary": layer.get_vocabulary(),
                  "output": call(layer, np.array(greek)).tolist()}
  # A given vocabulary with idf weights.
  layer = TV(output_mode="tf_idf", vocabulary=["earth", "wind", "and", "fire"],
             idf_weights=[0.5, 1.5, 2.5, 3.5])
  out["given_tfidf"] = {
      "output": call(layer, ["earth wind and fire fire", "water"]).tolist(),
      "vocabulary": layer.get_vocabulary()}
  # Streaming adapt over batches (documents = rows) == one adapt.
  layer = TV(output_mode="tf_idf")
  layer.adapt(tf.data.Dataset.from_tensor_slices(EDGE_DOCS).batch(5))
  out["batched_tfidf"] = {
      "vocabulary": layer.get_vocabulary(),
      "idf": np.asarray(layer._lookup_layer.idf_weights_const).tolist(),  # pylint: disable=protected-access
      "output": call(layer, EDGE_DOCS).tolist()}
  return out


# ---------------------------------------------------------------------------
# The corpus cases (NPZ).
# ---------------------------------------------------------------------------


def corpus_cases():
  docs = np.array(corpus(n_docs=10_000))
  rec = {"docs": docs}
  layer = TV()
  layer.adapt(docs)
  vocab = layer.get_vocabulary()
  rec["int_vocabulary"] = np.array(vocab)
  full = call(layer, docs)
  assert full.max() < 2**16
  rec["int_output"] = full.astype(np.uint16)
  layer = TV(output_sequence_length=32)
  layer.adapt(docs)
  assert layer.get_vocabulary() == vocab
  out = call(layer, docs)
  rec["int32_sha"] = np.array(sha(out.astype(np.int64)))
  rec["int32_head"] = out[:200].astype(np.int32)
  # tf_idf with bigrams: vocabulary, idf and the outputs (stored sparse).
  layer = TV(output_mode="tf_idf", ngrams=2, max_tokens=3000)
  layer.adapt(docs)
  rec["tfidf_vocabulary"] = np.array(layer.get_vocabulary())
  rec["tfidf_idf"] = np.asarray(
      layer._lookup_layer.idf_weights_const).astype(np.float32)  # pylint: disable=protected-access
  out = call(layer, docs).astype(np.float32)
  rows, cols = np.nonzero(out)
  rec["tfidf_rows"] = rows.astype(np.uint16)
  rec["tfidf_cols"] = cols.astype(np.uint16)
  rec["tfidf_values"] = out[rows, cols]
  rec["tfidf_shape"] = np.array(out.shape)
  for mode in ("multi_hot", "count"):
    layer = TV(output_mode=mode, max_tokens=5000)
    layer.adapt(docs)
    out = call(layer, docs)
    rec[f"{mode}_vocabulary_sha"] = np.array(
        hashlib.sha256("\n".join(layer.get_vocabulary()).encode()).hexdigest())
    rec[f"{mode}_sha"] = np.array(sha(out.astype(np.float32)))
    rec[f"{mode}_shape"] = np.array(out.shape)
    rec[f"{mode}_sum"] = np.array(float(out.astype(np.float64).sum()))
  return rec


def main():
  with open(os.path.join(HERE, "text.json"), "w") as f:
    json.dump(edge_cases(), f, ensure_ascii=False, indent=0, sort_keys=True)
    f.write("\n")
  buf = io.BytesIO()
  # Deterministic bytes: savez_compressed writes fixed zip timestamps.
  np.savez_compressed(buf, **corpus_cases())
  with open(os.path.join(HERE, "text.npz"), "wb") as f:
    f.write(buf.getvalue())


if __name__ == "__main__":
  main()
