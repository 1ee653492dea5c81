"""The one Jinja2 environment for bundle templates (strict: a missing variable is an error)."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import jinja2

from planner.errors import PlannerError

TEMPLATE_PACKAGE = "planner.templates_data"
RENDERED_SUFFIX = ".jinja"     # rendered by implan; everything else (incl. Ansible's own *.j2) is copied verbatim

# Checks deliberately skipped in the generated Terraform. Each skip sits in the code as `#checkov:skip=ID:reason`
# (rendered from this table by the `skip()` template function) and the bundle README lists every one.
CHECKOV_SKIPS = {
    "CKV_AWS_144": "cross-region replication of the media bucket doubles storage cost; the plan prices one region "
                   "(enable it with a second bucket if the business needs regional disaster recovery)",
    "CKV2_AWS_62": "media objects are written by clients through pre-signed URLs; nothing consumes bucket events",
    "CKV_AWS_18": "the access-log bucket is the logging target itself (logging it would recurse)",
    "CKV_AWS_145": "load balancer access-log delivery supports only SSE-S3 (AES256) on the target bucket, not KMS",
    "CKV2_AWS_28": "a Network Load Balancer passes TLS WebSocket traffic and cannot carry a WAF web ACL",
    "CKV2_AWS_11": "the quorum witness's own VPC carries only Sentinel votes and SSH; VPC flow logs (CloudWatch "
                   "log group, KMS key, IAM role) would cost more than the witness VM the plan prices",
    "CKV2_AWS_41": "the quorum witness calls no AWS API (it runs Redis Sentinel only): no instance role to attach",
    "CKV_GCP_38": "boot disks use Google-managed encryption at rest; customer-supplied keys (CSEK) would have to be "
                  "supplied on every VM start by the operator, which an autoscaled managed instance group cannot do",
    "CKV_GCP_62": "the access-log bucket is the logging target itself (logging it would recurse)",
}


def _loader(name: str) -> str:
    try:
        return resources.files(TEMPLATE_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise jinja2.TemplateNotFound(name) from None


def _skip(check_id: str) -> str:
    if check_id not in CHECKOV_SKIPS:
        raise PlannerError(f"template asks to skip {check_id}, which is not in CHECKOV_SKIPS")
    return f"#checkov:skip={check_id}:{CHECKOV_SKIPS[check_id]}"


def _hcl(value) -> str:
    """A Python value as an HCL literal (strings are JSON-quoted, which HCL accepts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_hcl(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    return json.dumps(value)


def _yaml(value) -> str:
    """A scalar as a YAML flow value (JSON is valid YAML)."""
    return json.dumps(value)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (_loader(name), None, lambda: True)),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
        trim_blocks=True, lstrip_blocks=True,
        # Terraform and Ansible both use ${ } / {{ }}: our own markers never collide with theirs.
        block_start_string="[%", block_end_string="%]", variable_start_string="[[", variable_end_string="]]",
        comment_start_string="[#", comment_end_string="#]")
    env.globals["skip"] = _skip
    env.filters["hcl"] = _hcl
    env.filters["yaml"] = _yaml
    return env


def template_names(prefix: str) -> list[str]:
    """Every file under templates/<prefix>, as '/'-joined names relative to templates/, sorted."""
    root = resources.files(TEMPLATE_PACKAGE)
    out: list[str] = []

    def walk(node, rel: str) -> None:
        for child in node.iterdir():
            name = f"{rel}/{child.name}" if rel else child.name
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, name)
            elif not child.name.endswith((".pyc", "__init__.py")):
                out.append(name)

    start = root.joinpath(prefix)
    if start.is_dir():
        walk(start, prefix)
    return sorted(out)


def read_static(name: str) -> str:
    return _loader(name)
