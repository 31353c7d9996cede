"""The guide end to end: the notebooks execute, `make demo` runs, its recipes
give Keras' numbers, and the data helpers (CIFAR-10 loader, PNG writer) work."""

import importlib.util
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")
RECORDS = os.path.join(ROOT, "tests", "keras_records")


def _load(name):
  spec = importlib.util.spec_from_file_location(
      name, os.path.join(NOTEBOOKS, name + ".py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


guide_data = _load("guide_data")
build = _load("_build")


# ---------------------------------------------------------------------------
# The notebooks.
# ---------------------------------------------------------------------------


def test_notebooks_are_built_from_build_py_and_have_no_outputs():
  assert build.main(["--check"]) == 0, "run python notebooks/_build.py"
  import nbformat
  on_disk = sorted(f for f in os.listdir(NOTEBOOKS) if f.endswith(".ipynb"))
  assert on_disk == sorted(build.NOTEBOOKS)
  for name in on_disk:
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    for cell in nb.cells:
      if cell.cell_type == "code":
        assert cell.outputs == [] and cell.execution_count is None, name


@pytest.mark.parametrize("name", sorted(build.NOTEBOOKS))
def test_notebook_executes(name):
  import nbclient
  import nbformat
  nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
  client = nbclient.NotebookClient(
      nb, kernel_name="python3", timeout=240,
      resources={"metadata": {"path": NOTEBOOKS}})
  client.execute()  # raises CellExecutionError, with the cell, on any error
  outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
  assert not [o for o in outputs if o.get("output_type") == "error"]
  # Every notebook shows at least one plot.
  assert any("image/png" in o.get("data", {}) for o in outputs), name


# ---------------------------------------------------------------------------
# The demo.
# ---------------------------------------------------------------------------


def test_demo_quick_runs_every_recipe_and_writes_the_png(tmp_path):
  out = tmp_path / "grid.png"
  proc = subprocess.run(
      [sys.executable, os.path.join(NOTEBOOKS, "demo.py"), "--quick", "--out",
       str(out)],
      capture_output=True, text=True, timeout=400, cwd=ROOT)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  for n in range(1, 9):
    assert f"\n== {n}. " in proc.stdout, f"recipe {n} missing"
  assert "reloaded artifact == live model: True" in proc.stdout
  assert "normalization state untouched by training: True" in proc.stdout
  data = out.read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n"
  from PIL import Image
  image = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
  # 4 rows of 8 tiles of 32x32 pixels shown 3x, 2-pixel white gaps.
  assert image.shape == (4 * 98 + 2, 8 * 98 + 2, 3)
  assert image.std() > 10  # not blank


@pytest.fixture(scope="module")
def demo():
  return _load("demo")


@pytest.fixture(scope="module")
def keras_guide():
  with open(os.path.join(RECORDS, "guide.json")) as f:
    return json.load(f)


def test_demo_lookups_give_keras_numbers(demo, keras_guide, capsys):
  result = demo.recipe_string_lookup()
  assert result["vocabulary"] == keras_guide["string_lookup"]["vocabulary"]
  np.testing.assert_array_equal(result["one_hot"],
                                keras_guide["string_lookup"]["one_hot"])
  result = demo.recipe_integer_lookup()
  assert result["vocabulary"] == keras_guide["integer_lookup"]["vocabulary"]
  np.testing.assert_array_equal(result["one_hot"],
                                keras_guide["integer_lookup"]["one_hot"])
  assert "[UNK]" in capsys.readouterr().out


def test_demo_hashing_trick_gives_keras_numbers(demo, keras_guide):
  record = keras_guide["hashing"]
  result = demo.recipe_hashing(np.array(record["data"]))
  np.testing.assert_array_equal(result["ids"], record["ids"])
  np.testing.assert_array_equal(result["multi_hot"], record["multi_hot"])


@pytest.mark.parametrize("mode", ["int", "multi_hot", "tf_idf"])
def test_text_recipes_give_keras_numbers(keras_guide, mode):
  import prepro_flax as pf
  record = keras_guide["text"]
  kwargs = {} if mode == "int" else {"ngrams": 2}
  vectorizer = pf.TextVectorization(output_mode=mode, **kwargs)
  vectorizer.adapt(guide_data.DICKINSON)
  np.testing.assert_array_equal(record["adapt"], guide_data.DICKINSON)
  assert vectorizer.get_vocabulary() == record[mode]["vocabulary"]
  np.testing.assert_allclose(vectorizer(np.array(record["test"])),
                             record[mode]["output"], rtol=1e-6)


# ---------------------------------------------------------------------------
# Data helpers.
# ---------------------------------------------------------------------------


def _write_cifar(directory, n_train=(3, 2), n_test=4, seed=0):
  rng = np.random.default_rng(seed)
  os.makedirs(directory, exist_ok=True)
  parts = {}
  for i, n in enumerate(n_train, start=1):
    parts[f"data_batch_{i}"] = n
  parts["test_batch"] = n_test
  written = {}
  for name, n in parts.items():
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n)
    with open(os.path.join(directory, name), "wb") as f:
      f.write(guide_data.cifar10_pickle_bytes(images, labels))
    written[name] = (images, labels)
  with open(os.path.join(directory, "batches.meta"), "wb") as f:
    pickle.dump({b"label_names": [c.encode() for c in
                                  guide_data.CIFAR10_CLASSES]}, f, protocol=2)
  return written


def _check_cifar(loaded, written):
  (x_train, y_train), (x_test, y_test) = loaded
  train = [written["data_batch_1"], written["data_batch_2"]]
  np.testing.assert_array_equal(x_train, np.concatenate([x for x, _ in train]))
  np.testing.assert_array_equal(y_train, np.concatenate([y for _, y in train]))
  np.testing.assert_array_equal(x_test, written["test_batch"][0])
  np.testing.assert_array_equal(y_test, written["test_batch"][1])
  assert x_train.dtype == np.uint8 and x_train.shape == (5, 32, 32, 3)
  assert y_train.dtype == np.int32


def test_load_cifar10_from_a_directory_and_an_archive(tmp_path):
  directory = tmp_path / "cifar-10-batches-py"
  written = _write_cifar(str(directory))
  _check_cifar(guide_data.load_cifar10(str(directory)), written)
  archive = tmp_path / "cifar-10-python.tar.gz"
  with tarfile.open(archive, "w:gz") as tar:
    tar.add(str(directory), arcname="cifar-10-batches-py")
  _check_cifar(guide_data.load_cifar10(str(archive)), written)


def test_load_cifar10_reads_the_channel_major_layout(tmp_path):
  # One image whose red plane is 1, green 2, blue 3, written as CIFAR does:
  # 1024 red bytes, then green, then blue.
  row = np.concatenate([np.full(1024, c, np.uint8) for c in (1, 2, 3)])
  for name in ("data_batch_1", "test_batch"):
    with open(tmp_path / name, "wb") as f:
      pickle.dump({b"data": row[None], b"labels": [7]}, f, protocol=2)
  (x, y), _ = guide_data.load_cifar10(str(tmp_path))
  np.testing.assert_array_equal(x[0, 5, 9], [1, 2, 3])
  assert y.tolist() == [7]


def test_load_cifar10_bad_paths_and_files(tmp_path):
  with pytest.raises(FileNotFoundError, match="does not exist"):
    guide_data.load_cifar10(str(tmp_path / "nope"))
  with pytest.raises(FileNotFoundError, match="data_batch_"):
    guide_data.load_cifar10(str(tmp_path))
  for name in ("data_batch_1", "test_batch"):
    with open(tmp_path / name, "wb") as f:
      pickle.dump({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, f)
  with pytest.raises(ValueError, match=r"\(n, 3072\)"):
    guide_data.load_cifar10(str(tmp_path))
  with open(tmp_path / "data_batch_1", "wb") as f:
    pickle.dump({b"other": 1}, f)
  with pytest.raises(ValueError, match="data`/`labels"):
    guide_data.load_cifar10(str(tmp_path))


@pytest.mark.parametrize("use_matplotlib", [False, None])
def test_save_png_round_trips(tmp_path, use_matplotlib):
  from PIL import Image
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
  path = str(tmp_path / "x.png")
  writer = guide_data.save_png(path, image, use_matplotlib=use_matplotlib)
  assert writer == ("zlib" if use_matplotlib is False else "matplotlib")
  np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")),
                                image)
  with pytest.raises(ValueError, match="uint8 of shape"):
    guide_data.save_png(path, image.astype(np.float32))


def test_image_grid_layout():
  tiles = np.stack([np.full((2, 3, 3), v, np.uint8) for v in (10, 20)])
  grid = guide_data.image_grid([tiles, tiles[:1]], pad=1, scale=2)
  assert grid.shape == (2 * 5 + 1, 2 * 7 + 1, 3)
  assert (grid[1:5, 1:7] == 10).all() and (grid[1:5, 8:14] == 20).all()
  assert (grid[6:10, 8:14] == 255).all()  # the short row is padded white


def test_synthetic_data_is_deterministic_and_balanced():
  x1, y1 = guide_data.shapes_images(400, seed=3)
  x2, y2 = guide_data.shapes_images(400, seed=3)
  np.testing.assert_array_equal(x1, x2)
  assert x1.shape == (400, 32, 32, 3) and x1.dtype == np.uint8
  assert set(np.unique(y1)) == {0, 1, 2, 3} and np.bincount(y1).min() > 60
  assert not np.array_equal(x1, guide_data.shapes_images(400, seed=4)[0])
  with pytest.raises(ValueError, match="size"):
    guide_data.shapes_images(4, size=4)
  t1, l1 = guide_data.review_texts(200, seed=3)
  t2, l2 = guide_data.review_texts(200, seed=3)
  assert t1.tolist() == t2.tolist() and l1.tolist() == l2.tolist()
  assert 60 < l1.sum() < 140
  text = " ".join(t1).lower()
  assert "not bad" in text and "not good" in text


def test_demo_augmentation_grid_is_reproducible_and_eval_is_identity(demo):
  from flax import nnx
  images, _ = guide_data.shapes_images(2, seed=5)
  model = demo.AugmentedCNN(4, nnx.Rngs(params=0, augment=1))
  a = demo.augmented_grid(model, images, columns=3, seed=7)
  b = demo.augmented_grid(model, images, columns=3, seed=7)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, demo.augmented_grid(model, images, columns=3,
                                                   seed=8))
  model.eval()
  np.testing.assert_array_equal(model.augmentations(images.astype(np.float32)),
                                images.astype(np.float32))
