#!/usr/bin/env bash
# The main job on a local sandbox: a throwaway PostgreSQL 15 primary + standby (ssl = on) loaded
# with a small DSR-shaped database, a Prometheus scraping a test exporter, TLS endpoints and an S3
# API server (moto); then the morning database check, the performance metrics review with the
# certificate check, and the daily security check on generated nginx and application logs with the
# access-rights review of the sandbox database.
#
# Then the nightly backup chain: backup -> verify -> upload to S3 -> retention, the weekly restore
# test, and the monthly disaster-recovery test: download of the newest verified backup from S3 ->
# verify -> restore into a separate database -> validate, with RPO and RTO.
#
#   scripts/sandbox.sh            # start the sandbox (if not running), load data, run the check
#   scripts/sandbox.sh check      # run the check again against the running sandbox
#   scripts/sandbox.sh down       # stop the sandbox and delete its data
#
# DSR_SANDBOX_DIR (default /tmp/dsr-ops-sandbox) holds the servers, the inventory and the state.
# DSR_SANDBOX_SIZE (default 20MB) is the size of the generated registry database;
# DSR_SANDBOX_LOG_SIZE (default 30MB) the size of the generated nginx access logs.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source "$repo/scripts/lib.sh"

action=${1:-up}
dir=${DSR_SANDBOX_DIR:-/tmp/dsr-ops-sandbox}
size=${DSR_SANDBOX_SIZE:-20MB}
log_size=${DSR_SANDBOX_LOG_SIZE:-30MB}
harness="$dir/harness"

case "$action" in
  up|check|down) ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac

dsr_install_system_packages
dsr_venv "$repo/tests/requirements.txt"

if [ "$action" = down ]; then
  "$DSR_PYTHON" tests/harness/dsr_harness.py down --dir "$harness"
  rm -rf "$dir"
  dsr_log "sandbox stopped and removed"
  exit 0
fi

state="$harness/state.json"
sandbox_services=postgres,prometheus,tls,s3,kubernetes
if [ -f "$state" ] && ! "$DSR_PYTHON" - "$state" "$sandbox_services" <<'PY'
import json, sys
have = set(json.load(open(sys.argv[1]))['services'])
sys.exit(0 if set(sys.argv[2].split(',')) <= have else 1)
PY
then
  # a sandbox started by an older version of this script lacks services: it is throwaway, rebuild it
  dsr_log "the sandbox in $dir lacks services this version needs ($sandbox_services): rebuilding it"
  "$DSR_PYTHON" tests/harness/dsr_harness.py down --dir "$harness"
  rm -rf "$dir"
fi
if [ ! -f "$state" ]; then
  [ "$action" = up ] || { dsr_log "no sandbox running: run scripts/sandbox.sh"; exit 1; }
  mkdir -p "$dir"
  dsr_log "starting PostgreSQL primary + standby, Prometheus, TLS endpoints, an S3 server (moto) and a Kubernetes API stub in $harness"
  "$DSR_PYTHON" tests/harness/dsr_harness.py up --dir "$harness" --services "$sandbox_services"
  # one database server whose data volume fills up, so the review has something to say
  "$DSR_PYTHON" - "$state" <<'PY'
import json, sys, urllib.request
exporter = json.load(open(sys.argv[1]))['services']['prometheus']['exporter_url']
profile = {'instance': 'dsr-db-1', 'job': 'dsr-api', 'filesystems': {'/': 35, '/var/lib/postgresql': 84}, 'pg_connections': 31}
request = urllib.request.Request(exporter + '/control/profile', data=json.dumps(profile).encode(), method='POST')
urllib.request.urlopen(request, timeout=10).read()
PY
  pg() { "$DSR_PYTHON" -c "import json,sys; s=json.load(open('$state'))['services']['postgres']; print(eval(sys.argv[1]))" "$1"; }
  dsr_log "loading a $size DSR-shaped registry into dsr_db"
  PGPASSWORD=$(pg "s['passwords']['dsr_app']") "$DSR_PYTHON" tools/dsr_datagen.py \
    --dsn "host=127.0.0.1 port=$(pg "s['port']") user=dsr_app dbname=dsr_db" --size "$size"
fi

# The collection, as ansible-playbook finds installed collections.
mkdir -p "$dir/collections/ansible_collections/dsr"
ln -sfn "$repo" "$dir/collections/ansible_collections/dsr/ops"

# One inventory host per DSR environment; secrets are not in the inventory (see docs/inventory.md).
"$DSR_PYTHON" - "$state" "$DSR_PYTHON" "$dir/backups" "$dir/logs" > "$dir/inventory.yml" <<'PY'
import json, sys
services = json.load(open(sys.argv[1]))['services']
pg, prom, tls, s3, k8s = services['postgres'], services['prometheus'], services['tls'], services['s3'], services['kubernetes']
# the sandbox environment's certificates: its database, and two web endpoints ageing normally
# (the expired and 3-day certificates of the harness are for the test suite)
endpoints = [{'name': 'registry', 'host': '127.0.0.1', 'port': tls['endpoints']['days90']['port'], 'server_name': 'localhost'},
             {'name': 'portal', 'host': '127.0.0.1', 'port': tls['endpoints']['days20']['port'], 'server_name': 'localhost'},
             {'name': 'api', 'host': '127.0.0.1', 'port': tls['endpoints']['intermediate_first']['port'], 'server_name': 'localhost'},
             {'name': 'database', 'host': pg['host'], 'port': pg['port'], 'protocol': 'postgres', 'server_name': 'localhost'}]
sandbox = {
    'ansible_connection': 'local',
    'ansible_python_interpreter': sys.argv[2],
    'dsr_environment': 'sandbox',
    'dsr_pg_host': pg['host'],
    'dsr_pg_port': pg['port'],
    'dsr_pg_database': pg['database'],
    'dsr_pg_monitor_user': 'dsr_monitor',
    'dsr_pg_admin_user': 'postgres',
    'dsr_pg_backup_user': 'postgres',
    'dsr_pg_restore_test_user': 'postgres',
    'dsr_backup_dir': sys.argv[3],
    'dsr_restore_download_dir': sys.argv[3] + '-download',
    'dsr_pg_expect_standbys': 1,
    'dsr_prometheus_url': prom['url'],
    'dsr_prometheus_ca_cert': prom['ca_cert'],
    'dsr_tls_endpoints': endpoints,
    # the sandbox's private CA: the certificate check verifies the chains against it
    'dsr_tls_ca_cert': tls['ca_cert'],
    # the off-site store: a local S3 API server (moto); its keys arrive as AWX injects them (AWS_*)
    'dsr_s3_endpoint_url': s3['endpoint_url'],
    'dsr_s3_region': s3['region'],
    'dsr_s3_bucket': s3['bucket'],
    # the cluster: the harness's Kubernetes API stub (tests/harness/k8s_stub.py, a stub, not an API server) holding
    # the DSR namespace; its bearer token arrives as AWX's Kubernetes credential injects it (K8S_AUTH_API_KEY)
    'dsr_k8s_host': k8s['url'],
    'dsr_k8s_ca_cert': k8s['ca_cert'],
    'dsr_k8s_namespace': k8s['namespace'],
    'dsr_k8s_config_backup_dir': sys.argv[3] + '-k8s-config',
    # where this environment's logs are (written by tools/access_log_gen.py below)
    'security_ops_access_log_paths': [sys.argv[4] + '/nginx/access.log', sys.argv[4] + '/nginx/access.log.1'],
    'security_ops_app_log_paths': [sys.argv[4] + '/dsr/*.log'],
}
# a second environment for the daily operations, with problems: its namespace is missing from the cluster, its portal's
# certificate expired, no backup and no Prometheus configured (those parts report "skipped: not configured")
staging = {key: sandbox[key] for key in ('ansible_connection', 'ansible_python_interpreter', 'dsr_pg_host', 'dsr_pg_port', 'dsr_pg_database',
                                          'dsr_pg_monitor_user', 'dsr_k8s_host', 'dsr_k8s_ca_cert', 'dsr_tls_ca_cert')}
staging.update({'dsr_environment': 'sandbox-staging', 'dsr_k8s_namespace': 'dsr-staging',
                'dsr_tls_endpoints': [{'name': 'portal', 'host': '127.0.0.1', 'port': tls['endpoints']['expired']['port'], 'server_name': 'localhost'}]})
base = sys.argv[3].rsplit('/', 1)[0]
inventory = {'all': {
    # the history and the incidents: the operations database dsr_ops on the sandbox server (never the registry's dsr_db);
    # the passwords come from a 0600 pgpass file, as a site keeps them (PGPASSFILE)
    'vars': {'dsr_ops_history_host': pg['host'], 'dsr_ops_history_port': pg['port'], 'dsr_ops_history_user': 'postgres',
             'daily_ops_notice_dir': base + '/notices', 'daily_ops_report_dir': base + '/reports',
             # what node_exporter's textfile collector would read (dsr.ops.ops_metrics; checked with promtool below)
             'daily_ops_metrics_dir': base + '/textfile'},
    'children': {
        'dsr_environments': {'hosts': {'sandbox': sandbox}},
        'dsr_daily': {'hosts': {'sandbox': {}, 'sandbox-staging': staging}},
    }}}
json.dump(inventory, sys.stdout, indent=2)
PY

# The monitoring role's password reaches libpq the way an AWX credential injects it.
PGPASSWORD=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['postgres']['passwords']['dsr_monitor'])")
export PGPASSWORD
export ANSIBLE_COLLECTIONS_PATH="$dir/collections"
export ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_NOCOLOR=1
dsr_log "running the morning database check (playbook dsr.ops.db_health)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.db_health -e "db_health_state_dir=$dir/state"

# The Kubernetes token, as AWX's Kubernetes credential injects it; the configuration backup's vault password
# as a custom credential would (kept in the sandbox so that an unchanged namespace keeps its archive).
K8S_AUTH_API_KEY=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['kubernetes']['token'])")
[ -s "$dir/k8s-vault-password" ] || (umask 077 && "$DSR_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))' > "$dir/k8s-vault-password")
DSR_K8S_VAULT_PASSWORD=$(cat "$dir/k8s-vault-password")
export K8S_AUTH_API_KEY DSR_K8S_VAULT_PASSWORD
dsr_log "running the Kubernetes health check (playbook dsr.ops.k8s_health; the cluster is the harness's API stub)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.k8s_health

# Prometheus credentials, as an AWX credential injects them: into ansible-playbook's environment.
PROMETHEUS_USERNAME=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['prometheus']['username'])")
PROMETHEUS_PASSWORD=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['prometheus']['password'])")
export PROMETHEUS_USERNAME PROMETHEUS_PASSWORD
# The sandbox Prometheus may be seconds old: rate() over a window longer than its data would
# understate rates, so the review uses a 30 s window and waits until that much was scraped.
age=$(( $(date +%s) - $(stat -c %Y "$state") ))
[ "$age" -ge 35 ] || { dsr_log "waiting $((35 - age)) s for Prometheus to hold 30 s of samples"; sleep $((35 - age)); }
dsr_log "running the performance metrics review and certificate check (playbook dsr.ops.daily_review)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.daily_review -e monitoring_rate_window=30s

# The day's logs of the sandbox environment, written fresh (ending now) on every run: nginx access logs
# (today's, yesterday's, an older gzip'd one) with brute-force IPs and a burst, and application logs with
# "authentication failed" lines. Then the daily security check with the weekly access review (its tag) on
# the sandbox database. The sandbox's logs hold a brute force on purpose: the check reports it as critical
# and is run report-only (security_ops_fail_on=never) so that the rest of the main job runs.
dsr_log "writing $log_size of nginx access logs and application logs in $dir/logs"
rm -rf "$dir/logs" && mkdir -p "$dir/logs"
"$DSR_PYTHON" tools/access_log_gen.py --out "$dir/logs" --size "$log_size" --span 48 \
  --end "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" > "$dir/logs/generated.json"
dsr_log "running the daily security check with the access review (playbook dsr.ops.security_daily --tags all,security_ops_access_review)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.security_daily --tags all,security_ops_access_review -e security_ops_fail_on=never

# The backup role logs in as the backup user; its password arrives like an AWX credential's.
PGPASSWORD=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['postgres']['passwords']['postgres'])")
# The S3 keys, as AWX's Amazon Web Services credential injects them.
AWS_ACCESS_KEY_ID=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['s3']['access_key'])")
AWS_SECRET_ACCESS_KEY=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['s3']['secret_key'])")
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
dsr_log "running the nightly backup: dump, verify, upload to S3, retention (playbook dsr.ops.backup)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.backup -e backup_keep_last=3 -e backup_s3_keep_last=3
dsr_log "running the Kubernetes configuration backup, Secrets encrypted, to S3 (playbook dsr.ops.config_backup)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.config_backup -e dsr_k8s_config_keep_last=3
dsr_log "running the weekly backup verification with a restore test (playbook dsr.ops.backup_verification)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.backup_verification -e backup_verification_restore_test=true
dsr_log "backups in $dir/backups:"
ls -l "$dir/backups"
dsr_log "running the monthly disaster-recovery test: newest verified backup from S3 -> verify -> restore into dsr_db_dr_test (playbook dsr.ops.dr_test)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.dr_test -e dsr_targets=sandbox -e dr_test_source_environment=sandbox -e dr_test_configuration=dry_run \
  -e "disaster_recovery_report_file=$dir/dr-test-report.json"
dsr_log "disaster-recovery report: $dir/dr-test-report.json"
# Daily operations over two environments (group dsr_daily): the sandbox and sandbox-staging, which has problems on
# purpose. The morning and midday checks record every part in the history and raise one incident for sandbox-staging (its
# notice is a file in notices/; a later run updates it only when its severity changes); they run with
# daily_ops_fail_on=never so that the evening summary runs and reports over both.
"$DSR_PYTHON" - "$state" "$dir/pgpass" <<'PY'
import json, os, sys
import psycopg2
pg = json.load(open(sys.argv[1]))['services']['postgres']
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, 'w') as handle:
    for user in ('postgres', 'dsr_monitor'):
        handle.write('%s:%d:*:%s:%s\n' % (pg['host'], pg['port'], user, pg['passwords'][user]))
conn = psycopg2.connect(host=pg['host'], port=pg['port'], user='postgres', password=pg['passwords']['postgres'], dbname='postgres')
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("SELECT 1 FROM pg_database WHERE datname = 'dsr_ops'")
    if cur.fetchone() is None:
        cur.execute('CREATE DATABASE dsr_ops')
conn.close()
PY
export PGPASSFILE="$dir/pgpass"
unset PGPASSWORD
mkdir -p "$dir/textfile"
dsr_log "running the morning check over sandbox and sandbox-staging (playbook dsr.ops.morning_check)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.morning_check -e dsr_targets=dsr_daily -e daily_ops_fail_on=never \
  -e daily_ops_metrics_rate_window=30s
dsr_log "running the midday check (playbook dsr.ops.midday_check)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.midday_check -e dsr_targets=dsr_daily -e daily_ops_fail_on=never \
  -e daily_ops_metrics_rate_window=30s
dsr_log "running the evening summary (playbook dsr.ops.evening_summary)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.evening_summary -e dsr_targets=dsr_daily
for prom in "$dir"/textfile/*.prom; do
  promtool check metrics < "$prom" || { dsr_log "promtool refused $prom"; exit 1; }
done
dsr_log "metrics for Prometheus (node_exporter textfile collector, promtool check metrics passed): $(ls "$dir/textfile" | tr '\n' ' ')"
report=$(ls -t "$dir"/reports/dsr-summary-*.html 2>/dev/null | head -1)
dsr_log "incident notices in $dir/notices: $(ls "$dir/notices" 2>/dev/null | tr '\n' ' ')"
dsr_log "evening summary report (open it in a browser): ${report:-none written}"
dsr_log "sandbox is up: scripts/sandbox.sh check to run again, scripts/sandbox.sh down to remove it"
