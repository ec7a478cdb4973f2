# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation of the Elasticsearch / OpenSearch connection options shared by dsr.ops modules."""

from __future__ import annotations


class ModuleDocFragment:
    """Elasticsearch and OpenSearch connection options (see module_utils/_elastic/client.py)."""

    DOCUMENTATION = r'''
options:
  hosts:
    description:
      - Base URLs of the cluster's HTTP endpoints, for example V(https://elasticsearch.dsr.example:9200), tried in order;
        the first that answers C(GET /) as Elasticsearch or OpenSearch serves every request of the task.
      - Elasticsearch 7.10 or later (8.x and 9.x tested) and OpenSearch 2.4 or later; the product and version are read
        from C(GET /), and the requests follow them.
      - When unset, the E(ELASTICSEARCH_HOSTS) environment variable (comma-separated URLs). One of them is required.
      - Must not contain credentials; use O(username) and O(password), O(api_key) or O(bearer_token).
    type: list
    elements: str
  username:
    description:
      - User name for HTTP basic authentication.
      - When O(username), O(password), O(api_key) and O(bearer_token) are all unset, they are read from
        E(ELASTICSEARCH_USERNAME), E(ELASTICSEARCH_PASSWORD), E(ELASTICSEARCH_API_KEY) and E(ELASTICSEARCH_BEARER_TOKEN);
        when any of them is set, none is read from the environment.
    type: str
  password:
    description:
      - Password of O(username). See O(username) for E(ELASTICSEARCH_PASSWORD). Prefer that variable, injected by an AWX
        credential into the environment of C(ansible-playbook), to a password in a playbook.
      - Never returned or logged.
    type: str
  api_key:
    description:
      - An Elasticsearch API key, sent as C(Authorization) C(ApiKey ...), either as C(id:api_key) or as the C(encoded)
        value the create API key API returns. See O(username) for E(ELASTICSEARCH_API_KEY).
      - Use one of O(api_key), O(bearer_token) and O(username)/O(password). Never returned or logged.
    type: str
  bearer_token:
    description:
      - A token sent as C(Authorization) C(Bearer ...) (an Elasticsearch service account token, or a proxy's).
        See O(username) for E(ELASTICSEARCH_BEARER_TOKEN). Never returned or logged.
    type: str
  ca_cert:
    description:
      - CA certificates (PEM file) to verify the server's certificate with. When unset, E(ELASTICSEARCH_CA_CERT),
        else the system's trust store.
    type: path
  client_cert:
    description: A client certificate (PEM) for clusters that authenticate clients by certificate; with its key in O(client_key) or in the same file.
    type: path
  client_key:
    description: The private key (PEM, unencrypted) of O(client_cert).
    type: path
  validate_certs:
    description: Verify the server's TLS certificate and name. Only turn off against a test server.
    type: bool
    default: true
  request_timeout:
    description:
      - Seconds to wait for each HTTP request (elasticsearch-py 9 calls it C(request_timeout) too; O(timeout) is an alias).
      - A search that runs longer on the server is not cancelled by this; the search's own C(timeout) is the server-side limit.
    type: float
    default: 30
    aliases: [timeout]
notes:
  - The module runs where C(ansible-playbook) runs and reaches the cluster over HTTP(S); no Python client library is needed
    (see the collection's docs/dependencies.md for why it does not use elasticsearch-py).
  - Set the connection options once for all Elasticsearch modules with C(module_defaults) and the action group
    C(group/dsr.ops.elasticsearch).
  - HTTP proxies are taken from the usual E(https_proxy)/E(no_proxy) variables. AWS SigV4 request signing (Amazon OpenSearch
    Service with IAM) is not supported; use basic authentication or a proxy that signs.
'''
