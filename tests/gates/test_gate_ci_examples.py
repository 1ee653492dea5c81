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
BASE_MAU, WITHIN_MAU, OVER_MAU = 20_000, 21_000, 1_000_000  # within +10% and far above it (shipped catalogs)


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


JOBS = {"github": ("github-actions.yml", github_job), "gitlab": ("gitlab-ci.yml", gitlab_job)}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory, shim) -> dict:
    """Both examples' implan lines, run on a within-limit and an over-limit pull request, concurrently."""
    out = {}
    for flavor, (example, reader) in JOBS.items():
        env, scripts, lines = reader(EXAMPLES / example)
        root = tmp_path_factory.mktemp(flavor)
        out[flavor] = {"env": env, "scripts": scripts, "lines": lines,
                       "within_dir": checkout(root / "within", BASE_MAU, WITHIN_MAU),
                       "over_dir": checkout(root / "over", BASE_MAU, OVER_MAU)}
    with ThreadPoolExecutor(4) as pool:
        # both checkouts of a job share the target branch: its baseline plan (the first line) runs once, is copied
        plans = {f: pool.submit(bash, j["lines"][0], j["env"], j["within_dir"], shim) for f, j in out.items()}
        for f, j in out.items():
            j["plan"] = plans[f].result()
            if j["plan"].returncode == 0:
                (j["over_dir"] / "baseline.json").write_bytes((j["within_dir"] / "baseline.json").read_bytes())
        checks = {(f, case): pool.submit(bash, j["lines"][1], j["env"], j[f"{case}_dir"], shim)
                  for f, j in out.items() if len(j["lines"]) > 1 for case in ("within", "over")}
        for (f, case), fut in checks.items():
            out[f][case] = fut.result()
    return out


@pytest.mark.parametrize("flavor", list(JOBS))
def test_example_ci_job(flavor, jobs):
    job = jobs[flavor]
    lines, scripts = job["lines"], job["scripts"]
    assert [line.split()[1] for line in lines] == ["plan", "check"]
    assert f"--format {flavor} --out implan-comment.md" in lines[1]
    # the step that posts the comment reads the file the check writes
    assert any("implan-comment.md" in s and ("gh pr comment" in s or "/notes" in s) for s in scripts)
    assert job["plan"].returncode == 0, job["plan"].stderr
    within, over = job["within"], job["over"]
    assert within.returncode == 0, within.stderr
    assert over.returncode == 1, over.stderr

    ok = (job["within_dir"] / "implan-comment.md").read_text(encoding="utf-8")
    bad = (job["over_dir"] / "implan-comment.md").read_text(encoding="utf-8")
    money = r"\$[\d,]+(?:\.\d\d)?"
    assert re.search(rf"^### ✅ implan cost check passed: public {money} → {money}/month \(▲ \+{money}, \+\d+\.\d+%\)$",
                     ok, re.M), ok
    assert re.search(rf"^### ❌ implan cost check FAILED: public {money} → {money}/month \(▲ \+{money}, \+\d+\.\d+%\)$",
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
