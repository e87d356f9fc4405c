"""Throughput of the density sweep against the best the device does on it.

Measured in one process on the same machine, on every XLA device (one per
CPU core by default, ``vanishing.engine.devices``; one GPU is one device):

1. the engine: forward neuron-steps per second of the density sweep
   (runs x epochs x sequences x T / run seconds; compile time apart), at a
   cell where runs use their whole budget (w0 = 0.5, s = 0.5: about 1%
   converge), L = 3, T = 20, 20 training sequences, 1000 epochs; the runs
   on the lanes (``sweep.Lanes``), in blocks of the device's width
   (``vanishing.engine.layout``: 512 lanes on a CPU, as wide as the sweep on a
   GPU) unless ``--block`` forces one (so the CPU can time wide blocks);
2. the same sweep in the engine's former layout, ``vmap`` of the one-run
   function (the runs on the first axis), on one device: the "before";
3. the reference: the same training loop written directly in plain JAX,
   jitted, the runs on the last axis of every array (w: (R,), h: (2, L, R),
   inputs (T, 2n, R)), each device running its share of the runs in its own
   ``while_loop`` (``shard_map``, no collective): draw ``h ~ U[-0.1, 0.1]``
   and a fixed training set (noise of variance s after step L), then
   full-batch plain SGD on ``C = 1/2 sum_p (tanh(a_T^p) - d_p)^2`` until every
   sequence has ``|x_T - d| < 0.4`` (converged), the cost, gradient or update
   is not finite (diverged; both freeze the run) or the budget is spent; the
   loop ends when every run has stopped, and the budget's last update is
   checked as the engine's (``bptt.train``). It draws its random numbers in
   one call per device (not per run, so not the engine's numbers: only the
   converged fraction can agree; both are printed) and skips the held-out
   test set (one forward pass of 200 sequences per run, under 0.1% of the
   work). Two forms: the gradient by ``jax.value_and_grad`` (``grad``) and
   the same backward pass written out by hand (``bptt``; it equals
   ``grad``'s to float32 rounding; on the 2-core CPU it ran at 2.4e9
   neuron-steps/s against ``grad``'s 1.5e9 at 2,048 runs, as fast at 512).
   Each is timed at several run counts (``--ref_runs``; default
   ``--runs``/4 and ``--runs`` on a CPU, ``--runs`` x 1, 4 and 16
   elsewhere); the best rate of any form and count is "the reference";
4. the tanh recurrence ``a = 1.25 tanh(a) + u``, jitted, forward only, over
   float32 vectors of several sizes (``--sizes``; 4,096 to 1,048,576
   elements on a CPU, 65,536 to 16,777,216 elsewhere), each timed over
   ``--ceiling_work`` elements x steps (1e9 on a CPU, 5e10 elsewhere), on
   one device and sharded over all of them: the best is "ceiling", a name
   kept from when it was taken for one (the plain-JAX loop beat it on one
   H200 in issue 26's measurements, and on the 2-core CPU: 2.4e9 against
   1.75e9);
5. a Python loop calling the one-run function, jitted once, on the same runs.

The headline is engine / reference: the engine against the best the device
did on the same work written by hand. Every rate counts the full budget
(runs x epochs x 2n x T) whether or not a run stopped early; each neuron-step
also pays its backward pass and the update, except in the tanh recurrence.

    python benchmarks/throughput.py [--runs N] [--epochs 1000] [--block INT]
        [--ref_runs N ...] [--repeats 3] [--loop_runs 64] [--sizes N ...]
        [--ceiling_work 1e9] [--json FILE]

``--runs`` defaults to 2,048 on a CPU and 65,536 elsewhere; at the defaults
the 2-core CPU ran the whole script in about a minute (55 s). ``--json``
writes (rates in neuron-steps/s):

* ``engine``, ``before``, ``engine_over_before``, ``loop`` (the loop's rate
  over the same neuron-steps), ``engine_over_loop``: as before;
* ``ceiling``, ``engine_over_ceiling``, ``ceiling_layout``: the best tanh
  recurrence (more sizes than before), and ``ceiling_sizes`` (layout -> rate);
* ``reference`` (the best plain-JAX rate), ``reference_runs`` and
  ``reference_form`` (its run count and form), ``references`` (form -> run
  count -> rate), ``reference_converged`` (form -> run count -> converged
  fraction), ``engine_over_reference`` (the headline),
  ``engine_over_reference_same_runs`` (against the best form at
  ``--runs``);
* ``engine_converged``, ``block`` (the engine's lanes per block),
  ``platform``, ``device_kind``, ``devices``, ``runs``, ``epochs``.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from vanishing.engine import layout, results, sweep
from vanishing.experiments.latch.training import (LatchConfig, latch_runs,
                                                  run_latch)

CPU_SIZES = (4096, 16384, 65536, 262144, 1048576)
GPU_SIZES = (65536, 262144, 1048576, 4194304, 16777216)
W0, S, LR = 0.5, 0.5, 0.01
BACKWARDS = ("grad", "bptt")


def _best(f, *args, repeats=3) -> float:
  """The fastest of ``repeats`` calls of ``f(*args)``, compiled first."""
  jax.block_until_ready(f(*args))
  best = float("inf")
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(f(*args))
    best = min(best, time.perf_counter() - t0)
  return best


def ceiling(sizes, work: float, repeats: int) -> tuple[float, str, dict]:
  """The best neuron-steps/s of a jitted tanh recurrence, its layout, and
  every (size, layout)'s rate."""
  devices = jax.devices()
  mesh = Mesh(np.asarray(devices), ("d",))
  found = {}
  for width in sizes:
    steps = max(8, int(work // width) // 8 * 8)
    layouts = [("one device", None)]
    if len(devices) > 1:
      layouts.append((f"sharded over {len(devices)}",
                      NamedSharding(mesh, P("d"))))
    for name, sharding in layouts:
      u = jnp.linspace(-0.1, 0.1, width, dtype=jnp.float32)
      a = jnp.zeros(width, jnp.float32)
      if sharding is not None:
        u, a = jax.device_put(u, sharding), jax.device_put(a, sharding)

      @jax.jit
      def loop(a, u):
        return jax.lax.fori_loop(0, steps, lambda i, a: 1.25 * jnp.tanh(a) + u,
                                 a, unroll=8)

      rate = width * steps / _best(loop, a, u, repeats=repeats)
      found[f"{width} elements, {name}"] = rate
  layout_ = max(found, key=found.get)
  return found[layout_], layout_, found


def plain_loop(cfg: LatchConfig, runs: int, devices, backward: str = "grad"):
  """The density training loop in plain JAX, runs last (module docstring,
  item 3): a jitted ``f(seeds) -> (converged, diverged)``, ``(runs,)`` each,
  the ``seeds`` to call it with (one per device) and the runs it makes.

  ``backward``: ``grad``, the gradient by ``jax.value_and_grad`` through the
  unrolled forward pass; ``bptt``, written out by hand (the same sums:
  ``d_T = (x - d)(1 - x^2)``, ``d_{t-1} = d_t w (1 - z_t^2)`` with ``z_t =
  tanh(a_{t-1})``; ``dC/dw = sum_t sum_p d_t z_t``; ``dC/dh[c, t] = sum over
  class c of d_t``), which XLA compiled to a faster loop on the CPU.
  """
  if backward not in BACKWARDS:
    raise ValueError(f"backward must be one of {BACKWARDS}, got {backward!r}")
  n_dev = len(devices)
  per = -(-runs // n_dev)
  n, T, L = 2 * cfg.n_per_class, cfg.T, cfg.L
  classes = jnp.repeat(jnp.arange(2), cfg.n_per_class)
  target = jnp.where(classes == 0, 0.8, -0.8).astype(jnp.float32)[:, None]
  first = (classes == 0)[:, None]

  def on_device(seed):
    k_h, k_x = jax.random.split(jax.random.fold_in(jax.random.key(0), seed[0]))
    h = jax.random.uniform(k_h, (2, L, per), jnp.float32, -cfg.h_init,
                           cfg.h_init)
    noise = jnp.sqrt(jnp.float32(S)) * jax.random.normal(k_x, (T - L, n, per))
    w = jnp.full((per,), W0, jnp.float32)

    def forward(p):
      """``(cost, met), (x_T, [z_1 .. z_T])``, ``z_t = tanh(a_{t-1})``."""
      a, zs = jnp.zeros((n, per), jnp.float32), []
      for t in range(T):  # unrolled: T = 20 steps
        zs.append(jnp.tanh(a))
        u = (jnp.where(first, p["h"][0, t], p["h"][1, t]) if t < L
             else noise[t - L])
        a = p["w"] * zs[-1] + u
      x = jnp.tanh(a)
      return (0.5 * jnp.sum((x - target) ** 2, 0),
              jnp.all(jnp.abs(x - target) < cfg.tol, 0)), (x, zs)

    def by_hand(p):
      (cost, met), (x, zs) = forward(p)
      d, gw, gh = (x - target) * (1 - x * x), 0.0, [None] * L
      for t in reversed(range(T)):
        gw = gw + jnp.sum(d * zs[t], 0)
        if t < L:
          gh[t] = (jnp.sum(jnp.where(first, d, 0), 0),
                   jnp.sum(jnp.where(first, 0, d), 0))
        if t:
          d = d * p["w"] * (1 - zs[t] * zs[t])
      g = {"w": gw, "h": jnp.stack([jnp.stack([g[c] for g in gh])
                                    for c in (0, 1)])}
      return (cost, met), g

    by_jax = jax.value_and_grad(lambda p: (lambda cm: (cm[0].sum(), cm))(
        forward(p)[0]), has_aux=True)
    grad = by_hand if backward == "bptt" else lambda p: (lambda v, g: (
        v[1], g))(*by_jax(p))
    finite = lambda p: jnp.isfinite(p["w"]) & jnp.all(jnp.isfinite(p["h"]),
                                                      (0, 1))

    def body(c):
      e, p, active, conv, div = c
      (cost, met), g = grad(p)
      new = jax.tree_util.tree_map(lambda x, d: x - LR * d, p, g)
      bad = ~(jnp.isfinite(cost) & finite(g)) | (~met & ~finite(new))
      step = active & ~met & ~bad
      p = jax.tree_util.tree_map(lambda o, x: jnp.where(step, x, o), p, new)
      return (e + 1, p, active & step, conv | (active & met & ~bad),
              div | (active & bad & ~met))

    false = jnp.zeros((per,), bool)
    e, p, active, conv, div = jax.lax.while_loop(
        lambda c: (c[0] < cfg.epochs) & jnp.any(c[2]), body,
        (0, {"w": w, "h": h}, ~false, false, false))
    cost, met = forward(p)[0]  # the budget ran out: check the last update
    conv = conv | (active & met & jnp.isfinite(cost))
    return conv, div | (active & ~jnp.isfinite(cost))

  mesh = Mesh(np.asarray(devices), ("d",))
  f = jax.jit(jax.shard_map(on_device, mesh=mesh, in_specs=P("d"),
                            out_specs=P("d"), check_vma=False))
  seeds = jax.device_put(jnp.arange(n_dev, dtype=jnp.uint32),
                         NamedSharding(mesh, P("d")))
  return f, seeds, per * n_dev


def parse_args(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--runs", type=int, default=None,
                  help="runs of the engine (default: 2048 on a CPU, 65536 "
                       "elsewhere)")
  ap.add_argument("--epochs", type=int, default=1000)
  ap.add_argument("--block", type=int, default=None,
                  help="lanes per block of the engine (default: the device's, "
                       "vanishing.engine.layout)")
  ap.add_argument("--ref_runs", type=int, nargs="+", default=None,
                  help="run counts of the plain-JAX reference (default: "
                       "--runs/4 and --runs on a CPU, x1, x4, x16 elsewhere)")
  ap.add_argument("--loop_runs", type=int, default=64,
                  help="runs timed in the Python loop (the first of the sweep)")
  ap.add_argument("--repeats", type=int, default=3,
                  help="timings of each measure (engine and former layout "
                       "alternated); the best counts")
  ap.add_argument("--sizes", type=int, nargs="+", default=None,
                  help="elements of the tanh recurrence (default: 4096 to "
                       "1048576 on a CPU, 65536 to 16777216 elsewhere)")
  ap.add_argument("--ceiling_work", type=float, default=None,
                  help="elements x steps of each tanh timing (default: 2e9 "
                       "on a CPU, 5e10 elsewhere)")
  ap.add_argument("--json", metavar="FILE", help="also write the figures here")
  args = ap.parse_args(argv)
  for name in ("runs", "epochs", "block", "loop_runs", "repeats"):
    v = getattr(args, name)
    if v is not None and v < 1:
      ap.error(f"--{name} must be >= 1, got {v}")
  if args.ref_runs is not None and min(args.ref_runs) < 1:
    ap.error(f"--ref_runs must be >= 1, got {args.ref_runs}")
  if args.sizes is not None and min(args.sizes) < 1:
    ap.error(f"--sizes must be >= 1, got {args.sizes}")
  if args.ceiling_work is not None and not args.ceiling_work >= 8:
    ap.error(f"--ceiling_work must be >= 8, got {args.ceiling_work}")
  return args


def main(argv=None):
  args = parse_args(argv)
  devices = jax.devices()
  cpu = layout.is_cpu(devices)
  runs = args.runs or (2048 if cpu else 65536)
  ref_runs = args.ref_runs or ([max(1, runs // 4), runs] if cpu
                               else [runs, 4 * runs, 16 * runs])
  ref_runs = sorted(set(ref_runs) | {runs})
  cfg = LatchConfig(T=20, L=3, epochs=args.epochs)
  axes = {"w0": [W0], "s": [S], "lr": [LR]}
  per_run = args.epochs * 2 * cfg.n_per_class * cfg.T
  n_dev = len(devices)
  print(f"device: {devices[0].device_kind} ({devices[0].platform}), {n_dev} "
        f"device(s); jax {jax.__version__}")

  # Alternated, best of --repeats each: the VM's speed drifts.
  fast, slow = [], []
  fn, one_run = latch_runs(cfg), functools.partial(run_latch, cfg=cfg)
  for _ in range(args.repeats):
    fast.append(sweep.run(fn, axes, runs, 0, block=args.block))
    slow.append(sweep.run(one_run, axes, runs, 0, devices=devices[:1],
                          block=args.block))
  res = min(fast, key=lambda r: r.run_s)
  old = min(slow, key=lambda r: r.run_s)
  engine = runs * per_run / res.run_s
  engine_conv = float(res.records["converged"].mean())
  print(f"engine : {runs} runs x {args.epochs} epochs x "
        f"{2 * cfg.n_per_class} sequences x T={cfg.T} on {n_dev} device(s), "
        f"blocks of {res.block} lanes: compile {fast[0].compile_s:.1f} s, run "
        f"{res.run_s:.2f} s (best of {args.repeats}), {engine:.3g} "
        f"neuron-steps/s ({engine_conv:.1%} converged early)")
  before = runs * per_run / old.run_s
  print(f"before : the same sweep as vmap of the one-run function (runs on the "
        f"first axis), 1 device, blocks of {old.block}: run {old.run_s:.2f} s, "
        f"{before:.3g} neuron-steps/s; engine / before = "
        f"{engine / before:.2f}x")

  refs = {b: {} for b in BACKWARDS}
  ref_conv = {b: {} for b in BACKWARDS}
  for r in ref_runs:
    for b in BACKWARDS:
      f, seeds, r_all = plain_loop(cfg, r, devices, backward=b)
      t0 = time.perf_counter()
      conv, _ = jax.block_until_ready(f(seeds))
      first_s = time.perf_counter() - t0
      best = _best(f, seeds, repeats=args.repeats)
      refs[b][r] = r_all * per_run / best
      ref_conv[b][r] = float(np.asarray(conv).mean())
      print(f"plain  : {r_all} runs in plain JAX ({b}), runs last, {n_dev} "
            f"device(s): first call (compile + run) {first_s:.1f} s, run "
            f"{best:.2f} s, {refs[b][r]:.3g} neuron-steps/s "
            f"({ref_conv[b][r]:.1%} converged)")
  ref_form, ref_best = max(((b, r) for b in BACKWARDS for r in ref_runs),
                           key=lambda k: refs[k[0]][k[1]])
  reference = refs[ref_form][ref_best]
  same = max(refs[b][runs] for b in BACKWARDS)

  sizes = args.sizes or (CPU_SIZES if cpu else GPU_SIZES)
  work = args.ceiling_work or (1e9 if cpu else 5e10)
  top, where, per_size = ceiling(sizes, work, args.repeats)
  print(f"tanh   : a = 1.25 tanh(a) + u, best of {len(sizes)} sizes "
        f"({sizes[0]:,}-{sizes[-1]:,}) x layouts ({where}): {top:.3g} "
        f"neuron-steps/s")

  single = jax.jit(one_run)
  n_loop = min(args.loop_runs, runs)
  keys = sweep.run_keys(0, jnp.arange(n_loop))
  swept = {k: jnp.float32(v[0]) for k, v in axes.items()}
  jax.block_until_ready(single(keys[0], swept))  # compile
  t0 = time.perf_counter()
  for i in range(n_loop):
    out = single(keys[i], swept)
  jax.block_until_ready(out)
  loop_s = (time.perf_counter() - t0) / n_loop
  loop = per_run / loop_s
  print(f"loop   : {loop_s * 1e3:.2f} ms per run (jitted single run, Python "
        f"loop, {n_loop} runs) against {res.run_s / runs * 1e3:.4f}"
        f" ms per run in the engine: {engine / loop:.1f}x")
  print(f"ratio  : engine / reference = {engine / reference:.1%} (the "
        f"plain-JAX loop, {ref_form}, at {ref_best} runs; "
        f"{engine / same:.1%} against its best at {runs}); "
        f"engine / tanh recurrence = {engine / top:.1%}")
  if args.json:
    results.write_json(Path(args.json), {
        "engine": engine, "ceiling": top, "loop": loop,
        "engine_over_ceiling": engine / top, "engine_over_loop": engine / loop,
        "before": before, "engine_over_before": engine / before,
        "devices": n_dev, "ceiling_layout": where, "ceiling_sizes": per_size,
        "reference": reference, "reference_runs": ref_best,
        "reference_form": ref_form,
        "references": {b: {str(k): v for k, v in d.items()}
                       for b, d in refs.items()},
        "reference_converged": {b: {str(k): v for k, v in d.items()}
                                for b, d in ref_conv.items()},
        "engine_over_reference": engine / reference,
        "engine_over_reference_same_runs": engine / same,
        "engine_converged": engine_conv, "block": res.block,
        "platform": devices[0].platform, "device_kind": devices[0].device_kind,
        "runs": runs, "epochs": args.epochs})


if __name__ == "__main__":
  main()
