# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation of the Kubernetes connection options shared by dsr.ops modules."""

from __future__ import annotations


class ModuleDocFragment:
    """Kubernetes API connection options, kubernetes.core's names (see module_utils/_k8s/client.py)."""

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path of a kubeconfig file, or a kubeconfig as a dict. When unset, E(K8S_AUTH_KUBECONFIG).
      - The configuration is chosen in kubernetes.core's order - O(host) with O(api_key) or O(client_cert); else this
        kubeconfig (and O(context)); else the pod's service account when the module runs in a cluster (an AWX
        container group); else the default kubeconfig (E(KUBECONFIG), else C(~/.kube/config)).
      - Exec credential plugins and OIDC in a kubeconfig work as with C(kubectl). A refreshed token is never written back.
      - Credentials in a kubeconfig given as a dict are masked in the output like O(api_key).
    type: raw
  context:
    description: The kubeconfig context to use; the current context when unset. When unset, E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server, for example V(https://api.dsr.example:6443). When unset, E(K8S_AUTH_HOST).
      - Overrides the kubeconfig's server.
    type: str
  api_key:
    description:
      - A bearer token (a service account token), sent as C(Authorization) C(Bearer ...). When unset, E(K8S_AUTH_API_KEY),
        which the AWX credential type "OpenShift or Kubernetes API Bearer Token" injects.
      - Never returned or logged.
    type: str
  validate_certs:
    description:
      - Verify the API server's certificate. When unset, E(K8S_AUTH_VERIFY_SSL) (or E(K8S_AUTH_VALIDATE_CERTS)), else the
        kubeconfig's setting, else true. Only turn off against a test cluster.
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description: CA certificate (PEM file) of the API server. When unset, E(K8S_AUTH_SSL_CA_CERT) (or E(K8S_AUTH_CA_CERT)), else the kubeconfig's.
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description: A client certificate (PEM file), with O(client_key). When unset, E(K8S_AUTH_CERT_FILE) (or E(K8S_AUTH_CLIENT_CERT)).
    type: path
    aliases: [cert_file]
  client_key:
    description: The private key (PEM file) of O(client_cert). When unset, E(K8S_AUTH_KEY_FILE) (or E(K8S_AUTH_CLIENT_KEY)).
    type: path
    aliases: [key_file]
  proxy:
    description: An HTTP proxy URL for the API server. When unset, E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description: Hosts to reach without O(proxy), comma-separated. When unset, E(K8S_AUTH_NO_PROXY).
    type: str
  request_timeout:
    description: Seconds to wait for each API request.
    type: float
    default: 30
notes:
  - The module runs where C(ansible-playbook) runs (the controller or the AWX execution environment) and needs the
    C(kubernetes) Python library there (C(pip install kubernetes)), the library kubernetes.core uses; see the collection's
    docs/dependencies.md.
  - Basic authentication (kubernetes.core's C(username) and C(password)) is not offered; Kubernetes removed it from the API
    server in 1.19.
  - Set the connection options once for all Kubernetes modules with C(module_defaults) and the action group
    C(group/dsr.ops.kubernetes).
'''
