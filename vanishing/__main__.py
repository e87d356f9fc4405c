"""``python -m vanishing <experiment> [--flags]``; see :mod:`vanishing.cli`."""

from vanishing.cli import run

if __name__ == "__main__":
  run()
