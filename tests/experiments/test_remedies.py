"""The remedies experiment: gated cells and remedies on the same trials."""

import dataclasses

import numpy as np
import pytest

from vanishing import problems
from vanishing.experiments import remedies
from vanishing.experiments.trial import Trials

COLUMNS = {"task", "cell", "remedy", "T", "trials", "solved", "frequency",
           "lo", "hi", "median_sequences", "train_solved", "train_frequency"}


@pytest.fixture(scope="module")
def outcome(testing_outcome):
  """``remedies.execute(remedies.TESTING)`` (run once per session)."""
  return testing_outcome("remedies")


def test_a_row_per_task_cell_remedy_and_span(outcome):
  table = outcome.tables[""]
  st = remedies.TESTING
  assert COLUMNS <= set(table)
  n = sum(len(st.spans(t)) for t in st.tasks) * len(st.cells) * len(
      st.remedies)
  assert len(table["T"]) == n
  assert np.all(table["trials"] == st.trials.count)
  assert np.all((table["lo"] <= table["frequency"])
                & (table["frequency"] <= table["hi"]))
  # Solved means held out: no test sequence wrong; the training-set rule
  # is train_solved.
  runs = outcome.tables["runs"]
  np.testing.assert_array_equal(runs["solved"], runs["test_error"] == 0)
  assert set(np.unique(runs["train_solved"])) <= {0, 1}
  assert np.all((0 <= table["train_frequency"])
                & (table["train_frequency"] <= 1))
  np.testing.assert_array_equal(table["train_frequency"],
                                table["train_solved"] / table["trials"])
  # The median counts training sequences of (held-out) solved trials only.
  solved = table["solved"] > 0
  assert np.all(np.isnan(table["median_sequences"][~solved]))
  for i in np.flatnonzero(solved):
    sel = ((runs["task"] == table["task"][i]) & (runs["cell"] == table["cell"][i])
           & (runs["remedy"] == table["remedy"][i]) & (runs["T"] == table["T"][i])
           & runs["solved"].astype(bool))
    assert table["median_sequences"][i] == np.median(runs["sequences"][sel])
  np.testing.assert_array_equal(runs["sequences"],
                                runs["evaluations"] * 2 * st.trials.n_per_class)
  adding = table["task"] == "adding"
  np.testing.assert_allclose(table["baseline_cost"][adding], 1 / 12)
  assert outcome.figure is not None and "remedies:" in outcome.summary


def test_memorising_the_training_set_is_not_solving():
  """Two training sequences are learnt by heart in a few dozen epochs, the
  test set is not: the training-set rule holds in every trial, the
  headline (no test sequence wrong) in few."""
  st = dataclasses.replace(
      remedies.TESTING, tasks=("latch2",), cells=("elman",),
      remedies=("none",), T_by_task=(("latch2", (8,)),),
      trials=Trials(8, budget=60, patience=60, n_per_class=1,
                    test_per_class=8))
  table, rec, _ = remedies.run(st)
  trained, solved = rec["train_solved"].astype(bool), rec["solved"]
  memorised = trained & (rec["test_error"] > 0)
  assert memorised.sum() >= 4 and not solved[memorised].any()
  assert table["solved"][0] == solved.sum() < table["train_solved"][0]
  assert table["frequency"][0] == solved.mean() < table["train_frequency"][0]
  lo, hi = table["lo"][0], table["hi"][0]
  assert lo <= solved.mean() <= hi < table["train_frequency"][0]


def test_fresh_training_sets_change_the_runs_not_the_test_sets():
  st = dataclasses.replace(remedies.TESTING, tasks=("latch2",),
                           cells=("elman",), remedies=("none",))
  fresh = dataclasses.replace(st, trials=dataclasses.replace(
      st.trials, training_sets="fresh"))
  _, fixed_rec, _ = remedies.run(st)
  _, fresh_rec, _ = remedies.run(fresh)
  assert not np.array_equal(fixed_rec["cost"], fresh_rec["cost"])
  again = remedies.run(fresh)[1]
  for k in fresh_rec:
    np.testing.assert_array_equal(fresh_rec[k], again[k], err_msg=k)


def test_every_pair_sees_the_same_trials(outcome):
  runs = outcome.tables["runs"]
  for task in remedies.TESTING.tasks:
    sel = runs["task"] == task
    # Trial t at span T is run (T index x trials + t) of the task's key, for
    # every cell and remedy: the same rows in every (cell, remedy) group.
    keys = {(c, r): list(zip(runs["T"][sel & (runs["cell"] == c)
                                       & (runs["remedy"] == r)],
                             runs["trial"][sel & (runs["cell"] == c)
                                           & (runs["remedy"] == r)]))
            for c in remedies.TESTING.cells for r in remedies.TESTING.remedies}
    assert len({tuple(v) for v in keys.values()}) == 1


def test_no_remedy_and_clipping_at_a_huge_threshold_agree():
  # The remedies are swept values of one program: clipping at a threshold
  # no gradient reaches changes nothing, so its runs equal "none".
  # (TESTING's latch II program on the tanh RNN: compiled once already.)
  st = dataclasses.replace(remedies.TESTING, tasks=("latch2",),
                           cells=("elman",), remedies=("none", "clip"),
                           clip=1e30)
  _, rec, _ = remedies.run(st)
  none, clip = rec["remedy"] == "none", rec["remedy"] == "clip"
  for k in ("evaluations", "train_solved", "solved", "final_error"):
    np.testing.assert_array_equal(rec[k][none], rec[k][clip], err_msg=k)


def test_the_problems_exist_for_every_task_and_cell():
  for task in remedies.TASKS:
    for cell in remedies.CELLS:
      spec = problems.REGISTRY[problems.named(task, cell)]
      assert spec.cell().name.startswith(cell.split("_")[0]) or cell == "elman"
  for task in remedies.TASKS + ("parity",):
    for cell in remedies.LINEAR:
      net = problems.REGISTRY[problems.named(task, cell)].cell()
      assert net.name == cell and net.n == problems.LINEAR_UNITS
      assert "diagonal" in net.provides


@pytest.mark.parametrize("args,message", [
    (["--remedies=none,magic"], "--remedies: unknown 'magic'"),
    (["--cells=lstm,lstm"], "--cells: names must be distinct"),
    (["--stages=1"], "--stages: must be >= 2"),
    (["--optimizer=lbfgs"], "--optimizer: must be one of adam, momentum, sgd"),
    (["--clip=0"], "--clip: must be finite and > 0"),
    (["--T_values=1,8"], "--T_values: every T must be >= 2"),
    (["--T_values=4,8"], "--T_values: two_sequence needs T/2 >= 3"),
    (["--training_sets=online"],
     "--training_sets: must be one of fixed, fresh"),
    (["--cells=lstm,lru", "--lyapunov=1", "--gain=1,2"],
     "--gain: lru has no recurrent matrix to scale"),
    (["--cells=lru,rnn"], "--cells: unknown 'rnn'"),
])
def test_bad_flags_exit_2_with_one_line(invoke, tmp_path, args, message):
  code, err = invoke("remedies", *args, f"--out_dir={tmp_path}")
  assert code == 2
  assert len(err.strip().splitlines()) == 1 and message in err
  assert not any(tmp_path.iterdir())


def test_the_tanh_rnns_initialisations_share_one_program():
  st = dataclasses.replace(remedies.DEFAULT, cells=("lstm", "elman", "gru",
                                                    "rnn_identity"))
  assert remedies.programs(st, "adding") == [("lstm",), ("elman",
                                             "rnn_identity"), ("gru",)]
  assert len(remedies.programs(remedies.DEFAULT, "latch2")) == 3  # not 5


def test_a_configurations_numbers_do_not_depend_on_its_lane_mates(outcome):
  """One (cell, remedy) alone on the lanes gives, bit for bit, the runs it
  had beside every other remedy and initialisation of the default sweep:
  shared programs and paired keys change where a trial runs, not what it
  computes."""
  alone = dataclasses.replace(remedies.TESTING, cells=("rnn_identity",),
                              remedies=("curriculum",))
  _, rec, _ = remedies.run(alone)
  runs = outcome.tables["runs"]
  sel = (runs["cell"] == "rnn_identity") & (runs["remedy"] == "curriculum")
  assert sel.sum() == len(rec["T"]) > 0
  for k in ("task", "T", "trial", "solved", "train_solved", "evaluations",
            "final_error", "test_cost", "stage"):
    np.testing.assert_array_equal(rec[k], runs[k][sel], err_msg=k)
