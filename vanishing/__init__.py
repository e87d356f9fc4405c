"""vanishing: a JAX benchmark suite for Bengio, Simard & Frasconi (1994).

"Learning Long-Term Dependencies with Gradient Descent is Difficult", IEEE
Trans. Neural Networks 5(2):157-166. Run experiments with
``python -m vanishing <experiment> [--flags]``.

The layers, each importing only from those above it:

* ``cells``, ``tasks``, ``optimizers``, ``statistics``, ``theory``: pure
  functions (recurrent cells, task generators, update rules, the paper's
  analysis);
* ``methods``: how one run trains (BPTT, RTRL, the paper's alternatives),
  and ``problems``: a task with the net that learns it;
* ``engine``: the sweep engine, which vmaps a one-run function over a grid
  of hyper-parameters x seeds, and its storage, lock, signals and devices;
  it imports nothing of the layers above;
* ``experiments``: the paper's experiments and those that followed, as
  settings plus analysis on the engine;
* ``cli``: the command line, the files an experiment writes and the
  report page.

Importing the package changes nothing in the process; the command line asks
XLA for one CPU device per core (:func:`vanishing.engine.devices.use_all_cores`,
which a script calls itself before JAX starts, to do the same).
"""

__version__ = "0.1.0"
