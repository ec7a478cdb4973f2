#!/usr/bin/env bash
# The Elasticsearch passwords, API keys and bearer tokens must appear in no result and nowhere in -vvv output, on
# success and on failure, whether they come as module options or from the ELASTICSEARCH_* variables in the
# environment of ansible-playbook (as an AWX credential injects them). ansible-test runs this from targets/<name>/
# beside ../../integration_config.yml (it passes that file to role targets, not to scripts).
set -eu

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }

# a value of the harness's Elasticsearch stubs: setting es9 bearer_token
setting() { python -c 'import json, sys; print(json.load(open(sys.argv[1]))["dsr_es_clusters"][sys.argv[2]][sys.argv[3]])' "$config" "$1" "$2"; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clean=(env -u ELASTICSEARCH_HOSTS -u ELASTICSEARCH_USERNAME -u ELASTICSEARCH_PASSWORD -u ELASTICSEARCH_API_KEY
       -u ELASTICSEARCH_BEARER_TOKEN -u ELASTICSEARCH_CA_CERT)
# a line the run must have printed (so that a leak would have shown)
need() { grep -q -- "$1" "$2" || { echo "$2 does not show: $1" >&2; exit 1; }; }
play() {
  local mode=$1; shift
  "${clean[@]}" "$@" ansible-playbook -i "$INVENTORY_PATH" -e "@$config" -e "leak_credentials=$mode" leak.yml -vvv \
    > "$out/$mode.log" 2>&1 || { cat "$out/$mode.log"; exit 1; }
  # the run printed module arguments and a refusal, so a leak would show
  need "refused the credentials (HTTP 401" "$out/$mode.log"
}

# (a) every secret as a module option, nothing in the environment
play options
need '"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out/options.log"
need '"api_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out/options.log"
need '"bearer_token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out/options.log"

# (b) one way at a time from the environment of ansible-playbook: no task has a credential option
play env_basic ELASTICSEARCH_USERNAME="$(setting es8 username)" ELASTICSEARCH_PASSWORD="$(setting es8 password)"
play env_api_key ELASTICSEARCH_API_KEY="$(setting es9 api_key)"
play env_bearer ELASTICSEARCH_BEARER_TOKEN="$(setting es9 bearer_token)"
# the module fills the options it read from the environment (its result shows them masked), and only those
for way in basic:password api_key:api_key bearer:bearer_token; do
  mode=env_${way%%:*} option=${way#*:}
  need "\"$option\": \"VALUE_SPECIFIED_IN_NO_LOG_PARAMETER\"" "$out/$mode.log"
  for other in password api_key bearer_token; do
    if [ "$other" != "$option" ]; then need "\"$other\": null" "$out/$mode.log"; fi
  done
done

python - "$config" "$out" <<'PY'
import glob, json, os, sys
config = json.load(open(sys.argv[1]))
logs = sorted(glob.glob(os.path.join(sys.argv[2], '*.log')))
text = ''.join(open(path).read() for path in logs)
secrets = {'the wrong password': 'not-the-password-7730', 'the wrong API key': 'not-the-key-5512'}
for flavor, cluster in config['dsr_es_clusters'].items():
    secrets['the %s password' % flavor] = cluster['password']
    if cluster.get('api_key'):
        secrets['the %s API key' % flavor] = cluster['api_key'].split(':', 1)[1]
        secrets['the %s encoded API key' % flavor] = cluster['api_key_encoded']
        secrets['the %s bearer token' % flavor] = cluster['bearer_token']
leaked = [name for name, value in secrets.items() if value in text]
if leaked:
    sys.exit('%s found in -vvv output' % ', '.join(leaked))
print('no Elasticsearch secret (%d checked) in %d bytes of -vvv output from %d runs' % (len(secrets), len(text), len(logs)))
PY
