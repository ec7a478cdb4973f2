#!/usr/bin/env bash
# The PostgreSQL passwords must appear in no pg_access_review result and nowhere in -vvv output, on success
# and on failure, with a baseline written in diff mode. ansible-test runs this from targets/<name>/ beside
# ../../integration_config.yml (it passes that file to role targets, not to scripts).
set -eu

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }

out=$(mktemp)
dir=$(mktemp -d)
trap 'rm -rf "$out" "$dir"' EXIT
ansible-playbook -i "$INVENTORY_PATH" -e "@$config" -e "leak_dir=$dir" leak.yml "$@" -vvv > "$out" 2>&1 || { cat "$out"; exit 1; }

# the run printed module arguments, so a leak would show
grep -q VALUE_SPECIFIED_IN_NO_LOG_PARAMETER "$out"
grep -q "password authentication failed" "$out"

python - "$config" "$out" "$dir/baseline.yml" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read() + open(sys.argv[3]).read()
leaked = [role for role, password in config['dsr_pg_passwords'].items() if password in text]
if leaked:
    sys.exit('password of %s found in -vvv output or in the baseline' % ', '.join(leaked))
print('no password in %d bytes of -vvv output and baseline' % len(text))
PY
