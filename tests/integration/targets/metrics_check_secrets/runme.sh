#!/usr/bin/env bash
# The Prometheus password and bearer token must appear in no result and nowhere in -vvv output,
# on success and on failure. ansible-test runs this from targets/<name>/ beside
# ../../integration_config.yml (it passes that file to role targets, not to scripts).
set -eu

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }

# as an AWX credential injects it: into the environment of ansible-playbook itself
PROMETHEUS_BEARER_TOKEN=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["dsr_prom_bearer_token"])' "$config")
export PROMETHEUS_BEARER_TOKEN

out=$(mktemp)
trap 'rm -f "$out"' EXIT
ansible-playbook -i "$INVENTORY_PATH" -e "@$config" leak.yml "$@" -vvv > "$out" 2>&1 || { cat "$out"; exit 1; }

# the run printed module arguments and the failures, so a leak would show
grep -q VALUE_SPECIFIED_IN_NO_LOG_PARAMETER "$out"
grep -q "refused the credentials (HTTP 401)" "$out"

python - "$config" "$out" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
secrets = {'the Prometheus password': config['dsr_prom_password'], 'the bearer token': config['dsr_prom_bearer_token']}
leaked = [name for name, value in secrets.items() if value in text]
if leaked:
    sys.exit('%s found in -vvv output' % ' and '.join(leaked))
print('no Prometheus secret in %d bytes of -vvv output' % len(text))
PY
