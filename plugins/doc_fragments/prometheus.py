# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation of the Prometheus connection options shared by dsr.ops modules."""

from __future__ import annotations


class ModuleDocFragment:
    """Prometheus HTTP API connection options (see module_utils/_metrics/prometheus.py)."""

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Base URL of the Prometheus server (or of a proxy or Thanos/Mimir query front end speaking its HTTP API),
        with its path prefix if any, for example V(https://prometheus.dsr.example:9090).
      - When unset, the E(PROMETHEUS_URL) environment variable. One of them is required.
      - Must not contain credentials; use O(username) and O(password).
    type: str
  username:
    description:
      - User name for HTTP basic authentication (Prometheus's C(basic_auth_users) web configuration or a proxy).
      - When O(username), O(password) and O(bearer_token) are all unset, the three are read from
        E(PROMETHEUS_USERNAME), E(PROMETHEUS_PASSWORD) and E(PROMETHEUS_BEARER_TOKEN); when any of them is set,
        none is read from the environment.
    type: str
  password:
    description:
      - Password of O(username). See O(username) for E(PROMETHEUS_PASSWORD). Prefer that variable, injected
        by an AWX credential into the environment of C(ansible-playbook), to a password in a playbook; a secret
        in a task's C(environment) keyword shows in the module's command line under C(-vvv).
      - Never returned or logged.
    type: str
  bearer_token:
    description:
      - Token sent in the C(Authorization) header (C(Bearer) scheme), for Prometheus behind an authenticating proxy.
        See O(username) for E(PROMETHEUS_BEARER_TOKEN).
      - Mutually exclusive with O(username)/O(password). Never returned or logged.
    type: str
  ca_cert:
    description:
      - CA certificates (PEM file) to verify the server's certificate with. When unset, E(PROMETHEUS_CA_CERT),
        else the system's trust store.
    type: path
  validate_certs:
    description:
      - Verify the server's TLS certificate and name. Only turn off against a test server.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each API request.
    type: float
    default: 30
notes:
  - The module runs where C(ansible-playbook) runs and reaches Prometheus over the network.
  - Set the connection options once for all Prometheus modules with C(module_defaults) and the action group
    C(group/dsr.ops.prometheus).
  - HTTP proxies are taken from the usual E(https_proxy)/E(no_proxy) variables.
'''
