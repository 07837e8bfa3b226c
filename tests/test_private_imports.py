"""No module imports another module's underscore names: what crosses modules gets a public name."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vgg_deploy"


def private_imports(path: Path, root: Path) -> list[str]:
    """`from <our module> import _name` lines of one file, as 'path:line: name'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("vgg_deploy")):
            found += [f"{path.relative_to(root).as_posix()}:{node.lineno}: {alias.name}" for alias in node.names
                      if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) for hit in private_imports(path, PACKAGE.parent)]
    assert found == [], "give these a public name instead:\n" + "\n".join(found)


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    fake = tmp_path / "vgg_deploy" / "x.py"
    fake.parent.mkdir()
    fake.write_text("from .backends import _hidden, public\nfrom os import _exit\nfrom vgg_deploy.a import _b\n",
                    encoding="utf-8")
    assert private_imports(fake, tmp_path) == ["vgg_deploy/x.py:1: _hidden", "vgg_deploy/x.py:3: _b"]
