"""The clouds wiam knows, each a provider package loaded when first asked for (as SQLGlot loads
its dialects). The only module of the core that imports a provider: the rest asks here."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .provider import Provider

# A fourth cloud is a package under providers/ and a line here.
CLOUDS = {
    "aws": "wiam.providers.aws",
    "gcp": "wiam.providers.gcp",
    "azure": "wiam.providers.azure",
}


def names() -> list[str]:
    """The clouds, in the order every command visits them."""
    return sorted(CLOUDS)


def get(cloud: str) -> Provider:
    """The provider of a cloud the spec names (validation refused any other)."""
    return import_module(CLOUDS[cloud])


def part(cloud: str, name: str):
    """A module of a cloud's provider package beyond the Provider protocol (e.g. its CI login facts)."""
    return import_module(f"{CLOUDS[cloud]}.{name}")


def providers() -> list[tuple[str, Provider]]:
    return [(name, get(name)) for name in names()]


def sources() -> tuple[Path, list[str]]:
    """What the providers decide validity with: the folder of their code and catalogs, and the
    distributions whose data they read (the AWS action database)."""
    return (Path(import_module("wiam.providers").__file__).resolve().parent,
            sorted({package for _, provider in providers() for package in provider.DATA_PACKAGES}))
