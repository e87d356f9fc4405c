"""Attractors, escape threshold and vanishing gradients of the latch neuron.

Bengio, Simard & Frasconi (1994), Sections III-IV, for the neuron
``a_t = w tanh(a_{t-1}) + h_t`` with the autonomous map ``M(a) = w tanh(a)``:

* for w > 1, M has two stable fixed points +-a_bar, ``a_bar = w tanh(a_bar)``,
  and 0 is unstable; for w <= 1 only 0 (which attracts);
* ``M'(a) = w (1 - tanh^2 a)``; at the attractor ``|M'(a_bar)| < 1``, so a
  latched state forgets perturbations: ``|da_t/da_0| = prod |M'(a_tau)|``
  decays like ``|M'(a_bar)|^t``;
* a constant input h moves the neuron from -a_bar to the positive side only if
  ``h > h*(w) = w sqrt(1 - 1/w) - artanh(sqrt(1 - 1/w))``: there the lower
  fixed point of ``a -> w tanh(a) + h`` meets the unstable one and vanishes
  (``M' = 1``: ``tanh^2 a = 1 - 1/w``);
* the gradient of ``C = 1/2 (tanh(a_T) - d)^2`` with respect to input h_tau
  is ``dC/da_T prod_{k=tau+1..T} M'(a_{k-1})``: once latched, the terms of
  the early, informative inputs vanish.

For any cell of ``vanishing.cells`` (the gated cells and the orthogonal or
identity RNN included), :func:`cell_jacobian_norms` measures the same
quantity, ``||ds_t/ds_0||`` of the cell's recurrent state, by forward-mode
autodiff through its own step: it decays like ``M'(a_bar)^t`` for a latched
tanh unit, stays at 1 along the LSTM's constant error carousel (Hochreiter &
Schmidhuber 1997) and near 1 for an orthogonal recurrent matrix in the
linear regime (Saxe, McClelland & Ganguli 2014). :func:`lyapunov_exponents`
gives the rate as exponents: the leading Lyapunov spectrum of the state map
along a sequence, ``log |M'(a_bar)|`` for the latched neuron.

Everything here but :func:`lyapunov_exponents` (traceable, any dtype) is
float64: the products underflow float32 quickly. The
closed forms use NumPy; the autodiff functions run JAX under a scoped
``jax.enable_x64``. Inputs are validated: non-finite values raise ValueError.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells

_NEWTON_STEPS = 60


def _finite(name: str, x) -> np.ndarray:
  x = np.asarray(x, np.float64)
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{name} must be finite, got {x}")
  return x


def attractor(w) -> np.ndarray:
  """Positive stable fixed point a_bar of ``a = w tanh(a)``; 0.0 for w <= 1.

  Newton's method from a = w: ``f(a) = a - w tanh a`` is convex for a > 0
  and positive at w, so the iterates decrease monotonically to the root.

  Args:
    w: self-weight(s), any shape, finite.

  Returns:
    a_bar, float64, the shape of ``w``.
  """
  w = _finite("w", w)
  a = np.where(w > 1, w, 0.0)
  for _ in range(_NEWTON_STEPS):
    t = np.tanh(a)
    f = a - w * t
    df = 1 - w * (1 - t * t)
    step = np.where(w > 1, f / np.where(df == 0, 1.0, df), 0.0)
    a = a - step
  return np.where(w > 1, a, 0.0)


def contraction(w, a) -> np.ndarray:
  """``M'(a) = w (1 - tanh^2 a)``, the map's derivative (broadcast)."""
  w, a = _finite("w", w), _finite("a", a)
  return w * (1 - np.tanh(a) ** 2)


def contraction_at_attractor(w) -> np.ndarray:
  """``M'(a_bar(w))``: the rate at which a latched state forgets (w > 1).

  For w <= 1 it is ``M'(0) = w``, the rate of the single fixed point 0.
  """
  return contraction(w, attractor(w))


def escape_threshold(w) -> np.ndarray:
  """h*(w) for a constant input; 0.0 for w <= 1.

  ``h* = w r - artanh(r)``, ``r = sqrt(1 - 1/w)``: about 0.0778 at w = 1.25,
  0.2075 at 1.5, 0.533 at 2 and 1.303 at 3.
  """
  w = _finite("w", w)
  r = np.sqrt(np.clip(1 - 1 / np.where(w > 1, w, 1.0), 0, 1))
  return np.where(w > 1, w * r - np.arctanh(r), 0.0)


def escape_time(w, h, max_steps: int = 100_000) -> np.ndarray:
  """Steps a neuron started at -a_bar needs, under constant h, to reach a > 0.

  Simulated (no closed form is used): ``a_0 = -a_bar(w)``,
  ``a_t = w tanh(a_{t-1}) + h``; the answer is the first t with a_t > 0.
  It is ``inf`` when the neuron never crosses, which is the case exactly when
  h <= h*(w) (a fixed point below 0 stops it), and also when it has not
  crossed within ``max_steps`` (just above h* the passage through the
  vanished fixed point's bottleneck takes ~ pi / sqrt(c (h - h*)) steps).

  Args:
    w, h: broadcastable arrays, finite.
    max_steps: simulation horizon.

  Returns:
    float64 steps (integral values or inf), the broadcast shape.
  """
  w, h = np.broadcast_arrays(_finite("w", w), _finite("h", h))
  if max_steps < 1:
    raise ValueError(f"max_steps must be >= 1, got {max_steps}")
  a = -attractor(w)
  out = np.full(w.shape, np.inf)
  active = np.ones(w.shape, bool)
  for t in range(1, max_steps + 1):
    a = np.where(active, w * np.tanh(a) + h, a)
    crossed = active & (a > 0)
    out[crossed] = t
    active &= ~crossed
    if not active.any():
      break
    if t % 64 == 0:  # drop runs that have settled on a fixed point below 0
      nxt = w * np.tanh(a) + h
      active &= ~((nxt <= a) & (a <= 0))
  return out


def state_jacobian(w, a_path) -> np.ndarray:
  """``|da_t/da_0| = prod_{tau=0}^{t-1} |M'(a_tau)|`` along a trajectory.

  Args:
    w: self-weight (scalar or broadcastable against ``a_path[0]``).
    a_path: states ``a_0 .. a_{T-1}``, time on axis 0.

  Returns:
    ``|da_t/da_0|`` for t = 1..T, the shape of ``a_path``.
  """
  return np.cumprod(np.abs(contraction(w, a_path)), axis=0)


def trajectory(w, inputs, a0=0.0) -> np.ndarray:
  """States ``a_0, a_1, .., a_T`` (float64), time on axis 0 (T + 1 rows)."""
  w, inputs = _finite("w", w), _finite("inputs", inputs)
  a = np.broadcast_to(_finite("a0", a0), inputs.shape[1:]).astype(np.float64)
  path = [a]
  for u in inputs:
    a = w * np.tanh(a) + u
    path.append(a)
  return np.stack(path)


def gradient_contributions(w, inputs, target) -> np.ndarray:
  """``dC/dh_tau`` for ``C = 1/2 (tanh(a_T) - d)^2``, by ``jax.grad``.

  Args:
    w: self-weight (scalar).
    inputs: ``h_1 .. h_T`` of one sequence, shape ``(T,)``, or a batch with
      time on axis 0, ``(T, n)`` (one gradient per sequence).
    target: d (scalar, or ``(n,)`` for a batch).

  Returns:
    float64 array shaped like ``inputs``: entry tau is ``dC/dh_tau``. It
    equals ``(x_T - d)(1 - x_T^2) prod_{k=tau+1..T} M'(a_{k-1})``
    (:func:`gradient_contributions_product`).
  """
  w, inputs = _finite("w", w), _finite("inputs", inputs)
  target = _finite("target", target)
  with jax.enable_x64(True):
    def cost(u):
      a = jnp.zeros(u.shape[1:], jnp.float64)
      a, _ = jax.lax.scan(lambda a, h: (w * jnp.tanh(a) + h, None), a, u)
      return 0.5 * jnp.sum((jnp.tanh(a) - target) ** 2)
    g = jax.grad(cost)(jnp.asarray(inputs, jnp.float64))
    return np.asarray(g, np.float64)


def gradient_contributions_product(w, inputs, target) -> np.ndarray:
  """The product formula for ``dC/dh_tau`` (same arguments as above).

  ``dC/dh_tau = dC/da_T * da_T/da_tau`` with ``dC/da_T = (x_T - d)(1 - x_T^2)``
  and ``da_T/da_tau = prod_{k=tau+1..T} w (1 - tanh^2 a_{k-1})``.
  """
  w, inputs = _finite("w", w), _finite("inputs", inputs)
  path = trajectory(w, inputs)  # a_0 .. a_T
  x_T = np.tanh(path[-1])
  dC_daT = (x_T - target) * (1 - x_T ** 2)
  m = contraction(w, path[1:-1])  # M'(a_tau) for tau = 1 .. T-1
  # da_T/da_tau = prod_{k=tau}^{T-1} M'(a_k): reverse cumulative product.
  tail = np.flip(np.cumprod(np.flip(m, 0), 0), 0)
  da = np.concatenate([tail, np.ones((1,) + inputs.shape[1:])], 0)
  return dC_daT * da


def _recurrent_leaves(cell, p, state, u, context) -> list[bool]:
  """Per leaf of ``state``: does the next step read it? A leaf set to NaN
  that no leaf of the next state sees is not recurrent (the output ``y``
  the Elman and gated cells carry for ``readout``)."""
  leaves, tree = jax.tree_util.tree_flatten(state)
  read = []
  for i in range(len(leaves)):
    probe = [jnp.full_like(x, jnp.nan) if j == i else x
             for j, x in enumerate(leaves)]
    new = cell.step(p, jax.tree_util.tree_unflatten(tree, probe),
                    jnp.int32(0), u, context)
    read.append(any(bool(jnp.any(jnp.isnan(x)))
                    for x in jax.tree_util.tree_leaves(new)))
  return read


def _flattener(s0, keep):
  """``(flat, unflat)``: a state's recurrent leaves (``keep``) as one
  vector, and back, the other leaves taken from ``s0``."""
  leaves, tree = jax.tree_util.tree_flatten(s0)

  def flat(state):
    return jnp.concatenate([x.reshape(-1) for x, k in zip(
        jax.tree_util.tree_leaves(state), keep) if k])

  def unflat(z):
    new, i = [], 0
    for x, k in zip(leaves, keep):
      new.append(z[i:i + x.size].reshape(x.shape) if k else x)
      i += x.size if k else 0
    return jax.tree_util.tree_unflatten(tree, new)
  return flat, unflat


def cell_jacobian_norms(cell, theta, inputs, context=0, *, state0=None,
                        part: str | None = None, norm: str = "spectral"
                        ) -> np.ndarray:
  """``||ds_t/ds_0||`` for t = 1..T along one sequence, for any cell.

  ``s`` is the cell's recurrent state flattened: every leaf of its state
  pytree that the next step reads (the carried readout ``y`` is not read,
  has a zero derivative on every later state, and is left out), or the one
  entry ``part`` of a dict state (the LSTM's cell state ``"c"``: then the
  Jacobian is the block ``dc_t/dc_0``, the other leaves of ``s_0`` held,
  every path through them at later steps counted). The Jacobian of the
  T-step map ``s_0 -> (s_1 .. s_T)`` is taken by ``jax.jacfwd`` through
  ``cells.time_scan`` of ``cell.step`` on a batch of one, in float64.

  Args:
    cell: a cell of ``vanishing.cells``.
    theta: its parameters ``(P,)``.
    inputs: one sequence, ``(T,)``, or ``(T, D)`` for a D-channel cell.
    context: the sequence's side input (its class, for the latch net).
    state0: the initial state (a batch of one); None: the cell's own.
    part: a key of a dict state, or None for the whole recurrent state.
    norm: ``spectral`` (the largest singular value) or ``frobenius``.

  Returns:
    float64 ``(T,)``: entry t-1 is ``||ds_t/ds_0||``.
  """
  if norm not in ("spectral", "frobenius"):
    raise ValueError(f"norm must be spectral or frobenius, got {norm!r}")
  inputs = _finite("inputs", inputs)
  with jax.enable_x64(True):
    p = cell.unpack(jnp.asarray(_finite("theta", theta), jnp.float64))
    u = jnp.asarray(inputs, jnp.float64)[:, None]      # (T, 1) or (T, 1, D)
    ctx = jnp.asarray(context, jnp.int32).reshape(1)
    s0 = (cell.initial_state(1, jnp.float64) if state0 is None else
          jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64),
                                 state0))
    if part is None:
      keep = _recurrent_leaves(cell, p, s0, u[0], ctx)
    else:
      keys = list(s0)
      if part not in keys:
        raise ValueError(f"part must be one of {keys}, got {part!r}")
      keep = [k == part for k in sorted(keys)]  # dict leaves: sorted keys
    flat, unflat = _flattener(s0, keep)

    def path(z0):
      def step(s, t, x):
        s = cell.step(p, s, t, x, ctx)
        return s, flat(s)
      return cells.time_scan(step, unflat(z0), u)[1]

    J = np.asarray(jax.jacfwd(path)(flat(s0)), np.float64)  # (T, m, m)
  return np.linalg.norm(J, 2 if norm == "spectral" else "fro", axis=(1, 2))


def state_size(cell) -> int:
  """Entries of a cell's recurrent state (as in :func:`cell_jacobian_norms`):
  the most Lyapunov exponents it has (:func:`lyapunov_exponents`)."""
  D = getattr(cell, "inputs", 1)
  with jax.ensure_compile_time_eval():
    s0 = cell.initial_state(1, jnp.float32)
    keep = _recurrent_leaves(cell, cell.unpack(jnp.zeros(cell.size)), s0,
                             jnp.zeros((1,) if D == 1 else (1, D)),
                             jnp.zeros(1, jnp.int32))
  leaves = jax.tree_util.tree_leaves(s0)
  return sum(x.size for x, k in zip(leaves, keep) if k)


def lyapunov_exponents(cell, theta, inputs, context=0, *, k: int = 1,
                       state0=None, length=None) -> jax.Array:
  """The leading ``k`` Lyapunov exponents of a cell driven by one sequence.

  With ``s`` the cell's recurrent state (as in :func:`cell_jacobian_norms`)
  and ``J_t = ds_t/ds_{t-1}`` along the sequence, the QR method (Benettin
  et al. 1980; Engelken, Wolf & Abbott 2023, "Lyapunov spectra of chaotic
  recurrent neural networks") carries ``k`` orthonormal directions:
  ``J_t Q_{t-1} = Q_t R_t``, ``Q_0 = I[:, :k]``, and

      lambda_i = (1/T) sum_t log |R_t[i, i]|      (nats per step),

  largest first. Exponents below zero mean perturbations, and so
  gradients, that shrink through time; near zero, neither vanishing nor
  exploding. For the latch neuron on its attractor ``lambda_1 =
  log |M'(a_bar)|``: Section III's ``|M'| < 1`` read as an exponent.

  Unlike the rest of this module it is traceable and vmappable (a
  ``lax.scan`` over time, in ``theta``'s dtype), so a sweep can compute it
  per run beside the run's outcome.

  Args:
    cell: a cell of ``vanishing.cells``.
    theta: its parameters ``(P,)``.
    inputs: one sequence, ``(T,)``, or ``(T, D)`` for a D-channel cell.
    context: the sequence's side input (its class, for the latch net).
    k: how many exponents, 1 .. the size of the recurrent state.
    state0: the initial state (a batch of one); None: the cell's own.
    length: None (every step), or the steps that count, ``1..T`` (may be
      traced): the sums and ``T`` stop there, as for a sequence that ends
      at ``length`` in arrays of ``T`` steps.

  Returns:
    ``(k,)`` exponents, in ``theta``'s dtype.
  """
  theta = jnp.asarray(theta)
  dtype = theta.dtype
  p = cell.unpack(theta)
  u = jnp.asarray(inputs, dtype)[:, None]                 # (T, 1) or (T, 1, D)
  ctx = jnp.asarray(context, jnp.int32).reshape(1)
  s0 = (cell.initial_state(1, dtype) if state0 is None else
        jax.tree_util.tree_map(lambda x: jnp.asarray(x, dtype), state0))
  with jax.ensure_compile_time_eval():  # structure only: concrete zeros
    keep = _recurrent_leaves(cell, cell.unpack(jnp.zeros(cell.size, dtype)),
                             jax.tree_util.tree_map(jnp.zeros_like, s0),
                             jnp.zeros_like(u[0]), jnp.zeros(1, jnp.int32))
  flat, unflat = _flattener(s0, keep)
  m = flat(s0).size
  if not 1 <= k <= m:
    raise ValueError(f"k must be in [1, {m}] (the recurrent state's size), "
                     f"got {k}")

  def step(carry, xs):
    z, q, total = carry
    t, u_t = xs
    f = lambda z: flat(cell.step(p, unflat(z), t, u_t, ctx))
    z_next, jvp = jax.linearize(f, z)
    q, r = jnp.linalg.qr(jax.vmap(jvp, 1, 1)(q))
    log_r = jnp.log(jnp.abs(jnp.diagonal(r)))
    if length is not None:
      log_r = jnp.where(t < length, log_r, 0)
    return (z_next, q, total + log_r), None

  T = u.shape[0]
  q0 = jnp.eye(m, k, dtype=dtype)
  (_, _, total), _ = jax.lax.scan(
      step, (flat(s0), q0, jnp.zeros(k, dtype)),
      (jnp.arange(T, dtype=jnp.int32), u))
  return total / (T if length is None else
                  jnp.asarray(length).astype(dtype))
