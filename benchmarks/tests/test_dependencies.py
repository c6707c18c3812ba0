"""A missing dependency stops the run at start with one line naming the fix.

The dependencies are installed here: the tests make the check's look-ups miss them.
"""

from pathlib import Path

import pytest

from pynenc_bench import cli, dependencies

#: A spec that cannot load: the check must come first, or main() exits on a usage error.
UNLOADABLE = "nobody=no_such_package.contract:BACKEND"


def _without_module(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    real = dependencies.importable
    monkeypatch.setattr(dependencies, "importable", lambda name: name != missing and real(name))


def _without_py_spy(monkeypatch: pytest.MonkeyPatch) -> None:
    def py_spy_path() -> str:
        raise RuntimeError("--profile samples runners with py-spy: `pip install py-spy`")

    monkeypatch.setattr(dependencies, "py_spy_path", py_spy_path)


def test_missing_matplotlib_stops_a_scale_run_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _without_module(monkeypatch, "matplotlib")
    out = tmp_path / "out"
    status = cli.main(["--backend", UNLOADABLE, "--phases", "suite,scale", "--out", str(out)])
    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        "pynenc-bench: missing matplotlib (the scale and e2e charts); "
        "install it: pip install matplotlib"
    ]
    assert not out.exists()


def test_missing_py_spy_stops_an_e2e_run_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _without_py_spy(monkeypatch)
    _without_module(monkeypatch, "matplotlib")
    status = cli.main(["--backend", UNLOADABLE, "--phases", "e2e", "--out", str(tmp_path)])
    assert status == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "py-spy (the e2e phase's CPU profile)" in line
    assert line.endswith("install them: pip install matplotlib py-spy")


def test_each_dependency_is_needed_only_where_the_run_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_py_spy(monkeypatch)
    _without_module(monkeypatch, "rich")
    assert dependencies.missing_message(["suite", "growth", "scale"], terminal=False) is None
    assert "pip install py-spy" in (dependencies.missing_message(["e2e"], False) or "")
    assert "pip install rich" in (dependencies.missing_message(["suite"], True) or "")


def test_with_everything_installed_nothing_is_missing() -> None:
    assert dependencies.missing_message(["suite", "growth", "scale", "e2e"], True) is None
