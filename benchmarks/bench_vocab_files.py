"""Very large vocabulary files: prepro against Keras 3 in one run.

  .venv-bench/bin/python benchmarks/bench_vocab_files.py [--quick] [--tokens N]

The Keras guide's advice for vocabularies over 500 MB: compute them elsewhere,
store them one token per line and load them at construction
(``StringLookup(vocabulary=path)``). This benchmark writes such a file of
``N`` distinct tokens (default 2M; ``--tokens 20000000`` is ~220 MB; or
``$PREPRO_BENCH_VOCAB_TOKENS``) of 4-16 bytes, some of them UTF-8, and
measures, each in a fresh subprocess:

* load: ``string_lookup(vocabulary=path)`` + ``init`` + the first lookup
  (which builds the hash table), against ``keras.layers.StringLookup(
  vocabulary=path)`` (a TF ``TextFileInitializer`` table);
* memory: the peak resident set during the load (``VmHWM``) and the resident
  set after it, both above the process's resident set before the load;
* lookups: tokens/s on a NumPy ``str_`` array of queries, half hits, half
  misses (best of 3 after a warm-up).

Rows carry ``peak_mb``/``resident_mb`` (load) and ``items_per_s`` (lookups).
Keras rows are left out when Keras is not installed.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

DEFAULT_TOKENS = 2_000_000
QUICK_TOKENS = 500_000
CHUNK = 1_000_000  # tokens generated at a time (bounds the generator's memory)
_DIGITS = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", np.uint8)
_ID_WIDTH = 6  # base-36 digits of the token's id (36**6 > 2e9 ids)


def _mix(x: np.ndarray) -> np.ndarray:
  """splitmix64: the deterministic pseudo-random bits of each id."""
  with np.errstate(over="ignore"):
    x = (x + np.uint64(0x9E3779B97F4A7C15)) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def token_lines(ids: np.ndarray) -> bytes:
  """The tokens of ``ids``, one per line (each ends with ``\\n``).

  Token ``i`` is a filler of lowercase letters (some tokens start with a
  2-byte "é" or a 3-byte "日") followed by ``i`` in base-36 digits
  (``0-9A-Z``, which the filler never holds), so tokens of distinct ids are
  distinct; lengths are 4 to 16 bytes.
  """
  ids = np.asarray(ids, np.uint64)
  n = len(ids)
  bits = _mix(ids)
  digits = np.ones(n, np.int64)  # base-36 digits of the id, no leading zeros
  for k in range(1, _ID_WIDTH):
    digits += ids >= np.uint64(36**k)
  length = np.maximum(4 + (bits % np.uint64(13)).astype(np.int64), digits)
  filler = length - digits
  width = 16 + _ID_WIDTH + 1
  rows = np.empty((n, width), np.uint8)
  cols = np.arange(16, dtype=np.uint64)
  letters = _mix(bits[:, None] ^ cols) % np.uint64(26)
  rows[:, :16] = _LETTERS[letters.astype(np.int64)]
  kind = (bits >> np.uint64(40)) % np.uint64(100)
  accent = (kind < 8) & (filler >= 2)
  rows[accent, 0:2] = (0xC3, 0xA9)
  cjk = (kind >= 95) & (filler >= 3)
  rows[cjk, 0:3] = (0xE6, 0x97, 0xA5)
  rest = ids.copy()
  for k in range(_ID_WIDTH - 1, -1, -1):
    rows[:, 16 + k] = _DIGITS[(rest % np.uint64(36)).astype(np.int64)]
    rest //= np.uint64(36)
  rows[:, -1] = ord("\n")
  col = np.arange(width)
  id_start = 16 + _ID_WIDTH - digits[:, None]
  keep = ((col < filler[:, None]) | ((col >= id_start) & (col < width - 1)) |
          (col == width - 1))
  return rows[keep].tobytes()


def write_vocabulary(path: str, n_tokens: int) -> int:
  """Writes tokens ``0..n_tokens-1``, one per line;
  returns the file's size in bytes."""
  with open(path, "wb") as f:
    for lo in range(0, n_tokens, CHUNK):
      f.write(token_lines(np.arange(lo, min(lo + CHUNK, n_tokens))))
  return os.path.getsize(path)


def write_queries(path: str, n_tokens: int, n_queries: int) -> None:
  """Half hits (ids below ``n_tokens``), half misses (ids above), shuffled."""
  rng = np.random.default_rng(0)
  hits = rng.integers(0, n_tokens, n_queries // 2)
  misses = rng.integers(n_tokens, 2 * n_tokens, n_queries - n_queries // 2)
  ids = rng.permutation(np.concatenate([hits, misses]))
  with open(path, "wb") as f:
    f.write(token_lines(ids))


# ---------------------------------------------------------------------------
# The measured side, in a fresh process per implementation.
# ---------------------------------------------------------------------------


def _status_mb(field: str) -> float:
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) / 1024
  return float("nan")


def _reset_peak() -> None:
  """Resets VmHWM to the current resident set (Linux >= 4.0)."""
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
  except OSError:
    pass


def _child(impl: str, vocab_path: str, query_path: str) -> dict:
  import gc  # pylint: disable=import-outside-toplevel
  if impl == "prepro":
    import prepro_core as pc  # pylint: disable=import-outside-toplevel
    # Load (or compile) numba's kernels on a tiny vocabulary file, outside
    # the measured load ("auto" would load them inside it: it starts on
    # NumPy's for small inputs).
    tiny = os.path.join(os.path.dirname(vocab_path), "warm.txt")
    with open(tiny, "w", encoding="utf-8") as f:
      f.write("a\nbcdefghijk\n")
    with pc.host_kernels("numba"):
      warm = pc.string_lookup(vocabulary=tiny)
      warm.apply(warm.init(None), np.array(["a", "zzzzzzzzzzzz"]))

    def load():
      t = pc.string_lookup(vocabulary=vocab_path)
      s = t.init(None)
      t.apply(s, np.array(["x"]))  # builds the hash table
      return lambda q: t.apply(s, q)
  else:
    import keras  # pylint: disable=import-outside-toplevel
    warm = keras.layers.StringLookup(vocabulary=["a", "b"])
    np.asarray(warm(np.array(["a", "z"])))

    def load():
      layer = keras.layers.StringLookup(vocabulary=vocab_path)
      np.asarray(layer(np.array(["x"])))
      return lambda q: np.asarray(layer(q))
  gc.collect()
  before = _status_mb("VmRSS")
  _reset_peak()
  t0 = time.perf_counter()
  apply = load()
  load_s = time.perf_counter() - t0
  peak = _status_mb("VmHWM") - before
  gc.collect()
  resident = _status_mb("VmRSS") - before
  with open(query_path, "rb") as f:
    queries = np.array(f.read().decode("utf-8").split("\n")[:-1])
  apply(queries[:1000])
  best = float("inf")
  for _ in range(3):
    t0 = time.perf_counter()
    ids = apply(queries)
    best = min(best, time.perf_counter() - t0)
  ids = np.asarray(ids)
  return {"load_s": load_s, "peak_mb": peak, "resident_mb": resident,
          "lookup_s": best, "n_queries": len(queries),
          "hits": int((ids > 0).sum()), "checksum": int(ids.sum())}


def _measure(impl: str, vocab_path: str, query_path: str):
  """Runs :func:`_child` in a fresh interpreter; None when it fails."""
  proc = subprocess.run(
      [sys.executable, __file__, "--child", impl, vocab_path, query_path],
      capture_output=True, text=True, check=False)
  if proc.returncode != 0:
    print(f"[{impl}] failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return None
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _has_keras() -> bool:
  proc = subprocess.run([sys.executable, "-c", "import keras"],
                        capture_output=True, check=False)
  return proc.returncode == 0


def run(quick: bool = False, n_tokens: int | None = None,
        n_queries: int | None = None, peers: bool = True) -> list:
  """The rows; ``n_tokens`` defaults to $PREPRO_BENCH_VOCAB_TOKENS, else 2M
  (500k with ``quick``); ``peers=False`` measures prepro alone."""
  if n_tokens is None:
    n_tokens = int(os.environ.get("PREPRO_BENCH_VOCAB_TOKENS", 0)) or (
        QUICK_TOKENS if quick else DEFAULT_TOKENS)
  n_queries = n_queries or min(max(n_tokens // 4, 100_000), 4_000_000)
  impls = ["prepro"] + (["keras"] if peers and _has_keras() else [])
  with tempfile.TemporaryDirectory() as tmp:
    vocab_path = os.path.join(tmp, "vocab.txt")
    query_path = os.path.join(tmp, "queries.txt")
    size = write_vocabulary(vocab_path, n_tokens)
    write_queries(query_path, n_tokens, n_queries)
    results = {impl: _measure(impl, vocab_path, query_path) for impl in impls}
  results = {k: v for k, v in results.items() if v is not None}
  if "prepro" not in results:
    return []
  ours = results["prepro"]
  if "keras" in results:  # the same ids (Keras' OOV is 0, as prepro's)
    assert results["keras"]["checksum"] == ours["checksum"], results
  mb = size / 2**20
  name = f"vocabulary file {n_tokens / 1e6:g}M tokens ({mb:.0f} MB)"
  rows = []
  for impl, r in results.items():
    rows.append({"benchmark": f"{name}: load", "impl": impl,
                 "seconds": r["load_s"],
                 "ratio_vs_prepro": r["load_s"] / ours["load_s"],
                 "peak_mb": r["peak_mb"], "resident_mb": r["resident_mb"],
                 "file_mb": mb})
  for impl, r in results.items():
    rows.append({"benchmark": f"{name}: lookup {r['n_queries']} (half miss)",
                 "impl": impl, "seconds": r["lookup_s"],
                 "ratio_vs_prepro": r["lookup_s"] / ours["lookup_s"],
                 "items_per_s": r["n_queries"] / r["lookup_s"]})
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--tokens", type=int, default=None)
  parser.add_argument("--queries", type=int, default=None)
  parser.add_argument("--no-peers", action="store_true",
                      help="measure prepro alone")
  parser.add_argument("--child", nargs=3, default=None,
                      metavar=("IMPL", "VOCAB", "QUERIES"))
  args = parser.parse_args()
  if args.child:
    print(json.dumps(_child(*args.child)))
    return
  rows = run(args.quick, args.tokens, args.queries, not args.no_peers)
  print(f"{'benchmark':58s} {'impl':7s} {'seconds':>9s} {'ratio':>7s}  extra")
  for r in rows:
    extra = (f"peak {r['peak_mb']:.0f} MB, resident {r['resident_mb']:.0f} MB"
             f" (file {r['file_mb']:.0f} MB)" if "peak_mb" in r else
             f"{r['items_per_s'] / 1e6:.2f} M tokens/s")
    print(f"{r['benchmark']:58s} {r['impl']:7s} {r['seconds']:9.3f} "
          f"{r['ratio_vs_prepro']:7.2f}  {extra}")


if __name__ == "__main__":
  main()
