"""Multi-device sweeps on CPU: 4 host devices in a subprocess (vmapped
blocks and refilled lanes)."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np

import test_runs
from vanishing.engine import sweep
from test_store import AXES, FN

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import jax
    from vanishing.engine import sweep
    sys.path.insert(0, {tests!r})
    from test_store import AXES, FN
    import test_runs
    assert jax.local_device_count() == 4, jax.devices()
    out = {{}}
    for n in (4, 3):
      res = sweep.run(FN, AXES, 12, 4, chunk=16, block=8,
                      devices=jax.local_devices()[:n])
      out.update({{f"{{n}}_{{k}}": v for k, v in res.records.items()}})
      res = sweep.run(test_runs.STEPS, test_runs.AXES, 9, 4, block=2,
                      devices=jax.local_devices()[:n])
      out.update({{f"steps{{n}}_{{k}}": v for k, v in res.records.items()}})
    np.savez({path!r}, **out)
""")


def test_four_and_three_devices_equal_one_device_bit_for_bit(tmp_path):
  path = str(tmp_path / "multi.npz")
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
             JAX_PLATFORMS="cpu")
  code = SCRIPT.format(tests=os.path.dirname(__file__), path=path)
  p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                     text=True, timeout=600)
  assert p.returncode == 0, p.stderr[-3000:]
  single = sweep.run(FN, AXES, 12, 4, chunk=16, block=8)
  steps = sweep.run(test_runs.STEPS, test_runs.AXES, 9, 4, block=2,
                    devices=jax.local_devices()[:1])  # refilled lanes
  multi = np.load(path)
  for n in (4, 3):
    for k, v in single.records.items():
      np.testing.assert_array_equal(multi[f"{n}_{k}"], v, err_msg=f"{n} devices: {k}")
    for k, v in steps.records.items():
      np.testing.assert_array_equal(multi[f"steps{n}_{k}"], v,
                                    err_msg=f"steps on {n} devices: {k}")


def test_command_line_on_four_devices_writes_the_same_density_csv(tmp_path):
  small = ["density", "--w0=1,2", "--s=0,0.3", "--trials=300", "--epochs=100",
           "--chunk=512"]
  env4 = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
              JAX_PLATFORMS="cpu")
  for out, env in ((tmp_path / "four", env4), (tmp_path / "one", None)):
    p = subprocess.run([sys.executable, "-m", "vanishing", *small,
                        f"--out_dir={out}"], env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
  import json
  assert json.loads((tmp_path / "four" / "density.json").read_text())["devices"] == 4
  for f in ("density.csv", "density_runs.csv"):
    assert (tmp_path / "four" / f).read_bytes() == (tmp_path / "one" / f).read_bytes()


def test_the_package_asks_for_one_cpu_device_per_core(monkeypatch):
  from vanishing.engine import devices
  monkeypatch.setattr(devices, "_backend_started", lambda: False)
  env = {"XLA_FLAGS": "--xla_cpu_foo=1"}
  assert devices.use_all_cores(env)
  assert env["XLA_FLAGS"] == (f"--xla_cpu_foo=1 {devices.FLAG}="
                              f"{devices.cores()}")
  env = {"XLA_FLAGS": f"{devices.FLAG}=1"}  # the user's count wins
  assert not devices.use_all_cores(env)
  assert env == {"XLA_FLAGS": f"{devices.FLAG}=1"}
  monkeypatch.setattr(devices, "_backend_started", lambda: True)
  env = {}
  assert not devices.use_all_cores(env) and env == {}  # too late to change


def _fresh(code: str) -> subprocess.CompletedProcess:
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  return subprocess.run([sys.executable, "-c", code], env=env,
                        capture_output=True, text=True, timeout=300)


def test_the_command_line_gets_one_device_per_core():
  p = _fresh("import vanishing.__main__, jax; "
             "from vanishing.engine import devices; "
             "assert jax.local_device_count() == devices.cores(), jax.devices()")
  assert p.returncode == 0, p.stderr[-2000:]


def test_importing_the_package_leaves_the_devices_alone():
  p = _fresh("import os, vanishing, vanishing.experiments, jax; "
             "assert 'XLA_FLAGS' not in os.environ, os.environ['XLA_FLAGS']; "
             "assert jax.local_device_count() == 1, jax.devices()")
  assert p.returncode == 0, p.stderr[-2000:]
