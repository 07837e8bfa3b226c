"""The package has no import cycle, and no module imports another's underscore names or reads another object's
underscore attributes (scripts/code_shape.py counts them, lazy imports inside functions included); and the checks
see a planted cycle and reach-ins."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("code_shape", ROOT / "scripts" / "code_shape.py")
assert _spec is not None and _spec.loader is not None
code_shape = importlib.util.module_from_spec(_spec)
sys.modules["code_shape"] = code_shape  # dataclasses look their module up while the class is built
_spec.loader.exec_module(code_shape)


def test_no_import_cycles() -> None:
    cycles = code_shape.measure(ROOT).cycles
    assert cycles == [], "these modules import each other (directly or around a loop):\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles)


def test_no_module_imports_another_modules_private_names() -> None:
    found = code_shape.measure(ROOT).private_imports
    assert found == [], "give these a public name instead:\n" + "\n".join(found)


def test_no_module_reads_another_objects_private_attributes() -> None:
    found = code_shape.measure(ROOT).private_attributes
    assert found == [], "use or add a public name instead:\n" + "\n".join(found)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"vgg_deploy/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_checks_see_a_cycle_through_a_lazy_import_and_a_reach_in(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "vgg_deploy/a.py": "from .b import thing\nfrom os import _exit\nfrom vgg_deploy.b import _hidden\n",
        "vgg_deploy/b.py": "def thing(runner):\n    from .a import other\n    return runner._session\n",
        "vgg_deploy/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n"
                           "class C:\n    def f(self):\n        return self._own\n",
    })
    shape = code_shape.measure(root)
    assert shape.cycles == [["vgg_deploy.a", "vgg_deploy.b"]]  # c's TYPE_CHECKING import and self._own do not count
    assert shape.private_attributes == ["vgg_deploy/b.py:3 runner._session"]
    assert shape.private_imports == ["vgg_deploy/a.py:3 _hidden"]  # another library's underscore name is its own
