"""Data for the guide's demo and notebooks: generators, a CIFAR-10 loader, PNG.

Nothing here downloads anything. The demo and the notebooks run on synthetic
data made in a few milliseconds:

* :func:`shapes_images`: small RGB images of four kinds of shapes (the class),
  each drawn in a colour near its class' colour, at a random size and place,
  on a noisy background. Flips, small rotations and zooms keep the class, so
  augmentation is meaningful.
* :func:`review_texts`: short "movie reviews" whose label (1 positive,
  0 negative) is carried by class-dependent words and by two-word phrases
  ("not bad" is positive, "not good" negative), with mixed case and
  punctuation for ``text_vectorization``'s standardization to remove.

For real data, :func:`load_cifar10` reads CIFAR-10's python pickle format
("CIFAR-10 python version") from a local directory or ``.tar.gz`` archive.

:func:`save_png` writes a uint8 image with matplotlib when it is installed,
else with a small zlib PNG writer (no dependency beyond the stdlib and NumPy).
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import tarfile
import zlib
from typing import List, Optional, Tuple

import numpy as np

# ---------------------------------------------------------------------------
# Synthetic images.
# ---------------------------------------------------------------------------

SHAPE_NAMES = ("disk", "square", "triangle", "cross")
# A base colour per class (RGB in [0, 255]); each image is drawn near it.
_CLASS_COLOURS = np.array([[230, 60, 50], [60, 200, 80], [70, 90, 230],
                           [230, 200, 40]], np.float32)


def shapes_images(n: int,
                  size: int = 32,
                  seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
  """Synthetic images of four shape classes.

  Args:
    n: number of images.
    size: height and width in pixels.
    seed: NumPy seed; the same seed gives the same images.

  Returns:
    ``(images, labels)``: ``uint8`` of shape ``(n, size, size, 3)`` (values in
    [0, 255], as CIFAR-10 comes) and ``int32`` labels in ``[0, 4)`` (see
    :data:`SHAPE_NAMES`).
  """
  if n < 0 or size < 8:
    raise ValueError(f"shapes_images: need n >= 0 and size >= 8, got n={n}, "
                     f"size={size}.")
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, len(SHAPE_NAMES), size=n).astype(np.int32)
  # Pixel centres in [-1, 1]; every image is drawn at once by broadcasting.
  coords = (np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0
  yy = coords[None, :, None]
  xx = coords[None, None, :]
  radius = rng.uniform(0.35, 0.65, size=(n, 1, 1)).astype(np.float32)
  cy = rng.uniform(-0.25, 0.25, size=(n, 1, 1)).astype(np.float32)
  cx = rng.uniform(-0.25, 0.25, size=(n, 1, 1)).astype(np.float32)
  dy, dx = (yy - cy) / radius, (xx - cx) / radius
  masks = np.stack([
      dy**2 + dx**2 <= 1.0,                                       # disk
      (np.abs(dy) <= 0.8) & (np.abs(dx) <= 0.8),                  # square
      (dy <= 0.7) & (np.abs(dx) <= (dy + 0.9) * 0.6),             # triangle
      ((np.abs(dy) <= 0.25) | (np.abs(dx) <= 0.25))               # cross
      & (np.abs(dy) <= 1.0) & (np.abs(dx) <= 1.0),
  ])  # (4, n, size, size)
  mask = masks[labels, np.arange(n)][..., None]
  colour = _CLASS_COLOURS[labels] + rng.normal(0, 25, size=(n, 3))
  background = rng.uniform(0, 90, size=(n, 1, 1, 3))
  noise = rng.normal(0, 12, size=(n, size, size, 3))
  images = np.where(mask, colour[:, None, None, :], background) + noise
  return np.clip(images, 0, 255).astype(np.uint8), labels


# ---------------------------------------------------------------------------
# Synthetic text.
# ---------------------------------------------------------------------------

_FILLER = ("the movie was a film plot story acting cast this it and of with "
           "ending scenes music director").split()
_POSITIVE = "great wonderful brilliant moving superb delightful".split()
_NEGATIVE = "boring awful dull terrible clumsy tedious".split()
# Phrases whose meaning a bag of single words misses: bigrams see them.
_POS_PHRASES = ("not bad", "not boring", "never dull")
_NEG_PHRASES = ("not good", "not great", "never moving")


def review_texts(n: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
  """Synthetic one-line movie reviews with a sentiment label.

  Args:
    n: number of reviews.
    seed: NumPy seed.

  Returns:
    ``(texts, labels)``: a NumPy array of ``str`` of shape ``(n,)`` and
    ``int32`` labels (1 positive, 0 negative).
  """
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, size=n).astype(np.int32)
  texts = []
  for label in labels:
    words = list(rng.choice(_FILLER, size=rng.integers(4, 9)))
    if rng.uniform() < 0.35:  # the label is in a phrase...
      phrases = _POS_PHRASES if label else _NEG_PHRASES
      words.insert(rng.integers(0, len(words) + 1), str(rng.choice(phrases)))
    else:                     # ...or in one or two plain words
      pool = _POSITIVE if label else _NEGATIVE
      for word in rng.choice(pool, size=rng.integers(1, 3)):
        words.insert(rng.integers(0, len(words) + 1), str(word))
    text = " ".join(words)
    if rng.uniform() < 0.5:
      text = text.capitalize()
    texts.append(text + str(rng.choice([".", "!", "...", "", "?!"])))
  return np.array(texts), labels


# The poem the Keras guide adapts its TextVectorization on.
DICKINSON = np.array([
    "The Brain is wider than the Sky",
    "For put them side by side",
    "The one the other will contain",
    "With ease and You beside",
])

# ---------------------------------------------------------------------------
# CIFAR-10 (python pickle format) from a local path.
# ---------------------------------------------------------------------------

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                   "frog", "horse", "ship", "truck")


def _unpickle(fileobj) -> dict:
  # The files were written by Python 2: keys are bytes.
  return pickle.load(fileobj, encoding="bytes")


def _to_images(batch: dict, where: str) -> Tuple[np.ndarray, np.ndarray]:
  data = batch.get(b"data", batch.get("data"))
  labels = batch.get(b"labels", batch.get("labels"))
  if data is None or labels is None:
    raise ValueError(f"load_cifar10: {where} has no `data`/`labels` entries; "
                     f"is it a CIFAR-10 python-version batch?")
  data = np.asarray(data, np.uint8)
  if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
    raise ValueError(f"load_cifar10: {where}: `data` must have shape (n, 3072),"
                     f" got {data.shape}.")
  # Rows are channel-major (1024 red, 1024 green, 1024 blue): to NHWC.
  images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
  return images, np.asarray(labels, np.int32)


def load_cifar10(path: str) -> Tuple[Tuple[np.ndarray, np.ndarray],
                                     Tuple[np.ndarray, np.ndarray]]:
  """Loads CIFAR-10 in its python pickle format from a local path.

  Args:
    path: the ``cifar-10-batches-py`` directory (holding ``data_batch_1`` ...
      ``data_batch_5`` and ``test_batch``), or the ``cifar-10-python.tar.gz``
      archive as downloaded from https://www.cs.toronto.edu/~kriz/cifar.html.

  Returns:
    ``((x_train, y_train), (x_test, y_test))``, images ``uint8`` of shape
    ``(n, 32, 32, 3)`` and labels ``int32`` (names in
    :data:`CIFAR10_CLASSES`), as ``keras.datasets.cifar10.load_data()``
    returns them (except labels are flat, not ``(n, 1)``).

  Raises:
    FileNotFoundError: when ``path`` or its batches are missing.
    ValueError: when a file is not a CIFAR-10 batch.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"load_cifar10: {path!r} does not exist; pass the extracted "
        f"`cifar-10-batches-py` directory or `cifar-10-python.tar.gz`.")
  batches = {}
  if os.path.isdir(path):
    for name in sorted(os.listdir(path)):
      if name.startswith("data_batch_") or name == "test_batch":
        with open(os.path.join(path, name), "rb") as f:
          batches[name] = _unpickle(f)
  else:
    with tarfile.open(path, "r:*") as tar:
      for member in tar.getmembers():
        name = os.path.basename(member.name)
        if member.isfile() and (name.startswith("data_batch_") or
                                name == "test_batch"):
          batches[name] = _unpickle(tar.extractfile(member))
  train_names = sorted(n for n in batches if n.startswith("data_batch_"))
  if not train_names or "test_batch" not in batches:
    raise FileNotFoundError(
        f"load_cifar10: found no `data_batch_*` and `test_batch` files in "
        f"{path!r}.")
  train = [_to_images(batches[n], n) for n in train_names]
  x_train = np.concatenate([x for x, _ in train])
  y_train = np.concatenate([y for _, y in train])
  x_test, y_test = _to_images(batches["test_batch"], "test_batch")
  return (x_train, y_train), (x_test, y_test)


# ---------------------------------------------------------------------------
# Pictures.
# ---------------------------------------------------------------------------


def image_grid(rows: List[np.ndarray], pad: int = 2, scale: int = 1) -> np.ndarray:
  """Tiles rows of same-sized images into one uint8 image.

  Args:
    rows: a list of arrays ``(columns, height, width, 3)`` with values in
      [0, 255] (any dtype; clipped and rounded).
    pad: white pixels between tiles.
    scale: each pixel becomes a ``scale`` x ``scale`` block (small images
      are easier to see).
  """
  rows = [np.clip(np.round(np.asarray(r, np.float32)), 0, 255).astype(np.uint8)
          for r in rows]
  if scale > 1:
    rows = [r.repeat(scale, axis=1).repeat(scale, axis=2) for r in rows]
  ncol = max(r.shape[0] for r in rows)
  h, w = rows[0].shape[1:3]
  grid = np.full((len(rows) * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255,
                 np.uint8)
  for i, row in enumerate(rows):
    for j, tile in enumerate(row):
      y, x = pad + i * (h + pad), pad + j * (w + pad)
      grid[y:y + h, x:x + w] = tile
  return grid


def _png_bytes(image: np.ndarray) -> bytes:
  """A minimal PNG encoder: 8-bit RGB, no filtering, one zlib stream."""
  h, w, _ = image.shape
  raw = b"".join(b"\x00" + image[y].tobytes() for y in range(h))

  def chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return (struct.pack(">I", len(data)) + body +
            struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF))

  header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, RGB
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
          chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def save_png(path: str, image: np.ndarray,
             use_matplotlib: Optional[bool] = None) -> str:
  """Writes an RGB ``uint8`` image ``(height, width, 3)`` as a PNG file.

  Args:
    path: where to write.
    image: the pixels.
    use_matplotlib: ``None`` uses matplotlib when it can be imported, else the
      built-in writer; ``False`` forces the built-in writer.

  Returns:
    The name of the writer used (``"matplotlib"`` or ``"zlib"``).
  """
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
    raise ValueError(f"save_png: `image` must be uint8 of shape (h, w, 3), got "
                     f"{image.dtype} {image.shape}.")
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  if use_matplotlib is not False:
    try:
      # matplotlib.image needs no GUI backend (pyplot is not imported).
      from matplotlib import image as mpimg  # pylint: disable=g-import-not-at-top
      mpimg.imsave(path, image)
      return "matplotlib"
    except ImportError:
      if use_matplotlib:
        raise
  with open(path, "wb") as f:
    f.write(_png_bytes(np.ascontiguousarray(image)))
  return "zlib"


def cifar10_pickle_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
  """Serialises images/labels as one CIFAR-10 python-format batch (for tests
  and for users who want to write their own data in that format)."""
  data = np.asarray(images, np.uint8).transpose(0, 3, 1, 2).reshape(
      len(images), -1)
  buf = io.BytesIO()
  pickle.dump({b"data": data, b"labels": [int(l) for l in labels],
               b"batch_label": b"synthetic"}, buf, protocol=2)
  return buf.getvalue()
