"""A throwaway PostgreSQL server from Debian's binaries: its own data folder, a unix socket only, trust
for the local user. As root (containers), the server runs as the `postgres` user, which initdb needs."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager


def binaries() -> str | None:
    """The folder of the newest installed initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


@contextmanager
def server():
    """A running server; yields its postgresql:// URL, and stops it and removes its files after."""
    bin_dir = binaries()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    folder = tempfile.mkdtemp(prefix="wiam-pg-")  # not under pytest's 0700 folders: the server's user reads it
    try:
        if as_root:
            user = pwd.getpwnam("postgres")
            os.chown(folder, user.pw_uid, user.pw_gid)
        data, socket = os.path.join(folder, "data"), folder
        subprocess.run([*prefix, f"{bin_dir}/initdb", "-D", data, "-U", "wiam", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True)
        subprocess.run([*prefix, f"{bin_dir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(folder, "log"), "-o",
                        f"-k {socket} -c listen_addresses='' -c fsync=off", "start"], check=True, capture_output=True)
        try:
            yield f"postgresql://wiam@/postgres?host={socket}"
        finally:
            subprocess.run([*prefix, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
