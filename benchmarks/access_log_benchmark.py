# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark of dsr.ops.access_log_report against the runbook's pipeline, on one machine in one run.

Baseline (the runbook's, Security Operations -> Daily Security Monitoring), with the system awk:

* plain:  ``awk '{print $1}' access.log | sort | uniq -c | sort -nr | head -10``
* gzip'd: ``zcat access.log.gz | awk '{print $1}' | sort | uniq -c | sort -nr | head -10``

Candidate: the module's FULL report on the same file (top IPs, status classes and codes,
failed logins per IP, peak requests per minute per IP, flagged IPs), run as Ansible runs it: a
Python process reading its arguments from a JSON file, with its forked parser processes.
Pairs are run back to back, in alternating order, and the medians are reported; peak RSS is
sampled from /proc (the largest process of the pipeline; the module's process and, apart, the
largest of its workers).

    python benchmarks/access_log_benchmark.py [--size 1GB] [--rounds 3] [--workdir /tmp/acl-bench]

The log is generated once by tools/access_log_gen.py (seed 42) and gzip'd with ``gzip -6``, and
kept in the work directory for the next run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _proc import PeakSampler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))

import access_log_gen  # noqa: E402  pylint: disable=wrong-import-position

TARGETS = {'plain': 0.5, 'gzip': 0.6}
PIPELINE = "awk '{print $1}' %s | sort | uniq -c | sort -nr | head -10"
GZIP_PIPELINE = "zcat %s | awk '{print $1}' | sort | uniq -c | sort -nr | head -10"


def run_measured(argv, env=None):
    """Run a command; return (seconds, peak RSS MB of the process, peak RSS MB of its largest descendant, stdout)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with
    with PeakSampler(proc.pid, interval=0.05, descendants=True) as peaks:
        out, err = proc.communicate()
        seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(argv[:3]), proc.returncode, err.decode()[-2000:]))
    return seconds, peaks.self_kb / 1024.0, peaks.children_kb / 1024.0, out


def awk_name():
    """The system awk, resolved (mawk on Debian)."""
    path = shutil.which('awk')
    return os.path.realpath(path) if path else 'none'


class Bench:
    """The two candidates on one file."""

    def __init__(self, workdir, python):
        self.workdir = Path(workdir)
        self.python = python
        collections = self.workdir / 'collections' / 'ansible_collections' / 'dsr'
        collections.mkdir(parents=True, exist_ok=True)
        if not (collections / 'ops').exists():
            (collections / 'ops').symlink_to(ROOT)
        self.env = dict(os.environ, PYTHONPATH=str(self.workdir / 'collections'), LC_ALL='C')

    def pipeline(self, path, compressed, awk='awk'):
        """The runbook's pipeline; seconds and the largest RSS of its processes."""
        command = (GZIP_PIPELINE if compressed else PIPELINE) % ("'%s'" % path)
        command = command.replace('awk ', awk + ' ', 1)
        seconds, dummy, children, out = run_measured(['sh', '-c', command], env=self.env)
        return {'seconds': seconds, 'rss': children, 'top': out.decode().split('\n', 1)[0].strip()}

    def module(self, path):
        """The module's full report."""
        args_file = self.workdir / 'access_log_report.json'
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'paths': [str(path)], 'fail_on': 'never', 'top': 10}}))
        seconds, rss, children, out = run_measured([self.python, str(ROOT / 'plugins' / 'modules' / 'access_log_report.py'), str(args_file)],
                                                   env=self.env)
        result = json.loads(out.decode())
        if result.get('failed') or result['lines']['counted'] == 0:
            raise RuntimeError('the module failed: %s' % result.get('msg'))
        top = result['top_ips'][0]
        return {'seconds': seconds, 'rss': rss, 'worker_rss': children, 'workers': result['engine']['workers'],
                'gzip': result['engine']['gzip'], 'top': '%d %s' % (top['requests'], top['ip']), 'lines': result['lines']}


def prepare(workdir, size):
    """The generated log and its gzip'd copy, reused when already there for the same size."""
    plain = workdir / 'access.log'
    packed = workdir / 'access.log.gz'
    marker = workdir / 'access.log.json'
    wanted = {'size': size, 'seed': 42}
    if not (plain.exists() and packed.exists() and marker.exists() and json.loads(marker.read_text()) == wanted):
        print('generating a %.2f GB access log in %s...' % (size / 1e9, plain), flush=True)
        generator = access_log_gen.Generator(seed=42)
        end = datetime.datetime(2026, 3, 16, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8))).timestamp()
        access_log_gen.write_access_log(str(plain), size, generator, end - 72 * 3600, end)
        print('gzip -6...', flush=True)
        with open(packed, 'wb') as target:
            subprocess.run(['gzip', '-6', '-c', str(plain)], stdout=target, check=True)
        marker.write_text(json.dumps(wanted))
    return plain, packed


def report(rounds, plain, packed, extra):
    """Print the table of medians."""
    print()
    print('awk is %s; gawk: %s; %d CPUs; module gzip reader: %s; %d rounds, medians shown'
          % (awk_name(), shutil.which('gawk') or 'not installed', os.cpu_count(), rounds[0]['module_gzip']['gzip'], len(rounds)))
    lines = rounds[0]['module_plain']['lines']['total']
    print('plain log %.2f GB (%d lines), gzip -6 %.2f GB' % (plain.stat().st_size / 1e9, lines, packed.stat().st_size / 1e9))
    print()
    header = ('case', 'baseline s', 'module s', 'ratio', 'target', 'met', 'baseline peak RSS', 'module peak RSS (worker)')
    print('%-8s %11s %10s %7s %7s %5s %18s %26s' % header)
    for case, base_key, module_key in (('plain', 'pipeline_plain', 'module_plain'), ('gzip', 'pipeline_gzip', 'module_gzip')):
        base = statistics.median(r[base_key]['seconds'] for r in rounds)
        mod = statistics.median(r[module_key]['seconds'] for r in rounds)
        ratio = mod / base
        base_rss = max(r[base_key]['rss'] for r in rounds)
        mod_rss = max(r[module_key]['rss'] for r in rounds)
        worker_rss = max(r[module_key]['worker_rss'] for r in rounds)
        print('%-8s %11.2f %10.2f %6.2fx %6.2fx %5s %15.0f MB %15.0f MB (%3.0f MB)' % (
            case, base, mod, ratio, TARGETS[case], 'yes' if ratio <= TARGETS[case] else 'NO', base_rss, mod_rss, worker_rss))
        print('    paired, round by round: %s' % ', '.join('%.2fx' % (r[module_key]['seconds'] / r[base_key]['seconds']) for r in rounds))
    for label, seconds in extra:
        print('%-40s %.2f s' % (label, seconds))
    print()
    print('top IP, pipeline (every line) vs module (well-formed lines): %r vs %r' % (rounds[0]['pipeline_plain']['top'], rounds[0]['module_plain']['top']))


def main(argv=None):
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', default='1GB', help='uncompressed size of the generated log (default 1GB, binary units)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--workdir', default='/tmp/acl-bench')
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    size = access_log_gen.parse_size(args.size)
    plain, packed = prepare(workdir, size)
    bench = Bench(workdir, sys.executable)
    # warm the page cache for both candidates alike
    for path in (plain, packed):
        with open(path, 'rb') as handle:
            while handle.read(1 << 24):
                pass
    rounds = []
    for index in range(args.rounds):
        figures = {}
        order = [('pipeline_plain', lambda: bench.pipeline(plain, False)), ('module_plain', lambda: bench.module(plain)),
                 ('pipeline_gzip', lambda: bench.pipeline(packed, True)), ('module_gzip', lambda: bench.module(packed))]
        if index % 2:
            order = [order[1], order[0], order[3], order[2]]
        for name, func in order:
            figures[name] = func()
        rounds.append(figures)
        print('round %d: %s' % (index + 1, ', '.join('%s %.2f s' % (k, v['seconds']) for k, v in figures.items())), flush=True)
    extra = []
    if shutil.which('gawk'):
        extra.append(('gawk pipeline, plain (for the record)', bench.pipeline(plain, False, awk='gawk')['seconds']))
    report(rounds, plain, packed, extra)
    return 0


if __name__ == '__main__':
    sys.exit(main())
