#!/usr/bin/env bash
# The Kubernetes bearer token must appear in no result and nowhere in -vvv output, on success and on failure, whether
# it comes as the api_key option, in K8S_AUTH_API_KEY exported to ansible-playbook (as an AWX credential injects it) or
# inside a kubeconfig given as a dict. A last run leaks the token on purpose: the same check
# must find it there, or it proves nothing. ansible-test runs this from targets/<name>/ beside
# ../../integration_config.yml (it passes that file to role targets, not to scripts).
set -eu

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }

setting() { python -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$config" "$1"; }
# a made-up wrong token, random so that finding it means a leak
wrong_token=not-the-token-$(python -c 'import secrets; print(secrets.token_hex(12))')

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clean=(env -u K8S_AUTH_HOST -u K8S_AUTH_API_KEY -u K8S_AUTH_SSL_CA_CERT -u K8S_AUTH_CA_CERT -u K8S_AUTH_VERIFY_SSL
       -u K8S_AUTH_VALIDATE_CERTS -u K8S_AUTH_KUBECONFIG -u K8S_AUTH_CONTEXT -u KUBECONFIG)
# a line the run must have printed (so that a leak would have shown)
need() { grep -q -- "$1" "$2" || { echo "$2 does not show: $1" >&2; exit 1; }; }
play() {
  local mode=$1; shift
  "${clean[@]}" "$@" ansible-playbook -i "$INVENTORY_PATH" -e "@$config" -e "leak_credentials=$mode" -e "leak_wrong_token=$wrong_token" \
    leak.yml -vvv > "$out/$mode.log" 2>&1 || { cat "$out/$mode.log"; exit 1; }
}
# exit status 1 and the names of the secrets found in the logs given, 0 when none is there
leaks() {
  WRONG_TOKEN=$wrong_token python - "$config" "$@" <<'PY'
import json, os, sys
config = json.load(open(sys.argv[1]))
text = ''.join(open(path).read() for path in sys.argv[2:])
secrets = {'the bearer token': config['dsr_k8s_api_key'], 'the wrong token': os.environ['WRONG_TOKEN']}
leaked = [name for name, value in secrets.items() if value in text]
if leaked:
    sys.exit('%s found in -vvv output' % ' and '.join(leaked))
print('no Kubernetes token (%d checked) in %d bytes of -vvv output from %d runs' % (len(secrets), len(text), len(sys.argv) - 2))
PY
}

# (a) the token as the api_key option and in a kubeconfig dict; nothing exported
play options
need '"api_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out/options.log"
need '"token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out/options.log"
need '401 Unauthorized' "$out/options.log"
need '403 Forbidden' "$out/options.log"
need 'cannot reach the Kubernetes API server https://127.0.0.1:1' "$out/options.log"
need 'restarts_critical (5) must not be lower than restarts_warning (9)' "$out/options.log"

# (b) exported to ansible-playbook: no task has a credential option
play env K8S_AUTH_HOST="$(setting dsr_k8s_host)" K8S_AUTH_API_KEY="$(setting dsr_k8s_api_key)" \
  K8S_AUTH_SSL_CA_CERT="$(setting dsr_k8s_ca_cert)" K8S_AUTH_VERIFY_SSL=true
# the module filled api_key from the environment (its result shows it masked)
need '"api_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out/env.log"
need '403 Forbidden' "$out/env.log"

leaks "$out/options.log" "$out/env.log"

# (c) the check must catch a real leak: a debug of the token
play leak
if leaks "$out/leak.log" 2>/dev/null; then
  echo "a debug of the token was not found in the -vvv output: the leak check is broken" >&2
  exit 1
fi
echo "the deliberate leak was found, as it must be"
