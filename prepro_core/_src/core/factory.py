"""``@transform_factory``: transforms that remember how they were made.

A :class:`~prepro_core._src.core.transform.Transform` is a bundle of
closures, which ``pickle`` cannot send. Every public factory is decorated
with :func:`transform_factory`, which records the call (the factory and its
arguments, defaults filled in) on the returned transform as a :class:`Recipe`.
The transform then pickles as "call this factory again with these
arguments": the closures are rebuilt on unpickle, in another process too
(``multiprocessing`` with spawn, grain and torch loader workers).

Two transforms with recipes are equal when they come from the same factory
with equal arguments, compared by value (arrays by dtype, shape and bytes),
so an unpickled transform equals its original; equal transforms hash alike.
"""

from __future__ import annotations

import functools
import inspect
import types
from typing import Any, Callable, TypeVar

import jax
import numpy as np

from prepro_core._src.core.transform import Transform

F = TypeVar("F", bound=Callable[..., Any])


class Recipe:
  """How a transform was made: ``factory(*args, **kwargs)``.

  ``args``/``kwargs`` are the call's arguments bound to the factory's
  signature with the defaults filled in, so ``normalization()`` and
  ``normalization(axis=-1)`` have equal recipes. NumPy arrays, lists and
  dicts among them are copied when recorded: changing the caller's array
  afterwards changes neither the transform nor what it pickles as.
  """

  __slots__ = ("factory", "args", "kwargs", "arguments", "_key")

  def __init__(self, factory: Callable[..., Any], bound: inspect.BoundArguments):
    self.factory = factory
    self.arguments = {k: _snapshot(v) for k, v in bound.arguments.items()}
    rebound = inspect.BoundArguments(bound.signature, self.arguments)
    self.args = rebound.args
    self.kwargs = rebound.kwargs
    self._key = None

  def key(self) -> tuple:
    """A hashable value that is equal for recipes with equal arguments."""
    if self._key is None:
      self._key = (self.factory,
                   tuple((k, _freeze(v)) for k, v in self.arguments.items()))
    return self._key

  def __eq__(self, other):
    if not isinstance(other, Recipe):
      return NotImplemented
    return self is other or (self.factory is other.factory and
                             self.key() == other.key())

  def __ne__(self, other):
    result = self.__eq__(other)
    return result if result is NotImplemented else not result

  def __hash__(self):
    return hash(self.key())

  def __repr__(self):
    args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
    return f"{self.factory.__name__}({args})"

  def reduce(self, name: str) -> tuple:
    """What ``Transform.__reduce__`` returns: rebuild by calling the factory.

    Raises:
      TypeError: when an argument is a function pickle cannot send (a lambda
        or a function defined inside another function).
    """
    for arg, value in self.arguments.items():
      for fn in _functions_in(value):
        if "<lambda>" in fn.__qualname__ or "<locals>" in fn.__qualname__:
          what = ("a lambda" if "<lambda>" in fn.__qualname__ else
                  "a function defined inside another function")
          raise TypeError(
              f"`{name}` cannot be pickled: its argument `{arg}` is {what} "
              f"({fn.__module__}.{fn.__qualname__}), and pickle sends "
              f"functions by reference (module and name). Define it with "
              f"`def` at the top level of a module (importable by the "
              f"process that unpickles) and pass that instead.")
    return (_rebuild, (self.factory, self.args, self.kwargs))


def _rebuild(factory: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
  """Unpickling a transform: its factory called again with its arguments."""
  return factory(*args, **kwargs)


def transform_factory(fn: F) -> F:
  """Decorates a public factory: its transforms record the call and pickle.

  The returned function has ``fn``'s name, docstring and signature. Each
  transform it returns carries a :class:`Recipe` in its ``recipe`` field;
  ``Transform.__reduce__`` pickles it as the factory called again with the
  same arguments, and ``Transform.__eq__`` compares recipes.

  Arguments travel with the pickle: constants (vocabularies, mean/variance,
  boundaries) by value, callables (``standardize``, ``split``) by reference,
  so they must be module-level functions; a lambda raises a TypeError when
  the transform is pickled. A vocabulary given as a file path is read again
  by the process that unpickles.
  """
  signature = inspect.signature(fn)

  @functools.wraps(fn)
  def factory(*args, **kwargs):
    transform = fn(*args, **kwargs)
    bound = signature.bind(*args, **kwargs)  # fn accepted them: this binds
    bound.apply_defaults()
    return transform._replace(recipe=Recipe(factory, bound))

  return factory  # type: ignore[return-value]


def _snapshot(value: Any) -> Any:
  """A copy of the mutable containers in ``value`` (arrays, lists, dicts)."""
  if isinstance(value, np.ndarray):
    return value.copy()
  if type(value) is list:  # pylint: disable=unidiomatic-typecheck
    return [_snapshot(v) for v in value]
  if type(value) is tuple:  # pylint: disable=unidiomatic-typecheck
    return tuple(_snapshot(v) for v in value)
  if type(value) is dict:  # pylint: disable=unidiomatic-typecheck
    return {k: _snapshot(v) for k, v in value.items()}
  return value


def _freeze(value: Any) -> Any:
  """A hashable stand-in for ``value`` that compares by value.

  Arrays compare by dtype, shape and bytes; floats by their bits (so a NaN
  argument equals itself); containers element by element, keeping their
  type; functions and other objects by their own ``==`` (identity for
  functions, which unpickle to the same module attribute), or by identity
  when unhashable.
  """
  if isinstance(value, Transform):
    return (Transform, value)  # its recipe, through Transform.__eq__/__hash__
  if isinstance(value, (np.ndarray, np.generic, jax.Array)):
    arr = np.asarray(value)
    if arr.dtype.kind == "O":
      return ("array", "O", arr.shape, tuple(_freeze(v) for v in arr.ravel()))
    return ("array", arr.dtype.str, arr.shape, arr.tobytes())
  if isinstance(value, float):
    return (float, value.hex())
  if isinstance(value, (list, tuple)):
    return (type(value), tuple(_freeze(v) for v in value))
  if isinstance(value, dict):
    return (dict, tuple(sorted(((repr(k), _freeze(v)) for k, v in value.items()),
                               key=lambda kv: kv[0])))
  if isinstance(value, (set, frozenset)):
    return (type(value), frozenset(_freeze(v) for v in value))
  try:
    hash(value)
  except TypeError:
    return ("object", id(value))
  return (type(value), value)


def _functions_in(value: Any):
  """The Python functions inside an argument (containers and partials; a
  Transform argument pickles by its own recipe)."""
  if isinstance(value, Transform):
    return
  if isinstance(value, types.FunctionType):
    yield value
  elif isinstance(value, functools.partial):
    yield from _functions_in(value.func)
    for v in (*value.args, *value.keywords.values()):
      yield from _functions_in(v)
  elif isinstance(value, (list, tuple)):
    for v in value:
      yield from _functions_in(v)
  elif isinstance(value, dict):
    for v in value.values():
      yield from _functions_in(v)
