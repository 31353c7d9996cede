"""Every docstring example of prepro_core and prepro_flax runs as a doctest.

The design notes ask for docstring Examples that run: this file walks both
packages, imports every module and runs the examples found in it with
``doctest``, one test per module. A failing test prints each failing example
with its expected and actual output.

A docstring written once but attached to several objects (the NNX layers'
``__init__`` reuses its ``prepro_core`` factory's docstring) is run once, in
the first module that holds it (``prepro_core`` is walked first), which keeps
the whole file to a few tens of seconds.
"""

from __future__ import annotations

import doctest
import importlib
import pathlib
import pkgutil

import numpy as np
import pytest

PACKAGES = ("prepro_core", "prepro_flax")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names(package: str) -> list[str]:
  """``package`` and all its submodules, in a fixed order.

  ``pkgutil.walk_packages`` only descends into folders with an
  ``__init__.py``; ``prepro_core/_src`` is a namespace folder without one, so
  folders are visited with ``pkgutil.iter_modules`` one by one.
  """
  root = pathlib.Path(importlib.import_module(package).__file__).parent
  names = [package]

  def visit(folder: pathlib.Path, prefix: str) -> None:
    for info in pkgutil.iter_modules([str(folder)], prefix):
      names.append(info.name)
      if info.ispkg:
        visit(folder / info.name.rpartition(".")[2], info.name + ".")
    for sub in sorted(folder.iterdir()):
      if (sub.is_dir() and not (sub / "__init__.py").exists()
          and any(sub.glob("*.py"))):
        visit(sub, f"{prefix}{sub.name}.")

  visit(root, package + ".")
  return names


MODULES = [name for package in PACKAGES for name in _module_names(package)]


def _find(name: str) -> list[doctest.DocTest]:
  """The doctests of module ``name``, each with a fresh copy of its globals."""
  module = importlib.import_module(name)
  tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
  return sorted((t for t in tests if t.examples), key=lambda t: t.name)


_OWNED = None


def _owned(name: str) -> set[str]:
  """Names of the doctests module ``name`` runs: a docstring already found in
  an earlier module (the same text attached elsewhere) is left to that one."""
  global _OWNED
  if _OWNED is None:
    seen, _OWNED = set(), {}
    for module_name in MODULES:
      _OWNED[module_name] = set()
      for test in _find(module_name):
        if test.docstring not in seen:
          seen.add(test.docstring)
          _OWNED[module_name].add(test.name)
  return _OWNED[name]


def _tests(name: str) -> list[doctest.DocTest]:
  owned = _owned(name)
  return [t for t in _find(name) if t.name in owned]


def test_walk_finds_every_module():
  """The walk misses no source file (a namespace folder included)."""
  for package in PACKAGES:
    root = pathlib.Path(importlib.import_module(package).__file__).parent
    for path in root.rglob("*.py"):
      rel = path.relative_to(root.parent).with_suffix("")
      parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
      assert ".".join(parts) in MODULES, path


def test_examples_are_found():
  """Guards against a walk or finder that silently finds nothing."""
  total = sum(len(t.examples) for name in MODULES for t in _tests(name))
  assert total >= 200, total
  for name in ("prepro_core._src.image.color", "prepro_flax._src.nnx_layers",
               "prepro_flax.linen"):
    assert _tests(name), name


@pytest.mark.parametrize(
    "module_name", [name for name in MODULES if _tests(name)])
def test_docstring_examples(module_name):
  tests = _tests(module_name)
  runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
  report = []
  failed = attempted = 0
  # NumPy's default print options, whatever an earlier test set.
  with np.printoptions(precision=8, threshold=1000, edgeitems=3, linewidth=75,
                       suppress=False, floatmode="maxprec", sign="-",
                       legacy=False):
    for test in tests:
      result = runner.run(test, out=report.append)
      failed += result.failed
      attempted += result.attempted
  assert attempted > 0
  if failed:
    pytest.fail(f"{failed} of {attempted} docstring examples failed in "
                f"{module_name}:\n" + "".join(report), pytrace=False)
