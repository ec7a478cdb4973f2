# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation of the PostgreSQL connection options shared by dsr.ops modules."""

from __future__ import annotations


class ModuleDocFragment:
    """PostgreSQL connection options (see module_utils/_postgres/connection.py)."""

    DOCUMENTATION = r'''
options:
  login_user:
    description:
      - The role to log in as.
      - When unset, libpq decides, in this order, E(PGUSER) or the operating system user name.
    type: str
    aliases: [login]
  login_password:
    description:
      - The password of O(login_user).
      - When unset, libpq reads E(PGPASSWORD), then the password file named by E(PGPASSFILE)
        (default C(~/.pgpass)). Prefer those, or an AWX credential that injects them, to a
        password in a playbook.
      - Never returned, logged or passed on a command line.
    type: str
  login_host:
    description:
      - Host name or IP address of the server.
      - When unset and O(login_unix_socket) is unset too, libpq reads E(PGHOST), else connects through
        its default Unix socket directory.
    type: str
    aliases: [host]
  login_unix_socket:
    description:
      - Directory holding the server's Unix socket. Used only when O(login_host) is unset.
    type: path
    aliases: [unix_socket]
  port:
    description:
      - TCP port (or socket file suffix) of the server.
      - When unset, libpq reads E(PGPORT), else uses C(5432).
    type: int
    aliases: [login_port]
  login_db:
    description:
      - The database to connect to.
      - When unset, libpq reads E(PGDATABASE), else uses the database named like the login role.
    type: str
    aliases: [db]
  ssl_mode:
    description:
      - libpq's C(sslmode). When unset, libpq reads E(PGSSLMODE), else uses V(prefer).
      - Use V(verify-full) with O(ca_cert) against production servers.
    type: str
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - CA certificate(s) file used to verify the server's certificate (libpq's C(sslrootcert)).
      - When unset, libpq reads E(PGSSLROOTCERT), else C(~/.postgresql/root.crt).
    type: path
    aliases: [ssl_rootcert]
  ssl_cert:
    description:
      - Client certificate file, for certificate authentication. Requires O(ssl_key).
    type: path
  ssl_key:
    description:
      - Private key file of O(ssl_cert).
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the connection to be established.
      - When unset, libpq reads E(PGCONNECT_TIMEOUT), else this collection uses C(10) seconds
        (libpq itself would wait forever).
    type: int
requirements:
  - psycopg2 (C(psycopg2-binary) is fine) on the host that runs the module, normally the controller or the AWX execution environment.
notes:
  - The module runs where C(ansible-playbook) runs and reaches the server over the network;
    use C(delegate_to) only if the database is reachable from nowhere else.
  - Set the connection options once for all PostgreSQL modules with
    C(module_defaults) and the action group C(group/dsr.ops.postgresql).
  - The connection announces itself as C(application_name=dsr.ops) unless E(PGAPPNAME) is set.
'''
