"""The record's database: one schema, created by versioned DDL, on SQLite (a file, the default) or
PostgreSQL (a URL, one record for many spec repositories). Plain DB-API; the SQL is the same on both
(`?` parameters, turned into psycopg's `%s`), and every ID is given by wiam, so both hold the same rows."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from typing import Iterable, Iterator

from .loader import UsageError

# Each entry moves the schema one version on; a record is brought to the newest when opened. Dates are
# text in UTC (YYYY-MM-DDTHH:MM:SSZ), which orders as the time does in either database.
MIGRATIONS: list[list[str]] = [[
    "CREATE TABLE wiam_schema (version INTEGER NOT NULL)",
    "INSERT INTO wiam_schema (version) VALUES (0)",
    # one spec folder of one repository; head: the last first-parent commit processed
    "CREATE TABLE specs (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, head TEXT)",
    # the commits that changed the spec folder, in first-parent order (seq from 1)
    """CREATE TABLE commits (spec BIGINT NOT NULL REFERENCES specs (id), seq BIGINT NOT NULL, sha TEXT NOT NULL,
        tree TEXT, author TEXT NOT NULL, email TEXT NOT NULL, date TEXT NOT NULL, message TEXT NOT NULL,
        valid INTEGER NOT NULL, errors TEXT, classification TEXT, PRIMARY KEY (spec, seq))""",
    # a workload's name from the commit it was given (began) to the one that removed or renamed it
    # (ended); a lineage is one workload across its renames
    """CREATE TABLE workloads (spec BIGINT NOT NULL REFERENCES specs (id), id BIGINT NOT NULL,
        lineage BIGINT NOT NULL, name TEXT NOT NULL, began BIGINT NOT NULL, ended BIGINT, PRIMARY KEY (spec, id))""",
    # subject -> the principal of a workload lineage on a target -> permission -> resource
    """CREATE TABLE tuples (spec BIGINT NOT NULL REFERENCES specs (id), id BIGINT NOT NULL, issuer TEXT NOT NULL,
        subject TEXT NOT NULL, cloud TEXT NOT NULL, target TEXT NOT NULL, lineage BIGINT NOT NULL,
        permission TEXT NOT NULL, resource TEXT NOT NULL, indirect INTEGER NOT NULL, PRIMARY KEY (spec, id),
        UNIQUE (spec, issuer, subject, cloud, target, lineage, permission, resource, indirect))""",
    # a tuple held from commit `began` to commit `ended` (NULL: still held), under these claims (JSON)
    """CREATE TABLE intervals (spec BIGINT NOT NULL REFERENCES specs (id), id BIGINT NOT NULL, tuple BIGINT NOT NULL,
        conditions TEXT NOT NULL, began BIGINT NOT NULL, ended BIGINT, PRIMARY KEY (spec, id))""",
    # the findings a commit introduced
    """CREATE TABLE findings (spec BIGINT NOT NULL REFERENCES specs (id), seq BIGINT NOT NULL, rule TEXT NOT NULL,
        severity TEXT NOT NULL, workload TEXT, file TEXT NOT NULL, line INTEGER NOT NULL, col INTEGER NOT NULL,
        message TEXT NOT NULL)""",
    "CREATE INDEX intervals_open ON intervals (spec, ended)",
    "CREATE INDEX tuples_resource ON tuples (spec, resource)",
    "CREATE INDEX workloads_name ON workloads (spec, name)",
], [
    # a review block of a workload lineage as first seen, at commit seq; a record of version 1 is emptied
    # and rebuilt whole by the next run (its commits' review blocks were never read): nothing is lost,
    # since the record never holds a commit the branch no longer has
    """CREATE TABLE reviews (spec BIGINT NOT NULL REFERENCES specs (id), lineage BIGINT NOT NULL,
        workload TEXT NOT NULL, reviewer TEXT NOT NULL, day TEXT NOT NULL, seq BIGINT NOT NULL,
        PRIMARY KEY (spec, lineage, reviewer, day))""",
    *(f"DELETE FROM {table}" for table in ("findings", "intervals", "tuples", "workloads", "commits")),
    "UPDATE specs SET head = NULL",
], [
    # a commit ends each tuple's open interval by the tuple: without it, each end scans every open interval
    "CREATE INDEX intervals_tuple ON intervals (spec, tuple)",
]]
VERSION = len(MIGRATIONS)
_HAS_SCHEMA = {"sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'wiam_schema'",
               "postgresql": "SELECT count(*) FROM pg_tables WHERE tablename = 'wiam_schema' "
                             "AND schemaname = current_schema()"}


class Store:
    """An open record: `?`-parameter SQL on either database, in one transaction at a time."""

    def __init__(self, connection, dialect: str, failure: type[Exception]):
        self.connection, self.dialect = connection, dialect
        self.failure = failure  # what the driver raises

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.dialect == "postgresql" else statement

    def rows(self, statement: str, params: Iterable = ()) -> list[tuple]:
        cursor = self.connection.cursor()
        cursor.execute(self.sql(statement), tuple(params))
        return [tuple(row) for row in cursor.fetchall()]

    def run(self, statement: str, params: Iterable = ()) -> None:
        self.connection.cursor().execute(self.sql(statement), tuple(params))

    def run_many(self, statement: str, rows: list[tuple]) -> None:
        if rows:
            self.connection.cursor().executemany(self.sql(statement), rows)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Everything inside is written at once or not at all (a killed run leaves the record as it was)."""
        try:
            # a second run waits for this one (PostgreSQL: a lock held until the transaction ends)
            self.run("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "SELECT pg_advisory_xact_lock(2207)")
            yield self
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()

    def migrate(self) -> None:
        with self.transaction():
            found = self.rows("SELECT version FROM wiam_schema") if self.rows(_HAS_SCHEMA[self.dialect])[0][0] else [(0,)]
            version = found[0][0] if len(found) == 1 else None
            if type(version) is not int or version < 0:  # a table of that name that wiam did not write
                raise UsageError("the record's wiam_schema table holds no schema version: it is not a wiam "
                                 "record; give --db a file of its own")
            if version > VERSION:
                raise UsageError(f"the record has schema version {version}, newer than this wiam's {VERSION}: "
                                 "upgrade wiam")
            for steps in MIGRATIONS[version:]:
                for statement in steps:
                    self.run(statement)
            self.run("UPDATE wiam_schema SET version = ?", (VERSION,))

    def close(self) -> None:
        self.connection.close()


def open_store(where: str) -> Store:
    """The record at a file path (SQLite, created with its folder) or a postgresql:// URL, brought to the
    newest schema; UsageError when it cannot be opened. A URL is never printed: it may hold a password."""
    if where.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg
        except ImportError:
            raise UsageError("--db postgresql://... needs psycopg: pip install 'wiam[postgres]'") from None
        label, failure = "the PostgreSQL record", psycopg.Error
        try:
            store = Store(psycopg.connect(where), "postgresql", failure)
        except psycopg.ProgrammingError:  # libpq's parse errors quote the URL, password and all
            raise UsageError("--db: a URL PostgreSQL cannot parse (not shown: it may hold a password); write it "
                             "as postgresql://USER@HOST:PORT/DATABASE, the password in PGPASSWORD") from None
        except failure as error:
            raise UsageError(f"cannot connect to {label}: {str(error).strip()}") from None
    else:
        label, failure = where, sqlite3.Error
        try:
            os.makedirs(os.path.dirname(os.path.abspath(where)), exist_ok=True)
            store = Store(sqlite3.connect(where, isolation_level=None, timeout=60), "sqlite", failure)
        except (OSError, failure) as error:
            raise UsageError(f"cannot open the record {label}: {error}") from None
    try:
        store.migrate()
    except failure as error:
        store.close()
        raise UsageError(f"{label} is not a wiam record: {str(error).strip()}") from None
    return store
