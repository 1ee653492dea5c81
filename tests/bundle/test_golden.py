"""Golden files: the whole bundle for one small plan per strategy, byte for byte.

Tiny catalog (tests/fixtures/tiny-catalog) with a 20k-MAU workload, solved through `implan bundle`, one bundle per
strategy; plus the saved AWS, GCP and Hetzner plans rendered with --plan. plan.json is only listed in the MANIFEST:
it is a verbatim copy of the input (test_cli_bundle checks that), and the planner's figures for alternatives the
bundle does not use would otherwise tie these files to every solver change. Update after an intended change with:

    IMPLAN_UPDATE_GOLDEN=1 python -m pytest tests/bundle/test_golden.py
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli import app
from tests.bundle.conftest import FIXTURES, HERE, REPO, TINY

GOLDEN = HERE / "golden"
UPDATE = os.environ.get("IMPLAN_UPDATE_GOLDEN") == "1"
TINY_ARGS = ["--pricing", str(TINY), "--set", "users.mau=20000", "--set", "saas.compare=false"]
CASES = {
    "tiny-public": ["-s", "public", *TINY_ARGS],
    "tiny-private": ["-s", "private", *TINY_ARGS],
    "tiny-hybrid": ["-s", "hybrid", *TINY_ARGS],
    "aws-public": ["-s", "public", "--plan", str(FIXTURES / "plan-aws-public.json")],
    "gcp-public": ["-s", "public", "--plan", str(FIXTURES / "plan-gcp-public.json")],
    "hetzner-public": ["-s", "public", "--plan", str(FIXTURES / "plan-hetzner-public.json")],
}


def _normalise(rel: str, text: str) -> str:
    if rel == "plan.json":
        data = json.loads(text)
        for s in data.get("strategies", []):
            (s.get("solver") or {}).pop("seconds", None)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return text


def _is_static(rel: str) -> bool:
    """Files copied verbatim from templates/ (roles, ansible.cfg...): listed in MANIFEST, not stored twice."""
    for section in ("ansible", "terraform/aws", "terraform/gcp", "terraform/hetzner"):
        if rel.startswith(section + "/"):
            return (REPO / "templates" / rel).is_file() or (REPO / "templates" / section / rel[len(section) + 1:]).is_file()
    return False


def _tree(root: Path) -> dict[str, str]:
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    tree = {"MANIFEST": "\n".join(files) + "\n"}
    for rel in files:
        if rel not in ("MANIFEST", "plan.json") and not _is_static(rel):
            tree[rel] = _normalise(rel, (root / rel).read_text(encoding="utf-8"))
    return tree


@pytest.mark.parametrize("case", sorted(CASES))
def test_bundle_matches_golden(case, tmp_path):
    out = tmp_path / "bundle"
    result = CliRunner().invoke(app, ["bundle", *CASES[case], "--no-wheel", "--out", str(out)])
    assert result.exit_code == 0, result.output
    got = _tree(out)
    gold_dir = GOLDEN / case
    if UPDATE:
        for old in sorted(gold_dir.rglob("*"), reverse=True) if gold_dir.exists() else []:
            if old.is_file():
                old.unlink()
            else:
                old.rmdir()
        for rel, text in got.items():
            (gold_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (gold_dir / rel).write_text(text, encoding="utf-8")
        return
    assert gold_dir.is_dir(), f"no golden files for {case}: run with IMPLAN_UPDATE_GOLDEN=1"
    want = {p.relative_to(gold_dir).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(gold_dir.rglob("*")) if p.is_file()}
    assert sorted(got) == sorted(want), "file lists differ"
    for rel in want:
        assert got[rel] == want[rel], f"{case}/{rel} differs from the golden file"


def test_golden_bundles_carry_no_secret_literals():
    """Secrets are generated at deploy time: the bundle only ever holds lookups, never values."""
    pattern = re.compile(r"(password|secret|requirepass)\s*[:=]\s*['\"]?[A-Za-z0-9]{16,}", re.I)
    for path in GOLDEN.rglob("*"):
        if path.is_file() and path.name != "plan.json":
            for line in path.read_text().splitlines():
                assert not pattern.search(line) or "lookup(" in line or "{{" in line, (path, line)
