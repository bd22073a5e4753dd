"""Copy the browser libraries the report bundles from node_modules into the package.

    npm ci && python -m wiam.report.vendor

package-lock.json pins each library; VERSIONS.json records the version and the SHA-256 of the
file shipped, so a test can tell when the two part ways."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = Path(__file__).resolve().parent / "assets" / "vendor"
LIBRARIES = {"cytoscape": "dist/cytoscape.min.js"}  # npm package -> the browser build to inline


def locked_version(package: str) -> str:
    lock = json.loads((ROOT / "package-lock.json").read_text())
    return lock["packages"][f"node_modules/{package}"]["version"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    versions = {}
    for package, build in LIBRARIES.items():
        installed = ROOT / "node_modules" / package
        if not installed.is_dir():
            print(f"{installed} is missing: run `npm ci` first", file=sys.stderr)
            return 2
        version = json.loads((installed / "package.json").read_text())["version"]
        if version != locked_version(package):
            print(f"{package} {version} is installed but package-lock.json pins {locked_version(package)}: "
                  "run `npm ci`", file=sys.stderr)
            return 2
        shipped = VENDOR / Path(build).name
        shutil.copyfile(installed / build, shipped)
        shutil.copyfile(installed / "LICENSE", VENDOR / f"{package}.LICENSE")
        versions[package] = {"version": version, "file": shipped.name, "sha256": sha256(shipped)}
    (VENDOR / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
