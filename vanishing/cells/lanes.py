"""A masked net's forward pass for K parameter vectors at once, on lanes.

Random guessing evaluates K candidate weight vectors of one net on the same
sequences (``vanishing.methods.guessing``); ``cells.forward_many`` runs
them here for a :class:`vanishing.cells.net.Net` and by ``vmap`` of the
generic forward pass for any other cell.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# Scan unroll of the time loop. Unrolling made the 1-unit latch nets 8x
# slower on the CPU (1.6M pairs/s at 1, 0.19M at 4) and did not help the
# parity nets (benchmarks/guessing_speed.py).
UNROLL = 1


def net_forward_many(net, thetas: jax.Array, inputs: jax.Array,
                     lengths: jax.Array, classes: jax.Array,
                     unroll: int | None = None) -> jax.Array:
  """Outputs of K candidate nets at each sequence's end, ``(K, B)``.

  The same function as ``vmap(cells.run)`` over ``thetas (K, P)``, in the
  net's update order (agreeing to float32 rounding;
  tests/methods/test_guessing_method.py): with ``simultaneous`` updates
  every unit at step t sees the states of step t-1; with ``layered`` ones
  the output unit sees the hidden units' states of the same step.

  Written for many candidates at once, over K x B lanes: the hidden units'
  states are one ``(K, H, B)`` array, the output's one ``(K, B)`` array,
  and each step is elementwise (``vmap`` of the generic forward pass, K x
  B tiny matrix products, ran 13-24x slower: ``benchmarks/lanes_speed.py``);
  connections that no entry of the net's masks frees (or fixes to
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
  K, (T, B) = thetas.shape[0], inputs.shape
  dt = inputs.dtype
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
  first = p["c"][:, classes] if net.class_inputs else None  # (K, B)

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
      h_new = jnp.where(live, net.hidden_activation(a), h)
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
  h0 = jnp.full((K, H, B), net.initial, dt) if H else None
  (_, o), _ = jax.lax.scan(body, (h0, jnp.full((K, B), net.initial, dt)),
                           (jnp.arange(T), inputs), unroll=min(unroll, T))
  return o
