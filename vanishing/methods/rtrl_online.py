"""Real-time recurrent learning, online: the weights move during the pass.

Williams & Zipser (1989), the real-time mode. The training set is presented
sequence after sequence; each sequence starts from ``s_0 = 0`` with
sensitivities ``P_0 = 0``, which are carried forward with the state by the
RTRL recursion (``vanishing.methods.rtrl``), and the weights are updated
wherever the task has a target. For the end-of-sequence tasks here that is
each sequence's last step, by plain SGD on that sequence's share of the
cost ``C = 1/(2B) sum_b (y_b - d_b)^2``:

    theta <- theta - lr * (1/B) (y_b - d_b) dy_b/dtheta

(any end-of-sequence cost that is a mean over sequences -- the adding
problem's squared error too -- is updated by ``1/B`` of one sequence's
cost gradient, ``rtrl.gradient`` on that sequence alone), so a pass at small ``lr`` moves like one batch gradient step of size
``lr`` and the rate is on bptt's scale. Because the weights change only at
sequence ends, the sensitivities of each sequence are carried under the
weights in force during it, and a pass is exactly per-sequence SGD with
each step's gradient at the current weights (``tests/methods/test_rtrl.py``
checks this against ``jax.grad``). Tasks with a target at every step
(readout ``every``) would need updates within a sequence under changing
weights: refused (``READOUTS``).

**Order.** ``order="shuffled"`` (default): pass k presents the sequences in
the permutation drawn from ``fold_in(run.key, tracker.evaluations)`` (the
training set lists class 0 first, so a fixed order would end every pass on
one class); ``"fixed"``: in the training set's order.

**Counting.** One step of the method is one pass (B presentations: one
function evaluation in the paper's unit). The point counted is the one left
after the pass, with its cost and error by ``fit.evaluate``: that forward
pass is bookkeeping the protocol needs (the online updates see each
sequence's cost at a different point, never the cost of one point), not
part of the algorithm. A pass whose updates are not finite is counted as
not finite, which marks the run diverged.
"""

from __future__ import annotations

import functools
import jax
import jax.numpy as jnp

from vanishing import problems, tasks
from vanishing.methods import base, loop, rtrl

ORDERS = ("shuffled", "fixed")


def _one_sequence(fit, b: jax.Array) -> problems.Fit:
  """The fit restricted to sequence ``b`` (a traced index)."""
  batch = fit.batch
  take = lambda x, axis: jax.lax.dynamic_slice_in_dim(x, b, 1, axis)
  return problems.Fit(fit.net, tasks.SequenceBatch(
      take(batch.inputs, 1), take(batch.targets, 0), take(batch.lengths, 0),
      take(batch.classes, 0)), fit.task)


def online_pass(fit, theta: jax.Array, lr, order: jax.Array,
                recursion: str = "auto") -> tuple[jax.Array, jax.Array]:
  """One presentation of every sequence of ``fit`` in ``order`` (``(B,)``
  indices), updating ``theta`` at each sequence's end by
  ``theta -= lr * (1/B) (y_b - d_b) dy_b/dtheta`` (the sensitivities by
  :func:`vanishing.methods.rtrl.gradient`); ``(theta after the pass, every
  update finite)``."""
  if fit.task.readout != "end":
    raise ValueError(f"rtrl_online: task {fit.task.name!r} has readout "
                     f"{fit.task.readout!r}; only 'end' is supported")
  B = fit.size

  def present(carry, b):
    th, ok = carry
    # One sequence's cost is (1/2)(y_b - d_b)^2, so its gradient over B
    # is that of its share of C.
    _, _, g = rtrl.gradient(_one_sequence(fit, b), th, recursion)
    new = th - lr * g / B
    return (new, ok & jnp.all(jnp.isfinite(new))), None

  (theta, ok), _ = jax.lax.scan(present, (theta, jnp.asarray(True)), order)
  return theta, ok


# ---------------------------------------------------------------------------
# The comparison protocol (``vanishing.methods.base``).

NAME = "rtrl_online"
# lr on bptt's scale (the update is divided by B). Measured on 8 trials
# each (shuffled order, 150-200 passes): latch T=10 (10 per class) solved
# 3/4/4/4/4/6/7 of 8 at lr 0.5/1/2/4/8/16/32; 2-sequence T=10 6/8/7/6/5/1/0;
# 2-sequence T=6 (4 per class) 6/7/4/0 at lr 2/4/8/32; latch_local T=6 4/3/0/0;
# latch T=6 6/7/8/7; parity T=6 none at any lr in 1..32. lr 2 is never far
# from the best and does not fail where large rates do.
DEFAULTS = {"lr": 2.0, "order": "shuffled", "recursion": "auto"}
STATIC = frozenset({"order", "recursion"})
ALLOWED = {"lr": base.POSITIVE, "order": base.one_of(*ORDERS),
           "recursion": base.one_of(*rtrl.RECURSIONS)}
REQUIRES = frozenset()
READOUTS = ("end",)
# One trial per lane. Vmapped over lanes, XLA's CPU code for the
# sequence-by-sequence updates moved a weight by 1 ulp with a trial's lane
# (gone with --xla_cpu_max_isa=SSE4_2: a vectorization choice), so with
# refilled lanes the numbers changed with the chunk size. Alone in its lane
# a trial runs the same code whatever the layout (docs/rtrl.md).
LANES = 1


def check(config, numbers) -> None:
  if config["order"] not in ORDERS:
    raise ValueError(f"rtrl_online: order must be one of {ORDERS}, got "
                     f"{config['order']!r}")
  if config["recursion"] not in rtrl.RECURSIONS:
    raise ValueError(f"rtrl_online: recursion must be one of "
                     f"{rtrl.RECURSIONS}, got {config['recursion']!r}")


def init(run):
  """The state is ``theta``; nothing counted before the first pass."""
  return run.theta0, ()


def step(run, theta, tracker):
  """One pass over the training set (module docstring), then the
  bookkeeping evaluation of the point it leaves."""
  B = run.fit.size
  if run.config["order"] == "shuffled":
    order = jax.random.permutation(
        jax.random.fold_in(run.key, tracker.evaluations), B)
  else:
    order = jnp.arange(B)
  new, ok = online_pass(run.fit, theta, run.numbers["lr"], order,
                        run.config["recursion"])
  e = run.fit.evaluate(new)
  return new, base.one(new, e.cost, e.error, ok, ok)


METHOD = base.Method(NAME, init, step, DEFAULTS, ALLOWED, STATIC, REQUIRES,
                     readouts=READOUTS, lanes=LANES, check=check,
                     fresh=True)
solve = functools.partial(loop.solve, METHOD)
