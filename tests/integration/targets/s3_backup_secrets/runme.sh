#!/usr/bin/env bash
# The S3 secret key and session token must appear in no result and nowhere in -vvv output, on
# success and on failure, whether they come as module options or from the environment of
# ansible-playbook. ansible-test runs this from targets/<name>/ beside ../../integration_config.yml
# (it passes that file to role targets, not to scripts).
set -eu

config=../../integration_config.yml
[ -f "$config" ] || { echo "$config not found: run through scripts/test.sh" >&2; exit 1; }

setting() { python -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$config" "$1"; }
# boto3 is in the harness's interpreter (the one the modules run with)
interpreter=$(setting ansible_python_interpreter)
access_key=$(setting dsr_s3_access_key)
secret_key=$(setting dsr_s3_secret_key)
# a made-up session token (moto accepts any), random so that finding it means a leak
token=$(python -c 'import secrets; print("FwoGZXIvYXdzEdsrTest" + secrets.token_urlsafe(48))')
bucket=dsr-leak-$(python -c 'import secrets; print(secrets.token_hex(6))')

out=$(mktemp)
out_env=$(mktemp)
backups=$(mktemp -d)
trap 'rm -rf "$out" "$out_env" "$backups"' EXIT

# the module does not create buckets; the credentials go through the environment, not argv
AWS_ACCESS_KEY_ID=$access_key AWS_SECRET_ACCESS_KEY=$secret_key \
  "$interpreter" -c 'import boto3, sys; boto3.client("s3", endpoint_url=sys.argv[1], region_name=sys.argv[2]).create_bucket(Bucket=sys.argv[3])' \
  "$(setting dsr_s3_endpoint_url)" "$(setting dsr_s3_region)" "$bucket"

# (a) the keys as module options, nothing in the environment
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN -u AWS_PROFILE \
  ansible-playbook -i "$INVENTORY_PATH" -e "@$config" -e "leak_bucket=$bucket" -e "leak_backup_dir=$backups" \
  -e leak_credentials=options leak.yml "$@" -vvv > "$out" 2>&1 || { cat "$out"; exit 1; }
# the run printed module arguments, so a leak would show; every S3 call had the key as an option
grep -q '"secret_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out"
if grep -q '"secret_key": null' "$out"; then echo "an S3 call of the options run had no secret_key option" >&2; exit 1; fi
grep -q "does not exist at this endpoint" "$out"

# (b) as an AWX credential injects them: into the environment of ansible-playbook itself
(
  export AWS_ACCESS_KEY_ID=$access_key AWS_SECRET_ACCESS_KEY=$secret_key AWS_SECURITY_TOKEN=$token
  ansible-playbook -i "$INVENTORY_PATH" -e "@$config" -e "leak_bucket=$bucket" -e "leak_backup_dir=$backups" \
    -e leak_credentials=env leak.yml "$@" -vvv > "$out_env" 2>&1
) || { cat "$out_env"; exit 1; }
# no S3 call had a key option: the module found them in the environment (its calls succeeded)
grep -q '"secret_key": null' "$out_env"
if grep -q '"secret_key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' "$out_env"; then echo "an S3 call of the environment run had a secret_key option" >&2; exit 1; fi
grep -q "does not exist at this endpoint" "$out_env"

SECRET_KEY=$secret_key SESSION_TOKEN=$token python - "$config" "$out" "$out_env" <<'PY'
import json, os, sys
config = json.load(open(sys.argv[1]))
text = ''.join(open(path).read() for path in sys.argv[2:])
secrets = {'the S3 secret key': os.environ['SECRET_KEY'], 'the session token': os.environ['SESSION_TOKEN']}
secrets.update(('the PostgreSQL password of %s' % role, password) for role, password in config['dsr_pg_passwords'].items())
leaked = [name for name, value in secrets.items() if value in text]
if leaked:
    sys.exit('%s found in -vvv output' % ' and '.join(leaked))
print('no S3 secret in %d bytes of -vvv output' % len(text))
PY
