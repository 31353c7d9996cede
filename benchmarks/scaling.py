"""How cost grows: time per item against batch size, image size, number of
documents and vocabulary size, for prepro and its peers, drawn as curves.

Usage (`make bench` runs it after run_all.py):
  python benchmarks/scaling.py [--quick] [--prepro-only] [--panels NAME ...]
      [--out-dir DIR] [--budget SECONDS]

Panels (each a log-log plot of time per item; a flat line is a cost linear in
the size, a falling one is a fixed cost being spread):
* batch_size: flip + rotation + zoom on 32x32x3 images, batches of 8 to 512:
  prepro jitted, Keras 3 (JAX backend) eager and in jax.jit through
  stateless_call, dm_pix vmapped (bench_augment's implementations);
* image_size: the same at a batch of 8, sides 32 to 384, per pixel;
* documents_adapt, documents_apply: TextVectorization adapt and apply (int,
  length 32) on 1,000 to 64,000 documents of ../shared/bench/corpus.py, per
  document; Keras' layer (TensorFlow string ops); for adapt, pyarrow's
  compute kernels doing the same standardize, split and count;
* vocabulary: StringLookup apply of a fixed set of tokens (one in five a
  miss) against vocabularies of 1,000 to 1,000,000 tokens, per token; Keras'
  StringLookup, pyarrow's index_in, NumPy's searchsorted on the sorted
  vocabulary.

Each point is the best of three rounds of a mean over as many calls as fit in
about 0.2 s (benchmarks/_timing.py); a series stops growing once one of its
points takes longer than --max-point seconds, and the run stops measuring at
--budget. Writes DIR/<panel>.png, DIR/overview.png (all panels) and
DIR/scaling.csv (default DIR: benchmarks/scaling).
"""
from __future__ import annotations

import argparse
import csv
import functools
import importlib.util
import os
import pathlib
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
for _p in (HERE.parents[1] / "shared" / "bench", pathlib.Path("/work/shared/bench")):
  sys.path.insert(0, str(_p))

# panel -> (x label, y label, sizes in a full run, sizes with --quick)
PANELS = {
    "batch_size": ("batch size (32x32x3 images)", "us per image",
                   (8, 32, 128, 512), (8, 32)),
    "image_size": ("image side, px (batch of 8)", "ns per pixel",
                   (32, 64, 128, 224, 384), (32, 64)),
    "documents_adapt": ("documents (TextVectorization adapt)", "us per document",
                        (1_000, 4_000, 16_000, 64_000), (1_000, 4_000)),
    "documents_apply": ("documents (TextVectorization apply, int, length 32)",
                        "us per document", (1_000, 4_000, 16_000, 64_000),
                        (1_000, 4_000)),
    "vocabulary": ("vocabulary size (StringLookup apply)", "ns per token",
                   (1_000, 10_000, 100_000, 1_000_000), (1_000, 10_000)),
}
# The unit of each panel's y axis, in seconds.
_Y_UNIT = {"us": 1e-6, "ns": 1e-9}
LOOKUPS = 200_000  # tokens looked up at every vocabulary size (20,000 quick)


def _have(module: str) -> bool:
  return importlib.util.find_spec(module) is not None


def _image_impls(x):
  """(impl, peer modules it needs, make() -> fn(i)) for the augment recipe."""
  import bench_augment as ba  # pylint: disable=import-outside-toplevel

  def keras_jit():
    fn = ba._keras_jit(x)
    if fn is None:
      raise RuntimeError("keras under jax.jit is not possible")
    return fn
  return [("prepro (jit)", (), lambda: ba._prepro(x)),
          ("keras 3 jax (eager)", ("keras",), lambda: ba._keras_eager(x)),
          ("keras 3 jax (jit, stateless_call)", ("keras",), keras_jit),
          ("dm_pix (jit, vmap)", ("dm_pix",), lambda: ba._dm_pix(x))]


def image_points(panel: str, size: int):
  """The batch and item count of a point, and its implementations."""
  import jax  # pylint: disable=import-outside-toplevel
  shape = (size, 32, 32, 3) if panel == "batch_size" else (8, size, size, 3)
  x = jax.random.uniform(jax.random.key(size), shape)
  items = shape[0] if panel == "batch_size" else shape[0] * size * size
  return items, _image_impls(x)


_PUNCT = r"[!-/:-@\[-`{-~]"  # the 32 ASCII punctuation characters


def _pyarrow_count(docs):
  import pyarrow as pa  # pylint: disable=import-outside-toplevel
  import pyarrow.compute as pac  # pylint: disable=import-outside-toplevel
  arr = pa.array(docs)

  def count(i):
    lowered = pac.utf8_lower(arr)
    split = pac.utf8_split_whitespace(pac.replace_substring_regex(lowered, _PUNCT, ""))
    return pac.value_counts(pac.list_flatten(split))
  return count


@functools.lru_cache(maxsize=1)
def _corpus(n_docs: int) -> list:
  from corpus import corpus  # pylint: disable=import-outside-toplevel
  return corpus(n_docs=n_docs)


def document_points(panel: str, n_docs: int, quick: bool):
  """TextVectorization adapt or apply on the first n_docs documents."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  # One corpus, as large as the panel's largest point, sliced: building it
  # costs more than most of the points.
  docs = _corpus(max(PANELS[panel][3 if quick else 2]))[:n_docs]
  arr = np.array(docs)
  t = pc.text_vectorization(output_sequence_length=32)

  def keras_layer():
    import keras  # pylint: disable=import-outside-toplevel
    return keras.layers.TextVectorization(output_sequence_length=32)

  if panel == "documents_adapt":
    def keras_adapt():
      layer = keras_layer()
      return lambda i: layer.adapt(arr)
    return n_docs, [("prepro", (), lambda: lambda i: pc.adapt(t, docs)),
                    ("keras", ("keras", "tensorflow"), keras_adapt),
                    ("pyarrow (standardize, split, count)", ("pyarrow",),
                     lambda: _pyarrow_count(docs))]
  state = pc.adapt(t, docs)

  def keras_apply():
    layer = keras_layer()
    layer.adapt(arr)
    return lambda i: np.asarray(layer(arr))
  return n_docs, [("prepro", (), lambda: lambda i: t.apply(state, docs)),
                  ("keras", ("keras", "tensorflow"), keras_apply)]


def vocabulary_points(vocab_size: int, lookups: int):
  """StringLookup apply of `lookups` tokens against vocab_size tokens."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import prepro_core as pc  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(vocab_size)
  vocab = np.char.add("tok", rng.permutation(vocab_size).astype(str))
  picks = rng.integers(0, vocab_size, lookups)
  queries = vocab[picks]
  miss = rng.random(lookups) < 0.2
  queries[miss] = np.char.add("miss", picks[miss].astype(str))
  vocab_list = vocab.tolist()

  def prepro():
    t = pc.string_lookup(vocabulary=vocab_list)
    state = t.init(None)
    return lambda i: t.apply(state, queries)

  def keras():
    import keras as k  # pylint: disable=import-outside-toplevel
    layer = k.layers.StringLookup(vocabulary=vocab_list)
    return lambda i: np.asarray(layer(queries))

  def pyarrow():
    import pyarrow as pa  # pylint: disable=import-outside-toplevel
    import pyarrow.compute as pac  # pylint: disable=import-outside-toplevel
    value_set, q = pa.array(vocab_list), pa.array(queries)
    return lambda i: pac.index_in(q, value_set=value_set)

  def numpy():
    order = np.argsort(vocab)
    ordered = vocab[order]

    def lookup(i):
      pos = np.minimum(np.searchsorted(ordered, queries), vocab_size - 1)
      return np.where(ordered[pos] == queries, order[pos] + 1, 0)
    return lookup
  return lookups, [("prepro", (), prepro),
                   ("keras", ("keras", "tensorflow"), keras),
                   ("pyarrow index_in", ("pyarrow",), pyarrow),
                   ("numpy searchsorted", (), numpy)]


def points(panel: str, size: int, quick: bool):
  if panel in ("batch_size", "image_size"):
    return image_points(panel, size)
  if panel.startswith("documents"):
    return document_points(panel, size, quick)
  return vocabulary_points(size, LOOKUPS // 10 if quick else LOOKUPS)


def measure(panels, quick: bool, peers: bool, max_point: float, budget: float) -> list:
  """The rows: one a (panel, impl, size) measured."""
  from _timing import adaptive_seconds  # pylint: disable=import-outside-toplevel
  start = time.monotonic()
  rows = []
  for panel in panels:
    stopped = set()  # series whose last point took longer than max_point
    for size in PANELS[panel][3 if quick else 2]:
      if time.monotonic() - start > budget:
        print(f"[budget] {panel} {size}: not measured", file=sys.stderr)
        continue
      items, impls = points(panel, size, quick)
      for impl, needs, make in impls:
        if impl in stopped or (needs and not peers) or not all(map(_have, needs)):
          continue
        try:
          sec = adaptive_seconds(make(), target=0.05 if quick else 0.2)
        except Exception as e:  # a peer that fails is reported, not fatal
          print(f"[{panel} {size}] {impl} failed: {type(e).__name__}: {e}"[:300],
                file=sys.stderr)
          continue
        if sec > max_point:
          stopped.add(impl)
        rows.append({"panel": panel, "impl": impl, "size": size, "items": items,
                     "seconds": sec, "seconds_per_item": sec / items})
        print(f"  {panel:16s} {size:>9,} {impl:38s} {sec * 1e3:10.2f} ms", flush=True)
  return rows


def write_csv(rows: list, path: pathlib.Path) -> None:
  with path.open("w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["panel", "impl", "size", "items", "seconds",
                                      "seconds_per_item"])
    w.writeheader()
    w.writerows(rows)


# One colour a library, the same in every panel; Keras in jax.jit dashed.
_COLOURS = (("prepro", "black"), ("keras", "tab:blue"), ("dm_pix", "tab:green"),
            ("pyarrow", "tab:orange"), ("numpy", "tab:purple"))


def _style(impl: str) -> dict:
  colour = next((c for name, c in _COLOURS if impl.startswith(name)), None)
  style = {"color": colour, "marker": "o"}
  if impl.startswith("prepro"):
    style["linewidth"] = 2.5
  if impl.startswith("keras") and "jit" in impl:
    style["linestyle"] = "--"
  return style


def _draw(ax, panel: str, rows: list) -> None:
  from matplotlib import ticker  # pylint: disable=import-outside-toplevel
  xlabel, ylabel = PANELS[panel][:2]
  scale = _Y_UNIT[ylabel.split()[0]]
  mine = [r for r in rows if r["panel"] == panel]
  for impl in dict.fromkeys(r["impl"] for r in mine):
    pts = sorted((r["size"], r["seconds_per_item"] / scale) for r in mine
                 if r["impl"] == impl)
    ax.plot(*zip(*pts), label=impl, **_style(impl))
  ax.set_xscale("log")
  ax.set_yscale("log")
  # The measured sizes as plain numbers, not powers of ten.
  ax.set_xticks(sorted({r["size"] for r in mine}))
  ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
  ax.xaxis.set_minor_formatter(ticker.NullFormatter())
  ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
  # Within a decade only the 2s and 5s are labelled, as plain numbers too.
  ax.yaxis.set_minor_formatter(ticker.FuncFormatter(
      lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
  ax.set_xlabel(xlabel)
  ax.set_ylabel(f"{ylabel} (lower is better)")
  ax.grid(True, which="both", alpha=0.3)
  ax.legend(fontsize=7)


def plot(rows: list, out_dir: pathlib.Path, device: str) -> list:
  """One PNG a panel and an overview of all; returns the paths."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  panels = list(dict.fromkeys(r["panel"] for r in rows))
  paths = []
  for panel in panels:
    fig, ax = plt.subplots(figsize=(6, 4.2))
    _draw(ax, panel, rows)
    ax.set_title(f"{panel.replace('_', ' ')} ({device})", fontsize=9)
    fig.tight_layout()
    paths.append(out_dir / f"{panel}.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
  if panels:
    cols = min(3, len(panels))
    nrows = -(-len(panels) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 4 * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
      _draw(ax, panel, rows)
      ax.set_title(panel.replace("_", " "), fontsize=9)
    for ax in list(axes.flat)[len(panels):]:
      ax.set_visible(False)
    fig.suptitle(f"prepro and its peers: time per item, log-log ({device})", fontsize=10)
    fig.tight_layout()
    paths.append(out_dir / "overview.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
  return paths


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--quick", action="store_true", help="two sizes a panel, short rounds")
  parser.add_argument("--prepro-only", action="store_true", help="leave the peers out")
  parser.add_argument("--panels", nargs="*", choices=list(PANELS), default=None)
  parser.add_argument("--out-dir", default=str(HERE / "scaling"))
  parser.add_argument("--max-point", type=float, default=5.0,
                      help="a series stops after a point slower than this (s)")
  parser.add_argument("--budget", type=float, default=540.0,
                      help="stop measuring after this many seconds")
  args = parser.parse_args(argv)
  import jax  # pylint: disable=import-outside-toplevel
  d = jax.devices()[0]
  device = f"{d.platform}: {getattr(d, 'device_kind', d.platform)}, {os.cpu_count()} cores"
  start = time.monotonic()
  rows = measure(args.panels or list(PANELS), args.quick, not args.prepro_only,
                 args.max_point, args.budget)
  out_dir = pathlib.Path(args.out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  write_csv(rows, out_dir / "scaling.csv")
  for path in plot(rows, out_dir, device):
    print(f"wrote {path}")
  print(f"wrote {out_dir / 'scaling.csv'} ({len(rows)} points, "
        f"{time.monotonic() - start:.0f} s)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
