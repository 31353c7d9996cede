"""Records Keras 3 StringLookup / IntegerLookup outputs for the parity tests.

Run with the peers environment (Keras + TensorFlow):
  KERAS_BACKEND=tensorflow /work/peers/bin/python tests/keras_records/record_lookups.py

Writes tests/keras_records/lookups.json.gz (gzip with mtime 0, so a re-run
gives the same bytes). The corpus (10,000 documents of
../shared/bench/corpus.py, split on whitespace) is stored in the file, so the
tests need neither the corpus module nor Keras.
"""
import gzip
import json
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "shared" / "bench"))
sys.path.insert(0, "/work/shared/bench")
from corpus import corpus  # noqa: E402

N_DOCS = 10_000
QUERY_ROWS = 40
QUERY_LEN = 12


def to_list(x):
  x = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
  if x.dtype == object:
    return [[b.decode() for b in r] for r in x] if x.ndim == 2 else [
        b.decode() for b in x]
  return x.tolist()


def main():
  docs = corpus(n_docs=N_DOCS)
  tokens = [d.split() for d in docs]
  # A rectangular query: the first rows cut/padded to QUERY_LEN with "" (the
  # mask token in the masked cases), with unknown tokens mixed in.
  query = []
  for i in range(QUERY_ROWS):
    row = tokens[i * 7][:QUERY_LEN]
    row = row + [""] * (QUERY_LEN - len(row))
    row[i % QUERY_LEN] = f"unknown{i}zz"
    query.append(row)
  ragged = tf.ragged.constant(tokens)
  out = {"docs": docs, "query": query, "string": {}, "integer": {}}

  def string_case(name, adapt=True, call=None, **kw):
    layer = keras.layers.StringLookup(**kw)
    if adapt:
      layer.adapt(ragged)
    rec = {"kwargs": kw, "vocabulary": layer.get_vocabulary(),
           "vocabulary_size": int(layer.vocabulary_size())}
    if kw.get("output_mode") == "tf_idf":
      rec["idf"] = np.asarray(layer.idf_weights_const).tolist()
    q = query if call is None else call
    rec["output"] = to_list(layer(tf.constant(q)))
    out["string"][name] = rec

  string_case("int_default")
  string_case("int_mask_oov3_max", max_tokens=1000, num_oov_indices=3,
              mask_token="")
  string_case("tf_idf_max", max_tokens=500, mask_token="", output_mode="tf_idf")
  string_case("tf_idf_pad", max_tokens=700, output_mode="tf_idf",
              pad_to_max_tokens=True, mask_token="")
  string_case("multi_hot_pad", max_tokens=300, output_mode="multi_hot",
              pad_to_max_tokens=True)
  string_case("count", max_tokens=300, output_mode="count", mask_token="")
  string_case("one_hot", max_tokens=50, output_mode="one_hot",
              call=[r[0] for r in query])
  vocab = out["string"]["int_default"]["vocabulary"][1:201]
  string_case("salt_oov3", adapt=False, vocabulary=vocab, num_oov_indices=3,
              salt=[7, 11])
  string_case("salt_int", adapt=False, vocabulary=vocab, num_oov_indices=5,
              salt=1234)
  ids = np.arange(-2, 1010).reshape(-1, 4) % 1007 - 3
  string_case("invert", adapt=False, invert=True, mask_token="",
              num_oov_indices=2,
              vocabulary=out["string"]["int_default"]["vocabulary"][1:1001],
              call=ids)

  # Integers: Zipf values, rows as documents.
  rng = np.random.default_rng(0)
  data = (rng.zipf(1.3, size=(N_DOCS, 8)) % 5000).astype(np.int64)
  data[rng.random(data.shape) < 0.05] = 0  # the mask value
  iq = np.concatenate([data[:30], rng.integers(-50, 6000, size=(10, 8))])
  out["integer"]["data"] = data.tolist()
  out["integer"]["query"] = iq.tolist()

  def int_case(name, adapt=True, call=None, **kw):
    layer = keras.layers.IntegerLookup(**kw)
    if adapt:
      layer.adapt(data)
    rec = {"kwargs": kw, "vocabulary": [int(v) for v in layer.get_vocabulary()],
           "vocabulary_size": int(layer.vocabulary_size())}
    if kw.get("output_mode") == "tf_idf":
      rec["idf"] = np.asarray(layer.idf_weights_const).tolist()
    q = iq if call is None else call
    rec["output"] = to_list(layer(tf.constant(q)))
    out["integer"][name] = rec

  int_case("int_default")
  int_case("int_mask_oov3_max", max_tokens=200, num_oov_indices=3,
           mask_token=0)
  int_case("tf_idf_max", max_tokens=100, mask_token=0, output_mode="tf_idf")
  int_case("count_pad", max_tokens=150, output_mode="count",
           pad_to_max_tokens=True, mask_token=0)
  int_case("multi_hot", max_tokens=80, output_mode="multi_hot")
  int_case("one_hot", max_tokens=40, output_mode="one_hot", call=iq[:, 0])
  ivocab = out["integer"]["int_default"]["vocabulary"][1:301]
  int_case("farmhash_oov4", adapt=False, vocabulary=ivocab, num_oov_indices=4,
           oov_method="farmhash")
  int_case("farmhash_salt", adapt=False, vocabulary=ivocab, num_oov_indices=3,
           oov_method="farmhash", salt=[5, 9])
  int_case("invert", adapt=False, invert=True, mask_token=6000,
           vocabulary=ivocab, call=ids)

  raw = json.dumps(out, sort_keys=True, separators=(",", ":")).encode()
  with open(HERE / "lookups.json.gz", "wb") as f:
    with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
      g.write(raw)
  print(f"wrote {HERE / 'lookups.json.gz'}: "
        f"{os.path.getsize(HERE / 'lookups.json.gz')} bytes")


if __name__ == "__main__":
  main()
