"""wiam catalog refresh."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer

from .. import registry
from ..live import Unreadable
from .common import EXIT_SPEC, Cloud, err, fail_usage, with_endpoints

app = typer.Typer(no_args_is_help=True, help="The permission catalogs wiam checks grants against.")


@app.command("refresh")
@with_endpoints
def catalog_refresh(clouds: Optional[list[Cloud]] = typer.Option(None, "--cloud", help="Refresh only this cloud (repeatable)."),
                    out: Optional[str] = typer.Option(None, "--out", "-o",
                                                      help="Write the catalogs here instead of into the installed package."),
                    date: Optional[str] = typer.Option(None, "--date", help="The date recorded (default: today, UTC)."),
                    endpoints: dict[str, dict] = None) -> None:
    """Rebuild each cloud's permission catalog from its live API, in the files the package ships;
    each cloud says what it rebuilt, or where its catalog comes from instead."""
    day = date or datetime.now(timezone.utc).date().isoformat()
    failed = False
    for cloud in sorted({c.value for c in clouds} if clouds else registry.names()):
        live = registry.get(cloud).live
        try:
            typer.echo(f"{cloud}: {live.refresh_catalog(lambda: live.connect(**endpoints[cloud]), out, day)}")
        except Unreadable as error:
            failed = True
            err.print(f"{cloud}: not refreshed: {error}", markup=False)
        except ImportError as error:
            fail_usage(f"the SDK for catalog refresh is not installed ({error.name}): pip install 'wiam[live]'")
        except OSError as error:
            where = out or "the installed package's catalog folder"
            fail_usage(f"cannot write the catalogs into {where}: {error.strerror or error}"
                       + ("" if out else " (use --out)"))
    raise typer.Exit(EXIT_SPEC if failed else 0)
