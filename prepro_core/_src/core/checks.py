"""Argument checks shared by every transform, each defined once.

Every error names where it was raised and the argument, says what was
expected and what was given: "`where`: `arg` must ..., got ...".
"""

from __future__ import annotations

from typing import Any, Iterable

import jax
import numpy as np

Array = Any


def is_concrete(x: Any) -> bool:
  """True when ``x`` holds values (eager), False inside a jax trace."""
  return not isinstance(x, jax.core.Tracer)


def check_choice(value: Any, argname: str, choices: Iterable[Any],
                 where: str) -> None:
  choices = tuple(choices)
  if value not in choices:
    raise ValueError(
        f"{where}: `{argname}` must be one of {choices}, got {value!r}.")


def check_positive_int(value: Any, argname: str, where: str,
                       minimum: int = 1) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(
        f"{where}: `{argname}` must be an int >= {minimum}, got {value!r}.")
  if value < minimum:
    raise ValueError(
        f"{where}: `{argname}` must be an int >= {minimum}, got {value!r}.")
  return int(value)


def real_constant(value: Any, argname: str, where: str) -> np.ndarray:
  """A constructor constant (a real number or an array of them) as float32.

  Raises:
    TypeError: ``value`` is not real numbers (strings, complex...).
    ValueError: ``value`` holds NaN or inf.
  """
  try:
    arr = np.asarray(value)
  except Exception:  # pylint: disable=broad-except
    arr = None
  if arr is None or not (np.issubdtype(arr.dtype, np.number) or
                         arr.dtype == np.bool_) or np.issubdtype(
                             arr.dtype, np.complexfloating):
    raise TypeError(
        f"{where}: `{argname}` must be a real number or an array of them, "
        f"got {value!r}.")
  arr = arr.astype(np.float32)
  if not np.all(np.isfinite(arr)):
    raise ValueError(f"{where}: `{argname}` must be finite, got {value!r}.")
  return arr


def check_real_dtype(x: Any, argname: str, where: str) -> None:
  """Raises TypeError unless ``x`` holds real numbers (ints, floats, bools).

  Works on arrays, tracers, ``jax.ShapeDtypeStruct`` and Python data.
  """
  if hasattr(x, "dtype"):
    dtype = np.dtype(x.dtype)
  else:
    try:
      dtype = np.asarray(x).dtype
    except ValueError:  # NumPy's "inhomogeneous shape": ragged nested lists
      raise ValueError(
          f"{where}: `{argname}` must be a rectangular array of numbers, got "
          f"ragged nested lists; pad the rows to one length first.") from None
  if not (np.issubdtype(dtype, np.number) or dtype == np.bool_ or
          dtype == jax.numpy.bfloat16) or np.issubdtype(
              dtype, np.complexfloating):
    raise TypeError(
        f"{where}: `{argname}` must hold real numbers (ints or floats), got "
        f"dtype {dtype}.")


def check_finite(batch: Array, argname: str, where: str) -> None:
  """Raises on NaN/inf in eager data; a no-op on traced values."""
  if not is_concrete(batch):
    return
  arr = np.asarray(batch)
  # jnp.issubdtype also knows bfloat16 (NumPy files it under void).
  if jax.numpy.issubdtype(arr.dtype, jax.numpy.inexact) and not np.all(
      np.isfinite(arr)):
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    raise ValueError(
        f"{where}: `{argname}` contains {bad} NaN or infinite value(s); "
        f"adapt statistics would be NaN. Drop or impute them first.")


def check_rank(x: Array, argname: str, where: str, ranks: Iterable[int]) -> None:
  ranks = tuple(ranks)
  if np.ndim(x) not in ranks:
    raise ValueError(
        f"{where}: `{argname}` must have rank in {ranks}, got shape "
        f"{np.shape(x)}.")


def check_bool(value: Any, argname: str, where: str) -> bool:
  """``value`` as a bool; Python and NumPy bools only (not 0/1)."""
  if not isinstance(value, (bool, np.bool_)):
    raise TypeError(f"{where}: `{argname}` must be a bool, got {value!r}.")
  return bool(value)


def check_int(value: Any, argname: str, where: str,
              allow_none: bool = False) -> Any:
  """``value`` as a Python int (bools rejected), or None when allowed."""
  if value is None and allow_none:
    return None
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"{where}: `{argname}` must be an int"
                    f"{' or None' if allow_none else ''}, got {value!r}.")
  return int(value)


def check_output_mode(value: Any, choices: Iterable[str], where: str) -> str:
  """A lookup's ``output_mode``, Keras' old names mapped to the new ones.

  Keras still accepts "binary" (for "multi_hot") and "tf-idf" (for
  "tf_idf"); the canonical name is returned.
  """
  value = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(value, value) if (
      isinstance(value, str)) else value
  check_choice(value, "output_mode", choices, where)
  return value


def check_callable_or_choice(value: Any, argname: str, choices: Iterable[str],
                             where: str) -> None:
  """``value`` must be None, a callable or one of ``choices``."""
  choices = tuple(choices)
  if not (value is None or callable(value) or value in choices):
    raise ValueError(
        f"{where}: `{argname}` must be None, a callable or one of "
        f"{choices}, got {value!r}.")


def check_encoding(encoding: Any, where: str) -> str:
  """``encoding`` must name a codec Python knows (``str.encode`` takes it)."""
  try:
    "".encode(encoding)
  except (LookupError, TypeError):  # an unknown name; not a str at all
    raise ValueError(
        f"{where}: `encoding` must name a codec Python knows (e.g. "
        f"'utf-8'), got {encoding!r}.") from None
  return encoding


def check_ngrams(ngrams: Any, where: str):
  """Keras' ``ngrams``: None, an int n (widths 1..n) or a tuple of widths.

  Returns:
    None, or the tuple of ngram widths, each >= 1.
  """
  if ngrams is None:
    return None
  if isinstance(ngrams, bool) or not (
      isinstance(ngrams, (int, np.integer)) or
      (isinstance(ngrams, tuple) and ngrams and all(
          isinstance(n, (int, np.integer)) and not isinstance(n, bool)
          for n in ngrams))):
    raise ValueError(
        f"{where}: `ngrams` must be None, an int or a non-empty tuple of "
        f"ints, got {ngrams!r}.")
  widths = tuple(range(1, int(ngrams) + 1)) if not isinstance(
      ngrams, tuple) else tuple(int(n) for n in ngrams)
  if not widths or min(widths) < 1:
    raise ValueError(f"{where}: `ngrams` widths must be >= 1, got "
                     f"{ngrams!r}.")
  return widths


class SaltTypeError(TypeError, ValueError):
  """A ``salt`` that is not an int or a pair of ints.

  A TypeError (the kind of value is wrong), and also a ValueError, which
  ``hashing`` raised for it before the lookups and hashing shared one check.
  """


def check_salt(salt: Any, where: str) -> "tuple[int, int] | None":
  """Keras' SipHash salt: None, an int ``s`` meaning ``(s, s)``, or two ints.

  Returns:
    None, or the key ``(key0, key1)`` as ints in ``[0, 2**64)``: TF takes
    the key as int64 and uses its bits, so ``-1`` is ``2**64 - 1``.

  Raises:
    SaltTypeError: ``salt`` is not None, an int or a tuple/list of two ints.
    ValueError: a value outside ``[-2**63, 2**64)``.
  """
  if salt is None:
    return None
  def is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
  if is_int(salt):
    pair = (int(salt), int(salt))
  elif isinstance(salt, (tuple, list)) and len(salt) == 2 and all(
      is_int(v) for v in salt):
    pair = (int(salt[0]), int(salt[1]))
  else:
    raise SaltTypeError(
        f"{where}: `salt` must be None, an int, or a tuple/list of two ints "
        f"(the SipHash key), got {salt!r}.")
  for v in pair:
    if not -2**63 <= v < 2**64:
      raise ValueError(
          f"{where}: `salt` values must be 64-bit ints in [-2**63, 2**64), "
          f"got {salt!r}.")
  return (pair[0] & (2**64 - 1), pair[1] & (2**64 - 1))


def check_state(state: Any, state_type: Any, where: str,
                allow_none: bool = False) -> None:
  """Raises TypeError unless ``state`` is a ``state_type`` (a NamedTuple class).

  A Python check of the state's type, made when ``apply``/``adapt``/``merge``
  is called or traced (under ``jit``/``vmap``/``pmap`` the state is still
  that NamedTuple, of tracers), so it costs nothing in the compiled program.
  ``state_type=None`` checks nothing. ``allow_none``: stateless transforms
  also take ``None`` for their empty state.
  """
  if state_type is None or isinstance(state, state_type):
    return
  if state is None and allow_none:
    return
  raise TypeError(
      f"`{where}`: `state` must be a {state_type.__name__} (from this "
      f"transform's init/adapt), got {type(state).__name__}.")


class HostOnlyError(TypeError):
  """A host-side step (NumPy on concrete values) met a traced value.

  A TypeError, as JAX's own TracerArrayConversionError is; raised before
  any NumPy call so the message says what to do instead.
  """


def check_on_host(where: str, *,
                  why: str = "strings become integers in NumPy",
                  todo: str = ("call it before the jitted step, e.g. in "
                               "the input pipeline (see "
                               "pc.split_host_device)"),
                  **values: Any) -> None:
  """Refuses traced values in a step that runs on the host.

  ``where`` names the step (``"string_lookup.apply"``); each keyword is an
  argument (``inputs=x``, ``state=state``), checked itself and, for a
  NamedTuple state, through its leaves (one pass; a NumPy leaf costs one
  type check).

  Raises:
    HostOnlyError: an argument is a jax tracer (inside ``jax.jit``,
      ``nnx.jit``, ``vmap`` or ``grad``).
  """
  for argname, value in values.items():
    # NamedTuple states (a few array leaves) are walked, once; lists of
    # strings, possibly millions long, are not. NumPy leaves, the usual
    # ones, skip the (slow, abstract) jax.Array check.
    is_state = hasattr(value, "_fields")
    leaves = jax.tree_util.tree_leaves(value) if is_state else (value,)
    for leaf in leaves:
      if type(leaf) is np.ndarray:  # pylint: disable=unidiomatic-typecheck
        continue
      if isinstance(leaf, jax.core.Tracer):
        raise HostOnlyError(
            f"{where} runs on the host ({why}), so `{argname}` must be a "
            f"concrete value, got a tracer (inside jax.jit, nnx.jit, vmap "
            f"or grad); {todo}.")
      if not is_state or not isinstance(leaf, jax.Array):
        continue
      # A host state moved with jax.device_put: its uint64 hash keys and
      # int64 counts were cut to 32 bits (without x64), so refuse it.
      raise TypeError(
          f"{where}: `{argname}` must hold NumPy arrays (it is a host-side "
          f"state), got jax.Array leaves; keep host states on the host "
          f"(jax.device_put cuts their 64-bit keys to 32 bits) and move only "
          f"the device part (see pc.split_host_device).")


def check_key(key: Any, where: str) -> Any:
  """A random transform's ``key``: None (inference) or one PRNG key.

  One key: a typed key of shape ``()`` (``jax.random.key(seed)``) or a raw
  ``uint32`` key of rank 1 (``jax.random.PRNGKey(seed)``). The transform
  splits it into one key per example itself. A check of the key's dtype and
  shape, static under ``jit``/``vmap`` (a vmapped key is one key per call).

  Raises:
    TypeError: not a PRNG key (an int seed, a float array...).
    ValueError: a batch of keys.
  """
  if key is None:
    return None
  dtype = getattr(key, "dtype", None)
  shape = tuple(getattr(key, "shape", ()))
  msg = (f"{where}: `key` must be a single PRNG key from jax.random.key(seed) "
         f"or jax.random.PRNGKey(seed)")
  if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
    if shape == ():
      return key
    raise ValueError(
        f"{msg}, got a batch of keys of shape {shape}; pass one key (the "
        f"transform draws one key per example from it), or jax.vmap over "
        f"the keys.")
  if dtype is not None and np.dtype(dtype) == np.uint32:
    if len(shape) == 1:
      return key
    if len(shape) > 1:
      raise ValueError(
          f"{msg}, got a batch of raw keys of shape {shape}; pass one key "
          f"(the transform draws one key per example from it), or jax.vmap "
          f"over the keys.")
  if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
    raise TypeError(f"{msg}, got the int {key!r}; pass "
                    f"jax.random.key({key!r}).")
  got = (f"an array of dtype {dtype} and shape {shape}" if dtype is not None
         else f"{type(key).__name__} {key!r}")
  raise TypeError(f"{msg}, got {got}.")
