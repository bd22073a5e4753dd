"""One reader per file format; each turns a file's text into a `Document`."""

from __future__ import annotations

from ..diagnostics import Report
from ..document import Document
from .data import read_json, read_yaml
from .domain import file_size
from .hcl import read_hcl

READERS = {
    ".wiam.hcl": read_hcl,
    ".wiam.yaml": read_yaml,
    ".wiam.yml": read_yaml,
    ".wiam.json": read_json,
}


def reader_for(filename: str):
    for suffix, reader in READERS.items():
        if filename.endswith(suffix):
            return reader
    return None


def read(path: str, text: str, report: Report) -> Document:
    if not file_size(text, path, report):
        return Document(files=[path])
    return reader_for(path)(path, text, report)
