"""Fixtures every test directory of the repo shares."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

#: A backend package as an outside author writes one (tools/throwaway_backend).
THROWAWAY = Path(__file__).parent / "tools" / "throwaway_backend"

#: Makes a new author's directory (see :func:`new_author_dir`).
AuthorDirFactory = Callable[..., Path]


@pytest.fixture(scope="session")
def new_author_dir(tmp_path_factory: pytest.TempPathFactory) -> AuthorDirFactory:
    """Makes directories outside the repo holding the throwaway backend package, as an
    author's own directory holds theirs (the harness commands run there); each keyword
    argument ``name=source`` adds a module ``name.py`` beside the package."""

    def make(**modules: str) -> Path:
        directory = tmp_path_factory.mktemp("author")
        shutil.copytree(
            THROWAWAY, directory / THROWAWAY.name, ignore=shutil.ignore_patterns("__pycache__")
        )
        for name, source in modules.items():
            (directory / f"{name}.py").write_text(source)
        return directory

    return make


@pytest.fixture
def author_dir(new_author_dir: AuthorDirFactory) -> Path:
    """A new author's directory holding the throwaway backend package."""
    return new_author_dir()
