"""The imserver wheel a bundle carries, assembled from the *installed* imserver package (no source tree needed).

`implan bundle` used to run `pip wheel` on the project's source tree, which a plain `pip install .` does not
have. The hosts only run `imserver`, so the bundle carries a wheel of just that package, written here directly:
the package's files as Python imports them, the dependencies implan declares for the modules imserver imports,
and the `imserver` console script. Its version is implan's plus a local label from a content hash
(``0.1.0+g1a2b3c4d5e6f``), so changed code gets a new version and pip on the hosts installs it (pip skips a
wheel whose version is already installed). The same files always give the same bytes (fixed zip timestamps).
"""
from __future__ import annotations

import ast
import base64
import hashlib
import importlib.metadata as metadata
import importlib.util
import io
import re
import sys
import zipfile
import zlib
from pathlib import Path

from planner.errors import PlannerError

PACKAGE = "imserver"
PROJECT = "implan"                    # the distribution whose metadata gives the version and dependencies
ZIP_DATE = (1980, 1, 1, 0, 0, 0)      # the earliest date a zip entry can carry: reproducible bytes
HASH_CHARS = 12


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_dir() -> Path:
    """Where Python imports imserver from (site-packages after `pip install .`, the tree in development)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PlannerError(f"cannot build the imserver wheel: the {PACKAGE} package is not importable "
                           "(pass --wheel FILE with a built wheel)")
    return Path(list(spec.submodule_search_locations)[0])


def package_files(root: Path) -> dict[str, bytes]:
    """Every file of the package (sources and package data), keyed by its path inside the wheel."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in (".pyc", ".pyo"):
            files[f"{PACKAGE}/{rel.as_posix()}"] = path.read_bytes()
    if f"{PACKAGE}/__init__.py" not in files:
        raise PlannerError(f"cannot build the imserver wheel: {root} has no __init__.py")
    return files


def imported_modules(files: dict[str, bytes]) -> set[str]:
    """Top-level names of the absolute imports in the package's modules (to pick its dependencies)."""
    names: set[str] = set()
    for rel, data in files.items():
        if not rel.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(data, filename=rel)):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {PACKAGE}


def _project_metadata() -> metadata.Distribution:
    try:
        return metadata.distribution(PROJECT)
    except metadata.PackageNotFoundError:
        raise PlannerError(f"cannot build the imserver wheel: the {PROJECT} distribution is not installed "
                           "(pip install it, or pass --wheel FILE)") from None


def dependencies(dist: metadata.Distribution, modules: set[str]) -> list[str]:
    """implan's requirements (no extras) that provide one of ``modules``; an unmapped import is an error."""
    provided = metadata.packages_distributions()
    wanted = {_canonical(d) for m in modules for d in provided.get(m, [])}
    reqs = [r for r in dist.requires or [] if "extra ==" not in r]
    chosen = [r for r in reqs if _canonical(re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0]) in wanted]
    declared = {_canonical(re.split(r"[\s<>=!~;\[(]", r, maxsplit=1)[0]) for r in chosen}
    missing = sorted(m for m in modules if not {_canonical(d) for d in provided.get(m, [])} & declared)
    if missing:
        raise PlannerError(f"cannot build the imserver wheel: {PACKAGE} imports {', '.join(missing)}, which "
                           f"{PROJECT}'s dependencies do not declare")
    return sorted(chosen, key=str.lower)


def content_version(base_version: str, files: dict[str, bytes], requires: list[str]) -> str:
    """``base+g<hash>``: the hash covers every file and dependency, so any change gives a new version."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    for req in requires:
        digest.update(b"req\0" + req.encode())
    return f"{base_version.split('+')[0]}+g{digest.hexdigest()[:HASH_CHARS]}"


def _record_line(rel: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def assemble(files: dict[str, bytes], version: str, requires: list[str], requires_python: str | None,
             scripts: dict[str, str]) -> tuple[str, bytes]:
    """(file name, bytes) of a pure-Python wheel holding ``files`` plus its .dist-info."""
    info = f"{PACKAGE}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {PACKAGE}", f"Version: {version}",
            f"Summary: The IM server bundled with {PROJECT} (wheel built by implan bundle)"]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta += [f"Requires-Dist: {r}" for r in requires]
    entries = dict(files)
    entries[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    entries[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: {PROJECT}\nRoot-Is-Purelib: true\n"
                                "Tag: py3-none-any\n").encode()
    if scripts:
        entries[f"{info}/entry_points.txt"] = ("[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in sorted(scripts.items()))).encode()
    entries[f"{info}/top_level.txt"] = f"{PACKAGE}\n".encode()
    record = [_record_line(rel, data) for rel, data in entries.items()] + [f"{info}/RECORD,,"]
    entries[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in entries.items():
            item = zipfile.ZipInfo(rel, ZIP_DATE)
            item.compress_type = zipfile.ZIP_DEFLATED
            item.external_attr = 0o644 << 16
            zf.writestr(item, data)
    return f"{PACKAGE}-{version}-py3-none-any.whl", buf.getvalue()


def build_wheel(source: Path | None = None) -> tuple[str, bytes]:
    """The imserver wheel from the installed package (or from ``source``, an imserver package directory)."""
    files = package_files(source or package_dir())
    dist = _project_metadata()
    requires = dependencies(dist, imported_modules(files))
    scripts = {ep.name: ep.value for ep in dist.entry_points
               if ep.group == "console_scripts" and ep.value.split(".")[0].split(":")[0] == PACKAGE}
    version = content_version(dist.version, files, requires)
    return assemble(files, version, requires, dist.metadata.get("Requires-Python"), scripts)


MAX_WHEEL_BYTES = 64 * 1024 * 1024    # an imserver wheel is well under 1 MiB; refuse to load anything huge
WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-[^-]+)?-[^-]+-[^-]+-[^-]+\.whl$")


def read_wheel(path: Path) -> tuple[str, bytes]:
    """(file name, bytes) of a given ``--wheel`` after checking it is an imserver wheel: a regular file named
    ``imserver-VERSION-...-TAG.whl``, a zip archive holding ``imserver-VERSION.dist-info/WHEEL`` and ``METADATA``
    whose ``Name`` is imserver. Anything else is one PlannerError naming --wheel."""
    def bad(why: str) -> PlannerError:
        return PlannerError(f"--wheel {path}: {why}")

    if not path.is_file():
        raise bad("expected an existing .whl file")
    match = WHEEL_NAME.match(path.name)
    if match is None:
        raise bad("expected a wheel file name NAME-VERSION-PYTHON-ABI-PLATFORM.whl")
    if _canonical(match["name"]) != PACKAGE:
        raise bad(f"is a wheel of {match['name']!r}, expected one of {PACKAGE!r}")
    if path.stat().st_size > MAX_WHEEL_BYTES:
        raise bad(f"is larger than {MAX_WHEEL_BYTES // (1024 * 1024)} MiB, not an {PACKAGE} wheel")
    data = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            info = f"{match['name']}-{match['version']}.dist-info"
            for member in ("WHEEL", "METADATA"):
                if f"{info}/{member}" not in names:
                    raise bad(f"has no {info}/{member}, so it is not a wheel")
            meta = zf.read(f"{info}/METADATA").decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError):
        raise bad("is not a zip archive, so it is not a wheel") from None
    declared = next((line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Name:")), "")
    if _canonical(declared) != PACKAGE:
        raise bad(f"its METADATA names the project {declared!r}, expected {PACKAGE!r}")
    return path.name, data
