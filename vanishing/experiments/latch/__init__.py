"""The paper's Section III stack: the latch neuron trained by gradient descent.

``density`` (convergence over (w0, s)), ``length`` (convergence versus T)
and ``gradients`` (attractors and the vanishing gradient) share the
training of one latch (:mod:`~vanishing.experiments.latch.training`) and
their settings and flags (:mod:`~vanishing.experiments.latch.common`).
"""
