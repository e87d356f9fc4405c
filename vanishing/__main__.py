"""``python -m vanishing <experiment> [--flags]``; see :mod:`vanishing.cli.main`."""

from vanishing.engine import devices

devices.use_all_cores()  # before JAX starts: one CPU device per core

from vanishing.cli.main import run  # noqa: E402

if __name__ == "__main__":
  run()
