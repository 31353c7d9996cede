"""Records Keras' outputs on the quick recipes of the guide "Working with
preprocessing layers", with the guide's own toy data.

Run with the peers environment (needs keras and tensorflow):

  KERAS_BACKEND=tensorflow /work/peers/bin/python tests/keras_records/record_guide.py

Writes tests/keras_records/guide.json, read by tests/test_notebooks.py to
check that notebooks/demo.py's recipes give Keras' numbers.
"""

import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
from keras import layers  # pylint: disable=g-import-not-at-top

HERE = os.path.dirname(os.path.abspath(__file__))

# The guide's data, verbatim.
STRING_DATA = [["a"], ["b"], ["c"], ["b"], ["c"], ["a"]]
STRING_TEST = [["a"], ["b"], ["c"], ["d"], ["e"], [""]]
INT_DATA = [[10], [20], [20], [10], [30], [0]]
INT_TEST = [[10], [10], [20], [50], [60], [0]]
DICKINSON = ["The Brain is wider than the Sky", "For put them side by side",
             "The one the other will contain", "With ease and You beside"]
TEXT_TEST = ["The Brain is deeper than the sea",
             "for if they are held Blue to Blue"]
# The guide hashes np.random.randint(0, 100000, size=(10000, 1)); a fixed
# sample of such values is recorded here.
HASH_DATA = np.random.default_rng(1337).integers(0, 100000, size=(64, 1))


def tolist(x):
  return np.asarray(keras.ops.convert_to_numpy(x)).tolist()


def main():
  out = {"keras_version": keras.__version__}

  lookup = layers.StringLookup(output_mode="one_hot")
  lookup.adapt(np.array(STRING_DATA))
  out["string_lookup"] = {
      "data": STRING_DATA, "test": STRING_TEST,
      "vocabulary": lookup.get_vocabulary(),
      "one_hot": tolist(lookup(np.array(STRING_TEST)))}

  lookup = layers.IntegerLookup(output_mode="one_hot")
  lookup.adapt(np.array(INT_DATA))
  out["integer_lookup"] = {
      "data": INT_DATA, "test": INT_TEST,
      "vocabulary": [int(v) for v in lookup.get_vocabulary()],
      "one_hot": tolist(lookup(np.array(INT_TEST)))}

  hasher = layers.Hashing(num_bins=64, salt=1337)
  encoder = layers.CategoryEncoding(num_tokens=64, output_mode="multi_hot")
  ids = hasher(HASH_DATA)
  out["hashing"] = {"data": HASH_DATA.tolist(), "ids": tolist(ids),
                    "multi_hot": tolist(encoder(ids))}

  text = {}
  vectorizer = layers.TextVectorization(output_mode="int")
  vectorizer.adapt(np.array(DICKINSON))
  text["int"] = {"vocabulary": vectorizer.get_vocabulary(),
                 "output": tolist(vectorizer(np.array(TEXT_TEST)))}
  for mode in ("multi_hot", "tf_idf"):
    vectorizer = layers.TextVectorization(output_mode=mode, ngrams=2)
    vectorizer.adapt(np.array(DICKINSON))
    text[mode] = {"vocabulary": vectorizer.get_vocabulary(),
                  "output": tolist(vectorizer(np.array(TEXT_TEST)))}
  out["text"] = {"adapt": DICKINSON, "test": TEXT_TEST, **text}

  with open(os.path.join(HERE, "guide.json"), "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")


if __name__ == "__main__":
  main()
