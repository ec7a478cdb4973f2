#!/usr/bin/env bash
# The build context of the dsr.ops execution environment, without a container engine:
#   bash scripts/ee-context.sh [CONTEXT_DIR]      (default: build/ee-context)
# builds the collection from this checkout (ansible-galaxy collection build), puts it beside
# execution-environment/execution-environment.yml and runs "ansible-builder create". Then, where a
# container engine is: podman build -f CONTEXT_DIR/Containerfile -t dsr-ops-ee CONTEXT_DIR
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
context=$(realpath -m "${1:-$repo/build/ee-context}")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# from a git checkout, the files git knows (as the test suite copies them), so that nothing local gets in; from a copy
# without .git (the test suite's own tree), the directory as it is, less galaxy.yml's build_ignore
src=$repo
if git -C "$repo" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  # shellcheck source=scripts/lib.sh
  source "$repo/scripts/lib.sh"
  src="$stage/src/ansible_collections/dsr/ops"
  mkdir -p "$src"
  dsr_copy_tree "$repo" "$src"
fi
ansible-galaxy collection build --force --output-path "$stage" "$src" > /dev/null
tarball=$(ls "$stage"/dsr-ops-*.tar.gz)
cp "$repo/execution-environment/execution-environment.yml" "$stage/execution-environment.yml"
cp "$tarball" "$stage/dsr-ops.tar.gz"

# replace only a context this script made (its marker file): never a directory that merely was given
if [ -e "$context" ] && [ -n "$(ls -A "$context" 2>/dev/null)" ]; then
  if [ ! -f "$context/.dsr-ops-ee-context" ] || [ -L "$context" ]; then
    echo "ee-context: $context exists and is not a build context this script made; give a new or empty directory" >&2
    exit 2
  fi
fi
rm -rf "$context"
ansible-builder create -f "$stage/execution-environment.yml" -c "$context" --output-filename Containerfile > /dev/null
echo "dsr.ops execution environment build context (scripts/ee-context.sh replaces this directory)" > "$context/.dsr-ops-ee-context"
echo "build context: $context (collection $(basename "$tarball"))"
echo "build it with: podman build -f $context/Containerfile -t dsr-ops-ee:$(basename "$tarball" .tar.gz | sed 's/^dsr-ops-//') $context"
