"""The nets of the papers, as :class:`vanishing.cells.net.Net` masks.

Bengio, Simard & Frasconi (1994), Section VI: the 3-parameter latch, the
5-unit 2-sequence net, the 2-unit parity net. Hochreiter, Schmidhuber &
Bengio (2001), the random-guessing study: A1, A2 and latch variant II
(every free input weight, fixed input weights 0, layered updates, a
logistic output on parity). The local-feedback net of Gori, Bengio & De Mori
(1989) and Mozer (1989): hidden units with self-loops only.
"""

from __future__ import annotations

import numpy as np

from vanishing.cells.net import Net


def full_net(n: int, *, input_unit: int = 0, output: int | None = None,
             biases: bool = False, name: str = "full") -> Net:
  """All n x n recurrent weights free; the input is added to one unit with
  fixed weight 1; optional free biases (the paper's 2-sequence net:
  n = 5, no biases, 25 free weights)."""
  v_fixed = tuple(1.0 if i == input_unit else 0.0 for i in range(n))
  return Net(n, tuple((True,) * n for _ in range(n)), (False,) * n, v_fixed,
             (biases,) * n, n - 1 if output is None else output, name=name)


def latch_net() -> Net:
  """The 3-parameter latch of Section VI: one tanh unit, free self-weight w,
  input weight fixed at 1, and a trainable first input per class."""
  return Net(1, ((True,),), (False,), (1.0,), (False,), 0, class_inputs=True,
             name="latch")


def two_sequence_net(n: int = 5) -> Net:
  """The 2-sequence net: n fully connected tanh units, no biases, the input
  added to unit 0, the output read at unit n-1 (25 parameters at n = 5)."""
  return full_net(n, name="two_sequence")


def parity_net(output_fn: str = "tanh", order: str = "layered",
               hidden_fn: str = "tanh", name: str = "parity",
               initial: float = 0.0) -> Net:
  """The parity net: hidden unit 0 and output unit 1, each seeing the input,
  the hidden and the output unit, plus a hidden bias (7 parameters).
  Layered by default: the output reads the hidden unit's state of the same
  step (the order the paper leaves open; simultaneous updates cannot
  represent parity with two units)."""
  return Net(2, ((True, True), (True, True)), (True, True), (0.0, 0.0),
             (True, False), 1, output_fn=output_fn, name=name, order=order,
             hidden_fn=hidden_fn, initial=initial)


def parity_sign_net() -> Net:
  """The parity net as a threshold network, the forward pass the paper's
  discrete error propagation trains (its units are ``y = sign(x)``): both
  units sign units, states +-1 starting at -1 ("even"), the same 7
  parameters. It computes parity of 0/1 bits with a margin (e.g. hidden
  ``(v, w_hh, w_ho, b) = (-3, 0, -3, -2)``, output ``(v, w_oh, w_oo) =
  (-3, -3, -2)``: tested); with +-1 bits no weights do without an output
  bias (docs/compare.md)."""
  return parity_net("sign", hidden_fn="sign", name="parity_sign",
                    initial=-1.0)


def _layered_net(n: int, W_free, v_free, b_free, output: int, output_fn: str,
                 name: str, hidden_fn: str = "tanh") -> Net:
  """HS2001's form: the given masks, fixed input weights 0, layered."""
  return Net(n, tuple(tuple(bool(x) for x in r) for r in W_free),
             tuple(bool(x) for x in v_free), (0.0,) * n,
             tuple(bool(x) for x in b_free), output, output_fn=output_fn,
             name=name, order="layered", hidden_fn=hidden_fn)


def parity_a1(n_hidden: int = 1, hidden_fn: str = "tanh") -> Net:
  """HS2001's A1: units 0..n-1 hidden (``hidden_fn``: tanh by default; the
  NIPS 1996 paper's units are all logistic), unit n the logistic
  output; every unit sees the input and every unit; hidden units biased
  (``(n+1)^2 + (n+1) + n`` parameters: 7 at n = 1)."""
  n = n_hidden + 1
  return _layered_net(n, np.ones((n, n)), np.ones(n), np.arange(n) < n_hidden,
              n_hidden, "logistic", f"parity_a1_n{n_hidden}", hidden_fn)


def parity_a2(n_hidden: int = 10, self_loops: bool = True,
              output_self: bool = True, hidden_fn: str = "tanh") -> Net:
  """HS2001's A2: each hidden unit sees the input, the output and (with
  ``self_loops``) itself; the output unit sees the input, every hidden unit
  and (with ``output_self``) itself; all biased (53 parameters at n = 10,
  43 without self-loops, one fewer each without the output's self-weight).

  HS2001 (node2.html): "each hidden unit sees the input unit, the output
  unit, and itself; the output unit sees all other units; all units are
  biased"; read literally, the output has no self-connection
  (``output_self=False``). Hidden units ``hidden_fn`` (tanh by default).
  """
  n, out = n_hidden + 1, n_hidden
  W = np.zeros((n, n), bool)
  W[:n_hidden, out] = True
  if self_loops:
    W[np.arange(n_hidden), np.arange(n_hidden)] = True
  W[out, :] = True
  W[out, out] = output_self
  return _layered_net(n, W, np.ones(n), np.ones(n), out, "logistic",
              "parity_a2" if self_loops else "parity_a2_noself", hidden_fn)


def latch2_net() -> Net:
  """Latch variant II: one tanh unit with free self, input and bias
  weights (3 parameters)."""
  return _layered_net(1, [[True]], [True], [True], 0, "tanh", "latch2")


def local_feedback_net(n_hidden: int = 4, output_fn: str = "tanh",
                       class_inputs: bool = False,
                       name: str = "local_feedback") -> Net:
  """A local-feedback net (Gori, Bengio & De Mori 1989; Mozer 1989).

  Units 0..H-1 are hidden tanh units with diagonal recurrence only, unit H
  the output, updated layered (it reads the hidden states of the same step):

      h_t^i = tanh(w_i h_{t-1}^i + v_i u_t + b_i  (+ c[class] at t = 0, i = 0))
      o_t   = g(sum_i W_oi h_t^i + b_o),

  with every w_i, v_i, b_i, W_oi, b_o free and nothing else (no
  hidden-to-hidden, output-to-hidden or output self weight, no input to the
  output): ``4H + 1`` parameters, plus 2 with ``class_inputs`` (the latch's
  trainable first input per class, on unit 0). Each hidden unit's state
  depends on its own three parameters only, so forward sensitivities cost
  O(weights) a step (``vanishing.methods.rtrl.gradient_local``).
  """
  if n_hidden < 1:
    raise ValueError(f"n_hidden must be >= 1, got {n_hidden}")
  n, out = n_hidden + 1, n_hidden
  W = np.zeros((n, n), bool)
  W[np.arange(n_hidden), np.arange(n_hidden)] = True
  W[out, :n_hidden] = True
  return Net(n, tuple(tuple(bool(x) for x in r) for r in W),
             tuple(i < n_hidden for i in range(n)), (0.0,) * n,
             (True,) * n, out, output_fn=output_fn,
             class_inputs=class_inputs, name=name, order="layered")
