"""Seeded inputs shared by record_numeric.py (under Keras) and the tests."""
import numpy as np


def make_data(seed, shape, loc=0.0, scale=1.0):
  """float32 normal data, rounded to 1e-3 so ties and exact values occur."""
  rng = np.random.default_rng(seed)
  x = rng.normal(loc, scale, size=tuple(shape))
  return np.round(x, 3).astype(np.float32)
