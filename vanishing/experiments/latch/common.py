"""What the latch experiments (density, length, gradients) share: settings and flags."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from vanishing.experiments import flags
from vanishing.experiments.flags import FlagError
from vanishing.experiments.latch.training import LatchConfig


# Specs of the flags the latch experiments share.
W0 = flags.grid("initial self-weights")
S = flags.grid("noise variances after step L", low=0, noun="noise variances")
LR = flags.grid("learning rates, swept without recompiling", low=0,
                low_open=True, noun="learning rates")
TRIALS = flags.integer("runs per grid cell")


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
  w0: tuple[float, ...] = flags.setting(W0)
  s: tuple[float, ...] = flags.setting(S)
  lr: tuple[float, ...] = flags.setting(LR)
  T: tuple[int, ...] = flags.setting(flags.grid(
      "sequence lengths, one sweep each", integer=True))
  trials: int = flags.setting(TRIALS)
  seed: int = 0
  config: LatchConfig = flags.nested(LatchConfig())
  chunk: int | None = flags.setting(flags.CHUNK, None)
  heldout_acc: float = flags.setting(flags.real(
      "held-out accuracy a converged run needs to count as heldout_ok",
      low=0, high=1), 0.9)

  def axes(self) -> dict[str, np.ndarray]:
    return {"w0": np.asarray(self.w0, np.float64),
            "s": np.asarray(self.s, np.float64),
            "lr": np.asarray(self.lr, np.float64)}


def latch_settings(given: flags.Given, train_T: int) -> Any:
  """Settings of a latch experiment: every T and the training length
  ``train_T`` (its ``config.T``) above L."""
  L, T = given.value("L"), given.value("T")
  if min(T) <= L:
    raise FlagError("T", f"every T must exceed L = {L}, got {min(T)}")
  if train_T <= L:
    raise FlagError("L", f"must be below the training length T = {train_T}")
  return given.settings({"config.T": int(train_T)})
