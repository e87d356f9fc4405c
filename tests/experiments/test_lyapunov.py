"""Lyapunov exponents as a per-run diagnostic (density, remedies) and the
trainability table (``experiments.lyapunov``)."""

import dataclasses

import numpy as np
import pytest

from vanishing import theory
from vanishing.experiments import lyapunov, remedies
from vanishing.experiments.latch import density


def _density(k, w0=(0.5, 0.8, 1.0, 1.5, 2.5)):
  # No initial input and no noise: every sequence stays at a = 0, the
  # attractor a* of w0 <= 1 (the unstable fixed point for w0 > 1).
  st = dataclasses.replace(
      density.TESTING, w0=w0, s=(0.0,), trials=3, lyapunov=k,
      config=dataclasses.replace(density.TESTING.config, h_init=0.0,
                                 epochs=5))
  return st, density.run(st)[1].gather()


def test_density_records_the_closed_form_exponent_at_w0():
  st, rec = _density(1)
  w0 = rec["w0"].astype(np.float32).astype(np.float64)
  # w0 <= 1: log |M'(a*)| with a* = theory.attractor(w0) = 0.
  low = w0 <= 1
  assert np.all(theory.attractor(w0[low]) == 0)
  np.testing.assert_allclose(
      rec["lyapunov_init"][low],
      np.log(np.abs(theory.contraction_at_attractor(w0[low]))), rtol=1e-6,
      atol=1e-7)
  # w0 > 1: log M'(0) = log w0 on the unstable fixed point the state keeps.
  np.testing.assert_allclose(rec["lyapunov_init"][~low], np.log(w0[~low]),
                             rtol=1e-6)
  assert np.all(np.isfinite(rec["lyapunov_final"]))


def test_density_columns_vanish_without_the_flag():
  _, rec = _density(0, w0=(0.5,))
  assert not any(k.startswith("lyapunov") for k in rec)


def test_density_outcome_has_the_trainability_table(testing_outcome):
  out = testing_outcome("density")
  parts = list(out.tables["runs"])
  runs = {k: np.concatenate([np.asarray(p[k]) for p in parts])
          for k in ("w0", "lyapunov_init", "test_acc")}
  t = out.tables["trainability"]
  assert t["trials"].sum() == len(runs["w0"])
  assert t["successes"].sum() == np.sum(runs["test_acc"] == 1)
  assert np.all((t["lo"] <= t["rate"]) & (t["rate"] <= t["hi"]))
  assert np.all(np.isfinite(runs["lyapunov_init"]))


def test_remedies_records_exponents_in_the_same_sweep(testing_outcome):
  runs = testing_outcome("remedies").tables["runs"]
  assert remedies.TESTING.lyapunov == 1 and remedies.DEFAULT.lyapunov == 0
  for k in ("lyapunov_init", "lyapunov_final"):
    assert np.all(np.isfinite(runs[k]))
  assert "lyapunov_init_1" not in runs
  t = testing_outcome("remedies").tables["trainability"]
  assert t["trials"].sum() == len(runs["T"])
  assert t["successes"].sum() == np.sum(runs["test_error"] == 0)


def test_remedies_k_exponents_are_sorted_and_vanish_at_0():
  base = dataclasses.replace(remedies.TESTING, tasks=("latch2",),
                             cells=("elman", "rnn_identity"),
                             remedies=("none",))
  _, rec, _ = remedies.run(dataclasses.replace(base, lyapunov=3))
  for w in ("init", "final"):
    lam = np.stack([rec[f"lyapunov_{w}_{i}"] for i in (1, 2, 3)], 1)
    assert np.all(np.diff(lam, axis=1) <= 1e-6)
    np.testing.assert_array_equal(rec[f"lyapunov_{w}"], lam[:, 0])
  _, off, _ = remedies.run(dataclasses.replace(base, lyapunov=0))
  assert not any(k.startswith("lyapunov") for k in off)
  for k in ("solved", "evaluations", "final_error", "test_error"):
    np.testing.assert_array_equal(off[k], rec[k], err_msg=k)


def test_a_gain_scales_the_initial_recurrent_matrix():
  st = dataclasses.replace(remedies.TESTING, tasks=("latch2",),
                           cells=("rnn_identity", "lstm"),
                           remedies=("none",), gain=(0.25, 0.5, 1.0))
  _, rec, _ = remedies.run(st)
  lam = {(c, g): rec["lyapunov_init"][(rec["cell"] == c) & (rec["gain"] == g)]
         for c in st.cells for g in st.gain}
  assert len({len(x) for x in lam.values()}) == 1  # paired: the same trials
  # W = g I below saturation: lambda_1 grows with g (log g when linear).
  idt = [lam["rnn_identity", g] for g in st.gain]
  assert np.all(idt[0] < idt[1]) and np.all(idt[1] < idt[2])
  assert not np.array_equal(lam["lstm", 0.25], lam["lstm", 1.0])
  t = lyapunov.trainability({**rec, "success": rec["test_error"] == 0},
                            ("task", "cell", "remedy", "T"))
  fig = lyapunov.figure(t, ("task", "remedy", "T"), "cell")
  assert len(fig.axes) == len(st.spans("latch2"))


def test_scale_recurrent_touches_the_recurrent_matrix_only():
  from vanishing import problems
  net = problems.REGISTRY[problems.named("latch2", "gru")].cell()
  theta = np.arange(net.size, dtype=np.float32)
  got = np.asarray(lyapunov.scale_recurrent(net, theta, 2.0))
  R = 3 * 4 * 4
  np.testing.assert_array_equal(got[:R], 2 * theta[:R])
  np.testing.assert_array_equal(got[R:], theta[R:])


def test_trainability_bins_with_wilson_intervals():
  rec = {"lyapunov_init": np.array([-2.0, -1.9, -1.0, 0.0, 0.1, np.nan]),
         "success": np.array([0, 0, 1, 1, 0, 1], bool),
         "cell": np.array(["a"] * 6)}
  t = lyapunov.trainability(rec, ("cell",), bins=2)
  # Edges -2, -0.95, 0.1; the NaN is left out.
  np.testing.assert_array_equal(t["trials"], [3, 2])
  np.testing.assert_array_equal(t["successes"], [1, 1])
  np.testing.assert_allclose(t["bin_lo"], [-2.0, -0.95])
  np.testing.assert_allclose(t["lyapunov_init"], [-4.9 / 3, 0.05])
  assert np.all((t["lo"] <= t["rate"]) & (t["rate"] <= t["hi"]))


@pytest.mark.parametrize("args,message", [
    (["remedies", "--lyapunov=-1"], "--lyapunov: must be >= 0"),
    (["remedies", "--lyapunov=5"], "--lyapunov: must be <= 4"),
    (["remedies", "--lyapunov=x"], "--lyapunov: expected an integer"),
    (["remedies", "--gain=0,1"], "--gain: gains must be > 0"),
    (["remedies", "--gain=1", "--lyapunov=0"], "--gain: needs --lyapunov"),
    (["density", "--lyapunov=2"], "--lyapunov: must be 0 or 1"),
])
def test_bad_lyapunov_flags_exit_2_with_one_line(invoke, tmp_path, args,
                                                 message):
  code, err = invoke(*args, f"--out_dir={tmp_path}")
  assert code == 2
  assert len(err.strip().splitlines()) == 1 and message in err
  assert not any(tmp_path.iterdir())
