"""Render a bundle to {relative path: text or bytes}, and write it: the only module here that touches disk.

``render_bundle`` is pure given its inputs (plan dict, strategy, optional wheel bytes): the same plan gives
byte-identical files. ``write_bundle`` refuses a non-empty directory unless ``force``, writes everything to a
temporary sibling directory first and then swaps it into place (planner.render.swap), so a failure or a kill
never leaves half a bundle, nor no bundle where an old one was.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import jinja2

from planner.errors import PlannerError, RenderError
from planner.render.context import build_context
from planner.render.env import CHECKOV_SKIPS, RENDERED_SUFFIX, environment, read_static, template_names
from planner.render.swap import replace_dir

BOM_COLUMNS = ("kind", "site", "provider", "region", "tier", "item", "quantity", "unit", "purchase", "vcpu",
               "memory_gib", "monthly_cost_usd")


def _sections(ctx: dict) -> list[tuple[str, str]]:
    """(template prefix, output prefix) pairs this bundle needs."""
    out = []
    if ctx["aws"]:
        out.append(("terraform/aws", "terraform/aws"))
    if ctx["gcp"]:
        out.append(("terraform/gcp", "terraform/gcp"))
    if ctx["hetzner"]:
        out.append(("terraform/hetzner", "terraform/hetzner"))
    if ctx["witness"] and ctx["witness"]["terraform"]:
        out.append(("terraform/witness", "terraform/witness"))
    if ctx["has_terraform"]:
        out.append(("terraform/common", "terraform"))
    out.append(("ansible", "ansible"))
    out.append(("bundle", ""))          # last: its README lists the checkov skips the Terraform above uses
    return out


def _bom_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=BOM_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: r.get(k, "") for k in BOM_COLUMNS})
    return buf.getvalue()


def render_bundle(plan: dict, strategy: str, *, wheel: tuple[str, bytes] | None = None) -> dict[str, str | bytes]:
    """Every file of the bundle, keyed by its path relative to the bundle root (sorted)."""
    ctx = build_context(plan, strategy, wheel_name=wheel[0] if wheel else None)
    env = environment()
    files: dict[str, str | bytes] = {}
    for prefix, out_prefix in _sections(ctx):
        if prefix == "bundle":
            used = sorted({m.group(1) for path, text in files.items() if path.endswith(".tf")
                           for m in re.finditer(r"#checkov:skip=([A-Z0-9_]+):", text)})
            ctx = dict(ctx, checkov_skips=[(i, CHECKOV_SKIPS[i]) for i in used])
        for name in template_names(prefix):
            rel = name[len(prefix) + 1:]
            target = f"{out_prefix}/{rel}" if out_prefix else rel
            try:
                if name.endswith(RENDERED_SUFFIX):
                    text = env.get_template(name).render(ctx)
                    target = target[: -len(RENDERED_SUFFIX)]
                    if not text.strip():
                        continue          # a template may render empty when its part is not in this plan
                else:
                    text = read_static(name)
            except jinja2.TemplateError as exc:
                raise RenderError(f"template {name}: {exc}") from None
            files[target] = text
    files["plan.json"] = json.dumps(plan, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    files["bom.csv"] = _bom_csv(ctx["bom"])
    if wheel:
        files[f"ansible/roles/imserver/files/{wheel[0]}"] = wheel[1]
    return dict(sorted(files.items()))


def check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise PlannerError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise PlannerError(f"--out {out}: directory is not empty (use --force to replace its contents)")


def write_bundle(files: dict[str, str | bytes], out: Path, force: bool = False) -> None:
    """Write every file under ``out`` at once: stage in a sibling temp dir, then swap it in atomically."""
    check_out_dir(out, force)
    parent = out.resolve().parent
    if not parent.is_dir():
        raise PlannerError(f"--out {out}: parent directory {parent} does not exist")
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    try:
        stage.chmod(0o777 & ~umask)          # mkdtemp makes 0700; the bundle gets an ordinary directory's mode
        for rel, content in files.items():
            path = stage / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            if rel.endswith(".sh"):
                path.chmod(0o755)
        replace_dir(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
