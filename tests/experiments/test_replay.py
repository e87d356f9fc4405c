"""The LSTM paper's replay (``remedies --preset lstm_1997_2seq`` /
``lstm_1997_adding``): its online protocol, stops, records and verdicts."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vanishing import problems, statistics, tasks
from vanishing.experiments import remedies
from vanishing.experiments.remedies import replay, replay_report

TINY_2SEQ = dataclasses.replace(
    remedies.LSTM_1997_2SEQ, T=(4,), N_values=(1,), cells=("lstm_1997",),
    trials=remedies.Trials(3, budget=3000, test_per_class=16), check_every=100)


@pytest.fixture(scope="module")
def two_seq():
  return replay.run(TINY_2SEQ)


def test_pick_one_takes_one_sequence_of_a_batch():
  b = tasks.get("adding_1997").sample(jax.random.key(0), 2, 8, 8)
  one = replay.pick_one(b, jnp.int32(3))
  np.testing.assert_array_equal(one.inputs[:, 0], b.inputs[:, 3])
  assert one.inputs.shape == (8, 1, 2)
  assert (one.targets[0], one.lengths[0]) == (b.targets[3], b.lengths[3])


def test_records_follow_the_protocol(two_seq):
  table, rec, _ = two_seq
  st = TINY_2SEQ
  assert len(rec["T"]) == st.trials.count
  # Counts are whole checks; a trial stops at its stop or its budget.
  assert np.all(rec["sequences"] % st.check_every == 0)
  solved = rec["solved"].astype(bool)
  np.testing.assert_array_equal(solved, rec["sequences_stop"] >= 0)
  np.testing.assert_array_equal(rec["sequences"][solved],
                                rec["sequences_stop"][solved])
  assert np.all(rec["sequences"][~solved] >= st.trials.budget)
  # ST2 implies ST1: the first ST1 is no later than the stop.
  assert np.all(rec["sequences_st1"][solved] <= rec["sequences_stop"][solved])
  assert np.all(rec["sequences_st1"] <= rec["sequences"])
  assert np.all((0 <= rec["final_wrong"]) & (rec["final_wrong"] <= replay.FINAL))
  assert table["solved"][0] == solved.sum()


def test_the_replay_is_reproducible(two_seq):
  _, again, _ = replay.run(TINY_2SEQ)
  for k, v in two_seq[1].items():
    np.testing.assert_array_equal(v, again[k], err_msg=k)


def test_the_lstm_learns_the_short_two_sequence_problem(two_seq):
  """At T = 4 (N = 1) the 1997 LSTM meets ST1 (no test sequence wrong)
  within 3,000 fresh sequences in every trial, and generalises: at most 1%
  of 2,560 new sequences wrong."""
  _, rec, _ = two_seq
  assert np.all(rec["sequences_st1"] > 0), rec["sequences_st1"]
  assert np.all(rec["final_wrong"] <= 26), rec["final_wrong"]


def test_the_adding_stop_needs_the_recent_sequences_right():
  """Experiment 4's rule judges the last 2,000 training sequences: no trial
  can stop before 2,000 sequences."""
  st = dataclasses.replace(
      remedies.LSTM_1997_ADDING, T=(4,), cells=("lstm_1997",),
      trials=remedies.Trials(2, budget=2500, test_per_class=8),
      check_every=500)
  _, rec, _ = replay.run(st)
  stopped = rec["sequences_stop"][rec["solved"].astype(bool)]
  assert np.all(stopped >= replay.RECENT)
  assert set(rec["N"]) == {-1} and set(rec["task"]) == {"adding_1997"}


def test_verdicts_set_ours_beside_the_published_numbers():
  table = {"task": np.asarray(["two_sequence_1997"] * 3 + ["adding_1997"]),
           "cell": np.asarray(["lstm_1997", "lstm_1997", "gru", "lstm_1997"]),
           "T": np.asarray([100, 100, 100, 100]),
           "N": np.asarray([3, 1, 3, -1]),
           "st1_mean": np.asarray([27000.0, 20000.0, 27000.0, np.nan]),
           "st1_se": np.asarray([1000.0, 1000.0, 1000.0, np.nan]),
           "st1_censored": np.asarray([0, 0, 0, 10]),
           "stop_mean": np.asarray([40000.0, 30000.0, 40000.0, 90000.0]),
           "stop_se": np.asarray([1000.0, 1000.0, 1000.0, 3000.0]),
           "stop_censored": np.asarray([0, 0, 0, 2]),
           # the means with the censored trials counted at their budget
           "st1_floor": np.asarray([27000.0, 20000.0, 27000.0, 300000.0]),
           "st1_floor_se": np.asarray([1000.0, 1000.0, 1000.0, 0.0]),
           "stop_floor": np.asarray([40000.0, 30000.0, 40000.0, 95000.0]),
           "stop_floor_se": np.asarray([1000.0, 1000.0, 1000.0, 3000.0])}
  cols = replay_report.published_columns(table)
  assert list(cols["verdict_st1"]) == ["agrees", "differs",
                                       "no published number",
                                       "no published number"]
  # The floor 95,000 - 3 x 3,000 = 86,000 > 74,000: above the paper's mean.
  assert list(cols["verdict_stop"]) == ["agrees", "differs",
                                        "no published number", "differs"]
  assert cols["published_stop"][0] == 39850 and np.isnan(
      cols["published_stop"][2])


def test_the_papers_nets_have_the_papers_weight_counts():
  nets = {k: problems.REGISTRY[problems.named(t, "lstm_1997")].cell().size
          for k, t in (("3a", "two_sequence_1997"), ("4", "adding_1997"))}
  assert nets == {"3a": 102, "4": 93}


def test_the_verdict_rule():
  assert statistics.verdict(100.0, 10.0, 0, 125.0) == "agrees"
  assert statistics.verdict(100.0, 10.0, 0, 135.0) == "differs"
  assert statistics.verdict(100.0, 10.0, 1, 135.0) == "undetermined"
  assert statistics.verdict(200.0, 10.0, 1, 135.0) == "differs"
  assert statistics.verdict(100.0, np.nan, 0, 100.0) == "undetermined"
  assert statistics.verdict(100.0, 10.0, 0, None) == "no published number"


@pytest.mark.parametrize("args,message", [
    (["--preset=lstm_1997_2seq", "--remedies=clip"],
     "--remedies: not with --preset=lstm_1997_2seq"),
    (["--preset=lstm_1997_adding", "--optimizer=sgd"],
     "--optimizer: not with --preset=lstm_1997_adding"),
    (["--preset=lstm_1997_2seq", "--cells=elman"],
     "--cells: lstm_1997_2seq replays lstm_1997, gru, rnn_identity"),
    (["--preset=lstm_1997_2seq", "--T_values=2"],
     "--T_values: lstm_1997_2seq needs T >= 4"),
    (["--preset=lstm_1997_2seq", "--N_values=5", "--T_values=4"],
     "--T_values: lstm_1997_2seq needs T >= 5"),
    (["--preset=lstm_1997_2seq", "--gradient=exact"],
     "--gradient: must be one of truncated, full"),
    (["--N_values=1"], "--N_values: only with a replay"),
    (["--cells=lstm_1997"], "--cells: lstm_1997 trains under a replay"),
])
def test_bad_replay_flags_exit_2_with_one_line(invoke, tmp_path, args,
                                               message):
  code, err = invoke("remedies", *args, f"--out_dir={tmp_path}")
  assert code == 2
  assert len(err.strip().splitlines()) == 1 and message in err, err
  assert not any(tmp_path.iterdir())
