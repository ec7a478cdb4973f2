# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""PostgreSQL maintenance behind dsr.ops.pg_maintenance, usable without Ansible.

Replaces the runbook's ``VACUUM ANALYZE;``, ``REINDEX DATABASE dsr_db;`` and its
pg_stat_statements / index-usage queries with one table at a time, each timed,
behind ``lock_timeout``, and four read-only reports.

Every table name the user gives is looked up in the catalogs with bind
parameters, and statements are composed only from ``psycopg2.sql.Identifier``
built from the catalog's own names: a hostile name can fail to resolve or be
maintained, but never becomes SQL.

Check mode resolves the same tables and composes the same statements; only
their execution is skipped.
"""

from __future__ import annotations

import collections
import re
import time

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import (
    PostgresInputError,
    PostgresQueryError,
)

if _deps.HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extras
    from psycopg2 import sql

OPERATIONS = ('vacuum', 'vacuum_analyze', 'analyze', 'reindex', 'none')
REPORTS = ('slow_queries', 'unused_indexes', 'tables_needing_vacuum', 'invalid_indexes')

# Documented defaults; the module's argument spec uses these same values.
DEFAULTS = {
    'operation': 'vacuum_analyze',
    'tables': None,
    'schemas': None,
    'concurrently': True,
    'lock_timeout': '5s',
    'statement_timeout': '0',
    'continue_on_error': False,
    'reports': list(REPORTS),
    'top_n': 10,
    'dead_tuple_ratio': 0.2,
    'min_dead_tuples': 1000,
    'include_query_text': False,
}

STATUS_DONE = 'done'
STATUS_FAILED = 'failed'
STATUS_PLANNED = 'planned'

# pg_class.relkind values this module maintains
RELKINDS = {'r': 'table', 'p': 'partitioned table', 'm': 'materialized view'}
_OTHER_RELKINDS = {'v': 'view', 'i': 'index', 'I': 'partitioned index', 'S': 'sequence',
                   'f': 'foreign table', 'c': 'composite type', 't': 'TOAST table'}

REINDEX_CONCURRENTLY_MIN_VERSION = 120000  # PostgreSQL 12
REINDEX_PARTITIONED_MIN_VERSION = 140000   # PostgreSQL 14: REINDEX TABLE on a partitioned table
SYSTEM_CATALOG_SCHEMAS = ('pg_catalog', 'pg_toast')

TOP_N_MAX = 1000
QUERY_TEXT_CHARS = 1000

# A PostgreSQL duration as lock_timeout and statement_timeout accept it: a number and an
# optional time unit (no unit means milliseconds). The server validates it again.
_DURATION_RE = re.compile(r'^\s*([0-9]+(?:\.[0-9]+)?)\s*(us|ms|s|min|h|d)?\s*$')

Relation = collections.namedtuple('Relation', 'oid schema name relkind')


# -- pure helpers --------------------------------------------------------------


def parse_table_name(text):
    """Split ``schema.table`` or ``table`` into ``(schema or None, table)``.

    Names are catalog names, matched exactly (no case folding). A part that contains a
    dot must be double-quoted, with ``""`` for a quote inside: ``"my.schema"."t"``.
    Quotes are special only at the start of a part, so ``a"; DROP TABLE b; --`` is
    the single, literal name it looks like.
    """
    if not isinstance(text, str) or not text.strip():
        raise PostgresInputError('tables: empty table name %r' % (text,))
    parts = []
    pos = 0
    while True:
        if text.startswith('"', pos):
            end = pos + 1
            chars = []
            while True:
                quote = text.find('"', end)
                if quote < 0:
                    raise PostgresInputError('tables: unterminated double quote in %s' % _show(text))
                chars.append(text[end:quote])
                if text.startswith('"', quote + 1):
                    chars.append('"')
                    end = quote + 2
                    continue
                break
            parts.append(''.join(chars))
            pos = quote + 1
            if pos == len(text):
                break
            if text[pos] != '.':
                raise PostgresInputError('tables: unexpected text after a quoted name in %s' % _show(text))
            pos += 1
        else:
            dot = text.find('.', pos)
            if dot < 0:
                parts.append(text[pos:])
                break
            parts.append(text[pos:dot])
            pos = dot + 1
    if len(parts) > 2:
        raise PostgresInputError('tables: %s has more than two dot-separated parts; use schema.table, '
                                 'and double-quote a part that contains a dot ("my.schema".table)' % _show(text))
    if any(part == '' for part in parts):
        raise PostgresInputError('tables: %s has an empty schema or table name' % _show(text))
    if len(parts) == 1:
        return None, parts[0]
    return parts[0], parts[1]


def _show(name):
    return '"%s"' % name


def valid_duration(value):
    """Whether ``value`` looks like a PostgreSQL duration (``5s``, ``2min``, ``500ms``, ``0``)."""
    return isinstance(value, str) and bool(_DURATION_RE.match(value))


def duration_is_zero(value):
    """Whether a valid duration string means zero (no limit)."""
    return float(_DURATION_RE.match(value).group(1)) == 0


def validate_options(options):
    """Return messages for option values that cannot work, naming the option and the fix.

    Only what can be checked without a server; the server checks names and durations again.
    """
    problems = []
    operation = options.get('operation')
    if operation not in OPERATIONS:
        problems.append('operation must be one of %s, got %r' % (', '.join(OPERATIONS), operation))
    tables, schemas = options.get('tables'), options.get('schemas')
    if tables is not None and schemas is not None:
        problems.append('tables and schemas are mutually exclusive: give tables to name tables, schemas to take every table '
                        'of some schemas, or neither for every table of the database')
    for name, value in (('tables', tables), ('schemas', schemas)):
        if value is not None and not value:
            problems.append('%s is an empty list; omit it to maintain every table of the database' % name)
        elif value is not None and any(not isinstance(item, str) or not item.strip() for item in value):
            problems.append('%s must not contain empty names' % name)
    if tables:
        for table in tables:
            if isinstance(table, str) and table.strip():
                try:
                    parse_table_name(table)
                except PostgresInputError as exc:
                    problems.append(str(exc))
    for name in ('lock_timeout', 'statement_timeout'):
        value = options.get(name)
        if not valid_duration(value):
            problems.append('%s must be a PostgreSQL duration such as 5s, 2min, 500ms or 0 (0 means no limit), got %r' % (name, value))
    top_n = options.get('top_n')
    if not isinstance(top_n, int) or not 1 <= top_n <= TOP_N_MAX:
        problems.append('top_n must be between 1 and %d, got %r' % (TOP_N_MAX, top_n))
    ratio = options.get('dead_tuple_ratio')
    if not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        problems.append('dead_tuple_ratio is a fraction of all tuples and must be at least 0 and below 1 (0.2 means 20%%), got %r' % (ratio,))
    min_dead = options.get('min_dead_tuples')
    if not isinstance(min_dead, int) or min_dead < 0:
        problems.append('min_dead_tuples must be 0 or more, got %r' % (min_dead,))
    reports = options.get('reports') or []
    unknown_reports = [r for r in reports if r not in REPORTS]
    if unknown_reports:
        problems.append('reports: unknown %s; choose from %s' % (', '.join(unknown_reports), ', '.join(REPORTS)))
    return problems


def qualified_name(relation):
    """``schema.table`` for messages and results (not SQL: see ``relation_identifier``)."""
    return '%s.%s' % (relation.schema, relation.name)


def relation_identifier(relation):
    """The relation as a composable, quoted identifier."""
    return sql.Identifier(relation.schema, relation.name)


def reindex_concurrently(relation, server_version, concurrently):
    """Whether REINDEX of ``relation`` runs CONCURRENTLY; system catalogs never can."""
    return bool(concurrently) and server_version >= REINDEX_CONCURRENTLY_MIN_VERSION and relation.schema not in SYSTEM_CATALOG_SCHEMAS


def maintenance_statement(operation, relation, server_version, concurrently=True):
    """Compose the one statement ``operation`` runs on ``relation``. Never VACUUM FULL."""
    target = relation_identifier(relation)
    if operation == 'vacuum':
        return sql.SQL('VACUUM {}').format(target)
    if operation == 'vacuum_analyze':
        return sql.SQL('VACUUM (ANALYZE) {}').format(target)
    if operation == 'analyze':
        return sql.SQL('ANALYZE {}').format(target)
    if operation == 'reindex':
        if reindex_concurrently(relation, server_version, concurrently):
            return sql.SQL('REINDEX TABLE CONCURRENTLY {}').format(target)
        return sql.SQL('REINDEX TABLE {}').format(target)
    raise ValueError('operation %r runs no statement' % (operation,))


def drop_covered_partitions(relations, parent_of, parents_cover=True):
    """Drop partitions that an in-scope ancestor already covers.

    VACUUM, ANALYZE and (from PostgreSQL 14) REINDEX TABLE on a partitioned table process
    all its partitions, so listing both would do the work twice. When ``parents_cover``
    is false (REINDEX before 14), partitioned tables are dropped and partitions kept.
    ``parent_of`` maps a partition's oid to its parent's oid.
    """
    in_scope = {relation.oid for relation in relations}
    kept = []
    for relation in relations:
        if not parents_cover:
            if relation.relkind != 'p':
                kept.append(relation)
            continue
        ancestor = parent_of.get(relation.oid)
        seen = {relation.oid}
        covered = False
        while ancestor is not None and ancestor not in seen:
            if ancestor in in_scope:
                covered = True
                break
            seen.add(ancestor)
            ancestor = parent_of.get(ancestor)
        if not covered:
            kept.append(relation)
    return kept


def build_plan(operation, relations, server_version, concurrently=True):
    """Return ``[(relation, statement)]``, one statement per relation, in order."""
    if operation == 'none':
        return []
    return [(relation, maintenance_statement(operation, relation, server_version, concurrently)) for relation in relations]


def unique_relations(relations):
    """Relations in their first order, each oid once."""
    seen = set()
    unique = []
    for relation in relations:
        if relation.oid not in seen:
            seen.add(relation.oid)
            unique.append(relation)
    return unique


def not_found_message(option, names, database, search_schemas=None):
    """``tables: not found in database dsr_db: "x", "y"`` plus where bare names were looked up."""
    msg = '%s: not found in database %s: %s' % (option, database, ', '.join(_show(n) for n in names))
    if search_schemas is not None:
        msg += ('; names without a schema are looked up in the search_path schemas (%s); write schema.table for others'
                % (', '.join(search_schemas) or 'none'))
    return msg


def pg_message(exc):
    """The server's message of a psycopg2 error, with its hint, without the ERROR: prefix."""
    diag = getattr(exc, 'diag', None)
    primary = getattr(diag, 'message_primary', None)
    if not primary:
        return (getattr(exc, 'pgerror', None) or str(exc)).strip()
    hint = getattr(diag, 'message_hint', None)
    return '%s (%s)' % (primary, hint) if hint else primary


def _iso(value):
    return value.isoformat() if value is not None else None


# -- SQL ----------------------------------------------------------------------

_SET_CONFIG_SQL = 'SELECT set_config(%s, %s, false)'

_SERVER_SQL = """
SELECT current_database() AS database, current_user AS login_role,
       current_setting('server_version_num')::int AS version_num,
       current_schemas(false)::text[] AS search_schemas
"""

_RELATION_QUALIFIED_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(name)s
"""

# The first relation of that name along the search path, whatever its kind, as the
# server itself would resolve it; a view found first is reported, not skipped.
_RELATION_BARE_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind
FROM unnest(current_schemas(false)) WITH ORDINALITY AS s(nspname, position)
JOIN pg_namespace n ON n.nspname = s.nspname
JOIN pg_class c ON c.relnamespace = n.oid
WHERE c.relname = %(name)s
ORDER BY s.position
LIMIT 1
"""

_SCHEMAS_SQL = "SELECT nspname::text AS schema FROM pg_namespace WHERE nspname = ANY(%(schemas)s)"

_SCHEMA_TABLES_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname = ANY(%(schemas)s)
ORDER BY n.nspname, c.relname
"""

# User tables: names starting with pg_ are reserved for system schemas (pg_catalog,
# pg_toast, pg_temp_N, pg_toast_temp_N), so this excludes all of them.
_DATABASE_TABLES_SQL = """
SELECT c.oid::bigint AS oid, n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY n.nspname, c.relname
"""

_PARTITION_PARENTS_SQL = """
SELECT i.inhrelid::bigint AS oid, i.inhparent::bigint AS parent_oid
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE c.relispartition
"""

_STATEMENTS_EXTENSION_SQL = """
SELECT n.nspname::text AS schema, e.extversion AS version,
       ARRAY(SELECT a.attname::text FROM pg_attribute a JOIN pg_class v ON v.oid = a.attrelid
             WHERE v.relname = 'pg_stat_statements' AND v.relnamespace = e.extnamespace AND a.attnum > 0 AND NOT a.attisdropped) AS columns
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'
"""

_SLOW_QUERIES_SQL = """
SELECT s.queryid, pg_get_userbyid(s.userid)::text AS "user", s.calls,
       round({mean}::numeric, 3)::float8 AS mean_exec_time_ms,
       round({total}::numeric, 3)::float8 AS total_exec_time_ms,
       s.rows, CASE WHEN %(include_query_text)s THEN left(s.query, {chars}) END AS query
FROM {view} s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY {order} DESC NULLS LAST
LIMIT %(top_n)s
"""

_UNUSED_INDEXES_SQL = """
SELECT s.schemaname::text AS schema, s.relname::text AS "table", s.indexrelname::text AS index,
       pg_relation_size(s.indexrelid) AS size_bytes, s.idx_scan
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0
  AND i.indisvalid
  AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
ORDER BY pg_relation_size(s.indexrelid) DESC, 1, 2, 3
"""

_STATS_RESET_SQL = "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()"

_TABLES_NEEDING_VACUUM_SQL = """
SELECT schemaname::text AS schema, relname::text AS "table", n_live_tup, n_dead_tup,
       round(n_dead_tup::numeric / (n_live_tup + n_dead_tup), 4)::float8 AS dead_tuple_ratio,
       last_vacuum, last_autovacuum
FROM pg_stat_user_tables
WHERE n_dead_tup >= %(min_dead_tuples)s
  AND n_live_tup + n_dead_tup > 0
  AND n_dead_tup::float8 / (n_live_tup + n_dead_tup) > %(dead_tuple_ratio)s
ORDER BY n_dead_tup DESC, 1, 2
"""

_INVALID_INDEXES_SQL = """
SELECT n.nspname::text AS schema, t.relname::text AS "table", c.relname::text AS index,
       pg_relation_size(c.oid) AS size_bytes
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
ORDER BY 1, 2, 3
"""

# SQLSTATE 55000 object_not_in_prerequisite_state: the library is not preloaded
_NOT_PRELOADED = '55000'


# -- the run ------------------------------------------------------------------


class Maintenance:
    """Plan and run pg_maintenance over one autocommit connection.

    ``options`` is a dict shaped like DEFAULTS. ``clock`` (monotonic seconds) and
    ``render`` (``render(composed, conn) -> str``) are injectable for tests.
    """

    def __init__(self, options, check_mode=False, clock=time.monotonic, render=None):
        self.options = dict(DEFAULTS)
        self.options.update({k: v for k, v in options.items() if k in DEFAULTS})
        self.check_mode = check_mode
        self.clock = clock
        self.render = render or (lambda composed, conn: composed.as_string(conn))
        self.server = {}
        self.warnings = []

    def run(self, connect):
        """Connect with ``connect()`` -> (conn, seconds) and return the result dict.

        Raises PostgresInputError for names or settings the server rejects, and
        PostgresQueryError when a catalog lookup fails. A failed maintenance
        statement does not raise: the result has ``failed`` and ``msg``.
        """
        problems = validate_options(self.options)
        if problems:
            raise PostgresInputError('; '.join(problems))
        conn, dummy = connect()
        try:
            return self._run_connected(conn)
        finally:
            conn.close()

    # -- preparation ---------------------------------------------------------

    def _run_connected(self, conn):
        opts = self.options
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            self._set_session_guards(cur)
            try:
                cur.execute(_SERVER_SQL)
                self.server = dict(cur.fetchone())
                relations = self._resolve_scope(cur)
            except psycopg2.Error as exc:
                raise PostgresQueryError('catalog lookup failed: %s' % pg_message(exc)) from None
        version = self.server['version_num']
        if opts['operation'] == 'reindex' and opts['concurrently'] and version < REINDEX_CONCURRENTLY_MIN_VERSION:
            self.warnings.append('REINDEX runs without CONCURRENTLY, which needs PostgreSQL 12 or later (the server runs %d): '
                                 'writes to each table wait while its indexes are rebuilt' % (version // 10000))
        if opts['operation'] == 'reindex' and opts['concurrently'] and any(r.schema in SYSTEM_CATALOG_SCHEMAS for r in relations):
            self.warnings.append('system catalogs are reindexed without CONCURRENTLY, which PostgreSQL does not allow for them')
        plan = build_plan(opts['operation'], relations, version, opts['concurrently'])
        operations, queries, not_attempted, connection_lost = self._execute(conn, plan)
        reports = self._reports(conn, connection_lost)
        failed = [op for op in operations if op['status'] == STATUS_FAILED]
        result = {
            'changed': any(op['status'] in (STATUS_DONE, STATUS_PLANNED) for op in operations),
            'failed': bool(failed),
            'operation': opts['operation'],
            'database': self.server['database'],
            'server_version_num': version,
            'session_settings': {'lock_timeout': opts['lock_timeout'], 'statement_timeout': opts['statement_timeout']},
            'queries': queries,
            'operations': operations,
            'not_attempted': not_attempted,
            'reports': reports,
            'warnings': self.warnings,
        }
        result['msg'] = self._summary(operations, failed, not_attempted)
        return result

    def _set_session_guards(self, cur):
        for name in ('lock_timeout', 'statement_timeout'):
            value = self.options[name].strip()
            try:
                cur.execute(_SET_CONFIG_SQL, (name, value))
            except psycopg2.Error as exc:
                raise PostgresInputError('%s: the server rejected %r: %s; use a duration such as 5s, 2min, 500ms or 0'
                                         % (name, value, pg_message(exc))) from None
            row = cur.fetchone()
            applied = list(row.values())[0] if row else None
            if applied == '0' and not duration_is_zero(value):
                # the server counts in milliseconds: 400us would silently mean "no limit"
                raise PostgresInputError('%s: %r rounds to 0 milliseconds, which means no limit; use at least 1ms, or 0 for no limit'
                                         % (name, value))

    def _resolve_scope(self, cur):
        opts = self.options
        if opts['tables'] is not None:
            return self._resolve_tables(cur, opts['tables'])
        if opts['schemas'] is not None:
            schemas = list(dict.fromkeys(opts['schemas']))
            cur.execute(_SCHEMAS_SQL, {'schemas': schemas})
            found = {row['schema'] for row in cur.fetchall()}
            missing = [s for s in schemas if s not in found]
            if missing:
                raise PostgresInputError(not_found_message('schemas', missing, self.server['database']))
            cur.execute(_SCHEMA_TABLES_SQL, {'schemas': schemas})
        else:
            cur.execute(_DATABASE_TABLES_SQL)
        relations = [Relation(**row) for row in cur.fetchall()]
        cur.execute(_PARTITION_PARENTS_SQL)
        parent_of = {row['oid']: row['parent_oid'] for row in cur.fetchall()}
        parents_cover = opts['operation'] != 'reindex' or self.server['version_num'] >= REINDEX_PARTITIONED_MIN_VERSION
        return drop_covered_partitions(relations, parent_of, parents_cover)

    def _resolve_tables(self, cur, names):
        relations = []
        missing = []
        wrong_kind = []
        any_bare_missing = False
        for name in names:
            schema, table = parse_table_name(name)
            if schema is None:
                cur.execute(_RELATION_BARE_SQL, {'name': table})
            else:
                cur.execute(_RELATION_QUALIFIED_SQL, {'schema': schema, 'name': table})
            row = cur.fetchone()
            if row is None:
                missing.append(name)
                any_bare_missing = any_bare_missing or schema is None
                continue
            relation = Relation(**row)
            if relation.relkind not in RELKINDS:
                wrong_kind.append('%s (%s)' % (_show(qualified_name(relation)), _OTHER_RELKINDS.get(relation.relkind, relation.relkind)))
                continue
            relations.append(relation)
        database = self.server['database']
        problems = []
        if missing:
            problems.append(not_found_message('tables', missing, database, self.server['search_schemas'] if any_bare_missing else None))
        if wrong_kind:
            problems.append('tables: not a table or materialized view in database %s: %s' % (database, ', '.join(wrong_kind)))
        if problems:
            raise PostgresInputError('; '.join(problems))
        return unique_relations(relations)

    # -- execution -------------------------------------------------------------

    def _execute(self, conn, plan):
        """Run (or in check mode, list) each statement; return operations, queries, not attempted, lost."""
        operations = []
        queries = []
        for index, (relation, statement) in enumerate(plan):
            text = self.render(statement, conn)
            queries.append(text)
            entry = {
                'table': qualified_name(relation),
                'schema': relation.schema,
                'name': relation.name,
                'kind': RELKINDS[relation.relkind],
                'sql': text,
                'duration_seconds': None,
                'status': STATUS_PLANNED,
            }
            operations.append(entry)
            if self.check_mode:
                continue
            self._run_one(conn, statement, entry)
            if entry['status'] == STATUS_FAILED:
                lost = bool(conn.closed)
                if lost or not self.options['continue_on_error']:
                    rest = [qualified_name(r) for r, dummy in plan[index + 1:]]
                    return operations, queries, rest, lost
        return operations, queries, [], False

    def _run_one(self, conn, statement, entry):
        del conn.notices[:]
        started = self.clock()
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        except psycopg2.Error as exc:
            entry['status'] = STATUS_FAILED
            entry['error'] = pg_message(exc)
            if getattr(exc, 'pgcode', None):
                entry['sqlstate'] = exc.pgcode
        else:
            entry['status'] = STATUS_DONE
        entry['duration_seconds'] = round(self.clock() - started, 3)
        notices = [n.strip() for n in conn.notices]
        if notices:
            # VACUUM and ANALYZE skip tables the role may not maintain with only a WARNING
            entry['notices'] = notices
            self.warnings.extend('%s: %s' % (entry['table'], n) for n in notices if n.startswith('WARNING'))

    def _summary(self, operations, failed, not_attempted):
        opts = self.options
        if opts['operation'] == 'none':
            return 'reports only, no maintenance statement run'
        if self.check_mode:
            return 'check mode: %d %s statements planned, none run' % (len(operations), opts['operation'])
        done = sum(1 for op in operations if op['status'] == STATUS_DONE)
        if not failed:
            return '%d %s statements run' % (done, opts['operation'])
        details = '; '.join('%s failed: %s' % (op['sql'], op['error']) for op in failed)
        msg = '%d of %d maintenance statements failed: %s; %d done' % (len(failed), len(operations), details, done)
        if not_attempted:
            msg += ', %d not attempted (%s)' % (len(not_attempted), ', '.join(not_attempted))
        if any(op.get('sqlstate') == '55P03' for op in failed):
            msg += '; lock_timeout is %s: run at a quieter time or raise lock_timeout' % opts['lock_timeout']
        elif any(op.get('sqlstate') == '57014' for op in failed):
            msg += '; statement_timeout is %s: raise it or set it to 0' % opts['statement_timeout']
        if not opts['continue_on_error'] and not_attempted:
            msg += '; set continue_on_error=true to go on after a failure'
        return msg

    # -- reports ---------------------------------------------------------------

    def _reports(self, conn, connection_lost):
        reports = {}
        for name in REPORTS:
            if name not in self.options['reports']:
                continue
            if connection_lost or conn.closed:
                reports[name] = {'available': False, 'reason': 'not gathered: the connection to the server was lost', 'items': []}
                continue
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                    reports[name] = getattr(self, '_report_' + name)(cur)
            except psycopg2.Error as exc:
                reports[name] = {'available': False, 'reason': 'query failed: %s' % pg_message(exc), 'items': []}
        return reports

    def _report_slow_queries(self, cur):
        database = self.server['database']
        cur.execute(_STATEMENTS_EXTENSION_SQL)
        extension = cur.fetchone()
        if extension is None:
            return {'available': False, 'items': [], 'by_total_exec_time': [],
                    'reason': 'the pg_stat_statements extension is not installed in database %s: run CREATE EXTENSION pg_stat_statements '
                              'in it as a superuser (the server must also have pg_stat_statements in shared_preload_libraries)' % database}
        columns = extension['columns']
        if 'mean_exec_time' in columns:
            mean, total = 'mean_exec_time', 'total_exec_time'
        else:
            # pg_stat_statements before 1.8 (PostgreSQL 12 and older)
            mean, total = 'mean_time', 'total_time'
        ranked = {}
        for key, order in (('items', mean), ('by_total_exec_time', total)):
            query = sql.SQL(_SLOW_QUERIES_SQL).format(
                mean=sql.Identifier('s', mean), total=sql.Identifier('s', total), order=sql.Identifier('s', order),
                view=sql.Identifier(extension['schema'], 'pg_stat_statements'), chars=sql.Literal(QUERY_TEXT_CHARS))
            try:
                cur.execute(query, {'top_n': self.options['top_n'], 'include_query_text': bool(self.options['include_query_text'])})
            except psycopg2.Error as exc:
                if getattr(exc, 'pgcode', None) == _NOT_PRELOADED:
                    return {'available': False, 'items': [], 'by_total_exec_time': [],
                            'reason': 'pg_stat_statements is installed in database %s but the server did not load its library: add '
                                      'pg_stat_statements to shared_preload_libraries in postgresql.conf and restart PostgreSQL' % database}
                raise
            ranked[key] = [self._statement_view(row) for row in cur.fetchall()]
        return {'available': True, 'extension_version': extension['version'], **ranked}

    def _statement_view(self, row):
        view = {
            'queryid': row['queryid'],
            'user': row['user'],
            'calls': row['calls'],
            'mean_exec_time_ms': row['mean_exec_time_ms'],
            'total_exec_time_ms': row['total_exec_time_ms'],
            'rows': row['rows'],
        }
        if self.options['include_query_text']:
            view['query'] = row['query']
        return view

    def _report_unused_indexes(self, cur):
        cur.execute(_STATS_RESET_SQL)
        row = cur.fetchone()
        cur.execute(_UNUSED_INDEXES_SQL)
        items = [dict(r) for r in cur.fetchall()]
        return {'available': True, 'stats_reset': _iso(row['stats_reset']) if row else None, 'items': items}

    def _report_tables_needing_vacuum(self, cur):
        cur.execute(_TABLES_NEEDING_VACUUM_SQL, {'min_dead_tuples': self.options['min_dead_tuples'],
                                                 'dead_tuple_ratio': float(self.options['dead_tuple_ratio'])})
        items = []
        for row in cur.fetchall():
            item = dict(row)
            item['last_vacuum'] = _iso(item['last_vacuum'])
            item['last_autovacuum'] = _iso(item['last_autovacuum'])
            items.append(item)
        return {'available': True, 'dead_tuple_ratio': self.options['dead_tuple_ratio'],
                'min_dead_tuples': self.options['min_dead_tuples'], 'items': items}

    def _report_invalid_indexes(self, cur):
        cur.execute(_INVALID_INDEXES_SQL)
        items = [dict(r) for r in cur.fetchall()]
        return {'available': True, 'items': items}
