"""The domain core and the mail package import no framework, no ORM and no network client."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "src" / "signalement"
PURE = ["domain", "mail", "verdict"]
ALLOWED_PREFIXES = ("signalement.domain", "signalement.mail", "signalement.verdict", "__future__")
FORBIDDEN = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "httpx",
    "requests",
    "procrastinate",
    "uvicorn",
    "psycopg",
    "socket",
    "urllib.request",
    "http.client",
    "smtplib",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [p for pkg in PURE for p in (PACKAGE / pkg).rglob("*.py")], ids=str)
def test_pure_packages_stay_pure(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        assert top not in FORBIDDEN and name not in FORBIDDEN, f"{path.name} imports {name}"
        if top == "signalement" and name != "signalement":  # the package itself holds only its __version__
            assert name.startswith(ALLOWED_PREFIXES), f"{path.name} imports the adapter {name}"
