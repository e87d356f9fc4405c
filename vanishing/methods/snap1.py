"""SnAp-1: RTRL's influence matrix kept on its one-step sparsity pattern.

Menick, Elsen, Evci, Osindero, Simonyan & Graves (2021), "Practical Real
Time Recurrent Learning with a Sparse Approximation", ICLR, Section 3.
RTRL (``vanishing.methods.rtrl``) carries the influence matrix
``J_t = d s_t / d theta`` (S x P) by

    J_t = I_t + D_t J_{t-1},   I_t = dF/dtheta,   D_t = dF/ds

at ``(theta, s_{t-1}, t, u_t)``. SnAp-n keeps only the entries of ``J``
that are non-zero after n steps of the recurrent core, a fixed mask
``M_n``, and propagates

    J~_t = (I_t + D_t J~_{t-1}) (.) M_n.

SnAp-1's mask ``M_1`` is the pattern of the immediate Jacobian ``I_t``:
``d s_i / d theta_j`` is kept where ``theta_j`` affects ``s_i`` within one
step. In a net where each parameter feeds one unit (a fully recurrent
net's ``W_ij, v_i, b_i``) a column holds one entry and the update is
``J~_t[i, j] = I_t[i, j] + (D_t)_ii J~_{t-1}[i, j]``: the diagonal of
``D_t``. Where a parameter reaches several state entries in one step (a
layered net's output reading the hidden units of the same step; an LSTM's
``h`` and ``c``) the product ``D_t J~`` uses the entries of ``D_t`` between
them, restricted to the mask.

**Exact on diagonal recurrences.** If ``D_t`` maps the pattern of every
column into itself (hidden unit i reads only its own past, as in the
local-feedback net ``cells.paper.local_feedback_net`` or a diagonal linear
recurrence), the exact ``J_t`` never leaves ``M_1`` and the mask drops
nothing: SnAp-1 is RTRL (``tests/methods/test_snap1.py`` checks it to
float64 rounding). On a fully recurrent net it is an approximation
(tested to correlate with the exact gradient).

**Storage.** ``M_1`` is found once per cell (:func:`pattern`: the union
of the non-zeros of ``I_t`` at random points, t = 0 and 1, both
classes) and ``J~`` is stored as ``(B, P, k)``, the values of each
column on its at most k rows: ``O(P)`` numbers per sequence, as BPTT's
gradient (``O(n^2)`` for n units), against RTRL's ``O(n P)``. ``I_t`` on
the mask comes from one per-sequence reverse-mode product per *row
colour* (rows sharing no parameter share a product: one colour for a
simultaneous fully recurrent net). ``D_t`` is formed by S forward-mode
products per step, ``O(S x cost of a step)``: ``O(n^3)`` time per step on
a fully recurrent net where the paper's hand-written diagonal costs
``O(n^2)`` (the cell protocol exposes ``F`` only; measured in the ``rtrl``
experiment's cost table).

**The method** (``influence.method``): as ``rtrl``, batch mode: one step
is one evaluation, cost, error and the SnAp-1 gradient at the current
point, then BPTT's optimizer step. It reads only the cell's step and
readout (the mask is read off the step), so it ``requires`` nothing.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from vanishing.methods import influence, loop


@functools.lru_cache(maxsize=None)
def _pattern(cell, state_shapes: tuple, u_shape: tuple) -> np.ndarray:
  """``M_1 (S, P)``: where ``I_t = dF/dtheta`` is non-zero (module
  docstring), from Jacobians at random points, t = 0 and 1, both classes."""
  rng = np.random.default_rng(0)
  P = cell.size
  found = None
  with jax.ensure_compile_time_eval():
    like = [jnp.zeros((1,) + s, jnp.float32) for s in state_shapes]
    like = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(cell.initial_state(1, jnp.float32)),
        like)
    S = sum(int(np.prod(s)) for s in state_shapes)
    for t in (0, 1):
      f = influence.per_sequence(cell, like, jnp.asarray(t))
      for c in (0, 1, 0):
        theta = jnp.asarray(rng.uniform(-1, 1, P), jnp.float32)
        s = jnp.asarray(rng.uniform(-0.9, 0.9, S), jnp.float32)
        u = jnp.asarray(rng.uniform(-1, 1, u_shape), jnp.float32)
        I = np.asarray(jax.jacfwd(f)(theta, s, u, jnp.asarray(c)))
        nz = I != 0
        found = nz if found is None else found | nz
  return found


def pattern(cell, state, u: jax.Array) -> np.ndarray:
  """SnAp-1's mask ``M_1 (S, P)`` of ``cell`` for a batch ``state`` and a
  step's inputs ``u (B, ...)`` (cached per cell and shape)."""
  shapes = tuple(tuple(x.shape[1:]) for x in jax.tree_util.tree_leaves(state))
  return _pattern(cell, shapes, tuple(u.shape[1:]))


def _colours(mask: np.ndarray) -> np.ndarray:
  """A colour per row of ``mask (S, P)`` such that rows of one colour share
  no column (greedy, in row order)."""
  colour = np.zeros(mask.shape[0], int)
  used: list[np.ndarray] = []
  for i, row in enumerate(mask):
    for c, cols in enumerate(used):
      if not (cols & row).any():
        colour[i], used[c] = c, cols | row
        break
    else:
      colour[i] = len(used)
      used.append(row.copy())
  return colour


def _tables(mask: np.ndarray):
  """``(rows (P, k), colour (S + 1,))``: each column's rows (padded with
  S, a row of zeros) and each row's colour (the padding row: colour 0,
  read as zero through ``rows``)."""
  S, P = mask.shape
  k = max(1, int(mask.sum(0).max()))
  rows = np.full((P, k), S)
  for j in range(P):
    r = np.nonzero(mask[:, j])[0]
    rows[j, :len(r)] = r
  return rows, np.append(_colours(mask), 0)


def gradient(fit, theta: jax.Array):
  """``(cost, error, dC/dtheta)`` of ``fit`` at ``theta`` by SnAp-1."""
  cell, b = fit.net, fit.batch
  B, P = b.inputs.shape[1], theta.shape[0]
  s0 = cell.initial_state(B, b.inputs.dtype)
  mask = pattern(cell, s0, b.inputs[0])
  S = mask.shape[0]
  rows, colour = _tables(mask)
  colours = int(colour.max()) + 1
  valid = jnp.asarray(rows < S, theta.dtype)                      # (P, k)
  # Cotangents selecting each colour's rows, (colours, S).
  pick = jnp.asarray(colour[None, :S] == np.arange(colours)[:, None],
                     theta.dtype)
  pad = lambda x: jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, 1)])
  context = b.classes

  def advance(_, theta, s, J, t, u):
    f = influence.per_sequence(cell, s, t)

    def one(s_b, u_b, c_b):
      new, vjp = jax.vjp(lambda th: f(th, s_b, u_b, c_b), theta)
      I = jax.vmap(lambda c: vjp(c)[0])(pick)                     # (C, P)
      D = jax.jacfwd(lambda x: f(theta, x, u_b, c_b))(s_b)        # (S, S)
      return new, I, D

    new, I, D = jax.vmap(one)(influence.flat(s), u, context)
    D = pad(jnp.pad(D, [(0, 0), (0, 1), (0, 0)]))              # (B, S+1, S+1)
    Dn = D[:, rows[:, :, None], rows[:, None, :]]                 # (B, P, k, k)
    # I_t on the mask: column j's entry at row r is colour(r)'s product.
    In = I[:, colour[rows], np.arange(P)[:, None]] * valid        # (B, P, k)
    J = jnp.einsum("bpak,bpk->bpa", Dn, J) + In
    return influence.unflat(s, new), J

  def sense(cell, s, J):
    y, lin = jax.linearize(cell.readout, s)
    R = jax.vmap(lambda e: lin(influence.unflat(s, e)), out_axes=-1)(
        jnp.broadcast_to(jnp.eye(S, dtype=theta.dtype)[:, None],
                         (S, B, S)))                       # y.shape + (S,)
    Rn = pad(R)[..., rows]                                         # (..., P, k)
    J = J.reshape(J.shape[:1] + (1,) * (Rn.ndim - 3) + J.shape[1:])
    return y, jnp.sum(Rn * J, -1)

  J0 = jnp.zeros((B, P, rows.shape[1]), theta.dtype)
  return influence.gradient(fit, theta, J0, advance, sense)


# ---------------------------------------------------------------------------
# The comparison protocol (``vanishing.methods.base``): ``influence.method``.

NAME = "snap1"
METHOD = influence.method(NAME, lambda run, theta, tracker: gradient(
    run.fit, theta))
solve = functools.partial(loop.solve, METHOD)
