"""How tests/data/provider_arguments.json is checked against the providers' docs pages: reads each
recorded page at its recorded commit from local git copies of the provider repositories and prints
where the page's arguments differ from the file (the differences the file explains in a `note`).
Not a test: it reads outside the repository.

    cd tests && python -m support.provider_docs OWNER/NAME=GIT_DIR ...
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from .git import git

DATA = Path(__file__).resolve().parents[1] / "data" / "provider_arguments.json"

# "* `name` - (Required) ...", "* `role`  (Required) - ...", Google's "* `name` -\n  (Required)"
_BULLET = re.compile(r"^[*-] `(?P<name>[a-z0-9_/]+)`\s*(?:-\s*)?(?P<tail>.*)$")
_BLOCK_HEADING = re.compile(r"(?:^|>)(?:The|An?) `(?P<name>[a-z0-9_]+)` (?:configuration )?block (?:supports|contains)")
_ANCHOR = re.compile(r'<a (?:name|id)="(?P<anchor>nested[-_][a-z0-9_-]+)"')
_TF_NESTED = re.compile(r"^### Nested Schema for `(?P<path>[a-z0-9_.]+)`")
_END = re.compile(r"^## (Attributes?|Import)")


def _kind(tail: str, resource: str) -> str | None:
    """required / optional for this resource, or None when the page says it is another's
    (an IAM page covers _policy, _binding and _member)."""
    only = re.search(r"Required only by `?([a-z0-9_]+)`?", tail)
    if only:
        return "required" if only.group(1) == resource else None
    return "required" if tail.startswith("(Required") else "optional"


def _name(name: str, resource: str) -> str:
    if "/" in name:  # member/members: _member takes the first, _binding the second
        single, plural = name.split("/")
        return single if resource.endswith("_member") else plural
    return name


def sections(text: str, resource: str) -> dict[str, dict[str, str]]:
    """Argument kinds by section: "" for the top level, then each block's (keyed by its anchor path
    where the page has anchors, else by its name)."""
    found: dict[str, dict[str, str]] = {}
    current, pending, anchor, started = None, None, None, False
    for line in text.splitlines():
        if re.match(r"^## (Argument|Schema)", line):
            current, started = "", True
            found.setdefault("", {})
            continue
        if not started:
            continue
        if _END.match(line):
            break
        if line.startswith(("### Read-Only", "Read-Only:")):
            current = None
            continue
        if line.startswith(("### Required", "### Optional", "Required:", "Optional:")) and current is not None:
            kind = "required" if "Required" in line else "optional"
            found.setdefault(current, {})["__kind__"] = kind
            continue
        mark = _ANCHOR.search(line)
        if mark:
            anchor = mark.group("anchor")
        nested = _TF_NESTED.match(line) or _BLOCK_HEADING.search(line)
        if nested:
            current = (anchor or nested.groupdict().get("path") or nested.group("name")).replace("--", ".")
            anchor = None
            found.setdefault(current, {})
            continue
        bullet = _BULLET.match(line)
        if bullet and current is not None:
            tail = bullet.group("tail").strip()
            if "__kind__" in found[current]:  # tfplugindocs: the kind is the heading's
                found[current][_name(bullet.group("name"), resource)] = found[current]["__kind__"]
            elif tail:
                kind = _kind(tail, resource)
                if kind:
                    found[current][_name(bullet.group("name"), resource)] = kind
            else:
                pending = bullet.group("name")
            continue
        if pending and line.strip().startswith("("):
            kind = _kind(line.strip(), resource)
            if kind:
                found[current][_name(pending, resource)] = kind
            pending = None
    return {key: {k: v for k, v in args.items() if k != "__kind__"} for key, args in found.items()}


def flatten(entry: dict, prefix: str = "") -> dict[str, str]:
    """The file's entry as {dotted path: kind}."""
    flat = {f"{prefix}{k}": "required" for k in entry["required"]}
    flat.update({f"{prefix}{k}": "optional" for k in entry["optional"]})
    for name, block in entry.get("blocks", {}).items():
        flat[f"{prefix}{name}"] = "required" if name in entry.get("required_blocks", []) else "optional"
        flat.update(flatten(block, f"{prefix}{name}."))
    return flat


def page_names(found: dict[str, dict[str, str]]) -> dict[str, str]:
    """The page's arguments by name (the last segment of each block's path): what can be compared
    without resolving where a page nests its blocks."""
    return {name: kind for args in found.values() for name, kind in args.items()}


def main(pairs: list[str]) -> int:
    gits = dict(pair.split("=", 1) for pair in pairs)
    data = json.loads(DATA.read_text(encoding="utf-8"))
    differences = 0
    for resource, entry in sorted(data["resources"].items()):
        source = entry["source"]
        if source["repository"] not in gits:
            print(f"{resource}: no local copy of {source['repository']}; skipped")
            continue
        text = git(Path(gits[source["repository"]]), "show", f"{source['commit']}:{source['path']}")
        page = page_names(sections(text, resource))
        recorded = {path.rsplit(".", 1)[-1]: kind for path, kind in flatten(entry).items()}
        for name in sorted(set(page) | set(recorded)):
            if page.get(name) != recorded.get(name):
                differences += 1
                print(f"{resource}: {name}: page {page.get(name)}, file {recorded.get(name)}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
