"""vanishing: a JAX benchmark suite for Bengio, Simard & Frasconi (1994).

"Learning Long-Term Dependencies with Gradient Descent is Difficult", IEEE
Trans. Neural Networks 5(2):157-166. Pure-functional cells and task
generators, trainers, and a sweep engine that vmaps one-run functions over
grids of hyper-parameters x seeds. Run experiments with
``python -m vanishing <experiment> [--flags]``. On import, the package asks
XLA for one CPU device per core (``vanishing.devices``) unless ``XLA_FLAGS``
already sets a count.
"""

from vanishing import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

from vanishing import cells, optimizers, results, sweep, tasks
from vanishing.methods import bptt

__version__ = "0.1.0"

__all__ = ["bptt", "cells", "optimizers", "results", "sweep", "tasks"]
