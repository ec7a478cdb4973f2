#!/usr/bin/env bash
# Daily operations end to end over two environments (prepare.yml writes their inventory): the morning check (staging-it
# is critical: the run fails after recording, with one incident notice), the midday check (the same problem: no second
# notice), the evening summary (the report over both), then verify.yml reads what they left behind.
set -euxo pipefail

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

ansible-playbook -i "$INVENTORY_PATH" -e "daily_workdir=$workdir" prepare.yml "$@"
inventory="$workdir/inventory.yml"

# the gate fails the critical environment only after everything was recorded: exit code 2 (a host failed)
set +e
ansible-playbook -i "$inventory" dsr.ops.morning_check "$@" | tee "$workdir/morning.log"
morning=${PIPESTATUS[0]}
ansible-playbook -i "$inventory" dsr.ops.midday_check "$@" | tee "$workdir/midday.log"
midday=${PIPESTATUS[0]}
set -e
[ "$morning" -eq 2 ] && [ "$midday" -eq 2 ]
grep -q 'The morning check of staging-it is critical' "$workdir/morning.log"
! grep -q 'The morning check of prod-it is' "$workdir/morning.log"

ansible-playbook -i "$inventory" dsr.ops.evening_summary "$@" | tee "$workdir/evening.log"
grep -q "HTML report: $workdir/reports/dsr-summary-" "$workdir/evening.log"

ansible-playbook -i "$INVENTORY_PATH" -e "daily_workdir=$workdir" verify.yml "$@"

# --tags selects parts (the checks run in one task tagged always): the others are skipped as not selected, never ok; no
# history, so verify.yml's counts above are not disturbed
ansible-playbook -i "$inventory" dsr.ops.morning_check --tags daily_ops_certificates -e daily_ops_history_backend=none \
  -e daily_ops_fail_on=never "$@" | tee "$workdir/tags.log"
grep -Eq 'certificates +(ok|warning|critical) ' "$workdir/tags.log"
grep -Eq 'database +skipped +skipped: not selected \(--tags / --skip-tags\)' "$workdir/tags.log"
! grep -Eq '(kubernetes|database|backup|metrics|errors) +(ok|warning|critical|unknown) ' "$workdir/tags.log"

# staging-it's backups in an S3 bucket that cannot be listed (nothing listens on the endpoint): its backup is unknown,
# the run goes on and prod-it's local backup is still judged (one listing task for the play, errors kept per environment)
ansible-playbook -i "$inventory" dsr.ops.morning_check --tags daily_ops_backup -e daily_ops_history_backend=none \
  -e daily_ops_fail_on=never -e dsr_s3_bucket=dsr-unreachable -e dsr_s3_endpoint_url=http://127.0.0.1:9 \
  -e dsr_s3_region=us-east-1 -e dsr_s3_access_key=it-access -e dsr_s3_secret_key=it-secret-key "$@" | tee "$workdir/s3.log"
grep -Eq '"staging-it morning check: unknown"' "$workdir/s3.log"
grep -Eq '"  backup +unknown +s3_backup list failed: access to bucket dsr-unreachable failed' "$workdir/s3.log"
grep -Eq '"  backup +ok +ok: ' "$workdir/s3.log"
! grep -q 'it-secret-key' "$workdir/s3.log"

# environments of one run with different histories: refused before any check runs, naming the variables to align
cat > "$workdir/other-history.yml" <<'INV'
all:
  children:
    dsr_environments:
      hosts:
        staging-it:
          daily_ops_history_database: dsr_ops_elsewhere
INV
set +e
ansible-playbook -i "$inventory" -i "$workdir/other-history.yml" dsr.ops.morning_check "$@" > "$workdir/two-histories.log" 2>&1
two=$?
set -e
[ "$two" -ne 0 ]
grep -q 'the environments of one run must keep their history in the same place' "$workdir/two-histories.log"
! grep -q 'Checks | every environment' "$workdir/two-histories.log"
