"""Real-time recurrent learning, batch mode: the gradient forward in time.

Williams & Zipser (1989). For a cell ``s_t = F(theta, s_{t-1}, t, u_t)``
(``cell.step`` of the protocol, ``vanishing.cells``) the sensitivities
``P_t = d s_t / d theta`` obey

    P_0 = 0,    P_t = (dF/ds) P_{t-1} + (dF/dtheta),

carried with the state through the same length-masked time loop as the
forward pass (``cells.scan.scan``: a sequence's state, and so its
sensitivities, stop changing after its own length). The output's
sensitivity is ``dy/dtheta = (d readout/ds) P`` at each sequence's end (or
at every step, for a task with readout ``every``; per output for a readout
with K outputs), and the gradient of the task's cost ``C(y)`` (the paper's
``1/(2B) sum_b (y_b - d_b)^2``, the adding problem's squared error, the
copying problem's cross-entropy: ``dC/dy`` by ``jax.grad`` of the task's
``loss``, so every task kind) is the chain rule
``dC/dtheta = sum_b dC/dy_b dy_b/dtheta``.

**Generic recursion** (:func:`gradient_generic`, any cell): one
``jax.linearize`` of the step at ``(theta, s_{t-1})`` per time step, its
linear map applied to ``(e_k, P_{t-1} e_k)`` for each of the P unit
directions ``e_k`` (``vmap``): ``O(P x cost of a step)`` per step, the
classical RTRL cost ``O(n^4)`` for a fully recurrent net, against BPTT's
``O(n^2)`` per step and ``O(T)`` memory.

**Local recursion** (:func:`gradient_local`): in a local-feedback net
(``cells.paper.local_feedback_net``: hidden unit i reads only its own past,
``h_t^i = tanh(w_i h_{t-1}^i + v_i u_t + b_i)``, the output is a
feed-forward readout of the hidden states of the same step) each hidden
unit's state depends on its own parameters ``theta_i = (w_i, v_i, b_i)``
(and, on unit 0 of the latch, the class inputs ``c``) only:

    p_t^i = f'(a_t^i) (x_t^i + w_i p_{t-1}^i),
    x_t^i = da_t^i/dtheta_i |explicit = (h_{t-1}^i, u_t, 1, [t=0, class=k]),

and the output's parameters need no sensitivity: with ``y = g(a^o)``,
``a^o = sum_i W_oi h^i + v_o u + b_o``,

    dy/dW_oi = g' h^i,  dy/dv_o = g' u,  dy/db_o = g',
    dy/dtheta_i = g' W_oi p^i,

so a step costs O(weights) (Gori, Bengio & De Mori 1989; Mozer 1989).
:func:`gradient` uses it whenever :func:`is_local` holds for the cell.

**The method** (protocol of ``vanishing.methods.base``): as ``bptt``, one
step is one evaluation, the cost, error and gradient at the current point
(now by RTRL), then one optax update (``vanishing.optimizers.make``).
"""

from __future__ import annotations

import functools
import jax
import jax.numpy as jnp
import numpy as np

from vanishing import optimizers
from vanishing.cells import net as net_lib
from vanishing.cells import scan
from vanishing.methods import base, bptt, influence, loop

RECURSIONS = ("auto", "generic")


def gradient_generic(fit, theta: jax.Array):
  """``(cost, error, dC/dtheta)`` by the generic RTRL recursion (any cell),
  on the forward-mode driver ``influence.gradient``."""
  B = fit.batch.inputs.shape[1]
  eye = jnp.eye(theta.shape[0], dtype=theta.dtype)
  s0 = fit.net.initial_state(B, fit.batch.inputs.dtype)
  # Sensitivities: each state leaf (B, ...) gets the direction axis second,
  # (B, P, ...), so the length mask of ``scan`` (sequence axis first) applies.
  S0 = jax.tree_util.tree_map(
      lambda s: jnp.zeros((B, theta.shape[0]) + s.shape[1:], s.dtype), s0)

  def advance(f, theta, s, S, t, u):
    new, lin = jax.linearize(f, theta, s)
    return new, jax.vmap(lin, in_axes=(0, 1), out_axes=1)(eye, S)

  return influence.gradient(fit, theta, S0, advance, _readout)


def _readout(cell, s, S):
  """``y (B,)`` and ``dy/dtheta (B, P)`` from the state and sensitivities
  (``(B, K)`` and ``(B, K, P)`` for a readout with K outputs)."""
  y, lin = jax.linearize(cell.readout, s)
  return y, jax.vmap(lin, in_axes=1, out_axes=-1)(S)


# ---------------------------------------------------------------------------
# The local-feedback structure.

def is_local(cell) -> bool:
  """Whether ``cell`` is a layered ``Net`` whose masks give diagonal hidden
  recurrence and a feed-forward output (no output self-weight, no weight
  from the output into a hidden unit): :func:`gradient_local` applies."""
  if not isinstance(cell, net_lib.Net) or cell.order != "layered":
    return False
  if cell.n < 2:
    return False
  W = np.asarray(cell.W_free, bool)
  o = cell.output
  hidden = W[np.arange(cell.n) != o]
  rows = np.delete(np.arange(cell.n), o)
  off = hidden.copy()
  off[np.arange(len(rows)), rows] = False
  return not W[o, o] and not off.any()


def _tables(net) -> tuple[np.ndarray, np.ndarray]:
  """Where each sensitivity lands in ``theta`` (``net.size`` where it does
  not: a free slot dropped after the scatter).

  Returns ``(hidden (H, 5), output (n + 2,))``: per hidden unit its
  ``(w_ii, v_i, b_i, c_0, c_1)`` positions; the output unit's
  ``(W_o0..W_o,n-1, v_o, b_o)`` positions.
  """
  P, n = net.size, net.n
  pos, i = {}, 0
  for kind, free in (("W", net.W_free), ("v", net.v_free),
                     ("b", net.b_free)):
    free = np.asarray(free)
    for idx in zip(*np.nonzero(free)):
      pos[(kind,) + tuple(int(j) for j in idx)] = i
      i += 1
  c = (i, i + 1) if net.class_inputs else (P, P)
  o = net.output
  hidden = [j for j in range(n) if j != o]
  H = np.asarray([[pos.get(("W", j, j), P), pos.get(("v", j), P),
                   pos.get(("b", j), P)] + (list(c) if j == 0 else [P, P])
                  for j in hidden])
  out = np.asarray([pos.get(("W", o, j), P) for j in range(n)]
                   + [pos.get(("v", o), P), pos.get(("b", o), P)])
  return H, out


def gradient_local(fit, theta: jax.Array):
  """``(cost, error, dC/dtheta)`` by the O(weights) local-feedback recursion
  (module docstring); ValueError for a cell that is not local."""
  net, b = fit.net, fit.batch
  if not is_local(net):
    raise ValueError(f"{getattr(net, 'name', net)}: not a local-feedback net")
  every = fit.task.readout == "every"
  B = b.inputs.shape[1]
  dtype = b.inputs.dtype
  P, n, o = net.size, net.n, net.output
  hid = np.delete(np.arange(n), o)
  Ht, Ot = _tables(net)
  p = net.unpack(theta)
  w = jnp.diagonal(p["W"])[hid]                                   # (H,)
  W_o = p["W"][o]                                                 # (n,)
  in_hidden = np.arange(n) != o
  first = np.zeros(len(hid), bool)
  first[0] = hid[0] == 0 and net.class_inputs

  def jacobian(x, a, u, S):
    """``dy/dtheta (B, P)`` at states ``x``, pre-activations ``a``, input
    ``u`` and hidden sensitivities ``S (B, H, 5)``."""
    g1 = net.activation_derivatives(a)[0][:, o]                   # (B,)
    hidden = (g1[:, None] * W_o[hid][None, :])[..., None] * S    # (B, H, 5)
    feats = jnp.concatenate([x, u[:, None], jnp.ones((B, 1), dtype)], 1)
    J = jnp.zeros((B, P + 1), dtype)
    J = J.at[:, Ht.reshape(-1)].add(hidden.reshape(B, -1))
    J = J.at[:, Ot].add(g1[:, None] * feats)
    return J[:, :P]

  def step(carry, t, u):
    x, a, u_last, S = carry
    a1 = net_lib.net_step(net, p, x, u, t, b.classes)
    h_prev = x[:, hid]
    fp = net.activation_derivatives(a1)[0][:, hid]                 # (B, H)
    onehot = ((b.classes[:, None] == jnp.arange(2)) & (t == 0)).astype(dtype)
    col = h_prev.shape + (1,)
    X = jnp.concatenate([
        h_prev[..., None], jnp.broadcast_to(u[:, None, None], col),
        jnp.ones(col, dtype),
        jnp.where(first[None, :, None], onehot[:, None, :], 0.0)], -1)
    S = fp[..., None] * (X + w[None, :, None] * S)
    x1 = jnp.where(in_hidden, net_lib.activate(net, a1), x)
    a2 = net_lib.net_step(net, p, x1, u, t, b.classes)
    x2 = jnp.where(in_hidden, x1, net_lib.activate(net, a2))
    a_new = jnp.where(in_hidden, a1, a2)
    out = None
    if every:
      live = t < b.lengths
      out = (jnp.where(live, x2[:, o], 0.0),
             jnp.where(live[:, None], jacobian(x2, a_new, u, S), 0.0))
    return (x2, a_new, u, S), out

  carry0 = (jnp.zeros((B, n), dtype), jnp.zeros((B, n), dtype),
            jnp.zeros((B,), dtype), jnp.zeros((B, len(hid), 5), dtype))
  (x, a, u, S), outs = scan.scan(step, carry0, b.inputs, b.lengths)
  y, dy = outs if every else (x[:, o], jacobian(x, a, u, S))
  return influence.finish(fit, y, dy)


def gradient(fit, theta: jax.Array, recursion: str = "auto"):
  """``(cost, error, dC/dtheta)`` of ``fit`` (a ``problems.Fit``) at
  ``theta`` by RTRL: the local recursion where :func:`is_local` holds and
  ``recursion`` is ``auto``, else the generic one."""
  if recursion not in RECURSIONS:
    raise ValueError(f"rtrl: recursion must be one of {RECURSIONS}, got "
                     f"{recursion!r}")
  if recursion == "auto" and is_local(fit.net):
    return gradient_local(fit, theta)
  return gradient_generic(fit, theta)


# ---------------------------------------------------------------------------
# The comparison protocol (``vanishing.methods.base``).

NAME = "rtrl"
# clip: bptt's gradient-norm clipping (``bptt.clip_gradient``), 0 = off.
DEFAULTS = {"lr": 0.5, "momentum": 0.8, "optimizer": "momentum",
            "recursion": "auto", "clip": 0.0}
STATIC = frozenset({"optimizer", "recursion"})
ALLOWED = {"lr": base.POSITIVE, "momentum": base.MOMENTUM,
           "optimizer": base.Allowed(choices=optimizers.available),
           "recursion": base.one_of(*RECURSIONS), "clip": base.NONNEGATIVE}
# Only the cell's step and readout: any differentiable cell.
REQUIRES = frozenset()


def check(config, numbers) -> None:
  if config["recursion"] not in RECURSIONS:
    raise ValueError(f"rtrl: recursion must be one of {RECURSIONS}, got "
                     f"{config['recursion']!r}")
  bptt.check_clip(NAME, numbers["clip"])


# The state and its update are BPTT's; only the gradient differs.
init = bptt.init


def step(run, state, tracker):
  """One epoch: ``C``, error and ``dC/dtheta`` by RTRL at the current point
  (one evaluation), then BPTT's optimizer step (``bptt.descend``)."""
  del tracker
  return bptt.descend(run, state,
                      *gradient(run.fit, state[0], run.config["recursion"]))


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES,
                     check=check, fresh=True)
solve = functools.partial(loop.solve, METHOD)
