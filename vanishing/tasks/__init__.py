"""Tasks: generators, the task protocol and the registry.

* ``vanishing.tasks.protocol``: :class:`SequenceBatch`, :class:`Noise`, the
  length laws and :class:`Task` (generator, cost, error, solved rule,
  baseline);
* ``vanishing.tasks.paper``: the paper's tasks (Bengio, Simard & Frasconi
  1994): the minimal latch task of Section III and the latch, 2-sequence
  and parity problems of Section VI;
* ``vanishing.tasks.followed``: the long-lag benchmarks that followed: the
  adding problem (Hochreiter & Schmidhuber 1997) and the copying problem
  (Arjovsky, Shah & Bengio 2016);
* ``vanishing.tasks.lstm1997``: the LSTM paper's own forms of the
  2-sequence and adding problems, for its replay.

``TASKS`` maps a name to a task: the paper's three, then the later ones (a
new task goes at the end). Adding a task is one generator plus one line
there.
"""

from __future__ import annotations

from vanishing.tasks.followed import Adding, Copying, adding, copying
from vanishing.tasks.lstm1997 import (Adding1997, TwoSequence1997,
                                      adding_1997, two_sequence_1997)
from vanishing.tasks.paper import (LatchBatch, latch, latch_inputs,
                                   latch_minimal, parity, prototypes,
                                   two_sequence)
from vanishing.tasks.protocol import (CLASSIFICATION, KINDS, LENGTHS,
                                      NOISE_KINDS, READOUTS, TARGET, Noise,
                                      SequenceBatch, Task, draw_lengths,
                                      half_length, length_mask, mask)

# name -> task. Adding a task is one generator plus one line here.
TASKS: dict[str, Task] = {
    "latch": Task("latch", latch, options=(("first", None),)),
    "two_sequence": Task("two_sequence", two_sequence, options=(("N", 3),),
                         min_len_option="N"),
    "parity": Task("parity", parity, options=(("coding", "pm1"),)),
    # After 1994: HS97's adding problem, Arjovsky et al.'s copying problem.
    "adding": Adding(),
    "copying": Copying(),
    # The LSTM paper's own forms (its experiments 3a and 4).
    "two_sequence_1997": TwoSequence1997(),
    "adding_1997": Adding1997(),
}


def get(name: str) -> Task:
  """The task ``name``; ValueError listing the registered names."""
  if name not in TASKS:
    raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
  return TASKS[name]


__all__ = [
    "Adding", "Adding1997", "CLASSIFICATION", "Copying", "KINDS", "LENGTHS", "LatchBatch",
    "NOISE_KINDS", "READOUTS", "SequenceBatch", "TARGET", "TASKS", "Task",
    "Noise", "adding", "copying", "draw_lengths", "get", "half_length",
    "latch", "latch_inputs", "latch_minimal", "length_mask", "mask", "parity",
    "prototypes", "two_sequence", "TwoSequence1997", "adding_1997",
    "two_sequence_1997",
]
