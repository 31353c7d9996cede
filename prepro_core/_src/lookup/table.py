"""Index-lookup machinery shared by integer_lookup, string_lookup and text.

Keras' ``IndexLookup`` fixes one index layout, one vocabulary order and one
tf-idf formula for every lookup layer; this module holds those rules once:

* Layout (:func:`oov_start`, :func:`token_start`): the mask token takes index
  0 when set *and* ``output_mode="int"``; then ``num_oov_indices`` OOV slots;
  then the vocabulary. In the other modes the mask token has no slot and its
  occurrences are dropped.
* Order (:func:`order_vocabulary`): adapt sorts tokens by count descending,
  ties by token descending; ``max_tokens`` (mask and OOV slots included) cuts
  the tail.
* TF-IDF (:func:`idf_from_document_counts`, :func:`pad_idf`):
  ``idf = log(1 + num_docs / (1 + doc_count))``; OOV slots get the mean idf of
  the vocabulary tokens; ``pad_to_max_tokens`` pads zeros at the back.
* A given vocabulary (:func:`split_vocabulary`) may start with Keras' special
  prefix (``[mask] * oov_start + [oov_token] * num_oov_indices``), which is
  then stripped, as Keras' ``set_vocabulary`` does.
* Ids on the host (:class:`IdLayout`, :func:`id_layout`): one hash-table
  pass maps tokens to ids; unknown tokens get the OOV slot, or with none
  or several slots ``UNKNOWN_ID`` until resolved.

Everything here is host-side NumPy on small per-vocabulary arrays.
"""

from __future__ import annotations

import collections
from typing import Any, NamedTuple, Optional, Sequence

import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.chain import ChainState
from prepro_core._src.core.transform import State
from prepro_core._src.host import vocab
from prepro_core._src.numeric.encoding import OUTPUT_MODES

# Sentinel id of a token that is not in the vocabulary (before OOV handling),
# and of a mask token outside "int" mode (dropped: encodes to all zeros).
UNKNOWN_ID = -2
DROPPED_ID = -1


class LookupConfig(NamedTuple):
  """Static (non-array) settings of a lookup, captured by its closures."""
  where: str                 # the transform name, for error messages
  max_tokens: Optional[int]
  num_oov_indices: int
  mask_token: Any
  oov_token: Any
  output_mode: str
  pad_to_max_tokens: bool
  invert: bool


def check_config(cfg: LookupConfig, idf_weights, vocabulary) -> LookupConfig:
  """Validates the arguments Keras' ``IndexLookup.__init__`` validates."""
  w = cfg.where
  output_mode = checks.check_output_mode(cfg.output_mode, OUTPUT_MODES, w)
  if cfg.max_tokens is not None:
    checks.check_positive_int(cfg.max_tokens, "max_tokens", w, minimum=2)
  checks.check_positive_int(cfg.num_oov_indices, "num_oov_indices", w,
                          minimum=0)
  checks.check_bool(cfg.pad_to_max_tokens, "pad_to_max_tokens", w)
  if cfg.pad_to_max_tokens and cfg.max_tokens is None:
    raise ValueError(f"{w}: `pad_to_max_tokens=True` needs `max_tokens` to be "
                     f"set.")
  if cfg.invert and output_mode != "int":
    raise ValueError(f"{w}: `invert=True` needs `output_mode='int'`, got "
                     f"output_mode={output_mode!r}.")
  if idf_weights is not None and output_mode != "tf_idf":
    raise ValueError(f"{w}: `idf_weights` is only used with "
                     f"output_mode='tf_idf', got output_mode={output_mode!r}.")
  if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
    raise ValueError(
        f"{w}: with output_mode='tf_idf' and a given `vocabulary`, pass "
        f"`idf_weights` too (one weight per vocabulary token), or adapt "
        f"instead of giving a vocabulary.")
  cfg = cfg._replace(output_mode=output_mode,
                     max_tokens=None if cfg.max_tokens is None else
                     int(cfg.max_tokens),
                     num_oov_indices=int(cfg.num_oov_indices),
                     pad_to_max_tokens=bool(cfg.pad_to_max_tokens))
  check_reserved_slots(cfg)
  return cfg


def oov_start(cfg: LookupConfig) -> int:
  """Index of the first OOV slot: 1 when the mask has a slot, else 0."""
  return 1 if cfg.mask_token is not None and cfg.output_mode == "int" else 0


def token_start(cfg: LookupConfig) -> int:
  """Index of the first vocabulary token."""
  return oov_start(cfg) + cfg.num_oov_indices


def mask_id(cfg: LookupConfig) -> int:
  """What the mask token maps to: 0 in "int" mode, else dropped."""
  return 0 if cfg.output_mode == "int" else DROPPED_ID


def missing_id(cfg: LookupConfig, missing: Optional[str]) -> Optional[int]:
  """The id a missing value takes under the ``missing=`` policy (see
  ``host/missing.py``): the first OOV slot, or the mask's id; None when no
  policy is set. Checks that the policy fits the other arguments."""
  w = cfg.where
  checks.check_choice(missing, "missing", (None, "oov", "mask"), w)
  if missing is None:
    return None
  if cfg.invert or cfg.output_mode == "tf_idf":
    raise ValueError(
        f"{w}: `missing={missing!r}` needs invert=False and an output_mode "
        f"other than 'tf_idf' (a missing value is not a term of a "
        f"document), got invert={cfg.invert}, output_mode="
        f"{cfg.output_mode!r}.")
  if missing == "mask" and cfg.mask_token is None:
    raise ValueError(
        f"{w}: `missing='mask'` needs a `mask_token` (missing values take "
        f"its index, 0), got mask_token=None; set one, or use "
        f"missing='oov'.")
  if missing == "oov" and cfg.num_oov_indices < 1:
    raise ValueError(
        f"{w}: `missing='oov'` needs `num_oov_indices` >= 1 (missing values "
        f"take the first OOV index), got {cfg.num_oov_indices}.")
  return mask_id(cfg) if missing == "mask" else oov_start(cfg)


def special_prefix(cfg: LookupConfig) -> list:
  """Keras' ``get_vocabulary()`` prefix: mask slot, then the OOV slots."""
  return [cfg.mask_token] * oov_start(cfg) + [cfg.oov_token
                                              ] * cfg.num_oov_indices


def output_depth(cfg: LookupConfig, n_tokens: int) -> int:
  """Width of the one_hot/multi_hot/count/tf_idf output."""
  if cfg.pad_to_max_tokens:
    return int(cfg.max_tokens)
  return token_start(cfg) + int(n_tokens)


def max_learned_tokens(cfg: LookupConfig) -> Optional[int]:
  """How many adapted tokens fit under ``max_tokens`` (None: no cap)."""
  if cfg.max_tokens is None:
    return None
  return max(cfg.max_tokens - token_start(cfg), 0)


def find_repeated(tokens: Sequence) -> list:
  """Tokens that occur more than once (in first-seen order)."""
  if len(set(tokens)) == len(tokens):
    return []
  return [t for t, c in collections.Counter(tokens).items() if c > 1]


def special_prefix_length(cfg: LookupConfig, head: Sequence) -> int:
  """How many of a given vocabulary's first entries (``head``: at least the
  first ``len(special_prefix(cfg))``) are Keras' special prefix: all of it,
  or 0 when the vocabulary does not start with it."""
  prefix = special_prefix(cfg)
  found = len(prefix) > 0 and list(head[:len(prefix)]) == prefix
  return len(prefix) if found else 0


def split_vocabulary(cfg: LookupConfig, vocab: list, idf_weights,
                     argname: str = "vocabulary"):
  """Validates a given vocabulary as Keras' ``set_vocabulary`` does.

  Args:
    cfg: the lookup's settings.
    vocab: the vocabulary as a Python list (tokens already of the right type).
    idf_weights: None or a 1-D sequence of floats (tf_idf only).
    argname: argument name for error messages.

  Returns:
    ``(tokens, idf)``: the vocabulary without Keras' special prefix, and the
    full ``(depth,)`` float32 idf vector (or None outside tf_idf).
  """
  w = cfg.where
  if len(vocab) == 0:
    raise ValueError(f"{w}: `{argname}` is empty; give at least one token.")
  skip = special_prefix_length(cfg, vocab)
  tokens = vocab[skip:]
  repeated = find_repeated(tokens)
  if repeated:
    raise ValueError(
        f"{w}: `{argname}` has repeated entries {repeated[:10]!r}; every "
        f"token must appear once.")
  what = f"`{argname}`"
  if cfg.mask_token is not None and cfg.mask_token in set(tokens):
    raise special_token_error(cfg, what, "mask", "")
  if cfg.invert and cfg.oov_token is not None and cfg.oov_token in set(tokens):
    raise special_token_error(cfg, what, "OOV", "")
  idf = checked_size_and_idf(cfg, what, len(vocab), len(tokens), skip > 0,
                             idf_weights)
  return tokens, idf


def check_file_vocabulary(cfg: LookupConfig, path: str, n_lines: int,
                          skip: int, repeat: tuple, oov_at: int,
                          token_at, idf_weights) -> Optional[np.ndarray]:
  """:func:`split_vocabulary`'s checks, for a vocabulary file read as bytes.

  Args:
    cfg: the lookup's settings.
    path: the file, for messages.
    n_lines: the file's entries (lines).
    skip: the entries of Keras' special prefix it starts with
      (:func:`special_prefix_length`), which are not tokens.
    repeat: ``(i, j)``: the first token ``j`` equal to an earlier ``i``
      (positions among the tokens; ``j == n_lines - skip`` means that ``i``
      is the mask token); ``(-1, -1)`` when none is.
    oov_at: the OOV token's position among the tokens, else -1.
    token_at: ``token_at(i)`` is token ``i`` as a ``str``.
    idf_weights: None or a 1-D sequence of floats (tf_idf only).

  Returns:
    The ``(depth,)`` float32 idf vector (or None outside tf_idf).
  """
  what = f"`vocabulary` file {path!r}"
  n_tokens = n_lines - skip
  i, j = (int(v) for v in repeat)
  if 0 <= j < n_tokens:
    raise ValueError(
        f"{cfg.where}: {what} has repeated entries: line {j + skip + 1} "
        f"repeats line {i + skip + 1}, {token_at(j)!r}; every token must "
        f"appear once.")
  if j == n_tokens and cfg.mask_token is not None:
    raise special_token_error(cfg, what, "mask", f" at line {i + skip + 1}")
  if cfg.invert and oov_at >= 0:
    raise special_token_error(cfg, what, "OOV", f" at line {oov_at + skip + 1}")
  return checked_size_and_idf(cfg, what, n_lines, n_tokens, skip > 0,
                              idf_weights)


def special_token_error(cfg: LookupConfig, what: str, which: str,
                        at: str) -> ValueError:
  """A given vocabulary holds the mask token, or (``invert=True``) the OOV
  token; ``what`` names the argument, ``at`` where the token is."""
  prefix = special_prefix(cfg)
  if which == "mask":
    return ValueError(
        f"{cfg.where}: {what} contains the mask token {cfg.mask_token!r}"
        f"{at}. Leave the mask and OOV tokens out of the vocabulary, or put "
        f"them only at its start in exactly this order: {prefix!r}.")
  return ValueError(
      f"{cfg.where}: {what} contains the OOV token {cfg.oov_token!r}{at}, "
      f"which `invert=True` returns for unknown ids. Leave it out, or put the "
      f"special tokens only at its start in this order: {prefix!r}.")


def checked_size_and_idf(cfg: LookupConfig, what: str, n_vocab: int,
                         n_tokens: int, found_special: bool,
                         idf_weights) -> Optional[np.ndarray]:
  """``max_tokens`` must hold the vocabulary; its idf vector in tf_idf
  mode (else None)."""
  size = token_start(cfg) + n_tokens
  if cfg.max_tokens is not None and size > cfg.max_tokens:
    raise ValueError(
        f"{cfg.where}: {what} gives a vocabulary of {size} entries (mask and "
        f"OOV slots included), more than `max_tokens`={cfg.max_tokens}.")
  if cfg.output_mode != "tf_idf":
    return None
  return given_idf(cfg, idf_weights, n_vocab, n_tokens, found_special)


def given_idf(cfg: LookupConfig, idf_weights, n_vocab: int, n_tokens: int,
              found_special: bool) -> np.ndarray:
  """The idf vector for a given vocabulary, padded as Keras pads it."""
  w = cfg.where
  if idf_weights is None:
    raise ValueError(f"{w}: output_mode='tf_idf' with a given vocabulary "
                     f"needs `idf_weights`.")
  checks.real_constant(idf_weights, "idf_weights", w)  # real and finite
  weights = np.asarray(idf_weights, dtype=np.float64)
  if weights.ndim != 1:
    raise ValueError(f"{w}: `idf_weights` must be 1-D, got shape "
                     f"{weights.shape}.")
  if weights.shape[0] != n_vocab:
    raise ValueError(
        f"{w}: `idf_weights` must have one weight per vocabulary entry: got "
        f"{weights.shape[0]} weights for {n_vocab} entries.")
  front = 0 if found_special else token_start(cfg)
  # Keras: np.average of the given weights for the OOV slots, no real
  # document frequencies being known for them.
  front_value = 0.0 if found_special else float(np.average(weights))
  out = np.concatenate([np.full(front, front_value), weights])
  return _pad_back(cfg, out.astype(np.float32))


def _pad_back(cfg: LookupConfig, idf: np.ndarray) -> np.ndarray:
  if cfg.pad_to_max_tokens:
    idf = np.pad(idf, (0, max(cfg.max_tokens - idf.shape[0], 0)))
  return idf.astype(np.float32)


def idf_from_document_counts(cfg: LookupConfig, doc_counts: np.ndarray,
                             num_docs: int) -> np.ndarray:
  """Adapted idf vector: Keras' formula, OOV slots get the mean, back pad.

  ``idf = log(1 + num_docs / (1 + doc_count))`` is computed in float64 and
  cast to float32 (as TF divides int64 tensors in float64); the OOV slots
  get the float32 mean of the vocabulary tokens' idf.
  """
  doc_counts = np.asarray(doc_counts, np.int64)
  idf = np.log(1.0 + num_docs / (1.0 + doc_counts)).astype(np.float32)
  mean = np.mean(idf, dtype=np.float32) if idf.size else np.float32(np.nan)
  front = np.full(token_start(cfg), mean, np.float32)
  return _pad_back(cfg, np.concatenate([front, idf]))


def order_vocabulary(counts: np.ndarray, token_rank: np.ndarray,
                     limit: Optional[int]) -> np.ndarray:
  """Indices of the vocabulary in Keras' order, cut to ``limit``.

  Keras: ``np.lexsort((tokens, counts))[::-1]``: count descending, ties by
  token descending. ``token_rank`` is each token's rank in ascending token
  order (for ints the values themselves will do).
  """
  order = np.lexsort((token_rank, counts))[::-1]
  if limit is not None:
    order = order[:limit]
  return order


def adapted_order(cfg: LookupConfig, counts: np.ndarray,
                  token_rank: np.ndarray, keep: np.ndarray) -> np.ndarray:
  """Indices of the adapted vocabulary among the counted tokens.

  The tokens with ``keep`` set (Keras drops the mask and OOV tokens'
  counts), in :func:`order_vocabulary`'s order, cut to
  :func:`max_learned_tokens`.
  """
  keep_idx = np.flatnonzero(keep)
  return keep_idx[order_vocabulary(counts[keep_idx], token_rank[keep_idx],
                                   max_learned_tokens(cfg))]


def adapted_idf(cfg: LookupConfig, doc_counts: np.ndarray, num_docs: int,
                order: np.ndarray) -> Optional[np.ndarray]:
  """The vocabulary's idf vector in tf_idf mode, else None.

  Args:
    cfg: the lookup's settings.
    doc_counts: documents holding each counted token ((0,) outside tf_idf).
    num_docs: documents seen.
    order: the vocabulary's indices among the counted tokens
      (:func:`adapted_order`).
  """
  if cfg.output_mode != "tf_idf":
    return None
  return idf_from_document_counts(cfg, doc_counts[order], num_docs)


def initial_idf(cfg: LookupConfig) -> Optional[np.ndarray]:
  """The idf vector before adapt in tf_idf mode (else None): the OOV
  slots' NaN mean and the back padding, as a fresh Keras layer has."""
  if cfg.output_mode != "tf_idf":
    return None
  return idf_from_document_counts(cfg, np.zeros(0), 0)


class IdLayout(NamedTuple):
  """How positions in a lookup's hash table become ids, in one pass.

  The table holds the vocabulary, then the mask token when one is set;
  ``prepro_core._src.host.vocab.lookup_ids`` maps position ``p`` to
  ``p + id_offset``, ``mask_pos`` to ``mask_id`` and absent to
  ``unknown_id``.
  """
  id_offset: int   # id of vocabulary token 0 (the token start)
  mask_pos: int    # table position of the mask token; -2 (none) when unset
  mask_id: int     # 0 in "int" mode, else DROPPED_ID
  unknown_id: int  # the OOV slot when there is exactly one, else UNKNOWN_ID


def id_layout(start: int, num_oov: int, masked_id: int, n_vocab: int,
              has_mask: bool) -> IdLayout:
  """The :class:`IdLayout` of a table over ``n_vocab`` tokens (+ the mask).

  With one OOV slot unknown tokens get it in the same pass; with none or
  several they get ``UNKNOWN_ID``, to be resolved (an error or a hash
  bucket) afterwards.
  """
  unknown = start - 1 if num_oov == 1 else UNKNOWN_ID
  return IdLayout(start, n_vocab if has_mask else -2, masked_id, unknown)


def is_vocabulary_path(vocabulary: Any) -> bool:
  """Whether a ``vocabulary`` argument names a file (str, bytes, PathLike)."""
  return isinstance(vocabulary, (str, bytes)) or hasattr(vocabulary,
                                                         "__fspath__")


def vocabulary_path(vocabulary: Any) -> str:
  """A ``vocabulary`` file argument as a ``str`` path (bytes: decoded)."""
  return vocabulary.decode() if isinstance(vocabulary, bytes) else str(
      vocabulary)


def unknown_error(where: str, what: str, found: list) -> ValueError:
  """The error for inputs outside the vocabulary with no OOV slot."""
  return ValueError(
      f"{where}: with `num_oov_indices=0` every input must be in the "
      f"vocabulary; found unknown {what} {found!r}. Set "
      f"`num_oov_indices=1` (or more) to map them to OOV slots.")


def check_has_vocabulary(cfg: LookupConfig, n_tokens: int) -> None:
  """Encoded outputs need a vocabulary (or the ``max_tokens`` width)."""
  if n_tokens == 0 and not cfg.pad_to_max_tokens:
    raise ValueError(
        f"{cfg.where}: output_mode={cfg.output_mode!r} needs a vocabulary: "
        f"pass `vocabulary` or adapt first (or set "
        f"`pad_to_max_tokens=True`).")


ADAPT_ON_HOST = ("adapt each shard eagerly, outside jit, and combine the "
                 "states with `merge`")
MERGE_ON_HOST = "merge the states eagerly, outside jit"


def check_reserved_slots(cfg: LookupConfig) -> None:
  """``max_tokens`` must leave room for the mask and OOV slots it counts."""
  reserved = token_start(cfg)
  if cfg.max_tokens is not None and cfg.max_tokens < reserved:
    raise ValueError(
        f"{cfg.where}: `max_tokens` must be at least the {reserved} reserved "
        f"slot(s) it includes (mask {'1' if oov_start(cfg) else '0'} + OOV "
        f"{cfg.num_oov_indices}), got max_tokens={cfg.max_tokens}; the "
        f"vocabulary could not even hold them. Raise `max_tokens`, or lower "
        f"`num_oov_indices`.")


def get_vocabulary(state: State) -> list:
  """A lookup's vocabulary in index order, mask and OOV tokens included.

  Like Keras' ``get_vocabulary()``. Works on the states of
  ``integer_lookup``, ``string_lookup`` and ``text_vectorization`` (and on a
  :class:`ChainState`, where it reads the last lookup).
  """
  if isinstance(state, ChainState):
    for s in reversed(state.states):
      if hasattr(s, "vocabulary_in_order"):
        return s.vocabulary_in_order()
    raise TypeError("get_vocabulary: this chain holds no lookup state.")
  if not hasattr(state, "vocabulary_in_order"):
    raise TypeError(
        f"get_vocabulary: expected the state of a lookup (integer_lookup, "
        f"string_lookup, text_vectorization), got {type(state).__name__}.")
  return state.vocabulary_in_order()

def save_vocabulary(state: State, path: str, encoding: str = "utf-8") -> None:
  """Writes a lookup's vocabulary (:func:`get_vocabulary`) one token per line.

  The file loads back with ``vocabulary=path``: the mask/OOV prefix it starts
  with is recognised and stripped, as Keras does for a list vocabulary.

  Args:
    state: the state of integer_lookup, string_lookup or text_vectorization.
    path: the file to write (overwritten).
    encoding: the text encoding of the file.

  Raises:
    ValueError: a token contains a line break, so the file could not be read
      back line by line.
  """
  vocab.write_vocabulary_file(get_vocabulary(state), path, encoding,
                              where="save_vocabulary")
