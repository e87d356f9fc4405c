"""The package's layers, read from its source: who may import whom.

``vanishing.engine`` imports nothing of the suite above it; the experiments
never import the command line; the pure layers (cells, tasks, optimizers,
statistics, theory) import neither methods, the engine, experiments nor the
command line; and no module imports, directly or through others, itself.
An import under ``if TYPE_CHECKING:`` is an annotation, not an import.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vanishing"


def _module(path: Path) -> str:
  parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.AST) -> bool:
  return (isinstance(node, ast.If) and isinstance(node.test, (ast.Name, ast.Attribute))
          and ast.unparse(node.test).endswith("TYPE_CHECKING"))


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
  """The suite's modules ``tree`` imports (``from a import b``: ``a.b`` if a
  module, else ``a``), skipping ``if TYPE_CHECKING:`` blocks."""
  found = set()

  def visit(node):
    if _type_checking(node):
      return
    if isinstance(node, ast.Import):
      found.update(a.name for a in node.names if a.name.startswith("vanishing"))
    elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
        "vanishing"):
      for a in node.names:
        sub = f"{node.module}.{a.name}"
        found.add(sub if sub in modules else node.module)
    for child in ast.iter_child_nodes(node):
      visit(child)

  visit(tree)
  return found


def _graph() -> dict[str, set[str]]:
  paths = {_module(p): p for p in PACKAGE.rglob("*.py")}
  return {m: _imports(ast.parse(p.read_text()), set(paths)) - {m}
          for m, p in paths.items()}


GRAPH = _graph()


def _under(module: str, *layers: str) -> bool:
  return any(module == f"vanishing.{l}" or module.startswith(f"vanishing.{l}.")
             for l in layers)


@pytest.mark.parametrize("layer,forbidden", [
    ("engine", ("cells", "tasks", "methods", "problems", "experiments", "cli",
                "theory", "optimizers", "statistics")),
    ("experiments", ("cli",)),
    ("methods", ("experiments", "cli")),
    ("cells", ("tasks", "methods", "problems", "engine", "experiments", "cli")),
    ("tasks", ("methods", "problems", "engine", "experiments", "cli")),
    ("theory", ("methods", "problems", "engine", "experiments", "cli")),
])
def test_a_layer_imports_nothing_above_it(layer, forbidden):
  bad = sorted(f"{m} imports {d}" for m, deps in GRAPH.items()
               if _under(m, layer) for d in deps if _under(d, *forbidden))
  assert not bad, bad


def _cycle(graph) -> list[str] | None:
  """One import cycle of ``graph``, or None (depth-first search)."""
  state, stack = {}, []

  def visit(m):
    state[m] = "open"
    stack.append(m)
    for d in sorted(graph.get(m, ())):
      if state.get(d) == "open":
        return stack[stack.index(d):] + [d]
      if d not in state and (found := visit(d)):
        return found
    stack.pop()
    state[m] = "done"
    return None

  for m in sorted(graph):
    if m not in state and (found := visit(m)):
      return found
  return None


def test_no_module_imports_itself_through_others():
  assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH))


def test_the_cycle_finder_finds_a_cycle():
  assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
  assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_reads_the_imports():
  assert "vanishing.engine.sweep" in GRAPH["vanishing.engine.series"]
  assert "vanishing.experiments.flags" in GRAPH["vanishing.cli.main"]
