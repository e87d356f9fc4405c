"""The diagonal linear cells (``cells.LinearDiag``, ``cells.LRU``) and the
parallel form of their loop (``cells.linear_scan``): what their
definitions fix beyond the conformance tests, which run on them through
``cells.CELLS`` (with their NumPy forward loops)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import cells
from vanishing.cells import lru as lru_module
from vanishing.cells import scan

LINEAR = {"linear_diag": cells.LinearDiag(n=3, inputs=2, outputs=4,
                                          output="linear"),
          "lru": cells.LRU(n=3, width=5, inputs=2, outputs=4,
                           output="linear"),
          "lru_encoder": cells.LRU(n=3, width=5, inputs=2, outputs=4,
                                   output="logistic", encoder=True)}


def _batch(key, T, B=5, D=2):
  k1, k2 = jax.random.split(key)
  inputs = jax.random.normal(k1, (T, B, D))
  lengths = jax.random.randint(k2, (B,), 1, T + 1).at[0].set(T)
  return inputs, lengths


def test_linear_diag_step_is_its_definition():
  cell = cells.LinearDiag(n=3, inputs=2)
  theta = cell.init(jax.random.key(0), 1.0)
  p = cell.unpack(theta)
  h = jax.random.normal(jax.random.key(1), (4, 3))
  u = jax.random.normal(jax.random.key(2), (4, 2))
  new = cell.step(p, {"h": h, "y": jnp.zeros(4)}, 0, u, None)
  t = np.asarray(theta, np.float64)
  a, B = np.exp(-np.exp(t[:3])), t[3:9].reshape(3, 2)
  want_h = a * np.asarray(h) + np.asarray(u) @ B.T
  np.testing.assert_allclose(np.asarray(new["h"]), want_h, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(new["y"]),
                             np.tanh(want_h @ t[9:12] + t[12]), rtol=1e-5)
  # The state Jacobian is diag(a) (SnAp-1 is exact on it).
  J = jax.jacobian(lambda s: cell.step(p, {"h": s, "y": jnp.zeros(1)}, 0,
                                       u[:1], None)["h"])(h[:1])
  np.testing.assert_allclose(np.asarray(J[0, :, 0, :]), np.diag(a),
                             rtol=1e-6)


def test_lru_step_is_its_definition():
  cell = LINEAR["lru"]
  theta = cell.init(jax.random.key(3), 0.5)
  p = cell.unpack(theta)
  h = jax.random.normal(jax.random.key(4), (4, 6))
  u = jax.random.normal(jax.random.key(5), (4, 2))
  new = cell.step(p, {"h": h, "y": jnp.zeros((4, 4))}, 0, u, None)
  q = {k: np.asarray(v, np.float64) for k, v in p.items()}
  lam = np.exp(-np.exp(q["nu_log"]) + 1j * np.exp(q["theta_log"]))
  hc = np.asarray(h[:, :3]) + 1j * np.asarray(h[:, 3:])
  u64 = np.asarray(u, np.float64)
  hc = lam * hc + np.exp(q["gamma_log"]) * (u64 @ (q["B_re"]
                                                   + 1j * q["B_im"]).T)
  x = lru_module.numpy_gelu((hc @ (q["C_re"] + 1j * q["C_im"]).T).real
                            + u64 @ q["D"].T)
  np.testing.assert_allclose(np.asarray(new["h"]),
                             np.concatenate([hc.real, hc.imag], 1),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(new["y"]),
                             x @ q["w_out"].T + q["b_out"], rtol=1e-5,
                             atol=1e-6)


@pytest.mark.parametrize("name", sorted(LINEAR))
def test_forward_over_a_sequence_equals_the_numpy_loop(name):
  cell = LINEAR[name]
  inputs, lengths = _batch(jax.random.key(6), 12)
  theta = cell.init(jax.random.key(7), 0.5)
  want = cell.numpy_forward(cell, theta, inputs, lengths, None)
  for parallel in (False, True):
    got = cells.forward(cell, theta, inputs, lengths, parallel=parallel)
    assert got.shape == (5, 4)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("every_step", [False, True])
@pytest.mark.parametrize("name", sorted(LINEAR))
def test_parallel_scan_equals_the_sequential_scan(name, every_step):
  cell = LINEAR[name]
  inputs, lengths = _batch(jax.random.key(8), 37)
  theta = cell.init(jax.random.key(9), 0.5)

  def cost(th, parallel):
    y = cells.forward(cell, th, inputs, lengths, every_step=every_step,
                      parallel=parallel)
    return jnp.sum(jnp.sin(y)), y

  # Compiled, as in a sweep (eager, each of the scans' operations compiles).
  grad = jax.jit(jax.value_and_grad(cost, has_aux=True), static_argnums=1)
  (c_seq, y_seq), g_seq = grad(theta, False)
  (c_par, y_par), g_par = grad(theta, True)
  np.testing.assert_allclose(np.asarray(y_par), np.asarray(y_seq),
                             rtol=1e-5, atol=1e-5)
  scale = float(jnp.max(jnp.abs(g_seq)))
  np.testing.assert_allclose(np.asarray(g_par), np.asarray(g_seq),
                             rtol=1e-4, atol=1e-5 * scale)
  # Per-step copies of theta: the same output and summed gradient.
  copies = jnp.broadcast_to(theta, (37, cell.size))
  (_, y_copy), g_copy = grad(copies, True)
  np.testing.assert_allclose(np.asarray(y_copy), np.asarray(y_seq),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.asarray(g_copy.sum(0)), np.asarray(g_seq),
                             rtol=1e-4, atol=1e-5 * scale)


def test_linear_scan_freezes_each_sequence_after_its_length():
  a = jnp.full((6, 1, 2), 0.5)
  b = jnp.ones((6, 3, 2))
  h = scan.linear_scan(a, b, jnp.array([6, 2, 1]), jnp.full((3, 2), 4.0))
  # h_t = h_{t-1}/2 + 1 from h_0 = 4: 3, 2.5, 2.25, ...; frozen after.
  want = np.array([3.0, 2.5, 2.25, 2.125, 2.0625, 2.03125])
  np.testing.assert_allclose(np.asarray(h[:, 0, 0]), want)
  np.testing.assert_allclose(np.asarray(h[:, 1, 1]), [3, 2.5, 2.5, 2.5,
                                                      2.5, 2.5])
  np.testing.assert_allclose(np.asarray(h[:, 2, 0]), [3.0] * 6)


def test_the_rule_picks_the_parallel_form_for_diagonal_cells_only():
  T = scan.LINEAR_SCAN_MIN_T
  assert scan.use_linear_scan(cells.LRU(), T, "gpu")
  assert not scan.use_linear_scan(cells.LRU(), T - 1, "gpu")
  assert not scan.use_linear_scan(cells.LSTM(), 10 * T, "gpu")
  # On a CPU the sequential loop was the faster at every T measured.
  assert not scan.use_linear_scan(cells.LinearDiag(), 10 * T, "cpu")


@pytest.mark.parametrize("name", sorted(LINEAR))
def test_stable_for_any_parameters(name):
  cell = LINEAR[name]
  decay = slice(0, cell.n)          # nu (linear_diag), nu_log (the LRU)
  for seed in range(3):
    theta = 30 * jax.random.normal(jax.random.key(seed), (cell.size,))
    a, _ = cell.transition(cell.unpack(theta), 0, jnp.zeros((1, 2)))
    assert 0.0 <= float(jnp.min(jnp.abs(a)))
    assert float(jnp.max(jnp.abs(a))) <= 1.0   # never above, float32
    # Strictly inside the unit circle while exp(nu) >= 2^-24 in float32.
    theta = theta.at[decay].set(jnp.linspace(-17.0, 40.0, cell.n))
    a, _ = cell.transition(cell.unpack(theta), 0, jnp.zeros((1, 2)))
    assert float(jnp.max(jnp.abs(a))) < 1.0


def test_lru_init_draws_the_ring_and_the_normalisation():
  cell = cells.LRU(n=4000, width=1, r_min=0.4, r_max=0.9, max_phase=1.0)
  p = cell.unpack(cell.init(jax.random.key(10), 0.5))
  r = np.abs(np.asarray(cell.eigenvalues(p), np.complex128))
  assert r.min() >= 0.4 - 1e-6 and r.max() <= 0.9 + 1e-6
  # Uniform on the ring's area: P(|lambda| <= s) = (s^2 - r_min^2) /
  # (r_max^2 - r_min^2); the median radius is sqrt((0.16 + 0.81) / 2).
  assert abs(np.median(r) - math.sqrt(0.485)) < 0.01
  phase = np.exp(np.asarray(p["theta_log"], np.float64))
  assert phase.min() >= 0 and phase.max() <= 1.0
  assert abs(phase.mean() - 0.5) < 0.02
  np.testing.assert_allclose(np.exp(np.asarray(p["gamma_log"])),
                             np.sqrt(1 - r ** 2), rtol=1e-4)


def test_linear_diag_init_draws_decays_in_its_range():
  cell = cells.LinearDiag(n=1000, r_min=0.6, r_max=0.95)
  theta = cell.init(jax.random.key(11), 0.3)
  a = np.asarray(cell.transition(cell.unpack(theta), 0, jnp.zeros(1))[0])
  assert a.min() >= 0.6 - 1e-6 and a.max() <= 0.95 + 1e-6
  assert np.abs(np.asarray(theta[cell.n:])).max() <= 0.3


def test_lru_sizes_and_state():
  assert cells.LRU().size == 61
  assert cells.LRU(encoder=True).size == 61 + 4 + 4 + 24
  assert cells.LinearDiag().size == 13
  cell = cells.LRU(n=3, width=2, inputs=10, outputs=9, output="linear")
  assert cell.size == 9 + 60 + 12 + 20 + 27
  assert cell.initial_state(7, jnp.float32)["h"].shape == (7, 6)
  with pytest.raises(ValueError, match="r_max"):
    cells.LRU(r_max=1.0)
