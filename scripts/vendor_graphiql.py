"""Fetch the pinned GraphiQL assets from the npm registry into licensing/static/graphiql/.

Usage: python scripts/vendor_graphiql.py

Each pinned package's tarball is checked against the registry's `dist.integrity` before any
file is taken from it; the files kept, their sha256, version, tarball and licence are written to
VERSIONS.txt. To update, change a version in PACKAGES, run this, look at the page, commit.
The page and its start-up code (graphiql.html, start.js, page.css) are ours: this leaves them be.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
TARGET = Path(__file__).resolve().parent.parent / "licensing" / "static" / "graphiql"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    licence: str  # what the registry must say, so that an update cannot change it unnoticed
    files: dict[str, str]  # path in the tarball (under package/) -> file name in TARGET
    why: str = ""


# The versions of the GraphiQL page of Strawberry 0.341 (strawberry/static/graphiql.html), except
# graphiql 3.9.0, the last 3.x: 3.8.3's graphiql.min.js is not minified (3.5 MB against 1 MB).
PACKAGES = (
    Package(
        "react",
        "18.2.0",
        "MIT",
        {"umd/react.production.min.js": "react.production.min.js", "LICENSE": "LICENSE.react"},
    ),
    Package(
        "react-dom",
        "18.2.0",
        "MIT",
        {
            "umd/react-dom.production.min.js": "react-dom.production.min.js",
            "LICENSE": "LICENSE.react-dom",
        },
    ),
    Package(
        "graphiql",
        "3.9.0",
        "MIT",
        {
            "graphiql.min.js": "graphiql.min.js",
            "graphiql.min.css": "graphiql.min.css",
            "LICENSE": "LICENSE.graphiql",
        },
    ),
    Package(
        "@graphiql/plugin-explorer",
        "1.0.2",
        "MIT",
        {"dist/index.umd.js": "plugin-explorer.umd.js", "dist/style.css": "plugin-explorer.css"},
        why="no LICENSE in its tarball: MIT, of the graphql/graphiql repository (LICENSE.graphiql)",
    ),
    Package(
        "graphiql-explorer",
        "0.9.0",
        "MIT",
        {"LICENSE": "LICENSE.graphiql-explorer"},
        why="bundled in plugin-explorer.umd.js: only its licence is kept",
    ),
)


def _get(url: str) -> bytes:
    if not url.startswith(f"{REGISTRY}/"):
        raise SystemExit(f"refusing to fetch {url}: not on {REGISTRY}")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https, checked above)
        body: bytes = response.read()
    return body


def _check_integrity(tarball: bytes, integrity: str, url: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm not in ("sha512", "sha384", "sha256"):
        raise SystemExit(f"{url}: unsupported integrity {integrity!r}")
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if actual != expected:
        raise SystemExit(
            f"{url}: integrity mismatch, expected {integrity}, got {algorithm}-{actual}"
        )


def vendor(package: Package) -> list[str]:
    """Writes the package's files into TARGET; returns their lines for VERSIONS.txt."""
    metadata = json.loads(_get(f"{REGISTRY}/{package.name}/{package.version}"))
    if metadata.get("license") != package.licence:
        raise SystemExit(
            f"{package.name}: licence is {metadata.get('license')!r} now, not {package.licence}"
        )
    url = metadata["dist"]["tarball"]
    tarball = _get(url)
    _check_integrity(tarball, metadata["dist"]["integrity"], url)
    lines = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member_path, name in package.files.items():
            member = archive.extractfile(f"package/{member_path}")
            if member is None:
                raise SystemExit(f"{url}: package/{member_path} is not a file")
            content = member.read()
            (TARGET / name).write_bytes(content)
            digest = hashlib.sha256(content).hexdigest()
            lines.append(
                f"{name}  {digest}  {package.name}@{package.version}  {package.licence}  {url}"
            )
            print(f"{name:32} {len(content):>9,} bytes  {package.name}@{package.version}")
    return lines


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by scripts/vendor_graphiql.py (run it to update; do not edit by hand).",
        "# file  sha256  package@version  licence  npm tarball (checked against dist.integrity)",
    ]
    for package in PACKAGES:
        if package.why:
            lines.append(f"# {package.name}@{package.version}: {package.why}")
        lines.extend(vendor(package))
    (TARGET / "VERSIONS.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
