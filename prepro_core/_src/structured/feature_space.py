"""``pc.feature_space``: Keras' FeatureSpace, as one transform over columns.

A feature space turns a dict of raw columns into one feature vector (or a
dict of encoded features): each column goes through its feature's
preprocessor (a lookup, hashing, normalization...), chosen features are
crossed, categorical outputs are one-hot encoded and everything is
concatenated, with Keras' names, defaults and output order (features sorted
by name, then crosses sorted by name).

It runs in two stages, which :func:`~prepro_core.split_host_device` hands
out separately:

* the host stage reads the columns (NumPy) and runs the host preprocessors
  (strings and integer categories become ids);
* the device stage runs everything after (numeric preprocessors, crosses,
  one-hot encoding, concatenation): one jittable function of the host
  stage's :class:`HostColumns`.

Its state is one pytree, :class:`FeatureSpaceState`, split the same way.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform
from prepro_core._src.hashing.hashing import cross_bins
from prepro_core._src.hashing.hashing import hashing
from prepro_core._src.lookup.integer_lookup import integer_lookup
from prepro_core._src.lookup.string_lookup import string_lookup
from prepro_core._src.lookup.table import get_vocabulary
from prepro_core._src.numeric.category_encoding import category_encoding
from prepro_core._src.numeric.discretization import discretization
from prepro_core._src.numeric.encoding import encode_ids
from prepro_core._src.numeric.normalization import normalization
from prepro_core._src.numeric.rescaling import rescaling
from prepro_core._src.structured import columns as cols

_WHERE = "feature_space"
FEATURE_OUTPUT_MODES = ("int", "one_hot", "float")
CROSS_OUTPUT_MODES = ("int", "one_hot")
COLUMN_DTYPES = ("float32", "int32", "int64", "string")


# ---------------------------------------------------------------------------
# Feature specs: what Keras reaches as FeatureSpace.float_normalized() etc.
# ---------------------------------------------------------------------------


class Feature(NamedTuple):
  """One feature: how its column is read, its preprocessor, its encoding.

  Attributes:
    dtype: how the column is read: "float32", "int32"/"int64" (whole-valued
      floats accepted) or "string".
    preprocessor: a prepro transform applied to the ``(batch, 1)`` column,
      or None for the identity (``float()``).
    output_mode: "float" (the preprocessor's output as is), "int" (ids, for
      crosses or dict output) or "one_hot" (ids one-hot encoded, Keras'
      multi_hot over the preprocessor's output space).
  """
  dtype: str
  preprocessor: Optional[Transform]
  output_mode: str


class Cross(NamedTuple):
  """A feature cross: the named features' values hashed together.

  Crossed are the features' preprocessed values (the lookups' ids, the
  discretized bins), as in Keras, into ``crossing_dim`` bins.
  """
  feature_names: tuple
  crossing_dim: int
  output_mode: str = "one_hot"

  @property
  def name(self) -> str:
    """Keras' name for the cross: the feature names joined by ``_X_``."""
    return "_X_".join(self.feature_names)


def feature(dtype: str, preprocessor: Optional[Transform],
            output_mode: str) -> Feature:
  """A feature with any prepro transform as its preprocessor (Keras'
  ``FeatureSpace.feature``)."""
  checks.check_choice(dtype, "dtype", COLUMN_DTYPES, f"{_WHERE}.feature")
  checks.check_choice(output_mode, "output_mode", FEATURE_OUTPUT_MODES,
                      f"{_WHERE}.feature")
  if preprocessor is not None and not isinstance(preprocessor, Transform):
    raise TypeError(
        f"{_WHERE}.feature: `preprocessor` must be a prepro Transform (e.g. "
        f"pc.text_vectorization(output_mode='tf_idf')) or None, got "
        f"{type(preprocessor).__name__}.")
  if preprocessor is not None and preprocessor.is_random:
    raise ValueError(
        f"{_WHERE}.feature: `preprocessor` must be deterministic, got the "
        f"random transform {preprocessor.name}.")
  return Feature(dtype, preprocessor, output_mode)


def float_() -> Feature:
  """Plain float values (Keras' ``FeatureSpace.float``)."""
  return Feature("float32", None, "float")


def float_rescaled(scale: float = 1.0, offset: float = 0.0) -> Feature:
  """Floats rescaled as ``x * scale + offset`` (a ``pc.rescaling``)."""
  return Feature("float32", rescaling(scale, offset), "float")


def float_normalized() -> Feature:
  """Floats standardized by their adapted mean and variance."""
  return Feature("float32", normalization(axis=-1), "float")


def float_discretized(num_bins: int,
                      bin_boundaries: Optional[Sequence[float]] = None,
                      output_mode: str = "one_hot") -> Feature:
  """Floats bucketized into ``num_bins`` bins (learned by adapt unless
  ``bin_boundaries`` are given), one-hot encoded by default."""
  where = f"{_WHERE}.float_discretized"
  checks.check_positive_int(num_bins, "num_bins", where)
  if bin_boundaries is None:
    pre = discretization(num_bins=num_bins)
  else:
    if len(bin_boundaries) != num_bins - 1:
      raise ValueError(
          f"{where}: `bin_boundaries` must have num_bins - 1 = "
          f"{num_bins - 1} values, got {len(bin_boundaries)}.")
    pre = discretization(bin_boundaries=list(bin_boundaries))
  return feature("float32", pre, output_mode)


def integer_categorical(max_tokens: Optional[int] = None,
                        num_oov_indices: int = 1,
                        output_mode: str = "one_hot",
                        missing: Optional[str] = None) -> Feature:
  """Integer categories indexed by an adapted vocabulary (an
  ``integer_lookup``); ``missing="oov"``/``"mask"`` maps None/NaN there."""
  return feature("int32", integer_lookup(
      max_tokens=max_tokens, num_oov_indices=num_oov_indices,
      missing=missing), output_mode)


def string_categorical(max_tokens: Optional[int] = None,
                       num_oov_indices: int = 1,
                       output_mode: str = "one_hot",
                       missing: Optional[str] = None) -> Feature:
  """String categories indexed by an adapted vocabulary (a
  ``string_lookup``); ``missing="oov"`` maps None/NaN/"" to the OOV index."""
  return feature("string", string_lookup(
      max_tokens=max_tokens, num_oov_indices=num_oov_indices,
      missing=missing), output_mode)


def integer_hashed(num_bins: int, output_mode: str = "one_hot") -> Feature:
  """Integers hashed into ``num_bins`` bins (Keras hashes their decimal
  strings)."""
  return feature("int32", hashing(num_bins), output_mode)


def string_hashed(num_bins: int, output_mode: str = "one_hot") -> Feature:
  """Strings hashed into ``num_bins`` bins."""
  return feature("string", hashing(num_bins), output_mode)


def cross(feature_names: Sequence[str], crossing_dim: int,
          output_mode: str = "one_hot") -> Cross:
  """Crosses the named features into ``crossing_dim`` hashed bins: two or
  more (Keras' HashedCrossing takes exactly two; with two the bins are
  Keras')."""
  where = f"{_WHERE}.cross"
  checks.check_positive_int(crossing_dim, "crossing_dim", where)
  checks.check_choice(output_mode, "output_mode", CROSS_OUTPUT_MODES, where)
  names = tuple(feature_names)
  if len(names) < 2 or not all(isinstance(n, str) for n in names):
    raise ValueError(
        f"{where}: `feature_names` must name at least two features, got "
        f"{feature_names!r}.")
  return Cross(names, crossing_dim, output_mode)


def _spec_from_name(kind: str, name: str, hashing_dim: int,
                    num_discretization_bins: int) -> Feature:
  """A feature type given by name, with the feature space's defaults."""
  by_name = {
      "float": float_,
      "float_normalized": float_normalized,
      "float_rescaled": float_rescaled,
      "float_discretized": lambda: float_discretized(num_discretization_bins),
      "integer_categorical": integer_categorical,
      "string_categorical": string_categorical,
      "integer_hashed": lambda: integer_hashed(hashing_dim),
      "string_hashed": lambda: string_hashed(hashing_dim),
  }
  if kind not in by_name:
    raise ValueError(
        f"{_WHERE}: `features[{name!r}]` must be a feature type name, one of "
        f"{tuple(by_name)}, or a spec such as "
        f"pc.feature_space.float_normalized(), got {kind!r}.")
  return by_name[kind]()


# ---------------------------------------------------------------------------
# States and the host stage's output.
# ---------------------------------------------------------------------------


class HostStageState(NamedTuple):
  """The host preprocessors' states, by feature name."""
  preprocessors: dict


class DeviceStageState(NamedTuple):
  """The device preprocessors' states, by feature name, and the width of
  every one-hot output (carried as the shape of a zero vector, so that it
  is static under ``jit``: a lookup's width is its adapted vocabulary's
  size)."""
  preprocessors: dict
  widths: dict


class FeatureSpaceState(NamedTuple):
  """State of :func:`feature_space`: its two stages' states."""
  host: HostStageState
  device: DeviceStageState


@jax.tree_util.register_pytree_node_class
class HostColumns(dict):
  """What the host stage gives the device stage: feature name -> array.

  A dict (and a pytree, so ``jax.jit`` takes it) marked as already read,
  so that applying the feature space to it runs only the device stage.
  """

  def tree_flatten(self):
    names = tuple(sorted(self))
    return tuple(self[n] for n in names), names

  @classmethod
  def tree_unflatten(cls, names, children):
    return cls(zip(names, children))


# ---------------------------------------------------------------------------
# The plan: specs resolved once, shared by both stages.
# ---------------------------------------------------------------------------


class Plan(NamedTuple):
  features: dict        # name -> Feature, sorted by name
  crosses: tuple        # Cross, sorted by name
  output_mode: str
  host: tuple           # names of features whose preprocessor runs on host
  device: tuple         # names of features with a device preprocessor


def make_plan(features, output_mode, crosses, crossing_dim, hashing_dim,
              num_discretization_bins) -> Plan:
  """Checks the arguments and resolves feature type names (Keras' rules)."""
  if not isinstance(features, Mapping) or not features:
    raise ValueError(
        f"{_WHERE}: `features` must be a non-empty dict of column name -> "
        f"feature type, got {features!r}.")
  checks.check_choice(output_mode, "output_mode", ("concat", "dict"), _WHERE)
  checks.check_positive_int(hashing_dim, "hashing_dim", _WHERE)
  checks.check_positive_int(num_discretization_bins,
                            "num_discretization_bins", _WHERE)
  specs = {}
  for name in sorted(features):
    if not isinstance(name, str):
      raise TypeError(f"{_WHERE}: feature names must be str, got {name!r}.")
    spec = features[name]
    if isinstance(spec, str):
      spec = _spec_from_name(spec, name, hashing_dim, num_discretization_bins)
    elif not isinstance(spec, Feature):
      raise TypeError(
          f"{_WHERE}: `features[{name!r}]` must be a feature type name or a "
          f"spec such as pc.feature_space.string_categorical(), got "
          f"{type(spec).__name__}.")
    if spec.dtype == "string" and not (spec.preprocessor is not None and
                                       spec.preprocessor.on_host):
      raise ValueError(
          f"{_WHERE}: feature {name!r} reads strings, so its preprocessor "
          f"must be a host-side transform that turns them into numbers (a "
          f"string_lookup, hashing or text_vectorization), got "
          f"{getattr(spec.preprocessor, 'name', None)}.")
    specs[name] = spec
  resolved = []
  for c in crosses or ():
    if not isinstance(c, Cross):
      checks.check_positive_int(crossing_dim, "crossing_dim", _WHERE)
      c = cross(c, crossing_dim)
    unknown = [n for n in c.feature_names if n not in specs]
    if unknown:
      raise ValueError(
          f"{_WHERE}: `crosses` names unknown features {unknown} (features: "
          f"{sorted(specs)}); every crossed feature must be in `features`.")
    for n in c.feature_names:
      if specs[n].dtype == "float32" and not _gives_ids(specs[n]):
        raise ValueError(
            f"{_WHERE}: cross {c.name!r} crosses {n!r}, whose values are "
            f"floats; cross categorical features (lookups, hashing, "
            f"float_discretized).")
    resolved.append(c)
  resolved.sort(key=lambda c: c.name)
  for name, spec in specs.items():
    _check_encodable(name, spec, output_mode)
  for c in resolved:
    if output_mode == "concat" and c.output_mode == "int":
      raise ValueError(_unencoded_message(c.name))
  host = tuple(n for n, s in specs.items()
               if s.preprocessor is not None and s.preprocessor.on_host)
  device = tuple(n for n, s in specs.items()
                 if s.preprocessor is not None and not s.preprocessor.on_host)
  return Plan(specs, tuple(resolved), output_mode, host, device)


def _gives_ids(spec: Feature) -> bool:
  return spec.preprocessor is not None and _factory(spec.preprocessor) in (
      discretization, hashing, integer_lookup, string_lookup)


def _learns(spec: Feature) -> bool:
  """Whether adapt learns the feature's preprocessor from data. A
  discretization built with boundaries is adaptable but refuses adapt (as
  Keras'); like Keras' FeatureSpace for preset layers, it is skipped."""
  pre = spec.preprocessor
  if pre is None or not pre.adaptable:
    return False
  return not (_factory(pre) is discretization and
              pre.recipe.arguments.get("bin_boundaries") is not None)


def _factory(t: Optional[Transform]):
  recipe = getattr(t, "recipe", None)
  return recipe.factory if recipe is not None else None


def _unencoded_message(name: str) -> str:
  return (f"{_WHERE}: cannot concatenate {name!r}: its output_mode is 'int' "
          f"(ids, not encoded); use output_mode='one_hot' for it, or the "
          f"feature space's output_mode='dict'.")


def _check_encodable(name: str, spec: Feature, output_mode: str) -> None:
  if spec.output_mode == "int" and output_mode == "concat":
    raise ValueError(_unencoded_message(name))
  if spec.output_mode == "one_hot" and _static_width(spec) is None and \
      _factory(spec.preprocessor) not in (integer_lookup, string_lookup,
                                           discretization):
    raise ValueError(
        f"{_WHERE}: feature {name!r} has output_mode='one_hot', but the size "
        f"of its preprocessor's output space is not known (it is not a "
        f"lookup, hashing, discretization or category_encoding); use "
        f"output_mode='int' or 'float'.")


def _static_width(spec: Feature) -> Optional[int]:
  """The one-hot width fixed by the preprocessor's arguments, if any."""
  factory = _factory(spec.preprocessor) if spec.preprocessor else None
  if factory is hashing:
    return spec.preprocessor.recipe.arguments["num_bins"]
  if factory is category_encoding:
    return spec.preprocessor.recipe.arguments["num_tokens"]
  return None


def one_hot_width(spec: Feature, state: State) -> int:
  """Width of a feature's one-hot output (Keras' ``vocabulary_size()``,
  ``num_bins`` or ``num_tokens``)."""
  width = _static_width(spec)
  if width is not None:
    return width
  if _factory(spec.preprocessor) is discretization:
    return int(np.shape(state.bin_boundaries)[0]) + 1
  return len(get_vocabulary(state))


def _widths(plan: Plan, host: dict, device: dict) -> dict:
  states = {**host, **device}
  widths = {n: np.zeros((one_hot_width(s, states[n]),), bool)
            for n, s in plan.features.items() if s.output_mode == "one_hot"}
  widths.update({c.name: np.zeros((c.crossing_dim,), bool)
                 for c in plan.crosses if c.output_mode == "one_hot"})
  return widths


# ---------------------------------------------------------------------------
# The two stages.
# ---------------------------------------------------------------------------


def _missing_policy(spec: Feature) -> Optional[str]:
  recipe = spec.preprocessor.recipe if spec.preprocessor else None
  return recipe.arguments.get("missing") if recipe is not None else None


def read_column(spec: Feature, column: Any, argname: str,
                where: str = _WHERE) -> np.ndarray:
  """A column read as its feature's dtype, ``(batch, 1)``."""
  if spec.dtype == "float32":
    return cols.read_float(column, argname, where)
  if spec.dtype == "string":
    return cols.read_string(column, argname, where, _missing_policy(spec))
  return cols.read_integer(column, argname, where, _missing_policy(spec))


def _about_column(name: str, fn, *args):
  """Runs a preprocessor's step, naming the column in any error it raises."""
  try:
    return fn(*args)
  except (TypeError, ValueError) as e:
    raise type(e)(f"{_WHERE}: column {name!r}: {e}") from e


def read_columns(plan: Plan, batch: Any, where: str,
                 argname: str) -> tuple[dict, bool]:
  """The features' columns read, and whether the batch was one unbatched
  row (all scalars). ``argname`` names ``batch`` in errors."""
  check_concrete(batch, where, argname)
  columns = cols.as_columns(batch, where, argname)
  cols.check_columns(columns, plan.features, where, argname)
  unbatched = cols.is_unbatched(columns, plan.features)
  return {n: read_column(s, columns[n], f"{argname}[{n!r}]", where)
          for n, s in plan.features.items()}, unbatched


def check_concrete(batch: Any, where: str, argname: str) -> None:
  """Columns are read in NumPy: a traced column (inside ``jit``) is
  refused with what to do instead."""
  if isinstance(batch, Mapping):
    checks.check_on_host(where, why="columns are read in NumPy",
                         todo=SPLIT_HINT,
                         **{f"{argname}[{k!r}]": v for k, v in batch.items()})
  else:
    checks.check_on_host(where, why="columns are read in NumPy",
                         todo=SPLIT_HINT, **{argname: batch})


def host_stage(plan: Plan, state: HostStageState, read: dict) -> HostColumns:
  """Host preprocessors applied; the other columns passed on as read."""
  out = HostColumns()
  for name, spec in plan.features.items():
    x = read[name]
    if name in plan.host:
      pre = spec.preprocessor
      x = np.asarray(_about_column(name, pre.apply,
                                   state.preprocessors[name], x))
    out[name] = x
  return out


def device_stage(plan: Plan, state: DeviceStageState, x: HostColumns) -> Any:
  """Device preprocessors, crosses, one-hot encoding and the output; traced
  by ``jit`` as one function."""
  pre = {}
  for name, spec in plan.features.items():
    v = jnp.asarray(x[name])
    if name in plan.device:
      v = spec.preprocessor.apply(state.preprocessors[name], v)
    pre[name] = v
  crossed = {c.name: cross_bins([pre[n] for n in c.feature_names],
                                c.crossing_dim) for c in plan.crosses}
  outputs = {}
  for name, spec in plan.features.items():
    outputs[name] = _encode(pre[name], spec.output_mode,
                            state.widths.get(name))
  for c in plan.crosses:
    outputs[c.name] = _encode(crossed[c.name], c.output_mode,
                              state.widths.get(c.name))
  if plan.output_mode == "dict":
    return outputs
  return jnp.concatenate([outputs[n] for n in output_names(plan)], axis=-1)


def _encode(values, output_mode: str, width_marker) -> Any:
  if output_mode == "one_hot":
    # Keras' multi_hot of one id a row: a compare with the id range, which
    # XLA fuses (a scatter does not); ids outside it give all zeros, as the
    # scatter does.
    width = int(np.shape(width_marker)[0])
    values = jnp.asarray(values)
    if values.shape[-1] != 1:  # several ids a row (a custom preprocessor)
      return encode_ids(values, width, "multi_hot")
    return (values == jnp.arange(width)).astype(jnp.float32)
  if output_mode == "float":
    return jnp.asarray(values, jnp.float32)
  return values


def output_names(plan: Plan) -> list:
  """Keras' output order: features sorted by name, then crosses by name."""
  return list(plan.features) + [c.name for c in plan.crosses]


def accumulate_device_parts(plan: Plan, names: tuple, states: dict,
                            read: dict) -> dict:
  """The device preprocessors ``names`` accumulate their columns; traced
  by ``jit`` as one function. The other states pass through."""
  out = dict(states)
  for name in names:
    out[name] = plan.features[name].preprocessor.accumulate(
        states[name], jnp.asarray(read[name]))
  return out


def _stage_states(plan: Plan, host: dict, device: dict) -> FeatureSpaceState:
  return FeatureSpaceState(HostStageState(host),
                           DeviceStageState(device, _widths(plan, host, device)))


def initial_state(plan: Plan, sample: Any) -> FeatureSpaceState:
  """``init``: every preprocessor's initial state. The sample only lays out
  the columns (their values are read by adapt)."""
  layout = column_layout(plan, sample) if sample is not None else {}
  states = {n: plan.features[n].preprocessor.init(
      _part_sample(plan.features[n], layout.get(n)))
            for n in plan.host + plan.device}
  return _stage_states(plan, {n: states[n] for n in plan.host},
                       {n: states[n] for n in plan.device})


def finalize_state(plan: Plan, state: FeatureSpaceState) -> FeatureSpaceState:
  """Every preprocessor finalized; the one-hot widths from their states."""
  def finalized(states):
    return {n: plan.features[n].preprocessor.finalize(s)
            for n, s in states.items()}
  return _stage_states(plan, finalized(state.host.preprocessors),
                       finalized(state.device.preprocessors))


def combine_states(plan: Plan, a: FeatureSpaceState,
                   b: FeatureSpaceState) -> FeatureSpaceState:
  """``merge`` before finalize: each preprocessor's states combined."""
  def merged(sa, sb):
    return {n: plan.features[n].preprocessor.combine(sa[n], sb[n])
            for n in sa}
  return FeatureSpaceState(
      HostStageState(merged(a.host.preprocessors, b.host.preprocessors)),
      a.device._replace(preprocessors=merged(a.device.preprocessors,
                                             b.device.preprocessors)))


def column_layout(plan: Plan, sample: Any) -> dict:
  """Each column's trailing shape in ``sample`` (``(1,)`` for a column of
  one value per row); checks the sample's columns are there."""
  where = f"{_WHERE}.init"
  check_concrete(sample, where, "sample")
  columns = cols.as_columns(sample, where, "sample")
  cols.check_columns(columns, plan.features, where, "sample")
  return {n: np.shape(cols.as_feature_column(columns[n], where,
                                             f"sample[{n!r}]"))[1:]
          for n in plan.features}


def _part_sample(spec: Feature, trailing: Optional[tuple]) -> Any:
  """What a preprocessor's ``init`` gets: host ones None (they lay out
  nothing), device ones the column's spec, ``(1, 1)`` by default."""
  if spec.preprocessor.on_host:
    return None
  dtype = np.float32 if spec.dtype == "float32" else np.int32
  return jax.ShapeDtypeStruct((1,) + tuple(trailing or (1,)), dtype)


# Over 80 lines only by its docstring (Keras' arguments and the feature
# types, each documented); the body is wiring over the functions above.
@transform_factory
def feature_space(features: Mapping[str, Any],
                  output_mode: str = "concat",
                  crosses: Optional[Sequence[Any]] = None,
                  crossing_dim: int = 32,
                  hashing_dim: int = 32,
                  num_discretization_bins: int = 32) -> Transform:
  """Encodes a dict of raw columns into one vector, like Keras' FeatureSpace.

  Feature types (by name, with the defaults below, or as specs reached on
  this function, as Keras reaches them on its class):
  ``pc.feature_space.float()``, ``float_rescaled(scale, offset)``,
  ``float_normalized()``, ``float_discretized(num_bins, bin_boundaries,
  output_mode)``, ``integer_categorical(max_tokens, num_oov_indices,
  output_mode, missing)``, ``string_categorical(...)``,
  ``integer_hashed(num_bins, output_mode)``, ``string_hashed(num_bins,
  output_mode)``, ``feature(dtype, preprocessor, output_mode)`` (any prepro
  transform) and ``cross(feature_names, crossing_dim, output_mode)``.

  As in Keras: every column is read as ``(batch, 1)`` (scalars make one
  unbatched row, and the output then has no batch axis); one_hot outputs
  are multi-hot over the preprocessor's output space (a lookup's
  vocabulary size, ``num_bins``); crosses hash the features' preprocessed
  values; the output concatenates the features sorted by name, then the
  crosses sorted by name (:func:`output_layout` gives each one's columns).
  Where prepro differs: integer columns may be floats holding whole numbers
  (2.5 raises); NaN in a float column raises instead of flowing through;
  categorical features take an opt-in ``missing="oov"``/``"mask"`` (None,
  NaN or "" take that index; Keras has no such option, and by default
  missing values raise).

  Args:
    features: column name -> a feature type name ("float",
      "float_normalized", "float_rescaled", "float_discretized",
      "integer_categorical", "string_categorical", "integer_hashed",
      "string_hashed") or a spec.
    output_mode: "concat" (one float32 ``(batch, n)`` array) or "dict"
      (feature or cross name -> its encoded array).
    crosses: tuples of feature names (crossed into ``crossing_dim`` bins,
      one-hot) or ``pc.feature_space.cross(...)`` specs.
    crossing_dim: bins of crosses given as tuples.
    hashing_dim: bins of "integer_hashed"/"string_hashed" given by name.
    num_discretization_bins: bins of "float_discretized" given by name.

  Returns:
    A host-side :class:`Transform` (``on_host=True``) over a dict of
    columns, or a list of row dicts. ``pc.adapt(fs, columns)`` adapts every
    adaptable preprocessor in one pass per batch; states merge. Applied to
    the host stage's :class:`HostColumns` it runs only the device stage,
    which jits (see :func:`~prepro_core.split_host_device`).

  Example:
    >>> import prepro_core as pc
    >>> fs = pc.feature_space(
    ...     {"age": "float_normalized", "city": "string_categorical"},
    ...     crosses=[("city", "city")])
    >>> state = pc.adapt(fs, {"age": [20.0, 40.0], "city": ["Oslo", "Rome"]})
    >>> fs.apply(state, {"age": [30.0], "city": ["Rome"]}).tolist()[0][:4]
    [0.0, 0.0, 1.0, 0.0]
    >>> pc.feature_space.output_layout(fs, state)["city"]
    slice(1, 4, None)
  """
  plan = make_plan(features, output_mode, crosses, crossing_dim, hashing_dim,
                   num_discretization_bins)
  adaptable = [n for n, s in plan.features.items() if _learns(s)]
  host_adaptable = [n for n in adaptable if n in plan.host]
  # Every device part accumulates in one compiled step (one compile per
  # batch shape, not one per column). Their columns are finite: read_column
  # refuses NaN and inf in float columns.
  device_adaptable = tuple(n for n in adaptable if n in plan.device)
  device_accumulate = jax.jit(functools.partial(
      accumulate_device_parts, plan, device_adaptable))
  device_apply = jax.jit(functools.partial(device_stage, plan))

  def init(sample=None):
    return initial_state(plan, sample)

  def accumulate(state, batch, axis_name=None):
    del axis_name  # host-side: adapt shards, then merge their states
    checks.check_on_host(f"{_WHERE}.adapt", why="columns are read in NumPy",
                         todo="adapt before the jitted step",
                         state=state.host)
    read, _ = read_columns(plan, batch, f"{_WHERE}.adapt", "batch")
    host = dict(state.host.preprocessors)
    for name in host_adaptable:
      host[name] = _about_column(
          name, plan.features[name].preprocessor.accumulate, host[name],
          read[name])
    device = state.device.preprocessors
    if device_adaptable:
      device = device_accumulate(device,
                                 {n: read[n] for n in device_adaptable})
    return state._replace(host=HostStageState(host),
                          device=state.device._replace(preprocessors=device))

  def apply(state, x, key=None):
    del key
    if isinstance(x, HostColumns):  # the host stage's output: device only
      return device_apply(state.device, x)
    checks.check_on_host(f"{_WHERE}.apply", why="columns are read in NumPy",
                         todo=SPLIT_HINT, state=state.host)
    read, unbatched = read_columns(plan, x, f"{_WHERE}.apply", "inputs")
    out = device_apply(state.device, host_stage(plan, state.host, read))
    if unbatched:
      out = jax.tree_util.tree_map(lambda a: a[0], out)
    return out

  return make_transform(
      _WHERE, init=init, apply=apply,
      accumulate=accumulate if adaptable else None,
      combine=functools.partial(combine_states, plan),
      finalize=functools.partial(finalize_state, plan), on_host=True,
      state_type=FeatureSpaceState)


SPLIT_HINT = ("run its host stage before the jitted step and jit the device "
               "stage (see pc.split_host_device)")


def plan_of(fs: Transform) -> Plan:
  """The plan of a feature space transform (rebuilt from its recipe)."""
  if not isinstance(fs, Transform) or _factory(fs) is not feature_space:
    raise TypeError(
        f"`{_WHERE}`: expected a transform made by pc.feature_space(...), got "
        f"{getattr(fs, 'name', type(fs).__name__)}.")
  return make_plan(**fs.recipe.arguments)


def output_layout(fs: Transform, state: FeatureSpaceState) -> dict:
  """Which columns of the concatenated output each feature and cross fills
  (name -> ``slice``), in output order; Keras' ``get_encoded_features``
  answers the same question symbolically."""
  plan = plan_of(fs)
  checks.check_state(state, FeatureSpaceState, f"{_WHERE}.output_layout")
  specs = {}
  for name, spec in plan.features.items():
    dtype = np.float32 if spec.dtype == "float32" else np.int32
    if name in plan.host:
      sample = {"float32": np.zeros((1, 1), np.float32),
                "string": np.array([[""]])}.get(spec.dtype,
                                                np.zeros((1, 1), np.int64))
      dtype = np.asarray(spec.preprocessor.apply(
          state.host.preprocessors[name], sample)).dtype
    specs[name] = jax.ShapeDtypeStruct((1, 1), dtype)
  dict_plan = plan._replace(output_mode="dict")
  shapes = jax.eval_shape(functools.partial(device_stage, dict_plan),
                          state.device, HostColumns(specs))
  layout, start = {}, 0
  for name in output_names(plan):
    width = shapes[name].shape[-1]
    layout[name] = slice(start, start + width)
    start += width
  return layout


# Keras reaches the feature types on its class; prepro on its factory.
feature_space.feature = feature
feature_space.float = float_
feature_space.float_rescaled = float_rescaled
feature_space.float_normalized = float_normalized
feature_space.float_discretized = float_discretized
feature_space.integer_categorical = integer_categorical
feature_space.string_categorical = string_categorical
feature_space.integer_hashed = integer_hashed
feature_space.string_hashed = string_hashed
feature_space.cross = cross
feature_space.output_layout = output_layout
feature_space.Feature = Feature
feature_space.Cross = Cross
feature_space.HostColumns = HostColumns
