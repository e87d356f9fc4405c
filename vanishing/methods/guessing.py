"""Random weight guessing (Hochreiter, Schmidhuber & Bengio 2001).

The baseline every long-lag benchmark should be run against ("use guessing
as a first test of a benchmark problem's difficulty"):

    REPEAT  draw every free parameter i.i.d. uniform on [low, high]
    UNTIL   the training set is solved by the drawn weights.

A *trial* is one weight draw, evaluated on the whole training set (one
function evaluation in the protocol of ``base``). Candidate j of a search
(j = 0, 1, 2, ... its global index) is

    theta_j = U[low, high]^P  drawn from  fold_in(key, j),

so the stream of candidates depends on the key only. Each ``step`` of the
method protocol (``base``) evaluates ``batch`` = K candidates at a time
(vmapped); the shared loop (``loop.solve``) counts them with
``base.record_many``: as the sequential procedure would, it
stops at the first candidate that solves and never counts past the budget,
so ``evaluations`` = (index of the first solving candidate) + 1, whatever K
(K only sets how much work is done past that candidate and thrown away).

"Solves" is one of three per-sequence criteria (``hp["criterion"]``):

* ``protocol``: the suite's common rule (``base.is_solved``): no training
  sequence misclassified (midpoint of the two targets) and cost below
  ``budget.target_cost``;
* ``tolerance``: HS2001's rule for parity: every training output ends
  within ``tolerance`` of its target, ``|y_b - d_b| < tolerance``;
* ``midpoint``: every training sequence on its target's side of the
  midpoint, with no cost condition ("classified correctly").

The unit update order is the net's own (``cells.Net.order``; see
:func:`outputs`).

Stopping as *stuck* (``budget.patience``) does not apply: independent draws
have no trajectory to stall, so only a solution or the budget stops a search.
The starting point ``theta0`` of the common signature is ignored.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vanishing import cells, tasks
from vanishing.methods import base, loop

NAME = "guessing"
# HS2001 draw every weight from [-100, 100]. batch: candidates evaluated
# together; on the 2-core CPU 32 candidates x 100 sequences of length 600
# fill the vector units (benchmarks/guessing_speed.py); it never changes a
# result.
DEFAULTS = {"low": -100.0, "high": 100.0, "batch": 32,
            "criterion": "protocol", "tolerance": 0.1}
CRITERIA = ("protocol", "tolerance", "midpoint")
STATIC = frozenset({"batch", "criterion"})
# ``outputs`` reads the masks, order and output function of a ``cells.Net``.
REQUIRES = frozenset({"linear"})
# For a solved search, the solving candidate (not the lowest cost seen).
REPORTS = "solution"
# Scan unroll of the time loop. Unrolling made the 1-unit latch nets 8x
# slower on the CPU (1.6M pairs/s at 1, 0.19M at 4) and did not help the
# parity nets (benchmarks/guessing_speed.py).
UNROLL = 1


def candidates(key: jax.Array, start: jax.Array | int, count: int, size: int,
               low: float, high: float) -> jax.Array:
  """Candidates ``start .. start + count - 1`` of the stream, ``(count, size)``.

  Candidate j is ``uniform(fold_in(key, j), (size,), low, high)``.
  """
  idx = jnp.asarray(start, jnp.int32) + jnp.arange(count, dtype=jnp.int32)
  draw = lambda j: jax.random.uniform(jax.random.fold_in(key, j), (size,),
                                      jnp.float32, low, high)
  return jax.vmap(draw)(idx)


def outputs(net: cells.Net, thetas: jax.Array, batch: tasks.SequenceBatch,
            unroll: int | None = None
            ) -> jax.Array:
  """Outputs of K candidate nets at each sequence's end, ``(K, B)``.

  The same function as ``vmap(cells.run)`` over ``thetas (K, P)``, in the
  net's update order (agreeing to float32 rounding;
  tests/methods/test_guessing_method.py): with ``simultaneous`` updates
  every unit at step t sees the states of step t-1; with ``layered`` ones
  the output unit sees the hidden units' states of the same step.

  Written for many candidates at once, over K x B lanes: the hidden units'
  states are one ``(K, H, B)`` array, the output's one ``(K, B)`` array,
  and each step is elementwise (instead of K x B tiny matrix products, 6x
  slower); connections that no entry of the net's masks frees (or fixes to
  a non-zero value) are skipped: A2's hidden units cost one self-weight and
  one output weight each, not a dense 11 x 11 block.
  """
  layered = net.order == "layered"
  unroll = UNROLL if unroll is None else unroll
  out, n = net.output, net.n
  hid = np.asarray([i for i in range(n) if i != out], int)
  H = len(hid)
  Wf = np.asarray(net.W_free)
  v_used = np.asarray(net.v_free) | (np.asarray(net.v_fixed) != 0)
  b_used = np.asarray(net.b_free)
  p = jax.vmap(net.unpack)(thetas)
  W, v, b = p["W"], p["v"], p["b"]
  K, (T, B) = thetas.shape[0], batch.inputs.shape
  dt = batch.inputs.dtype
  # Coefficients broadcast over sequences: (K,) -> (K, 1), (K, H) ->
  # (K, H, 1); entries no mask uses are 0 in ``unpack``'s arrays.
  some = lambda used, a: a[..., None] if np.any(used) else None
  if H:
    block = Wf[np.ix_(hid, hid)]
    off = block & ~np.eye(H, dtype=bool)
    w_self = some(np.diag(block), W[:, hid, hid])              # (K, H, 1)
    w_off = (W[:, hid][:, :, hid][..., None] * off[:, :, None]
             if off.any() else None)                           # (K, H, H, 1)
    w_ho = some(Wf[hid, out], W[:, hid, out])
    v_h, b_h = some(v_used[hid], v[:, hid]), some(b_used[hid], b[:, hid])
    w_oh = some(Wf[out, hid], W[:, out, hid])
  w_oo = some(Wf[out, out], W[:, out, out])                    # (K, 1)
  v_o, b_o = some(v_used[out], v[:, out]), some(b_used[out], b[:, out])
  # The latch's per-class first input, added to unit 0 at t = 0.
  first = p["c"][:, batch.classes] if net.class_inputs else None  # (K, B)
  lengths = batch.lengths

  def affine(terms, shape):
    a = jnp.zeros(shape, dt)
    for coef, x in terms:
      if coef is not None:
        a = a + (coef if x is None else coef * x)
    return a

  def body(carry, xs):
    h, o = carry
    t, u = xs
    live = t < lengths
    start = (None if first is None
             else lambda a: a + jnp.where(t == 0, first, 0.0))
    if H:
      a = affine([(b_h, None), (v_h, u), (w_self, h), (w_ho, o[:, None])],
                 (K, H, B))
      if w_off is not None:
        for j in range(H):
          a = a + w_off[:, :, j] * h[:, None, j]
      if start is not None and out != 0:
        a = a.at[:, 0].set(start(a[:, 0]))
      h_new = jnp.where(live, jnp.tanh(a), h)
      # Computed once, not re-fused into the output's sum (A2 ran 1.1-1.3x
      # faster with the barrier).
      h_new = jax.lax.optimization_barrier(h_new)
      src = h_new if layered else h
    else:
      h_new = h
    a = affine([(b_o, None), (v_o, u), (w_oo, o)], (K, B))
    if H and w_oh is not None:
      # An explicit sum over the hidden units: XLA's CPU reduction of this
      # shape ran 15x slower under the sweep's vmap (a size-1 batch axis).
      for j in range(H):
        a = a + w_oh[:, j] * src[:, j]
    if start is not None and out == 0:
      a = start(a)
    y = net.output_activation(a)
    return (h_new, jnp.where(live, y, o)), None

  # A net without hidden units carries no hidden array at all.
  h0 = jnp.zeros((K, H, B), dt) if H else None
  (_, o), _ = jax.lax.scan(body, (h0, jnp.zeros((K, B), dt)),
                           (jnp.arange(T), batch.inputs), unroll=min(unroll, T))
  return o


def failures(y: jax.Array, targets: jax.Array, criterion: str,
             tolerance: float) -> jax.Array:
  """Per-sequence failures ``(..., B)`` of outputs ``y`` under ``criterion``.

  ``tolerance``: ``|y - d| >= tolerance``; ``midpoint`` and ``protocol``:
  on the wrong side of the midpoint of the two targets (as
  ``problems.Fit.misclassified``).
  """
  if criterion == "tolerance":
    return ~(jnp.abs(y - targets) < tolerance)
  if criterion in ("midpoint", "protocol"):
    mid = 0.5 * (jnp.max(targets) + jnp.min(targets))
    return (y > mid) != (targets > mid)
  raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


def check(config, numbers) -> None:
  """Static choices, and the numbers where they are Python numbers."""
  crit, K = config["criterion"], config["batch"]
  low, high, tol = numbers["low"], numbers["high"], numbers["tolerance"]
  if crit not in CRITERIA:
    raise ValueError(f"{NAME}: criterion must be one of {CRITERIA}, got {crit!r}")
  if base.concrete(low) and base.concrete(high) and not low < high:
    raise ValueError(f"{NAME}: needs low < high, got {low}, {high}")
  if K < 1:
    raise ValueError(f"{NAME}: batch must be >= 1, got {K}")
  if crit == "tolerance" and base.concrete(tol) and not tol > 0:
    raise ValueError(f"{NAME}: tolerance must be > 0, got {tol}")


def adjust_budget(budget: base.Budget, config) -> base.Budget:
  """No stall rule (independent draws have no trajectory to stall); only
  the ``protocol`` criterion has a cost condition."""
  b = budget._replace(patience=budget.evaluations + 1)
  if config["criterion"] != "protocol":
    b = b._replace(target_cost=float("inf"))
  return b


def init(run):
  """No state but the candidate stream's key (in ``run``); nothing counted."""
  return (), ()


def step(run, state, tracker: base.Tracker):
  """The next ``batch`` candidates of the stream, evaluated together."""
  hp, net, batch = run.numbers, run.fit.net, run.fit.batch
  thetas = candidates(run.key, tracker.evaluations, run.config["batch"],
                      net.size, hp["low"], hp["high"])
  y = outputs(net, thetas, batch)
  d = batch.targets
  costs = 0.5 * jnp.mean((y - d) ** 2, axis=-1)
  errors = jnp.mean(failures(y, d, run.config["criterion"], hp["tolerance"]),
                    axis=-1)
  return state, base.many(thetas, costs, errors)


def search(key: jax.Array, net: cells.Net, batch: tasks.SequenceBatch,
           budget: base.Budget, hp=None) -> base.Result:
  """Random weight guessing on one training set; see the module docstring.

  Args:
    key: the stream of candidates (candidate j from ``fold_in(key, j)``).
    net: the architecture; all ``net.size`` free parameters are drawn.
    batch: the training set.
    budget: ``evaluations`` caps the trials; ``target_cost`` is used by the
      ``protocol`` criterion only; ``patience`` is not applied.
    hp: overrides of ``DEFAULTS``.

  Returns:
    A ``base.Result``: ``evaluations`` is the number of trials (index of the
    solving candidate + 1, or the budget); for a solved search ``theta`` is
    the solving candidate, otherwise the lowest-cost candidate seen; ``error``
    is the fraction of training sequences failing the criterion (for
    ``protocol``: misclassified); ``stuck`` is always False.
  """
  from vanishing import problems
  return solve(key, problems.Fit(net, batch),
               jnp.zeros((net.size,), jnp.float32), budget, hp)


# The common signature; ``theta0`` only fills the best point until a
# candidate is counted (every candidate is a fresh draw of all parameters).
solve = loop.solver(__name__)
