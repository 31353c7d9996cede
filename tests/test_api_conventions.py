"""Conventions over the whole public API (in the manner of dm_pix's api_test):
names, docstrings, what factories return, what states are."""
import inspect
import subprocess
import sys

import pytest

import prepro_core as pc
import prepro_flax as pf
import prepro_flax.linen as pfl
from _factories import FACTORIES
from _factories import transform


def _is_namedtuple_class(obj):
  return (inspect.isclass(obj) and issubclass(obj, tuple)
          and hasattr(obj, "_fields"))


def _own_doc(obj):
  """``obj``'s own docstring: not inherited, not NamedTuple's generated
  ``Name(field, ...)``."""
  doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
  doc = (doc or "").strip()
  if _is_namedtuple_class(obj):
    fields = repr(tuple(obj._fields)).replace("'", "")[1:-1]
    if doc == f"{obj.__name__}({fields})":
      return ""
  return doc


def test_all_has_no_duplicates_and_every_name_exists():
  assert len(pc.__all__) == len(set(pc.__all__))
  for name in pc.__all__:
    assert hasattr(pc, name), name
  assert all(isinstance(n, str) for n in pc.__all__)


@pytest.mark.parametrize("name", pc.__all__)
def test_every_public_name_is_documented(name):
  assert _own_doc(getattr(pc, name)), f"pc.{name} has no docstring"


@pytest.mark.parametrize("entry", FACTORIES, ids=repr)
def test_factories_return_named_transforms(entry):
  t = transform(entry)
  assert isinstance(t, pc.Transform), entry.name
  # Transform.name is the factory's (snake_case) name; a chain names its
  # parts: "chain(rescaling, normalization)".
  if entry.name == "chain":
    assert t.name == "chain(rescaling, normalization)", t.name
  else:
    assert t.name == entry.name, (t.name, entry.name)
  assert t.name == t.name.lower() and " " not in entry.name


@pytest.mark.parametrize("entry", FACTORIES, ids=repr)
def test_init_returns_a_public_namedtuple_state(entry):
  t = transform(entry)
  s = t.init(entry.sample())
  assert isinstance(s, tuple) and hasattr(s, "_fields"), type(s)
  # The state's type is public, so that users can name it.
  assert getattr(pc, type(s).__name__, None) is type(s), type(s)


def test_state_names_are_namedtuples():
  states = [n for n in pc.__all__ if n.endswith("State")]
  assert {"EmptyState", "ChainState", "NormalizationState"} <= set(states)
  for name in states:
    assert _is_namedtuple_class(getattr(pc, name)), name


def test_names_are_snake_case_functions_or_capitalised_classes():
  for name in pc.__all__:
    obj = getattr(pc, name)
    if inspect.ismodule(obj):  # a namespace of functions: pc.distributed
      assert name == name.lower(), name
    elif name[0].islower():
      assert callable(obj) and not inspect.isclass(obj), name
      assert name == name.lower(), name
    else:
      assert inspect.isclass(obj), name


def test_prepro_core_imports_no_flax_keras_or_tensorflow():
  code = ("import sys, prepro_core\n"
          "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
          "('flax', 'keras', 'tensorflow', 'tf_keras'))\n"
          "assert not bad, bad\n")
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0, done.stderr


def _public_classes(module):
  return [(n, getattr(module, n)) for n in module.__all__
          if inspect.isclass(getattr(module, n))]


@pytest.mark.parametrize("module", [pf, pfl], ids=["nnx", "linen"])
def test_flax_layers_are_documented(module):
  classes = _public_classes(module)
  assert len(classes) > 30   # every layer, not just the machinery
  undocumented = [n for n, c in classes if not _own_doc(c)]
  assert not undocumented, undocumented
