"""Terraform JSON: escaping, deterministic serialization and atomic writes."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

TERRAFORM_VERSION = ">= 1.5.0"  # import blocks, with their provider argument (hashicorp/terraform#33175)
MANIFEST = ".wiam-manifest.json"


class Expr(str):
    """A string that is already a Terraform template (a reference such as ${aws_iam_role.x.arn}).

    Every other string is user data and gets escaped on output.
    """


def provider_alias(local_name: str, alias: str) -> str:
    """How a resource names an aliased provider configuration (its `provider` argument)."""
    return f"{local_name}.{alias}"


def ref(address: str) -> Expr:
    return Expr("${" + address + "}")


def referenced(text: str, kind: str) -> str | None:
    """The name of the `kind` resource an attribute reference in `text` points to (ref()'s inverse)."""
    found = re.search(r"\$\{" + re.escape(kind) + r"\.([^.}]+)\.[^}]+\}", text)
    return found[1] if found else None


def escape(text: str) -> str:
    """Make `text` inert in a Terraform JSON string: `${` and `%{` start templates there."""
    return text.replace("${", "$${").replace("%{", "%%{")


def escape_tree(value: Any) -> Any:
    """Escape every string of a document except Terraform expressions (Expr). Copy on write: a
    dict or list none of whose strings changes is returned as it is, so rendering a large module
    does not hold a second copy of it. Exact type checks: this walks every value of the output."""
    kind = type(value)
    if kind is str:
        return escape(value) if "{" in value else value
    if kind is dict:
        pairs = [(escape_tree(k), escape_tree(v)) for k, v in value.items()]
        if all(new_key is key and new is old for (new_key, new), (key, old) in zip(pairs, value.items())):
            return value
        return dict(pairs)
    if kind is list or kind is tuple:
        items = [escape_tree(v) for v in value]
        return value if all(new is old for new, old in zip(items, value)) else items
    return value  # numbers, booleans, None, and Expr (orjson and json write str subclasses as strings)


def one_or_list(items: list):
    """A single value where one suffices, as IAM documents and Terraform users write them."""
    return items[0] if len(items) == 1 else items


def policy_json(document: dict) -> str:
    """A policy document as the cloud receives it: compact JSON, keys in a stable order."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Module:
    """One Terraform root module being assembled."""

    required_providers: dict[str, dict] = field(default_factory=dict)
    providers: dict[str, list[dict]] = field(default_factory=dict)
    resources: dict[str, dict[str, dict]] = field(default_factory=dict)
    outputs: dict[str, dict] = field(default_factory=dict)
    imports: list[dict] = field(default_factory=list)  # Terraform >= 1.5 import blocks
    data: dict[str, dict[str, dict]] = field(default_factory=dict)  # data sources, by type and name

    def require(self, name: str, source: str, version: str) -> None:
        self.required_providers[name] = {"source": source, "version": version}

    def provider(self, name: str, config: dict) -> None:
        self.providers.setdefault(name, []).append(config)

    def resource(self, kind: str, name: str, body: dict) -> str:
        bucket = self.resources.setdefault(kind, {})
        if name in bucket:
            raise ValueError(f"resource {kind}.{name} emitted twice")  # a compiler bug, never user input
        bucket[name] = body
        return f"{kind}.{name}"

    def adopt(self, address: str, cloud_id: str, provider: str) -> None:
        """An import block: `terraform plan` takes the existing object `cloud_id` (in its provider's
        documented import ID format) into `address` instead of creating one."""
        self.imports.append({"to": address, "id": cloud_id, "provider": provider})

    def read(self, kind: str, name: str, body: dict) -> str:
        """A data source (once per kind and name); its address."""
        self.data.setdefault(kind, {})[name] = body
        return f"data.{kind}.{name}"

    def output(self, name: str, value: Any, description: str) -> None:
        self.outputs[name] = {"value": value, "description": description}

    def to_json(self) -> dict:
        """Everything but the terraform block, which versions_tf() writes (see there why)."""
        document: dict[str, Any] = {}
        if self.providers:
            document["provider"] = {name: sorted(configs, key=lambda c: c.get("alias", "")) for name, configs in self.providers.items()}
        if self.data:
            document["data"] = self.data
        if self.resources:
            document["resource"] = self.resources
        if self.outputs:
            document["output"] = self.outputs
        if self.imports:
            document["import"] = sorted(self.imports, key=lambda block: block["to"])
        return escape_tree(document)


_HCL_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f${}%]*')


def hcl_string(text: str) -> str:
    """A quoted HCL string of wiam's own settings (versions, provider sources), which need no escapes."""
    if not _HCL_PLAIN.fullmatch(text):
        raise ValueError(f"{text!r} needs HCL escapes")  # a compiler bug, never user input
    return f'"{text}"'


def versions_tf(required_providers: dict[str, dict]) -> bytes:
    """The module's terraform block as native HCL, the file Terraform users call versions.tf.
    Not in main.tf.json: checkov's terraform_json parser fails on a string required_version there
    and then skips the whole file, so every check would pass on nothing. Sorted: byte-deterministic."""
    lines = ["# Generated by wiam; do not edit by hand.", "terraform {",
             f"  required_version = {hcl_string(TERRAFORM_VERSION)}"]
    if required_providers:
        lines += ["", "  required_providers {"]
        for name, settings in sorted(required_providers.items()):
            lines.append(f"    {name} = {{")
            lines += [f"      {key:<{max(map(len, settings))}} = {hcl_string(value)}"
                      for key, value in sorted(settings.items())]
            lines.append("    }")
        lines.append("  }")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode()


def render(document: dict) -> bytes:
    """Byte-identical for equal documents: sorted keys, fixed indentation, UTF-8, final newline.
    The bytes of json.dumps(indent=2, sort_keys=True, ensure_ascii=False), written by orjson."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


# Atomic output

def _exchange(a: str, b: str) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def _written_beside(path: str, content: bytes) -> str:
    """A temporary file beside `path` holding `content`, synced, with the mode a new file gets."""
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def write_file(path: str, content: bytes) -> None:
    """Write one file whole or not at all: a temporary file beside it, then a rename. Through a
    link: the link stays and points at the new file."""
    path = os.path.realpath(path)
    temporary = _written_beside(path, content)
    try:
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def create_file(path: str, content: bytes) -> None:
    """Write a new file whole or not at all, never over one that exists (FileExistsError): a
    temporary file beside it, then a hard link, which fails where the name is taken."""
    temporary = _written_beside(path, content)
    try:
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _staging_prefix(out: str) -> str:
    return f".{os.path.basename(out)}.wiam-new-"


@contextmanager
def _locked(folder: str):
    """Hold an exclusive lock on `folder` while writing beside it: a staging folder found there
    under the lock belongs to a run that died, not to one still writing. Yields whether it is held
    (a file system may not lock, NFS without lockd say: then no staging folder is cleaned up)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except OSError:
            yield False
        else:
            yield True
    finally:
        os.close(descriptor)


def write_tree(out: str, files: dict[str, bytes]) -> list[str]:
    """Replace the folder `out` by exactly `files` (relative path -> content), whole or not at all.

    Files in `out` that wiam did not write (Terraform's .terraform folder, a local state file) are
    carried over into the new folder, never deleted. `out` given as a link is written through: the
    link stays. Staging folders of runs killed before they finished are removed, once whatever in
    them wiam did not write is carried over. Returns the files of the user's that could not be
    carried over (a generated file took their name): left where they are, in a staging folder.
    """
    out = os.path.realpath(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    with _locked(parent) as locked:
        kept = [path for stale in _stale_staging(out) if locked for path in _discard(stale, out, set())]
        staging = tempfile.mkdtemp(prefix=_staging_prefix(out), dir=parent)
        try:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the output is an ordinary folder
            with open(os.path.join(staging, MANIFEST), "wb") as handle:  # first: it marks the folder as wiam's
                handle.write(render({"generated_by": "wiam", "files": sorted(files)}))
            for relative, content in sorted(files.items()):
                path = os.path.join(staging, relative)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
            if not os.path.lexists(out):
                os.rename(staging, out)
                return kept
            if not os.path.isdir(out):
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", out)
            if not _exchange(staging, out):
                old = staging + ".old"
                os.rename(out, old)
                try:
                    os.rename(staging, out)
                except BaseException:
                    os.rename(old, out)
                    raise
                staging = old
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # `staging` now holds the previous output: keep whatever wiam did not write there.
        return kept + _discard(staging, out, set(files))


def _stale_staging(out: str) -> list[str]:
    """Staging folders beside `out` that wiam made: real folders named for it with wiam's manifest."""
    prefix = _staging_prefix(out)
    with os.scandir(os.path.dirname(out)) as entries:
        return sorted(entry.path for entry in entries if entry.name.startswith(prefix)
                      and entry.is_dir(follow_symlinks=False) and _previous_manifest(entry.path) is not None)


def _previous_manifest(folder: str) -> set[str] | None:
    """The files wiam wrote in `folder` (its manifest among them), or None if it holds no manifest."""
    try:
        descriptor = os.open(os.path.join(folder, MANIFEST), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            manifest = json.loads(handle.read(1 << 20)) if stat.S_ISREG(os.fstat(descriptor).st_mode) else {}
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("generated_by") == "wiam" else None
    return {f for f in files if isinstance(f, str)} | {MANIFEST} if isinstance(files, list) else None


def _discard(old: str, out: str, generated: set[str]) -> list[str]:
    """Remove the folder `old`, which wiam made, once what wiam did not write there is carried into
    `out`. What cannot be (its name is taken in `out`) keeps `old` in place: those paths are returned."""
    ours = (_previous_manifest(old) or {MANIFEST}) | generated
    if os.path.isdir(out):
        _carry_over(old, out, ours)
    kept = _foreign(old, ours)
    if not kept:
        shutil.rmtree(old, ignore_errors=True)
    return [os.path.join(old, relative) for relative in kept]


def _holds(relative: str, ours: set[str]) -> bool:
    return any(p.startswith(relative + os.sep) for p in ours)


def _entries(folder: str):
    """(relative path, is a real folder) of every entry under `folder`, parents first."""
    for root, dirs, names in os.walk(folder):
        relative_root = os.path.relpath(root, folder)
        for entry in sorted(dirs + names):
            path = os.path.join(root, entry)
            yield os.path.normpath(os.path.join(relative_root, entry)), os.path.isdir(path) and not os.path.islink(path)


def _foreign(folder: str, ours: set[str]) -> list[str]:
    """What in `folder` wiam did not write: files and links, and folders that are empty."""
    return [relative for relative, is_folder in _entries(folder) if relative not in ours
            and not (is_folder and (_holds(relative, ours) or os.listdir(os.path.join(folder, relative))))]


def _carry_over(old: str, new: str, ours: set[str]) -> None:
    for relative, is_folder in _entries(old):  # a folder moved whole is not walked into
        if relative in ours or is_folder and _holds(relative, ours):
            continue  # ours, or a folder holding some of ours: look inside instead
        target = os.path.join(new, relative)
        if not os.path.lexists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.rename(os.path.join(old, relative), target)
