#!/usr/bin/env bash
# dsr.ops.ops_checks runs many environments' checks in one process: their PostgreSQL passwords and Kubernetes token must
# appear in no result and nowhere in -vvv output (the module's arguments included), on success and on failure.
set -eu

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
ansible-playbook -i "$INVENTORY_PATH" -e "@$config" leak.yml "$@" -vvv > "$out" 2>&1 || { cat "$out"; exit 1; }

# the run printed module arguments, so a leak would show
grep -q VALUE_SPECIFIED_IN_NO_LOG_PARAMETER "$out"
grep -q "password authentication failed" "$out"

python - "$config" "$out" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
secrets = dict(config['dsr_pg_passwords'], kubernetes_token=config['dsr_k8s_api_key'])
leaked = [name for name, secret in secrets.items() if secret and secret in text]
for name in leaked:
    # where, with the (throwaway) secret itself replaced
    at = text.index(secrets[name])
    print('%s at: %s' % (name, text[max(0, at - 300):at + 100].replace(secrets[name], '<SECRET>')))
if leaked:
    sys.exit('secret of %s found in -vvv output' % ', '.join(leaked))
print('no secret in %d bytes of -vvv output' % len(text))
PY
