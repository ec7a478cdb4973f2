# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark of dsr.ops.s3_backup against boto3's own transfer manager, same endpoint, one run.

Target (the issue's): uploading a backup of a few hundred MB with the module
reaches at least 0.9x the throughput of boto3's ``upload_file`` with the same
concurrency to the same endpoint. Download (module ``mode=download`` against
boto3's ``download_file``) is reported without a target.

Candidates, run paired and alternated (order swapped every round), median of
``--rounds``:

* boto3: ``upload_file`` / ``download_file`` with
  ``TransferConfig(multipart_threshold, multipart_chunksize, max_concurrency,
  use_threads=True)`` equal to the module's settings, boto3 defaults otherwise
  (so boto3's default CRC32 checksums, no SSE header, no metadata). Each upload
  goes to a fresh key.
* module: ``plugins/modules/s3_backup.py`` run as Ansible runs it, a Python
  process reading its arguments from a JSON file (``PYTHONPATH`` pointing at a
  directory holding ``ansible_collections/dsr/ops``), with the module's defaults
  (SHA-256 of every part plus the whole file's SHA-256, SSE AES256 header,
  manifest uploaded beside the object, HEAD before and after). Each upload goes
  to a fresh prefix so it really uploads; each download to a fresh directory.

Both candidates run as child processes, so import cost and peak RSS are counted
the same way. Two times are reported for each:

* transfer: measured inside the process around the transfer only (boto3: the
  ``upload_file``/``download_file`` call; module: its own ``upload_seconds`` /
  ``download_seconds``, which cover create-multipart to complete, or the ranged
  GETs plus the SHA-256 of the downloaded file, the fsync and the rename). The
  throughput ratio against the target uses this time.
* process: the whole process's wall time (interpreter start, imports, client
  set-up, the module's extra requests: bucket check, HEADs, the manifest).

Peak RSS is VmHWM sampled from /proc/<pid>/status every 20 ms; CPU seconds of
the client process come from its rusage, and those of the S3 server from
/proc/<moto pid>/stat before and after each run.

Caveat: the S3 server is moto (tests/harness), an in-memory Python server on the
same machine (2 cores, shared), which spends CPU on every byte it receives. The
client and the server compete for the same cores, so these figures measure the
client's overhead relative to boto3 (CPU per byte, concurrency, request
pattern) far more than network throughput; against real S3 both clients would
be limited by the network long before this.

    .venv/bin/python benchmarks/s3_benchmark.py [--size 300MB] [--rounds 3] [--part-size 16MiB]
        [--concurrency 4] [--threshold 64MiB] [--harness-dir DIR] [--workdir DIR] [--keep]

It starts its own S3 server (tests/harness ``up(dir, ['s3'])``) and stops it at
the end, unless ``--harness-dir`` points at a running harness with an s3
service. Objects are deleted after each run so moto's memory stays flat.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _proc import PeakSampler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'harness'))

MIB = 1024 * 1024
DATABASE = 'bench_db'
TARGETS = {
    'upload_vs_boto3': 0.9,
}
# a run during which the rest of the machine used less CPU than this is "quiet"
QUIET_OTHER_CPU = 0.5
CLK_TCK = os.sysconf('SC_CLK_TCK')


def _module_sizes():
    """plugins/module_utils/_sizes.py, loaded by path (it imports nothing from Ansible)."""
    spec = importlib.util.spec_from_file_location('dsr_sizes', ROOT / 'plugins' / 'module_utils' / '_sizes.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_size(text):
    """Bytes for ``300MB``, ``16MiB``, ``1GiB`` or a plain number, read by the module's own parser."""
    try:
        return _module_sizes().parse_size(text, 'size')
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- measuring a child process ------------------------------------------------

def _cpu_seconds(pid):
    """utime + stime of a running process, seconds (0 if it is gone)."""
    try:
        fields = Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _machine_busy_seconds():
    """CPU seconds the whole machine spent busy (all CPUs, idle and iowait excluded), from /proc/stat."""
    try:
        with open('/proc/stat', encoding='ascii') as handle:
            fields = [int(x) for x in handle.readline().split()[1:9]]
    except OSError:
        return 0.0
    user, nice, system, dummy_idle, dummy_iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def run_measured(argv, env=None, server_pid=None):
    """Run a command; return (wall s, peak RSS MB, client CPU s, server CPU s, other CPU s, stdout bytes).

    "other" is the CPU the rest of the machine used meanwhile (busy time minus
    client and server): a large figure marks a round disturbed by other work.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = _cpu_seconds(server_pid) if server_pid else 0.0
    busy_before = _machine_busy_seconds()
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # pylint: disable=consider-using-with
    with PeakSampler(proc.pid) as peak:
        out, err = proc.communicate()
        seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = (_cpu_seconds(server_pid) - server_before) if server_pid else 0.0
    busy = _machine_busy_seconds() - busy_before
    if proc.returncode != 0:
        raise RuntimeError('%s failed (%d): %s %s' % (' '.join(argv[:3]), proc.returncode, (out or b'').decode()[-2000:],
                                                      (err or b'').decode()[-2000:]))
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, peak.self_kb / 1024.0, client_cpu, server_cpu, max(0.0, busy - client_cpu - server_cpu), out


# -- the boto3 candidate, run in a child process of this script ----------------

def boto3_child(spec):
    """Runs in the child: one boto3 upload_file or download_file; prints JSON timings."""
    started = time.monotonic()
    import boto3  # pylint: disable=import-outside-toplevel
    from boto3.s3.transfer import TransferConfig  # pylint: disable=import-outside-toplevel
    from botocore.config import Config  # pylint: disable=import-outside-toplevel
    imported = time.monotonic()
    config = None
    if spec['concurrency'] > 10:
        # boto3's default pool holds 10 connections; do not starve it when asked for more threads
        config = Config(max_pool_connections=spec['concurrency'])
    client = boto3.client('s3', endpoint_url=spec['endpoint_url'], region_name=spec['region'], aws_access_key_id=spec['access_key'],
                          aws_secret_access_key=spec['secret_key'], config=config)
    transfer = TransferConfig(multipart_threshold=spec['threshold'], multipart_chunksize=spec['part_size'],
                              max_concurrency=spec['concurrency'], use_threads=True)
    begin = time.monotonic()
    if spec['op'] == 'upload':
        client.upload_file(spec['path'], spec['bucket'], spec['key'], Config=transfer)
    else:
        client.download_file(spec['bucket'], spec['key'], spec['path'], Config=transfer)
    end = time.monotonic()
    print(json.dumps({'transfer_seconds': end - begin, 'import_seconds': imported - started}))
    return 0


# -- the session ----------------------------------------------------------------

def make_backup(directory, size, database=DATABASE):
    """A file of random bytes with a dsr.ops manifest beside it, as tests/functional make_backup does."""
    started_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    name = '%s_%s.dump.zst' % (database, started_at.strftime('%Y%m%dT%H%M%SZ'))
    path = os.path.join(str(directory), name)
    digest = hashlib.sha256()
    block = 8 * MIB
    with open(path, 'wb') as handle:
        left = size
        while left:
            data = os.urandom(min(block, left))
            handle.write(data)
            digest.update(data)
            left -= len(data)
    manifest = {'manifest_version': 1, 'database': database, 'file': name, 'started_at': started_at.isoformat(),
                'finished_at': started_at.isoformat(), 'stored_size_bytes': size, 'raw_size_bytes': size, 'sha256': digest.hexdigest(),
                'format': 'custom', 'compression': 'zstd', 'row_counts': {'public.households': 3}, 'pg_dump_version': 'pg_dump (PostgreSQL) 15'}
    with open(path + '.manifest.json', 'w', encoding='utf-8') as handle:
        json.dump(manifest, handle)
    return path, manifest


class Bench:
    """One benchmark session over an S3 endpoint."""

    def __init__(self, s3, workdir, args):
        import boto3  # pylint: disable=import-outside-toplevel
        self.s3 = s3
        self.workdir = Path(workdir)
        self.args = args
        self.python = sys.executable
        self.server_pid = self._server_pid(s3)
        self.client = boto3.client('s3', endpoint_url=s3['endpoint_url'], region_name=s3['region'], aws_access_key_id=s3['access_key'],
                                   aws_secret_access_key=s3['secret_key'])
        self.bucket = 'dsr-bench-%s' % uuid.uuid4().hex[:12]
        self.client.create_bucket(Bucket=self.bucket)
        collections = self.workdir / 'collections' / 'ansible_collections' / 'dsr'
        collections.mkdir(parents=True, exist_ok=True)
        if not (collections / 'ops').exists():
            (collections / 'ops').symlink_to(ROOT)
        self.module_env = dict(os.environ, PYTHONPATH=str(self.workdir / 'collections'))
        self.path = None
        self.manifest = None
        self.source_key = None
        self.counter = 0

    @staticmethod
    def _server_pid(s3):
        try:
            return int(Path(s3['pidfile']).read_text().strip())
        except (KeyError, OSError, ValueError):
            return None

    def fresh(self, kind):
        """A unique name part for one run."""
        self.counter += 1
        return '%s-%03d-%s' % (kind, self.counter, uuid.uuid4().hex[:8])

    def delete(self, *keys):
        """Delete objects (not timed), so moto's memory does not grow with the rounds."""
        for key in keys:
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def module(self, args):
        """Run dsr.ops.s3_backup the way Ansible does; return (measures dict without 'seconds', result)."""
        args = dict(args, endpoint_url=self.s3['endpoint_url'], region=self.s3['region'], access_key=self.s3['access_key'],
                    secret_key=self.s3['secret_key'], bucket=self.bucket, part_size=str(self.args.part_size),
                    multipart_threshold=str(self.args.threshold), concurrency=self.args.concurrency)
        args_file = self.workdir / ('args-%d.json' % self.counter)
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        args_file.chmod(0o600)
        try:
            seconds, rss, cpu, server_cpu, other, out = run_measured(
                [self.python, str(ROOT / 'plugins' / 'modules' / 's3_backup.py'), str(args_file)], env=self.module_env, server_pid=self.server_pid)
        finally:
            args_file.unlink()
        result = json.loads(out.decode())
        if result.get('failed'):
            raise RuntimeError('s3_backup failed: %s' % result.get('msg'))
        return {'process_seconds': seconds, 'rss': rss, 'cpu': cpu, 'server_cpu': server_cpu, 'other_cpu': other}, result

    def boto3(self, op, key, path):
        """Run boto3 upload_file/download_file in a child process of this script."""
        spec = dict(op=op, key=key, path=str(path), bucket=self.bucket, endpoint_url=self.s3['endpoint_url'], region=self.s3['region'],
                    access_key=self.s3['access_key'], secret_key=self.s3['secret_key'], threshold=self.args.threshold,
                    part_size=self.args.part_size, concurrency=self.args.concurrency)
        seconds, rss, cpu, server_cpu, other, out = run_measured([self.python, str(Path(__file__).resolve()), '--boto3-child', json.dumps(spec)],
                                                                 server_pid=self.server_pid)
        inner = json.loads(out.decode().strip().splitlines()[-1])
        return {'seconds': inner['transfer_seconds'], 'process_seconds': seconds, 'rss': rss, 'cpu': cpu, 'server_cpu': server_cpu,
                'other_cpu': other}

    # -- set-up --------------------------------------------------------------

    def prepare(self):
        """Write the backup once; upload it with the module as the download source (and warm-up); warm boto3 up."""
        data_dir = self.workdir / 'data'
        data_dir.mkdir(exist_ok=True)
        self.path, self.manifest = make_backup(data_dir, self.args.size)
        prefix = 'bench/source/'
        dummy, result = self.module({'mode': 'upload', 'path': self.path, 'prefix': prefix})
        self.source_key = result['key']
        warm = 'bench/warmup/%s' % self.fresh('boto3')
        self.boto3('upload', warm, self.path)
        self.delete(warm)

    def close(self):
        """Empty and delete the bucket (it matters when the harness is reused: moto keeps objects in memory)."""
        for page in self.client.get_paginator('list_objects_v2').paginate(Bucket=self.bucket):
            for item in page.get('Contents') or []:
                self.client.delete_object(Bucket=self.bucket, Key=item['Key'])
        for upload in self.client.list_multipart_uploads(Bucket=self.bucket).get('Uploads') or []:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload['Key'], UploadId=upload['UploadId'])
        self.client.delete_bucket(Bucket=self.bucket)

    # -- candidates ----------------------------------------------------------

    def boto3_upload(self):
        """boto3 upload_file to a fresh key."""
        key = 'bench/boto3/%s/%s' % (self.fresh('up'), self.manifest['file'])
        figures = self.boto3('upload', key, self.path)
        self.delete(key)
        return figures

    def module_upload(self):
        """s3_backup mode=upload to a fresh prefix."""
        prefix = 'bench/module/%s/' % self.fresh('up')
        figures, result = self.module({'mode': 'upload', 'path': self.path, 'prefix': prefix})
        if not result.get('uploaded'):
            raise RuntimeError('the module did not upload (%s)' % result)
        self.delete(result['key'], result['manifest_key'])
        return dict(figures, seconds=result['upload_seconds'], parts=result['parts'])

    def boto3_download(self):
        """boto3 download_file into a fresh directory."""
        dest = self.workdir / self.fresh('down')
        dest.mkdir()
        try:
            figures = self.boto3('download', self.source_key, dest / self.manifest['file'])
            if os.path.getsize(dest / self.manifest['file']) != self.args.size:
                raise RuntimeError('boto3 download has the wrong size')
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        return figures

    def module_download(self):
        """s3_backup mode=download (by key) into a fresh directory."""
        dest = self.workdir / self.fresh('down')
        try:
            figures, result = self.module({'mode': 'download', 'prefix': 'bench/source/', 'key': self.source_key, 'dest': str(dest)})
            if not result.get('downloaded'):
                raise RuntimeError('the module did not download (%s)' % result)
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        return dict(figures, seconds=result['download_seconds'])


def median(rounds, name, key='seconds'):
    """Median of one figure over the rounds."""
    return statistics.median(r[name][key] for r in rounds)


def report(rounds, args):
    """Print the table of medians and ratios."""
    size_mib = args.size / MIB
    print()
    print('backup %.0f MiB of random bytes, part size %.0f MiB, threshold %.0f MiB, concurrency %d; %d rounds (median), %d CPUs'
          % (size_mib, args.part_size / MIB, args.threshold / MIB, args.concurrency, len(rounds), os.cpu_count()))
    print('S3 server: moto (in-memory Python server on this machine): client overhead, not network throughput')
    print()
    row = '%-26s %9s %7s %7s %9s %7s %8s %8s %8s %7s'
    print(row % ('candidate', 'transfer', 'MiB/s', 'best', 'process', 'MiB/s', 'client', 'server', 'other', 'peak'))
    print(row % ('', 's', '', 's', 's', '', 'CPU s', 'CPU s', 'CPU s', 'RSS MB'))
    labels = (('boto3_upload', 'boto3 upload_file'), ('module_upload', 's3_backup mode=upload'),
              ('boto3_download', 'boto3 download_file'), ('module_download', 's3_backup mode=download'))
    for name, label in labels:
        if name not in rounds[0]:
            continue
        transfer = median(rounds, name)
        process = median(rounds, name, 'process_seconds')
        print('%-26s %9.2f %7.1f %7.2f %9.2f %7.1f %8.2f %8.2f %8.2f %7.0f' % (
            label, transfer, size_mib / transfer, min(r[name]['seconds'] for r in rounds), process, size_mib / process,
            median(rounds, name, 'cpu'), median(rounds, name, 'server_cpu'), median(rounds, name, 'other_cpu'),
            max(r[name]['rss'] for r in rounds)))
    print()
    print('%-46s %9s %9s %9s %8s  %s' % ('throughput module / boto3', 'transfer', 'best', 'process', 'target', 'met'))
    pairs = [('upload', 'boto3_upload', 'module_upload', TARGETS['upload_vs_boto3'])]
    if 'module_download' in rounds[0]:
        pairs.append(('download', 'boto3_download', 'module_download', None))
    for label, base, cand, target in pairs:
        ratio = median(rounds, base) / median(rounds, cand)
        best = min(r[base]['seconds'] for r in rounds) / min(r[cand]['seconds'] for r in rounds)
        process = median(rounds, base, 'process_seconds') / median(rounds, cand, 'process_seconds')
        paired = statistics.median(r[base]['seconds'] / r[cand]['seconds'] for r in rounds)
        if target is None:
            print('%-46s %8.2fx %8.2fx %8.2fx %8s' % (label + ' (ratio of medians, no target)', ratio, best, process, '-'))
        else:
            print('%-46s %8.2fx %8.2fx %8.2fx %7.2fx  %s' % (label + ' (ratio of medians)', ratio, best, process, target,
                                                             'yes' if ratio >= target else 'NO'))
        print('%-46s %8.2fx' % (label + ' (median of per-round paired ratios)', paired))
        quiet = [r[base]['seconds'] / r[cand]['seconds'] for r in rounds
                 if r[base]['other_cpu'] < QUIET_OTHER_CPU and r[cand]['other_cpu'] < QUIET_OTHER_CPU]
        print('%-46s %8s   (%d of %d rounds had both runs quiet)' % (
            label + ' (paired, quiet rounds only)', ('%.2fx' % statistics.median(quiet)) if quiet else '-', len(quiet), len(rounds)))
    print()
    print('transfer = time around the transfer inside the process (module: its upload_seconds/download_seconds, the latter')
    print('including the SHA-256 of the downloaded file, fsync and rename); best = fastest round; process = whole process')
    print('wall time (interpreter, imports, the module\'s bucket check, HEADs and manifest); client CPU = user+sys of the')
    print('process, server = moto\'s, other = the rest of the machine meanwhile (high = a round disturbed by other work;')
    print('"quiet" = other < %.1f CPU s for both runs of the pair, the least disturbed comparison on a shared machine).' % QUIET_OTHER_CPU)


def main(argv=None):
    """Run the benchmark."""
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ['--boto3-child']:
        return boto3_child(json.loads(argv[1]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=parse_size, default=parse_size('300MB'), help='backup size (default 300MB)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--part-size', type=parse_size, default=parse_size('16MiB'), help="the module's part_size (default 16MiB)")
    parser.add_argument('--concurrency', type=int, default=4, help="the module's concurrency (default 4)")
    parser.add_argument('--threshold', type=parse_size, default=parse_size('64MiB'), help="the module's multipart_threshold (default 64MiB)")
    parser.add_argument('--no-download', action='store_true', help='benchmark uploads only')
    parser.add_argument('--workdir', help='scratch directory (default: a new one under /var/tmp, removed afterwards)')
    parser.add_argument('--harness-dir', help='use the s3 service of a running harness instead of starting one')
    parser.add_argument('--keep', action='store_true', help='keep the harness and the scratch files afterwards')
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error('--rounds must be at least 1')
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix='dsr-s3-bench-', dir='/var/tmp'))
    workdir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(workdir).free
    if free < 3 * args.size:
        parser.error('only %.1f GB free in %s; about %.1f GB are needed' % (free / 1e9, workdir, 3 * args.size / 1e9))
    import dsr_harness  # pylint: disable=import-outside-toplevel
    started_here = not args.harness_dir
    harness_dir = args.harness_dir or str(workdir / 'harness')
    bench = None
    try:
        if started_here:
            dsr_harness.up(harness_dir, ['s3'])
        s3 = dsr_harness.read_state(harness_dir)['services'].get('s3')
        if not s3:
            parser.error('the harness in %s runs no s3 service' % harness_dir)
        bench = Bench(s3, workdir, args)
        print('writing a %.0f MiB backup, uploading it once as the download source and warming up...' % (args.size / MIB), flush=True)
        bench.prepare()
        pairs = [('boto3_upload', 'module_upload')]
        if not args.no_download:
            pairs.append(('boto3_download', 'module_download'))
        rounds = []
        for index in range(args.rounds):
            figures = {}
            for pair in pairs:
                for name in (pair if index % 2 == 0 else pair[::-1]):
                    figures[name] = getattr(bench, name)()
            rounds.append(figures)
            print('round %d: %s' % (index + 1, ', '.join('%s %.2f s (process %.2f s, other CPU %.1f s)' % (
                k, v['seconds'], v['process_seconds'], v['other_cpu']) for k, v in figures.items())), flush=True)
        report(rounds, args)
    finally:
        if bench is not None and not args.keep:
            try:
                bench.close()
            except Exception as exc:  # pylint: disable=broad-except
                print('could not delete bucket %s: %s' % (bench.bucket, exc), file=sys.stderr)
        if args.keep:
            print('kept: scratch files in %s, harness in %s (stop it with dsr_harness down)' % (workdir, harness_dir))
        else:
            if started_here:
                dsr_harness.down(harness_dir)
            if not args.workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            else:
                for sub in ('data', 'collections'):
                    shutil.rmtree(workdir / sub, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
