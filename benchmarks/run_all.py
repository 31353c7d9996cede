"""Runs every benchmark against its peers in one process and writes RESULTS.md.

Usage (via `make bench`, which builds .venv-bench with the peers):
  python benchmarks/run_all.py [--quick] [--only NAME ...]

Each benchmarks/bench_<family>.py exposes `run(quick) -> list[dict]` with rows
{"benchmark", "impl", "seconds", "ratio_vs_prepro"} (ratio > 1: prepro faster)
and optional extra keys (e.g. "items_per_s").
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import os
import pathlib
import platform
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

FAMILIES = ["normalization", "lookups", "text", "hashing", "augment", "images_color",
            "pipeline", "feature_space", "vocab_files", "beam"]


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


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--quick", action="store_true", help="smaller sizes")
  parser.add_argument("--only", nargs="*", default=None, help="families to run")
  parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
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

  header = [
      "# Benchmark results",
      "",
      f"- date: {datetime.date.today().isoformat()}",
      f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
      f"- device: {_device()}",
      "- versions: " + ", ".join(f"{k} {v}" for k, v in _versions().items()),
      f"- mode: {'quick' if args.quick else 'full'}",
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
  pathlib.Path(args.out).write_text("\n".join(header + lines) + "\n")
  print(f"wrote {args.out}")


def _fmt_row(r: dict) -> str:
  return (f"  {r['benchmark']:<45} {r['impl']:<28} {r['seconds']:>10.4f}s "
          f"x{r.get('ratio_vs_prepro', float('nan')):>7.2f}")


if __name__ == "__main__":
  main()
