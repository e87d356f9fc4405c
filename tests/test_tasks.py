import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import tasks


def test_shapes_classes_and_targets():
  b = tasks.latch_minimal(jax.random.key(0), n_per_class=4, T=20, L=3, s=0.5)
  assert b.noise.shape == (20, 8)
  np.testing.assert_array_equal(b.classes, [0] * 4 + [1] * 4)
  np.testing.assert_allclose(b.targets, [0.8] * 4 + [-0.8] * 4)


def test_first_L_steps_carry_no_noise_and_noise_has_variance_s():
  s = 0.3
  b = tasks.latch_minimal(jax.random.key(1), n_per_class=5000, T=12, L=3, s=s)
  noise = np.asarray(b.noise)
  assert np.all(noise[:3] == 0)
  tail = noise[3:].ravel()
  # 90,000 N(0, s) draws: the sample variance has relative sd ~0.5%.
  assert abs(tail.mean()) < 0.01
  assert tail.var() == pytest.approx(s, rel=0.03)
  # The noise is the same law for both classes: it carries no class.
  for c in (0, 1):
    part = noise[3:, np.asarray(b.classes) == c]
    assert part.var() == pytest.approx(s, rel=0.05)


def test_zero_variance_gives_no_noise():
  b = tasks.latch_minimal(jax.random.key(2), 3, 10, 2, 0.0)
  assert np.all(np.asarray(b.noise) == 0)


def test_class_depends_only_on_first_L_inputs():
  T, L = 10, 3
  b = tasks.latch_minimal(jax.random.key(3), 3, T, L, 0.2)
  h = jnp.asarray([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
  u = np.asarray(tasks.latch_inputs(h, b))
  cls = np.asarray(b.classes)
  np.testing.assert_allclose(u[:L, cls == 0].T, np.tile([1, 2, 3], (3, 1)))
  np.testing.assert_allclose(u[:L, cls == 1].T, np.tile([-1, -2, -3], (3, 1)))
  # After L the input is the noise alone, whatever h is.
  u2 = np.asarray(tasks.latch_inputs(h * 7, b))
  np.testing.assert_array_equal(u[L:], u2[L:])
  np.testing.assert_array_equal(u[L:], np.asarray(b.noise)[L:])


@pytest.mark.parametrize("L,T", [(0, 5), (5, 5), (6, 5)])
def test_bad_sizes_raise(L, T):
  with pytest.raises(ValueError, match="1 <= L < T"):
    tasks.latch_minimal(jax.random.key(0), 2, T, L, 0.1)
