#!/usr/bin/env bash
# Disaster recovery end to end (scenarios.yml), then the same role under --check (check.yml).
# ansible-test runs this from targets/<name>/ beside ../../integration_config.yml, which the plays load
# as vars_files (not -e: extra vars would override the scenario's own database names).
set -eux

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

ansible-playbook -i "$INVENTORY_PATH" -e "dr_workdir=$workdir" scenarios.yml "$@"
ansible-playbook -i "$INVENTORY_PATH" -e "dr_workdir=$workdir" check.yml --check "$@"
