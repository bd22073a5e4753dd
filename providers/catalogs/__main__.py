"""Rebuild the shipped catalogs from API-shaped records: see providers/catalogs/__init__.py."""

import argparse
import json
import os

from . import AZURE_FILE, GCP_FILE, azure_catalog, gcp_catalog, write


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild the shipped GCP and Azure role catalogs.")
    parser.add_argument("--gcp-roles", help="folder of GCP Role JSON files (roles.list, view FULL)")
    parser.add_argument("--azure-roles", help="JSON list of Azure role definitions")
    parser.add_argument("--source", required=True)
    parser.add_argument("--date", required=True)
    args = parser.parse_args()
    here = os.path.dirname(__file__)
    if args.gcp_roles:
        records = []
        for name in sorted(os.listdir(args.gcp_roles)):
            with open(os.path.join(args.gcp_roles, name), encoding="utf-8") as handle:
                records.append(json.load(handle))
        write(gcp_catalog(records, args.source, args.date), os.path.join(here, GCP_FILE))
    if args.azure_roles:
        with open(args.azure_roles, encoding="utf-8") as handle:
            write(azure_catalog(json.load(handle), args.source, args.date), os.path.join(here, AZURE_FILE))


main()
