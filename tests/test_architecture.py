"""The layers stay apart: each folder may import only the layers below it.

checker/ is generic and knows nothing of Kafka; protocol/ holds the rules the model and the
reference share and imports neither; the reference core is written independently of the model
(only reference/conformance/, which compares the two, may import it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# folder -> kafka_eos subpackages its modules must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "checker": ("kafka_eos.model", "kafka_eos.reference", "kafka_eos.protocol", "kafka_eos.cli"),
    "protocol": ("kafka_eos.model", "kafka_eos.reference", "kafka_eos.checker", "kafka_eos.cli"),
    "model": ("kafka_eos.reference", "kafka_eos.cli"),
    "reference": ("kafka_eos.model", "kafka_eos.cli"),
    "reference/conformance": ("kafka_eos.cli",),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer_of(path: Path) -> str:
    relative = path.relative_to(ROOT).as_posix()
    if relative.startswith("reference/conformance/"):
        return "reference/conformance"
    return relative.split("/", 1)[0]


@pytest.mark.parametrize("folder", sorted({f.split("/")[0] for f in FORBIDDEN}))
def test_layers_import_only_what_they_may(folder: str) -> None:
    breaches = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        forbidden = FORBIDDEN[_layer_of(path)]
        for name in _imports(path):
            if name.startswith(forbidden):
                breaches.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not breaches, "layer contract broken:\n" + "\n".join(breaches)


def test_every_subpackage_is_listed_for_installation() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    folders = config["tool"]["setuptools"]["package-dir"]
    missing = []
    for package, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            name = ".".join((package, *parts))
            if name not in listed:
                missing.append(name)
    assert not missing, f"add to [tool.setuptools] packages: {missing}"


#: Packages held to ``mypy --strict`` (pyproject's setting for the whole tree).
STRICT_PACKAGES = (
    "kafka_eos.protocol",
    "kafka_eos.checker",
    "kafka_eos.model",
    "kafka_eos.reference",
)


def test_strict_packages_type_check(tmp_path: Path) -> None:
    """mypy cannot follow the editable install's folder mapping (pyproject's package-dir), so
    the kafka_eos package is laid out as installed, with links to the folders, and checked
    there. Modules of other layers they import are followed silently."""
    package = tmp_path / "kafka_eos"
    package.mkdir()
    for entry in (ROOT / "kafka_eos").iterdir():
        (package / entry.name).symlink_to(entry)
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-dir"]
    for name, folder in folders.items():
        if name != "kafka_eos":
            (package / name.removeprefix("kafka_eos.")).symlink_to(ROOT / folder)
    packages = [arg for name in STRICT_PACKAGES for arg in ("-p", name)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(ROOT / ".mypy_cache" / "strict-packages"),
            "--follow-imports=silent",
            *packages,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
