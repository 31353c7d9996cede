"""Runs every benchmark against its peers in one process and writes RESULTS.md.

Usage (via `make bench`, which builds .venv-bench with the peers):
  python benchmarks/run_all.py [--quick] [--only NAME ...] [--no-readme]

Each benchmarks/bench_<family>.py exposes `run(quick) -> list[dict]` with rows
{"benchmark", "impl", "seconds", "ratio_vs_prepro"} (ratio > 1: prepro faster)
and optional extra keys (e.g. "items_per_s").

A full run also rewrites the README's result tables, between the marker
comments `<!-- bench:start NAME -->` and `<!-- bench:end NAME -->`, from the
same rows (see README_TABLES); a quick run, or `--no-readme`, leaves the
README alone.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import math
import os
import pathlib
import platform
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
README = HERE.parent / "README.md"
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

FAMILIES = ["normalization", "lookups", "text", "hashing", "augment", "images_color",
            "pipeline", "feature_space", "vocab_files", "beam"]

# The README's result tables: for each marker name, the rows of the table as
# (benchmark regex, cells). The regex is matched against a row's whole
# "benchmark" (sizes vary, so they are \d+); the first benchmark that matches,
# in run order, is used. A cell is a template whose placeholders read rows of
# that benchmark:
#   {sec:IMPL}    the impl's time            {rate:IMPL}  its items per second
#   {x:IMPL}      its ratio_vs_prepro        {ratio:IMPL} the same, bold below 1
#   {faster:IMPL} the ratio, or "**Nx faster**" where the peer is faster
#   {x:A|B} / {ratio:A|B}  A's time over B's (B's rate over A's, when rated)
#   {keep}        the whole cell as the README has it now (a measurement that
#                 this run does not make, e.g. a run with other sizes)
# The first cell is the README's wording for the row; a README row is found by
# it (placeholders match anything). A row whose rows are missing from the run
# (a partial run, a renamed benchmark) is left as the README has it.
_WORKLOAD_HEADER = ("| workload | prepro | Keras 3 | other peers |", "|---|---:|---:|---|")
_N = r"\d+"
README_TABLES = {
    "main": {"time": "ms", "header": _WORKLOAD_HEADER, "rows": [
        (rf"normalization adapt {_N}x32", [
            "Normalization adapt, 2,000,000 x 32 float32 as a NumPy array (`pc.adapt` stages it)",
            "{sec:prepro, NumPy input}", "{ratio:keras3-jax Normalization.adapt}",
            "NumPy mean+var {ratio:numpy mean+var}, scikit-learn {ratio:sklearn StandardScaler.fit}"]),
        (rf"normalization adapt {_N}x32", [
            "same, data already in a `jax.Array`", "{sec:prepro, jax.Array input}",
            "{ratio:keras3-jax Normalization.adapt|prepro, jax.Array input}",
            "NumPy {ratio:numpy mean+var|prepro, jax.Array input}, "
            "scikit-learn {ratio:sklearn StandardScaler.fit|prepro, jax.Array input}"]),
        (rf"normalization apply {_N}x32, fresh result", [
            "Normalization apply, one new 256 MB result, jitted, `jax.Array` input",
            "{sec:prepro, jax.Array input}", "{ratio:keras3-jax Normalization.__call__}",
            "NumPy (x-m)/s {ratio:numpy (x-m)/s}, "
            "scikit-learn {ratio:sklearn StandardScaler.transform}"]),
        (rf"normalization apply {_N}x32, fresh result", [
            "same, NumPy input through `pc.to_device` (through jax's own transfer: "
            "{sec:prepro, NumPy input via jax's transfer})",
            "{sec:prepro, NumPy input via pc.to_device}",
            "{ratio:keras3-jax Normalization.__call__|prepro, NumPy input via pc.to_device}",
            "NumPy {ratio:numpy (x-m)/s|prepro, NumPy input via pc.to_device}"]),
        (rf"normalization apply {_N}x32, in place", [
            "same, input donated (result written over it)",
            "{sec:prepro, jax.Array input donated}", "", "NumPy with `out=` {ratio:numpy, out=}"]),
        (rf"normalization apply {_N}x32, {_N}-row batches", [
            "same, streamed in 8,192-row (1 MiB) batches", "{sec:prepro, jax.Array batches}", "",
            "NumPy per batch {ratio:numpy (x-m)/s per batch}"]),
        (rf"normalization apply {_N}x32, fresh result, GLIBC_TUNABLES=.*", [
            "same as the first apply row, `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`",
            "{sec:prepro, jax.Array input}", "", "NumPy {ratio:numpy (x-m)/s}"]),
        (rf"string_lookup adapt \({_N} tokens\)", [
            "StringLookup adapt, 1.39M tokens", "{sec:prepro}", "{ratio:keras}", ""]),
        (rf"string_lookup apply int, str_ array \({_N}\)", [
            "StringLookup apply, 1.39M tokens as a NumPy str array", "{sec:prepro}",
            "{ratio:keras}", ""]),
        (rf"string_lookup apply int, list of str \({_N}\)", [
            "StringLookup apply, same tokens as a list", "{sec:prepro}", "{ratio:keras}", ""]),
        (rf"integer_lookup apply int \({_N} values\)", [
            "IntegerLookup apply, 2M values, jitted", "{sec:prepro}", "{ratio:keras}", ""]),
        (rf"integer_lookup adapt \({_N} values\)", [
            "IntegerLookup adapt, 2M values", "{sec:prepro}", "{ratio:keras}", ""]),
        (rf"text_vectorization/adapt/{_N}docs", [
            "TextVectorization adapt, 200,000 documents", "{sec:prepro}", "{ratio:keras}",
            "pyarrow.compute {ratio:pyarrow}"]),
        (rf"text_vectorization/apply_int32_one_batch/{_N}docs", [
            "TextVectorization apply, int, length 32, one batch of 200,000", "{sec:prepro}",
            "{ratio:keras}", "pyarrow.compute {ratio:pyarrow}"]),
        (rf"text_vectorization/apply_int32_batches_10k/{_N}docs", [
            "TextVectorization apply, int, length 32, batches of 10,000", "{sec:prepro}",
            "{ratio:keras}", ""]),
        (rf"hash {_N} str tokens \(numpy array\)", [
            "Hashing, 691,888 string tokens (NumPy array)", "{sec:prepro}", "{ratio:keras}",
            "prepro without numba: {x:prepro (numpy kernels)} slower than with"]),
        (rf"hash {_N} str tokens, salt \(array\)", [
            "Hashing, same tokens, salted (SipHash)", "{sec:prepro}", "{ratio:keras}", ""]),
        (rf"hash {_N} str tokens \(list\)", [
            "Hashing, same tokens as a list", "{sec:prepro}", "{ratio:keras}", ""]),
        (rf"hash {_N} int32 ids", [
            "Hashing, 1M int32 ids on device", "{sec:prepro (device, jit)}", "{ratio:keras}", ""]),
        (rf"flip\+rotation\+zoom {_N}x32x32x3", [
            "RandomFlip + RandomRotation(0.1) + RandomZoom(0.1), 128x32x32x3, jitted",
            "{sec:prepro (jit, fused)} ({rate:prepro (jit, fused)} img/s)",
            "{ratio:keras 3 jax (eager)} (eager), "
            "{ratio:keras 3 jax (stateless_call in jax.jit)} (jitted `stateless_call`)",
            "dm_pix {ratio:dm_pix (jit, vmap)}"]),
        (rf"flip\+rotation\+zoom {_N}x224x224x3", [
            "same, 16x224x224x3", "{sec:prepro (jit, fused)} ({rate:prepro (jit, fused)} img/s)",
            "{ratio:keras 3 jax (eager)} (eager), "
            "{ratio:keras 3 jax (stateless_call in jax.jit)} (jitted)",
            "dm_pix {ratio:dm_pix (jit, vmap)}"]),
        (rf"rand_augment {_N}x32x32x3", [
            "RandAugment, 128x32x32x3", "{sec:prepro}", "{ratio:keras-eager}",
            "every op on every image: {ratio:prepro-every-op}"]),
        (rf"rand_augment {_N}x224x224x3", [
            "RandAugment, 16x224x224x3", "{sec:prepro}", "{ratio:keras-eager}",
            "every op on every image: {ratio:prepro-every-op}"]),
        (rf"aug_mix {_N}x32x32x3", [
            "AugMix, 128x32x32x3", "{sec:prepro}", "{ratio:keras-eager}",
            "every op on every image: {ratio:prepro-every-op}"]),
        (rf"aug_mix {_N}x224x224x3", [
            "AugMix, 16x224x224x3", "{sec:prepro}", "{ratio:keras-eager}",
            "every op on every image: {ratio:prepro-every-op}"]),
        (rf"color_jitter {_N}x32x32x3", [
            "RandomColorJitter, 128x32x32x3", "{sec:prepro}", "{ratio:keras-eager}",
            "dm_pix {ratio:dm_pix-vmap-jit}"]),
        (rf"equalization {_N}x32x32x3", [
            "Equalization, 128x32x32x3", "{sec:prepro}", "{ratio:keras-eager}", ""]),
    ]},
    "pipeline": {"time": "ms", "header": (
        "| workload | prepro | Keras 3 on tf.data (AUTOTUNE, prefetch) |", "|---|---:|---:|"),
        "rows": [
        (rf"text pipeline .*, {_N} docs", [
            "TextVectorization(int, 64) + StringLookup, 50,000 corpus documents, grain "
            "`.batch(256)` of single-document records, in process",
            "{rate:prepro in grain, in process} docs/s",
            "{rate:keras on tf.data (AUTOTUNE, prefetch)} docs/s "
            "({faster:keras on tf.data (AUTOTUNE, prefetch)})"]),
        (rf"text pipeline .*, {_N} docs", [
            "same records read through `pc.grain.batch(records, 256)`, in process",
            "{rate:prepro in grain, pc.grain.batch, in process} docs/s",
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, pc.grain.batch, "
            "in process} tf.data's rate)"]),
        (rf"text pipeline .*, {_N} docs", [
            "same batches read from columns, `pc.grain.batch({\"text\": docs, \"tag\": "
            "tags}, 256)`, in process",
            "{rate:prepro in grain, pc.grain.batch columns, in process} docs/s",
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, pc.grain.batch "
            "columns, in process} tf.data's rate)"]),
        (rf"text pipeline .*, {_N} docs", [
            "same columns, `to_iter_dataset(grain.ReadOptions(num_threads=cores))` (2 here; "
            "grain's default is 16), in process",
            "{rate:prepro in grain, pc.grain.batch columns, in process, a thread a core} docs/s",
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, pc.grain.batch "
            "columns, in process, a thread a core} tf.data's rate)"]),
        (rf"text pipeline .*, {_N} docs", [
            "same columns, `pc.grain.threaded_read(ds)` (this thread and a helper, a thread a "
            "core), in process",
            "{rate:prepro in grain, pc.grain.batch columns, pc.grain.threaded_read, a thread a "
            "core} docs/s",
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, pc.grain.batch "
            "columns, pc.grain.threaded_read, a thread a core} tf.data's rate)"]),
        (rf"text pipeline .*, {_N} docs", [
            "same, `shuffle_seed=0` (a permutation each epoch)",
            "{rate:prepro in grain, pc.grain.batch columns shuffled, pc.grain.threaded_read, a "
            "thread a core} docs/s",
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, pc.grain.batch "
            "columns shuffled, pc.grain.threaded_read, a thread a core} tf.data's rate)"]),
        (rf"text pipeline .*, {_N} docs", [
            "same columns, grain `mp_prefetch`, 1 / 2 workers",
            "{rate:prepro in grain, pc.grain.batch columns, 1 workers} / "
            "{rate:prepro in grain, pc.grain.batch columns, 2 workers} docs/s",
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, pc.grain.batch "
            "columns, 2 workers} tf.data's rate with 2)"]),
        (rf"text pipeline .*, {_N} docs", [
            "same columns, `pc.grain.mp_prefetch(ds, k)` (each worker reads in its own loop; "
            "arrays under 1 MiB pickled, not one shared memory block each), 1 / 2 workers",
            "{rate:prepro in grain, pc.grain.batch columns, pc.grain.mp_prefetch, 1 workers} / "
            "{rate:prepro in grain, pc.grain.batch columns, pc.grain.mp_prefetch, 2 "
            "workers} docs/s",
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, pc.grain.batch "
            "columns, pc.grain.mp_prefetch, 2 workers} tf.data's rate with 2)"]),
        (rf"text pipeline .*, {_N} docs", [
            "same, `shuffle_seed=0` (a permutation each epoch) / 2 `mp_prefetch` workers",
            "{rate:prepro in grain, pc.grain.batch shuffled, in process} / "
            "{rate:prepro in grain, pc.grain.batch, 2 workers} docs/s", ""]),
        (rf"text pipeline .*, {_N} docs", [
            "same, grain `mp_prefetch`, 1 / 2 workers",
            "{rate:prepro in grain, 1 workers} / {rate:prepro in grain, 2 workers} docs/s", ""]),
        (rf"text pipeline .*, {_N} docs", [
            "same, a source whose records are 256-document chunks, in process",
            "{rate:prepro in grain, 256-doc records, in process} docs/s "
            "({x:keras on tf.data (AUTOTUNE, prefetch)|prepro in grain, 256-doc records, "
            "in process})", ""]),
        (rf"text pipeline .*, {_N} docs", [
            "same, 256-document records, 2 workers",
            "{rate:prepro in grain, 256-doc records, 2 workers} docs/s", ""]),
        (rf"flip\+rotation\+zoom pipeline, {_N}x64x64x3", [
            "flip + rotation + zoom, 4,096 x 64x64x3, in 2 grain workers (CPU)",
            "{rate:prepro in grain, 2 workers (cpu)} img/s", ""]),
        (rf"flip\+rotation\+zoom pipeline, {_N}x64x64x3", [
            "same, in the jitted step", "{rate:prepro in the jitted step} img/s", ""]),
    ]},
    "structured": {"time": "s", "header": (
        "| workload | prepro | Keras 3 | |", "|---|---:|---:|---|"), "rows": [
        (r"feature_space adapt \(.*\)", [
            "FeatureSpace adapt, 1,000,000 rows x 12 columns (5 float, 4 int and 2 string "
            "categorical, 1 hashed) + 1 cross",
            "{sec:prepro (batch_size=65536)}",
            "{sec:keras (tf.data, batches of 32)}, tf.data as its recipe "
            "(**{x:keras (tf.data, batches of 32)}**)", ""]),
        (r"feature_space apply concat \(.*\)", [
            "FeatureSpace apply, concat, 217 columns, batches of 65,536",
            "{sec:prepro (batches of 65536)}",
            "tf.data `batch().map()` {sec:keras (tf.data batch(65536).map)} "
            "(**{x:keras (tf.data batch(65536).map)}**); called on NumPy dict batches "
            "{sec:keras (called on dict batches of 65536)} "
            "(**{x:keras (called on dict batches of 65536)}**)", ""]),
        (r"vocabulary file .*: load", [
            "StringLookup(vocabulary=file), 2M tokens (21 MB): load", "{sec:prepro}",
            "{sec:keras} ({x:keras})", "{keep}"]),
        (r"vocabulary file .*: lookup .*", [
            "same: 500,000 lookups, half of them misses", "{sec:prepro}",
            "{sec:keras} ({x:keras})", ""]),
        (r"text_vectorization adapt over Beam, .*", [
            "TextVectorization adapt, 60,000 docs, `max_tokens=20,000`",
            "`pc.adapt` {sec:prepro pc.adapt, in process}; `pc.beam.Adapt` "
            "{sec:prepro pc.beam.Adapt, in process} in process, "
            "{sec:prepro pc.beam.Adapt, 2 workers} with 2 workers; `pc.beam.WriteVocabulary` "
            "{sec:prepro pc.beam.WriteVocabulary, in process} / "
            "{sec:prepro pc.beam.WriteVocabulary, 2 workers}",
            "{sec:keras TextVectorization.adapt, in process}",
            "Beam's fixed cost dominates on one machine"]),
    ]},
}
_PLACEHOLDER = re.compile(r"\{(sec|rate|x|ratio|faster):([^{}]+)\}|\{keep\}")
_START = "<!-- bench:start {} -->"
_END = "<!-- bench:end {} -->"


class _Missing(KeyError):
  """A placeholder names a row that the run did not make."""


def format_seconds(sec: float, style: str = "ms") -> str:
  """A time as the README writes it: "5.3 ms", "90 ms", "1.84 s"."""
  if style == "s" or sec >= 1:
    return f"{sec:.3g} s"
  ms = sec * 1e3
  return f"{ms:.2f} ms" if ms < 1 else f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def format_ratio(r: float) -> str:
  """A speed-up: two decimals near 1, one below 20, none above."""
  return f"{r:.2f}x" if r < 1.1 else f"{r:.1f}x" if r < 20 else f"{r:.0f}x"


def format_rate(rate: float) -> str:
  """Items per second, three significant figures, thousands separated."""
  digits = max(0, int(math.floor(math.log10(rate))) - 2) if rate > 0 else 0
  return f"{round(rate, -digits):,.0f}"


def _rate(row: dict):
  for key in ("items_per_s", "images_per_s", "images_per_second"):
    if key in row:
      return row[key]
  return None


def _fill(kind: str, arg: str, impls: dict, style: str) -> str:
  """One placeholder's text, from the rows of one benchmark keyed by impl."""
  names = arg.split("|")
  for name in names:
    if name not in impls:
      raise _Missing(name)
  row = impls[names[0]]
  if kind == "sec":
    return format_seconds(row["seconds"], style)
  if kind == "rate":
    if _rate(row) is None:
      raise _Missing(f"{names[0]} (rate)")
    return format_rate(_rate(row))
  if len(names) == 2:
    other = impls[names[1]]
    rates = _rate(row), _rate(other)
    ratio = (rates[1] / rates[0] if None not in rates
             else row["seconds"] / other["seconds"])
  else:
    ratio = row["ratio_vs_prepro"]
  if kind == "faster" and ratio < 1:
    return f"**{format_ratio(1 / ratio)} faster**"
  text = format_ratio(ratio)
  return f"**{text}**" if kind == "ratio" and ratio < 1 else text


def _label_regex(template: str):
  parts = _PLACEHOLDER.split(template)
  # split() interleaves the literal text with the groups' captures.
  literal = parts[::3]
  return re.compile(".+?".join(re.escape(p) for p in literal) + r"\Z")


def _cells(line: str) -> list:
  return [c.strip() for c in line.strip().strip("|").split(" | ")]


def render_row(template: list, impls: dict, old_cells: list, style: str) -> str:
  """One README table line from a row template; raises _Missing."""
  out = []
  for i, cell in enumerate(template):
    if cell == "{keep}":
      out.append(old_cells[i] if i < len(old_cells) else "")
      continue
    out.append(_PLACEHOLDER.sub(
        lambda m: _fill(m.group(1), m.group(2), impls, style), cell))
  return "|" + "|".join(f" {c} " if c else " " for c in out) + "|"


def _by_benchmark(rows: list, pattern: str) -> dict:
  """The impl -> row mapping of the first benchmark that fullmatches."""
  regex = re.compile(pattern)
  for r in rows:
    if regex.fullmatch(r["benchmark"]):
      return {q["impl"]: q for q in rows if q["benchmark"] == r["benchmark"]}
  return {}


def render_table(spec: dict, rows: list, old_lines: list) -> list:
  """A table's lines (header included) from the rows, keeping the README's
  line for each template whose rows are missing, and the README's lines that
  no template describes, in their places."""
  header = [ln for ln in old_lines[:2] if ln.startswith("|")] or list(spec["header"])
  body = [ln for ln in old_lines if ln.startswith("|")][len(header):]
  templates = [(_label_regex(cells[0]), pattern, cells)
               for pattern, cells in spec["rows"]]
  used, out = set(), []

  def rendered(k, old_cells):
    _, pattern, cells = templates[k]
    used.add(k)
    try:
      return render_row(cells, _by_benchmark(rows, pattern), old_cells, spec["time"])
    except _Missing:
      return None

  for line in body:
    cells = _cells(line)
    k = next((k for k, (rx, _, _) in enumerate(templates)
              if k not in used and rx.match(cells[0])), None)
    new = rendered(k, cells) if k is not None else None
    out.append(new or line)
  for k in range(len(templates)):
    if k not in used:
      new = rendered(k, [])
      if new:
        out.append(new)
  return header + out


def render_readme(text: str, rows: list, tables: dict = None) -> str:
  """The README text with each marked table rewritten from the rows."""
  tables = README_TABLES if tables is None else tables
  for name, spec in tables.items():
    start, end = _START.format(name), _END.format(name)
    if start not in text or end not in text:
      print(f"[readme] no markers for table {name!r}", file=sys.stderr)
      continue
    head, rest = text.split(start, 1)
    block, tail = rest.split(end, 1)
    lines = [ln for ln in block.strip("\n").split("\n") if ln.strip()]
    text = head + start + "\n" + "\n".join(render_table(spec, rows, lines)) + "\n" + end + tail
  return text


def _versions() -> dict:
  out = {"python": platform.python_version()}
  for mod in ["jax", "numpy", "keras", "tensorflow", "sklearn", "dm_pix", "flax"]:
    try:
      out[mod] = importlib.import_module(mod).__version__
    except Exception:  # a peer that is not installed is reported as absent
      out[mod] = "absent"
  return out


def _device() -> str:
  import jax
  d = jax.devices()[0]
  return f"{d.platform}: {getattr(d, 'device_kind', d.platform)} x{jax.device_count()}"


def results_markdown(rows: list, quick: bool) -> str:
  """RESULTS.md: the machine, versions and every row."""
  header = [
      "# Benchmark results",
      "",
      f"- date: {datetime.date.today().isoformat()}",
      f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
      f"- device: {_device()}",
      "- versions: " + ", ".join(f"{k} {v}" for k, v in _versions().items()),
      f"- mode: {'quick' if quick else 'full'}",
      "",
      "Ratio = peer time / prepro time (above 1: prepro is faster).",
      "",
      "| benchmark | implementation | seconds | ratio vs prepro |",
      "|---|---|---:|---:|",
  ]
  lines = [
      f"| {r['benchmark']} | {r['impl']} | {r['seconds']:.4f} | "
      f"{r.get('ratio_vs_prepro', float('nan')):.2f} |" for r in rows
  ]
  return "\n".join(header + lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--quick", action="store_true", help="smaller sizes")
  parser.add_argument("--only", nargs="*", default=None, help="families to run")
  parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
  parser.add_argument("--no-readme", action="store_true",
                      help="do not rewrite the README's result tables")
  parser.add_argument("--readme", default=str(README), help=argparse.SUPPRESS)
  args = parser.parse_args()
  os.environ.setdefault("KERAS_BACKEND", "jax")

  rows = []
  for family in args.only or FAMILIES:
    path = HERE / f"bench_{family}.py"
    if not path.exists():
      print(f"[skip] {path.name} does not exist", file=sys.stderr)
      continue
    module = importlib.import_module(f"bench_{family}")
    print(f"== {family}", flush=True)
    for row in module.run(quick=args.quick):
      row.setdefault("family", family)
      rows.append(row)
      print(_fmt_row(row), flush=True)

  pathlib.Path(args.out).write_text(results_markdown(rows, args.quick))
  print(f"wrote {args.out}")
  if args.quick or args.no_readme:
    # The README's labels name the full sizes; quick rows would mislabel them.
    print("README left as it is (quick run or --no-readme)")
    return
  readme = pathlib.Path(args.readme)
  readme.write_text(render_readme(readme.read_text(), rows))
  print(f"rewrote the result tables in {readme}")


def _fmt_row(r: dict) -> str:
  return (f"  {r['benchmark']:<45} {r['impl']:<28} {r['seconds']:>10.4f}s "
          f"x{r.get('ratio_vs_prepro', float('nan')):>7.2f}")


if __name__ == "__main__":
  main()
