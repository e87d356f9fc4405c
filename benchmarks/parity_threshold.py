"""Which codings let the paper's 7-weight parity net of threshold units
compute parity (docs/compare.md, "Discrete error propagation at the paper's
parity setting").

Enumerates every integer weight vector in [-R, R]^7 of the layered net

    h_t = sign(v_h u_t + w_hh h_{t-1} + w_ho o_{t-1} + b_h)
    o_t = sign(v_o u_t + w_oh h_t     + w_oo o_{t-1})        (no output bias)

(sign(a) = +1 for a >= 0, else -1) and checks it on every bit sequence of
length 1..L: the output after the last bit must be +1 for an odd number of
ones, -1 for an even number. A solution *with a margin* never has a net
input of exactly 0, so small input noise cannot flip a decision.

    python benchmarks/parity_threshold.py [--R 3] [--L 6]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np


def count(bits: tuple[float, float], h0: float, o0: float, R: int = 3,
          L: int = 6) -> tuple[int, int]:
  """``(solutions, solutions with a margin)`` for bits coded ``bits`` (the
  values of 0 and 1) and initial states ``h0, o0``."""
  r = np.arange(-R, R + 1, dtype=np.float64)
  W = np.stack(np.meshgrid(*[r] * 7, indexing="ij"), -1).reshape(-1, 7)
  vh, whh, who, bh, vo, woh, woo = W.T
  sign = lambda a: np.where(a >= 0, 1.0, -1.0)
  ok = np.ones(len(W), bool)
  margin = np.full(len(W), np.inf)
  for n in range(1, L + 1):
    for seq in itertools.product((0, 1), repeat=n):
      h = np.full(len(W), h0)
      o = np.full(len(W), o0)
      for b in seq:
        u = bits[b]
        a = vh * u + whh * h + who * o + bh
        margin = np.minimum(margin, np.abs(a))
        h = sign(a)
        a = vo * u + woh * h + woo * o
        margin = np.minimum(margin, np.abs(a))
        o = sign(a)
      ok &= o == (1.0 if sum(seq) % 2 else -1.0)
  return int(ok.sum()), int((ok & (margin > 0)).sum())


def main() -> None:
  ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  ap.add_argument("--R", type=int, default=3)
  ap.add_argument("--L", type=int, default=6)
  args = ap.parse_args()
  print("bits  h0  o0  solutions  with a margin")
  for name, bits in (("0/1", (0.0, 1.0)), ("+-1", (-1.0, 1.0))):
    for h0, o0 in ((0, 0), (-1, -1), (1, -1), (-1, 1), (1, 1)):
      n, m = count(bits, h0, o0, args.R, args.L)
      print(f"{name:4s} {h0:3d} {o0:3d} {n:10d} {m:14d}")


if __name__ == "__main__":
  main()
