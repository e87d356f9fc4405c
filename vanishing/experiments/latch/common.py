"""What the latch experiments (density, length, gradients) share: settings and flags."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from vanishing import optimizers
from vanishing.experiments import flags
from vanishing.experiments.flags import FlagError
from vanishing.experiments.latch.training import NOISE_MODES, LatchConfig


@dataclasses.dataclass(frozen=True)
class Settings:
  """Settings of a convergence sweep over (w0, s, lr) [x T].

  Attributes:
    w0, s, lr: swept values (each a tuple, swept as a grid).
    T: sequence lengths; the density experiment takes exactly one.
    trials: independent runs per grid cell.
    seed: root seed.
    config: static run settings; its ``T`` is replaced per length.
    chunk: runs per compiled call (memory bound), None for the default.
    heldout_acc: held-out accuracy a converged run needs to count in
      ``heldout_ok``.
  """
  w0: tuple[float, ...]
  s: tuple[float, ...]
  lr: tuple[float, ...]
  T: tuple[int, ...]
  trials: int
  seed: int = 0
  config: LatchConfig = LatchConfig()
  chunk: int | None = None
  heldout_acc: float = 0.9

  def axes(self) -> dict[str, np.ndarray]:
    return {"w0": np.asarray(self.w0, np.float64),
            "s": np.asarray(self.s, np.float64),
            "lr": np.asarray(self.lr, np.float64)}

  def to_json(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


# ---------------------------------------------------------------------------
# Flags of the latch experiments (density, length, gradients), declared once.

def _optimizer(flag: str, name: str) -> str:
  if name not in optimizers.available():
    raise FlagError(flag, f"unknown {name!r}; choose sgd, momentum, nesterov, "
                    "or an optax optimizer such as adam, rmsprop")
  return name


W0 = flags.grid("w0", "initial self-weights")
S = flags.grid("s", "noise variances after step L", low=0,
               noun="noise variances")
LR = flags.grid("lr", "learning rates, swept without recompiling", low=0,
                low_open=True, noun="learning rates")
TRIALS = flags.integer("trials", "runs per grid cell")
# How one latch network is trained (LatchConfig).
TRAINING = (
    flags.integer("L", "class-carrying steps, 1 <= L < T", field="config.L"),
    flags.integer("epochs", "full-batch update budget",
                  field="config.epochs"),
    dataclasses.replace(flags.N_PER_CLASS, field="config.n_per_class"),
    dataclasses.replace(flags.TEST_PER_CLASS, field="config.test_per_class"),
    flags.Flag("optimizer", str, "sgd (plain gradient descent), momentum, "
               "nesterov, or an optax optimizer", "sgd, momentum, nesterov "
               "or an optax optimizer name (adam, rmsprop, ...)",
               "config.optimizer", _optimizer, metavar="NAME"),
    flags.real("momentum", "momentum of momentum and nesterov", low=0,
               high=1, high_open=True, field="config.momentum"),
    flags.choice("noise", "fixed: one training set per run; fresh: new "
                 "noise every epoch", NOISE_MODES, field="config.noise"),
    flags.real("h_init", "initial h ~ U[-h_init, h_init]", low=0,
               field="config.h_init"),
    flags.real("tol", "converged when every training sequence has "
               "|x_T - d| < tol", low=0, high=1.6, low_open=True,
               field="config.tol"),
)
HELDOUT_ACC = flags.real("heldout_acc", "held-out accuracy a converged run "
                         "needs to count as heldout_ok", low=0, high=1)


def latch_settings(given: flags.Given, train_T: int) -> Any:
  """Settings of a latch experiment: every T and the training length
  ``train_T`` (its ``config.T``) above L."""
  L, T = given.value("L"), given.value("T")
  if min(T) <= L:
    raise FlagError("T", f"every T must exceed L = {L}, got {min(T)}")
  if train_T <= L:
    raise FlagError("L", f"must be below the training length T = {train_T}")
  return given.settings({"config.T": int(train_T)})
