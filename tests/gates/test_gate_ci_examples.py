"""The example CI jobs in docs/examples run their exact `implan` lines against two versions of a workload.

The lines that invoke implan are taken from the YAML (GitHub Actions `run:` scripts, GitLab CI `script:` entries)
and run with bash, in order, in a scratch checkout that has the pull request's workload at chat/workload.yaml and
the target branch's at base/chat/workload.yaml (what the job's `git worktree add base ...` step makes), with the
job's own environment variables. One version stays within the 10% gate, one goes over it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
IMPLAN_LINE = re.compile(r"^\s*implan\s")
WORKLOAD = "name: team-chat\nusers:\n  mau: {mau}\nstrategies: [public]\n"
BASE_MAU, WITHIN_MAU, OVER_MAU = 20_000, 21_000, 40_000  # +2% and +40%-ish on the shipped catalogs


def github_job(path: Path) -> tuple[dict, list[str], list[str]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    (job,) = doc["jobs"].values()
    env = {**doc.get("env", {}), **job.get("env", {})}
    runs = [s["run"] for s in job["steps"] if "run" in s]
    return env, runs, [line.strip() for r in runs for line in r.splitlines() if IMPLAN_LINE.match(line)]


def gitlab_job(path: Path) -> tuple[dict, list[str], list[str]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    (job,) = doc.values()
    scripts = job["script"] + job.get("after_script", [])
    return job["variables"], scripts, [s.strip() for s in job["script"] if IMPLAN_LINE.match(s)]


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    """An `implan` on PATH that runs this checkout's planner with the test's interpreter."""
    d = tmp_path_factory.mktemp("bin")
    exe = d / "implan"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m planner "$@"\n', encoding="utf-8")
    exe.chmod(0o755)
    return d


def checkout(workdir: Path, base_mau: int, pr_mau: int) -> Path:
    (workdir / "chat").mkdir(parents=True)
    (workdir / "base" / "chat").mkdir(parents=True)
    (workdir / "chat" / "workload.yaml").write_text(WORKLOAD.format(mau=pr_mau), encoding="utf-8")
    (workdir / "base" / "chat" / "workload.yaml").write_text(WORKLOAD.format(mau=base_mau), encoding="utf-8")
    return workdir


def bash(line: str, env: dict, workdir: Path, shim: Path) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **{k: str(v) for k, v in env.items()}, "PATH": f"{shim}:{os.environ['PATH']}",
                "COLUMNS": "120"}
    return subprocess.run(["bash", "-c", line], cwd=workdir, env=full_env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("example,reader,flavor", [("github-actions.yml", github_job, "github"),
                                                   ("gitlab-ci.yml", gitlab_job, "gitlab")])
def test_example_ci_job(example, reader, flavor, tmp_path, shim):
    env, scripts, lines = reader(EXAMPLES / example)
    assert [line.split()[1] for line in lines] == ["plan", "check"]
    assert f"--format {flavor} --out implan-comment.md" in lines[1]
    # the step that posts the comment reads the file the check writes
    assert any("implan-comment.md" in s and ("gh pr comment" in s or "/notes" in s) for s in scripts)
    within_dir = checkout(tmp_path / "within", BASE_MAU, WITHIN_MAU)
    over_dir = checkout(tmp_path / "over", BASE_MAU, OVER_MAU)
    # both checkouts share the target branch, so the baseline plan (the first line) is run once and copied
    plan = bash(lines[0], env, within_dir, shim)
    assert plan.returncode == 0, plan.stderr
    (over_dir / "baseline.json").write_bytes((within_dir / "baseline.json").read_bytes())
    with ThreadPoolExecutor(2) as pool:
        within_f = pool.submit(bash, lines[1], env, within_dir, shim)
        over_f = pool.submit(bash, lines[1], env, over_dir, shim)
        within, over = within_f.result(), over_f.result()
    assert within.returncode == 0, within.stderr
    assert over.returncode == 1, over.stderr

    ok = (tmp_path / "within" / "implan-comment.md").read_text(encoding="utf-8")
    bad = (tmp_path / "over" / "implan-comment.md").read_text(encoding="utf-8")
    money = r"\$[\d,]+(?:\.\d\d)?"
    assert re.search(rf"^### ✅ implan cost check passed: public {money} → {money}/month \(▲ \+{money}, \+\d+\.\d%\)$",
                     ok, re.M), ok
    assert re.search(rf"^### ❌ implan cost check FAILED: public {money} → {money}/month \(▲ \+{money}, \+\d+\.\d%\)$",
                     bad, re.M), bad
    assert "| max increase % | +10% |" in ok and "✅ pass |" in ok and "❌ fail |" in bad
    assert "<details><summary>" in bad and "- **max increase %**: public: monthly cost" in bad
    assert "::error" not in ok + bad
    if flavor == "github":
        assert ok.startswith("<!-- implan-check -->")
        assert over.stdout.startswith("::error title=implan cost gate max_increase_pct::public: monthly cost ")
        assert within.stdout == ""
    else:
        assert ok.startswith("<!-- implan-check:gitlab -->") and over.stdout == ""
    assert "gate max_increase_pct failed" in over.stderr
