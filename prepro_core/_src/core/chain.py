"""``pc.chain``: transforms composed left to right, fusing where parts allow.

The chain knows nothing of images: it asks each part's ``fusion`` (a
:class:`~prepro_core._src.core.transform.Fusable`) whether it joins the run
before it, and lets the run's first member apply the whole run at once.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform


class ChainState(NamedTuple):
  """State of :func:`chain`: the parts' states, in order."""
  states: tuple


@transform_factory
def chain(*transforms: Transform) -> Transform:
  """Composes transforms left to right.

  The state is a :class:`ChainState` holding each part's state. Adapting a
  later part sees the earlier parts' output. When adapting streams over
  several batches, that output comes from the earlier parts' state as adapted
  so far; for a later part to see the fully adapted earlier parts, adapt the
  parts one after another (one pass each) and build the ChainState yourself.
  With a ``key`` each random part receives its own key (split from ``key`` in
  order).

  Fusion: with a ``key``, consecutive parts whose ``fusion`` (see
  :class:`~prepro_core._src.core.transform.Fusable`) joins the run before it
  run as one step, with the keys they would get one by one. The geometric
  image transforms whose resampling settings agree compose their per-example
  output->input matrices and resample once (flips join any run); the result
  equals applying the parts one by one up to interpolation (exactly, for
  pixel permutations).
  """
  if not transforms:
    raise ValueError("chain: give at least one transform.")
  for i, t in enumerate(transforms):
    if not isinstance(t, Transform):
      raise TypeError(
          f"chain: argument {i} must be a Transform (e.g. pc.normalization()), "
          f"got {type(t).__name__}.")
  name = "chain(" + ", ".join(t.name for t in transforms) + ")"
  random_parts = [i for i, t in enumerate(transforms) if t.is_random]

  def check_parts(state, method):
    check_part_states(transforms, state, f"{name}.{method}")

  def init(sample):
    states = []
    x = sample
    for t in transforms:
      s = t.init(x)
      states.append(s)
      x = _shape_of_output(t, s, x)
    return ChainState(tuple(states))

  def accumulate(state, batch, axis_name=None):
    # Every part before the last adapted one must be ready to apply: the next
    # part adapts on its output. Each is finalized as it is passed.
    check_parts(state, "adapt")
    states = list(state.states)
    x = batch
    for i, t in enumerate(transforms):
      if t.adaptable:
        states[i] = t.adapt(states[i], x, axis_name=axis_name)
      if i + 1 < len(transforms):
        x = t.apply(states[i], x)
    return ChainState(tuple(states))

  def finalize(state):
    # Parts finalize as they adapt; this checks a state handed in as a whole
    # (pc.adapt(chain, data, state=...) of a chain that learns nothing).
    check_parts(state, "adapt")
    return state

  def combine(a, b):
    check_parts(a, "merge")
    check_parts(b, "merge")
    return ChainState(
        tuple(t.merge(sa, sb) for t, sa, sb in zip(transforms, a.states, b.states)))

  def apply(state, x, key=None):
    check_parts(state, "apply")
    keys = part_keys(transforms, random_parts, key, name)
    i = 0
    while i < len(transforms):
      run = _fusable_run(transforms, i) if key is not None else 1
      if run > 1:
        fusions = [t.fusion for t in transforms[i:i + run]]
        x = fusions[0].apply_run(fusions, state.states[i:i + run],
                                 keys[i:i + run], x, name)
        i += run
        continue
      t, s, k = transforms[i], state.states[i], keys[i]
      x = t.apply(s, x, key=k) if t.is_random else t.apply(s, x)
      i += 1
    return x

  return make_transform(
      name,
      init=init,
      apply=apply,
      accumulate=accumulate if any(t.adaptable for t in transforms) else None,
      combine=combine,
      finalize=finalize,
      is_random=bool(random_parts),
      on_host=any(t.on_host for t in transforms),
      state_type=ChainState,
  )



def part_keys(transforms, random_parts, key, where: str) -> list:
  """One key per part: ``key`` split over the random parts, in order."""
  key = checks.check_key(key, where)  # before it is split
  if key is None or not random_parts:
    return [None] * len(transforms)
  out = [None] * len(transforms)
  for k, i in zip(jax.random.split(key, len(random_parts)), random_parts):
    out[i] = k
  return out


def check_part_states(transforms, state: State, where: str) -> None:
  """Each part's state must be its part's (make_transform checked that
  ``state`` is a ChainState; a fused run never calls the parts' own apply)."""
  if not isinstance(state.states, tuple) or len(state.states) != len(
      transforms):
    got = (len(state.states) if isinstance(state.states, tuple) else
           type(state.states).__name__)
    raise ValueError(
        f"`{where}`: `state` must be a ChainState of {len(transforms)} "
        f"parts' states (from this chain's init/adapt), got {got}; was it "
        f"made by another chain?")
  for i, (t, s) in enumerate(zip(transforms, state.states)):
    checks.check_state(s, t.state_type, f"{where}: part {i} ({t.name})",
                       allow_none=t.state_type is EmptyState)

def _fusable_run(transforms, start: int) -> int:
  """How many transforms from ``start`` on can run as one fused step."""
  run = []
  for t in transforms[start:]:
    if t.fusion is None or (run and not t.fusion.joins(run)):
      break
    run.append(t.fusion)
  return len(run)


def _shape_of_output(t: Transform, state: State, sample: Any) -> Any:
  """What ``t.apply`` gives on ``sample`` (abstractly when possible)."""
  if t.on_host:
    return t.apply(state, sample)
  def to_spec(a):
    if isinstance(a, jax.ShapeDtypeStruct):
      return a
    dtype = a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype
    return jax.ShapeDtypeStruct(np.shape(a), dtype)
  # A dict sample (the images dict form) is specced leaf by leaf.
  spec = (jax.tree_util.tree_map(to_spec, sample) if isinstance(sample, dict)
          else to_spec(sample))
  return jax.eval_shape(lambda s, x: t.apply(s, x), state, spec)
