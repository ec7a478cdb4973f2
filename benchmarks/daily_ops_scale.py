# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Benchmark of the morning check (playbook dsr.ops.morning_check) over many DSR environments.

Baseline: the same playbook over ONE environment, on the same machine, in the same run.
Candidates: 10 and 50 environments (``--sizes``), run with ``--forks`` forks. Every
environment is an inventory host of its own that shares the benchmark's servers under its
own name: a PostgreSQL 15 server (Debian's), Prometheus (Debian's) scraping the harness's
exporter, TLS endpoints, the Kubernetes API stub and the Elasticsearch stub
(tests/harness/, stubs that speak the REST wire format, not the real servers), a local
backup verified by checksum, and the history and incidents in an operations database.

Each size is run ``--rounds`` times, sizes interleaved round by round; the medians are
reported. Printed per size: wall time, its ratio to one environment's, the wall time per
environment, and the controller's memory: the peak of the summed PSS of ansible-playbook's
whole process tree (its forks and the modules they run; shared pages counted once), and the
peak RSS of its largest process. Then the wall time of each task, for the smallest and the
largest size (benchmarks/callbacks/task_times.py): where the cost grows. Every run must end with every environment's checks recorded in the history (the
benchmark counts the rows), or it fails.

    python benchmarks/daily_ops_scale.py [--sizes 1,10,50] [--forks 50] [--rounds 3] [--workdir /tmp/dsr-bench-daily] [--keep]

The issue's targets: one environment's morning check under 20 s; 50 environments within 3x
one environment's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _proc import TreeSampler

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / 'tests' / 'harness' / 'dsr_harness.py'
SERVICES = 'postgres,prometheus,tls,s3,kubernetes,elasticsearch'
REGISTRY_DB = 'bench_daily_db'
OPS_DB = 'dsr_ops_bench'
TARGET_ONE = 20.0
TARGET_RATIO = 3.0


class Bench:
    """The servers, the inventories and the runs."""

    def __init__(self, workdir, python):
        self.workdir = Path(workdir)
        self.python = python
        self.harness = self.workdir / 'harness'
        self.state = None
        self.env = None

    def harness_cmd(self, *args):
        subprocess.run([self.python, str(HARNESS)] + list(args) + ['--dir', str(self.harness)], check=True, stdout=subprocess.DEVNULL)

    def up(self):
        """Start the servers (unless running) and prepare the registry, a backup and the operations database."""
        state_file = self.harness / 'state.json'
        if not state_file.exists():
            self.workdir.mkdir(parents=True, exist_ok=True)
            print('starting the servers (%s) in %s' % (SERVICES, self.harness), flush=True)
            self.harness_cmd('up', '--services', SERVICES, '--no-standby')
        self.state = json.loads(state_file.read_text())['services']
        pg = self.state['postgres']
        collections = self.workdir / 'collections' / 'ansible_collections' / 'dsr'
        collections.mkdir(parents=True, exist_ok=True)
        if not (collections / 'ops').exists():
            (collections / 'ops').symlink_to(ROOT)
        pgpass = self.workdir / 'pgpass'
        fd = os.open(str(pgpass), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write('%s:%d:*:postgres:%s\n' % (pg['host'], pg['port'], pg['passwords']['postgres']))
        prom, es, k8s = self.state['prometheus'], self.state['elasticsearch'], self.state['kubernetes']
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(self.workdir / 'collections'), PGPASSFILE=str(pgpass),
                        PROMETHEUS_USERNAME=prom['username'], PROMETHEUS_PASSWORD=prom['password'],
                        ELASTICSEARCH_USERNAME=es['clusters']['es8']['username'], ELASTICSEARCH_PASSWORD=es['clusters']['es8']['password'],
                        K8S_AUTH_API_KEY=k8s['token'], ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='default',
                        ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_RETRY_FILES_ENABLED='False',
                        # where the time goes: every task's wall time (benchmarks/callbacks/task_times.py)
                        ANSIBLE_CALLBACK_PLUGINS=str(ROOT / 'benchmarks' / 'callbacks'), ANSIBLE_CALLBACKS_ENABLED='task_times')
        self.env.pop('PGPASSWORD', None)
        # ansible-playbook of the interpreter running the benchmark (the test venv's)
        self.env['PATH'] = os.path.dirname(self.python) + os.pathsep + self.env.get('PATH', '')
        self.psql('postgres', 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % REGISTRY_DB, 'CREATE DATABASE %s' % REGISTRY_DB,
                  'DROP DATABASE IF EXISTS %s WITH (FORCE)' % OPS_DB, 'CREATE DATABASE %s' % OPS_DB)
        self.psql(REGISTRY_DB, 'CREATE TABLE households AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 20000) g')
        backups = self.workdir / 'backups'
        backups.mkdir(exist_ok=True)
        args = 'login_host=%s port=%d login_user=postgres database=%s backup_dir=%s' % (pg['host'], pg['port'], REGISTRY_DB, backups)
        subprocess.run([os.path.join(os.path.dirname(self.python), 'ansible'), 'localhost', '-c', 'local', '-e', 'ansible_python_interpreter=' + self.python,
                        '-m', 'dsr.ops.pg_backup', '-a', args], check=True, env=self.env, stdout=subprocess.DEVNULL)
        (self.workdir / 'textfile').mkdir(exist_ok=True)
        # a healthy namespace in the Kubernetes stub
        self.control(k8s['control_url'] + '/scenario', {'names': ['healthy']}, k8s['ca_cert'])

    def control(self, url, body, ca_cert):
        import ssl  # pylint: disable=import-outside-toplevel
        import urllib.request  # pylint: disable=import-outside-toplevel
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method='POST', headers={'Content-Type': 'application/json'})
        context = ssl.create_default_context(cafile=ca_cert) if url.startswith('https') else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            response.read()

    def psql(self, database, *statements):
        import psycopg2  # pylint: disable=import-outside-toplevel
        pg = self.state['postgres']
        conn = psycopg2.connect(host=pg['host'], port=pg['port'], user='postgres', password=pg['passwords']['postgres'], dbname=database)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                result = None
                for statement in statements:
                    cur.execute(statement)
                    result = cur.fetchall() if cur.description else None
                return result
        finally:
            conn.close()

    def inventory(self, size):
        """An inventory of ``size`` environments sharing the servers under their own names."""
        pg, prom, tls = self.state['postgres'], self.state['prometheus'], self.state['tls']
        es, k8s = self.state['elasticsearch'], self.state['kubernetes']
        common = {
            'ansible_connection': 'local', 'ansible_python_interpreter': self.python,
            'dsr_pg_host': pg['host'], 'dsr_pg_port': pg['port'], 'dsr_pg_database': REGISTRY_DB, 'dsr_pg_monitor_user': 'postgres',
            'dsr_backup_dir': str(self.workdir / 'backups'),
            'dsr_prometheus_url': prom['url'], 'dsr_prometheus_ca_cert': prom['ca_cert'],
            'dsr_elasticsearch_hosts': [es['clusters']['es8']['url']], 'dsr_elasticsearch_ca_cert': es['ca_cert'],
            'dsr_k8s_host': k8s['url'], 'dsr_k8s_ca_cert': k8s['ca_cert'], 'dsr_k8s_namespace': k8s['namespace'],
            'dsr_tls_ca_cert': tls['ca_cert'],
            'dsr_tls_endpoints': [{'name': 'registry', 'host': '127.0.0.1', 'port': tls['endpoints']['days90']['port'], 'server_name': 'localhost'},
                                  {'name': 'database', 'host': pg['host'], 'port': pg['port'], 'protocol': 'postgres',
                                   'server_name': 'localhost'}],
        }
        hosts = {'env-%03d' % number: dict(common, dsr_environment='env-%03d' % number) for number in range(1, size + 1)}
        inventory = {'all': {
            'vars': {'dsr_ops_history_host': pg['host'], 'dsr_ops_history_port': pg['port'], 'dsr_ops_history_user': 'postgres',
                     'daily_ops_history_database': OPS_DB, 'daily_ops_notice_dir': str(self.workdir / 'notices'),
                     'daily_ops_metrics_dir': str(self.workdir / 'textfile')},
            'children': {'dsr_environments': {'hosts': hosts}}}}
        path = self.workdir / ('inventory-%d.json' % size)
        path.write_text(json.dumps(inventory, indent=1))
        return path

    def run(self, size, forks):
        """One morning check over ``size`` environments: (seconds, peak tree PSS MiB, largest process RSS MiB)."""
        inventory = self.inventory(size)
        before = self.psql(OPS_DB, "SELECT to_regclass('dsr_ops.check_history') IS NOT NULL")[0][0]
        before = self.psql(OPS_DB, 'SELECT count(*) FROM dsr_ops.check_history')[0][0] if before else 0
        argv = [os.path.join(os.path.dirname(self.python), 'ansible-playbook'), '-i', str(inventory), '-f', str(forks), 'dsr.ops.morning_check',
                '-e', 'daily_ops_metrics_rate_window=30s', '-e', 'daily_ops_fail_on=critical']
        times = self.workdir / ('task-times-%d.json' % size)
        started = time.monotonic()
        env = dict(self.env, DSR_TASK_TIMES=str(times))
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        with TreeSampler(proc.pid) as peaks:
            out, dummy = proc.communicate()
            seconds = time.monotonic() - started
        log = self.workdir / ('morning-%d.log' % size)
        log.write_bytes(out)
        if proc.returncode != 0:
            raise SystemExit('the morning check over %d environments failed (rc %d): see %s\n%s'
                             % (size, proc.returncode, log, out.decode(errors='replace')[-3000:]))
        recorded = self.psql(OPS_DB, 'SELECT count(*) FROM dsr_ops.check_history')[0][0] - before
        parts = 6
        if recorded != size * parts:
            raise SystemExit('the morning check over %d environments recorded %d checks, not %d: see %s' % (size, recorded, size * parts, log))
        return seconds, peaks.total_kb / 1024.0, peaks.largest_kb / 1024.0

    def statuses(self):
        """Status counts of everything recorded, for the table's footer."""
        return self.psql(OPS_DB, 'SELECT check_name, status, count(*) FROM dsr_ops.check_history GROUP BY 1, 2 ORDER BY 1, 2')

    def down(self):
        self.harness_cmd('down')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--sizes', default='1,10,50', help='numbers of environments, the first one the baseline (default 1,10,50)')
    parser.add_argument('--forks', type=int, default=50, help='ansible-playbook --forks (default 50)')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--workdir', default='/tmp/dsr-bench-daily')
    parser.add_argument('--keep', action='store_true', help='leave the servers running for the next run')
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(',')]
    bench = Bench(args.workdir, sys.executable)
    try:
        bench.up()
        # Prometheus needs 30 s of samples for the 30 s rate window
        started = (bench.harness / 'state.json').stat().st_mtime
        if time.time() - started < 35:
            time.sleep(35 - (time.time() - started))
        # one unmeasured run: the first ansible-playbook pays for the byte-code caches
        bench.run(1, args.forks)
        samples = {size: [] for size in sizes}
        for round_number in range(args.rounds):
            for size in sizes:
                samples[size].append(bench.run(size, args.forks))
                print('round %d: %d environments %.1f s' % (round_number + 1, size, samples[size][-1][0]), flush=True)
        statuses = bench.statuses()
    finally:
        if not args.keep:
            bench.down()
    base = statistics.median(sample[0] for sample in samples[sizes[0]])
    print()
    print('morning check (dsr.ops.morning_check, 6 parts) over N environments, --forks %d, median of %d rounds, %d CPUs'
          % (args.forks, args.rounds, os.cpu_count()))
    print('%-14s %9s %18s %12s %20s %18s' % ('environments', 'wall s', 'ratio to %d env' % sizes[0], 's per env',
                                             'tree peak PSS MiB', 'largest RSS MiB'))
    for size in sizes:
        wall = statistics.median(sample[0] for sample in samples[size])
        tree = max(sample[1] for sample in samples[size])
        largest = max(sample[2] for sample in samples[size])
        print('%-14d %9.1f %18.2f %12.2f %20.0f %18.0f' % (size, wall, wall / base, wall / size, tree, largest))
    print()
    print('targets: one environment < %.0f s (%s); %d environments <= %.0fx one (%s)'
          % (TARGET_ONE, 'met' if base < TARGET_ONE else 'NOT met', sizes[-1], TARGET_RATIO,
             'met' if statistics.median(s[0] for s in samples[sizes[-1]]) <= TARGET_RATIO * base else 'NOT met'))
    print('recorded checks by status: %s' % ', '.join('%s %s: %d' % row for row in statuses))
    print()
    print_task_times(Path(args.workdir), sizes[0], sizes[-1])
    return 0


def print_task_times(workdir, small, large):
    """Each task's wall time in the last run of the smallest and the largest size."""
    times = {size: json.loads((workdir / ('task-times-%d.json' % size)).read_text()) for size in (small, large)}
    print('task wall times, last round (s)')
    print('%-78s %8s %8s' % ('task', '%d env' % small, '%d env' % large))
    small_times = dict((name, seconds) for name, seconds in times[small])
    for name, seconds in times[large]:
        print('%-78s %8.2f %8.2f' % (name.split(' : ', 1)[-1][:78], small_times.get(name, 0.0), seconds))
    print('%-78s %8.2f %8.2f' % ('sum', sum(small_times.values()), sum(seconds for dummy, seconds in times[large])))


if __name__ == '__main__':
    sys.exit(main())
