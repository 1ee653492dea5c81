"""Generated Terraform: parses with python-hcl2, every reference resolves, checkov finds no failed check."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from planner.render import render_bundle, write_bundle
from tests.bundle.conftest import checkov_bin, load_fixture_plan, require_tool
from tests.bundle.test_schema import witness_plan

hcl2 = pytest.importorskip("hcl2")

# (fixture plan, strategy): the Terraform-bearing bundles; "witness-<provider>": the private plan over two cabinets
# with its quorum witness on that provider
CASES = [("plan-aws-public.json", "public"), ("plan-aws-hybrid.json", "hybrid"), ("plan-gcp-public.json", "public"),
         ("plan-hetzner-public.json", "public"), ("witness-aws", "private"), ("witness-gcp", "private"),
         ("witness-hetzner", "private")]
REF = re.compile(r"(?<![\w.\-])(var|local|data|aws_[a-z0-9_]+|google_[a-z0-9_]+|hcloud_[a-z0-9_]+)\.([A-Za-z_][\w-]*)"
                 r"(?:\.([A-Za-z_][\w-]*))?")


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0].removesuffix('.json')}-{c[1]}")
def tf_bundle(request, tmp_path_factory):
    plan_name, strategy = request.param
    out = tmp_path_factory.mktemp("tf") / "bundle"
    plan = witness_plan(plan_name[8:]) if plan_name.startswith("witness-") else load_fixture_plan(plan_name)
    write_bundle(render_bundle(plan, strategy), out)
    dirs = sorted(p for p in (out / "terraform").iterdir() if p.is_dir())
    assert dirs, "no Terraform module rendered"
    return out, dirs


def _unq(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == s[-1] == '"' else s


def _strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node


def _declarations(parsed: list[dict]) -> dict[str, set]:
    decl = {"var": set(), "local": set(), "resource": set(), "data": set()}
    for doc in parsed:
        for block in doc.get("variable", []):
            decl["var"].update(_unq(k) for k in block)
        for block in doc.get("locals", []):
            decl["local"].update(_unq(k) for k in block)
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                decl["resource"].update(f"{_unq(rtype)}.{_unq(n)}" for n in named)
        for block in doc.get("data", []):
            for dtype, named in block.items():
                decl["data"].update(f"{_unq(dtype)}.{_unq(n)}" for n in named)
    return decl


def test_every_tf_file_parses_and_every_reference_resolves(tf_bundle):
    _, dirs = tf_bundle
    for module in dirs:
        files = sorted(module.glob("*.tf"))
        assert files
        parsed = []
        for f in files:
            with f.open(encoding="utf-8") as fh:
                parsed.append(hcl2.load(fh))
        decl = _declarations(parsed)
        assert decl["resource"], module
        unresolved = set()
        for doc in parsed:
            for text in _strings(doc):
                for kind, a, b in REF.findall(text):
                    if kind == "var":
                        ok = a in decl["var"]
                    elif kind == "local":
                        ok = a in decl["local"]
                    elif kind == "data":
                        ok = f"{a}.{b}" in decl["data"]
                    else:
                        ok = f"{kind}.{a}" in decl["resource"]
                    if not ok:
                        unresolved.add(f"{kind}.{a}" + (f".{b}" if kind == "data" else ""))
        assert not unresolved, f"{module.name}: unresolved references {sorted(unresolved)}"


def test_no_admin_or_data_port_open_to_the_internet(tf_bundle):
    """Only 443 (and 80 on GCP's redirect) may face 0.0.0.0/0; SSH, PostgreSQL and Redis never do."""
    _, dirs = tf_bundle
    for module in dirs:
        text = "\n".join(f.read_text() for f in sorted(module.glob("*.tf")))
        for block in re.findall(r"ingress \{.*?\n  \}", text, flags=re.S):
            if "0.0.0.0/0" in block or "client_cidrs" in block:
                assert re.search(r"from_port\s+=\s+443", block), block
        assert "associate_public_ip_address = true" not in text
        assert 'http_tokens                 = "optional"' not in text


def test_checkov_reports_no_failed_check_and_readme_lists_every_skip(tf_bundle):
    exe = require_tool(checkov_bin(), "checkov (own virtualenv; set IMPLAN_CHECKOV)")
    out, _ = tf_bundle
    env = dict(os.environ, CKV_SKIP_PACKAGE_UPDATE_CHECK="true")
    proc = subprocess.run([exe, "-d", str(out / "terraform"), "--framework", "terraform", "--skip-download",
                           "--compact", "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    m = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", proc.stdout)
    if all("hetznercloud/hcloud" in "".join(f.read_text() for f in d.glob("*.tf"))
           for d in (out / "terraform").iterdir()):
        # checkov has no policies for the hcloud provider: it must run cleanly and fail nothing
        assert proc.returncode == 0 and "FAILED" not in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
        return
    assert m, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert int(m.group(2)) == 0, proc.stdout[-6000:]
    witness_only = [d.name for d in (out / "terraform").iterdir()] == ["witness"]
    assert int(m.group(1)) > (15 if witness_only else 50)      # the witness module is one VM and its network
    skipped = set(re.findall(r"#checkov:skip=([A-Z0-9_]+):", "\n".join(
        p.read_text() for p in (out / "terraform").rglob("*.tf"))))
    readme = (out / "README.md").read_text()
    for check in skipped:
        assert f"| {check} |" in readme, f"{check} is skipped in code but not listed in the bundle README"
