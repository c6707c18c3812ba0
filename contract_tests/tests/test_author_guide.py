"""The author's guide (contract_tests/README.md): its CI recipe is a valid GitHub
workflow calling the reusable one with inputs it declares, and its noxfile snippet
is Python that runs the documented commands."""

import re
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "contract_tests" / "README.md"
REUSABLE = ROOT / ".github" / "workflows" / "author.yml"


def code_blocks(language: str) -> list[str]:
    """The guide's fenced code blocks in ``language``."""
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(), re.M | re.S)


def test_the_ci_recipe_is_a_valid_workflow_calling_the_reusable_one(tmp_path: Path) -> None:
    callers = [block for block in code_blocks("yaml") if "author.yml" in block]
    assert callers, f"{GUIDE} has no workflow that uses .github/workflows/author.yml"
    declared = YAML(typ="safe").load(REUSABLE.read_text())["on"]["workflow_call"]["inputs"]
    required = {name for name, spec in declared.items() if spec.get("required")}
    for index, block in enumerate(callers):
        path = tmp_path / f"caller-{index}.yml"
        path.write_text(block)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "check_jsonschema",
                "--builtin-schema",
                "vendor.github-workflows",
                str(path),
                str(REUSABLE),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        jobs = YAML(typ="safe").load(block)["jobs"].values()
        (job,) = [job for job in jobs if "author.yml" in job.get("uses", "")]
        given = set(job.get("with", {}))
        assert given <= set(declared), (
            f"inputs author.yml does not declare: {given - set(declared)}"
        )
        assert required <= given, f"required inputs missing: {required - given}"


def test_the_noxfile_snippet_runs_the_documented_commands() -> None:
    snippets = [block for block in code_blocks("python") if "@nox.session" in block]
    assert snippets, f"{GUIDE} has no noxfile snippet"
    for snippet in snippets:
        compile(snippet, "noxfile.py", "exec")
        assert '"pynenc_contract.suite"' in snippet
        assert '"--contract-backend"' in snippet
        assert '"pynenc-scenarios"' in snippet
