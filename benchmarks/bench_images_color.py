"""Benchmark: colour ops and the policies, prepro vs Keras 3 (JAX) vs dm_pix.

* rand_augment / aug_mix: prepro (jitted; each op computed only on the
  examples that chose it, see policies.py), the same policy with every op
  computed on every image and kept with ``where`` ("prepro-every-op", Keras'
  formulation, to measure what the grouping saves), and Keras' RandAugment /
  AugMix called eagerly with ``training=True`` (their op choice is per batch
  and AugMix's uses Python's ``random``, so they are not jittable as such).
* colour jitter (brightness, contrast, saturation, hue), at both sizes:
  prepro jitted, Keras' RandomColorJitter eagerly, dm_pix's random_* ops
  vmapped over per-example keys and jitted.
* equalization: prepro jitted vs Keras' Equalization eagerly.

Run: /work/peers/bin/python benchmarks/bench_images_color.py [--quick]
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import prepro_core as pc  # noqa: E402
from _timing import best_mean_seconds  # noqa: E402
from prepro_core._src.image import factories  # noqa: E402
from prepro_core._src.image import policies  # noqa: E402


def _keyed(t, x):
  s = t.init(x)
  f = jax.jit(t.apply)
  base = jax.random.key(0)
  return lambda i: f(s, x, key=jax.random.fold_in(base, i))


def _every_op(kind, x):
  """The policy with every op on every image (naive_apply), jitted."""
  vr = (0.0, 255.0)
  if kind == "rand_augment":
    groups = policies.build_groups(policies.RAND_AUGMENT_OPS, (0.0, 0.5), vr,
                                   "bilinear", "bench")
    kernel = policies.rand_augment_kernel(2, groups, policies.naive_apply)
  else:
    groups = policies.build_groups(policies.AUG_MIX_OPS_ALL, (0.0, 0.3), vr,
                                   "bilinear", "bench")
    kernel = policies.aug_mix_kernel(len(policies.AUG_MIX_OPS_ALL), 3, 3, 1.0,
                                     vr, groups, policies.naive_apply)
  t = factories.image_transform(kind, kernel, rgb=True)
  return _keyed(t, x)


def _keras_eager(layer, x):
  import keras  # pylint: disable=g-import-not-at-top
  xk = keras.ops.convert_to_tensor(x)
  return lambda i: layer(xk, training=True)


def _dm_pix_jitter(x):
  import dm_pix  # pylint: disable=g-import-not-at-top

  def one(key, img):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    img = dm_pix.random_brightness(k1, img, 0.2 * 255)
    # Keras' (and prepro's) RandomContrast(0.5) draws its factor from
    # [1.0, 1.5] (the factor is clipped to [0, 1] before 1 -/+ it); the peer
    # draws from the same range, so both do the same work.
    img = dm_pix.random_contrast(k2, img, 1.0, 1.5)
    img = dm_pix.random_saturation(k3, img / 255, 0.5, 1.5) * 255
    img = dm_pix.random_hue(k4, img / 255, 0.1) * 255
    return jnp.clip(img, 0, 255)

  f = jax.jit(lambda key, imgs: jax.vmap(one)(
      jax.random.split(key, imgs.shape[0]), imgs))
  base = jax.random.key(0)
  return lambda i: f(jax.random.fold_in(base, i), x)


def _rows(name, x, impls, repeats):
  rows = []
  times = {}
  for impl, make in impls:
    try:
      times[impl] = best_mean_seconds(make(x), repeats)
    except Exception as e:  # a peer that fails is reported, not fatal
      print(f"[{name}] {impl} failed: {type(e).__name__}: {e}", file=sys.stderr)
  base = times["prepro"]
  for impl, sec in times.items():
    rows.append({"benchmark": f"{name} {'x'.join(map(str, x.shape))}",
                 "impl": impl, "seconds": sec,
                 "ratio_vs_prepro": sec / base,
                 "images_per_s": x.shape[0] / sec})
  return rows


def run(quick: bool = False) -> list:
  import keras  # pylint: disable=g-import-not-at-top
  L = keras.layers
  rng = np.random.default_rng(0)
  batch = 32 if quick else 128
  small = rng.uniform(0, 255, (batch, 32, 32, 3)).astype(np.float32)
  big = rng.uniform(0, 255, (8 if quick else 16, 224, 224, 3)).astype(
      np.float32)
  reps = 3 if quick else 10
  rows = []
  for x in ((small,) if quick else (small, big)):
    rows += _rows("rand_augment", x, [
        ("prepro", lambda x: _keyed(pc.rand_augment(), x)),
        ("prepro-every-op", lambda x: _every_op("rand_augment", x)),
        ("keras-eager", lambda x: _keras_eager(L.RandAugment(), x)),
    ], reps)
    rows += _rows("aug_mix", x, [
        ("prepro", lambda x: _keyed(pc.aug_mix(), x)),
        ("prepro-every-op", lambda x: _every_op("aug_mix", x)),
        ("keras-eager", lambda x: _keras_eager(L.AugMix(), x)),
    ], max(1, reps // 3))
  for x in ((small,) if quick else (small, big)):
    rows += _rows("color_jitter", x, [
        ("prepro", lambda x: _keyed(pc.random_color_jitter(
            brightness_factor=0.2, contrast_factor=0.5, saturation_factor=0.5,
            hue_factor=0.2), x)),
        ("keras-eager", lambda x: _keras_eager(L.RandomColorJitter(
            brightness_factor=0.2, contrast_factor=0.5, saturation_factor=0.5,
            hue_factor=0.2), x)),
        ("dm_pix-vmap-jit", _dm_pix_jitter),
    ], reps if x is small else max(1, reps // 3))
  rows += _rows("equalization", small, [
      ("prepro", lambda x: _keyed(pc.equalization(), x)),
      ("keras-eager", lambda x: _keras_eager(L.Equalization(), x)),
  ], reps)
  return rows


def main():
  quick = "--quick" in sys.argv
  print(f"device: {jax.devices()[0].platform}")
  print(f"{'benchmark':28s} {'impl':18s} {'seconds':>10s} {'vs prepro':>10s} "
        f"{'images/s':>10s}")
  for r in run(quick):
    print(f"{r['benchmark']:28s} {r['impl']:18s} {r['seconds']:10.5f} "
          f"{r['ratio_vs_prepro']:10.2f} {r['images_per_s']:10.0f}")


if __name__ == "__main__":
  main()
