#!/usr/bin/env bash
# The main job on a local sandbox: a throwaway PostgreSQL 15 primary + standby loaded with a
# small DSR-shaped database, and the morning database check run against it.
#
#   scripts/sandbox.sh            # start the sandbox (if not running), load data, run the check
#   scripts/sandbox.sh check      # run the check again against the running sandbox
#   scripts/sandbox.sh down       # stop the sandbox and delete its data
#
# DSR_SANDBOX_DIR (default /tmp/dsr-ops-sandbox) holds the servers, the inventory and the state.
# DSR_SANDBOX_SIZE (default 20MB) is the size of the generated registry database.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source "$repo/scripts/lib.sh"

action=${1:-up}
dir=${DSR_SANDBOX_DIR:-/tmp/dsr-ops-sandbox}
size=${DSR_SANDBOX_SIZE:-20MB}
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
if [ ! -f "$state" ]; then
  [ "$action" = up ] || { dsr_log "no sandbox running: run scripts/sandbox.sh"; exit 1; }
  mkdir -p "$dir"
  dsr_log "starting PostgreSQL primary + standby in $harness"
  "$DSR_PYTHON" tests/harness/dsr_harness.py up --dir "$harness"
  pg() { "$DSR_PYTHON" -c "import json,sys; s=json.load(open('$state'))['services']['postgres']; print(eval(sys.argv[1]))" "$1"; }
  dsr_log "loading a $size DSR-shaped registry into dsr_db"
  PGPASSWORD=$(pg "s['passwords']['dsr_app']") "$DSR_PYTHON" tools/dsr_datagen.py \
    --dsn "host=127.0.0.1 port=$(pg "s['port']") user=dsr_app dbname=dsr_db" --size "$size"
fi

# The collection, as ansible-playbook finds installed collections.
mkdir -p "$dir/collections/ansible_collections/dsr"
ln -sfn "$repo" "$dir/collections/ansible_collections/dsr/ops"

# One inventory host per DSR environment; secrets are not in the inventory (see docs/inventory.md).
"$DSR_PYTHON" - "$state" "$DSR_PYTHON" > "$dir/inventory.yml" <<'PY'
import json, sys
pg = json.load(open(sys.argv[1]))['services']['postgres']
inventory = {'dsr_environments': {'hosts': {'sandbox': {
    'ansible_connection': 'local',
    'ansible_python_interpreter': sys.argv[2],
    'dsr_environment': 'sandbox',
    'dsr_pg_host': pg['host'],
    'dsr_pg_port': pg['port'],
    'dsr_pg_database': pg['database'],
    'dsr_pg_monitor_user': 'dsr_monitor',
    'dsr_pg_admin_user': 'postgres',
    'dsr_pg_expect_standbys': 1,
}}}}
json.dump(inventory, sys.stdout, indent=2)
PY

# The monitoring role's password reaches libpq the way an AWX credential injects it.
PGPASSWORD=$("$DSR_PYTHON" -c "import json; print(json.load(open('$state'))['services']['postgres']['passwords']['dsr_monitor'])")
export PGPASSWORD
export ANSIBLE_COLLECTIONS_PATH="$dir/collections"
export ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_DISPLAY_SKIPPED_HOSTS=false ANSIBLE_NOCOLOR=1
dsr_log "running the morning database check (playbook dsr.ops.db_health)"
ansible-playbook -i "$dir/inventory.yml" dsr.ops.db_health -e "db_health_state_dir=$dir/state"
dsr_log "sandbox is up: scripts/sandbox.sh check to run again, scripts/sandbox.sh down to remove it"
