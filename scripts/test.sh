#!/usr/bin/env bash
# The whole dsr.ops test suite, from a fresh clone, offline but for the package registries.
#
#   scripts/test.sh                      # everything: sanity, units, functional, integration, molecule, lint
#   scripts/test.sh --only units         # one stage (repeatable: --only sanity --only lint)
#   scripts/test.sh --only integration pg_health   # one stage, named integration targets
#
# It installs what it needs: PostgreSQL 15 from Debian (when root and missing), a virtualenv
# in .venv with the pinned tests/requirements.txt, and a local stand-in for ansible-test's
# pip bootstrap download (unreachable on air-gapped sites). It copies the tracked files into
# an ansible_collections/dsr/ops tree (ansible-test resolves symlinks), starts the throwaway
# servers of tests/harness, runs each stage, and stops the servers whatever happens.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
source "$repo/scripts/lib.sh"

stages=()
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) stages+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#stages[@]} -gt 0 ] || stages=(sanity units functional integration molecule lint)

dsr_install_system_packages
dsr_venv "$repo/tests/requirements.txt"
dsr_offline_pip_bootstrap
case " ${stages[*]} " in
  *" functional "*) dsr_es_clients "$repo/tests/requirements-es-clients.txt" ;;
esac
# awx.awx: the controller configuration's functional test and its lint (DSR_AWX_COLLECTIONS)
case " ${stages[*]} " in
  *" functional "*|*" lint "*) dsr_awx_collection ;;
esac

work=${DSR_TEST_WORKDIR:-/tmp/dsr-ops-test}
tree="$work/ansible_collections/dsr/ops"
harness="$work/harness"
"$DSR_PYTHON" tests/harness/dsr_harness.py down --dir "$harness" 2>/dev/null || true
rm -rf "$work"
mkdir -p "$tree"
dsr_copy_tree "$repo" "$tree"

passed=0
failed=0
failed_names=()
run_stage() {
  local name=$1; shift
  echo
  echo "=== stage: $name"
  local started=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== stage $name passed in $((SECONDS - started)) s"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "=== stage $name FAILED in $((SECONDS - started)) s"
  fi
}

needs_harness=0
for s in "${stages[@]}"; do
  case "$s" in functional|integration|molecule) needs_harness=1 ;; esac
done
if [ "$needs_harness" = 1 ]; then
  trap '"$DSR_PYTHON" "$repo/tests/harness/dsr_harness.py" down --dir "$harness" || true' EXIT
  "$DSR_PYTHON" tests/harness/dsr_harness.py up --dir "$harness" --services "${DSR_TEST_SERVICES:-postgres,prometheus,tls,s3,elasticsearch,kubernetes}"
  "$DSR_PYTHON" tests/harness/integration_config.py --state "$harness/state.json" \
    --python "$DSR_PYTHON" > "$tree/tests/integration/integration_config.yml"
  export DSR_HARNESS_STATE="$harness/state.json"
fi

export ANSIBLE_TEST_PREFER_PODMAN=0
cd "$tree"
for s in "${stages[@]}"; do
  case "$s" in
    sanity) run_stage sanity ansible-test sanity --python "$DSR_PYTHON_VERSION" --color no --exclude .ci/ ;;
    units) run_stage units ansible-test units --python "$DSR_PYTHON_VERSION" --color no ;;
    functional) run_stage functional "$DSR_PYTHON" -m pytest -p no:cacheprovider tests/functional -q ;;
    integration) run_stage integration ansible-test integration --python "$DSR_PYTHON_VERSION" --color no "${targets[@]}" ;;
    # one scenario per role (extensions/molecule), on localhost against the same servers; no prerun (see its config.yml).
    # ANSIBLE_HOME in the work directory: molecule keeps each scenario's state (prepared, converged) under it, and a state
    # left by an earlier run would skip this run's prepare
    molecule) run_stage molecule env ANSIBLE_COLLECTIONS_PATH="$work" ANSIBLE_HOME="$work/ansible-home" NO_COLOR=1 \
                DSR_INTEGRATION_CONFIG="$tree/tests/integration/integration_config.yml" molecule test --all ;;
    lint) run_stage lint env ANSIBLE_COLLECTIONS_PATH="$work:$DSR_AWX_COLLECTIONS" ansible-lint --offline --profile production ;;
    *) echo "unknown stage $s" >&2; exit 2 ;;
  esac
done

echo
[ $failed -eq 0 ] || echo "failed stages: ${failed_names[*]}"
echo "stages: $passed passed, $failed failed"
[ $failed -eq 0 ]
