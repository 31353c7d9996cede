"""The layer registry is complete and both wrappers follow it.

``prepro_flax/_src/registry.py`` is the one list of layers: every public
``prepro_core`` factory has a row there or is listed in ``NOT_LAYERS``, and
every row is exposed by ``prepro_flax`` (NNX) and ``prepro_flax.linen`` under
its Keras name, with the ``random`` and ``host`` flags its transform reports.
"""

import inspect
import pickle

import pytest
from flax import nnx

import prepro_core as pc
import prepro_flax as pf
import prepro_flax.linen as pfl
from prepro_flax._src import registry

ROWS = {row.name: row for row in registry.LAYERS}

# Values for the factories' required arguments, by Keras argument name, to
# build a small instance of every layer. A new required argument name needs
# a value here.
_REQUIRED = {"num_tokens": 4, "scale": 1.0, "num_bins": 4, "factor": 0.1,
             "height_factor": 0.1, "width_factor": 0.1, "height": 4,
             "width": 4}
# Layers whose defaults alone are not a valid call.
_EXTRA = {"Discretization": {"num_bins": 4},  # one of bin_boundaries/num_bins
          "RandomPosterization": {"factor": 4}}  # bits, an int


def _required_args(row):
  params = inspect.signature(row.factory).parameters.values()
  missing = [p.name for p in params
             if p.default is p.empty and p.name not in _REQUIRED]
  assert not missing, (f"{row.name}: add a value for {missing} to _REQUIRED "
                       f"in {__file__}")
  args = {p.name: _REQUIRED[p.name] for p in params if p.default is p.empty}
  return {**args, **_EXTRA.get(row.name, {})}


def _core_functions():
  """Names of the public callables of prepro_core that are not classes."""
  return {n for n in pc.__all__
          if callable(getattr(pc, n)) and not isinstance(getattr(pc, n), type)}


def test_rows_are_unique_and_name_their_core_factory():
  assert len(ROWS) == len(registry.LAYERS)
  factories = [row.factory.__name__ for row in registry.LAYERS]
  assert len(set(factories)) == len(factories)
  for row in registry.LAYERS:
    assert getattr(pc, row.factory.__name__) is row.factory, row.name


def test_every_core_factory_has_a_row_or_an_exclusion():
  layers = {row.factory.__name__ for row in registry.LAYERS}
  assert not layers & registry.NOT_LAYERS
  missing = _core_functions() - layers - registry.NOT_LAYERS
  assert not missing, (f"prepro_core factories with no Flax layer: "
                       f"{sorted(missing)}; add a row to "
                       f"prepro_flax/_src/registry.py or list them in "
                       f"NOT_LAYERS")
  # No stale exclusions either.
  assert registry.NOT_LAYERS <= _core_functions()


@pytest.mark.parametrize("name", sorted(ROWS))
def test_row_is_exposed_by_nnx_and_linen_with_the_keras_name(name):
  nnx_cls, linen_cls = getattr(pf, name), getattr(pfl, name)
  assert name in pf.__all__ and name in pfl.__all__
  assert issubclass(nnx_cls, pf.KerasLayer)
  assert issubclass(linen_cls, pfl.PreprocessingModule)
  for cls in (nnx_cls, linen_cls):
    assert cls.__name__ == cls.__qualname__ == name
    # Pickled by reference: the class is found again under its module.
    assert pickle.loads(pickle.dumps(cls)) is cls
  assert nnx_cls.factory is ROWS[name].factory
  assert tuple(nnx_cls.constant_args) == ROWS[name].constants
  assert tuple(linen_cls.constants) == ROWS[name].constants


def test_the_packages_export_only_registry_layers():
  keras_layers = {n for n in pf.__all__ if isinstance(getattr(pf, n), type)
                  and issubclass(getattr(pf, n), pf.KerasLayer)
                  and n != "KerasLayer"}
  linen_layers = {n for n in pfl.__all__ if isinstance(getattr(pfl, n), type)
                  and issubclass(getattr(pfl, n), pfl.PreprocessingModule)
                  and n != "PreprocessingModule"}
  assert keras_layers == set(ROWS) | registry.HAND_WRITTEN
  assert linen_layers == set(ROWS)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_random_and_host_flags_match_the_transform(name):
  row = ROWS[name]
  args = _required_args(row)
  transform = row.factory(**args)
  assert transform.is_random == row.random
  assert transform.on_host == row.host
  layer_cls = getattr(pf, name)
  if row.random:
    layer = layer_cls(**args, rngs=nnx.Rngs(augment=0))
    assert isinstance(layer.rngs, nnx.RngStream)
    assert "deterministic" in getattr(pfl, name).__dataclass_fields__
  else:
    with pytest.raises(TypeError, match="takes no `rngs`"):
      layer_cls(**args, rngs=nnx.Rngs(augment=0))
    assert "deterministic" not in getattr(pfl, name).__dataclass_fields__
  layer = layer_cls(**args)
  assert layer.transform.on_host == row.host


def test_vocabulary_rows_get_the_vocabulary_methods():
  for row in registry.LAYERS:
    has = hasattr(getattr(pf, row.name), "get_vocabulary")
    assert has == (row.vocabulary_sample is not None), row.name
