"""`dealpilot backup` and `dealpilot restore`: the whole database and the uploaded files in one archive.

An archive (`.tar.gz`) holds:
- `manifest.json`: the format, the database vendor, when, dealpilot's version, the applied migrations
  and the row count of every table (what a restore is checked against);
- the database: `database.sqlite3` (SQLite's online backup API, consistent while the app runs) or
  `database.pgdump` (`pg_dump --format=custom`, one snapshot);
- `media/`: uploaded files (content modules, imports), as they are on disk.

A restore goes into the same kind of database it came from (SQLite into SQLite, PostgreSQL into
PostgreSQL), replaces what is there, and checks every table's row count against the manifest; a
failed restore leaves the database as it was (SQLite: the file is swapped in only once complete;
PostgreSQL: `pg_restore --single-transaction`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.db import connection, connections

FORMAT = 1
MANIFEST = "manifest.json"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


def table_counts() -> dict[str, int]:
    """Rows per table of the database, every table Django knows of (dealpilot's and Django's own)."""
    tables = sorted(set(connection.introspection.table_names()))
    counts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _applied_migrations() -> list[str]:
    from django.db.migrations.recorder import MigrationRecorder

    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def default_backup_path() -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(settings.DATA_DIR) / "backups" / f"dealpilot-{stamp}.tar.gz"


def _pg_args() -> tuple[list[str], dict[str, str]]:
    s = connection.settings_dict
    args = ["--dbname", s["NAME"]]
    if s.get("HOST"):
        args += ["--host", s["HOST"]]
    if s.get("PORT"):
        args += ["--port", str(s["PORT"])]
    if s.get("USER"):
        args += ["--username", s["USER"]]
    env = dict(os.environ)
    if s.get("PASSWORD"):
        env["PGPASSWORD"] = s["PASSWORD"]
    return args, env


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (PostgreSQL's client tools: apt-get install postgresql-client)")
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")


def backup(path: Path | None = None) -> tuple[Path, dict]:
    """Write an archive of the database and the uploaded files; return its path and manifest."""
    path = Path(path) if path else default_backup_path()
    if path.exists():
        raise BackupError(f"{path} exists already: choose another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": FORMAT,
        "vendor": connection.vendor,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dealpilot": _version(),
        "migrations": _applied_migrations(),
        "counts": table_counts(),
    }
    with tempfile.TemporaryDirectory(prefix="dealpilot-backup-", dir=path.parent) as tmp:
        work = Path(tmp)
        if connection.vendor == "sqlite":
            database = work / "database.sqlite3"
            connection.ensure_connection()
            target = sqlite3.connect(database)
            try:
                connection.connection.backup(target)  # consistent even while others write (WAL)
            finally:
                target.close()
        elif connection.vendor == "postgresql":
            database = work / "database.pgdump"
            args, env = _pg_args()
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(database), *args], env)
        else:
            raise BackupError(f"backups of {connection.vendor} databases are not supported")
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1))
        partial = work / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(work / MANIFEST, MANIFEST)
            tar.add(database, database.name)
            media = Path(settings.MEDIA_ROOT)
            if media.is_dir():
                tar.add(media, "media")
        partial.replace(path)  # the archive appears only once complete
    return path, manifest


def read_manifest(path: Path) -> dict:
    if not Path(path).is_file():
        raise BackupError(f"{path} does not exist")
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path} is not a dealpilot backup ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{path} has backup format {manifest.get('format')!r}; this dealpilot reads format {FORMAT}")
    return manifest


def restore(path: Path) -> dict:
    """Replace the database and uploaded files with an archive's; return the manifest."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest["vendor"] != connection.vendor:
        raise BackupError(f"{path} is a {manifest['vendor']} backup; the database in use is {connection.vendor} "
                          f"(restore it into a {manifest['vendor']} database)")
    with tempfile.TemporaryDirectory(prefix="dealpilot-restore-") as tmp:
        work = Path(tmp)
        with tarfile.open(path, "r:gz") as tar:
            tar.extractall(work, filter="data")  # no absolute paths, links out or devices
        if connection.vendor == "sqlite":
            _restore_sqlite(work / "database.sqlite3")
        else:
            _restore_postgres(work / "database.pgdump")
        _restore_media(work / "media")
    counts = table_counts()
    differ = {t: (n, counts.get(t)) for t, n in manifest["counts"].items() if counts.get(t) != n}
    if differ:
        raise BackupError(f"the restored database differs from the backup: {differ}")
    return manifest


def _restore_sqlite(source: Path) -> None:
    if not source.is_file():
        raise BackupError("the archive holds no database.sqlite3")
    check = sqlite3.connect(source)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the database in the archive is damaged")
    finally:
        check.close()
    connection.ensure_connection()
    live = connection.connection
    backup_db = sqlite3.connect(source)
    try:
        backup_db.backup(live)  # page by page into the live database, under its write lock
    finally:
        backup_db.close()
    connections.close_all()


def _restore_postgres(source: Path) -> None:
    if not source.is_file():
        raise BackupError("the archive holds no database.pgdump")
    connections.close_all()
    args, env = _pg_args()
    # --clean drops what the dump holds before re-creating it; one transaction: all or nothing
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", *args, str(source)], env)


def _restore_media(source: Path) -> None:
    media = Path(settings.MEDIA_ROOT)
    if media.exists():
        shutil.rmtree(media)
    if source.is_dir():
        shutil.copytree(source, media)
    else:
        media.mkdir(parents=True, exist_ok=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dealpilot")
    except PackageNotFoundError:
        return "unknown"
