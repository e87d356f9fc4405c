import json
import os

import numpy as np
import pytest

from vanishing.engine import results


def test_csv_round_trip(tmp_path):
  cols = {"a": np.array([1.5, np.nan, 0.1]), "b": np.array([True, False, True]),
          "c": np.array([1, 2, 3])}
  p = tmp_path / "t.csv"
  results.write_csv(p, cols)
  back = results.read_csv(p)
  np.testing.assert_array_equal(back["a"], cols["a"])
  np.testing.assert_array_equal(back["b"], [1, 0, 1])
  np.testing.assert_array_equal(back["c"], [1, 2, 3])
  assert p.read_text().splitlines()[1] == "1.5,1,1"
  assert p.stat().st_mode & 0o777 == 0o666 & ~results._umask()


def test_csv_from_pieces_equals_csv_from_the_whole(tmp_path):
  cols = {"a": np.arange(10) * 0.5, "b": np.arange(10) % 3 == 0}
  results.write_csv(tmp_path / "whole.csv", cols)
  pieces = ({k: v[i:i + 4] for k, v in cols.items()} for i in range(0, 10, 4))
  results.write_csv(tmp_path / "pieces.csv", pieces)
  assert (tmp_path / "whole.csv").read_text() == (tmp_path / "pieces.csv").read_text()


def test_unequal_columns_rejected(tmp_path):
  with pytest.raises(ValueError, match="length"):
    results.write_csv(tmp_path / "t.csv", {"a": [1, 2], "b": [1]})
  assert not list(tmp_path.iterdir())


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
  p = tmp_path / "f.bin"
  p.write_bytes(b"old")

  def broken(f):
    f.write(b"half")
    raise RuntimeError("disk full")

  with pytest.raises(RuntimeError):
    results.write_bytes(p, broken)
  assert p.read_bytes() == b"old"
  assert os.listdir(tmp_path) == ["f.bin"]


def test_json_with_numpy_values(tmp_path):
  p = tmp_path / "m.json"
  results.write_json(p, {"x": np.float32(0.5), "y": np.arange(3), "p": tmp_path})
  assert json.loads(p.read_text()) == {"x": 0.5, "y": [0, 1, 2], "p": str(tmp_path)}


def test_environment_names_versions_and_device():
  env = results.environment()
  assert {"jax", "jaxlib", "optax", "python"} <= set(env["versions"])
  assert env["device"]["platform"] == "cpu"


def test_check_writable(tmp_path):
  results.check_writable(tmp_path / "new" / "dir")
  assert (tmp_path / "new" / "dir").is_dir()
  blocker = tmp_path / "file"
  blocker.write_text("not a directory")
  with pytest.raises(OSError):  # fails for root too, unlike permission bits
    results.check_writable(blocker / "sub")
