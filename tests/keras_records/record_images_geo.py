"""Records Keras 3 (JAX backend) outputs for the sizing/geometric image tests.

Run with the peers environment (it has keras):

    KERAS_BACKEND=jax /work/peers/bin/python tests/keras_records/record_images_geo.py

Writes tests/keras_records/images_geo.npz next to this file. Every array is
an output of real Keras layers or ops on the inputs stored alongside; the
randomness is pinned (factor=(f, f)) so the draws are fixed.
"""
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images_geo.npz")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPS = ("bilinear", "nearest")


def main():
  rng = np.random.default_rng(0)
  rec = {}
  img = rng.uniform(0, 1, (2, 9, 11, 3)).astype("float32")
  big = rng.uniform(0, 1, (2, 10, 13, 3)).astype("float32")
  img_u8 = rng.integers(0, 256, (2, 10, 13, 3)).astype("uint8")
  rec["img"], rec["big"], rec["img_u8"] = img, big, img_u8

  def np_(y):
    return np.asarray(keras.ops.convert_to_numpy(y))

  # Resizing: every interpolation, up and down, aspect crop/pad, antialias.
  for interp in ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"):
    for (h, w) in ((7, 9), (16, 20)):
      rec[f"resizing/{interp}/{h}x{w}"] = np_(
          keras.layers.Resizing(h, w, interpolation=interp)(big))
    rec[f"resizing/{interp}/crop"] = np_(keras.layers.Resizing(
        7, 5, interpolation=interp, crop_to_aspect_ratio=True)(big))
    rec[f"resizing/{interp}/pad"] = np_(keras.layers.Resizing(
        8, 5, interpolation=interp, pad_to_aspect_ratio=True,
        fill_value=0.25)(big))
    rec[f"resizing/{interp}/padw"] = np_(keras.layers.Resizing(
        5, 12, interpolation=interp, pad_to_aspect_ratio=True)(big))
    rec[f"resizing/{interp}/antialias"] = np_(keras.layers.Resizing(
        4, 6, interpolation=interp, antialias=True)(big))
    rec[f"resizing/{interp}/uint8"] = np_(
        keras.layers.Resizing(7, 9, interpolation=interp)(img_u8))
  rec["resizing/single"] = np_(keras.layers.Resizing(7, 9)(big[0]))

  # CenterCrop: a crop, and images smaller than the crop (resized).
  for (h, w) in ((6, 8), (12, 8), (4, 20)):
    rec[f"center_crop/{h}x{w}"] = np_(keras.layers.CenterCrop(h, w)(big))

  # Pinned affine layers in every fill mode and interpolation.
  for fm in FILL_MODES:
    for it in INTERPS:
      kw = dict(fill_mode=fm, interpolation=it, fill_value=0.5)
      rec[f"rotation/{fm}/{it}"] = np_(keras.layers.RandomRotation(
          (0.1, 0.1), **kw)(img, training=True))
      rec[f"rotation_neg/{fm}/{it}"] = np_(keras.layers.RandomRotation(
          (-0.3, -0.3), **kw)(img, training=True))
      rec[f"zoom/{fm}/{it}"] = np_(keras.layers.RandomZoom(
          (0.3, 0.3), (-0.2, -0.2), **kw)(img, training=True))
      rec[f"zoom_same/{fm}/{it}"] = np_(keras.layers.RandomZoom(
          (-0.25, -0.25), **kw)(img, training=True))
      rec[f"translation/{fm}/{it}"] = np_(keras.layers.RandomTranslation(
          (0.2, 0.2), (-0.3, -0.3), **kw)(img, training=True))
      rec[f"shear/{fm}/{it}"] = np_(keras.layers.RandomShear(
          x_factor=(0.3, 0.3), y_factor=(0.2, 0.2), seed=3, **kw)(
          img, training=True))
  rec["rotation/single"] = np_(
      keras.layers.RandomRotation((0.1, 0.1))(img[0], training=True))
  rec["rotation/inference"] = np_(
      keras.layers.RandomRotation(0.2)(img, training=False))

  # The perspective kernel with fixed corner points.
  w1, h1 = 10.0, 8.0
  start = np.array([[[0, 0], [w1, 0], [0, h1], [w1, h1]]] * 2, "float32")
  d = rng.uniform(-0.2, 0.2, (2, 4, 2)).astype("float32")
  end = start + start * d
  rec["perspective/start"], rec["perspective/end"] = start, end
  for it in INTERPS:
    rec[f"perspective/{it}"] = np_(keras.ops.image.perspective_transform(
        img, start, end, interpolation=it, fill_value=0.5))
  np.savez_compressed(OUT, **rec)
  print(f"wrote {OUT}: {len(rec)} arrays, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
  main()
