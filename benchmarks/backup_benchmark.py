# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark of the backup chain against the runbook's pipeline, on one machine in one run.

Baselines (the issue's):

* runbook backup: ``pg_dump -f f.sql; gzip f.sql; gunzip -t f.sql.gz``
* floor: ``pg_dump -Fc -Z0 -f /dev/null`` (the fastest pg_dump can read the database)
* runbook restore: ``gunzip -c f.sql.gz | psql -v ON_ERROR_STOP=1`` into a new database

Candidates: ``dsr.ops.pg_backup`` alone, ``pg_backup`` then ``pg_backup_verify``
(checksum, decompression, table of contents), and ``dsr.ops.pg_restore`` into a
new database (checksum, parallel restore, ANALYZE, exact row counts). The
modules run as Ansible runs them: a Python process reading its arguments from a
JSON file. Runs are paired (every candidate once per round, rounds repeated) and
the median is reported; peak RSS is sampled from /proc for the module's Python
process and, separately, for the programs it starts.

    python benchmarks/backup_benchmark.py --size 1GB [--rounds 3] [--workdir /var/tmp/dsr-bench]

It starts its own throwaway PostgreSQL (tests/harness) and loads the generator's
registry, unless ``--harness-dir`` points at a running harness.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _proc import PeakSampler, server_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'harness'))
sys.path.insert(0, str(ROOT / 'tools'))

import dsr_datagen  # noqa: E402  pylint: disable=wrong-import-position
import dsr_harness  # noqa: E402  pylint: disable=wrong-import-position

DATABASE = 'bench_db'
TARGETS = {
    'backup_vs_runbook': 0.25,
    'backup_vs_floor': 1.6,
    'verified_backup_vs_runbook': 0.3,
    'size_vs_gzip': 1.10,
    'restore_vs_runbook': 0.7,
    'module_rss_mb': 150,
}


def run_measured(argv, env=None, stdin=None, stdout=None):
    """Run a command; return (seconds, peak RSS MB of the process, peak RSS MB of its descendants, stdout bytes)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with
    with PeakSampler(proc.pid, interval=0.05, descendants=True) as peaks:
        out, err = proc.communicate()
        seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(argv[:3]), proc.returncode, (err or b'').decode()[-2000:]))
    return seconds, peaks.self_kb / 1024.0, peaks.children_kb / 1024.0, out


class Bench:
    """One benchmark session over a harness PostgreSQL."""

    def __init__(self, pg, workdir, python):
        self.pg = pg
        self.workdir = Path(workdir)
        self.python = python
        self.bindir = pg['bindir']
        self.env = dict(os.environ, PGHOST=pg['host'], PGPORT=str(pg['port']), PGUSER='postgres', PGPASSWORD=pg['passwords']['postgres'])
        collections = self.workdir / 'collections' / 'ansible_collections' / 'dsr'
        collections.mkdir(parents=True, exist_ok=True)
        if not (collections / 'ops').exists():
            (collections / 'ops').symlink_to(ROOT)
        self.module_env = dict(os.environ, PYTHONPATH=str(self.workdir / 'collections'))

    def work(self, func):
        """Run ``func()``; add the CPU seconds the server and the client processes used to its result dict.

        Server: the postmaster and every backend and worker (reaped ones included).
        Client: every child process this script waited for meanwhile (gunzip, psql; the module and its children).
        """
        with open(os.path.join(self.pg['data_dir'], 'postmaster.pid'), encoding='ascii') as handle:
            postmaster = int(handle.readline())
        server = server_cpu_seconds(postmaster)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = usage.ru_utime + usage.ru_stime
        figures = func()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        figures['server_cpu'] = server_cpu_seconds(postmaster) - server
        figures['client_cpu'] = usage.ru_utime + usage.ru_stime - client
        return figures

    def tool(self, name):
        """A PostgreSQL client program path."""
        return os.path.join(self.bindir, name)

    def psql(self, sql, database='postgres'):
        """Run SQL as postgres."""
        subprocess.run([self.tool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', sql], env=self.env, check=True,
                       capture_output=True)

    def module(self, name, args):
        """Run a module the way Ansible does; return (seconds, module RSS MB, children RSS MB, result)."""
        args = dict(args, login_host=self.pg['host'], port=self.pg['port'], login_user='postgres', login_password=self.pg['passwords']['postgres'])
        args_file = self.workdir / ('%s.json' % name)
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        seconds, rss, child_rss, out = run_measured([self.python, str(ROOT / 'plugins' / 'modules' / ('%s.py' % name)), str(args_file)],
                                                    env=self.module_env)
        result = json.loads(out.decode())
        if result.get('failed'):
            raise RuntimeError('%s failed: %s' % (name, result.get('msg')))
        return seconds, rss, child_rss, result

    # -- candidates ----------------------------------------------------------

    def runbook_backup(self):
        """pg_dump > f.sql; gzip f.sql; gunzip -t f.sql.gz."""
        sql_file = self.workdir / 'runbook.sql'
        for leftover in (sql_file, Path(str(sql_file) + '.gz')):
            if leftover.exists():
                leftover.unlink()
        total = 0.0
        for argv in ([self.tool('pg_dump'), '-f', str(sql_file), DATABASE], ['gzip', str(sql_file)], ['gunzip', '-t', str(sql_file) + '.gz']):
            seconds, dummy, dummy2, dummy3 = run_measured(argv, env=self.env)
            total += seconds
        return {'seconds': total, 'size': os.path.getsize(str(sql_file) + '.gz')}

    def floor(self):
        """pg_dump -Fc -Z0 > /dev/null."""
        seconds, dummy, dummy2, dummy3 = run_measured([self.tool('pg_dump'), '-Fc', '-Z0', DATABASE], env=self.env, stdout=subprocess.DEVNULL)
        return {'seconds': seconds}

    def module_backup(self, verify):
        """pg_backup, optionally followed by pg_backup_verify."""
        backup_dir = self.workdir / 'backups'
        shutil.rmtree(backup_dir, ignore_errors=True)
        seconds, rss, child_rss, result = self.module('pg_backup', {'database': DATABASE, 'backup_dir': str(backup_dir)})
        figures = {'seconds': seconds, 'size': result['size_bytes'], 'rss': rss, 'child_rss': child_rss, 'path': result['path'],
                   'dump_seconds': result['dump_seconds'], 'compress_seconds': result['compress_seconds']}
        if verify:
            v_seconds, v_rss, v_child, v_result = self.module('pg_backup_verify', {'path': result['path'], 'record': True})
            if v_result['status'] != 'ok':
                raise RuntimeError('verification failed: %s' % v_result['summary'])
            figures['seconds'] += v_seconds
            figures['rss'] = max(rss, v_rss)
            figures['child_rss'] = max(child_rss, v_child)
        return figures

    def runbook_restore(self):
        """gunzip -c f.sql.gz | psql into a new database."""
        self.psql('DROP DATABASE IF EXISTS bench_runbook_restore')
        self.psql('CREATE DATABASE bench_runbook_restore')
        started = time.monotonic()
        gunzip = subprocess.Popen(['gunzip', '-c', str(self.workdir / 'runbook.sql.gz')], stdout=subprocess.PIPE)  # pylint: disable=consider-using-with
        run_measured([self.tool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'bench_runbook_restore'], env=self.env,
                     stdin=gunzip.stdout, stdout=subprocess.DEVNULL)
        gunzip.stdout.close()
        if gunzip.wait() != 0:
            raise RuntimeError('gunzip failed')
        seconds = time.monotonic() - started
        self.psql('DROP DATABASE bench_runbook_restore')
        return {'seconds': seconds}

    def module_restore(self, path):
        """pg_restore into a new database: checksum, restore -j2, ANALYZE, row counts."""
        self.psql('DROP DATABASE IF EXISTS bench_module_restore')
        seconds, rss, child_rss, result = self.module('pg_restore', {'path': path, 'target_database': 'bench_module_restore', 'jobs': 2})
        self.psql('DROP DATABASE bench_module_restore')
        return {'seconds': seconds, 'rss': rss, 'child_rss': child_rss, 'restore_seconds': result['restore_seconds'],
                'verify_seconds': result['verify_seconds'], 'analyze_seconds': result['analyze_seconds'], 'count_seconds': result['count_seconds']}


def median(rounds, name, key='seconds'):
    """Median of one figure over the rounds."""
    return statistics.median(r[name][key] for r in rounds)


def report(rounds, database_bytes):
    """Print the table of medians and ratios."""
    runbook = median(rounds, 'runbook_backup')
    floor = median(rounds, 'floor')
    backup = median(rounds, 'pg_backup')
    verified = median(rounds, 'pg_backup_verified')
    runbook_restore = median(rounds, 'runbook_restore')
    restore = median(rounds, 'pg_restore')
    gzip_size = median(rounds, 'runbook_backup', 'size')
    zstd_size = median(rounds, 'pg_backup', 'size')
    rss = max(max(r['pg_backup']['rss'], r['pg_backup_verified']['rss'], r['pg_restore']['rss']) for r in rounds)
    child = max(max(r['pg_backup']['child_rss'], r['pg_restore']['child_rss']) for r in rounds)
    print()
    print('database %s: %.0f MB on disk, %d rounds (median shown), %d CPUs' % (DATABASE, database_bytes / 1e6, len(rounds), os.cpu_count()))
    print()
    print('%-44s %10s %12s %10s' % ('step', 'seconds', 'vs runbook', 'vs floor'))
    for label, value in (('runbook: pg_dump; gzip; gunzip -t', runbook), ('floor: pg_dump -Fc -Z0 > /dev/null', floor),
                         ('pg_backup (zstd + SHA-256, atomic)', backup), ('pg_backup + pg_backup_verify', verified)):
        print('%-44s %10.1f %11.2fx %9.2fx' % (label, value, value / runbook, value / floor))
    print('%-44s %10.1f %11s' % ('runbook: gunzip -c | psql', runbook_restore, '1.00x'))
    print('%-44s %10.1f %11.2fx' % ('pg_restore (verify, -j2, ANALYZE, counts)', restore, restore / runbook_restore))
    print('    paired, round by round: %s' % ', '.join('%.2fx' % (r['pg_restore']['seconds'] / r['runbook_restore']['seconds']) for r in rounds))
    parts = {k: median(rounds, 'pg_restore', k) for k in ('verify_seconds', 'restore_seconds', 'analyze_seconds', 'count_seconds')}
    print('    of which: %s' % ', '.join('%s %.1f s' % (k.replace('_seconds', ''), v) for k, v in parts.items()))
    dump = median(rounds, 'pg_backup', 'dump_seconds')
    print('    pg_backup: dump %.1f s, compress + hash + publish %.1f s' % (dump, median(rounds, 'pg_backup', 'compress_seconds')))
    print()
    print('%-44s %10s %12s' % ('restore work (CPU seconds)', 'runbook', 'pg_restore'))
    work = {}
    for name in ('runbook_restore', 'pg_restore'):
        work[name] = {k: median(rounds, name, k) for k in ('server_cpu', 'client_cpu')}
    for key, label in (('server_cpu', 'server (backends, workers, WAL writer...)'), ('client_cpu', 'client (gunzip+psql; module+pg_restore...)')):
        print('%-44s %10.1f %12.1f' % (label, work['runbook_restore'][key], work['pg_restore'][key]))
    floor_seconds = sum(work['pg_restore'].values()) / os.cpu_count()
    print('%-44s %10s %12.1f  (%.2fx the runbook restore)' % ('pg_restore CPU / %d cores: its wall-time floor' % os.cpu_count(), '',
                                                              floor_seconds, floor_seconds / runbook_restore))
    print()
    print('%-44s %10.0f MB' % ('runbook output (gzip -6 SQL)', gzip_size / 1e6))
    print('%-44s %10.0f MB  (%.2fx gzip)' % ('pg_backup output (custom format, zstd)', zstd_size / 1e6, zstd_size / gzip_size))
    print('%-44s %10.0f MB' % ('peak RSS, module Python process', rss))
    print('%-44s %10.0f MB' % ('peak RSS, programs it started (pg_dump...)', child))
    checks = [
        ('backup <= 0.25x runbook', backup / runbook, TARGETS['backup_vs_runbook']),
        ('backup <= 1.6x floor', backup / floor, TARGETS['backup_vs_floor']),
        ('backup + verify <= 0.3x runbook', verified / runbook, TARGETS['verified_backup_vs_runbook']),
        ('output <= 1.10x gzip', zstd_size / gzip_size, TARGETS['size_vs_gzip']),
        ('restore <= 0.7x runbook restore', restore / runbook_restore, TARGETS['restore_vs_runbook']),
        ('module RSS < 150 MB', rss, TARGETS['module_rss_mb']),
    ]
    print()
    print('%-36s %10s %10s  %s' % ('target', 'measured', 'limit', 'met'))
    for label, value, limit in checks:
        print('%-36s %10.2f %10.2f  %s' % (label, value, limit, 'yes' if value <= limit else 'NO'))


def main(argv=None):
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', default='1GB', help='registry size to generate (default 1GB; 3GB needs about 15 GB free)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--workdir', default='/var/tmp/dsr-bench')
    parser.add_argument('--harness-dir', help='use a running harness instead of starting one')
    parser.add_argument('--keep', action='store_true', help='keep the harness and data afterwards')
    parser.add_argument('--durable', action='store_true',
                        help='run the server with fsync and synchronous_commit on, as production does (the test harness turns '
                             'them off for speed); baseline and candidates alike')
    args = parser.parse_args(argv)
    size = dsr_datagen.parse_size(args.size)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(workdir).free
    if free < 5 * size:
        parser.error('only %.1f GB free in %s; about %.1f GB are needed for %s' % (free / 1e9, workdir, 5 * size / 1e9, args.size))
    harness_dir = args.harness_dir or str(workdir / 'harness')
    started_here = not args.harness_dir
    if started_here:
        dsr_harness.down(harness_dir)
        dsr_harness.up(harness_dir, ['postgres'], standby=False)
    pg = dsr_harness.read_state(harness_dir)['services']['postgres']
    try:
        bench = Bench(pg, workdir, sys.executable)
        durability = 'on' if args.durable else 'off'
        for setting in ('fsync', 'synchronous_commit'):
            bench.psql('ALTER SYSTEM SET %s = %s' % (setting, durability))
        bench.psql('SELECT pg_reload_conf()')
        print('server: fsync = %s, synchronous_commit = %s' % (durability, durability), flush=True)
        bench.psql('DROP DATABASE IF EXISTS %s' % DATABASE)
        bench.psql('CREATE DATABASE %s' % DATABASE)
        dsn = 'host=%s port=%d user=postgres password=%s dbname=%s' % (pg['host'], pg['port'], pg['passwords']['postgres'], DATABASE)
        print('generating a %s registry...' % args.size, flush=True)
        summary = dsr_datagen.generate(dsn, size_bytes=size, seed=42, jobs=2, log=lambda *a, **k: None)
        database_bytes = summary.get('database_bytes') or 0
        rounds = []
        for index in range(args.rounds):
            round_figures = {
                'runbook_backup': bench.runbook_backup(),
                'floor': bench.floor(),
                'pg_backup': bench.module_backup(verify=False),
                'pg_backup_verified': bench.module_backup(verify=True),
            }
            round_figures['runbook_restore'] = bench.work(bench.runbook_restore)
            round_figures['pg_restore'] = bench.work(lambda: bench.module_restore(round_figures['pg_backup_verified']['path']))
            rounds.append(round_figures)
            print('round %d: %s' % (index + 1, ', '.join('%s %.1f s' % (k, v['seconds']) for k, v in round_figures.items())), flush=True)
        report(rounds, database_bytes)
    finally:
        if started_here and not args.keep:
            dsr_harness.down(harness_dir)
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
