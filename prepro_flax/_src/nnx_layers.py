"""NNX layers with Keras' class names, one per row of the layer registry.

Every class takes the arguments of its ``prepro_core`` factory (Keras'
names and defaults); random ones also take ``rngs`` (an ``nnx.Rngs``, whose
``augment`` stream is used) and ``deterministic``. The classes are built
from :data:`prepro_flax._src.registry.LAYERS` and defined here, as module
attributes, so they pickle by reference like hand-written classes.
"""

from __future__ import annotations

import inspect
import textwrap
import types
from typing import Callable, ClassVar, Sequence

import prepro_core as pc

from prepro_flax._src import registry
from prepro_flax._src.nnx_base import PreprocessingLayer
from prepro_flax._src.nnx_base import VocabularyMixin


class KerasLayer(PreprocessingLayer):
  """A layer built from a core factory and Keras' arguments.

  Subclasses set ``factory`` (the ``prepro_core`` function) and
  ``constant_args`` (the arguments that make an adaptable layer ready
  without ``adapt``).
  """

  factory: ClassVar[Callable[..., pc.Transform]]
  constant_args: ClassVar[Sequence[str]] = ()

  def __init__(self, *args, rngs=None, deterministic: bool = False, **kwargs):
    factory = type(self).factory
    bound = inspect.signature(factory).bind(*args, **kwargs)
    given = any(bound.arguments.get(c) is not None for c in self.constant_args)
    super().__init__(factory(*args, **kwargs),
                     constants=self.constant_args,
                     constants_given=given,
                     rngs=rngs,
                     deterministic=deterministic)

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)
    factory = cls.__dict__.get("factory")
    if factory is None:
      return
    factory = factory.__func__ if isinstance(factory, staticmethod) else factory
    # help(Layer) shows Keras' arguments (the factory's), plus the NNX ones.
    params = list(inspect.signature(factory).parameters.values())
    extra = [inspect.Parameter("rngs", inspect.Parameter.KEYWORD_ONLY, default=None),
             inspect.Parameter("deterministic", inspect.Parameter.KEYWORD_ONLY,
                               default=False)]
    kinds = {p.kind for p in params}
    if inspect.Parameter.VAR_KEYWORD in kinds:
      params = [p for p in params if p.kind != inspect.Parameter.VAR_KEYWORD]
    sig = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + params + extra)

    def __init__(self, *args, **kw):
      KerasLayer.__init__(self, *args, **kw)

    __init__.__signature__ = sig
    __init__.__doc__ = factory.__doc__
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    cls.__init__ = __init__


def _doc(keras_name: str, factory_name: str, extra: str = "",
         example: str = "") -> str:
  """A layer's class docstring; ``example`` is a self-contained doctest
  (``>>>`` lines and their output), shown under "Example:"."""
  doc = (f"Keras' ``{keras_name}`` as an NNX layer, over "
         f"``prepro_core.{factory_name}`` (see it for the arguments, which "
         f"are Keras' names and defaults).{extra}")
  if example:
    body = textwrap.indent(textwrap.dedent(example).strip("\n"), "    ")
    doc += f"\n\n  Example:\n{body}\n"
  return doc


def _augment_example(keras_name: str, args: str = "") -> str:
  """The standard example of a random image layer that is the identity at
  inference.

  It builds ``keras_name(args, rngs=nnx.Rngs(augment=0))`` (``args`` as
  source text): training changes the images, and after ``.eval()`` the layer
  returns them unchanged.
  """
  args = f"{args}, " if args else ""
  return f"""
      >>> import numpy as np, flax.nnx as nnx, prepro_flax
      >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
      >>> layer = prepro_flax.{keras_name}({args}rngs=nnx.Rngs(augment=0))
      >>> y = np.asarray(layer(x))       # training: draws from rngs["augment"]
      >>> layer.eval()                   # inference, as for nnx.Dropout
      >>> y.shape, bool((y != x).any()), bool((np.asarray(layer(x)) == x).all())
      ((2, 8, 8, 3), True, True)"""


_HOST = (" Runs on the host (NumPy): call it outside ``jit``, e.g. in the "
         "input pipeline or in the first, un-jitted line of an inference "
         "function; everything after it runs on device.")
_RANDOM = (" Random: draws from ``rngs`` (the ``augment`` stream) or a "
           "``key=`` given at call time while training; the inference "
           "behaviour after ``.eval()`` or with ``deterministic=True``.")


def _class_doc(row: registry.Layer) -> str:
  extra = (_HOST if row.host else "") + (_RANDOM if row.random else "")
  example = row.example
  if not example and row.random:
    example = _augment_example(row.name, row.example_args)
  return _doc(row.name, row.factory.__name__, extra, example)


def _layer_class(row: registry.Layer) -> type:
  """The NNX class of one registry row: a ``KerasLayer`` subclass named
  after Keras' layer, defined in this module."""
  bases = (KerasLayer,)
  namespace = {
      "__module__": __name__,
      "__qualname__": row.name,
      "__doc__": _class_doc(row),
      "factory": staticmethod(row.factory),
      "constant_args": row.constants,
  }
  if row.vocabulary_sample is not None:
    bases = (VocabularyMixin, KerasLayer)
    namespace["vocabulary_sample"] = row.vocabulary_sample
  # new_class, not type(): nnx.Module has its own metaclass.
  return types.new_class(row.name, bases,
                         exec_body=lambda ns: ns.update(namespace))


# Keras name -> class, in registry order; also module attributes, which is
# where pickle looks them up.
LAYERS = {row.name: _layer_class(row) for row in registry.LAYERS}
globals().update(LAYERS)
