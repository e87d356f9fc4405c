"""The sweep engine: one-run functions vmapped over grids x seeds.

It imports nothing from cells, tasks, methods or experiments.

* :mod:`~vanishing.engine.sweep`: ``run`` and ``prepare``, the entry points;
* :mod:`~vanishing.engine.runs`: the run-function protocol, keys, blocks;
* :mod:`~vanishing.engine.chunks`: the plan of chunks and their compiled
  function; :mod:`~vanishing.engine.layout`: lanes per block by device;
* :mod:`~vanishing.engine.series`: the series of sweeps an experiment runs;
* :mod:`~vanishing.engine.store`: finished chunks on disk (resume);
  :mod:`~vanishing.engine.results`: atomic writes of tables and files;
* :mod:`~vanishing.engine.dirlock`, :mod:`~vanishing.engine.interrupt`,
  :mod:`~vanishing.engine.devices`: one run per directory, signals, one
  CPU device per core.
"""
