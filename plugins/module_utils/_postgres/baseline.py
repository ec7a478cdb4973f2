# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The access baseline of dsr.ops.pg_access_review: the approved roles, memberships and personal-data grants.

A baseline is a YAML file the module writes (``baseline_mode=write``) and later
compares today's inventory with. Like every file read back it is untrusted:
anyone who can write there, an editor's slip or a bad merge can put anything in
it. :func:`load` is the one way a baseline is read: a size-capped read of a
regular file, ``yaml`` safe loading that also refuses anchors/aliases and
duplicate keys, then :func:`parse`, which checks the schema and names the file
and the key at fault (:class:`BaselineError`). A malformed baseline is never a
traceback, and it is only ever replaced by an explicit ``baseline_mode=write``.

:func:`compare` turns the differences between a baseline and an inventory into
findings (added access is more severe than removed access); :func:`render` and
:func:`write` produce and publish the file (temporary name, 0600, fsync, atomic
rename, only when its content changed).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import stat

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import IDENTIFIER_MAX_BYTES, PostgresError

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core on the controller, not always on a target
    yaml = None

FORMAT = 'dsr.ops.pg_access_review.baseline'
VERSION = 1
# a baseline of ten thousand roles and grants is about 2 MB; refuse to parse anything much larger
MAX_BASELINE_BYTES = 8 * 1024 * 1024
ROLE_ATTRIBUTES = ('login', 'superuser', 'createrole', 'createdb', 'replication', 'bypassrls')
TABLE_PRIVILEGES = ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN')
PUBLIC = 'PUBLIC'
# predefined roles whose members can run programs or read and write files as the server's OS user
SERVER_ACCESS_ROLES = ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files')
_HEADER = ('# dsr.ops.pg_access_review baseline: the approved roles, role memberships and grants on personal-data tables.\n'
           '# Written by the module (baseline_mode=write) after a review; compared with the server on every later run.\n')


class AccessReviewError(PostgresError):
    """Base class of pg_access_review's errors; ``str()`` is safe to show."""


class BaselineError(AccessReviewError):
    """A baseline that cannot be read, parsed or written; ``str()`` names the file and the fault.

    ``replaceable`` is False when the file is not a pg_access_review baseline at
    all (it is then never overwritten), True when it is one that is malformed.
    """

    def __init__(self, message, replaceable=True):
        super().__init__(message)
        self.replaceable = replaceable


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A baseline whose schema was checked."""

    database: str
    written_at: str | None
    personal_data_tables: tuple
    roles: dict
    memberships: frozenset
    tables: dict
    text: str = ''

    def content(self):
        """What decides whether a baseline changed: everything but when it was written."""
        return inventory_content(self.database, self.personal_data_tables, self.roles, self.memberships, self.tables)


def inventory_content(database, patterns, roles, memberships, tables):
    """The comparable content of a baseline or an inventory (memberships as a set of (role, member, admin))."""
    return {
        'database': database,
        'personal_data_tables': tuple(patterns),
        'roles': {name: dict(attributes) for name, attributes in roles.items()},
        'memberships': frozenset(memberships),
        'tables': {name: {'owner': table['owner'], 'grants': frozenset(_grant_key(g) for g in table['grants'])} for name, table in tables.items()},
    }


def _grant_key(grant):
    return (grant['grantee'], grant['privilege'], grant.get('column'), bool(grant['grant_option']))


# -- reading ---------------------------------------------------------------

def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _loader_class():
    class Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """SafeLoader that refuses aliases (an alias bomb is small on disk) and duplicate keys (the last would win silently)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, 'anchors and aliases are not allowed in a baseline', event.start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, dummy in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # an unhashable key: construct_mapping reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(None, None, 'duplicate key %s' % _short(key), key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    return Loader


def read_capped(path, limit=MAX_BASELINE_BYTES):
    """The bytes of regular file ``path``, at most ``limit``; OSError or ValueError (not a regular file, too large)."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer; the mode is checked on the open descriptor, not on the name
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError('it is not a regular file')
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, 'rb') as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError('it is larger than %d bytes' % limit)
    return data


def loads(text, source):
    """YAML text -> plain data, with the safe loader; BaselineError names ``source`` and the line."""
    if yaml is None:
        raise BaselineError('cannot read baseline %s: the PyYAML library is not installed where the module runs (pip install PyYAML)' % source)
    try:
        return yaml.load(text, Loader=_loader_class())  # nosec: a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = ' at line %d, column %d' % (mark.line + 1, mark.column + 1) if mark is not None else ''
        problem = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
        raise BaselineError('baseline %s is not valid YAML%s: %s' % (source, where, problem)) from None


def load(path):
    """Read and parse the baseline at ``path``; None when it does not exist; BaselineError when it is not a sound baseline."""
    try:
        data = read_capped(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BaselineError('cannot read baseline %s: %s' % (path, getattr(exc, 'strerror', None) or exc), replaceable=False) from None
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise BaselineError('baseline %s is not UTF-8 text (byte %d)' % (path, exc.start), replaceable=False) from None
    return parse(loads(text, path), path, text)


def _name(value, where, fault):
    if not isinstance(value, str) or not value or '\0' in value or len(value.encode('utf-8')) > IDENTIFIER_MAX_BYTES:
        fault('%s must be a PostgreSQL name (a non-empty string of at most %d bytes), got %s' % (where, IDENTIFIER_MAX_BYTES, _short(value)))
    return value


def _bool(value, where, fault):
    if not isinstance(value, bool):
        fault('%s must be true or false, got %s' % (where, _short(value)))
    return value


def _mapping(value, where, fault, keys=None, optional=()):
    if not isinstance(value, dict):
        fault('%s must be a mapping, got %s' % (where, type(value).__name__.replace('NoneType', 'null')))
    if keys is not None:
        missing = [k for k in keys if k not in value]
        unknown = [str(k) for k in value if k not in keys and k not in optional]
        if missing:
            fault('%s lacks %s' % (where, ', '.join(missing)))
        if unknown:
            fault('%s has unknown keys %s' % (where, ', '.join(sorted(unknown))))
    return value


def _list(value, where, fault):
    if not isinstance(value, list):
        fault('%s must be a list, got %s' % (where, type(value).__name__.replace('NoneType', 'null')))
    return value


def table_name_problem(name):
    """Why ``name`` is not ``schema.table`` (each part a PostgreSQL name), or None."""
    if not isinstance(name, str) or '\0' in name:
        return 'must be a string "schema.table"'
    schema, dot, table = name.partition('.')
    if not dot or not schema or not table:
        return 'must be schema-qualified, "schema.table"'
    for part in (schema, table):
        if len(part.encode('utf-8')) > IDENTIFIER_MAX_BYTES:
            return 'has a part longer than %d bytes' % IDENTIFIER_MAX_BYTES
    return None


def parse(data, source, text=''):
    """Check a baseline's loaded YAML and return a :class:`Baseline`; BaselineError otherwise."""
    def fault(reason):
        raise BaselineError('baseline %s is malformed: %s' % (source, reason))

    if not isinstance(data, dict):
        raise BaselineError('%s is not a pg_access_review baseline: it holds a YAML %s, not a mapping with format: %s'
                            % (source, type(data).__name__.replace('NoneType', 'null (empty file)'), FORMAT), replaceable=False)
    if data.get('format') != FORMAT:
        raise BaselineError('%s is not a pg_access_review baseline: format is %s, not %s' % (source, _short(data.get('format')), FORMAT),
                            replaceable=False)
    if data.get('version') != VERSION:
        fault('version is %s; this collection reads version %d' % (_short(data.get('version')), VERSION))
    _mapping(data, 'the top level', fault, keys=('format', 'version', 'database', 'roles', 'memberships', 'tables'),
             optional=('written_at', 'personal_data_tables'))
    database = _name(data['database'], 'database', fault)
    written_at = data.get('written_at')
    if isinstance(written_at, datetime.datetime):
        written_at = written_at.isoformat()
    if written_at is not None and not isinstance(written_at, str):
        fault('written_at must be a time stamp, got %s' % _short(written_at))
    patterns = _list(data.get('personal_data_tables') or [], 'personal_data_tables', fault)
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or table_name_problem(pattern):
            fault('personal_data_tables[%d] %s' % (index, table_name_problem(pattern) or 'must be a string'))

    roles = {}
    for name, attributes in _mapping(data['roles'], 'roles', fault).items():
        where = 'roles.%s' % name
        _name(name, 'a key of roles (%s)' % _short(name), fault)
        _mapping(attributes, where, fault, keys=ROLE_ATTRIBUTES)
        roles[name] = {attribute: _bool(attributes[attribute], '%s.%s' % (where, attribute), fault) for attribute in ROLE_ATTRIBUTES}

    memberships = set()
    for index, entry in enumerate(_list(data['memberships'], 'memberships', fault)):
        where = 'memberships[%d]' % index
        _mapping(entry, where, fault, keys=('role', 'member', 'admin'))
        memberships.add((_name(entry['role'], where + '.role', fault), _name(entry['member'], where + '.member', fault),
                         _bool(entry['admin'], where + '.admin', fault)))

    tables = {}
    for name, table in _mapping(data['tables'], 'tables', fault).items():
        problem = table_name_problem(name)
        if problem:
            fault('a key of tables (%s) %s' % (_short(name), problem))
        where = 'tables.%s' % name
        _mapping(table, where, fault, keys=('owner', 'grants'))
        grants = []
        for index, grant in enumerate(_list(table['grants'], where + '.grants', fault)):
            at = '%s.grants[%d]' % (where, index)
            _mapping(grant, at, fault, keys=('grantee', 'privilege', 'grant_option'), optional=('column',))
            if grant['privilege'] not in TABLE_PRIVILEGES:
                fault('%s.privilege must be one of %s, got %s' % (at, ', '.join(TABLE_PRIVILEGES), _short(grant['privilege'])))
            entry = {'grantee': _name(grant['grantee'], at + '.grantee', fault), 'privilege': grant['privilege'],
                     'grant_option': _bool(grant['grant_option'], at + '.grant_option', fault)}
            if grant.get('column') is not None:
                entry['column'] = _name(grant['column'], at + '.column', fault)
            grants.append(entry)
        tables[name] = {'owner': _name(table['owner'], where + '.owner', fault), 'grants': grants}
    return Baseline(database=database, written_at=written_at, personal_data_tables=tuple(patterns), roles=roles,
                    memberships=frozenset(memberships), tables=tables, text=text)


# -- comparing -------------------------------------------------------------

def _drift(kind, name, severity, message, obj):
    return {'id': 'drift:%s:%s' % (kind, name), 'category': 'baseline', 'severity': severity, 'message': message,
            'object_type': obj.pop('object_type'), 'object': obj, 'change': kind}


def _attribute_severity(attribute, version_num):
    if attribute == 'superuser':
        return 'critical'
    if attribute == 'createrole':
        # before PostgreSQL 16 CREATEROLE can grant itself any non-superuser role, pg_execute_server_program included
        return 'critical' if version_num < 160000 else 'warning'
    if attribute == 'createdb':
        return 'info'
    return 'warning'


def table_label(table, column):
    """``schema.table`` or ``schema.table(column)``."""
    return '%s(%s)' % (table, column) if column else table


def compare(baseline, roles, memberships, tables, version_num):
    """Drift findings between ``baseline`` and today's inventory (same shapes as the baseline's).

    Access that appeared since the baseline is a warning, or critical for a new
    superuser, a grant to PUBLIC, membership in a role with server file or
    program access; access that disappeared is info.
    """
    when = ' since the baseline of %s' % baseline.written_at if baseline.written_at else ' since the baseline'
    drift = []
    for name in sorted(set(roles) - set(baseline.roles)):
        granted = [a for a in ROLE_ATTRIBUTES if roles[name][a]]
        severity = 'critical' if roles[name]['superuser'] else 'warning'
        drift.append(_drift('role_added', name, severity, 'role %s was created%s (%s)' % (name, when, ', '.join(granted) or 'no attributes'),
                            {'object_type': 'role', 'name': name, 'attributes': dict(roles[name])}))
    for name in sorted(set(baseline.roles) - set(roles)):
        drift.append(_drift('role_removed', name, 'info', 'role %s was dropped%s' % (name, when), {'object_type': 'role', 'name': name}))
    for name in sorted(set(roles) & set(baseline.roles)):
        for attribute in ROLE_ATTRIBUTES:
            before, now = baseline.roles[name][attribute], roles[name][attribute]
            if now and not before:
                drift.append(_drift('attribute_added', '%s:%s' % (name, attribute), _attribute_severity(attribute, version_num),
                                    'role %s gained %s%s' % (name, attribute.upper(), when),
                                    {'object_type': 'role', 'name': name, 'attribute': attribute}))
            elif before and not now:
                drift.append(_drift('attribute_removed', '%s:%s' % (name, attribute), 'info', 'role %s lost %s%s' % (name, attribute.upper(), when),
                                    {'object_type': 'role', 'name': name, 'attribute': attribute}))

    old_members = {(r, m): admin for r, m, admin in baseline.memberships}
    new_members = {(r, m): admin for r, m, admin in memberships}
    for role, member in sorted(set(new_members) - set(old_members)):
        severity = 'critical' if role in SERVER_ACCESS_ROLES or roles.get(role, {}).get('superuser') else 'warning'
        drift.append(_drift('membership_added', '%s:%s' % (role, member), severity, '%s was made a member of %s%s' % (member, role, when),
                            {'object_type': 'membership', 'role': role, 'member': member, 'admin': new_members[(role, member)]}))
    for role, member in sorted(set(old_members) - set(new_members)):
        drift.append(_drift('membership_removed', '%s:%s' % (role, member), 'info', '%s is no longer a member of %s%s' % (member, role, when),
                            {'object_type': 'membership', 'role': role, 'member': member}))
    for role, member in sorted(set(old_members) & set(new_members)):
        if new_members[(role, member)] and not old_members[(role, member)]:
            drift.append(_drift('admin_option_added', '%s:%s' % (role, member), 'warning',
                                '%s can now grant %s to others (ADMIN OPTION)%s' % (member, role, when),
                                {'object_type': 'membership', 'role': role, 'member': member, 'admin': True}))

    for name in sorted(set(tables) - set(baseline.tables)):
        drift.append(_drift('table_added', name, 'info', 'personal-data table %s is new%s (owner %s)' % (name, when, tables[name]['owner']),
                            {'object_type': 'table', 'table': name, 'owner': tables[name]['owner']}))
    for name in sorted(set(baseline.tables) - set(tables)):
        drift.append(_drift('table_removed', name, 'info', 'personal-data table %s is gone%s' % (name, when), {'object_type': 'table', 'table': name}))
    for name in sorted(set(tables) & set(baseline.tables)):
        before, now = baseline.tables[name], tables[name]
        if before['owner'] != now['owner']:
            drift.append(_drift('owner_changed', name, 'warning', 'personal-data table %s is now owned by %s, not %s%s'
                                % (name, now['owner'], before['owner'], when),
                                {'object_type': 'table', 'table': name, 'owner': now['owner'], 'previous_owner': before['owner']}))
        drift.extend(_grant_drift(name, before['grants'], now['grants'], when))
    return drift


def _grant_drift(table, before, now, when):
    def index(grants):
        return {(g['grantee'], g['privilege'], g.get('column')): bool(g['grant_option']) for g in grants}

    old, new = index(before), index(now)
    drift = []
    for grantee, privilege, column in sorted(set(new) - set(old), key=str):
        label = table_label(table, column)
        severity = 'critical' if grantee == PUBLIC else 'warning'
        drift.append(_drift('grant_added', '%s:%s:%s' % (label, grantee, privilege), severity, '%s on %s was granted to %s%s'
                            % (privilege, label, grantee, when),
                            {'object_type': 'grant', 'table': table, 'column': column, 'grantee': grantee, 'privilege': privilege,
                             'grant_option': new[(grantee, privilege, column)]}))
    for grantee, privilege, column in sorted(set(old) - set(new), key=str):
        label = table_label(table, column)
        drift.append(_drift('grant_removed', '%s:%s:%s' % (label, grantee, privilege), 'info', '%s on %s was revoked from %s%s'
                            % (privilege, label, grantee, when),
                            {'object_type': 'grant', 'table': table, 'column': column, 'grantee': grantee, 'privilege': privilege}))
    for key in sorted(set(old) & set(new), key=str):
        if new[key] and not old[key]:
            grantee, privilege, column = key
            label = table_label(table, column)
            drift.append(_drift('grant_option_added', '%s:%s:%s' % (label, grantee, privilege), 'warning',
                                '%s can now grant %s on %s to others (WITH GRANT OPTION)%s' % (grantee, privilege, label, when),
                                {'object_type': 'grant', 'table': table, 'column': column, 'grantee': grantee, 'privilege': privilege,
                                 'grant_option': True}))
    return drift


# -- writing ---------------------------------------------------------------

def document(database, patterns, roles, memberships, tables, written_at):
    """The baseline as plain data, in a stable order."""
    return {
        'format': FORMAT,
        'version': VERSION,
        'written_at': written_at,
        'database': database,
        'personal_data_tables': list(patterns),
        'roles': {name: {a: bool(roles[name][a]) for a in ROLE_ATTRIBUTES} for name in sorted(roles)},
        'memberships': [{'role': r, 'member': m, 'admin': a} for r, m, a in sorted(memberships)],
        'tables': {name: {'owner': tables[name]['owner'],
                          'grants': sorted(({k: v for k, v in g.items() if k in ('grantee', 'privilege', 'grant_option', 'column')}
                                            for g in tables[name]['grants']), key=lambda g: (g.get('column') or '', g['grantee'], g['privilege']))}
                   for name in sorted(tables)},
    }


def render(doc):
    """The YAML text of a baseline document."""
    if yaml is None:
        raise BaselineError('cannot write a baseline: the PyYAML library is not installed where the module runs (pip install PyYAML)')
    body = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, allow_unicode=True, width=160)
    return _HEADER + body


def write(path, text):
    """Publish ``text`` at ``path`` atomically (temporary file beside it, 0600, fsync, rename); BaselineError on failure."""
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    if not os.path.isdir(directory):
        raise BaselineError('cannot write baseline %s: directory %s does not exist' % (path, directory))
    try:
        files.remove_stale_temp_files(directory, lambda final: final == name)
        with files.TempFile(directory, name) as temp:
            with files.naming(temp.path), temp.writer() as handle:
                handle.write(text.encode('utf-8'))
            temp.publish(path)
    except OSError as exc:
        raise BaselineError('cannot write baseline %s: %s' % (path, exc.strerror or exc)) from None


def utcnow_text():
    """Now, as written in a baseline."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace('+00:00', 'Z')
