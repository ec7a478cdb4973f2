#!/usr/bin/env bash
# The weekly and monthly maintenance end to end on one environment (prepare.yml writes its inventory), with the time
# injected (maintenance_now): refused outside the window (a refused start in the audit log, nothing run), rehearsed in
# check mode inside it (nothing written or deleted), run inside it, run too late for most actions (those refused, the
# run recorded as failed), the monthly maintenance in the monthly window and refused in the weekly one. verify.yml reads
# what they left behind: the audit log, the notices, the database, the files.
set -euxo pipefail

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

ansible-playbook -i "$INVENTORY_PATH" -e "maint_workdir=$workdir" prepare.yml "$@"
inventory="$workdir/inventory.yml"
weekly=(ansible-playbook -i "$inventory" dsr.ops.maintenance_weekly)
monthly=(ansible-playbook -i "$inventory" dsr.ops.maintenance_monthly)

# refused <log> <command...>: run a play that must fail on a host (exit code 2), its output kept in <log>
refused() {
  local log=$1 rc
  shift
  set +e
  "$@" | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 2 ]
}

# Saturday 10:00 in Manila: refused at the start, the play fails (exit code 2: a host failed)
refused "$workdir/saturday.log" "${weekly[@]}" -e maintenance_change_id=CHG-2026-0101 -e maintenance_now=2026-12-12T10:00:00+08:00 "$@"
grep -q 'refused: change CHG-2026-0101 (standard, low) cannot be started: outside every maintenance window at 2026-12-12T10:00:00+08:00; the next is weekly from 2026-12-13T02:00:00+08:00' "$workdir/saturday.log"
! grep -q 'VACUUM' "$workdir/saturday.log"

# a rehearsal inside the window: everything judged, nothing written, deleted or vacuumed
"${weekly[@]}" --check -e maintenance_change_id=CHG-2026-0102 -e maintenance_now=2026-12-13T02:05:00+08:00 "$@" | tee "$workdir/check.log"
grep -q 'cleanup would delete 3 files' "$workdir/check.log"
grep -q 'VACUUM (ANALYZE): 1 operation planned (check mode)' "$workdir/check.log"
[ ! -e "$workdir/notices/CHG-2026-0102-maint-it-start.txt" ]

# Sunday 02:05: inside the weekly window, every action runs
"${weekly[@]}" -e maintenance_change_id=CHG-2026-0103 -e maintenance_now=2026-12-13T02:05:00+08:00 "$@" | tee "$workdir/weekly.log"
grep -q 'maint-it vacuum_analyze: VACUUM (ANALYZE): 1 operation in' "$workdir/weekly.log"
grep -q 'maint-it cleanup: cleanup deleted 3 files' "$workdir/weekly.log"
grep -Eq 'maint-it security_updates: security updates pending: ' "$workdir/weekly.log"

# Sunday 03:50: ten minutes left - the 20, 30 and 40 minute actions are refused, the 5 minute ones run; recorded as failed
refused "$workdir/late.log" "${weekly[@]}" -e maintenance_change_id=CHG-2026-0104 -e maintenance_now=2026-12-13T03:50:00+08:00 "$@"
grep -q "maint-it vacuum_analyze: inside maintenance window weekly (2026-12-13T02:00:00+08:00 to 2026-12-13T04:00:00+08:00), 10m left: expected_duration 30m would overrun the window's end at 2026-12-13T04:00:00+08:00" "$workdir/late.log"
grep -q 'weekly maintenance of maint-it (CHG-2026-0104) is recorded as failed: security_updates refused' "$workdir/late.log"

# the first Sunday of December 01:30: the monthly window
"${monthly[@]}" -e maintenance_change_id=CHG-2026-0105 -e maintenance_now=2026-12-06T01:30:00+08:00 -e daily_ops_now=2026-12-05T17:30:00Z "$@" \
  | tee "$workdir/monthly.log"
grep -q 'maint-it reindex: REINDEX CONCURRENTLY + ANALYZE: ' "$workdir/monthly.log"
grep -q 'maint-it dr_drill: skipped: not configured (maintenance_dr_source_environment, on the staging environment)' "$workdir/monthly.log"
grep -q 'maint-it capacity_review: capacity review: the database grows 1.0 MiB a day; the disk threshold is 60 days away (under 90): plan storage' "$workdir/monthly.log"

# the second Sunday 02:30 is inside the weekly window, not the monthly one: the monthly maintenance is refused
refused "$workdir/monthly-refused.log" "${monthly[@]}" -e maintenance_change_id=CHG-2026-0106 -e maintenance_now=2026-12-13T02:30:00+08:00 "$@"
grep -q 'cannot be started: outside every maintenance window at 2026-12-13T02:30:00+08:00; the next is monthly from 2027-01-03T01:00:00+08:00' "$workdir/monthly-refused.log"

# an approved emergency change that may run outside the windows: on the Saturday, the certificate check alone
cat > "$workdir/emergency.json" <<'JSON'
{"maintenance_weekly_actions": ["certificates"],
 "maintenance_change": {"change_id": "CHG-2026-0107", "title": "Check the certificates after the CA incident", "category": "emergency",
   "priority": "critical", "requested_by": "security-team", "implementation_date": "2026-12-12",
   "description": "Check every certificate now", "business_justification": "A CA of ours was revoked",
   "risk_assessment": "None - read only", "rollback_plan": "Nothing to roll back", "testing_plan": "Run in staging first",
   "outside_window": true, "emergency_reason": "Cannot wait for Sunday",
   "approvals": [{"role": "operations-manager", "approver": "jose.reyes", "at": "2026-12-01T09:00:00+08:00"}]}}
JSON
"${weekly[@]}" -e "@$workdir/emergency.json" -e maintenance_now=2026-12-12T10:00:00+08:00 "$@" | tee "$workdir/emergency.log"
grep -q 'allowed by emergency change CHG-2026-0107, approved by jose.reyes' "$workdir/emergency.log"
grep -q 'maint-it certificates: certificates: ok' "$workdir/emergency.log"

# applying the security updates, rehearsed (check mode: apt simulates; the health checks run for real)
"${weekly[@]}" --check -e maintenance_change_id=CHG-2026-0108 -e maintenance_now=2026-12-13T02:05:00+08:00 \
  -e '{"maintenance_weekly_actions": ["security_updates"], "maintenance_apply_updates": true}' "$@" | tee "$workdir/apply.log"
grep -Eq 'maint-it security_updates: security updates would apply: [0-9]+ on 1 host \(localhost: .*\); health after: ok' "$workdir/apply.log"

# a machine that cannot be reached fails its action, not the run: the outcome is still recorded (failed)
refused "$workdir/unreachable.log" "${weekly[@]}" -e maintenance_change_id=CHG-2026-0109 -e maintenance_now=2026-12-13T02:05:00+08:00 \
  -e '{"maintenance_weekly_actions": ["security_updates", "certificates"], "maintenance_patch_hosts": ["localhost", "unreachable-it"]}' \
  "$@"
grep -q 'maint-it security_updates: failed: maintenance: cannot reach unreachable-it to list its updates' "$workdir/unreachable.log"

ansible-playbook -i "$INVENTORY_PATH" -e "maint_workdir=$workdir" verify.yml "$@"
