"""Experiments: settings (data) plus analysis (tables, figures) on the engine.

``REGISTRY`` holds every experiment of ``python -m vanishing`` as a value
(:class:`vanishing.experiments.skeleton.Experiment`), in the order
``--help`` lists them. Adding one is one new module declaring its
``EXPERIMENT`` plus one line here (``tests/cli/test_help.py`` has a worked
example).
"""

from vanishing.experiments import compare, guessing, remedies, rtrl
from vanishing.experiments.latch import density, gradients, length
from vanishing.experiments.skeleton import Experiment

REGISTRY: dict[str, Experiment] = {e.name: e for e in (
    density.EXPERIMENT,
    length.EXPERIMENT,
    gradients.EXPERIMENT,
    compare.EXPERIMENT,
    guessing.EXPERIMENT,
    rtrl.EXPERIMENT,
    remedies.EXPERIMENT,
)}
