import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells


def numpy_latch(w, inputs, a0=0.0):
  a = np.full(inputs.shape[1:], a0, np.float64)
  path = []
  for h in inputs:
    a = w * np.tanh(a) + h
    path.append(a)
  return np.stack(path)


@pytest.mark.parametrize("T", [1, 7, 20, 60])  # full and partial unrolling
def test_latch_matches_numpy_loop(T):
  rng = np.random.default_rng(T)
  inputs = rng.normal(size=(T, 5)).astype(np.float32)
  for w in (0.5, 1.25, 3.0, -1.5):
    want = numpy_latch(w, inputs.astype(np.float64))
    path = np.asarray(cells.latch_trajectory(jnp.float32(w), jnp.asarray(inputs)))
    np.testing.assert_allclose(path, want, rtol=1e-5, atol=1e-5)
    final = np.asarray(cells.latch_final(jnp.float32(w), jnp.asarray(inputs)))
    np.testing.assert_allclose(final, want[-1], rtol=1e-5, atol=1e-5)


def test_latch_step_is_the_paper_map():
  a, h, w = 0.3, -0.2, 1.7
  assert float(cells.latch_step(w, a, h)) == pytest.approx(w * np.tanh(a) + h)


def test_initial_state_is_used():
  inputs = jnp.zeros((3, 2))
  got = np.asarray(cells.latch_final(2.0, inputs, a0=1.0))
  want = numpy_latch(2.0, np.zeros((3, 2)), a0=1.0)[-1]
  np.testing.assert_allclose(got, want, rtol=1e-6)
