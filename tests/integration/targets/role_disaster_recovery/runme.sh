#!/usr/bin/env bash
# Disaster recovery end to end (scenarios.yml), then the same role under --check (check.yml).
# ansible-test runs this from targets/<name>/ beside ../../integration_config.yml, which the plays load
# as vars_files (not -e: extra vars would override the scenario's own database names). Before the
# scenarios, the dsr.ops.config_backup playbook makes the configuration archive the recovery applies
# (as the environment's nightly job would), twice: the second run finds nothing changed.
set -euxo pipefail

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

ansible-playbook -i "$INVENTORY_PATH" -e "dr_workdir=$workdir" prepare.yml "$@"
config_backup=(ansible-playbook -i "$INVENTORY_PATH" -e dsr_targets=testhost -e "@$config" -e @dr_vars.yml -e "dr_workdir=$workdir"
               dsr.ops.config_backup "$@")
"${config_backup[@]}" | tee "$workdir/config-backup-1.log"
grep -q 'configuration of dsr-production: 41 objects (3 Secrets encrypted, 0 skipped)' "$workdir/config-backup-1.log"
grep -q 'new archive' "$workdir/config-backup-1.log"
grep -q "off-site: s3://.*/role-dr/$(basename "$workdir")/k8s-config/dsr-production_" "$workdir/config-backup-1.log"
"${config_backup[@]}" | tee "$workdir/config-backup-2.log"
grep -q 'unchanged since' "$workdir/config-backup-2.log"

ansible-playbook -i "$INVENTORY_PATH" -e "dr_workdir=$workdir" scenarios.yml "$@"
ansible-playbook -i "$INVENTORY_PATH" -e "dr_workdir=$workdir" check.yml --check "$@"
