"""`dealpilot backup` / `dealpilot restore` with the real command, on the kind of database the suite
runs on: the demo organisation goes into an archive, the database and the uploads are then damaged,
and the restore brings back every row of every table and every file, byte for byte."""

import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import dj_database_url
import psycopg

DEALPILOT = [sys.executable, "-m", "dealpilot.cli"]


def run(env, *args, input=None, timeout=600):
    return subprocess.run([*DEALPILOT, *args], env=env, capture_output=True, text=True, timeout=timeout, input=input)


def fingerprint(env) -> dict[str, tuple[int, str]]:
    """Every table's row count and a hash of its rows in primary-key order."""
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        query = lambda t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall()  # noqa: E731
    else:
        cfg = dj_database_url.parse(url)
        conn = psycopg.connect(dbname=cfg["NAME"], host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432,
                               user=cfg["USER"], password=cfg["PASSWORD"] or None)
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        query = lambda t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall()  # noqa: E731
    try:
        return {t: (len(rows := query(t)), hashlib.sha256(repr(rows).encode()).hexdigest()) for t in sorted(tables)}
    finally:
        conn.close()


def execute(env, sql: str) -> None:
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql)
        return
    cfg = dj_database_url.parse(url)
    with psycopg.connect(dbname=cfg["NAME"], host=cfg["HOST"] or "127.0.0.1", port=cfg["PORT"] or 5432,
                         user=cfg["USER"], password=cfg["PASSWORD"] or None) as conn:
        conn.execute(sql)


def test_the_demo_organisation_round_trips_with_nothing_lost(cli_env, tmp_path):
    created = run(cli_env, "demo", "--no-serve")
    assert created.returncode == 0, created.stderr
    media = Path(cli_env["DEALPILOT_DATA_DIR"]) / "media"
    (media / "content").mkdir(parents=True)
    (media / "content" / "battle-card.pdf").write_bytes(b"%PDF-1.4 a battle card\x00\xff")
    before = fingerprint(cli_env)
    assert before["crm_opportunity"][0] == 3000 and before["crm_activity"][0] == 30000

    archive = tmp_path / "backups" / "demo.tar.gz"
    done = run(cli_env, "backup", str(archive))
    assert done.returncode == 0, done.stderr
    assert "backed up" in done.stdout and str(archive) in done.stdout
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))
    assert {"manifest.json", "media/content/battle-card.pdf"} <= names
    assert manifest["counts"]["crm_opportunity"] == 3000 and manifest["vendor"] in ("sqlite", "postgresql")

    # damage: records deleted and changed, an upload lost and a stray one added
    execute(cli_env, "DELETE FROM crm_activity WHERE id % 3 = 0")
    execute(cli_env, "UPDATE crm_opportunity SET amount = 1 WHERE id % 2 = 0")
    (media / "content" / "battle-card.pdf").unlink()
    (media / "stray.txt").write_text("not in the backup")
    assert fingerprint(cli_env) != before

    refused = run(cli_env, "restore", str(archive), input="n\n")  # asks first; "no" changes nothing
    assert refused.returncode == 1
    assert fingerprint(cli_env)["crm_activity"][0] < 30000

    restored = run(cli_env, "restore", str(archive), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert fingerprint(cli_env) == before
    assert (media / "content" / "battle-card.pdf").read_bytes() == b"%PDF-1.4 a battle card\x00\xff"
    assert not (media / "stray.txt").exists()
    status = json.loads(run(cli_env, "status", "--format", "json").stdout)
    assert status["counts"]["opportunities"] == 3000


def test_backup_and_restore_refuse_what_they_cannot_do(cli_env, tmp_path):
    assert run(cli_env, "status").returncode == 0  # a migrated, empty database
    archive = tmp_path / "one.tar.gz"
    assert run(cli_env, "backup", str(archive)).returncode == 0
    again = run(cli_env, "backup", str(archive))
    assert again.returncode == 1 and "exists already" in again.stderr

    not_a_backup = tmp_path / "notes.tar.gz"
    not_a_backup.write_bytes(b"hello")
    refused = run(cli_env, "restore", str(not_a_backup), "--yes")
    assert refused.returncode == 1 and "not a dealpilot backup" in refused.stderr

    missing = run(cli_env, "restore", str(tmp_path / "nowhere.tar.gz"), "--yes")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_a_backup_of_another_kind_of_database_is_refused(cli_env, tmp_path):
    assert run(cli_env, "status").returncode == 0
    archive = tmp_path / "other.tar.gz"
    assert run(cli_env, "backup", str(archive)).returncode == 0
    # rewrite the manifest as if the archive came from the other kind of database
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    manifest = json.loads(members["manifest.json"])
    manifest["vendor"] = "postgresql" if manifest["vendor"] == "sqlite" else "sqlite"
    members["manifest.json"] = json.dumps(manifest).encode()
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    refused = run(cli_env, "restore", str(forged), "--yes")
    assert refused.returncode == 1 and f"is a {manifest['vendor']} backup" in refused.stderr

