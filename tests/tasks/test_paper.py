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


# --- The benchmark problems of Section VI -------------------------------------

def _np(batch):
  return [np.asarray(x) for x in batch]


def test_lengths_lie_in_the_half_span_and_inputs_stop_at_each_end():
  for gen in (tasks.latch, tasks.parity):
    x, d, lengths, classes = _np(gen(jax.random.key(2), 200, 10, 20))
    assert x.shape == (20, 400)
    assert lengths.min() == 10 and lengths.max() == 20  # both ends are drawn
    after = np.arange(20)[:, None] >= lengths[None, :]
    assert np.all(x[after] == 0)
    np.testing.assert_array_equal(classes, [0] * 200 + [1] * 200)


def test_parity_labels_match_an_independent_count():
  x, d, lengths, classes = _np(tasks.parity(jax.random.key(3), 100, 5, 12,
                                            tasks.Noise("uniform", 0.2)))
  for b in range(x.shape[1]):
    bits = x[:lengths[b], b]
    assert np.all(np.abs(np.abs(bits) - 1) <= 0.2 + 1e-6)
    odd = int(np.sum(bits > 0)) % 2 == 1
    assert classes[b] == (0 if odd else 1)
    assert d[b] == (0.8 if odd else -0.8)


def test_parity_bits_before_the_end_are_fair():
  x, _, lengths, _ = _np(tasks.parity(jax.random.key(4), 2000, 10, 10,
                                      tasks.Noise("none", 0.0)))
  assert abs(np.mean(x[:9] > 0) - 0.5) < 0.01  # 36,000 fair bits


def test_two_sequence_class_depends_only_on_the_prefix():
  N = 3
  x, d, lengths, classes = _np(tasks.two_sequence(
      jax.random.key(5), 500, 6, 12, N=N, noise=tasks.Noise("uniform", 0.2)))
  proto = np.asarray(tasks.prototypes(N))
  # The prefix is the class's prototype plus noise of at most 0.2 ...
  for c in (0, 1):
    dev = x[:N, classes == c] - proto[c][:, None]
    assert np.all(np.abs(dev) <= 0.2 + 1e-6)
  # ... and after it the inputs are the same law for both classes.
  tail = x[N:6]
  assert abs(tail[:, classes == 0].mean() - tail[:, classes == 1].mean()) < 0.01
  assert np.all(np.abs(tail) <= 0.2 + 1e-6)
  assert np.max(np.abs(proto[0] - proto[1])) >= 0.5
  with pytest.raises(ValueError, match="N <= min_len"):
    tasks.two_sequence(jax.random.key(0), 2, 2, 4, N=3)


def test_latch_first_step_is_noise_free_and_variant_two_sets_it():
  noise = tasks.Noise("gaussian", 0.2)
  x, _, _, _ = _np(tasks.latch(jax.random.key(6), 5000, 8, 8, noise))
  assert np.all(x[0] == 0)
  assert x[1:].var() == pytest.approx(0.2, rel=0.03)
  x, d, _, c = _np(tasks.latch(jax.random.key(6), 4, 8, 8, noise,
                               first=(1.0, -1.0), targets=(1.0, -1.0)))
  np.testing.assert_array_equal(x[0], np.where(c == 0, 1.0, -1.0))
  np.testing.assert_array_equal(d, np.where(c == 0, 1.0, -1.0))


@pytest.mark.parametrize("kind,scale,var", [("uniform", 0.2, 0.2 ** 2 / 3),
                                            ("gaussian", 0.5, 0.5)])
def test_noise_laws(kind, scale, var):
  z = np.asarray(tasks.Noise(kind, scale).sample(jax.random.key(7), (200000,)))
  assert z.var() == pytest.approx(var, rel=0.02)
  if kind == "uniform":
    assert z.min() >= -scale and z.max() <= scale


def test_traced_span_pads_to_the_array_size():
  b = jax.jit(lambda k, hi: tasks.parity(k, 50, (hi + 1) // 2, hi, size=20))(
      jax.random.key(8), jnp.int32(8))
  assert b.inputs.shape == (20, 100)
  assert int(b.lengths.min()) >= 4 and int(b.lengths.max()) <= 8


def test_parity_coding_01_writes_bits_as_0_and_1_with_the_same_parity():
  key = jax.random.key(3)
  quiet = tasks.Noise("none", 0.0)
  pm = tasks.parity(key, 6, 5, 9, quiet)
  zo = tasks.parity(key, 6, 5, 9, quiet, coding="01")
  mask = np.asarray(tasks.mask(pm))
  # The same bits: b = (x + 1) / 2 under +-1, b = x under 0/1.
  np.testing.assert_array_equal(np.asarray(zo.inputs),
                                (np.asarray(pm.inputs) + 1) / 2 * mask)
  ones = np.sum(np.asarray(zo.inputs) * mask, axis=0)
  np.testing.assert_array_equal(ones % 2, np.asarray(zo.classes) == 0)
  with pytest.raises(ValueError, match="coding"):
    tasks.parity(key, 2, 3, 4, coding="gray")
