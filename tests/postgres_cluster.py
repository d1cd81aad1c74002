"""A throwaway PostgreSQL 15 cluster on a temp dir and a loopback port: a real server, no mock.

PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` system user
(created by Debian's postgresql package) and its commands run through `runuser`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
from dagster_dev import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
READY_DEADLINE_SECONDS = 60


class PostgresCluster:
    def __init__(self) -> None:
        if not (PG_BIN / "initdb").is_file():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing): .ci/run installs it")
        self.port = free_port()
        self.user = "dagster"
        self.password = "throwaway"
        self.db_name = "dagster"
        # Not under pytest's tmp_path: that is private to root, and the server runs as `postgres`.
        self.root = Path(tempfile.mkdtemp(prefix="nope-pg-"))
        self.data = self.root / "data"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_root else []
        result = subprocess.run(prefix + list(command), capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}")

    def start(self) -> PostgresCluster:
        password_file = self.root / "password"
        password_file.write_text(self.password)
        if self._as_root:
            shutil.chown(password_file, "postgres", "postgres")
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", self.user, "--pwfile", str(password_file),
            "-A", "scram-sha-256", "-E", "UTF8",
        )  # fmt: skip
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root}"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")
        deadline = time.monotonic() + READY_DEADLINE_SECONDS
        while True:
            try:
                connection = self.connect("postgres")
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
                continue
            try:
                connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
                connection.cursor().execute(f"CREATE DATABASE {self.db_name}")
            finally:
                connection.close()
            return self

    def connect(self, db_name: str | None = None):
        return psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname=db_name or self.db_name
        )

    def query(self, sql: str, *args) -> list[tuple]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return cursor.fetchall()
        finally:
            connection.close()

    def env(self) -> dict[str, str]:
        """The variables the generated dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db_name,
        }

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
