#!/usr/bin/env bash
# The AWX backup workflow's failure branch (playbook dsr.ops.incident_notice): a failed job opens one incident per
# environment of the run, with its notice; the workflow's success resolves them. The history directory backend, as an
# ad-hoc run keeps it.
set -euxo pipefail

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/inventory.yml" <<INV
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $(command -v python)
    daily_ops_history_backend: directory
    daily_ops_history_dir: $work/history
    daily_ops_notice_dir: $work/notices
  children:
    dsr_environments:
      hosts:
        prod-it: {}
        staging-it: {}
INV

ansible-playbook -i "$work/inventory.yml" dsr.ops.incident_notice -e 'incident_notice_job="DSR database backup"' "$@" | tee "$work/failed.log"
[ "$(ls "$work/notices" | grep -c -- '-01-investigating.txt$')" -eq 2 ]
grep -q "prod-it: backup is critical" "$work"/notices/*-01-investigating.txt
grep -q "staging-it: backup is critical" "$work"/notices/*-01-investigating.txt
grep -q "the job 'DSR database backup' failed" "$work"/notices/*-01-investigating.txt

# the same failure again: the incidents are held, no second notice
ansible-playbook -i "$work/inventory.yml" dsr.ops.incident_notice -e 'incident_notice_job="DSR database backup"' "$@" > "$work/again.log"
[ "$(ls "$work/notices" | wc -l)" -eq 2 ]

# the workflow's success resolves both
ansible-playbook -i "$work/inventory.yml" dsr.ops.incident_notice -e incident_notice_status=ok -e 'incident_notice_job="DSR nightly backup"' "$@" \
  | tee "$work/ok.log"
[ "$(ls "$work/notices" | grep -c -- '-02-resolved.txt$')" -eq 2 ]
grep -q "Status: Resolved" "$work"/notices/*-02-resolved.txt

# bad input is refused by name before anything is recorded
if ansible-playbook -i "$work/inventory.yml" dsr.ops.incident_notice -e incident_notice_status=broken "$@" > "$work/bad.log" 2>&1; then
  exit 1
fi
grep -q "incident_notice_status is critical (default) or ok" "$work/bad.log"
[ "$(ls "$work/notices" | wc -l)" -eq 4 ]
