# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Functional tests of tools/dsr_datagen.py against a throwaway PostgreSQL cluster.

The module fixture runs initdb and pg_ctl from the local PostgreSQL installation
(as the ``postgres`` user through runuser when the tests run as root), on a free
TCP port of 127.0.0.1, and removes the cluster afterwards.  The tests are
skipped only when the PostgreSQL server binaries cannot be found.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg2
import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "dsr_datagen.py"

TABLES = ("regions", "provinces", "programs", "households", "household_members", "program_enrollments", "payments", "grievances")
REGION_CODES = {"NCR", "CAR", "I", "II", "III", "IV-A", "MIMAROPA", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "BARMM"}
EXPECTED_FKS = {
    "provinces_region_id_fkey", "households_province_id_fkey", "household_members_household_id_fkey",
    "program_enrollments_household_id_fkey", "program_enrollments_program_id_fkey", "payments_enrollment_id_fkey",
    "grievances_household_id_fkey",
}
HOUSEHOLDS_MD5 = "SELECT md5(string_agg(h::text, '|' ORDER BY h.household_id)) FROM registry.households AS h"
MEMBERS_MD5 = "SELECT md5(string_agg(m::text, '|' ORDER BY m.member_id)) FROM registry.household_members AS m"


def _load_tool():
    spec = importlib.util.spec_from_file_location("dsr_datagen", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


datagen = _load_tool()


def _pg_bindir():
    """Directory holding initdb and pg_ctl, or None."""
    candidates = [os.environ[name] for name in ("DSR_PG_BINDIR", "PG_BINDIR") if os.environ.get(name)]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            candidates.append(subprocess.run([pg_config, "--bindir"], check=True, capture_output=True, text=True).stdout.strip())
        except (OSError, subprocess.CalledProcessError):
            pass
    candidates.extend(sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
                             reverse=True))
    candidates.extend(glob.glob("/usr/pgsql-*/bin"))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for directory in candidates:
        if directory and os.access(os.path.join(directory, "initdb"), os.X_OK) and os.access(os.path.join(directory, "pg_ctl"), os.X_OK):
            return directory
    return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """Start a throwaway PostgreSQL cluster; yields a function that builds a DSN for a database name."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL or set DSR_PG_BINDIR")

    prefix = []
    workdir = tempfile.mkdtemp(prefix="datagen-pg.")
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the server as the postgres user.
        runuser = shutil.which("runuser")
        assert runuser, "running as root needs runuser to start PostgreSQL as the postgres user"
        prefix = [runuser, "-u", "postgres", "--"]
        shutil.chown(workdir, user="postgres")

    datadir = os.path.join(workdir, "data")
    port = _free_port()
    subprocess.run(prefix + [os.path.join(bindir, "initdb"), "-D", datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                             "--no-locale", "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(prefix + [os.path.join(bindir, "pg_ctl"), "-D", datadir, "-o", options, "-l", os.path.join(workdir, "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        def dsn(dbname):
            return f"host=127.0.0.1 port={port} user=postgres dbname={dbname}"

        conn = psycopg2.connect(dsn("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in ("dsr_a", "dsr_b", "dsr_c"):
                cur.execute(f"CREATE DATABASE {name}")
        conn.close()
        yield dsn
    finally:
        subprocess.run(prefix + [os.path.join(bindir, "pg_ctl"), "-D", datadir, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _query(dsn, sql, params=None):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


def _counts(dsn):
    return {table: _query(dsn, f"SELECT count(*) FROM registry.{table}")[0][0] for table in TABLES}


@pytest.fixture(scope="module")
def loaded(cluster):
    """A ~5 MB DSR database in dsr_a, generated with seed 42."""
    lines = []
    summary = datagen.generate(cluster("dsr_a"), size_bytes=datagen.parse_size("5MB"), seed=42, log=lines.append)
    return {"dsn": cluster("dsr_a"), "summary": summary, "log": lines}


def test_every_table_is_filled(loaded):
    counts = _counts(loaded["dsn"])
    assert all(counts[table] > 0 for table in TABLES), counts
    assert counts == loaded["summary"]["rows"]
    assert loaded["summary"]["households"] == counts["households"]
    assert any("households" in line for line in loaded["log"])


def test_size_is_about_five_megabytes(loaded):
    registry_bytes = loaded["summary"]["registry_bytes"]
    assert 2.5 * 1024 ** 2 < registry_bytes < 10 * 1024 ** 2, registry_bytes
    assert loaded["summary"]["database_bytes"] > registry_bytes
    assert loaded["summary"]["elapsed_seconds"] >= 0


def test_row_counts_are_plausible(loaded):
    counts = _counts(loaded["dsn"])
    households = counts["households"]
    assert households == datagen.households_for_size(5 * 1024 ** 2)
    assert 4.0 <= counts["household_members"] / households <= 5.0
    assert counts["payments"] == max(counts[t] for t in TABLES), "payments should be the biggest table"
    assert counts["program_enrollments"] <= households * len(datagen.PROGRAMS)
    assert counts["programs"] == 6
    heads = _query(loaded["dsn"], "SELECT count(*) FROM registry.household_members WHERE is_head")[0][0]
    assert heads == households


def test_all_regions_and_provinces(loaded):
    codes = {row[0] for row in _query(loaded["dsn"], "SELECT code FROM registry.regions")}
    assert codes == REGION_CODES
    per_region = _query(loaded["dsn"], "SELECT r.code, count(p.province_id) FROM registry.regions r "
                                       "LEFT JOIN registry.provinces p USING (region_id) GROUP BY r.code")
    assert all(count >= 3 for _code, count in per_region), per_region
    program_codes = {row[0] for row in _query(loaded["dsn"], "SELECT code FROM registry.programs")}
    assert {"4PS", "UCT", "KALAHI-CIDSS", "SLP", "SOCPEN", "AICS"} == program_codes


def test_constraints_and_indexes(loaded):
    fks = _query(loaded["dsn"], "SELECT conname, convalidated FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                                "WHERE n.nspname = 'registry' AND c.contype = 'f'")
    assert {name for name, _valid in fks} == EXPECTED_FKS
    assert all(valid for _name, valid in fks)
    pks = {row[0] for row in _query(loaded["dsn"], "SELECT conrelid::regclass::text FROM pg_constraint c JOIN pg_namespace n "
                                                   "ON n.oid = c.connamespace WHERE n.nspname = 'registry' AND c.contype = 'p'")}
    assert pks == {f"registry.{table}" for table in TABLES}
    indexes = dict(_query(loaded["dsn"], "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'registry'"))
    for name in ("households_province_id_idx", "households_status_idx", "household_members_household_id_idx",
                 "household_members_name_idx", "program_enrollments_program_id_idx", "payments_enrollment_id_idx",
                 "payments_period_idx", "grievances_household_id_idx", "household_members_philsys_number_key"):
        assert name in indexes, name
    assert "WHERE (status <> 'resolved'::text)" in indexes["grievances_open_status_idx"]
    analyzed = _query(loaded["dsn"], "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = 'registry' AND last_analyze IS NULL")
    assert analyzed[0][0] == 0
    public = _query(loaded["dsn"], "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'")
    assert public[0][0] == 0


def test_data_shape(loaded):
    dsn = loaded["dsn"]
    bad = _query(dsn, "SELECT count(*) FROM registry.household_members WHERE philsys_number !~ '^[0-9]{16}$'")[0][0]
    assert bad == 0
    numbers = _query(dsn, "SELECT min(household_number), max(household_number) FROM registry.households")[0]
    assert numbers[0].startswith("HH-") and len(numbers[0]) == 13
    statuses = {row[0] for row in _query(dsn, "SELECT DISTINCT status FROM registry.households")}
    assert statuses <= {"active", "inactive", "pending", "graduated"} and "active" in statuses
    early = _query(dsn, "SELECT count(*) FROM registry.payments p JOIN registry.program_enrollments e USING (enrollment_id) "
                        "WHERE p.period < date_trunc('month', e.enrolled_on)")[0][0]
    assert early == 0
    # Identity sequences continue after the generated keys.
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO registry.grievances (household_id, category, channel, description, status, filed_at) "
                        "VALUES (1, 'Data update', 'Walk-in', 'test', 'open', now()) RETURNING grievance_id")
            new_id = cur.fetchone()[0]
            cur.execute("SELECT max(grievance_id) FROM registry.grievances WHERE grievance_id <> %s", (new_id,))
            assert new_id > cur.fetchone()[0]
    finally:
        conn.rollback()
        conn.close()


def test_same_seed_same_data(loaded, cluster):
    """Same seed, different batch size and two parallel jobs: identical rows."""
    dsn_b = cluster("dsr_b")
    households = loaded["summary"]["households"]
    datagen.generate(dsn_b, households=households, seed=42, jobs=2, batch_size=max(1, households // 3), log=lambda _line: None)
    assert _counts(dsn_b) == _counts(loaded["dsn"])
    assert _query(dsn_b, HOUSEHOLDS_MD5) == _query(loaded["dsn"], HOUSEHOLDS_MD5)
    assert _query(dsn_b, MEMBERS_MD5) == _query(loaded["dsn"], MEMBERS_MD5)

    # Another seed gives other data; drop_existing rebuilds the schema.
    datagen.generate(dsn_b, households=households, seed=7, drop_existing=True, log=lambda _line: None)
    assert _query(dsn_b, "SELECT count(*) FROM registry.households")[0][0] == households
    assert _query(dsn_b, HOUSEHOLDS_MD5) != _query(loaded["dsn"], HOUSEHOLDS_MD5)


def test_refuses_to_reload_without_drop_existing(loaded):
    before = _query(loaded["dsn"], HOUSEHOLDS_MD5)
    with pytest.raises(datagen.DatagenError, match="already exists"):
        datagen.generate(loaded["dsn"], households=20, log=lambda _line: None)
    assert _query(loaded["dsn"], HOUSEHOLDS_MD5) == before
    assert datagen.main(["--dsn", loaded["dsn"], "--households", "20"]) == 1
    assert _query(loaded["dsn"], HOUSEHOLDS_MD5) == before


def test_cli(cluster, capsys):
    assert datagen.main(["--dsn", cluster("dsr_c"), "--households", "200", "--seed", "3", "--jobs", "2", "--batch-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "payments" in out and "elapsed" in out
    assert _query(cluster("dsr_c"), "SELECT count(*) FROM registry.households")[0][0] == 200
    with pytest.raises(SystemExit):
        datagen.main(["--dsn", cluster("dsr_c"), "--size", "lots"])
    with pytest.raises(SystemExit):
        datagen.main(["--dsn", cluster("dsr_c")])


@pytest.mark.parametrize("text, expected", [
    ("5MB", 5 * 1024 ** 2),
    ("200MB", 200 * 1024 ** 2),
    ("1GB", 1024 ** 3),
    ("3GB", 3 * 1024 ** 3),
    ("1.5GiB", int(1.5 * 1024 ** 3)),
    ("512 kb", 512 * 1024),
    ("800K", 800 * 1024),
    ("2t", 2 * 1024 ** 4),
    ("123456", 123456),
    ("42B", 42),
])
def test_parse_size(text, expected):
    assert datagen.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "abc", "5XB", "-5MB", "0MB", "1e3", "5 M B", "1,5GB", None, 5])
def test_parse_size_rejects_garbage(text):
    with pytest.raises(ValueError):
        datagen.parse_size(text)


def test_size_to_households():
    assert datagen.households_for_size(datagen.BYTES_PER_HOUSEHOLD * 1000) == 1000
    assert datagen.households_for_size(1) == datagen.MIN_HOUSEHOLDS
