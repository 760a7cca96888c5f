"""A real PostgreSQL server for the case-store tests, started once per test session.

Debian's ``postgresql`` package (installed by scripts/test.sh) provides ``initdb`` and
``pg_ctl`` under /usr/lib/postgresql/VERSION/bin. The cluster lives in a fresh temporary
directory, listens on 127.0.0.1 on a free port (and a socket in that directory), trusts
local connections, and is stopped and removed at the end. PostgreSQL refuses to run as
root, so when the tests run as root (CI) the server runs as the ``postgres`` system user
the package creates.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]))  # fmt: skip
    assert found, "PostgreSQL is not installed: scripts/test.sh installs the postgresql package"
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="netscan-pg-"))
    data = base / "data"
    runas: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        os.chmod(base, 0o700)
        runas = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    env = dict(os.environ, LC_ALL="C.UTF-8")
    subprocess.run([*runas, str(bindir / "initdb"), "-D", str(data), "-U", "netscan",
                    "--auth=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, env=env, timeout=300)  # fmt: skip
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*runas, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w",
                    "-l", str(base / "log"), "start"],
                   check=True, capture_output=True, env=env, timeout=300)  # fmt: skip
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=netscan dbname=postgres",
                             autocommit=True) as conn:  # fmt: skip
            conn.execute("CREATE DATABASE netscan_cases")
        yield f"postgresql://netscan@127.0.0.1:{port}/netscan_cases"
    finally:
        subprocess.run([*runas, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                        "stop"], capture_output=True, env=env, timeout=300)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


_DATABASES = itertools.count()


@pytest.fixture
def fresh_pg(postgres_url: str) -> Callable[[], str]:
    """A new, empty database on the session's server for each call."""
    import psycopg

    def make() -> str:
        # One counter for the whole session: a name built from an object's id could come
        # back once that object was freed, and CREATE DATABASE then fails.
        name = f"cases_{os.getpid()}_{next(_DATABASES)}"
        server = postgres_url.rsplit("/", 1)[0]
        with psycopg.connect(server + "/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return server + "/" + name

    return make
