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

# awx.awx for the AWX configuration as code (tests/functional/test_controller_config.py, and the lint stage over
# playbooks/controller_config.yml). No Galaxy server is reachable: the collection is the one the ansible package ships,
# its wheel downloaded from PyPI into .venv/cache and only ansible_collections/awx/awx/ extracted into .venv/collections.
# Done again only when the stamp (the wheel's version) changes; .venv rebuilt by dsr_venv takes both with it.
DSR_AWX_ANSIBLE_VERSION=11.13.0
dsr_awx_collection() {
  local cache="$repo/.venv/cache" dest="$repo/.venv/collections" stamp wheel
  stamp="ansible==$DSR_AWX_ANSIBLE_VERSION"
  wheel="$cache/ansible-$DSR_AWX_ANSIBLE_VERSION-py3-none-any.whl"
  if [ "$(cat "$dest/.awx.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$dest/ansible_collections/awx/awx/MANIFEST.json" ]; then
    if [ ! -f "$wheel" ]; then
      dsr_log "downloading the $stamp wheel for awx.awx into $cache"
      mkdir -p "$cache"
      "$DSR_PYTHON" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --dest "$cache" "$stamp" \
        2>&1 | grep -v '^WARNING: Location' >&2 || true
      [ -f "$wheel" ] || { dsr_log "pip download $stamp failed: no $wheel"; return 1; }
    fi
    dsr_log "extracting awx.awx from $(basename "$wheel") into $dest"
    rm -rf "$dest/ansible_collections/awx" "$dest/.awx.stamp"
    mkdir -p "$dest"
    "$DSR_PYTHON" - "$wheel" "$dest" <<'EOF' || { dsr_log "extracting awx.awx failed"; return 1; }
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
prefix = 'ansible_collections/awx/awx/'
with zipfile.ZipFile(wheel) as archive:
    members = [m for m in archive.namelist() if m.startswith(prefix) and '..' not in m.split('/')]
    if prefix + 'MANIFEST.json' not in members:
        sys.exit('%s holds no %sMANIFEST.json' % (wheel, prefix))
    archive.extractall(dest, members)
EOF
    echo "$stamp" > "$dest/.awx.stamp"
  fi
  export DSR_AWX_COLLECTIONS="$dest"
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
