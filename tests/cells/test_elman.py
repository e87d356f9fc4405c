"""README's worked example: a cell written from scratch (``cells.Elman``),
one registry line, one problem line, and it trains like any problem."""

import jax
import numpy as np

from vanishing import cells, methods, problems
from vanishing.methods import base


def test_registered_cell_trains_on_a_paper_task_through_the_shared_methods():
  problem = problems.Problem("latch2_elman", 4)
  assert isinstance(problem.net, cells.Elman) and problem.net.size == 29
  budget = base.Budget(evaluations=300, patience=300)

  def trial(key):
    fit, test, theta0 = problem.draw(key)
    r = methods.solve("multigrid", jax.random.fold_in(key, 1), fit, theta0,
                      budget)
    return r.solved, r.evaluations, test.evaluate(r.theta).error

  solved, evals, test_error = jax.jit(jax.vmap(trial))(
      jax.random.split(jax.random.key(0), 4))
  assert np.asarray(solved).sum() >= 2
  assert np.all(np.asarray(evals) <= 300)
  assert np.all(np.asarray(test_error)[np.asarray(solved)] < 0.1)


def test_methods_that_need_a_masked_net_refuse_it_before_compiling(invoke):
  code, err = invoke("compare", "--problems", "latch2_elman", "--methods",
                     "bptt,discrete", "--out_dir", "/nonexistent/never")
  assert code == 2
  lines = err.strip().splitlines()
  assert len(lines) == 1 and "--methods" in lines[0]
  assert "'discrete'" in lines[0] and "'elman'" in lines[0]
