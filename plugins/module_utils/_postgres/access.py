# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The access review behind dsr.ops.pg_access_review, usable without Ansible.

One read-only transaction (``SET TRANSACTION READ ONLY``, a short
``statement_timeout``) reads the catalogs a review needs: roles, role
memberships, password hashes (``pg_authid``, superusers only), the
``pg_hba.conf`` rules (``pg_hba_file_rules``, superusers or an explicit grant),
settings, schema privileges and the privileges on the personal-data tables.
Each part runs under a savepoint, so a failing query makes its sub-check
``unknown`` without spoiling the others.

What was read becomes *findings*: each with a stable ``id``
(``superuser:alice``), a ``severity`` (``critical``, ``warning``, ``info``:
mapped to the shared statuses ``critical``, ``warning``, ``ok``), a message
and the object it is about. Findings the operator approved (``accepted``) stay
in the output, marked, and no longer count toward a status. What the login role
cannot see is never ``ok``: the sub-check is ``skipped`` and ``not_visible``
says what was hidden and the grant that would show it.

The inventory (roles, memberships, personal-data grants) is compared with a
baseline file, or written as the new baseline (see ``baseline.py``).
"""

from __future__ import annotations

import datetime
import fnmatch
import os
import re

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._status import CRITICAL, OK, WARNING, Check, summarize, worst
from ansible_collections.dsr.ops.plugins.module_utils._postgres import baseline as baselines
from ansible_collections.dsr.ops.plugins.module_utils._postgres.baseline import PUBLIC, BaselineError, table_label, table_name_problem
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresConnectionError, describe

if _deps.HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extras

CHECKS = ('roles', 'passwords', 'memberships', 'schema_privileges', 'personal_data', 'hba', 'settings')
# the DSR registry's tables that hold personal data (tools/dsr_datagen.py builds them in schema registry)
DEFAULT_PERSONAL_DATA_TABLES = ('registry.households', 'registry.household_members', 'registry.program_enrollments',
                                'registry.payments', 'registry.grievances')
BASELINE_MODES = ('compare', 'write')
SEVERITIES = ('critical', 'warning', 'info')
SEVERITY_STATUS = {'critical': CRITICAL, 'warning': WARNING, 'info': OK}
_SEVERITY_ORDER = {'critical': 0, 'warning': 1, 'info': 2}

DEFAULTS = {
    'checks': list(CHECKS),
    'personal_data_tables': list(DEFAULT_PERSONAL_DATA_TABLES),
    'accepted': [],
    'baseline': None,
    'baseline_mode': 'compare',
    'query_timeout': 10,
}

# predefined roles whose members are reviewed: severity, what membership gives, first server version that has the role
REVIEWED_ROLES = (
    ('pg_execute_server_program', 'critical', 'can run any program on the database server as its operating-system user', 110000),
    ('pg_read_server_files', 'critical', 'can read any file the database server can read (COPY FROM a file)', 110000),
    ('pg_write_server_files', 'critical', 'can write any file the database server can write (COPY TO a file)', 110000),
    ('pg_read_all_data', 'warning', 'can read every table, personal data included, whatever the table grants say', 140000),
    ('pg_write_all_data', 'warning', 'can change every table, personal data included, whatever the table grants say', 140000),
    ('pg_monitor', 'info', 'can read all settings and statistics, the query text of every session included', 100000),
)
# settings the review judges, and one it only reports
REVIEWED_SETTINGS = ('ssl', 'ssl_min_protocol_version', 'password_encryption', 'log_connections', 'log_disconnections', 'listen_addresses')
REPORTED_SETTINGS = ('hba_file',)
_LOCAL_ADDRESSES = frozenset(('localhost', '127.0.0.1', '::1'))
_GLOB_CHARS = re.compile(r'[*?\[]')

_SERVER_SQL = """
SELECT current_user AS login_role, current_database() AS database,
       coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false) AS is_superuser,
       current_setting('server_version_num')::int AS server_version_num,
       pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS can_read_all_settings,
       has_table_privilege('pg_catalog.pg_authid', 'SELECT') AS can_read_authid,
       has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT')
         AND has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE') AS can_read_hba
"""

# pg_roles is readable by every role; it masks the password, so whether there is one needs pg_authid
_ROLES_SQL = """
SELECT r.rolname AS name, r.rolname ~ '^pg_' AS predefined, r.oid = 10 AS bootstrap,
       r.rolsuper AS superuser, r.rolinherit AS inherit, r.rolcreaterole AS createrole, r.rolcreatedb AS createdb,
       r.rolcanlogin AS login, r.rolreplication AS replication, r.rolbypassrls AS bypassrls, r.rolconnlimit AS connection_limit,
       r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity'::timestamptz AS no_expiry,
       coalesce(r.rolvaliduntil < %(now)s, false) AS expired,
       CASE WHEN isfinite(r.rolvaliduntil) THEN to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END AS valid_until
FROM pg_catalog.pg_roles r ORDER BY r.rolname
"""

# the hash itself is never selected: only what kind it is
_PASSWORDS_SQL = """
SELECT rolname AS name, rolpassword IS NULL AS no_password, coalesce(rolpassword LIKE 'md5%', false) AS md5
FROM pg_catalog.pg_authid WHERE rolname !~ '^pg_'
"""

_SETTINGS_SQL = "SELECT name, setting FROM pg_catalog.pg_settings WHERE name = ANY(%(names)s)"

_SCHEMAS_SQL = """
SELECT n.nspname AS schema, pg_get_userbyid(n.nspowner) AS owner,
       EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) x
               WHERE x.grantee = 0 AND x.privilege_type = 'CREATE') AS public_create
FROM pg_catalog.pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY 1
"""

_RELATIONS_SQL = """
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind, pg_get_userbyid(c.relowner) AS owner
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY 2, 3
"""

# table and column privileges; a NULL acl means the owner's default privileges (acldefault)
_GRANTS_SQL = """
SELECT c.oid::bigint AS oid, NULL::text AS column_name,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS grantee,
       x.privilege_type AS privilege, x.is_grantable AS grant_option, x.grantee = c.relowner AS owner_grant
FROM pg_catalog.pg_class c CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) x
WHERE c.oid = ANY(%(oids)s::oid[])
UNION ALL
SELECT a.attrelid::bigint, a.attname::text,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END,
       x.privilege_type, x.is_grantable, x.grantee = c.relowner
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid CROSS JOIN LATERAL aclexplode(a.attacl) x
WHERE a.attrelid = ANY(%(oids)s::oid[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
"""


def memberships_sql(version_num):
    """Direct role memberships; the per-grant INHERIT and SET options exist from PostgreSQL 16 on."""
    options = 'a.inherit_option, a.set_option' if version_num >= 160000 else 'NULL::boolean AS inherit_option, NULL::boolean AS set_option'
    return ("SELECT g.rolname AS role, m.rolname AS member, a.admin_option AS admin, %s, gr.rolname AS grantor\n"
            "FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles g ON g.oid = a.roleid\n"
            "JOIN pg_catalog.pg_roles m ON m.oid = a.member LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = a.grantor\n"
            "ORDER BY 1, 2" % options)


def hba_sql(version_num):
    """The pg_hba.conf rules; PostgreSQL 16 added rule_number and file_name (include files)."""
    if version_num >= 160000:
        columns, order = 'rule_number, file_name', 'rule_number NULLS LAST, file_name, line_number'
    else:
        columns, order = 'NULL::int AS rule_number, NULL::text AS file_name', 'line_number'
    return ('SELECT %s, line_number, type, database, user_name, address, netmask, auth_method, options, error\n'
            'FROM pg_catalog.pg_hba_file_rules ORDER BY %s' % (columns, order))


# -- options ---------------------------------------------------------------

def parse_accepted(value, option='accepted'):
    """Normalise O(accepted): a list of finding ids (or glob patterns), each a string or ``{id, reason}``; ValueError otherwise."""
    entries = []
    for index, item in enumerate(value or []):
        where = '%s[%d]' % (option, index)
        if isinstance(item, str):
            item = {'id': item}
        if not isinstance(item, dict):
            raise ValueError('%s must be a finding id or {id: ..., reason: ...}, got %s' % (where, type(item).__name__))
        unknown = sorted(str(k) for k in item if k not in ('id', 'reason'))
        if unknown:
            raise ValueError('%s has unknown keys %s (use id and reason)' % (where, ', '.join(unknown)))
        if not isinstance(item.get('id'), str) or not item['id'].strip():
            raise ValueError('%s needs an id, the finding id (such as superuser:postgres) or a glob pattern over ids' % where)
        reason = item.get('reason')
        if reason is not None and not isinstance(reason, str):
            raise ValueError('%s.reason must be a string' % where)
        entries.append({'id': item['id'].strip(), 'reason': reason})
    return entries


def table_pattern_problems(patterns, option='personal_data_tables'):
    """Messages for table names or patterns that are not ``schema.table``."""
    problems = []
    for index, pattern in enumerate(patterns or []):
        problem = table_name_problem(pattern)
        if problem:
            problems.append('%s[%d] (%r) %s, for example registry.households or registry.*' % (option, index, pattern, problem))
    return problems


# -- findings --------------------------------------------------------------

def make_finding(category, kind, key, severity, message, object_type, **obj):
    """One finding; ``id`` is ``<kind>:<key>``, stable for the same object."""
    return {'id': '%s:%s' % (kind, key), 'category': category, 'severity': severity, 'message': message,
            'object_type': object_type, 'object': obj}


def finalize(findings, accepted):
    """Add ``status``, ``accepted`` and ``accepted_reason`` to each finding; return the accepted entries that matched nothing."""
    used = set()
    for item in findings:
        match = next((i for i, entry in enumerate(accepted) if fnmatch.fnmatchcase(item['id'], entry['id'])), None)
        item['accepted'] = match is not None
        item['accepted_reason'] = accepted[match]['reason'] if match is not None else None
        item['status'] = SEVERITY_STATUS[item['severity']]
        if match is not None:
            used.add(match)
    findings.sort(key=lambda f: (f['accepted'], _SEVERITY_ORDER[f['severity']], f['category'], f['id']))
    return [entry['id'] for i, entry in enumerate(accepted) if i not in used]


def counts(findings):
    """Open findings by severity, plus how many were accepted."""
    result = {severity: sum(1 for f in findings if f['severity'] == severity and not f['accepted']) for severity in SEVERITIES}
    result['accepted'] = sum(1 for f in findings if f['accepted'])
    return result


class RoleGraph:
    """Role memberships as a graph, for indirect membership and hba ``+group`` matching.

    An edge ``member -> role`` inherits the role's privileges when (before 16)
    the member has INHERIT, or (16 on) the grant has INHERIT; it allows SET ROLE
    always before 16, and when the grant has SET from 16 on.
    """

    def __init__(self, roles, memberships, version_num):
        self.up = {}
        self.down = {}
        edges = {}
        for row in memberships:
            key = (row['role'], row['member'])
            member = roles.get(row['member'], {})
            inherit = row['inherit_option'] if version_num >= 160000 else member.get('inherit', True)
            can_set = row['set_option'] if version_num >= 160000 else True
            old = edges.get(key, (False, False))
            edges[key] = (old[0] or bool(inherit), old[1] or bool(can_set))
        for (role, member), (inherit, can_set) in edges.items():
            self.up.setdefault(member, []).append((role, inherit, can_set))
            self.down.setdefault(role, []).append((member, inherit, can_set))

    def members(self, role):
        """Every direct or indirect member of ``role``: member -> {direct, via, inherits, can_set_role}."""
        shortest = self._walk(role, lambda inherit, can_set: True)
        inheriting = self._walk(role, lambda inherit, can_set: inherit)
        setting = self._walk(role, lambda inherit, can_set: can_set)
        return {member: {'direct': not via, 'via': via, 'inherits': member in inheriting, 'can_set_role': member in setting}
                for member, via in shortest.items()}

    def _walk(self, role, usable):
        found = {}
        queue = [(role, [])]
        while queue:
            current, path = queue.pop(0)
            for member, inherit, can_set in sorted(self.down.get(current, [])):
                if member in found or member == role or not usable(inherit, can_set):
                    continue
                # via: the roles between the member and ``role``, nearest the member first
                found[member] = list(reversed(path))
                queue.append((member, path + [member]))
        return found

    def member_of(self, role):
        """Every role that ``role`` is a direct or indirect member of."""
        seen = set()
        queue = [role]
        while queue:
            for parent, dummy, dummy2 in self.up.get(queue.pop(), []):
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        return seen


def role_findings(roles, version_num, graph=None):
    """Superusers, risky attributes, password expiry; members that can SET ROLE to a superuser role."""
    findings = []
    for name, role in sorted(roles.items()):
        if role['predefined']:
            continue
        login = 'LOGIN' if role['login'] else 'NOLOGIN, reachable by SET ROLE from its members'
        if role['superuser']:
            note = '; the bootstrap superuser, which cannot lose SUPERUSER' if role['bootstrap'] else ''
            findings.append(make_finding('roles', 'superuser', name, 'warning', '%s is a superuser (%s%s): it bypasses every privilege check'
                                         % (name, login, note), 'role', name=name, login=role['login'], bootstrap=role['bootstrap']))
        else:
            # a superuser has every power: its other attributes add nothing to review
            if role['createrole']:
                if version_num < 160000:
                    severity, why = 'critical', 'before PostgreSQL 16 that lets it grant itself any non-superuser role, pg_execute_server_program included'
                else:
                    severity, why = 'warning', 'it can create roles and manage the roles it created or was granted with ADMIN OPTION'
                findings.append(make_finding('roles', 'createrole', name, severity, '%s has CREATEROLE: %s' % (name, why), 'role', name=name,
                                             login=role['login']))
            for attribute, severity, why in (('createdb', 'info', 'it can create databases'),
                                             ('replication', 'warning', 'it can stream the whole cluster, personal data included'),
                                             ('bypassrls', 'warning', 'row-level security policies do not apply to it')):
                if role[attribute]:
                    findings.append(make_finding('roles', attribute, name, severity, '%s has %s: %s' % (name, attribute.upper(), why), 'role',
                                                 name=name, login=role['login']))
        if role['login'] and role.get('has_password') is not False:
            if role['expired']:
                findings.append(make_finding('roles', 'password_expired', name, 'warning', '%s can log in but its password expired on %s: '
                                             'drop the role or renew it' % (name, role['valid_until'] or '-infinity'), 'role', name=name,
                                             valid_until=role['valid_until']))
            elif role['no_expiry']:
                findings.append(make_finding('roles', 'no_password_expiry', name, 'warning', '%s can log in and its password never expires '
                                             '(no VALID UNTIL)' % name, 'role', name=name, valid_until=None))
    if graph is not None:
        for name, role in sorted(roles.items()):
            if not role['superuser']:
                continue
            for member, path in sorted(graph.members(name).items()):
                target = roles.get(member, {})
                if target.get('superuser') or target.get('predefined') or not path['can_set_role']:
                    continue
                via = ' (via %s)' % ', '.join(path['via']) if path['via'] else ''
                findings.append(make_finding('roles', 'superuser_member', '%s:%s' % (name, member), 'critical',
                                             '%s is a member of superuser role %s%s: SET ROLE %s makes it a superuser' % (member, name, via, name),
                                             'membership', role=name, member=member, direct=path['direct'], via=path['via']))
    return findings


def _rule_label(rule):
    return '%s:%s' % (os.path.basename(rule['file_name']) if rule.get('file_name') else 'pg_hba.conf', rule['line_number'])


def rule_applies(rule, role, member_of):
    """Whether hba ``rule``'s user column matches ``role`` (``all``, the name, ``+group``, a ``/regex`` from PostgreSQL 16)."""
    for entry in rule.get('user_name') or []:
        if entry == 'all' or entry == role:
            return True
        if entry.startswith('+') and (entry[1:] == role or entry[1:] in member_of):
            return True
        if entry.startswith('/'):
            try:
                if re.search(entry[1:], role):
                    return True
            except re.error:
                continue
    return False


def password_findings(roles, passwords, hba_rules, graph):
    """MD5 hashes, and login roles without a password (critical when a TCP ``trust`` rule admits them)."""
    findings = []
    for name, info in sorted(passwords.items()):
        role = roles.get(name)
        if role is None or role['predefined']:
            continue
        if info['md5']:
            findings.append(make_finding('passwords', 'md5_password', name, 'warning', "%s's password is stored as an MD5 hash where SCRAM is "
                                         "expected: set it again with password_encryption = scram-sha-256" % name, 'role', name=name))
        if info['no_password'] and role['login']:
            if hba_rules is None:
                severity, how = 'info', 'the pg_hba.conf rules are not visible, so whether a trust rule admits it is not known'
                rules = []
            else:
                member_of = graph.member_of(name) if graph else set()
                rules = [r for r in hba_rules if not r.get('error') and r['auth_method'] == 'trust' and rule_applies(r, name, member_of)]
                if any(r['type'] != 'local' for r in rules):
                    severity = 'critical'
                elif rules:
                    severity = 'warning'
                else:
                    severity = 'info'
                how = ('trust rules admit it without a password: %s' % ', '.join(_rule_label(r) for r in rules) if rules
                       else 'it can only authenticate by other means (peer, cert, gss, ...)')
            findings.append(make_finding('passwords', 'no_password', name, severity, '%s can log in and has no password; %s' % (name, how), 'role',
                                         name=name, trust_rules=[_rule_label(r) for r in rules]))
    return findings


def membership_findings(roles, graph, version_num):
    """Direct and indirect members of the predefined roles that open data or the server's files."""
    findings = []
    for target, severity, gives, since in REVIEWED_ROLES:
        if version_num < since or target not in roles:
            continue
        for member, path in sorted(graph.members(target).items()):
            if roles.get(member, {}).get('predefined'):
                continue
            via = ' (via %s)' % ', '.join(path['via']) if path['via'] else ''
            how = '' if path['inherits'] else (' (it does not inherit the privileges, but can SET ROLE %s)' % target if path['can_set_role']
                                               else ' (without INHERIT or SET on the way, so the membership gives nothing now)')
            findings.append(make_finding('memberships', 'member', '%s:%s' % (target, member), severity, '%s is a %s member of %s%s: it %s%s'
                                         % (member, 'direct' if path['direct'] else 'indirect', target, via, gives, how), 'membership',
                                         role=target, member=member, direct=path['direct'], via=path['via'], inherits=path['inherits'],
                                         can_set_role=path['can_set_role']))
    return findings


def schema_findings(schemas, personal_schemas, database):
    """Schemas in which PUBLIC (every role) may create objects: critical where personal-data tables live."""
    findings = []
    for row in schemas:
        if not row['public_create']:
            continue
        holds = row['schema'] in personal_schemas
        severity = 'critical' if holds else 'warning'
        note = ', which holds personal-data tables' if holds else ''
        findings.append(make_finding('schema_privileges', 'public_create', row['schema'], severity,
                                     'every role (PUBLIC) may CREATE in schema %s of database %s%s: an object planted there can capture '
                                     'the queries of roles whose search_path includes it; REVOKE CREATE ON SCHEMA %s FROM PUBLIC'
                                     % (row['schema'], database, note, row['schema']), 'schema', schema=row['schema'], database=database,
                                     owner=row['owner']))
    return findings


def match_tables(relations, patterns):
    """(matched relations sorted by name, patterns that matched nothing); ``*``, ``?`` and ``[...]`` are globs."""
    matched = {}
    unmatched = []
    for pattern in patterns:
        hits = [r for r in relations if fnmatch.fnmatchcase('%s.%s' % (r['schema'], r['name']), pattern)]
        if not hits:
            unmatched.append(pattern)
        for row in hits:
            matched['%s.%s' % (row['schema'], row['name'])] = row
    return [matched[name] for name in sorted(matched)], unmatched


def personal_data_findings(tables, unmatched, database):
    """Grants to PUBLIC on personal-data tables (critical), grants others can pass on (warning), tables not found (warning)."""
    findings = []
    for name, table in sorted(tables.items()):
        for grant in table['grants']:
            label = table_label(name, grant.get('column'))
            if grant['grantee'] == PUBLIC:
                findings.append(make_finding('personal_data', 'public_grant', '%s:%s' % (label, grant['privilege']), 'critical',
                                             'every role (PUBLIC) has %s on personal-data %s %s' % (grant['privilege'], 'column' if grant.get('column')
                                                                                                    else 'table', label),
                                             'grant', table=name, column=grant.get('column'), grantee=PUBLIC, privilege=grant['privilege']))
            elif grant['grant_option']:
                findings.append(make_finding('personal_data', 'grant_option', '%s:%s:%s' % (label, grant['grantee'], grant['privilege']), 'warning',
                                             '%s may pass %s on personal-data %s on to others (WITH GRANT OPTION)'
                                             % (grant['grantee'], grant['privilege'], label),
                                             'grant', table=name, column=grant.get('column'), grantee=grant['grantee'], privilege=grant['privilege']))
    for pattern in unmatched:
        what = 'matches no table' if _GLOB_CHARS.search(pattern) else 'does not exist'
        findings.append(make_finding('personal_data', 'table_missing', pattern, 'warning', 'personal-data table %s %s in database %s: it cannot be '
                                     'reviewed (is login_db the DSR database? is personal_data_tables right?)' % (pattern, what, database),
                                     'table', table=pattern, database=database))
    return findings


def _open_address(rule):
    address, netmask = rule.get('address'), rule.get('netmask')
    return address == 'all' or (address == '0.0.0.0' and netmask == '0.0.0.0') or (address == '::' and netmask == '::')


def hba_findings(rules):
    """Risky pg_hba.conf rules: trust, cleartext password, md5, ident over TCP, any address, lines in error."""
    findings = []
    for rule in rules:
        label = _rule_label(rule)
        obj = {key: rule.get(key) for key in ('file_name', 'line_number', 'rule_number', 'type', 'database', 'user_name', 'address',
                                              'netmask', 'auth_method')}
        fields = [rule.get('type'), ','.join(rule.get('database') or []), ','.join(rule.get('user_name') or []), rule.get('address'),
                  rule.get('netmask'), rule.get('auth_method')]
        where = 'pg_hba.conf rule %s (%s)' % (label, ' '.join(f for f in fields if f))
        if rule.get('error'):
            findings.append(make_finding('hba', 'hba_error', label, 'critical', '%s cannot be loaded: %s; a reload keeps the previous rules and a '
                                         'restart fails' % ('pg_hba.conf line %s' % label, rule['error']), 'hba_rule', error=rule['error'], **obj))
            continue
        method, tcp = rule['auth_method'], rule['type'] != 'local'
        if method == 'trust':
            findings.append(make_finding('hba', 'hba_trust', label, 'critical' if tcp else 'warning',
                                         '%s trusts: whoever %s can log in as the roles it names, without a password'
                                         % (where, 'reaches the address' if tcp else 'can open the server socket on its host'), 'hba_rule', **obj))
        elif method == 'password':
            # hostssl and hostgssenc connections are encrypted; host, hostnossl and hostnogssenc may not be
            cleartext = rule['type'] in ('host', 'hostnossl', 'hostnogssenc')
            over = ' over connections that may not be encrypted' if cleartext else ''
            findings.append(make_finding('hba', 'hba_password', label, 'critical' if cleartext else 'warning',
                                         '%s sends passwords in clear text%s; use scram-sha-256' % (where, over), 'hba_rule', **obj))
        elif method == 'md5':
            findings.append(make_finding('hba', 'hba_md5', label, 'warning', '%s uses md5: roles with MD5 password hashes authenticate with the weak '
                                         'MD5 challenge; use scram-sha-256' % where, 'hba_rule', **obj))
        elif method == 'ident' and tcp:
            findings.append(make_finding('hba', 'hba_ident', label, 'warning', '%s uses ident over TCP: the client host says who the user is' % where,
                                         'hba_rule', **obj))
        if tcp and method != 'reject' and _open_address(rule):
            findings.append(make_finding('hba', 'hba_any_address', label, 'warning', '%s accepts connections from any address' % where, 'hba_rule', **obj))
    return findings


def _listen_scope(listen):
    if listen is None:
        return None
    addresses = [a.strip() for a in listen.split(',') if a.strip()]
    if not addresses:
        return 'none'
    return 'local' if all(a in _LOCAL_ADDRESSES for a in addresses) else 'network'


def settings_findings(settings):
    """ssl, ssl_min_protocol_version, password_encryption, log_connections, log_disconnections (only those visible)."""
    findings = []
    ssl = settings.get('ssl')
    if ssl == 'off':
        scope = _listen_scope(settings.get('listen_addresses'))
        severity = {'none': 'info', 'local': 'warning'}.get(scope, 'critical')
        where = {'none': 'the server accepts no TCP connections', 'local': 'the server listens on loopback addresses only'}.get(
            scope, 'the server listens on %s' % settings.get('listen_addresses', 'addresses that are not visible'))
        findings.append(make_finding('settings', 'setting', 'ssl', severity, 'ssl is off: passwords and personal data cross the network in clear '
                                     'text (%s)' % where, 'setting', name='ssl', value=ssl, listen_addresses=settings.get('listen_addresses')))
    if ssl == 'on' and settings.get('ssl_min_protocol_version') in ('TLSv1', 'TLSv1.1'):
        findings.append(make_finding('settings', 'setting', 'ssl_min_protocol_version', 'warning', 'ssl_min_protocol_version is %s: clients may use a '
                                     'deprecated TLS version; set TLSv1.2' % settings['ssl_min_protocol_version'], 'setting',
                                     name='ssl_min_protocol_version', value=settings['ssl_min_protocol_version']))
    if settings.get('password_encryption') in ('md5', 'on'):
        findings.append(make_finding('settings', 'setting', 'password_encryption', 'warning', 'password_encryption is %s: new passwords are stored '
                                     'as MD5 hashes; set scram-sha-256' % settings['password_encryption'], 'setting', name='password_encryption',
                                     value=settings['password_encryption']))
    if settings.get('log_connections') in ('off', ''):
        findings.append(make_finding('settings', 'setting', 'log_connections', 'warning', 'log_connections is off: logins are not logged, so access '
                                     'to personal data cannot be traced to a session', 'setting', name='log_connections', value=settings['log_connections']))
    if settings.get('log_disconnections') == 'off':
        findings.append(make_finding('settings', 'setting', 'log_disconnections', 'info', 'log_disconnections is off: session ends and durations '
                                     'are not logged', 'setting', name='log_disconnections', value='off'))
    return findings


def _check_msg(findings, empty='no findings'):
    if not findings:
        return empty
    tally = counts(findings)
    text = '%d critical, %d warning, %d info' % (tally['critical'], tally['warning'], tally['info'])
    if tally['accepted']:
        text += ', %d accepted' % tally['accepted']
    notable = [f['id'] for f in findings if not f['accepted'] and f['severity'] != 'info']
    if notable:
        text += ': ' + ', '.join(notable[:8]) + (' and %d more' % (len(notable) - 8) if len(notable) > 8 else '')
    return text


def build_check(name, findings, not_visible=(), unknown=None, lead='', empty='no findings', **figures):
    """The Check of one category: the worst open finding; ``skipped`` when nothing is wrong but part of it was not visible.

    ``lead`` opens the message (what was reviewed), before the tally of findings.
    """
    tally = counts(findings)
    figures.update(findings=len(findings), open=dict((k, tally[k]) for k in SEVERITIES), accepted=tally['accepted'],
                   not_visible=list(not_visible))
    if unknown:
        return Check.unknown(name, unknown, **figures)
    status = worst([f['status'] for f in findings if not f['accepted']] or [OK])
    msg = lead + _check_msg(findings, empty)
    if not_visible:
        hidden = '; '.join('%s: %s' % (n['what'], n['fix']) for n in not_visible)
        if status == OK:
            seen = '; of what is visible: %s' % msg if findings else ''
            return Check.skipped(name, 'not visible to the login role: %s%s' % (hidden, seen), **figures)
        msg += '; not visible: ' + hidden
    return Check(name, status, msg, **figures)


def _not_visible(check, what, reason, fix, grant=None):
    return {'check': check, 'what': what, 'reason': reason, 'fix': fix, 'grant': grant}


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


class AccessReview:
    """Run the review over one connection and build the result dict.

    ``options`` is shaped like DEFAULTS; ``now`` (a callable returning an aware
    datetime) is injectable for password expiry and the baseline's time stamp.
    """

    def __init__(self, options, now=_now, check_mode=False, diff=False):
        self.options = dict(DEFAULTS)
        self.options.update({k: v for k, v in options.items() if k in DEFAULTS and v is not None})
        self.accepted = parse_accepted(self.options['accepted'])
        self.now = now
        self.check_mode = check_mode
        self.diff = diff
        self.server = {}
        self.data = {}
        self.errors = {}
        self.warnings = []
        # before/after of the baseline file, for Ansible's diff mode (write mode only, when it changes)
        self.diff_data = None

    # -- gathering -----------------------------------------------------------

    def run(self, connector):
        """Connect through ``connector`` (a Connector) and return the result dict."""
        try:
            conn, dummy = connector.connect(autocommit=False)
        except PostgresConnectionError as exc:
            return self._unreachable(str(exc))
        try:
            self._gather(conn)
            connection = describe(conn)
        finally:
            try:
                conn.rollback()
            finally:
                conn.close()
        return self._evaluate(connection)

    def _gather(self, conn):
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            # the first statement of the transaction psycopg2 opens: nothing in it can write
            cur.execute('SET TRANSACTION READ ONLY')
            cur.execute("SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                        ('%ds' % self.options['query_timeout'], '%ds' % self.options['query_timeout']))
            cur.execute(_SERVER_SQL)
            self.server = dict(cur.fetchone())
            version = self.server['server_version_num']
            self._fetch(cur, 'roles', _ROLES_SQL, {'now': self.now()})
            self._fetch(cur, 'memberships', memberships_sql(version))
            if self.server['can_read_authid']:
                self._fetch(cur, 'passwords', _PASSWORDS_SQL)
            if self.server['can_read_hba']:
                self._fetch(cur, 'hba', hba_sql(version))
            self._fetch(cur, 'settings', _SETTINGS_SQL, {'names': list(REVIEWED_SETTINGS + REPORTED_SETTINGS)})
            self._fetch(cur, 'schemas', _SCHEMAS_SQL)
            relations = self._fetch(cur, 'relations', _RELATIONS_SQL)
            if relations is not None:
                matched, self.data['unmatched'] = match_tables(relations, self.options['personal_data_tables'])
                self.data['matched'] = matched
                if matched:
                    self._fetch(cur, 'grants', _GRANTS_SQL, {'oids': [r['oid'] for r in matched]})
                else:
                    self.data['grants'] = []

    def _fetch(self, cur, name, sql, args=None):
        """Rows of one query under a savepoint; None (and the reason in ``errors``) when it fails."""
        cur.execute('SAVEPOINT dsr_access_review')
        try:
            cur.execute(sql, args)
            rows = [dict(row) for row in cur.fetchall()]
        except psycopg2.Error as exc:
            cur.execute('ROLLBACK TO SAVEPOINT dsr_access_review')
            self.errors[name] = 'query failed: %s' % (exc.pgerror or str(exc)).strip()
            return None
        cur.execute('RELEASE SAVEPOINT dsr_access_review')
        self.data[name] = rows
        return rows

    # -- evaluating ----------------------------------------------------------

    def _roles(self):
        rows = self.data.get('roles')
        if rows is None:
            return None
        roles = {row['name']: dict(row) for row in rows}
        for row in self.data.get('passwords') or []:
            if row['name'] in roles:
                roles[row['name']]['has_password'] = not row['no_password']
        return roles

    def _tables(self):
        """Personal-data tables: name -> {owner, kind, grants (to others than the owner, table and column)}, or None."""
        if self.data.get('grants') is None:
            return None
        by_oid = {row['oid']: row for row in self.data['matched']}
        tables = {'%s.%s' % (r['schema'], r['name']): {'owner': r['owner'], 'kind': r['kind'], 'grants': []} for r in self.data['matched']}
        for grant in self.data['grants']:
            relation = by_oid.get(grant['oid'])
            if grant['owner_grant'] or relation is None:
                continue
            entry = {'grantee': grant['grantee'], 'privilege': grant['privilege'], 'grant_option': grant['grant_option']}
            if grant['column_name'] is not None:
                entry['column'] = grant['column_name']
            tables['%s.%s' % (relation['schema'], relation['name'])]['grants'].append(entry)
        return tables

    def _evaluate(self, connection):
        server = self.server
        login = server['login_role']
        version = server['server_version_num']
        database = server['database']
        roles = self._roles()
        graph = RoleGraph(roles, self.data['memberships'], version) if roles is not None and 'memberships' in self.data else None
        hba = self.data.get('hba')
        tables = self._tables()
        checks = {}
        not_visible = []

        def hidden(entry):
            not_visible.append(entry)
            return [entry]

        if roles is None:
            checks['roles'] = ([], [], self.errors['roles'])
        else:
            checks['roles'] = (role_findings(roles, version, graph), [], None)
        if not server['can_read_authid']:
            checks['passwords'] = ([], hidden(_not_visible(
                'passwords', 'password hashes (pg_authid)', 'only superusers can read pg_authid, so MD5 hashes and login roles without a '
                'password cannot be seen', 'run this check as a superuser (granting SELECT on pg_authid would expose every hash)')), None)
        elif roles is None or 'passwords' not in self.data:
            checks['passwords'] = ([], [], self.errors.get('passwords') or self.errors.get('roles'))
        else:
            checks['passwords'] = (password_findings(roles, {r['name']: r for r in self.data['passwords']}, hba, graph), [], None)
        if graph is None:
            checks['memberships'] = ([], [], self.errors.get('memberships') or self.errors.get('roles'))
        else:
            checks['memberships'] = (membership_findings(roles, graph, version), [], None)
        personal_schemas = {name.split('.', 1)[0] for name in tables or {}}
        if 'schemas' in self.data:
            checks['schema_privileges'] = (schema_findings(self.data['schemas'], personal_schemas, database), [], None)
        else:
            checks['schema_privileges'] = ([], [], self.errors['schemas'])
        if tables is None:
            checks['personal_data'] = ([], [], self.errors.get('relations') or self.errors.get('grants'))
        else:
            findings = personal_data_findings(tables, self.data['unmatched'], database)
            none_found = None if tables else ('none of personal_data_tables (%s) exists in database %s: nothing was reviewed; connect to the DSR '
                                              'database (login_db) or set personal_data_tables' % (', '.join(self.options['personal_data_tables']), database))
            checks['personal_data'] = (findings, [], none_found)
        if not server['can_read_hba']:
            grant = ('GRANT SELECT ON pg_catalog.pg_hba_file_rules TO %s; GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO %s'
                     % (_quote_ident(login), _quote_ident(login)))
            checks['hba'] = ([], hidden(_not_visible('hba', 'pg_hba.conf rules (pg_hba_file_rules)', 'pg_hba_file_rules is readable by superusers '
                                                     'only by default', grant, grant)), None)
        elif hba is None:
            checks['hba'] = ([], [], self.errors['hba'])
        else:
            checks['hba'] = (hba_findings(hba), [], None)
        settings = None
        if 'settings' in self.data:
            settings = {row['name']: row['setting'] for row in self.data['settings']}
            missing = [name for name in REVIEWED_SETTINGS if name not in settings]
            entries = []
            if missing:
                grant = 'GRANT pg_read_all_settings TO %s' % _quote_ident(login)
                entries = hidden(_not_visible('settings', 'settings %s' % ', '.join(missing), 'these settings are shown only to superusers and '
                                              'members of pg_read_all_settings', grant, grant))
            checks['settings'] = (settings_findings(settings), entries, None)
        else:
            checks['settings'] = ([], [], self.errors['settings'])

        selected = [name for name in CHECKS if name in self.options['checks']]
        not_visible = [entry for entry in not_visible if entry['check'] in selected]
        findings = [f for name in selected for f in checks[name][0]]
        inventory = None
        if roles is not None and graph is not None and tables is not None:
            inventory = self._inventory(roles, tables, database)
        baseline_info, baseline_check, drift = self._baseline(inventory, roles, tables, version, database)
        findings.extend(drift)
        unused = finalize(findings, self.accepted)

        result_checks = []
        for name in selected:
            category_findings = [f for f in findings if f['category'] == name]
            dummy, entries, unknown = checks[name]
            figures = {}
            if name == 'settings' and settings is not None:
                figures['settings'] = settings
            if name == 'hba' and hba is not None:
                figures['rules'] = len(hba)
            if name == 'personal_data' and tables is not None:
                figures['tables'] = sorted(tables)
            result_checks.append(build_check(name, category_findings, [e for e in entries if e['check'] == name], unknown, **figures))
        if baseline_check is not None:
            unknown, figures, lead = baseline_check
            result_checks.append(build_check('baseline', [f for f in findings if f['category'] == 'baseline'], [], unknown, lead,
                                             'no change' if figures.get('state') == 'compared' else 'nothing to review', **figures))
        overall, summary = summarize(result_checks)
        result = {
            'status': overall,
            'summary': summary,
            'checks': {c.name: c.as_dict() for c in result_checks},
            'findings': findings,
            'counts': counts(findings),
            'not_visible': not_visible,
            'accepted_unused': unused,
            'inventory': inventory,
            'baseline': baseline_info,
            'review': {
                'login_role': login,
                'database': database,
                'is_superuser': server['is_superuser'],
                'can_read_authid': server['can_read_authid'],
                'can_read_hba': server['can_read_hba'],
                'can_read_all_settings': server['can_read_all_settings'],
                'server_version_num': version,
                'reviewed_at': _iso(self.now()),
            },
            'connection': connection,
            'changed': bool(baseline_info and baseline_info['changed']),
            'warnings': self.warnings,
        }
        if self.diff_data is not None:
            result['diff'] = self.diff_data
        return result

    def _inventory(self, roles, tables, database):
        memberships = {}
        for row in self.data['memberships']:
            if roles.get(row['member'], {}).get('predefined'):
                continue  # the built-in memberships among predefined roles are the server's, not the site's
            key = (row['role'], row['member'])
            memberships[key] = memberships.get(key, False) or bool(row['admin'])
        site_roles = {name: role for name, role in roles.items() if not role['predefined']}
        doc = baselines.document(database, self.options['personal_data_tables'], site_roles,
                                 {(r, m, a) for (r, m), a in memberships.items()}, tables, None)
        return {'roles': doc['roles'], 'memberships': doc['memberships'], 'tables': doc['tables']}

    def _baseline(self, inventory, roles, tables, version, database):
        """(baseline result or None, (unknown reason, figures) of the baseline check or None, drift findings)."""
        path, mode = self.options['baseline'], self.options['baseline_mode']
        if not path:
            return None, None, []
        info = {'path': path, 'mode': mode, 'state': None, 'written_at': None, 'written': False, 'changed': False, 'changes': [], 'error': None}

        def unknown(state, reason):
            info['state'], info['error'] = state, reason
            return info, (reason, {'path': path, 'mode': mode, 'state': state}, ''), []

        if inventory is None:
            reason = 'the inventory could not be read (%s): the baseline was not %s' % (
                '; '.join('%s: %s' % item for item in sorted(self.errors.items())) or 'not connected', 'written' if mode == 'write' else 'compared')
            return unknown('error', reason)
        current = {
            'roles': {name: {a: inventory['roles'][name][a] for a in baselines.ROLE_ATTRIBUTES} for name in inventory['roles']},
            'memberships': {(m['role'], m['member'], m['admin']) for m in inventory['memberships']},
            'tables': inventory['tables'],
        }
        try:
            old = baselines.load(path)
        except BaselineError as exc:
            if mode == 'compare' or not exc.replaceable:
                return unknown('malformed' if exc.replaceable else 'error', str(exc))
            self.warnings.append('%s; writing a new baseline over it' % exc)
            old = None
            info['previous'] = 'malformed'
        else:
            info['previous'] = 'absent' if old is None else 'present'
        if old is not None:
            info['written_at'] = old.written_at
        if mode == 'compare':
            if old is None:
                return unknown('missing', 'baseline %s does not exist: review the access, then write it with baseline_mode=write' % path)
            if old.database != database:
                return unknown('error', 'baseline %s was written for database %s, and this review is of database %s: compare each database with '
                                        'its own baseline' % (path, old.database, database))
            drift = baselines.compare(old, current['roles'], current['memberships'], current['tables'], version)
            info['state'] = 'compared'
            info['changes'] = [d['id'] for d in drift]
            figures = {'path': path, 'mode': mode, 'state': 'compared', 'written_at': old.written_at, 'drift': len(drift)}
            if tuple(old.personal_data_tables) != tuple(self.options['personal_data_tables']):
                figures['baseline_personal_data_tables'] = list(old.personal_data_tables)
            return info, (None, figures, 'compared with baseline %s of %s: ' % (path, old.written_at or 'unknown date')), drift

        # write: today's inventory becomes the baseline, when it differs from what the file holds
        new_content = baselines.inventory_content(database, self.options['personal_data_tables'], current['roles'], current['memberships'],
                                                  current['tables'])
        if old is not None and old.content() == new_content:
            info['state'] = 'unchanged'
            return info, (None, {'path': path, 'mode': mode, 'state': 'unchanged', 'written_at': old.written_at},
                          'baseline %s of %s already holds this inventory, left as it is; ' % (path, old.written_at or 'unknown date')), []
        if old is not None and old.database == database:
            info['changes'] = [d['id'] for d in baselines.compare(old, current['roles'], current['memberships'], current['tables'], version)]
        written_at = _iso(self.now())
        text = baselines.render(baselines.document(database, self.options['personal_data_tables'], current['roles'], current['memberships'],
                                                   current['tables'], written_at))
        info['changed'] = True
        if self.check_mode:
            info['state'] = 'would_write'
        else:
            baselines.write(path, text)
            info['state'] = 'written'
            info['written'] = True
            info['written_at'] = written_at
        if self.diff:
            self.diff_data = {'before': old.text if old is not None else '', 'after': text,
                              'before_header': '%s (%s)' % (path, info['previous']), 'after_header': path}
        done = 'would write' if self.check_mode else 'wrote'
        replacing = 'new file' if old is None else 'replacing the one of %s' % (old.written_at or 'unknown date')
        lead = '%s baseline %s (%s, %d changes recorded); ' % (done, path, replacing, len(info['changes']))
        return info, (None, {'path': path, 'mode': mode, 'state': info['state'], 'written_at': info['written_at'], 'changes': len(info['changes'])}, lead), []

    def _unreachable(self, message):
        # said once: the review could not look at all (unknown), so no sub-check ran
        checks = [Check.unknown('connection', message)] + [Check.skipped(name, 'not connected') for name in CHECKS if name in self.options['checks']]
        baseline_info = None
        if self.options['baseline']:
            reason = 'not connected: the baseline was not %s' % ('written' if self.options['baseline_mode'] == 'write' else 'compared')
            checks.append(Check.skipped('baseline', reason, path=self.options['baseline'], mode=self.options['baseline_mode'], state='error'))
            baseline_info = {'path': self.options['baseline'], 'mode': self.options['baseline_mode'], 'state': 'error', 'written_at': None,
                             'written': False, 'changed': False, 'changes': [], 'error': message}
        overall, summary = summarize(checks)
        return {'status': overall, 'summary': summary, 'checks': {c.name: c.as_dict() for c in checks}, 'findings': [],
                'counts': counts([]), 'not_visible': [], 'accepted_unused': [e['id'] for e in self.accepted], 'inventory': None,
                'baseline': baseline_info, 'review': None, 'connection': None, 'changed': False, 'warnings': []}


def _quote_ident(name):
    """A role name as SQL would need it in the suggested GRANT."""
    if re.match(r'^[a-z_][a-z0-9_$]*$', name or ''):
        return name
    return '"%s"' % (name or '').replace('"', '""')


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z')
