"""Module-level helpers for tests/test_pickle.py's worker processes.

Kept apart from the test module so that a spawned worker imports only
prepro_core (and its own arguments), not pytest or flax.
"""
from __future__ import annotations

import pickle

import numpy as np

_LOADED = {}


def shout(text):
  """A user standardize function: module-level, so it pickles by reference."""
  return np.char.upper(np.asarray(text, dtype=str))


def apply_record(job):
  """``(payload, seed, index, record)`` -> the record transformed.

  ``payload`` is ``pickle.dumps((transform, state))``, unpickled once per
  worker process; a random transform gets ``fold_in(key(seed), index)``.
  """
  payload, seed, index, record = job
  if payload not in _LOADED:
    _LOADED[payload] = pickle.loads(payload)
  transform, state = _LOADED[payload]
  if transform.is_random:
    import jax  # pylint: disable=import-outside-toplevel
    key = jax.random.fold_in(jax.random.key(seed), index)
    out = transform.apply(state, record[None], key=key)
  else:
    out = transform.apply(state, record[None])
  return np.asarray(out)[0]
