#!/usr/bin/env bash
# The SMTP password and the webhook's header values must appear in no result and nowhere in -vvv output, also when the
# delivery fails (the message of a refused connection is where a secret would slip out).
set -eu
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-playbook -i "$INVENTORY_PATH" -e "leak_dir=$out/report" leak.yml -vvv > "$out/run.log" 2>&1 || { cat "$out/run.log"; exit 1; }
# the run printed the module's arguments and the failure, so a leak would show
grep -q 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' "$out/run.log" || { echo "the -vvv output shows no masked option" >&2; exit 1; }
grep -q 'the files were written' "$out/run.log" || { echo "the failure is not in the output" >&2; exit 1; }
for secret in 'smtp-S3cret-7731-do-not-show' 'hook-T0ken-9921-do-not-show' 'S3cret-7731' 'T0ken-9921'; do
  if grep -q -- "$secret" "$out/run.log"; then
    echo "LEAK: $secret in the -vvv output:" >&2
    grep -n -- "$secret" "$out/run.log" >&2
    exit 1
  fi
done
echo "no secret in $(wc -l < "$out/run.log") lines of -vvv output"
