"""Counts of the code's shape, for issue 14's before/after table and the tests that keep them at zero.

    python scripts/code_shape.py [--json]

- import cycles between the package's modules (every import counts, lazy ones inside functions too, except those
  under `if TYPE_CHECKING:`), as strongly connected components;
- private reach-ins: `from <our module> import _name`, and `obj._name` where `obj` is not `self`/`cls` (a module
  reading another object's underscore attribute);
- modules over 300 lines and functions over 60 lines.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "vgg_deploy"
MODULE_LINES = 300
FUNCTION_LINES = 60


@dataclass
class Shape:
    cycles: list[list[str]] = field(default_factory=list)
    private_imports: list[str] = field(default_factory=list)
    private_attributes: list[str] = field(default_factory=list)
    long_modules: list[str] = field(default_factory=list)
    long_functions: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(value) for name, value in asdict(self).items()}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skip


def imports_of(path: Path, root: Path, modules: set[str]) -> set[str]:
    """The package modules that `path` imports (a `from pkg import mod` names the submodule when it is one)."""
    current = module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(current, path.name == "__init__.py", node)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != current and name.startswith(PACKAGE):
                found.add(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def measure(root: Path = ROOT) -> Shape:
    files = sorted((root / PACKAGE).rglob("*.py"))
    modules = {module_name(path, root) for path in files}
    # a package is its __init__: importing `vgg_deploy.trt` runs it, so its re-exports are edges like any other
    graph = {module_name(path, root): imports_of(path, root, modules) for path in files}
    shape = Shape(cycles=_cycles(graph))
    for path in files:
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MODULE_LINES:
            shape.long_modules.append(f"{rel} ({lines})")
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_LINES:
                    shape.long_functions.append(f"{rel}:{node.lineno} {node.name} ({length})")
            elif isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith(PACKAGE)):
                shape.private_imports += [f"{rel}:{node.lineno} {alias.name}" for alias in node.names
                                          if alias.name.startswith("_") and not alias.name.startswith("__")]
            elif (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                  and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
                  and not _is_library_attribute(node)):
                shape.private_attributes.append(f"{rel}:{node.lineno} {ast.unparse(node)}")
    return shape


# Underscore names that libraries document as public or that have no public equivalent; reading them is a decision
# about a library, not one of our modules reaching into another.
LIBRARY_PRIVATE = {"_int_mm", "_exit", "_asdict", "_replace", "_fields", "_get_default_device", "_C", "_dynamo"}


def _is_library_attribute(node: ast.Attribute) -> bool:
    return node.attr in LIBRARY_PRIVATE or node.attr.startswith("_abc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="everything as JSON")
    args = parser.parse_args()
    shape = measure()
    if args.json:
        print(json.dumps({"counts": shape.counts(), **asdict(shape)}, indent=2))
        return
    for name, value in asdict(shape).items():
        print(f"{name}: {len(value)}")
        for item in value:
            print(f"  {item}")


if __name__ == "__main__":
    main()
