"""``pc.split_host_device``: a transform cut into its host and device stages.

A transform that holds host parts (strings become ids in NumPy) cannot be
traced by ``jit`` as a whole. Split, its host stage runs in the input
pipeline (or eagerly before the step) and its device stage is one jittable
function of the host stage's output. ``pc.predict_fn`` joins them again:
host, then one jitted program of the device stage and a model.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

import jax

from prepro_core._src.core import checks
from prepro_core._src.core.chain import chain
from prepro_core._src.core.chain import ChainState
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform
from prepro_core._src.structured import feature_space as fs_lib

_WHERE = "split_host_device"


class HostDeviceSplit(NamedTuple):
  """A transform's two stages.

  Attributes:
    host: runs on the host (NumPy); its output is the device stage's input.
    device: jittable (for a feature space, its output is the whole
      transform's); apply it inside the jitted step.
    split_state: ``split_state(state) -> (host_state, device_state)``: the
      whole transform's state cut the same way.
  """
  host: Transform
  device: Transform
  split_state: Callable[[State], tuple]


@transform_factory
def identity() -> Transform:
  """The transform that returns its input (an empty stage of a split)."""
  return make_transform("identity", init=lambda sample=None: EmptyState(),
                        apply=lambda state, x, key=None: x,
                        state_type=EmptyState)


@transform_factory
def feature_space_host_stage(fs: Transform) -> Transform:
  """A feature space's host stage: columns -> :class:`HostColumns`."""
  plan = fs_lib.plan_of(fs)
  where = f"{fs_lib.feature_space.__name__}.host_stage"

  def apply(state, x, key=None):
    del key
    checks.check_on_host(f"{where}.apply", why="columns are read in NumPy",
                         todo="call it before the jitted step", state=state)
    read, _ = fs_lib.read_columns(plan, x, f"{where}.apply", "inputs")
    return fs_lib.host_stage(plan, state, read)

  return make_transform(where, init=lambda sample=None: fs.init(sample).host,
                        apply=apply, on_host=True,
                        state_type=fs_lib.HostStageState)


@transform_factory
def feature_space_device_stage(fs: Transform) -> Transform:
  """A feature space's device stage: :class:`HostColumns` -> the output."""
  plan = fs_lib.plan_of(fs)

  def apply(state, x, key=None):
    del key
    if not isinstance(x, fs_lib.HostColumns):
      raise TypeError(
          f"feature_space.device_stage.apply: `inputs` must be the host "
          f"stage's output (HostColumns), got {type(x).__name__}; run the "
          f"host stage on the raw columns first.")
    return fs_lib.device_stage(plan, state, x)

  return make_transform("feature_space.device_stage",
                        init=lambda sample=None: fs.init(sample).device,
                        apply=apply, state_type=fs_lib.DeviceStageState)


def _feature_space_states(state):
  return state.host, state.device


def _chain_states(cut: int, state):
  # An empty stage is the identity, whose state is EmptyState.
  head, tail = state.states[:cut], state.states[cut:]
  return (ChainState(head) if head else EmptyState(),
          ChainState(tail) if tail else EmptyState())


def _host_only(state):
  return state, EmptyState()


def _device_only(state):
  return EmptyState(), state


def split_host_device(transform: Transform) -> HostDeviceSplit:
  """Cuts ``transform`` into a host stage and a jittable device stage.

  * a :func:`~prepro_core.feature_space`: columns are read and the host
    preprocessors run on the host; the numeric preprocessors, crosses,
    encoding and concatenation make the device stage;
  * a :func:`~prepro_core.chain`: cut after its last host part;
  * any other transform: all host (``on_host``) or all device.

  Applying the host stage and then the device stage equals applying the
  transform.

  Example:
    >>> import jax, prepro_core as pc
    >>> fs = pc.feature_space({"city": "string_categorical", "n": "float"})
    >>> state = pc.adapt(fs, {"city": ["Oslo", "Rome"], "n": [1.0, 2.0]})
    >>> split = pc.split_host_device(fs)
    >>> host_state, device_state = split.split_state(state)
    >>> ids = split.host.apply(host_state, {"city": ["Rome"], "n": [5.0]})
    >>> jax.jit(split.device.apply)(device_state, ids).tolist()
    [[0.0, 1.0, 0.0, 5.0]]
  """
  if not isinstance(transform, Transform):
    raise TypeError(
        f"{_WHERE}: `transform` must be a prepro Transform, got "
        f"{type(transform).__name__}.")
  factory = transform.recipe.factory if transform.recipe is not None else None
  if factory is fs_lib.feature_space:
    return HostDeviceSplit(feature_space_host_stage(transform),
                           feature_space_device_stage(transform),
                           _feature_space_states)
  if factory is chain:
    parts = transform.recipe.args
    hosts = [i for i, t in enumerate(parts) if t.on_host]
    cut = hosts[-1] + 1 if hosts else 0
    stage = lambda ts: chain(*ts) if ts else identity()
    return HostDeviceSplit(stage(parts[:cut]), stage(parts[cut:]),
                           functools.partial(_chain_states, cut))
  if transform.on_host:
    return HostDeviceSplit(transform, identity(), _host_only)
  return HostDeviceSplit(identity(), transform, _device_only)


def predict_fn(transform: Transform, state: State,
               model: Optional[Callable[[Any], Any]] = None) -> Callable:
  """``raw -> model(transform(raw))``: the host stage eagerly, then the
  device stage and ``model`` as one jitted program (compiled once per input
  shape).

  ``model`` is a JAX function of the transform's output (for a Flax NNX
  model use ``prepro_flax.predict_fn``); None predicts the features.
  """
  split = split_host_device(transform)
  host_state, device_state = split.split_state(state)
  model = model or (lambda y: y)
  device = jax.jit(lambda s, x: model(split.device.apply(s, x)))

  def predict(raw):
    return device(device_state, split.host.apply(host_state, raw))

  return predict
