"""The density sweep in the engine against the same sweep in batched PyTorch.

The minimal latch task of benchmarks/throughput.py (L = 3, T = 20, 10
sequences per class, full-batch plain SGD on ``C = 1/2 sum_p (tanh(a_T^p) -
d_p)^2``, ``d = +-0.8``, ``h ~ U[-0.1, 0.1]``, ``w = w0``, fixed Gaussian noise
of variance s after step L, converged at the first epoch where every training
sequence has ``|x_T - d| < 0.4``; converged runs stop updating), on a small
(w0, s) grid, run twice in one process on the same machine:

1. the engine: ``vanishing.sweep.run`` on ``latch_runs`` (the runs on the
   lanes; compile time apart);
2. PyTorch as a PyTorch user would write it: one float32 tensor holding every
   run and sequence (runs x 2n), the recurrence as a Python loop over T with
   tensor ops, ``loss.backward()``, a masked SGD step under ``torch.no_grad()``
   (converged and diverged runs are frozen), a Python loop over epochs that
   ends when every run has stopped, ``torch.set_num_threads`` = the cores.
   The tensors live on ``--device``: ``auto`` (the default) is ``cuda`` when
   ``torch.cuda.is_available()``, else ``cpu``.

    python benchmarks/peers.py [--runs N] [--epochs 1000] [--repeats 3]
                               [--device {auto,cpu,cuda}] [--block INT]
                               [--cpu-devices <cores>] [--threads <cores>]
                               [--json FILE]

The grid is 3 x 2 (w0, s) cells of ``--runs`` runs each. ``--runs`` defaults
to 512 on the CPU (3,072 runs) and to 65,536 on cuda (393,216 runs: the
largest batch the issue measured torch at on one H200, where torch's rate
was still rising with the batch; a GPU needs hundreds of thousands of runs
in flight to fill). The engine runs on JAX's default device (a GPU where JAX
sees one, whatever ``--device`` says; both are printed) with the device's
block width (``vanishing.engine.layout``) unless ``--block`` fixes one. With torch
on cuda, JAX is asked not to preallocate GPU memory
(``XLA_PYTHON_CLIENT_PREALLOCATE=false`` unless already set), so that both
fit on one GPU.

Throughput is counted the same way for both, as in throughput.py: the full
budget, runs x epochs x sequences x T neuron-steps (forward; each also pays
its backward pass and the update) over the run seconds, whether or not a run
stopped early. Each side is timed ``--repeats`` times, alternately, and the
fastest time counts.

Time it on an otherwise idle machine (the load average is printed): on 2
cores shared with other processes, torch's two OpenMP threads slowed down
10-50x where a single thread (``--threads 1``) or the engine slowed down
about 2x. Both use every core by default: torch's threads split each
elementwise op over the 3072 x 20 tensor, and the engine shards its blocks
of 512 runs over one XLA CPU device per core (``--cpu-devices``; the records
do not depend on it).

The two use different random numbers (the torch version draws from a seeded
``torch.Generator``), so only the statistics can agree: each cell's
convergence density is checked with a two-proportion test, ``|p1 - p2| <= 4
sqrt(p (1 - p) (1/n1 + 1/n2))`` with the pooled p smoothed to ``(k1 + k2 + 1)
/ (n1 + n2 + 2)`` so that cells at 0% or 100% keep a small tolerance.
Exits 1 if a cell fails, 2 if torch is not installed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

AXES = {"w0": (0.5, 1.5, 2.5), "s": (0.0, 0.5)}
Z = 4.0  # standard errors allowed between the two densities of a cell


def _cores() -> int:
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


def torch_sweep(torch, w0, s, lr, runs: int, cfg, seed: int,
                device: str = "cpu") -> dict:
  """The whole grid in batched PyTorch on ``device``; one row per run, cells
  consecutive.

  Returns a dict of numpy arrays: ``converged``, ``diverged``, ``epoch``
  (updates before convergence, -1 if none) and the scalar ``epochs_run``
  (epochs the Python loop made before every run had stopped).
  """
  g = torch.Generator(device=device).manual_seed(seed)
  f32 = torch.float32
  on = {"dtype": f32, "device": device}
  cells = [(a, b) for a in w0 for b in s]
  R, n, T, L = len(cells) * runs, 2 * cfg.n_per_class, cfg.T, cfg.L
  w0_r = torch.tensor([c[0] for c in cells], **on).repeat_interleave(runs)
  s_r = torch.tensor([c[1] for c in cells], **on).repeat_interleave(runs)
  lr_r = torch.full((R,), lr, **on)

  w = w0_r.clone().requires_grad_()
  h = ((torch.rand(R, 2, L, generator=g, **on) * 2 - 1)
       * cfg.h_init).requires_grad_()
  # Noise after step L, time-major (T - L, R, n), fixed for the whole run.
  noise = (torch.randn(T - L, R, n, generator=g, **on)
           * s_r.sqrt()[None, :, None])
  classes = torch.arange(2, device=device).repeat_interleave(cfg.n_per_class)
  target = torch.where(classes == 0, 0.8, -0.8).to(f32)

  def forward(w, h):
    hx = h[:, classes, :]  # (R, n, L): each sequence's class inputs
    wc = w[:, None]
    a = torch.zeros(R, n, **on)
    for t in range(L):
      a = wc * torch.tanh(a) + hx[:, :, t]
    for t in range(T - L):
      a = wc * torch.tanh(a) + noise[t]
    return torch.tanh(a)

  def all_finite(x):
    return torch.isfinite(x).reshape(R, -1).all(1)

  active = torch.ones(R, dtype=torch.bool, device=device)
  converged = torch.zeros(R, dtype=torch.bool, device=device)
  diverged = torch.zeros(R, dtype=torch.bool, device=device)
  epoch = torch.full((R,), -1, dtype=torch.int64, device=device)
  e = 0
  for e in range(cfg.epochs):
    x = forward(w, h)
    cost = 0.5 * ((x - target) ** 2).sum(1)  # per run
    cost.sum().backward()  # runs are independent: each gets its own gradient
    with torch.no_grad():
      met = ((x - target).abs() < cfg.tol).all(1)
      new_w = w - lr_r * w.grad
      new_h = h - lr_r[:, None, None] * h.grad
      bad = ~(torch.isfinite(cost) & all_finite(w.grad) & all_finite(h.grad))
      bad |= ~met & ~(all_finite(new_w) & all_finite(new_h))
      converged |= active & met & ~bad
      diverged |= active & bad & ~met
      epoch[active & met & ~bad] = e
      step = active & ~met & ~bad
      w.copy_(torch.where(step, new_w, w))
      h.copy_(torch.where(step[:, None, None], new_h, h))
      active &= ~(met | bad)
    w.grad = None
    h.grad = None
    if not active.any():
      e += 1
      break
  else:
    e = cfg.epochs
    with torch.no_grad():  # the budget ran out: check the last update
      x = forward(w, h)
      cost = 0.5 * ((x - target) ** 2).sum(1)
      ok = torch.isfinite(cost)
      met = ((x - target).abs() < cfg.tol).all(1) & ok
      converged |= active & met
      epoch[active & met] = cfg.epochs
      diverged |= active & ~ok
  # .cpu() waits for the device: the timing includes the whole computation.
  return {"converged": converged.cpu().numpy(),
          "diverged": diverged.cpu().numpy(), "epoch": epoch.cpu().numpy(),
          "epochs_run": e}


def two_proportion(k1, n1, k2, n2, z: float = Z):
  """``(|p1 - p2|, allowed)`` for the test in the module docstring."""
  p = (k1 + k2 + 1) / (n1 + n2 + 2)
  return abs(k1 / n1 - k2 / n2), z * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def parse_args(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--runs", type=int, default=None,
                  help="runs per (w0, s) cell (default: 512 with torch on the "
                       "CPU, 65536 on cuda)")
  ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                  help="torch's device (auto: cuda when "
                       "torch.cuda.is_available(), else cpu)")
  ap.add_argument("--block", type=int, default=None,
                  help="lanes per block of the engine (default: the device's, "
                       "vanishing.engine.layout)")
  ap.add_argument("--epochs", type=int, default=1000)
  ap.add_argument("--lr", type=float, default=0.01)
  ap.add_argument("--w0", type=float, nargs="+", default=list(AXES["w0"]))
  ap.add_argument("--s", type=float, nargs="+", default=list(AXES["s"]))
  ap.add_argument("--seed", type=int, default=0)
  ap.add_argument("--repeats", type=int, default=3,
                  help="timings of each, alternated; the best one counts")
  ap.add_argument("--cpu-devices", type=int, default=_cores(),
                  help="CPU devices the engine shards over (XLA's "
                       "--xla_force_host_platform_device_count; default: one "
                       "per core; the records do not change)")
  ap.add_argument("--json", metavar="FILE",
                  help='also write {"engine", "torch", "engine_over_torch"} '
                       "(neuron-steps/s), with devices, torch_threads, "
                       "torch_device, platform (JAX's), block, runs (all "
                       "cells) and epochs, here")
  ap.add_argument("--threads", type=int, default=_cores(),
                  help="torch.set_num_threads (default: the cores available)")
  args = ap.parse_args(argv)
  if args.runs is not None and args.runs < 1:
    ap.error(f"--runs must be >= 1, got {args.runs}")
  if args.block is not None and args.block < 1:
    ap.error(f"--block must be >= 1, got {args.block}")
  if args.epochs < 1:
    ap.error(f"--epochs must be >= 1, got {args.epochs}")
  if not (args.lr > 0 and math.isfinite(args.lr)):
    ap.error(f"--lr must be finite and > 0, got {args.lr}")
  if not all(math.isfinite(v) for v in args.w0):
    ap.error(f"--w0 values must be finite, got {args.w0}")
  if not all(v >= 0 and math.isfinite(v) for v in args.s):
    ap.error(f"--s values must be finite and >= 0, got {args.s}")
  if args.repeats < 1:
    ap.error(f"--repeats must be >= 1, got {args.repeats}")
  if args.cpu_devices < 1:
    ap.error(f"--cpu-devices must be >= 1, got {args.cpu_devices}")
  if args.threads < 1:
    ap.error(f"--threads must be >= 1, got {args.threads}")
  return args


def main(argv=None) -> int:
  args = parse_args(argv)
  try:
    import torch
  except ImportError:
    print("peers.py needs PyTorch: pip install -e '.[peers]'")
    return 2
  device = args.device
  if device == "auto":
    device = "cuda" if torch.cuda.is_available() else "cpu"
  if device == "cuda" and not torch.cuda.is_available():
    print("peers.py: --device cuda, but torch sees no CUDA device "
          f"(torch {torch.__version__})")
    return 2
  if args.runs is None:
    args.runs = 65536 if device == "cuda" else 512
  if device == "cuda":  # JAX and torch share the GPU
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
  # Before JAX starts its backend (vanishing would otherwise ask for one
  # device per core).
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_"
                             f"host_platform_device_count={args.cpu_devices}")
  import jax

  from vanishing.engine import sweep
  from vanishing.experiments.latch.training import LatchConfig, latch_runs

  torch.set_num_threads(args.threads)
  cfg = LatchConfig(T=20, L=3, epochs=args.epochs)
  n_cells = len(args.w0) * len(args.s)
  total = n_cells * args.runs
  work = total * args.epochs * 2 * cfg.n_per_class * cfg.T  # full budget
  print(f"grid: w0 {args.w0} x s {args.s}, lr {args.lr:g}, {args.runs} runs "
        f"per cell, {args.epochs} epochs, {2 * cfg.n_per_class} sequences, "
        f"T={cfg.T}, L={cfg.L}")
  print(f"jax {jax.__version__} on {jax.device_count()} "
        f"{jax.devices()[0].device_kind} ({jax.devices()[0].platform}) "
        f"device(s); torch {torch.__version__} on {device}"
        + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else
           f", {torch.get_num_threads()} threads"))

  fn = latch_runs(cfg)
  axes = {"w0": args.w0, "s": args.s, "lr": [args.lr]}
  load0 = os.getloadavg()[0]
  jax_s, torch_s, compile_s = [], [], []
  for _ in range(args.repeats):  # alternated, so both see the same machine
    res = sweep.run(fn, axes, args.runs, args.seed, block=args.block)
    jax_s.append(res.run_s)
    compile_s.append(res.compile_s)
    t0 = time.perf_counter()
    out = torch_sweep(torch, args.w0, args.s, args.lr, args.runs, cfg,
                      args.seed, device)
    torch_s.append(time.perf_counter() - t0)
  jax_rate, torch_rate = work / min(jax_s), work / min(torch_s)
  fmt = lambda ts: ", ".join(f"{t:.2f}" for t in ts)
  print(f"engine : {total} runs in blocks of {res.block} lanes: run "
        f"{fmt(jax_s)} s (compile {min(compile_s):.1f} s apart), "
        f"best {jax_rate:.3g} neuron-steps/s")
  print(f"torch  : run {fmt(torch_s)} s ({out['epochs_run']} of {args.epochs} "
        f"epochs looped), best {torch_rate:.3g} neuron-steps/s")
  print(f"ratio  : engine / torch = {jax_rate / torch_rate:.2f}x "
        f"(best of {args.repeats} each; full budget counted for both: "
        f"{work:.3g} neuron-steps)")
  if args.json:
    from pathlib import Path

    from vanishing.engine import results
    results.write_json(Path(args.json), {
        "engine": jax_rate, "torch": torch_rate,
        "engine_over_torch": jax_rate / torch_rate,
        "devices": jax.device_count(), "torch_threads": torch.get_num_threads(),
        "torch_device": device, "platform": jax.devices()[0].platform,
        "block": res.block, "runs": total, "epochs": args.epochs})
  load1 = os.getloadavg()[0]
  print(f"machine: {_cores()} cores, 1-min load average {load0:.1f} before, "
        f"{load1:.1f} after"
        + (" -- other work was running: the timings (torch's OpenMP threads "
           "above all) are not representative" if load0 >= 1 else ""))

  jc = res.by_cell("converged").reshape(n_cells, args.runs).astype(bool)
  jd = res.by_cell("diverged").reshape(n_cells, args.runs).astype(bool)
  tc = out["converged"].reshape(n_cells, args.runs)
  td = out["diverged"].reshape(n_cells, args.runs)
  print(f"{'w0':>5s} {'s':>5s} {'jax %':>7s} {'torch %':>7s} {'|diff|':>7s} "
        f"{'allowed':>7s} {'div j/t':>8s}  check")
  failed = 0
  cells = [(a, b) for a in args.w0 for b in args.s]
  n = args.runs
  for i, (a, b) in enumerate(cells):
    k1, k2 = int(jc[i].sum()), int(tc[i].sum())
    diff, allowed = two_proportion(k1, n, k2, n)
    ok = diff <= allowed
    failed += not ok
    print(f"{a:5g} {b:5g} {100 * k1 / n:7.1f} {100 * k2 / n:7.1f} "
          f"{100 * diff:7.1f} {100 * allowed:7.1f} "
          f"{int(jd[i].sum()):>3d}/{int(td[i].sum()):<4d}  "
          f"{'PASS' if ok else 'FAIL'}")
  verdict = f"FAIL ({failed} of {n_cells} cells)" if failed else "PASS"
  print(f"densities: {verdict}")
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
