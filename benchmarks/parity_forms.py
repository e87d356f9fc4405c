"""Which form of the 7-parameter parity net can represent parity at all.

Random weight guessing (``vanishing.methods.guessing``, weights U[-100, 100])
on four parity training sets (25 sequences per class, lengths 10..20,
uniform input noise 0.2) for each combination of update order and output
unit; a set counts as solved when every sequence ends on its target's side
of the midpoint. A form that no draw solves cannot represent parity with
saturated weights; this is the measurement behind the parity net of
``vanishing.problems`` (layered, logistic output, targets 1 / 0):

    python benchmarks/parity_forms.py            # about 5 s on 2 cores
"""

from __future__ import annotations

import argparse

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

import jax

from vanishing import cells, tasks
from vanishing.methods import base, guessing

FORMS = (("simultaneous", "tanh", (0.8, -0.8)),
         ("simultaneous", "logistic", (1.0, 0.0)),
         ("layered", "tanh", (0.8, -0.8)),
         ("layered", "logistic", (1.0, 0.0)))


def main(argv=None) -> None:
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--draws", type=int, default=20000)
  ap.add_argument("--sets", type=int, default=4)
  args = ap.parse_args(argv)
  budget = base.Budget(evaluations=args.draws)
  hp = {"criterion": "midpoint", "batch": 256}
  print(f"{'order':13s} {'output':9s} solved  draws to solution (per set)")
  for order, output_fn, targets in FORMS:
    net = cells.parity_net(output_fn, order)

    @jax.jit
    def one(s):
      batch = tasks.parity(jax.random.key(s), 25, 10, 20,
                           tasks.Noise("uniform", 0.2), targets=targets)
      r = guessing.search(jax.random.key(100 + s), net, batch, budget, hp)
      return r.solved, r.evaluations

    out = [one(s) for s in range(args.sets)]
    draws = [int(e) if bool(ok) else None for ok, e in out]
    n = sum(d is not None for d in draws)
    shown = ", ".join("-" if d is None else f"{d:,}" for d in draws)
    print(f"{order:13s} {output_fn:9s} {n}/{args.sets}     {shown}")


if __name__ == "__main__":
  main()
