# Shared set-up for scripts/test.sh and scripts/sandbox.sh (sourced, not run).
# Everything here is idempotent: a second run on the same machine installs nothing.

DSR_BASE_PYTHON=${DSR_BASE_PYTHON:-python3}

dsr_log() { printf '>>> %s\n' "$*" >&2; }

# PostgreSQL 15 server binaries, Prometheus (its promtool too) and kubectl from Debian, when missing and
# we may install them. Debian's prometheus package would start a service under systemd; there
# is none here, and the harness runs its own Prometheus on a free port.
dsr_install_system_packages() {
  local missing=()
  [ -x /usr/lib/postgresql/15/bin/initdb ] || [ -n "${DSR_PG_BINDIR:-}" ] || missing+=(postgresql-15 postgresql-client-15)
  { command -v prometheus && command -v promtool; } >/dev/null || [ -n "${DSR_PROMETHEUS:-}" ] || missing+=(prometheus)
  command -v git >/dev/null || missing+=(git)
  # kubectl checks the Kubernetes API stub (tests/functional/test_k8s_stub.py); Debian's package is kubernetes-client
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
  # headless Chromium renders the evening report as a person sees it (tests/functional/test_ops_report.py)
  command -v chromium >/dev/null || missing+=(chromium)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    dsr_log "missing system packages: ${missing[*]} (see bindep.txt); install them as root and re-run"
    return 1
  fi
  dsr_log "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A virtualenv in .venv holding the pinned requirements; rebuilt when they change.
dsr_venv() {
  local requirements=$1 venv="$repo/.venv" stamp
  stamp=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$stamp" ]; then
    dsr_log "creating $venv from $requirements"
    rm -rf "$venv"
    "$DSR_BASE_PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements" 2>&1 | grep -v '^WARNING: Location' >&2 || true
    "$venv/bin/python" -c 'import ansible, psycopg2, pytest' || { dsr_log "virtualenv install failed"; return 1; }
    echo "$stamp" > "$venv/.requirements.sha256"
  fi
  export PATH="$venv/bin:$PATH"
  DSR_PYTHON="$venv/bin/python"
  DSR_PYTHON_VERSION=$("$DSR_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  export DSR_PYTHON DSR_PYTHON_VERSION
}

# The official elasticsearch-py clients for the functional stage, one directory per major version
# (8.x and 9.x cannot share an environment): each [section] of the pinned requirements file goes
# into .venv/es-clients/<section> with pip install --no-deps --target; rebuilt when the file changes.
dsr_es_clients() {
  local requirements=$1 dir="$repo/.venv/es-clients" stamp section sections tmp
  stamp=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" != "$stamp" ]; then
    dsr_log "installing the elasticsearch-py clients into $dir from $requirements"
    rm -rf "$dir"
    mkdir -p "$dir"
    tmp=$(mktemp)
    sections=$(sed -n 's/^\[\([0-9A-Za-z_.-]*\)\]$/\1/p' "$requirements")
    for section in $sections; do
      awk -v want="[$section]" '/^\[/ { on = ($0 == want); next } on && !/^#/ && NF' "$requirements" > "$tmp"
      "$DSR_PYTHON" -m pip install -q --disable-pip-version-check --no-warn-conflicts --no-deps --target "$dir/$section" -r "$tmp" \
        2>&1 | grep -v '^WARNING: Location' >&2 || true
      "$DSR_PYTHON" -S -c 'import sys; sys.path.insert(0, sys.argv[1]); import elasticsearch' "$dir/$section" \
        || { rm -f "$tmp"; dsr_log "elasticsearch-py [$section] install failed"; return 1; }
    done
    rm -f "$tmp"
    echo "$stamp" > "$dir/.requirements.sha256"
  fi
  export DSR_ES_CLIENTS="$dir"
}

# ansible-test bootstraps pip into its sanity virtualenvs by downloading get-pip.py from
# a host outside the package registries. It first looks in its cache: put our stand-in
# there, which bootstraps pip with ensurepip and installs the pinned pip from the index.
dsr_offline_pip_bootstrap() {
  local version cache
  version=$("$DSR_PYTHON" - <<'EOF'
import re, ansible_test, os
path = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
print(re.search(r"pip='([0-9.]+)'", open(path).read()).group(1))
EOF
)
  cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  mkdir -p "$(dirname "$cache")"
  if ! cmp -s "$repo/tests/utils/offline_get_pip.py" "$cache"; then
    cp "$repo/tests/utils/offline_get_pip.py" "$cache"
  fi
}

# Copy the files git knows (tracked, and new ones not ignored) into an ansible_collections tree.
dsr_copy_tree() {
  local src=$1 dest=$2
  (cd "$src" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
      [ -e "$f" ] && printf '%s\0' "$f"
    done | tar --null -T - -cf -) | tar -xf - -C "$dest"
}
