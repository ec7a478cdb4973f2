# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Paired runs of ``pg_restore -j N`` with and without one extra session setting.

How the restore session's settings in plugins/module_utils/_backup/restore.py were chosen:
the same seekable custom-format dump of a generator registry is restored into a
new database alternately with the module's base settings and with the base
settings plus ``--extra``, and the wall time and the server's CPU-seconds
(postmaster, backends and workers, exited ones included) are printed for each run.

    python benchmarks/restore_session_pairs.py --size 1GB --rounds 3 \\
        --extra '-c max_parallel_maintenance_workers=0'

It starts its own throwaway PostgreSQL (tests/harness) in ``--workdir`` and removes it afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _proc import server_cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'harness'))
sys.path.insert(0, str(ROOT / 'tools'))

import dsr_datagen  # noqa: E402  pylint: disable=wrong-import-position
import dsr_harness  # noqa: E402  pylint: disable=wrong-import-position

# the module's base settings, without the one that depends on jobs (read from the module, not copied)
BASE = next(line.split('=', 1)[1].strip().strip("'") for line in (ROOT / 'plugins' / 'module_utils' / '_backup' / 'restore.py').read_text().splitlines()
            if line.startswith('RESTORE_SESSION = '))


def main(argv=None):
    """Run the pairs and print them with their medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', default='1GB')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument('--extra', default='-c max_parallel_maintenance_workers=0', help='the setting(s) to compare, PGOPTIONS syntax')
    parser.add_argument('--workdir', default='/var/tmp/dsr-restore-pairs')
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    harness_dir = str(workdir / 'harness')
    dsr_harness.down(harness_dir)
    dsr_harness.up(harness_dir, ['postgres'], standby=False)
    try:
        pg = dsr_harness.read_state(harness_dir)['services']['postgres']
        env = dict(os.environ, PGHOST=pg['socket_dir'], PGPORT=str(pg['port']), PGUSER='postgres')

        def tool(name, *arguments, **kwargs):
            subprocess.run([os.path.join(pg['bindir'], name)] + list(arguments), env=kwargs.pop('env', env), check=True, capture_output=True, **kwargs)

        tool('psql', '-Xqc', 'CREATE DATABASE bench')
        print('generating a %s registry...' % args.size, flush=True)
        dsr_datagen.generate('host=%s port=%d user=postgres dbname=bench' % (pg['socket_dir'], pg['port']),
                             size_bytes=dsr_datagen.parse_size(args.size), seed=42, jobs=2, log=lambda *a, **k: None)
        dump = str(workdir / 'bench.dump')
        tool('pg_dump', '-Fc', '-Z0', '-f', dump, 'bench')
        with open(os.path.join(pg['data_dir'], 'postmaster.pid'), encoding='ascii') as handle:
            postmaster = int(handle.readline())
        variants = (('base', BASE), ('base + extra', BASE + ' ' + args.extra))
        figures = {label: [] for label, dummy in variants}
        print('base: %s\nextra: %s' % (BASE, args.extra))
        for index in range(args.rounds):
            for label, options in variants:
                tool('psql', '-Xqc', 'DROP DATABASE IF EXISTS restored')
                tool('psql', '-Xqc', 'CREATE DATABASE restored TEMPLATE template0')
                cpu, started = server_cpu_seconds(postmaster), time.monotonic()
                tool('pg_restore', '--jobs=%d' % args.jobs, '--exit-on-error', '--dbname=restored', dump, env=dict(env, PGOPTIONS=options))
                run = (time.monotonic() - started, server_cpu_seconds(postmaster) - cpu)
                figures[label].append(run)
                print('round %d  %-14s %7.1f s  %7.1f server CPU-s' % (index + 1, label, run[0], run[1]), flush=True)
        print()
        for label, runs in figures.items():
            print('median   %-14s %7.1f s  %7.1f server CPU-s' % (label, statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)))
    finally:
        dsr_harness.down(harness_dir)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
