"""Bad input into the host-side string transforms (issue 13): prepro's own
error, naming the argument, never a raw JAX/NumPy one, and nothing silently
wrong. Covers string_lookup, integer_lookup (host-only parts),
text_vectorization, hashing and hashed_crossing, and the one input path
(host/inputs.py) they share."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.core import checks
from prepro_core._src.host import inputs

VOCAB = ["a", "b", "c", "d"]
HOST_MSG = r"runs on the host .*`{arg}` must be a concrete value, got a tracer"


def host_error(where, arg):
  return pytest.raises(checks.HostOnlyError,
                       match=rf"^{where} " + HOST_MSG.format(arg=arg))


# ---------------------------------------------------------------------------
# 1. Host transforms traced by jit: prepro's error, not a tracer error.
# ---------------------------------------------------------------------------


def test_string_lookup_under_jit():
  t = pc.string_lookup(vocabulary=VOCAB)
  s = t.init(None)
  with host_error(r"string_lookup\.apply", "state"):
    jax.jit(lambda st: t.apply(st, ["a"]))(s)
  with host_error(r"string_lookup\.apply", "inputs"):
    jax.jit(lambda x: t.apply(s, x))(jnp.array([1, 2]))
  with host_error(r"string_lookup\.init", "sample"):
    jax.jit(t.init)(jnp.array([1, 2]))
  ta = pc.string_lookup()
  sa = ta.adapt(ta.init(None), ["a", "b"])
  with host_error(r"string_lookup\.adapt", "state"):
    jax.jit(lambda st: ta.adapt(st, ["a"]))(sa)
  with host_error(r"string_lookup\.merge", "a"):
    jax.jit(ta.merge)(sa, sa)
  # The message says what to do.
  with pytest.raises(checks.HostOnlyError,
                     match=r"strings become integers in NumPy.*before the "
                     r"jitted step, e\.g\. in the input pipeline"):
    jax.jit(lambda st: t.apply(st, ["a"]))(s)


def test_inverted_string_lookup_under_jit():
  t = pc.string_lookup(vocabulary=VOCAB, invert=True)
  s = t.init(None)
  with host_error(r"string_lookup\.apply", "inputs"):
    jax.jit(lambda i: t.apply(s, i))(jnp.array([1, 2]))


def test_text_vectorization_under_jit():
  t = pc.text_vectorization()
  s = t.adapt(t.init(None), ["a b", "c"])
  with host_error(r"text_vectorization\.apply", "state"):
    jax.jit(lambda st: t.apply(st, ["a b"]))(s)
  with host_error(r"text_vectorization\.apply", "inputs"):
    jax.jit(lambda x: t.apply(s, x))(jnp.zeros(3))
  with host_error(r"text_vectorization\.init", "sample"):
    jax.jit(t.init)(jnp.zeros(3))
  with host_error(r"text_vectorization\.adapt", "state"):
    jax.jit(lambda st: t.adapt(st, ["a"]))(s)
  with host_error(r"text_vectorization\.merge", "a"):
    jax.jit(t.merge)(s, s)


def test_integer_lookup_host_parts_under_jit():
  t = pc.integer_lookup()
  s = t.adapt(t.init(None), np.array([1, 2, 2]))
  with host_error(r"integer_lookup\.adapt", "batch"):
    jax.jit(lambda b: t.adapt(s, b))(jnp.array([1, 2]))
  with host_error(r"integer_lookup\.adapt", "state"):
    jax.jit(lambda st: t.adapt(st, np.array([1])))(s)
  with host_error(r"integer_lookup\.merge", "a"):
    jax.jit(t.merge)(s, s)
  # apply stays jittable.
  x = jnp.array([1, 2, 5])
  np.testing.assert_array_equal(jax.jit(t.apply)(s, x), t.apply(s, x))


def test_hashing_of_ints_stays_jittable_and_crossing_strings_refuse_tracing():
  t = pc.hashing(num_bins=7, salt=3)
  s = t.init(None)
  x = jnp.array([1, 22, 333])
  np.testing.assert_array_equal(jax.jit(lambda v: t.apply(s, v))(x),
                                t.apply(s, x))
  c = pc.hashed_crossing(num_bins=5)
  cs = c.init((np.array(["A"]), np.array([1])))
  ints = jnp.array([101, 102])
  np.testing.assert_array_equal(
      jax.jit(lambda a, b: c.apply(cs, (a, b)))(ints, ints),
      c.apply(cs, (ints, ints)))
  with host_error(r"hashed_crossing\.apply", r"inputs\[1\]"):
    jax.jit(lambda b: c.apply(cs, (np.array(["A", "B"]), b)))(ints)


# ---------------------------------------------------------------------------
# 2. Lookups.
# ---------------------------------------------------------------------------


def test_inverted_string_lookup_init_takes_integer_ids():
  t = pc.string_lookup(vocabulary=VOCAB, invert=True)
  s = t.init(np.array([[1, 2], [3, 0]]))
  np.testing.assert_array_equal(t.apply(s, np.array([1, 4, 9])),
                                ["a", "d", "[UNK]"])
  assert pc.get_vocabulary(t.init(np.array(["a"]))) == pc.get_vocabulary(s)
  with pytest.raises(TypeError, match=r"`sample` must be integer ids"):
    t.init(np.array([1.5]))
  # Not inverted: integer samples stay refused.
  with pytest.raises(TypeError, match=r"`sample` must hold strings"):
    pc.string_lookup(vocabulary=VOCAB).init(np.array([1]))


def test_flax_inverted_string_lookup_builds_from_ids():
  pf = pytest.importorskip("prepro_flax")
  layer = pf.StringLookup(vocabulary=VOCAB, invert=True)
  np.testing.assert_array_equal(layer(np.array([1, 2, 0])),
                                ["a", "b", "[UNK]"])


@pytest.mark.parametrize("factory,kw,reserved", [
    (pc.string_lookup, dict(num_oov_indices=3), 3),
    (pc.string_lookup, dict(num_oov_indices=2, mask_token=""), 3),
    (pc.integer_lookup, dict(num_oov_indices=2, mask_token=0), 3),
    (pc.integer_lookup, dict(num_oov_indices=4), 4),
])
def test_max_tokens_below_the_reserved_slots(factory, kw, reserved):
  with pytest.raises(ValueError,
                     match=rf"`max_tokens` must be at least the {reserved} "
                     rf"reserved slot\(s\).*got max_tokens=2"):
    factory(max_tokens=2, **kw)
  factory(max_tokens=reserved, **kw)  # exactly the reserved slots: allowed


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_idf_weights(bad):
  weights = [0.5, bad, 0.25, 0.75]
  with pytest.raises(ValueError, match=r"`idf_weights` must be finite"):
    pc.string_lookup(vocabulary=VOCAB, idf_weights=weights,
                     output_mode="tf_idf")
  with pytest.raises(ValueError, match=r"`idf_weights` must be finite"):
    pc.integer_lookup(vocabulary=[1, 2, 3, 4], idf_weights=weights,
                      output_mode="tf_idf")
  with pytest.raises(ValueError, match=r"`idf_weights` must be finite"):
    pc.text_vectorization(vocabulary=VOCAB, idf_weights=weights,
                          output_mode="tf_idf")
  with pytest.raises(TypeError, match=r"`idf_weights` must be a real number"):
    pc.string_lookup(vocabulary=VOCAB, idf_weights=["x"] * 4,
                     output_mode="tf_idf")


def test_split_callable_returning_non_strings():
  t = pc.text_vectorization(split=lambda docs: [["a", 1] for _ in docs])
  with pytest.raises(TypeError, match=r"^text_vectorization: `split` must "
                     r"return str \(or bytes\) tokens, got int 1 \(token 1 "
                     r"of document 0\)"):
    t.adapt(t.init(None), ["x y"])
  t = pc.text_vectorization(split=lambda docs: [["x"], ["y", None]],
                            vocabulary=VOCAB)
  with pytest.raises(TypeError, match=r"`split` must return str.*got "
                     r"NoneType None \(token 1 of document 1\)"):
    t.apply(t.init(None), ["x", "y"])


def test_ragged_rank_3_lists():
  # pc.adapt keeps string lists as lists, so the input path judges them.
  with pytest.raises(ValueError, match=r"`batch` is nested deeper than rank "
                     r"2"):
    pc.adapt(pc.string_lookup(), [[["a"], ["b", "c"]], [["d"]]])
  t = pc.string_lookup(vocabulary=VOCAB)
  with pytest.raises(ValueError, match=r"`inputs` is nested deeper"):
    t.apply(t.init(None), [[["a"], ["b", "c"]]])
  tv = pc.text_vectorization(vocabulary=VOCAB)
  with pytest.raises(ValueError, match=r"^text_vectorization: `inputs` must "
                     r"be a rectangular batch.*ragged or nested"):
    tv.apply(tv.init(None), [[["a"], ["b", "c"]]])
  with pytest.raises(ValueError, match=r"^text_vectorization: `batch` must "
                     r"be a rectangular batch"):
    pc.adapt(pc.text_vectorization(), [[["a"], ["b", "c"]]])
  ti = pc.integer_lookup(vocabulary=[1, 2])
  with pytest.raises(ValueError, match=r"^integer_lookup: `inputs` must be a "
                     r"rectangular array of integers, got ragged"):
    ti.apply(ti.init(None), [[[1], [2, 3]]])
  with pytest.raises(ValueError, match=r"`data` must be rectangular"):
    pc.adapt(pc.integer_lookup(), [[[1], [2, 3]]])
  with pytest.raises(ValueError, match=r"^hashing: `inputs` is nested deeper"):
    pc.hashing(5).apply(pc.EmptyState(), [[["a"], ["b", "c"]]])
  c = pc.hashed_crossing(5)
  with pytest.raises(ValueError, match=r"^hashed_crossing: `inputs\[1\]` "
                     r"must be a rectangular array"):
    c.apply(pc.EmptyState(), ([1, 2], [[1], [2, 3]]))


def test_text_vectorization_merge_refuses_other_tokenizers():
  def adapted(**kw):
    t = pc.text_vectorization(**kw)
    return t, t.adapt(t.init(None), ["a b c", "b c"])
  t1, s1 = adapted(ngrams=None)
  _, s2 = adapted(ngrams=2)
  with pytest.raises(ValueError, match=r"^text_vectorization\.merge: .*"
                     r"tokenize differently \(.*ngrams=None.* vs "
                     r".*ngrams=\(1, 2\)"):
    t1.merge(s1, s2)
  _, s3 = adapted(split="character")
  with pytest.raises(ValueError, match=r"tokenize differently"):
    t1.merge(s1, s3)
  assert pc.get_vocabulary(t1.merge(s1, s1))[:2] == ["", "[UNK]"]


def test_text_vectorization_merge_refuses_other_fixed_vocabularies():
  ta = pc.text_vectorization(vocabulary=["a", "b"])
  tb = pc.text_vectorization(vocabulary=["a", "c"])
  sa, sb = ta.init(None), tb.init(None)
  with pytest.raises(ValueError, match=r"different fixed vocabularies"):
    ta.merge(sa, sb)
  assert pc.get_vocabulary(ta.merge(sa, ta.init(None))) == pc.get_vocabulary(
      sa)
  t = pc.text_vectorization()
  with pytest.raises(ValueError, match=r"different settings"):
    ta.merge(sa, t.adapt(t.init(None), ["a c"]))


# ---------------------------------------------------------------------------
# 3. Hashing: None inside strings; one behaviour for str and bytes.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("x,at", [
    (["a", None, "b"], 1),
    ([None, "a"], 0),
    (np.array(["a", None], dtype=object), 1),
    ([["a"], [None]], 1),
])
def test_hashing_names_none_inside_strings(x, at):
  with pytest.raises(TypeError, match=rf"^hashing: `inputs` must hold "
                     rf"strings.*got None at element {at}\. Fill in missing"):
    pc.hashing(10).apply(pc.EmptyState(), x)


def test_hashed_crossing_refuses_none():
  c = pc.hashed_crossing(num_bins=10)
  for feature, at in ((["a", None], 1), ([None, "b"], 0),
                      (np.array(["a", None], dtype=object), 1)):
    with pytest.raises(TypeError, match=rf"^hashed_crossing: `inputs\[0\]` "
                       rf"must hold strings.*got None at element {at}"):
      c.apply(pc.EmptyState(), (feature, [1, 2]))
  with pytest.raises(TypeError, match=r"`inputs\[1\]` must hold strings.*"
                     r"type int at element 0"):
    c.apply(pc.EmptyState(), ([1, 2], np.array([3, "x"], dtype=object)))


def test_mixed_str_and_bytes_hash_like_str():
  t = pc.hashing(1000)
  np.testing.assert_array_equal(t.apply(pc.EmptyState(), ["a", b"bc", "d"]),
                                t.apply(pc.EmptyState(), ["a", "bc", "d"]))
  c = pc.hashed_crossing(num_bins=1000)
  e = pc.EmptyState()
  np.testing.assert_array_equal(c.apply(e, (["a", b"bc"], [1, 2])),
                                c.apply(e, (["a", "bc"], [1, 2])))
  # Non-ASCII bytes too: hashed as their bytes, like the str's UTF-8.
  np.testing.assert_array_equal(
      c.apply(e, (["a", "\u00e9".encode()], [1, 2])),
      c.apply(e, (["a", "\u00e9"], [1, 2])))
  t = pc.string_lookup(vocabulary=VOCAB)
  np.testing.assert_array_equal(t.apply(t.init(None), ["a", b"b"]), [1, 2])


# ---------------------------------------------------------------------------
# 4. Vocabulary files.
# ---------------------------------------------------------------------------


def test_vocabulary_file_byte_order_mark_is_dropped(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_bytes(b"\xef\xbb\xbfa\r\nb\nc\n")
  t = pc.string_lookup(vocabulary=str(path))
  assert pc.get_vocabulary(t.init(None)) == ["[UNK]", "a", "b", "c"]
  np.testing.assert_array_equal(t.apply(t.init(None), ["a"]), [1])
  path.write_bytes(b"\xef\xbb\xbf7\n8\n")
  ti = pc.integer_lookup(vocabulary=str(path))
  assert pc.get_vocabulary(ti.init(None)) == [-1, 7, 8]


# ---------------------------------------------------------------------------
# 5. The same class elsewhere: None, numbers, ragged, 0-d, empty.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: pc.string_lookup(vocabulary=VOCAB),
    lambda: pc.text_vectorization(vocabulary=VOCAB),
])
def test_none_inside_strings_is_named(make):
  t = make()
  with pytest.raises(TypeError, match=r"`inputs` must hold strings.*got None "
                     r"at element 1\. Fill in missing values"):
    t.apply(t.init(None), ["a", None])


def test_element_type_error_names_the_element():
  with pytest.raises(TypeError, match=r"^f: `x` must hold strings.*an element "
                     r"of type float at element 2 \(1\.5\)"):
    inputs.to_tokens(["a", b"b", 1.5], where="f", argname="x")
  with pytest.raises(TypeError, match=r"None at element 0"):
    inputs.as_strings([None], where="f", argname="x")


def test_zero_d_and_empty_string_inputs():
  t = pc.string_lookup(vocabulary=VOCAB)
  s = t.init(None)
  assert t.apply(s, "c").shape == () and int(t.apply(s, "c")) == 3
  assert int(t.apply(s, np.array("b"))) == 2
  assert t.apply(s, []).shape == (0,)
  h = pc.hashing(10)
  assert h.apply(pc.EmptyState(), "a").shape == ()
  with pytest.raises(TypeError, match=r"`inputs` must hold strings"):
    t.apply(s, None)
  with pytest.raises(TypeError, match=r"`inputs` must hold strings.*numbers"):
    t.apply(s, 3)
  with pytest.raises(ValueError,
                     match=r"`batch` must hold at least one string"):
    t2 = pc.string_lookup()
    t2.adapt(t2.init(None), [])


def test_encoding_is_checked_when_built():
  for bad in ("no-such-codec", 5):
    with pytest.raises(ValueError, match=r"^string_lookup: `encoding` must "
                       r"name a codec"):
      pc.string_lookup(encoding=bad)
    with pytest.raises(ValueError, match=r"^text_vectorization: `encoding` "
                       r"must name a codec"):
      pc.text_vectorization(encoding=bad)


def test_none_and_numbers_inside_a_vocabulary_are_named():
  with pytest.raises(TypeError, match=r"^string_lookup: `vocabulary` must "
                     r"hold strings.*got None at element 1"):
    pc.string_lookup(vocabulary=["a", None])
  with pytest.raises(TypeError, match=r"`vocabulary` must hold strings.*type "
                     r"int at element 0"):
    pc.text_vectorization(vocabulary=[3, "a"])
