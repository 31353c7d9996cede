"""Records Keras 3 (JAX backend) outputs for the colour/pixel image tests.

Run with the peers environment (it has keras):

    /work/peers/bin/python tests/keras_records/record_images_color.py

Writes tests/keras_records/images_color.npz next to this file (a plain zip
with fixed timestamps, so a re-run gives the same bytes). Every output is
computed by real Keras layers on the inputs stored alongside. Randomness is
pinned with ``factor=(f, f)``; where a Keras layer cannot be pinned that way
(contrast's range is ``[1 - lower, 1 + upper]``, hue's direction is a coin,
solarization does not scale its lower bound) the layer's own
``transform_images`` is called with explicit parameters, stored as
``<case>/params``.
"""
import io
import os
import zipfile

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import keras  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "images_color.npz")
L = keras.layers


def np_(y):
  return np.asarray(keras.ops.convert_to_numpy(y))


def write_npz(path, arrays):
  """np.savez with fixed zip timestamps (byte-reproducible)."""
  with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
    for name in sorted(arrays):
      buf = io.BytesIO()
      np.lib.format.write_array(buf, np.asarray(arrays[name]),
                                allow_pickle=False)
      info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
      info.compress_type = zipfile.ZIP_DEFLATED
      zf.writestr(info, buf.getvalue())


def main():
  rng = np.random.default_rng(0)
  rec = {}
  x255 = rng.uniform(0, 255, (3, 8, 9, 3)).astype("float32")
  x01 = (x255 / 255.0).astype("float32")
  xint = rng.integers(0, 256, (3, 8, 9, 3)).astype("float32")
  # Low-contrast images with one flat channel (auto_contrast's NaN rule) and
  # a narrow histogram (equalization).
  xlow = rng.uniform(60, 120, (3, 8, 9, 3)).astype("float32")
  xlow[1, :, :, 2] = 77.0
  xu8 = rng.integers(40, 200, (3, 8, 9, 3)).astype("uint8")
  rec.update(x255=x255, x01=x01, xint=xint, xlow=xlow, xu8=xu8)
  inputs = dict(x255=x255, x01=x01, xint=xint, xlow=xlow, xu8=xu8)

  def layer_case(name, layer, inp):
    rec[f"{name}/input_name"] = np.asarray(inp)
    rec[f"{name}/output"] = np_(layer(inputs[inp], training=True))

  layer_case("brightness_pos", L.RandomBrightness((0.3, 0.3)), "x255")
  layer_case("brightness_neg_unit",
             L.RandomBrightness((-0.4, -0.4), value_range=(0, 1)), "x01")
  layer_case("saturation_0.3", L.RandomSaturation((0.3, 0.3)), "x255")
  layer_case("saturation_0.5", L.RandomSaturation((0.5, 0.5)), "x255")
  layer_case("saturation_0.0", L.RandomSaturation((0.0, 0.0)), "x255")
  layer_case("saturation_0.8_unit",
             L.RandomSaturation((0.8, 0.8), value_range=(0, 1)), "x01")
  layer_case("sharpness_0.2", L.RandomSharpness((0.2, 0.2)), "x255")
  layer_case("sharpness_0.9", L.RandomSharpness((0.9, 0.9)), "x255")
  layer_case("color_degeneration_0.5",
             L.RandomColorDegeneration((0.5, 0.5)), "x255")
  layer_case("color_degeneration_-0.3",
             L.RandomColorDegeneration((-0.3, -0.3)), "x255")
  layer_case("grayscale_1", L.RandomGrayscale(factor=1.0), "x255")
  layer_case("invert_1", L.RandomInvert(factor=(1.0, 1.0)), "x255")
  layer_case("invert_1_unit",
             L.RandomInvert(factor=(1.0, 1.0), value_range=(0, 1)), "x01")
  layer_case("posterization_3", L.RandomPosterization((3, 3)), "x255")
  layer_case("posterization_6_unit",
             L.RandomPosterization((6, 6), value_range=(0, 1)), "x01")
  layer_case("posterization_5_u8", L.RandomPosterization((5, 5)), "xu8")
  layer_case("solarization_default", L.Solarization(), "x255")
  layer_case("auto_contrast", L.AutoContrast(), "xlow")
  layer_case("auto_contrast_unit", L.AutoContrast(value_range=(0, 1)), "x01")
  layer_case("auto_contrast_u8", L.AutoContrast(), "xu8")
  layer_case("blur_k3_s0.7",
             L.RandomGaussianBlur(factor=(1.0, 1.0), kernel_size=3,
                                  sigma=(0.7, 0.7)), "x255")
  layer_case("blur_k5_s0.9",
             L.RandomGaussianBlur(factor=(1.0, 1.0), kernel_size=5,
                                  sigma=(0.9, 0.9)), "x255")
  layer_case("blur_k35_s0.5",
             L.RandomGaussianBlur(factor=(1.0, 1.0), kernel_size=(3, 5),
                                  sigma=(0.5, 0.5)), "x255")
  layer_case("color_jitter_b0.2_s0.3",
             L.RandomColorJitter(brightness_factor=(0.2, 0.2),
                                 saturation_factor=(0.3, 0.3)), "x01")

  # Equalization: Keras builds one histogram per channel over the whole
  # batch, so it is recorded image by image (prepro equalizes per image).
  for name, kw, inp in (("equalization", {}, "xint"),
                        ("equalization_low", {}, "xlow"),
                        ("equalization_bins64", {"bins": 64}, "x255"),
                        ("equalization_unit", {"value_range": (0, 1)}, "x01")):
    layer = L.Equalization(**kw)
    rec[f"{name}/input_name"] = np.asarray(inp)
    rec[f"{name}/output"] = np.stack(
        [np_(layer(img, training=True)) for img in inputs[inp]])

  # Explicit parameters through the layers' own transform_images.
  def explicit(name, layer, inp, transformation, params):
    rec[f"{name}/input_name"] = np.asarray(inp)
    rec[f"{name}/params"] = np.asarray(params, np.float32)
    rec[f"{name}/output"] = np_(
        layer.transform_images(keras.ops.convert_to_tensor(inputs[inp]),
                               transformation, training=True))

  cf = np.asarray([0.5, 1.7, 1.0], np.float32)
  explicit("contrast", L.RandomContrast(0.5), "x255",
           {"contrast_factor": cf.reshape(-1, 1, 1, 1)}, cf)
  hf = np.asarray([0.15, -0.2, 0.45], np.float32)
  explicit("hue", L.RandomHue(0.5), "x255", {"factor": hf}, hf)
  explicit("hue_unit", L.RandomHue(0.5, value_range=(0, 1)), "x01",
           {"factor": hf}, hf)
  add = np.asarray([10.0, 0.0, 60.0], np.float32)
  thr = np.asarray([0.0, 128.0, 200.0], np.float32)
  explicit("solarization", L.Solarization(), "x255",
           {"additions": add.reshape(-1, 1, 1, 1),
            "thresholds": thr.reshape(-1, 1, 1, 1)}, np.stack([add, thr]))
  explicit("solarization_unit", L.Solarization(value_range=(0, 1)), "x01",
           {"additions": add.reshape(-1, 1, 1, 1),
            "thresholds": thr.reshape(-1, 1, 1, 1)}, np.stack([add, thr]))

  # CutMix's box mask and label weights from explicit corners.
  corners = np.asarray([[1.3, 6.2, 0.5, 4.9],
                        [0.0, 9.0, 2.2, 2.9],
                        [3.7, 3.7, 0.0, 8.0]], np.float32)  # x0, x1, y0, y1
  masks, weights = L.CutMix()._generate_batch_mask(
      (3, 8, 9, 3), tuple(keras.ops.convert_to_tensor(c) for c in corners.T))
  rec["cut_mix_mask/params"] = corners
  rec["cut_mix_mask/output"] = np_(masks)
  rec["cut_mix_mask/weights"] = np_(weights)

  rec["keras_version"] = np.asarray(keras.__version__)
  write_npz(OUT, rec)
  print(f"wrote {OUT}: {len(rec)} arrays, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
  main()
