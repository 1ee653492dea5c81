"""Day-one defects of the rendered bundles (issue 11, part 3), each asserted on the rendered files.

Every test here failed on the bundles before its fix: health checks on /readyz, the AWS database instances
surviving a new Debian AMI, NTP egress, the load balancer's client addresses reaching imserver through the host
firewall, Hetzner's provider limits (health-check retries, 10 servers per spread placement group, 100 servers per
network, a subnet large enough for the host offsets), GCP's Hyperdisk-only machine types and stateful disks.
"""
from __future__ import annotations

import ipaddress
import re

import pytest

from planner.errors import PlannerError
from planner.render import render_bundle
from tests.bundle.conftest import load_fixture_plan

hcl2 = pytest.importorskip("hcl2")


def _files(plan_name: str, strategy: str = "public", plan: dict | None = None) -> dict:
    return render_bundle(plan or load_fixture_plan(plan_name), strategy)


def _blocks(text: str, kind: str, rtype: str) -> dict[str, dict]:
    """{name: body} of every `kind "rtype" "name"` block (python-hcl2 keeps the quotes)."""
    out = {}
    for block in hcl2.loads(text).get(kind, []):
        for key, named in block.items():
            if key.strip('"') == rtype:
                out.update({n.strip('"'): body for n, body in named.items()})
    return out


def _scaled_plan(base: str, tier: str, count: int) -> dict:
    plan = load_fixture_plan(base)
    entry = next(s for s in plan["strategies"] if s["name"] == "public")
    row = next(n for n in entry["nodes"] if n["tier"].split("+")[0] == tier)
    row["count"] = count
    return plan


@pytest.mark.parametrize("plan_name,path", [("plan-aws-public.json", "terraform/aws/lb.tf"),
                                            ("plan-gcp-public.json", "terraform/gcp/main.tf"),
                                            ("plan-hetzner-public.json", "terraform/hetzner/main.tf")])
def test_cloud_load_balancers_check_readyz(plan_name, path):
    text = _files(plan_name)[path]
    assert '"/readyz"' in text and '"/healthz"' not in text


def test_haproxy_checks_readyz():
    from tests.bundle.conftest import REPO
    cfg = (REPO / "templates" / "ansible" / "roles" / "haproxy" / "templates" / "haproxy.cfg.j2").read_text()
    assert "uri /readyz" in cfg and "uri /healthz" not in cfg


def test_aws_stateful_instances_ignore_new_amis():
    text = _files("plan-aws-public.json")["terraform/aws/compute.tf"]
    instances = _blocks(text, "resource", "aws_instance")
    assert instances
    for name, body in instances.items():
        lifecycle = body["lifecycle"][0]
        assert "ami" in [s.strip('"') for s in lifecycle["ignore_changes"]], name


def test_aws_nodes_may_reach_ntp():
    text = _files("plan-aws-public.json")["terraform/aws/security.tf"]
    node = _blocks(text, "resource", "aws_security_group")["node"]
    assert any(e["protocol"].strip('"') == "udp" and e["from_port"] <= 123 <= e["to_port"] for e in node["egress"])


def test_aws_imserver_groups_accept_client_addresses_in_the_host_firewall():
    """The NLB preserves client addresses: the inventory opens the imserver port to var.client_cidrs."""
    text = _files("plan-aws-public.json")["terraform/aws/outputs.tf"]
    groups = re.findall(r"(\w+) = \{\n\s+vars = \{ ([^\n]*) \}", text)
    assert groups
    for name, vars_ in groups:
        assert ("implan_lb_source_cidrs = var.client_cidrs" in vars_) == ("imserver" in vars_), name


def test_gcp_imserver_groups_accept_googles_load_balancer_ranges():
    text = _files("plan-gcp-public.json")["terraform/gcp/main.tf"]
    out = text[text.index('output "ansible_inventory"'):]
    assert "implan_lb_source_cidrs = local.google_lb_ranges" in out
    assert '"130.211.0.0/22", "35.191.0.0/16"' in text


def test_hetzner_health_check_has_retries():
    text = _files("plan-hetzner-public.json")["terraform/hetzner/main.tf"]
    services = _blocks(text, "resource", "hcloud_load_balancer_service")
    assert services
    for name, body in services.items():
        for hc in body.get("health_check", []):
            assert isinstance(hc.get("retries"), int) and hc["retries"] >= 1, name


def test_hetzner_spread_placement_groups_hold_at_most_10_servers():
    plan = _scaled_plan("plan-hetzner-public.json", "database", 12)
    text = _files("", plan=plan)["terraform/hetzner/main.tf"]
    groups = _blocks(text, "resource", "hcloud_placement_group")
    servers = _blocks(text, "resource", "hcloud_server")
    db = next(n for n in servers if n.startswith("database"))
    assert servers[db]["count"] == 12
    assert groups[db]["count"] == 2
    assert "[floor(count.index / 10)]" in servers[db]["placement_group_id"]


def test_hetzner_subnet_holds_every_host_offset():
    from planner.render.context import hetzner_subnet_newbits
    assert hetzner_subnet_newbits([{"host_offset": 10, "count": 40}]) == 8          # a /24 of the /16
    assert hetzner_subnet_newbits([{"host_offset": 10, "count": 40}, {"host_offset": 250, "count": 30}]) == 7
    plan = _scaled_plan("plan-hetzner-public.json", "gateway", 80)
    text = _files("", plan=plan)["terraform/hetzner/main.tf"]
    network = ipaddress.ip_network(re.search(r'variable "ip_range" \{.*?default\s*=\s*"([^"]+)"', text, re.S).group(1))
    newbits = int(re.search(r"cidrsubnet\(var\.ip_range, (\d+), 1\)", text).group(1))
    subnet = list(network.subnets(new_prefix=network.prefixlen + newbits))[1]
    servers = _blocks(text, "resource", "hcloud_server")
    offsets = {m.group(1): int(m.group(2)) for m in
               re.finditer(r'resource "hcloud_server" "(\w+)".*?ip_range, (\d+) \+ count\.index', text, re.S)}
    assert set(offsets) == set(servers)
    assert max(offsets[n] + servers[n]["count"] - 1 for n in servers) < subnet.num_addresses - 1


def test_hetzner_more_servers_than_a_network_holds_is_a_clear_error():
    plan = _scaled_plan("plan-hetzner-public.json", "gateway", 120)
    with pytest.raises(PlannerError, match=r"Hetzner.*100 servers per network"):
        _files("", plan=plan)


def test_gcp_c4d_uses_hyperdisk():
    plan = load_fixture_plan("plan-gcp-public.json")
    entry = next(s for s in plan["strategies"] if s["name"] == "public")
    entry["nodes"][0]["type"] = "c4d-standard-8"
    text = _files("", plan=plan)["terraform/gcp/main.tf"]
    templates = _blocks(text, "resource", "google_compute_instance_template")
    for name, body in templates.items():
        disk_type = body["disk"][0]["disk_type"].strip('"')
        machine = body["machine_type"].strip('"')
        assert disk_type == ("hyperdisk-balanced" if machine.startswith("c4d") else "pd-balanced"), name


def test_gcp_stateful_groups_keep_their_disks():
    text = _files("plan-gcp-public.json")["terraform/gcp/main.tf"]
    migs = _blocks(text, "resource", "google_compute_region_instance_group_manager")
    stateful = [n for n in migs if n.startswith(("database", "cache"))]
    assert stateful
    for name in stateful:
        assert migs[name].get("stateful_disk"), name
        assert migs[name]["stateful_disk"][0]["delete_rule"].strip('"') == "NEVER"


def test_gcp_inventory_lists_hosts():
    text = _files("plan-gcp-public.json")["terraform/gcp/main.tf"]
    out = text[text.index('output "ansible_inventory"'):]
    assert "hosts" in out
