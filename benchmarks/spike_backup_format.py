# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Spike: measure candidate on-disk formats for PostgreSQL 15 backups of the registry.

Runs, on one database, backup candidates (plain SQL + gzip as in the runbook, custom and
directory format dumps compressed by pg_dump or by python-zstandard, with SHA-256 of what is
stored) and restore candidates (each into a fresh database from template0, validated by
ANALYZE and exact row counts per table compared with the source).  For each it records the
wall time of every phase, the size of the output, the peak disk used under its work directory
and the peak RSS of the Python process and of its children separately.

Every candidate runs in a child Python process of its own (``--worker NAME``) so that
``getrusage(RUSAGE_SELF)`` and ``getrusage(RUSAGE_CHILDREN)`` are per candidate.  A candidate
whose first run takes less than ``--median-below`` seconds (60) is run ``--runs`` times (3) and
its median run is reported; a slower one runs once.

Example (passwords come from PGPASSWORD / ~/.pgpass as usual, or from a harness state file)::

    python benchmarks/spike_backup_format.py --harness-state /tmp/spike-h/state.json --workdir /tmp/spike-work
    python benchmarks/spike_backup_format.py --dsn "host=127.0.0.1 port=5432 user=dsr_app dbname=dsr_db" \\
        --admin-dsn "host=127.0.0.1 port=5432 user=postgres dbname=postgres" --workdir /tmp/x --only b_floor,d_pipe_zstd3

Results go to ``WORKDIR/results.json`` and a Markdown table to ``WORKDIR/results.md``.
Needs: PostgreSQL 15 client binaries, gzip, zstd (for the CLI candidate), ``zstandard`` and
``psycopg2``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import psycopg2.extensions
import zstandard

CHUNK = 1 << 20
TUNING = '-c maintenance_work_mem=512MB -c synchronous_commit=off'

# name -> (kind, function name, parameters).  Restore candidates name the backup whose output they read.
CANDIDATES = {
    'a_runbook': ('backup', 'backup_runbook', {}),
    'b_floor': ('backup', 'backup_floor', {}),
    'c_tmpfile_zstd3': ('backup', 'backup_custom_tmpfile', {'level': 3}),
    'd_pipe_zstd3': ('backup', 'backup_custom_pipe', {'level': 3}),
    'd_pipe_zstd1': ('backup', 'backup_custom_pipe', {'level': 1}),
    'g_pipe_zstdcli3': ('backup', 'backup_custom_pipe_cli', {'level': 3}),
    'e_dir_zstd3': ('backup', 'backup_dir_zstd', {'level': 3}),
    'e_dir_zstd1': ('backup', 'backup_dir_zstd', {'level': 1}),
    'f_dir_gzip1': ('backup', 'backup_dir_gzip', {'level': 1}),
    'f_dir_gzip6': ('backup', 'backup_dir_gzip', {'level': 6}),
    'r1_psql': ('restore', 'restore_psql', {'source': 'a_runbook'}),
    'r2_custom_tmp': ('restore', 'restore_custom', {'source': 'c_tmpfile_zstd3'}),
    'r2_custom_tmp_tuned': ('restore', 'restore_custom', {'source': 'c_tmpfile_zstd3', 'tuned': True}),
    'r2_custom_tmp_tuned_serialcheck': ('restore', 'restore_custom', {'source': 'c_tmpfile_zstd3', 'tuned': True, 'check_jobs': 1}),
    'r3_custom_nooffsets': ('restore', 'restore_custom', {'source': 'd_pipe_zstd3', 'tuned': True}),
    'r3_custom_nooffsets_zstd1': ('restore', 'restore_custom', {'source': 'd_pipe_zstd1', 'tuned': True}),
    'r4_dir_zstd_tmp': ('restore', 'restore_dir_zstd', {'source': 'e_dir_zstd3', 'tuned': True}),
    'r4g_dir_zstd_fifo': ('restore', 'restore_dir_zstd', {'source': 'e_dir_zstd3', 'tuned': True, 'fifo': True}),
    'r4g_dir_zstd_fifo_untuned': ('restore', 'restore_dir_zstd', {'source': 'e_dir_zstd3', 'fifo': True}),
    'r4g_dir_zstd1_fifo': ('restore', 'restore_dir_zstd', {'source': 'e_dir_zstd1', 'tuned': True, 'fifo': True}),
    'r5_dir_gzip1': ('restore', 'restore_dir_gzip', {'source': 'f_dir_gzip1', 'tuned': True}),
    'r5_dir_gzip1_untuned': ('restore', 'restore_dir_gzip', {'source': 'f_dir_gzip1'}),
}


class SpikeError(RuntimeError):
    """A candidate failed; the message says how."""


class HashingWriter:
    """A file-like sink that hashes and counts what it writes to ``raw``."""

    def __init__(self, raw):
        self.raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.raw.write(data)


class Phases:
    """Wall-clock time of named phases, in order."""

    def __init__(self):
        self.times = {}

    def run(self, name, func, *args, **kwargs):
        start = time.monotonic()
        result = func(*args, **kwargs)
        self.times[name] = self.times.get(name, 0.0) + time.monotonic() - start
        return result


# ---------------------------------------------------------------- helpers


def pg(args, name):
    return os.path.join(args.bindir, name)


def run(argv, env=None, stdout=None):
    proc = subprocess.run(argv, env=env, stdout=stdout, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise SpikeError('%s exited %d: %s' % (argv[0], proc.returncode, proc.stderr.decode(errors='replace')[-2000:]))


def wait_all(procs):
    errors = []
    for proc in procs:
        stderr = proc.stderr.read().decode(errors='replace') if proc.stderr else ''
        if proc.wait() != 0:
            errors.append('%s exited %d: %s' % (proc.args[0], proc.returncode, stderr[-2000:]))
    if errors:
        raise SpikeError('; '.join(errors))


def fsync_rename(tmp, final):
    with open(tmp, 'rb') as handle:
        os.fsync(handle.fileno())
    os.rename(tmp, final)
    fsync_dir(os.path.dirname(final))


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def disk_usage(path):
    """Bytes allocated under ``path`` (files only, st_blocks), 0 if it is gone."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def tree_size(path):
    """Apparent size of a file or of the files under a directory."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, files in os.walk(path) for name in files)


def sha256_file(path):
    sha = hashlib.sha256()
    with open(path, 'rb') as handle:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return sha.hexdigest()
            sha.update(chunk)


def compress_file(src, dst, level, threads):
    """zstd-compress ``src`` into ``dst`` (via dst.tmp, fsync, rename); return the SHA-256 of ``dst``."""
    cctx = zstandard.ZstdCompressor(level=level, threads=threads)
    with open(src, 'rb') as source, open(dst + '.tmp', 'wb') as raw:
        sink = HashingWriter(raw)
        cctx.copy_stream(source, sink, read_size=CHUNK, write_size=CHUNK)
    fsync_rename(dst + '.tmp', dst)
    return sink.sha.hexdigest()


def decompress_file(src, dst):
    dctx = zstandard.ZstdDecompressor()
    with open(src, 'rb') as source, open(dst, 'wb') as target:
        dctx.copy_stream(source, target, read_size=CHUNK, write_size=CHUNK)


def write_manifest(outdir, digests):
    with open(os.path.join(outdir, 'SHA256SUMS'), 'w', encoding='utf-8') as handle:
        for name in sorted(digests):
            handle.write('%s  %s\n' % (digests[name], name))


def verify_manifest(outdir):
    """Check every file listed in SHA256SUMS (written last by the backup)."""
    with open(os.path.join(outdir, 'SHA256SUMS'), encoding='utf-8') as handle:
        for line in handle:
            digest, name = line.rstrip('\n').split('  ', 1)
            if sha256_file(os.path.join(outdir, name)) != digest:
                raise SpikeError('checksum mismatch on %s' % name)


def dsn_for(dsn, **overrides):
    return psycopg2.extensions.make_dsn(dsn, **overrides)


def user_tables(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT format('%I.%I', n.nspname, c.relname), pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
                    "ORDER BY 2 DESC")
        return cur.fetchall()


def per_table(dsn, tables, jobs, statement):
    """Run ``statement % table`` for each table over ``jobs`` connections (largest first); return {table: first value}."""
    lock = threading.Lock()
    queue = list(tables)
    results = {}

    def worker():
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while True:
                    with lock:
                        if not queue:
                            return
                        table = queue.pop(0)
                    cur.execute(statement % table)
                    row = cur.fetchone() if cur.description else None
                    results[table] = row[0] if row else None
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(worker) for dummy in range(jobs)]:
            future.result()
    return results


# ---------------------------------------------------------------- backups


def backup_runbook(args, out, phases):
    sql = os.path.join(out, 'f.sql')
    phases.run('pg_dump', run, [pg(args, 'pg_dump'), '-d', args.dsn, '-f', sql])
    phases.run('gzip', run, ['gzip', sql])
    phases.run('gunzip -t', run, ['gunzip', '-t', sql + '.gz'])
    return {'output': sql + '.gz'}


def backup_floor(args, out, phases):
    with open(os.devnull, 'wb') as null:
        phases.run('pg_dump', run, [pg(args, 'pg_dump'), '-Fc', '-Z0', '-d', args.dsn], stdout=null)
    return {'output': None}


def backup_custom_tmpfile(args, out, phases, level):
    tmp = os.path.join(out, 'tmp.dump')
    final = os.path.join(out, 'out.dump.zst')
    # the temporary dump needs no fsync: it is thrown away
    phases.run('pg_dump', run, [pg(args, 'pg_dump'), '-Fc', '-Z0', '--no-sync', '-d', args.dsn, '-f', tmp])
    digest = phases.run('zstd+sha256', compress_file, tmp, final, level, args.zstd_threads)
    os.unlink(tmp)
    return {'output': final, 'sha256': digest}


def _stream_pg_dump(args, final, level):
    cctx = zstandard.ZstdCompressor(level=level, threads=args.zstd_threads)
    dump = subprocess.Popen([pg(args, 'pg_dump'), '-Fc', '-Z0', '-d', args.dsn], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with open(final + '.tmp', 'wb') as raw:
        sink = HashingWriter(raw)
        cctx.copy_stream(dump.stdout, sink, read_size=CHUNK, write_size=CHUNK)
    dump.stdout.close()
    wait_all([dump])
    fsync_rename(final + '.tmp', final)
    return sink.sha.hexdigest()


def backup_custom_pipe(args, out, phases, level):
    final = os.path.join(out, 'out.dump.zst')
    digest = phases.run('pg_dump|zstd+sha256', _stream_pg_dump, args, final, level)
    return {'output': final, 'sha256': digest}


def _stream_pg_dump_cli(args, final, level):
    dump = subprocess.Popen([pg(args, 'pg_dump'), '-Fc', '-Z0', '-d', args.dsn], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    zstd = subprocess.Popen(['zstd', '-q', '-c', '-%d' % level, '-T%d' % args.zstd_threads], stdin=dump.stdout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dump.stdout.close()
    with open(final + '.tmp', 'wb') as raw:
        sink = HashingWriter(raw)
        while True:
            chunk = zstd.stdout.read(CHUNK)
            if not chunk:
                break
            sink.write(chunk)
    zstd.stdout.close()
    wait_all([dump, zstd])
    fsync_rename(final + '.tmp', final)
    return sink.sha.hexdigest()


def backup_custom_pipe_cli(args, out, phases, level):
    final = os.path.join(out, 'out.dump.zst')
    digest = phases.run('pg_dump|zstd CLI|sha256', _stream_pg_dump_cli, args, final, level)
    return {'output': final, 'sha256': digest}


def backup_dir_zstd(args, out, phases, level):
    raw = os.path.join(out, 'raw')
    final = os.path.join(out, 'dump')
    phases.run('pg_dump -Fd -j', run, [pg(args, 'pg_dump'), '-Fd', '-j%d' % args.jobs, '-Z0', '--no-sync', '-d', args.dsn, '-f', raw])

    def compress_all():
        os.mkdir(final)
        digests = {}
        # largest first; each file uses the zstd worker threads, and its raw copy goes as soon as it is compressed
        for name in sorted(os.listdir(raw), key=lambda n: -os.path.getsize(os.path.join(raw, n))):
            digests[name + '.zst'] = compress_file(os.path.join(raw, name), os.path.join(final, name + '.zst'), level, args.zstd_threads)
            os.unlink(os.path.join(raw, name))
        write_manifest(final, digests)
        fsync_dir(final)
        os.rmdir(raw)

    phases.run('zstd+sha256 per file', compress_all)
    return {'output': final}


def backup_dir_gzip(args, out, phases, level):
    final = os.path.join(out, 'dump')
    phases.run('pg_dump -Fd -j -Z%d' % level, run, [pg(args, 'pg_dump'), '-Fd', '-j%d' % args.jobs, '-Z%d' % level, '-d', args.dsn, '-f', final])

    def hash_all():
        write_manifest(final, {name: sha256_file(os.path.join(final, name)) for name in os.listdir(final)})
        fsync_dir(final)

    phases.run('sha256 per file', hash_all)
    return {'output': final}


# ---------------------------------------------------------------- restores


def _restore_env(tuned):
    env = dict(os.environ)
    if tuned:
        env['PGOPTIONS'] = (env.get('PGOPTIONS', '') + ' ' + TUNING).strip()
    return env


def _validate(args, dbdsn, phases, check_jobs):
    conn = psycopg2.connect(dbdsn)
    try:
        tables = [name for name, _size in user_tables(conn)]
    finally:
        conn.close()
    phases.run('ANALYZE', per_table, dbdsn, tables, check_jobs, 'ANALYZE %s')
    counts = phases.run('count(*)', per_table, dbdsn, tables, check_jobs, 'SELECT count(*) FROM %s')
    with open(os.path.join(args.workdir, 'expected_counts.json'), encoding='utf-8') as handle:
        expected = json.load(handle)
    if counts != expected:
        raise SpikeError('row counts differ: restored %r, source %r' % (counts, expected))
    return sum(counts.values())


def _restore_around(args, params, phases, body):
    """Create a fresh database, run ``body(dbdsn)``, validate it, drop it."""
    dbname = 'spike_restore'
    admin = psycopg2.connect(args.admin_dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS %s' % dbname)
            cur.execute('CREATE DATABASE %s TEMPLATE template0' % dbname)
        dbdsn = dsn_for(args.admin_dsn, dbname=dbname)
        body(dbdsn)
        rows = _validate(args, dbdsn, phases, params.get('check_jobs', args.jobs))
        with admin.cursor() as cur:
            cur.execute('SELECT pg_database_size(%s)', (dbname,))
            db_size = cur.fetchone()[0]
        return {'rows': rows, 'restored_db_bytes': db_size}
    finally:
        with admin.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS %s' % dbname)
        admin.close()


def _source(args, params, *parts):
    return os.path.join(args.workdir, params['source'], *parts)


def restore_psql(args, work, phases, params):
    gz = _source(args, params, 'f.sql.gz')

    def body(dbdsn):
        def pipeline():
            gunzip = subprocess.Popen(['gunzip', '-c', gz], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            psql = subprocess.Popen([pg(args, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dbdsn], stdin=gunzip.stdout,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_restore_env(params.get('tuned')))
            gunzip.stdout.close()
            wait_all([gunzip, psql])
        phases.run('restore', pipeline)

    return _restore_around(args, params, phases, body)


def _pg_restore(args, params, dbdsn, path, fmt):
    run([pg(args, 'pg_restore'), '-F' + fmt, '-j%d' % args.jobs, '--exit-on-error', '-d', dbdsn, path], env=_restore_env(params.get('tuned')))


def restore_custom(args, work, phases, params):
    src = _source(args, params, 'out.dump.zst')
    with open(src + '.sha256', encoding='utf-8') as handle:
        expected = handle.read().strip()
    tmp = os.path.join(work, 'restore.dump')

    def check():
        if sha256_file(src) != expected:
            raise SpikeError('checksum mismatch on %s' % src)

    def body(dbdsn):
        phases.run('sha256', check)
        phases.run('unzstd to temp', decompress_file, src, tmp)
        phases.run('restore', _pg_restore, args, params, dbdsn, tmp, 'c')
        os.unlink(tmp)

    return _restore_around(args, params, phases, body)


def _fifo_feeder(src, fifo, errors):
    try:
        dctx = zstandard.ZstdDecompressor()
        with open(src, 'rb') as source, open(fifo, 'wb') as target:
            dctx.copy_stream(source, target, read_size=CHUNK, write_size=CHUNK)
    except (OSError, zstandard.ZstdError) as exc:
        errors.append('%s: %s' % (fifo, exc))


def _unblock_fifo(fifo):
    """Release a feeder still blocked in open() because pg_restore never read its FIFO."""
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)


def restore_dir_zstd(args, work, phases, params):
    src = _source(args, params, 'dump')
    tmp = os.path.join(work, 'restore.dir')

    def body(dbdsn):
        phases.run('sha256', verify_manifest, src)
        names = [name[:-4] for name in os.listdir(src) if name.endswith('.zst')]
        if not params.get('fifo'):
            def unpack():
                os.mkdir(tmp)
                for name in names:
                    decompress_file(os.path.join(src, name + '.zst'), os.path.join(tmp, name))
            phases.run('unzstd to temp dir', unpack)
            phases.run('restore', _pg_restore, args, params, dbdsn, tmp, 'd')
        else:
            # toc.dat is read with seeks: a real (small) file.  Each data file is a FIFO fed by a thread that
            # decompresses on the fly, so no decompressed copy of the data ever touches the disk.
            os.mkdir(tmp)
            decompress_file(os.path.join(src, 'toc.dat.zst'), os.path.join(tmp, 'toc.dat'))
            errors = []
            feeders = []
            for name in names:
                if name == 'toc.dat':
                    continue
                fifo = os.path.join(tmp, name)
                os.mkfifo(fifo, 0o600)
                thread = threading.Thread(target=_fifo_feeder, args=(os.path.join(src, name + '.zst'), fifo, errors), daemon=True)
                thread.start()
                feeders.append((thread, fifo))

            def restore():
                try:
                    _pg_restore(args, params, dbdsn, tmp, 'd')
                finally:
                    for thread, fifo in feeders:
                        if thread.is_alive():
                            _unblock_fifo(fifo)
                        thread.join(60)
                if errors:
                    raise SpikeError('; '.join(errors))
            phases.run('restore (unzstd via FIFOs)', restore)
        shutil.rmtree(tmp)

    return _restore_around(args, params, phases, body)


def restore_dir_gzip(args, work, phases, params):
    src = _source(args, params, 'dump')

    def body(dbdsn):
        phases.run('sha256', verify_manifest, src)
        phases.run('restore', _pg_restore, args, params, dbdsn, src, 'd')

    return _restore_around(args, params, phases, body)


# ---------------------------------------------------------------- worker and driver


def worker(args):
    """Run one candidate in this process; print its figures as one JSON line."""
    kind, func_name, params = CANDIDATES[args.worker]
    func = globals()[func_name]
    phases = Phases()
    work = os.path.join(args.workdir, args.worker)
    start = time.monotonic()
    if kind == 'backup':
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        result = func(args, work, phases, **params)
        if result.get('sha256'):
            with open(result['output'] + '.sha256', 'w', encoding='utf-8') as handle:
                handle.write(result['sha256'] + '\n')
        result['output_bytes'] = tree_size(result['output']) if result['output'] else None
    else:
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        result = func(args, work, phases, params)
    result['total_s'] = time.monotonic() - start
    result['phases_s'] = phases.times
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN is the largest single waited-for descendant
    result['self_maxrss_kib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result['children_maxrss_kib'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps(result))


def run_candidate_once(args, name):
    """Run one candidate in a child process while polling the disk used under its work dir."""
    argv = [sys.executable, os.path.abspath(__file__), '--worker', name] + args.passthrough
    work = os.path.join(args.workdir, name)
    peak = [0]
    done = threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], disk_usage(work))
            done.wait(args.poll)

    # start every run with no dirty pages of an earlier run left to write back (not timed)
    os.sync()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    done.set()
    poller.join()
    if proc.returncode != 0:
        raise SpikeError('%s failed: %s' % (name, proc.stderr.decode(errors='replace')[-3000:]))
    result = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    result['peak_disk_bytes'] = max(peak[0], disk_usage(work))
    final = disk_usage(work)
    result['temp_disk_bytes'] = max(0, result['peak_disk_bytes'] - final)
    return result


def run_candidate(args, name):
    runs = [run_candidate_once(args, name)]
    if runs[0]['total_s'] < args.median_below:
        runs += [run_candidate_once(args, name) for dummy in range(args.runs - 1)]
    ordered = sorted(runs, key=lambda r: r['total_s'])
    median = ordered[(len(ordered) - 1) // 2]
    summary = dict(median)
    summary['runs_s'] = [round(r['total_s'], 2) for r in runs]
    summary['median_s'] = statistics.median(r['total_s'] for r in runs)
    summary['n_runs'] = len(runs)
    summary['self_maxrss_kib'] = max(r['self_maxrss_kib'] for r in runs)
    summary['children_maxrss_kib'] = max(r['children_maxrss_kib'] for r in runs)
    summary['peak_disk_bytes'] = max(r['peak_disk_bytes'] for r in runs)
    summary['temp_disk_bytes'] = max(r['temp_disk_bytes'] for r in runs)
    return summary


def describe_source(args):
    conn = psycopg2.connect(args.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute('SELECT current_database(), pg_database_size(current_database()), version()')
            dbname, db_size, version = cur.fetchone()
        tables = user_tables(conn)
    finally:
        conn.close()
    counts = per_table(args.dsn, [t for t, _s in tables], 1, 'SELECT count(*) FROM %s')
    with open(os.path.join(args.workdir, 'expected_counts.json'), 'w', encoding='utf-8') as handle:
        json.dump(counts, handle, indent=1, sort_keys=True)
    with open('/proc/meminfo', encoding='utf-8') as handle:
        mem_kib = int(handle.readline().split()[1])
    return {
        'nproc': os.cpu_count(), 'mem_gib': round(mem_kib / 1048576, 1), 'kernel': platform.release(),
        'python': platform.python_version(), 'zstandard': zstandard.__version__, 'server': version,
        'database': dbname, 'db_bytes': db_size, 'tables': [{'table': t, 'total_bytes': s, 'rows': counts[t]} for t, s in tables],
    }


def mib(value):
    return '' if value is None else '%.0f' % (value / 1048576)


def markdown(results, source):
    lines = []
    base = results.get('a_runbook')
    floor = results.get('b_floor')
    lines.append('| backup | runs (s) | median s | × runbook | × floor | output MiB | × runbook size | temp disk MiB | RSS python MiB '
                 '| RSS children MiB | phases (s) |')
    lines.append('|---|---|---|---|---|---|---|---|---|---|---|')
    for name, res in results.items():
        if CANDIDATES[name][0] != 'backup':
            continue
        ratio_runbook = '%.2f' % (res['median_s'] / base['median_s']) if base else ''
        ratio_floor = '%.2f' % (res['median_s'] / floor['median_s']) if floor else ''
        size_ratio = '%.2f' % (res['output_bytes'] / base['output_bytes']) if base and res.get('output_bytes') else ''
        phases = ', '.join('%s %.1f' % (k, v) for k, v in res['phases_s'].items())
        lines.append('| %s | %s | %.1f | %s | %s | %s | %s | %s | %.0f | %.0f | %s |' % (
            name, ' / '.join('%.1f' % r for r in res['runs_s']), res['median_s'], ratio_runbook, ratio_floor, mib(res.get('output_bytes')),
            size_ratio, mib(res['temp_disk_bytes']), res['self_maxrss_kib'] / 1024, res['children_maxrss_kib'] / 1024, phases))
    lines.append('')
    baseline = results.get('r1_psql')
    base_restore = baseline['phases_s']['restore'] if baseline else None
    lines.append('| restore | runs (s) | median s | × r1 restore phase | temp disk MiB | RSS python MiB | RSS children MiB | phases (s) |')
    lines.append('|---|---|---|---|---|---|---|---|')
    for name, res in results.items():
        if CANDIDATES[name][0] != 'restore':
            continue
        ratio = '%.2f' % (res['median_s'] / base_restore) if base_restore else ''
        phases = ', '.join('%s %.1f' % (k, v) for k, v in res['phases_s'].items())
        lines.append('| %s | %s | %.1f | %s | %s | %.0f | %.0f | %s |' % (
            name, ' / '.join('%.1f' % r for r in res['runs_s']), res['median_s'], ratio, mib(res['temp_disk_bytes']),
            res['self_maxrss_kib'] / 1024, res['children_maxrss_kib'] / 1024, phases))
    lines.append('')
    lines.append('Source: %s, %s MiB, %d CPUs, %.1f GiB RAM.' % (source['database'], mib(source['db_bytes']), source['nproc'], source['mem_gib']))
    return '\n'.join(lines) + '\n'


def harness_settings(args):
    """Fill --dsn/--admin-dsn from a dsr_harness state file and point PGPASSFILE at a private pgpass."""
    with open(args.harness_state, encoding='utf-8') as handle:
        state = json.load(handle)['services']['postgres']
    passfile = os.path.join(args.workdir, 'pgpass')
    fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        for user in ('postgres', 'dsr_app'):
            handle.write('%s:%d:*:%s:%s\n' % (state['host'], state['port'], user, state['passwords'][user]))
    os.environ['PGPASSFILE'] = passfile
    base = 'host=%s port=%d' % (state['host'], state['port'])
    args.dsn = args.dsn or '%s user=dsr_app dbname=%s' % (base, state['database'])
    args.admin_dsn = args.admin_dsn or '%s user=postgres dbname=postgres' % base
    if not args.bindir:
        args.bindir = state['bindir']


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dsn', help='libpq connection string of the database to back up (the dumping role)')
    parser.add_argument('--admin-dsn', help='libpq connection string of a superuser (restores create and drop databases)')
    parser.add_argument('--harness-state', help='dsr_harness state.json: fills --dsn, --admin-dsn, --bindir and a pgpass file')
    parser.add_argument('--workdir', required=True, help='scratch directory for outputs and results (needs ~3x the database size)')
    parser.add_argument('--bindir', default='', help='PostgreSQL client binaries (default /usr/lib/postgresql/15/bin)')
    parser.add_argument('--only', default='', help='comma-separated candidates (default: all): ' + ', '.join(CANDIDATES))
    parser.add_argument('--jobs', type=int, default=2, help='pg_dump/pg_restore -j and validation connections (default 2)')
    parser.add_argument('--zstd-threads', type=int, default=2, help='zstd worker threads (default 2)')
    parser.add_argument('--runs', type=int, default=3, help='runs of a candidate whose first run is quick (default 3)')
    parser.add_argument('--median-below', type=float, default=60.0, help='seconds under which a candidate is repeated (default 60)')
    parser.add_argument('--poll', type=float, default=0.1, help='disk usage poll interval in seconds (default 0.1)')
    parser.add_argument('--tag', default='', help='suffix of results-TAG.json / results-TAG.md')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.makedirs(args.workdir, exist_ok=True)
    args.workdir = os.path.abspath(args.workdir)
    if args.harness_state:
        harness_settings(args)
    if not args.dsn or not args.admin_dsn:
        parser.error('--dsn and --admin-dsn (or --harness-state) are required')
    args.bindir = args.bindir or '/usr/lib/postgresql/15/bin'
    args.passthrough = ['--dsn', args.dsn, '--admin-dsn', args.admin_dsn, '--workdir', args.workdir, '--bindir', args.bindir,
                        '--jobs', str(args.jobs), '--zstd-threads', str(args.zstd_threads)]
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        worker(args)
        return 0
    names = [n for n in args.only.split(',') if n] or list(CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise SystemExit('unknown candidates: %s' % ', '.join(unknown))
    source = describe_source(args)
    suffix = '-' + args.tag if args.tag else ''
    results = {}
    for name in names:
        print('running %s ...' % name, file=sys.stderr, flush=True)
        results[name] = run_candidate(args, name)
        res = results[name]
        print('  %s: runs %s s, output %s MiB, temp %s MiB, rss self/children %d/%d MiB, phases %s' % (
            name, res['runs_s'], mib(res.get('output_bytes')), mib(res['temp_disk_bytes']), res['self_maxrss_kib'] // 1024,
            res['children_maxrss_kib'] // 1024, {k: round(v, 1) for k, v in res['phases_s'].items()}), file=sys.stderr, flush=True)
        with open(os.path.join(args.workdir, 'results%s.json' % suffix), 'w', encoding='utf-8') as handle:
            json.dump({'source': source, 'results': results}, handle, indent=1)
    table = markdown(results, source)
    with open(os.path.join(args.workdir, 'results%s.md' % suffix), 'w', encoding='utf-8') as handle:
        handle.write(table)
    print(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
