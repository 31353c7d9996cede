"""The device benchmarks: prepro against Keras 3 (JAX backend) and dm_pix on
whatever accelerator JAX sees, in one run under a hard time budget.

Usage (`make bench-gpu` builds the environment and runs it):
  python benchmarks/run_accelerator.py [--quick] [--install] [--prepro-only]
      [--budget SECONDS] [--only CASE ...] [--out PATH]

Cases, each on the default JAX device, prepro jitted:
* recipe32, recipe224: RandomFlip("horizontal") + RandomRotation(0.1) +
  RandomZoom(0.1) (bench_augment's implementations: Keras eager and in
  jax.jit through stateless_call, dm_pix vmapped);
* randaugment32, randaugment224: RandAugment (Keras eager; dm_pix has none);
* jitter: RandomColorJitter (Keras eager, dm_pix's random_* ops);
* normalization: Normalization apply on a device array, as GB/s (bytes read
  plus bytes written) and as a share of the device's peak memory bandwidth
  (PEAK_BANDWIDTH_GBS; where the device is not listed, the share is taken of
  a jitted `x + 1` on the same array, the streaming rate XLA reaches there);
* hashing: Hashing of int32 ids; integer_lookup: IntegerLookup apply. Keras'
  Hashing and IntegerLookup run TensorFlow ops on the host whatever the
  backend, so their rows time that (with the NumPy input they need).

--install pip-installs what is missing into this interpreter first:
jax[cuda12] where `nvidia-smi` exists, keras, tensorflow-cpu (Keras' lookup
layers need it; the CPU build keeps TensorFlow off the GPU) and dm-pix.
--budget (seconds from the start, installation included) is hard: the case
running when it ends is interrupted, and a watchdog writes what was measured
and exits should the process be stuck in native code. The table (markdown,
device name in its header) is printed and written to --out.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import os
import pathlib
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

DEFAULT_OUT = HERE / "RESULTS-accelerator.md"
CASES = ("recipe32", "recipe224", "randaugment32", "randaugment224", "jitter",
         "normalization", "hashing", "integer_lookup")
# Published peak memory bandwidth, GB/s, of one JAX device of each kind (a TPU
# v2/v3 chip shows as two devices, so half a chip). Matched in order against
# the lower-cased device_kind: the more specific names come first.
PEAK_BANDWIDTH_GBS = (
    ("gh200", 4000), ("h200", 4800), ("h100 nvl", 3900), ("h100 pcie", 2000),
    ("h100", 3350), ("b200", 8000), ("a100-sxm4-80gb", 2039),
    ("a100 80gb pcie", 1935), ("a100-pcie-80gb", 1935), ("a100", 1555),
    ("l40s", 864), ("l40", 864), ("l4", 300), ("a10g", 600), ("a10", 600),
    ("v100", 900), ("t4", 320), ("rtx 4090", 1008), ("rtx 3090", 936),
    ("tpu v6 lite", 1640), ("tpu v6e", 1640), ("tpu v5 lite", 819),
    ("tpu v5e", 819), ("tpu v5p", 2765), ("tpu v5", 2765), ("tpu v4", 1228),
    ("tpu v3", 450), ("tpu v2", 350),
)


def peak_bandwidth_gbs(device_kind: str):
  """The listed peak memory bandwidth of a device kind, or None."""
  kind = device_kind.lower()
  for name, gbs in PEAK_BANDWIDTH_GBS:
    if name in kind:
      return gbs
  return None


class _OutOfTime(Exception):
  """Raised in the main thread when the time budget is spent."""


def install_missing(peers: bool) -> None:
  """pip-installs into this interpreter what the run needs and lacks."""
  pkgs = []
  if shutil.which("nvidia-smi") and importlib.util.find_spec("jax_cuda12_plugin") is None:
    pkgs.append("jax[cuda12]")
  if peers:
    for module, pkg in (("keras", "keras"), ("tensorflow", "tensorflow-cpu"),
                        ("dm_pix", "dm-pix")):
      if importlib.util.find_spec(module) is None:
        pkgs.append(pkg)
  if not pkgs:
    return
  print(f"installing {' '.join(pkgs)}", flush=True)
  done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *pkgs],
                        check=False)
  if done.returncode:  # the run goes on without what failed to install
    print(f"[install] pip exited {done.returncode}", file=sys.stderr)


def _have(module: str) -> bool:
  return importlib.util.find_spec(module) is not None


def _sizes(platform_name: str, quick: bool) -> dict:
  """Batch shapes and element counts for the device (small on a CPU)."""
  if platform_name == "cpu":
    if quick:
      return {"small": (16, 32, 32, 3), "big": (2, 224, 224, 3), "rows": 100_000,
              "ids": 100_000, "repeats": 2}
    return {"small": (128, 32, 32, 3), "big": (16, 224, 224, 3), "rows": 2_000_000,
            "ids": 1_000_000, "repeats": 5}
  if quick:
    return {"small": (256, 32, 32, 3), "big": (32, 224, 224, 3), "rows": 2**22,
            "ids": 2**22, "repeats": 5}
  return {"small": (1024, 32, 32, 3), "big": (128, 224, 224, 3), "rows": 2**23,
          "ids": 2**24, "repeats": 20}


class Runner:
  """Times a case's implementations and keeps the rows (the watchdog reads
  them from another thread, so a finished row is appended whole)."""

  def __init__(self, sizes: dict, peers: bool):
    from _timing import best_mean_seconds  # pylint: disable=import-outside-toplevel
    self.time = best_mean_seconds
    self.sizes = sizes
    self.peers = peers
    self.rows = []
    self.notes = []

  def case(self, name: str, impls: list, items: float, unit: str) -> None:
    """impls: (impl, needs, make) with make() -> fn(i); needs: peer modules.
    The first impl is prepro's, the reference of the ratios."""
    times = {}
    for impl, needs, make in impls:
      if needs and not self.peers:
        continue
      missing = [m for m in needs if not _have(m)]
      if missing:
        self.notes.append(f"{name}: {impl} skipped ({', '.join(missing)} absent)")
        continue
      try:
        times[impl] = self.time(make(), self.sizes["repeats"])
      except _OutOfTime:
        raise
      except Exception as e:  # a peer that fails is reported, not fatal
        self.notes.append(f"{name}: {impl} failed: {type(e).__name__}: {e}"[:300])
    ref = times.get(impls[0][0])
    for impl, sec in times.items():
      self.rows.append({"benchmark": name, "impl": impl, "seconds": sec,
                        "ratio_vs_prepro": sec / ref if ref else float("nan"),
                        "throughput": _throughput(items / sec, unit)})


def _throughput(rate: float, unit: str) -> str:
  if unit == "GB/s":
    return f"{rate / 1e9:,.1f} GB/s"
  if rate >= 1e6:
    return f"{rate / 1e6:,.1f} M {unit}"
  return f"{rate:,.0f} {unit}"


def _recipe_impls(x):
  import bench_augment as ba  # pylint: disable=import-outside-toplevel
  return [("prepro (jit, fused)", (), lambda: ba._prepro(x)),
          ("keras 3 jax (eager)", ("keras",), lambda: ba._keras_eager(x)),
          ("keras 3 jax (stateless_call in jax.jit)", ("keras",),
           lambda: _or_raise(ba._keras_jit(x), "keras under jax.jit")),
          ("dm_pix (jit, vmap)", ("dm_pix",), lambda: ba._dm_pix(x))]


def _or_raise(fn, what):
  if fn is None:
    raise RuntimeError(f"{what} is not possible")
  return fn


def _keras_layer(name, **kwargs):
  import keras  # pylint: disable=import-outside-toplevel
  return getattr(keras.layers, name)(**kwargs)


def _image_cases(r: Runner, case: str):
  """The augmentation recipe, RandAugment and colour jitter."""
  import jax  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  import bench_images_color as bic  # pylint: disable=import-outside-toplevel
  shape = r.sizes["big" if case.endswith("224") else "small"]
  label = "x".join(map(str, shape))
  if case.startswith("recipe"):
    x = jax.random.uniform(jax.random.key(1), shape)
    r.case(f"flip+rotation+zoom {label}", _recipe_impls(x), shape[0], "img/s")
    return
  x = jax.random.uniform(jax.random.key(1), shape, minval=0.0, maxval=255.0)
  if case.startswith("randaugment"):
    r.case(f"rand_augment {label}", [
        ("prepro", (), lambda: bic._keyed(pc.rand_augment(), x)),
        ("keras-eager", ("keras",),
         lambda: bic._keras_eager(_keras_layer("RandAugment"), x)),
    ], shape[0], "img/s")
    return
  factors = {"brightness_factor": 0.2, "contrast_factor": 0.5,
             "saturation_factor": 0.5, "hue_factor": 0.2}
  r.case(f"color_jitter {label}", [
      ("prepro", (), lambda: bic._keyed(pc.random_color_jitter(**factors), x)),
      ("keras-eager", ("keras",),
       lambda: bic._keras_eager(_keras_layer("RandomColorJitter", **factors), x)),
      ("dm_pix-vmap-jit", ("dm_pix",), lambda: bic._dm_pix_jitter(x)),
  ], shape[0], "img/s")


def _keras_jitted(layer, x):
  """A Keras layer's call inside jax.jit through its stateless API."""
  import jax  # pylint: disable=import-outside-toplevel
  layer.build(x.shape)
  trainable = [v.value for v in layer.trainable_variables]
  non_trainable = [v.value for v in layer.non_trainable_variables]
  f = jax.jit(lambda nt, xx: layer.stateless_call(trainable, nt, xx)[0])
  return lambda i: f(non_trainable, x)


def _normalization_case(r: Runner):
  """Normalization apply on a device array, as memory bandwidth."""
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  rows = r.sizes["rows"]
  x = jax.random.normal(jax.random.key(0), (rows, 32)) * 2.0 + 3.0
  mean, var = np.full(32, 3.0, np.float32), np.full(32, 4.0, np.float32)
  t = pc.normalization(mean=mean, variance=var)
  state = t.init(x)
  apply = jax.jit(t.apply)
  plus_one = jax.jit(lambda v: v + 1.0)

  def keras_layer():
    return _keras_layer("Normalization", mean=mean, variance=var)
  r.case(f"normalization apply {rows}x32", [
      ("prepro (jit)", (), lambda: lambda i: apply(state, x)),
      ("keras 3 jax (eager)", ("keras",),
       lambda: (lambda layer: lambda i: layer(x))(keras_layer())),
      ("keras 3 jax (stateless_call in jax.jit)", ("keras",),
       lambda: _keras_jitted(keras_layer(), x)),
      ("jnp x + 1 (jit, streaming reference)", (), lambda: lambda i: plus_one(x)),
  ], 2 * x.size * 4, "GB/s")


def _integer_cases(r: Runner, case: str):
  """Hashing and IntegerLookup of int32 ids on the device."""
  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  n = r.sizes["ids"]
  rng = np.random.default_rng(0)
  if case == "hashing":
    ids = rng.integers(-2**31, 2**31, n).astype(np.int32)
    t = pc.hashing(2**20)
    s = t.init(ids[:1])
    f = jax.jit(lambda v: t.apply(s, v))
    xd = jax.device_put(ids)
    r.case(f"hash {n} int32 ids", [
        ("prepro (device, jit)", (), lambda: lambda i: f(xd)),
        ("keras Hashing (TF ops on the host)", ("keras", "tensorflow"),
         lambda: (lambda k: lambda i: np.asarray(k(ids)))(
             _keras_layer("Hashing", num_bins=2**20))),
    ], n, "ids/s")
    return
  values = (rng.zipf(1.2, size=n) % 1_000_000).astype(np.int32)
  t = pc.integer_lookup(max_tokens=50_000)
  s = jax.device_put(t.adapt(t.init(None), values))
  f = jax.jit(t.apply)
  xd = jax.device_put(values)
  r.case(f"integer_lookup apply int ({n} values)", [
      ("prepro (device, jit)", (), lambda: lambda i: f(s, xd)),
      ("keras IntegerLookup (TF ops on the host)", ("keras", "tensorflow"),
       lambda: (lambda k: lambda i: np.asarray(k(values)))(_keras_layer(
           "IntegerLookup", vocabulary=pc.get_vocabulary(s)[1:]))),
  ], n, "values/s")


def run_case(r: Runner, case: str) -> None:
  if case in ("hashing", "integer_lookup"):
    _integer_cases(r, case)
  elif case == "normalization":
    _normalization_case(r)
  else:
    _image_cases(r, case)


def device_info() -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  d = jax.devices()[0]
  kind = getattr(d, "device_kind", d.platform)
  return {"platform": d.platform, "kind": kind, "count": jax.device_count(),
          "peak_gbs": peak_bandwidth_gbs(kind), "jax": jax.__version__}


def _bandwidth_note(rows: list, dev: dict) -> str:
  """The normalization row against the peak (or the streaming reference)."""
  ours = [r for r in rows if r["benchmark"].startswith("normalization")
          and r["impl"] == "prepro (jit)"]
  if not ours:
    return ""
  gbs = float(ours[0]["throughput"].split()[0].replace(",", ""))
  if dev["peak_gbs"]:
    return (f"Normalization apply: {gbs:,.1f} GB/s, {100 * gbs / dev['peak_gbs']:.0f}% of "
            f"the {dev['kind']}'s listed peak ({dev['peak_gbs']:,} GB/s).")
  ref = [r for r in rows if r["impl"].startswith("jnp x + 1")]
  if not ref:
    return f"Normalization apply: {gbs:,.1f} GB/s (no listed peak for {dev['kind']})."
  ref_gbs = float(ref[0]["throughput"].split()[0].replace(",", ""))
  return (f"Normalization apply: {gbs:,.1f} GB/s; no listed peak for {dev['kind']}, so: "
          f"{100 * gbs / ref_gbs:.0f}% of a jitted `x + 1` on the same array "
          f"({ref_gbs:,.1f} GB/s).")


def markdown(rows: list, notes: list, dev: dict, args, finished: bool) -> str:
  """The results page: device, versions, the table, what was skipped."""
  versions = []
  for module in ("jax", "keras", "dm_pix", "tensorflow"):
    try:
      versions.append(f"{module} {importlib.import_module(module).__version__}")
    except Exception:  # a peer that is not installed is reported as absent
      versions.append(f"{module} absent")
  lines = [
      f"# Device benchmarks: {dev['kind']} ({dev['platform']}, x{dev['count']})", "",
      f"- date: {datetime.date.today().isoformat()}",
      f"- host: {platform.machine()}, {os.cpu_count()} CPU cores",
      "- versions: " + ", ".join(versions),
      f"- mode: {'quick' if args.quick else 'full'}"
      f"{', prepro only' if args.prepro_only else ''}"
      f"{'' if finished else ', stopped at the time budget'}",
      "", "Ratio = peer time / prepro time (above 1: prepro is faster).", "",
      "| workload | implementation | ms | throughput | ratio vs prepro |",
      "|---|---|---:|---:|---:|",
  ]
  lines += [f"| {r['benchmark']} | {r['impl']} | {r['seconds'] * 1e3:.3f} | "
            f"{r['throughput']} | {r['ratio_vs_prepro']:.2f} |" for r in rows]
  note = _bandwidth_note(rows, dev)
  lines += ([""] + [note] if note else []) + ([""] + [f"- {n}" for n in notes] if notes else [])
  return "\n".join(lines) + "\n"


def _parse(argv=None):
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
  parser.add_argument("--install", action="store_true", help="pip-install what is missing")
  parser.add_argument("--prepro-only", action="store_true", help="leave the peers out")
  parser.add_argument("--budget", type=float, default=450.0,
                      help="hard limit in seconds from the start (default 450)")
  parser.add_argument("--only", nargs="*", choices=CASES, default=None)
  parser.add_argument("--out", default=str(DEFAULT_OUT))
  return parser.parse_args(argv)


def main(argv=None) -> int:
  start = time.monotonic()
  args = _parse(argv)
  if args.install:
    install_missing(peers=not args.prepro_only)
  dev = device_info()
  print(f"device: {dev['kind']} ({dev['platform']} x{dev['count']}), jax {dev['jax']}",
        flush=True)
  r = Runner(_sizes(dev["platform"], args.quick), peers=not args.prepro_only)
  out = pathlib.Path(args.out)

  def write(finished: bool) -> str:
    text = markdown(list(r.rows), list(r.notes), dev, args, finished)
    out.write_text(text)
    return text

  def watchdog():  # native code the alarm cannot interrupt
    time.sleep(max(0.0, args.budget - (time.monotonic() - start)) + 15)
    write(False)
    print(f"[budget] watchdog: wrote {out} and exits", file=sys.stderr, flush=True)
    os._exit(3)
  threading.Thread(target=watchdog, daemon=True).start()

  def alarm(signum, frame):
    raise _OutOfTime()
  signal.signal(signal.SIGALRM, alarm)
  finished = True
  for case in args.only or CASES:
    left = args.budget - (time.monotonic() - start)
    if left <= 1:
      r.notes.append(f"{case}: not run, the {args.budget:.0f} s budget was spent")
      finished = False
      continue
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
      run_case(r, case)
    except _OutOfTime:
      r.notes.append(f"{case}: interrupted at the {args.budget:.0f} s budget")
      finished = False
    finally:
      signal.setitimer(signal.ITIMER_REAL, 0)
    print(f"[{time.monotonic() - start:6.1f} s] {case} done", flush=True)
  text = write(finished)
  print(text)
  print(f"wrote {out} in {time.monotonic() - start:.1f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
