#!/usr/bin/env bash
# The PostgreSQL passwords must appear in no result and nowhere in -vvv output, on success
# and on failure, for every module that takes one. ansible-test runs this from targets/<name>/ beside ../../integration_config.yml
# (it passes that file to role targets, not to scripts).
set -eu

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }

out=$(mktemp)
backups=$(mktemp -d)
trap 'rm -rf "$out" "$backups"' EXIT
ansible-playbook -i "$INVENTORY_PATH" -e "@$config" -e "leak_backup_dir=$backups" leak.yml "$@" -vvv > "$out" 2>&1 || { cat "$out"; exit 1; }

# the run printed module arguments, so a leak would show
grep -q VALUE_SPECIFIED_IN_NO_LOG_PARAMETER "$out"
grep -q "password authentication failed" "$out"

python - "$config" "$out" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
leaked = [role for role, password in config['dsr_pg_passwords'].items() if password in text]
if leaked:
    sys.exit('password of %s found in -vvv output' % ', '.join(leaked))
print('no password in %d bytes of -vvv output' % len(text))
PY
