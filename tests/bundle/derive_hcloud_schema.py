"""Derive the hcloud subset for the schema check from the provider repository's docs (run by hand, output kept).

    python -m tests.bundle.derive_hcloud_schema REPO_DIR TAG > tests/bundle/fixtures/hcloud-schema.json

No cdktf wheel exists for hcloud, so the subset comes from hetznercloud/terraform-provider-hcloud at a release
tag: each `docs/resources/<name>.md` "Argument Reference" (or the generated "Schema" format) lists `- \\`arg\\` - (Required|Optional, type)`; a
"`block` supports the following fields:" list (or "(parent) `block`" for a nested one) gives a block's fields.
Only the resource types the Hetzner template uses are kept.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

RESOURCES = ("network", "network_subnet", "firewall", "placement_group", "server", "load_balancer",
             "load_balancer_network", "managed_certificate", "load_balancer_service", "load_balancer_target")
# Where the docs say Required but the provider's Go schema says Optional (checked by hand at v1.68.0:
# internal/firewall/resource.go, a rule needs source_ips or destination_ips depending on its direction).
OPTIONAL_DESPITE_DOCS = {("hcloud_firewall", "rule", "source_ips"), ("hcloud_firewall", "rule", "destination_ips")}
ITEM = re.compile(r"^- `([a-z0-9_]+)`(?: -)? \((Required|Optional)[,)]")
SECTION = re.compile(r"^(?:\(([a-z ]+)\) )?`([a-z0-9_]+)` supports? the following fields:")


def _section(markdown: str, title: str) -> str:
    """The text under a '## title' header, up to the next '## ' header."""
    return re.split(r"^## ", markdown.split(f"## {title}", 1)[1], maxsplit=1, flags=re.M)[0]


def parse_generated(markdown: str) -> dict:
    """tfplugindocs format: '## Schema' with '### Required' / '### Optional' lists of '- `name` (Type) ...'."""
    root = {"arguments": {}, "blocks": {}}
    for kind, required in (("Required", True), ("Optional", False)):
        part = markdown.split(f"### {kind}", 1)
        if len(part) == 2:
            for m in re.finditer(r"^- `([a-z0-9_]+)` \(", re.split(r"^### ", part[1], maxsplit=1, flags=re.M)[0],
                                 re.M):
                root["arguments"][m.group(1)] = required
    return root


def parse(markdown: str) -> dict:
    if "## Argument Reference" not in markdown:
        return parse_generated(markdown)
    text = _section(markdown, "Argument Reference")
    root = {"arguments": {}, "blocks": {}}
    current = root
    for line in text.splitlines():
        s = SECTION.match(line)
        if s:
            parent, name = s.group(1), s.group(2)
            holder = root
            if parent:
                holder = root["blocks"].setdefault(parent.replace(" ", "_"), {"arguments": {}, "blocks": {}})
            current = holder["blocks"].setdefault(name, {"arguments": {}, "blocks": {}})
            holder["arguments"].pop(name, None)
            continue
        m = ITEM.match(line)
        if m and m.group(1) not in current["blocks"]:
            current["arguments"][m.group(1)] = m.group(2) == "Required"
    return root


def derive(repo: str, tag: str) -> dict:
    out = {"provider": "hetznercloud/hcloud", "version": tag.lstrip("v"), "source": f"docs/resources at {tag}",
           "resources": {}}
    for name in RESOURCES:
        md = subprocess.run(["git", "-C", repo, "show", f"{tag}:docs/resources/{name}.md"], capture_output=True,
                            text=True, check=True).stdout
        out["resources"][f"hcloud_{name}"] = parse(md)
    for rtype, block, arg in sorted(OPTIONAL_DESPITE_DOCS):
        out["resources"][rtype]["blocks"][block]["arguments"][arg] = False
    return out


if __name__ == "__main__":
    print(json.dumps(derive(sys.argv[1], sys.argv[2]), indent=1, sort_keys=True))
