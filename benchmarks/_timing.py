"""Timing shared by the image benchmarks."""
import time

import jax


def best_mean_seconds(fn, repeats):
  """Best-of-3 mean seconds per call of ``fn(i)`` after a warm-up call."""
  jax.block_until_ready(fn(0))
  best = float("inf")
  for _ in range(3):
    t0 = time.perf_counter()
    for i in range(repeats):
      out = fn(i + 1)
    jax.block_until_ready(out)
    best = min(best, (time.perf_counter() - t0) / repeats)
  return best


def adaptive_seconds(fn, target=0.2, max_repeats=50):
  """best_mean_seconds with as many repeats as fit in about ``target``
  seconds a round (one call timed after the compiling call sets the count)."""
  jax.block_until_ready(fn(0))
  t0 = time.perf_counter()
  jax.block_until_ready(fn(1))
  once = time.perf_counter() - t0
  repeats = int(min(max_repeats, max(1, target / max(once, 1e-6))))
  return best_mean_seconds(fn, repeats)
