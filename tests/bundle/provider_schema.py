"""Terraform provider schemas read offline from the cdktf provider wheels (PyPI), for the schema check.

`cdktf-cdktf-provider-aws` and `-google` are generated from the providers' schemas; their jsii manifest
(`_jsii/*.jsii.tgz` → `package/.jsii`) describes every resource as a `<Name>Config` struct whose properties are
its arguments and blocks. Each property's docs link (summary or remarks) ends in `#<terraform_name>`, which
gives the Terraform spelling (a block without a link is documented as "<name> block."; failing both, the
camelCase name is converted as cdktf generated it); a property whose type is (a list of) another struct is a block; `optional: false` means required.
The provider version a wheel was generated from is in the same links (`/providers/hashicorp/aws/5.99.1/`).
"""
from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

LINK = re.compile(r"registry\.terraform\.io/providers/hashicorp/([a-z0-9-]+)/([0-9.]+)/docs/"
                  r"(resources|data-sources)/([a-z0-9_]+)(?:#([a-z0-9_]+))?")


@dataclass
class Block:
    """Arguments (name → required) and nested blocks of one resource, data source or block."""
    arguments: dict[str, bool] = field(default_factory=dict)
    blocks: dict[str, "Block"] = field(default_factory=dict)


@dataclass
class ProviderSchema:
    provider: str
    version: str
    resources: dict[str, Block]
    data_sources: dict[str, Block]


def _manifest(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(zf.read(name))) as tf:
            return json.loads(tf.extractfile("package/.jsii").read())


def _struct_fqn(type_ref: dict) -> str | None:
    """The struct a property holds (directly, as a list, or in a union with IResolvable), if any."""
    if "fqn" in type_ref and not type_ref["fqn"].startswith("cdktf."):
        return type_ref["fqn"]
    if "collection" in type_ref:
        return _struct_fqn(type_ref["collection"]["elementtype"])
    for alt in type_ref.get("union", {}).get("types", []):
        found = _struct_fqn(alt)
        if found:
            return found
    return None


def _snake(camel: str) -> str:
    """cdktf's property name → Terraform's (for the few properties whose docs carry no link)."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()


def _block(types: dict, fqn: str, seen: tuple = ()) -> Block:
    out = Block()
    for prop in types[fqn].get("properties", []):
        docs = prop.get("docs", {})
        summary = docs.get("summary", "")
        m, b = LINK.search(summary + "\n" + docs.get("remarks", "")), BLOCK_DOC.match(summary)
        tf_name = m.group(5) if m and m.group(5) else (b.group(1) if b else _snake(prop["name"]))
        inner = _struct_fqn(prop["type"])
        if inner and types.get(inner, {}).get("datatype") and inner not in seen:
            out.blocks[tf_name] = _block(types, inner, seen + (inner,))
        else:
            out.arguments[tf_name] = not prop.get("optional", False)
    return out


def load(wheel: Path) -> ProviderSchema:
    types = _manifest(wheel)["types"]
    resources: dict[str, Block] = {}
    data_sources: dict[str, Block] = {}
    provider = version = ""
    for fqn, t in types.items():
        m = LINK.search(t.get("docs", {}).get("summary", ""))
        if t.get("kind") != "class" or not m or m.group(5) or not t.get("docs", {}).get("summary", "").startswith("Represents"):
            continue
        provider, version, kind, name = m.group(1), m.group(2), m.group(3), m.group(4)
        config = f"{fqn}Config"
        if config not in types:
            continue
        prefix = "" if name.startswith(provider) else f"{provider}_"
        target = resources if kind == "resources" else data_sources
        target[f"{prefix}{name}" if kind == "resources" else f"{prefix}{name}"] = _block(types, config)
    return ProviderSchema(provider, version, resources, data_sources)


BLOCK_DOC = re.compile(r"^([a-z0-9_]+) block\.")
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}


def check(parsed: dict, schema: ProviderSchema, prefix: str) -> list[str]:
    """Problems of every resource/data block of ``prefix`` (e.g. 'aws_') in one python-hcl2 parse."""
    problems: list[str] = []
    for kind, table in (("resource", schema.resources), ("data", schema.data_sources)):
        for entry in parsed.get(kind, []):
            for rtype, named in entry.items():
                rtype = rtype.strip('"')
                if not rtype.startswith(prefix):
                    continue
                for name, body in named.items():
                    where = f"{kind} {rtype}.{name.strip(chr(34))}"
                    if rtype not in table:
                        problems.append(f"{where}: no such {kind} type in {schema.provider} {schema.version}")
                        continue
                    problems += _check_body(body, table[rtype], where)
    return problems


def _check_body(body: dict, block: Block, where: str) -> list[str]:
    problems = []
    present = set()
    for key, value in body.items():
        key = key.strip('"')
        if key in META_ARGUMENTS or key.startswith("__"):
            continue
        if key == "dynamic":
            for dyn in value:
                for dname, dbody in dyn.items():
                    dname = dname.strip('"')
                    present.add(dname)
                    if dname not in block.blocks:
                        problems.append(f"{where}: dynamic {dname!r} is not a block")
                    else:
                        for content in dbody.get("content", []):
                            problems += _check_body(content, block.blocks[dname], f"{where}.{dname}")
            continue
        present.add(key)
        if key in block.blocks:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    problems += _check_body(item, block.blocks[key], f"{where}.{key}")
        elif key not in block.arguments:
            problems.append(f"{where}: unknown argument or block {key!r}")
    for arg, required in block.arguments.items():
        if required and arg not in present:
            problems.append(f"{where}: missing required argument {arg!r}")
    return problems


def _block_from_json(data: dict) -> Block:
    return Block(dict(data["arguments"]), {k: _block_from_json(v) for k, v in data["blocks"].items()})


def load_json(path: Path) -> ProviderSchema:
    """A derived subset kept as a fixture (hcloud: see derive_hcloud_schema.py); its data sources are not kept."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return ProviderSchema(data["provider"].split("/")[-1], data["version"],
                          {k: _block_from_json(v) for k, v in data["resources"].items()}, {})
