"""pc.rescaling: Keras' numbers and dtypes, eager/jit/vmap, bad input."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc

RECORD = json.load(open(os.path.join(os.path.dirname(__file__),
                                     "keras_records", "numeric.json")))


@pytest.mark.parametrize("case", RECORD["rescaling"],
                         ids=lambda c: f"{c['dtype']}-{c['scale']}")
def test_matches_keras(case):
  t = pc.rescaling(case["scale"], case["offset"])
  x = np.asarray(case["x"], case["dtype"])
  s = t.init(x)
  y = t.apply(s, x)
  assert str(y.dtype) == case["out_dtype"] == "float32"
  np.testing.assert_allclose(y, case["output"], rtol=1e-6)
  np.testing.assert_allclose(jax.jit(t.apply)(s, x), case["output"], rtol=1e-6)
  np.testing.assert_allclose(jax.vmap(t.apply, in_axes=(None, 0))(s, x),
                             case["output"], rtol=1e-6)


def test_image_range_and_adapt_is_noop():
  t = pc.rescaling(scale=1 / 127.5, offset=-1)
  x = np.array([[[0, 255]]], np.uint8)
  s = pc.adapt(t, x)
  np.testing.assert_allclose(t.apply(s, x), [[[-1., 1.]]])


def test_bad_input():
  with pytest.raises(TypeError, match="`scale`"):
    pc.rescaling("big")
  with pytest.raises(ValueError, match="`offset`"):
    pc.rescaling(1.0, offset=np.inf)
  t = pc.rescaling([1., 2., 3.])
  s = t.init(np.zeros((1, 3)))
  with pytest.raises(ValueError, match="does not broadcast"):
    t.apply(s, np.zeros((2, 4)))
  with pytest.raises(TypeError, match="real numbers"):
    t.apply(s, np.array(["a"]))
