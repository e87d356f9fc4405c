import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import theory

W = np.array([1.05, 1.25, 1.5, 2.0, 3.0, 5.0])


def test_attractor_against_fixed_point_iteration():
  a = W.copy()
  for _ in range(20000):  # contraction <= 0.91 at w = 1.05: converges fully
    a = W * np.tanh(a)
  np.testing.assert_allclose(theory.attractor(W), a, rtol=0, atol=1e-9)
  np.testing.assert_allclose(W * np.tanh(theory.attractor(W)), theory.attractor(W),
                             atol=1e-12)


def test_no_attractor_below_the_bifurcation():
  w = np.array([[-3.0, 0.0], [0.5, 1.0]])
  a = theory.attractor(w)
  assert a.shape == (2, 2) and np.all(a == 0)
  np.testing.assert_array_equal(theory.escape_threshold(w), 0)


def test_contraction_at_the_attractor_is_below_one():
  m = theory.contraction_at_attractor(W)
  assert np.all((0 < m) & (m < 1))
  assert np.all(np.diff(m) < 0)  # stronger latch, stronger contraction
  np.testing.assert_allclose(theory.contraction(2.0, 0.0), 2.0)


def test_escape_threshold_closed_form_values():
  # The spec's values (section 2).
  np.testing.assert_allclose(theory.escape_threshold([1.25, 1.5, 2.0, 3.0]),
                             [0.0778, 0.2075, 0.533, 1.303], atol=6e-4)


def _bisect(pred, lo, hi, iters):
  """Smallest x in [lo, hi] with pred(x) True (pred monotone), vectorised."""
  lo, hi = np.array(lo, float), np.array(hi, float)
  for _ in range(iters):
    mid = (lo + hi) / 2
    p = pred(mid)
    hi, lo = np.where(p, mid, hi), np.where(p, lo, mid)
  return lo, hi


def test_escape_threshold_against_bisection_on_the_fold():
  # Independent root finding: the lower fixed point of a -> w tanh a + h
  # vanishes where w sech^2(a) = 1 with a < 0; h* = a - w tanh(a) there.
  lo, hi = _bisect(lambda a: W * (1 - np.tanh(a) ** 2) > 1,
                   -np.full(W.shape, 20.0), np.zeros(W.shape), 200)
  a_star = (lo + hi) / 2
  h_star = a_star - W * np.tanh(a_star)
  np.testing.assert_allclose(theory.escape_threshold(W), h_star, rtol=0, atol=1e-9)


def test_escape_threshold_against_bisection_on_simulated_trajectories():
  w = np.array([1.25, 1.5, 2.0, 3.0])
  h_star = theory.escape_threshold(w)
  for steps, tol in ((500, 1e-4), (5000, 1e-6)):
    escapes = lambda h: np.isfinite(theory.escape_time(w, h, max_steps=steps))
    lo, hi = _bisect(escapes, np.zeros(4), w + 1, 45)
    # Escaping needs h > h*; a finite horizon needs a little more (the
    # passage through the bottleneck takes ~ 1/sqrt(h - h*) steps).
    assert np.all(hi >= h_star)
    assert np.all(hi - h_star < tol), (steps, hi - h_star)


def test_escape_time_is_infinite_at_or_below_threshold_and_falls_above():
  w = np.array([1.25, 2.0, 3.0])[:, None]
  h_star = theory.escape_threshold(w)
  below = theory.escape_time(w, h_star * np.array([0.0, 0.5, 0.999, 1.0]))
  assert np.all(np.isinf(below))
  t = theory.escape_time(w, h_star * np.array([1.001, 1.01, 1.1, 1.5, 2, 4, 10]))
  assert np.all(np.isfinite(t))
  assert np.all(np.diff(t, axis=1) <= 0)  # never slower with larger h
  assert np.all(np.diff(t[:, :4], axis=1) < 0)  # strictly, until one step
  assert np.all(t[:, -1] <= 2)
  assert np.all(theory.escape_time(0.5, [0.1, 1.0]) == 1)  # w <= 1: no latch


def test_state_jacobian_equals_autodiff():
  rng = np.random.default_rng(0)
  inputs = rng.normal(size=15) * 0.2
  for w in (0.7, 1.5, 3.0):
    path = theory.trajectory(w, inputs, a0=0.3)
    prod = theory.state_jacobian(w, path[:-1])
    with jax.enable_x64(True):
      def final_states(a0):
        def body(a, u):
          a = w * jnp.tanh(a) + u
          return a, a
        return jax.lax.scan(body, a0, jnp.asarray(inputs))[1]
      jac = jax.jacfwd(final_states)(jnp.float64(0.3))
    np.testing.assert_allclose(prod, np.abs(np.asarray(jac)), rtol=1e-12)


def test_gradient_contributions_equal_the_product_formula():
  rng = np.random.default_rng(1)
  inputs = rng.normal(size=(30, 8)) * 0.3
  inputs[:3] += np.array([1.0, -1.0] * 4)  # latch half each way
  target = np.array([0.8, -0.8] * 4)
  for w in (0.8, 1.25, 2.0):
    g = theory.gradient_contributions(w, inputs, target)
    p = theory.gradient_contributions_product(w, inputs, target)
    np.testing.assert_allclose(g, p, rtol=1e-10, atol=1e-300)
  # Per-sequence weights broadcast too.
  w_col = np.linspace(0.8, 2.0, 8)
  np.testing.assert_allclose(theory.gradient_contributions(w_col, inputs, target),
                             theory.gradient_contributions_product(w_col, inputs, target),
                             rtol=1e-10, atol=1e-300)


def test_gradient_to_early_inputs_vanishes_like_the_contraction():
  w, T = 1.5, 40
  a_bar = theory.attractor(w)
  inputs = np.zeros(T)
  inputs[0] = a_bar  # lands on the attractor at step 1, stays there
  g = np.abs(theory.gradient_contributions(w, inputs, 0.0))
  rate = theory.contraction_at_attractor(w)
  np.testing.assert_allclose(g[:-1] / g[1:], rate, rtol=1e-9)


def test_measured_decay_rate_matches_the_contraction():
  from vanishing.experiments.latch import gradients
  st = gradients.Settings(w=(1.1, 1.25, 1.5, 2.0, 3.0, 0.5), steps=60)
  table, t, jac = gradients.decay(st)
  lat = table["latched"]
  log_m = np.log(table["measured_rate"][lat])
  log_p = np.log(table["predicted_rate"][lat])
  np.testing.assert_allclose(log_m, log_p, rtol=0.01)
  assert table["rel_error"][~lat][0] < 1e-9  # w = 0.5 decays to 0 at rate 0.5


def test_cell_jacobian_of_a_latched_unit_decays_at_the_contraction():
  # The latch net (state x = tanh a) and a 3-unit Elman net with W = w I
  # (its carried output y left out of the state) both sit on the attractor
  # from step 1: ||dx_t/dx_0|| = M'(a_bar)^t, as state_jacobian predicts.
  from vanishing import cells
  w, T = 1.5, 25
  a_bar = float(theory.attractor(w))
  rate = theory.contraction_at_attractor(w)
  want = theory.state_jacobian(w, np.full(T, a_bar))
  np.testing.assert_allclose(want, rate ** np.arange(1, T + 1), rtol=1e-12)
  latch = theory.cell_jacobian_norms(cells.latch_net(), [w, a_bar, -a_bar],
                                     np.zeros(T), context=0)
  np.testing.assert_allclose(latch, want, rtol=1e-9)
  elman = cells.Elman(n=3)
  theta = np.concatenate([(w * np.eye(3)).ravel(), np.full(3, a_bar),
                          np.zeros(3), np.zeros(4)])
  u = np.zeros(T)
  u[0] = 1.0
  for norm in ("spectral", "frobenius"):
    got = theory.cell_jacobian_norms(elman, theta, u, norm=norm)
    scale = 1.0 if norm == "spectral" else np.sqrt(3)
    np.testing.assert_allclose(got, scale * want, rtol=1e-9)


def test_cell_jacobian_of_the_constant_error_carousel_stays_at_one():
  # LSTM without forget gate, input gate closed (b_i = -50): c_t = c_{t-1}
  # whatever h does, so ||dc_t/dc_0|| = 1 at every t (Hochreiter &
  # Schmidhuber 1997), while a forget gate at b_f = 0 (f near 1/2) shrinks it
  # and the tanh RNN's state Jacobian vanishes.
  from vanishing import cells
  import jax
  rng = np.random.default_rng(0)
  u = rng.normal(size=40)
  cell = cells.LSTM(n=3, forget_gate=False)
  theta = np.array(cell.init(jax.random.key(0), 1.0), np.float64)
  b0 = cell.gates * cell.n * (cell.n + cell.inputs)
  theta[b0:b0 + 3] = -50.0                                  # b_i
  np.testing.assert_allclose(
      theory.cell_jacobian_norms(cell, theta, u, part="c"), 1.0, atol=1e-12)
  leaky = cells.LSTM(n=3)
  theta = np.array(leaky.init(jax.random.key(0), 1.0), np.float64)
  theta[b0:b0 + 3], theta[b0 + 3:b0 + 6] = -50.0, 0.0       # b_i, b_f
  got = theory.cell_jacobian_norms(leaky, theta, u, part="c")
  assert got[-1] < 0.01, got
  with pytest.raises(ValueError, match="part must be one of"):
    theory.cell_jacobian_norms(cell, theta[:cell.size], u, part="x")


def test_cell_jacobian_of_an_orthogonal_rnn_stays_near_one():
  # Linear regime (inputs 1e-3, zero biases): ds_t/ds_0 ~ W^t, every
  # singular value 1 for orthogonal W; a uniform W on [-0.5, 0.5] with the
  # same V forgets, and so does a GRU with its update gate half open.
  from vanishing import cells
  import jax
  u = 1e-3 * np.random.default_rng(1).normal(size=50)
  key = jax.random.key(1)
  ortho = cells.get("rnn_orthogonal", n=8)
  got = theory.cell_jacobian_norms(ortho, ortho.init(key, 0.5), u)
  assert np.all(np.abs(got - 1) < 1e-3), got
  uniform = cells.Elman(n=8)
  assert theory.cell_jacobian_norms(uniform, uniform.init(key, 0.5), u)[-1] \
      < 1e-3
  gru = cells.GRU(n=4)
  assert np.all(np.diff(theory.cell_jacobian_norms(
      gru, gru.init(key, 0.5), u)) < 0)


@pytest.mark.parametrize("call", [
    lambda: theory.attractor([1.0, np.nan]),
    lambda: theory.escape_threshold(np.inf),
    lambda: theory.escape_time(1.5, np.nan),
    lambda: theory.escape_time(1.5, 0.3, max_steps=0),
    lambda: theory.contraction(1.5, -np.inf),
    lambda: theory.gradient_contributions(1.5, np.array([0.1, np.nan]), 0.8),
    lambda: theory.trajectory(np.nan, np.zeros(3)),
])
def test_non_finite_input_raises(call):
  with pytest.raises(ValueError, match="must be"):
    call()


def test_lyapunov_exponent_of_the_latched_neuron_is_log_m_prime():
  # On the attractor every step's Jacobian is M'(a_bar): lambda_1 =
  # log M'(a_bar), in float64 to rounding and in float32 to its precision.
  import jax
  from vanishing import cells
  w, T = 1.5, 40
  a_bar = float(theory.attractor(w))
  want = np.log(theory.contraction_at_attractor(w))
  with jax.enable_x64(True):
    got = theory.lyapunov_exponents(cells.latch_net(), [w, a_bar, -a_bar],
                                    np.zeros(T))
    assert got.dtype == np.float64
    np.testing.assert_allclose(np.asarray(got), [want], rtol=1e-12)
  got32 = theory.lyapunov_exponents(
      cells.latch_net(), np.array([w, a_bar, -a_bar], np.float32),
      np.zeros(T, np.float32))
  assert got32.dtype == np.float32
  np.testing.assert_allclose(np.asarray(got32), [want], rtol=1e-5)


def _numpy_lyapunov(theta, n, u, k):
  """The QR method for a tanh RNN, h_t = tanh(W h + V u_t + b), as a plain
  float64 loop: J_t = diag(1 - h_t^2) W."""
  W = theta[:n * n].reshape(n, n)
  V, b = theta[n * n:n * n + n], theta[n * n + n:n * n + 2 * n]
  h, q, total = np.zeros(n), np.eye(n)[:, :k], np.zeros(k)
  for x in u:
    h = np.tanh(W @ h + V * x + b)
    q, r = np.linalg.qr((1 - h ** 2)[:, None] * W @ q)
    total += np.log(np.abs(np.diag(r)))
  return total / len(u)


def test_lyapunov_spectrum_of_an_elman_net_matches_a_numpy_loop():
  import jax
  from vanishing import cells
  cell = cells.Elman(n=4)
  rng = np.random.default_rng(3)
  u = rng.normal(size=120)
  for gain in (0.5, 1.5, 3.0):  # contracting to chaotic
    theta = rng.normal(size=cell.size)
    theta[:16] *= gain / 2.0   # W entries ~ N(0, gain^2 / n)
    want = _numpy_lyapunov(theta, 4, u, 4)
    with jax.enable_x64(True):
      got = np.asarray(theory.lyapunov_exponents(cell, theta, u, k=4))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.all(np.diff(got) <= 1e-9)  # largest first


def test_lyapunov_exponents_are_log_gain_in_the_linear_regime_and_vmap():
  # W = g I, no input, no bias: h stays 0 and J = g I, so every exponent is
  # log g. Vmapped under jit over the gains (as a sweep would), float32.
  import jax
  import jax.numpy as jnp
  from vanishing import cells
  cell = cells.Elman(n=3)
  gains = jnp.array([0.5, 1.0, 2.0], jnp.float32)

  def theta(g):
    return jnp.zeros(cell.size, jnp.float32).at[:9].set(
        (g * jnp.eye(3)).ravel())

  many = jax.jit(jax.vmap(lambda g: theory.lyapunov_exponents(
      cell, theta(g), jnp.zeros(30), k=3)))(gains)
  np.testing.assert_allclose(np.asarray(many),
                             np.log(np.asarray(gains))[:, None].repeat(3, 1),
                             atol=1e-6)
  one = theory.lyapunov_exponents(cell, theta(gains[2]), jnp.zeros(30), k=3)
  np.testing.assert_allclose(np.asarray(many[2]), np.asarray(one), rtol=1e-6)
  with pytest.raises(ValueError, match=r"k must be in \[1, 3\]"):
    theory.lyapunov_exponents(cell, theta(1.0), jnp.zeros(5), k=4)
