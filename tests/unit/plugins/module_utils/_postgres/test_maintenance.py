# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests of the pg_maintenance backend: parsing, validation, SQL composition, planning.

A run is exercised against a small fake connection that answers the catalog queries
with canned rows and records every statement; no server is needed.
"""

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils import _deps
from ansible_collections.dsr.ops.plugins.module_utils._postgres import maintenance as mt
from ansible_collections.dsr.ops.plugins.module_utils._postgres.connection import PostgresInputError, PostgresQueryError
from ansible_collections.dsr.ops.plugins.module_utils._postgres.maintenance import (
    DEFAULTS,
    Relation,
    build_plan,
    drop_covered_partitions,
    maintenance_statement,
    not_found_message,
    parse_table_name,
    reindex_concurrently,
    unique_relations,
    valid_duration,
    validate_options,
)

if _deps.HAS_PSYCOPG2:
    import psycopg2
    from psycopg2 import sql

needs_psycopg2 = pytest.mark.skipif(not _deps.HAS_PSYCOPG2, reason='psycopg2 is needed to compose SQL')

HOSTILE = 'a"; DROP TABLE b; --'
HOUSEHOLDS = Relation(101, 'public', 'households', 'r')
MEMBERS = Relation(102, 'public', 'household_members', 'r')
SUMMARY = Relation(103, 'reporting', 'region_summary', 'm')
EVIL = Relation(104, 'maint_test', HOSTILE, 'r')
PG_CLASS = Relation(1259, 'pg_catalog', 'pg_class', 'r')


# -- a renderer for composed SQL, as libpq would quote identifiers ---------------------


def render(composed, conn=None):
    """Render psycopg2.sql objects without a connection (identifiers quoted like libpq)."""
    if isinstance(composed, sql.Composed):
        return ''.join(render(part) for part in composed.seq)
    if isinstance(composed, sql.Identifier):
        return '.'.join('"%s"' % s.replace('"', '""') for s in composed.strings)
    if isinstance(composed, sql.SQL):
        return composed.string
    if isinstance(composed, sql.Literal):
        return repr(composed.wrapped)
    raise TypeError(composed)


def identifiers(composed):
    """Every Identifier inside a composed statement, as tuples of raw strings."""
    if isinstance(composed, sql.Composed):
        return [ident for part in composed.seq for ident in identifiers(part)]
    if isinstance(composed, sql.Identifier):
        return [composed.strings]
    return []


# -- table names -------------------------------------------------------------------------


@pytest.mark.parametrize('text, expected', [
    ('households', (None, 'households')),
    ('public.households', ('public', 'households')),
    ('Public.Households', ('Public', 'Households')),
    ('"my.schema".households', ('my.schema', 'households')),
    ('public."with.dot"', ('public', 'with.dot')),
    ('"a""b"."c"', ('a"b', 'c')),
    ('"only quoted"', (None, 'only quoted')),
    (HOSTILE, (None, HOSTILE)),
    ('maint_test.' + HOSTILE, ('maint_test', HOSTILE)),
    ('maint_test."a""; DROP TABLE maint_test.b; --"', ('maint_test', 'a"; DROP TABLE maint_test.b; --')),
    ('households; DROP TABLE x', (None, 'households; DROP TABLE x')),
])
def test_parse_table_name(text, expected):
    assert parse_table_name(text) == expected


@pytest.mark.parametrize('text, fragment', [
    ('', 'empty table name'),
    ('   ', 'empty table name'),
    (None, 'empty table name'),
    ('a.b.c', 'more than two dot-separated parts'),
    ('households; DROP TABLE maint_test.b; --x.y', 'more than two dot-separated parts'),
    ('.households', 'empty schema or table name'),
    ('public.', 'empty schema or table name'),
    ('"unterminated', 'unterminated double quote'),
    ('"a"b', 'unexpected text after a quoted name'),
])
def test_parse_table_name_rejects(text, fragment):
    with pytest.raises(PostgresInputError) as exc:
        parse_table_name(text)
    assert fragment in str(exc.value)
    assert str(exc.value).startswith('tables: ')


# -- option validation ------------------------------------------------------------------


@pytest.mark.parametrize('value', ['5s', '2min', '500ms', '0', ' 10 s ', '1.5h', '3d', '100us', '250'])
def test_valid_duration(value):
    assert valid_duration(value)


@pytest.mark.parametrize('value', ['soon', '-1', '5 parsecs', '5m', '', ' ', '5s; SELECT 1', None, 5])
def test_invalid_duration(value):
    assert not valid_duration(value)


def test_defaults_are_valid():
    assert validate_options(dict(DEFAULTS)) == []


@pytest.mark.parametrize('changes, fragment', [
    ({'operation': 'vacuum_full'}, 'operation must be one of'),
    ({'tables': ['a'], 'schemas': ['b']}, 'tables and schemas are mutually exclusive'),
    ({'tables': []}, 'tables is an empty list'),
    ({'schemas': []}, 'schemas is an empty list'),
    ({'tables': ['ok', '']}, 'tables must not contain empty names'),
    ({'tables': ['a.b.c']}, 'more than two dot-separated parts'),
    ({'lock_timeout': 'soon'}, "lock_timeout must be a PostgreSQL duration such as 5s, 2min, 500ms or 0 (0 means no limit), got 'soon'"),
    ({'statement_timeout': '-5s'}, 'statement_timeout must be a PostgreSQL duration'),
    ({'top_n': 0}, 'top_n must be between 1 and 1000, got 0'),
    ({'top_n': 1001}, 'top_n must be between 1 and 1000'),
    ({'dead_tuple_ratio': 1}, 'dead_tuple_ratio is a fraction'),
    ({'dead_tuple_ratio': -0.1}, 'dead_tuple_ratio is a fraction'),
    ({'min_dead_tuples': -1}, 'min_dead_tuples must be 0 or more'),
    ({'reports': ['slow_queries', 'bloat']}, 'reports: unknown bloat'),
])
def test_validate_options_names_the_option(changes, fragment):
    options = dict(DEFAULTS)
    options.update(changes)
    problems = validate_options(options)
    assert len(problems) == 1
    assert fragment in problems[0]


def test_validate_options_reports_every_problem():
    options = dict(DEFAULTS, top_n=0, dead_tuple_ratio=2.0, lock_timeout='x')
    assert len(validate_options(options)) == 3


def test_not_found_message():
    assert not_found_message('tables', ['households; DROP TABLE x'], 'dsr_db') == 'tables: not found in database dsr_db: "households; DROP TABLE x"'
    msg = not_found_message('tables', ['a', 'b'], 'dsr_db', ['public', 'app'])
    assert msg.startswith('tables: not found in database dsr_db: "a", "b"; ')
    assert 'search_path schemas (public, app)' in msg


# -- SQL composition ----------------------------------------------------------------------


@needs_psycopg2
@pytest.mark.parametrize('operation, expected', [
    ('vacuum', 'VACUUM "public"."households"'),
    ('vacuum_analyze', 'VACUUM (ANALYZE) "public"."households"'),
    ('analyze', 'ANALYZE "public"."households"'),
    ('reindex', 'REINDEX TABLE CONCURRENTLY "public"."households"'),
])
def test_maintenance_statement(operation, expected):
    statement = maintenance_statement(operation, HOUSEHOLDS, 150018)
    assert render(statement) == expected
    assert 'FULL' not in render(statement)


@needs_psycopg2
@pytest.mark.parametrize('operation', ['vacuum', 'vacuum_analyze', 'analyze', 'reindex'])
def test_hostile_name_is_one_identifier(operation):
    statement = maintenance_statement(operation, EVIL, 150018)
    # the name travels only as an Identifier, never as SQL text
    assert identifiers(statement) == [('maint_test', HOSTILE)]
    assert render(statement).endswith('"maint_test"."a""; DROP TABLE b; --"')


@pytest.mark.parametrize('relation, version, concurrently, expected', [
    (HOUSEHOLDS, 150018, True, True),
    (HOUSEHOLDS, 120000, True, True),
    (HOUSEHOLDS, 110022, True, False),
    (HOUSEHOLDS, 150018, False, False),
    (PG_CLASS, 150018, True, False),
    (Relation(5, 'pg_toast', 'pg_toast_1255', 'r'), 150018, True, False),
])
def test_reindex_concurrently(relation, version, concurrently, expected):
    assert reindex_concurrently(relation, version, concurrently) is expected


@needs_psycopg2
@pytest.mark.parametrize('relation, version, concurrently, expected', [
    (HOUSEHOLDS, 110022, True, 'REINDEX TABLE "public"."households"'),
    (HOUSEHOLDS, 150018, False, 'REINDEX TABLE "public"."households"'),
    (PG_CLASS, 150018, True, 'REINDEX TABLE "pg_catalog"."pg_class"'),
])
def test_reindex_without_concurrently(relation, version, concurrently, expected):
    assert render(maintenance_statement('reindex', relation, version, concurrently)) == expected


@needs_psycopg2
def test_none_runs_no_statement():
    with pytest.raises(ValueError):
        maintenance_statement('none', HOUSEHOLDS, 150018)
    assert build_plan('none', [HOUSEHOLDS, MEMBERS], 150018) == []


@needs_psycopg2
def test_build_plan_one_statement_per_table_in_order():
    plan = build_plan('vacuum_analyze', [MEMBERS, SUMMARY, HOUSEHOLDS], 150018)
    assert [relation for relation, dummy in plan] == [MEMBERS, SUMMARY, HOUSEHOLDS]
    assert [render(statement) for dummy, statement in plan] == [
        'VACUUM (ANALYZE) "public"."household_members"',
        'VACUUM (ANALYZE) "reporting"."region_summary"',
        'VACUUM (ANALYZE) "public"."households"',
    ]


def test_unique_relations_keeps_first_order():
    assert unique_relations([MEMBERS, HOUSEHOLDS, MEMBERS]) == [MEMBERS, HOUSEHOLDS]


# -- partitions ----------------------------------------------------------------------------

EVENTS = Relation(200, 'app', 'events', 'p')
EVENTS_2024 = Relation(201, 'app', 'events_2024', 'p')
EVENTS_2024_Q1 = Relation(202, 'app', 'events_2024_q1', 'r')
EVENTS_2025 = Relation(203, 'app', 'events_2025', 'r')
PARENTS = {201: 200, 202: 201, 203: 200}


def test_partitioned_table_covers_its_partitions():
    relations = [EVENTS, EVENTS_2024, EVENTS_2024_Q1, EVENTS_2025, HOUSEHOLDS]
    assert drop_covered_partitions(relations, PARENTS) == [EVENTS, HOUSEHOLDS]


def test_partitions_kept_when_their_ancestors_are_out_of_scope():
    # a schema holding only partitions: their parent lives elsewhere
    assert drop_covered_partitions([EVENTS_2024_Q1, EVENTS_2025], PARENTS) == [EVENTS_2024_Q1, EVENTS_2025]


def test_grandparent_in_scope_covers_across_a_missing_level():
    assert drop_covered_partitions([EVENTS, EVENTS_2024_Q1], PARENTS) == [EVENTS]


def test_reindex_before_14_lists_partitions_instead_of_parents():
    relations = [EVENTS, EVENTS_2024, EVENTS_2024_Q1, EVENTS_2025]
    assert drop_covered_partitions(relations, PARENTS, parents_cover=False) == [EVENTS_2024_Q1, EVENTS_2025]


def test_parent_cycle_does_not_hang():
    assert drop_covered_partitions([HOUSEHOLDS], {101: 102, 102: 101}) == [HOUSEHOLDS]


# -- a run against a fake connection ------------------------------------------------------


if _deps.HAS_PSYCOPG2:
    class LockTimeout(psycopg2.OperationalError):
        pgcode = '55P03'

    class NotPreloaded(psycopg2.OperationalError):
        pgcode = '55000'

    class BadSetting(psycopg2.DataError):
        pgcode = '22023'


class FakeCursor:
    def __init__(self, conn):
        self.conn = conn
        self.rows = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, query, params=None):
        self.conn.executed.append((query, params))
        self.rows = self.conn.respond(query, params)

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def fetchall(self):
        return list(self.rows)


class FakeConnection:
    """Answers the backend's catalog queries; records and optionally fails statements."""

    def __init__(self, tables=(), partitions=None, fail=None, extension=True, preloaded=True, version=150018):
        self.executed = []
        self.notices = []
        self.closed = 0
        self.tables = list(tables)
        self.partitions = partitions or {}
        self.fail = fail or {}
        self.extension = extension
        self.preloaded = preloaded
        self.version = version
        self.settings_rejected = {}

    def cursor(self, cursor_factory=None):
        return FakeCursor(self)

    def close(self):
        self.closed = 1

    @property
    def maintenance(self):
        return [render(q) for q, dummy in self.executed if isinstance(q, sql.Composed) and 'pg_stat_statements' not in render(q)]

    def _sorted(self):
        return sorted(self.tables, key=lambda r: (r.schema, r.name))

    def _relation_row(self, relation):
        return dict(relation._asdict())

    def respond(self, query, params):
        if isinstance(query, sql.Composed):
            text = render(query)
            if 'pg_stat_statements' in text:
                if not self.preloaded:
                    raise NotPreloaded('pg_stat_statements must be loaded via shared_preload_libraries')
                return [{'queryid': 42, 'user': 'dsr_app', 'calls': 3, 'mean_exec_time_ms': 12.5,
                         'total_exec_time_ms': 37.5, 'rows': 3, 'query': params['include_query_text'] and 'SELECT 1' or None}]
            if text in self.fail:
                raise self.fail[text]
            if text.startswith('VACUUM') and 'WARN' in text:
                self.notices.append('WARNING:  skipping "warn" --- only table or database owner can vacuum it\n')
            return []
        if query == mt._SET_CONFIG_SQL:
            name, value = params
            if name in self.settings_rejected:
                raise BadSetting(self.settings_rejected[name])
            return [{'set_config': value}]
        if query == mt._SERVER_SQL:
            return [{'database': 'dsr_db', 'login_role': 'dsr_app', 'version_num': self.version, 'search_schemas': ['public']}]
        if query == mt._RELATION_QUALIFIED_SQL:
            return [self._relation_row(r) for r in self.tables if (r.schema, r.name) == (params['schema'], params['name'])][:1]
        if query == mt._RELATION_BARE_SQL:
            return [self._relation_row(r) for r in self.tables if r.schema == 'public' and r.name == params['name']][:1]
        if query == mt._SCHEMAS_SQL:
            return [{'schema': s} for s in sorted({r.schema for r in self.tables}) if s in params['schemas']]
        if query == mt._SCHEMA_TABLES_SQL:
            return [self._relation_row(r) for r in self._sorted() if r.schema in params['schemas'] and r.relkind in mt.RELKINDS]
        if query == mt._DATABASE_TABLES_SQL:
            return [self._relation_row(r) for r in self._sorted() if not r.schema.startswith('pg_') and r.relkind in mt.RELKINDS]
        if query == mt._PARTITION_PARENTS_SQL:
            return [{'oid': child, 'parent_oid': parent} for child, parent in self.partitions.items()]
        if query == mt._STATEMENTS_EXTENSION_SQL:
            if not self.extension:
                return []
            return [{'schema': 'public', 'version': '1.10', 'columns': ['queryid', 'mean_exec_time', 'total_exec_time']}]
        if query in (mt._UNUSED_INDEXES_SQL, mt._TABLES_NEEDING_VACUUM_SQL, mt._INVALID_INDEXES_SQL):
            return []
        if query == mt._STATS_RESET_SQL:
            return [{'stats_reset': None}]
        raise AssertionError('unexpected query %r' % (query,))


class Clock:
    def __init__(self, step=0.5):
        self.now = 100.0
        self.step = step

    def __call__(self):
        self.now += self.step
        return self.now


def run(options, conn, check_mode=False):
    runner = mt.Maintenance(options, check_mode=check_mode, clock=Clock(), render=render)
    return runner.run(lambda: (conn, 0.01))


TABLES = [HOUSEHOLDS, MEMBERS, Relation(105, 'public', 'households_view', 'v'), EVENTS, EVENTS_2024, EVENTS_2024_Q1, EVENTS_2025]


@needs_psycopg2
def test_check_mode_plans_the_same_and_runs_nothing():
    applied = run({'schemas': ['public', 'app']}, FakeConnection(TABLES, PARENTS))
    conn = FakeConnection(TABLES, PARENTS)
    checked = run({'schemas': ['public', 'app']}, conn, check_mode=True)
    assert conn.maintenance == []
    assert checked['changed'] is True
    assert checked['failed'] is False
    assert [op['status'] for op in checked['operations']] == ['planned'] * 3
    assert checked['queries'] == applied['queries'] == [
        'VACUUM (ANALYZE) "app"."events"',
        'VACUUM (ANALYZE) "public"."household_members"',
        'VACUUM (ANALYZE) "public"."households"',
    ]
    assert [op['duration_seconds'] for op in checked['operations']] == [None] * 3
    # the session guards are set in check mode too: same path, and the server validates them
    assert (mt._SET_CONFIG_SQL, ('lock_timeout', '5s')) in conn.executed
    assert (mt._SET_CONFIG_SQL, ('statement_timeout', '0')) in conn.executed
    assert conn.closed


@needs_psycopg2
def test_apply_runs_each_statement_timed():
    conn = FakeConnection(TABLES, PARENTS)
    result = run({'tables': ['households', 'public.household_members', 'households'], 'operation': 'analyze'}, conn)
    assert conn.maintenance == ['ANALYZE "public"."households"', 'ANALYZE "public"."household_members"']
    assert result['queries'] == conn.maintenance
    assert [op['status'] for op in result['operations']] == ['done', 'done']
    assert [op['duration_seconds'] for op in result['operations']] == [0.5, 0.5]
    assert result['operations'][0]['table'] == 'public.households'
    assert result['changed'] is True
    assert result['msg'] == '2 analyze statements run'


@needs_psycopg2
def test_operation_none_changes_nothing():
    conn = FakeConnection(TABLES, PARENTS)
    result = run({'operation': 'none'}, conn, check_mode=True)
    assert result['changed'] is False
    assert result['operations'] == [] and result['queries'] == []
    assert sorted(result['reports']) == sorted(mt.REPORTS)


@needs_psycopg2
def test_whole_database_scope_skips_views_and_covered_partitions():
    result = run({'operation': 'vacuum'}, FakeConnection(TABLES + [PG_CLASS], PARENTS), check_mode=True)
    assert [op['table'] for op in result['operations']] == ['app.events', 'public.household_members', 'public.households']


@needs_psycopg2
def test_unknown_tables_fail_before_any_statement():
    conn = FakeConnection(TABLES)
    with pytest.raises(PostgresInputError) as exc:
        run({'tables': ['households', 'households; DROP TABLE x', 'public.nope', 'households_view']}, conn)
    msg = str(exc.value)
    assert msg.startswith('tables: not found in database dsr_db: "households; DROP TABLE x", "public.nope"; ')
    assert 'search_path schemas (public)' in msg
    assert 'tables: not a table or materialized view in database dsr_db: "public.households_view" (view)' in msg
    assert conn.maintenance == []


@needs_psycopg2
def test_unknown_schemas_fail():
    with pytest.raises(PostgresInputError, match=r'^schemas: not found in database dsr_db: "nope"$'):
        run({'schemas': ['public', 'nope']}, FakeConnection(TABLES))


@needs_psycopg2
def test_invalid_options_fail_before_connecting():
    def connect():
        raise AssertionError('must not connect')
    runner = mt.Maintenance({'tables': ['a'], 'schemas': ['b'], 'top_n': 0})
    with pytest.raises(PostgresInputError) as exc:
        runner.run(connect)
    assert 'mutually exclusive' in str(exc.value) and 'top_n' in str(exc.value)


@needs_psycopg2
def test_setting_rejected_by_server_names_the_option():
    conn = FakeConnection(TABLES)
    conn.settings_rejected['lock_timeout'] = 'invalid value for parameter "lock_timeout": "99999999d"'
    with pytest.raises(PostgresInputError, match=r"^lock_timeout: the server rejected '99999999d'"):
        run({'lock_timeout': '99999999d'}, conn)


@needs_psycopg2
def test_duration_rounded_to_zero_is_refused():
    class Rounding(FakeConnection):
        def respond(self, query, params):
            if query == mt._SET_CONFIG_SQL and params == ('lock_timeout', '400us'):
                return [{'set_config': '0'}]
            return super().respond(query, params)

    with pytest.raises(PostgresInputError, match=r"^lock_timeout: '400us' rounds to 0 milliseconds, which means no limit"):
        run({'lock_timeout': '400us'}, Rounding(TABLES))
    assert run({'lock_timeout': '0', 'operation': 'none', 'reports': []}, FakeConnection(TABLES))['changed'] is False


@needs_psycopg2
def test_failure_stops_and_lists_what_was_done():
    failing = 'VACUUM "public"."household_members"'
    conn = FakeConnection(TABLES, fail={failing: LockTimeout('canceling statement due to lock timeout')})
    result = run({'tables': ['households', 'household_members', 'app.events'], 'operation': 'vacuum'}, conn)
    assert result['failed'] is True
    assert result['changed'] is True
    assert [op['status'] for op in result['operations']] == ['done', 'failed']
    assert result['operations'][1]['error'] == 'canceling statement due to lock timeout'
    assert result['operations'][1]['sqlstate'] == '55P03'
    assert result['not_attempted'] == ['app.events']
    assert result['queries'] == ['VACUUM "public"."households"', failing]
    assert 'lock_timeout is 5s' in result['msg']
    assert 'continue_on_error' in result['msg']
    # the reports are still gathered on the healthy connection
    assert result['reports']['invalid_indexes']['available'] is True


@needs_psycopg2
def test_continue_on_error_goes_on_and_still_fails():
    failing = 'VACUUM "public"."household_members"'
    conn = FakeConnection(TABLES, fail={failing: LockTimeout('canceling statement due to lock timeout')})
    result = run({'tables': ['households', 'household_members', 'app.events'], 'operation': 'vacuum', 'continue_on_error': True}, conn)
    assert result['failed'] is True
    assert [op['status'] for op in result['operations']] == ['done', 'failed', 'done']
    assert result['not_attempted'] == []


@needs_psycopg2
def test_lost_connection_stops_even_with_continue_on_error():
    failing = 'VACUUM "public"."households"'

    class Lost(FakeConnection):
        def respond(self, query, params):
            if isinstance(query, sql.Composed) and render(query) == failing:
                self.closed = 2
                raise psycopg2.OperationalError('server closed the connection unexpectedly')
            return super().respond(query, params)

    result = run({'tables': ['households', 'household_members'], 'operation': 'vacuum', 'continue_on_error': True}, Lost(TABLES))
    assert [op['status'] for op in result['operations']] == ['failed']
    assert result['not_attempted'] == ['public.household_members']
    assert all(not report['available'] for report in result['reports'].values())
    assert 'connection to the server was lost' in result['reports']['slow_queries']['reason']


@needs_psycopg2
def test_server_warnings_are_kept_and_passed_on():
    conn = FakeConnection([Relation(300, 'public', 'WARN', 'r')])
    result = run({'tables': ['WARN'], 'operation': 'vacuum', 'reports': []}, conn)
    assert result['operations'][0]['status'] == 'done'
    assert result['operations'][0]['notices'] == ['WARNING:  skipping "warn" --- only table or database owner can vacuum it']
    assert result['warnings'] == ['public.WARN: WARNING:  skipping "warn" --- only table or database owner can vacuum it']


@needs_psycopg2
def test_reindex_warns_without_concurrently_support():
    conn = FakeConnection(TABLES, version=110022)
    result = run({'tables': ['households'], 'operation': 'reindex', 'reports': []}, conn, check_mode=True)
    assert result['queries'] == ['REINDEX TABLE "public"."households"']
    assert any('needs PostgreSQL 12 or later (the server runs 11)' in w for w in result['warnings'])


@needs_psycopg2
def test_reindex_before_14_plans_partitions():
    conn = FakeConnection(TABLES, PARENTS, version=130010)
    result = run({'schemas': ['app'], 'operation': 'reindex', 'reports': []}, conn, check_mode=True)
    assert [op['name'] for op in result['operations']] == ['events_2024_q1', 'events_2025']


# -- reports ---------------------------------------------------------------------------------


@needs_psycopg2
def test_slow_queries_without_the_extension():
    result = run({'operation': 'none', 'reports': ['slow_queries']}, FakeConnection(TABLES, extension=False))
    report = result['reports']['slow_queries']
    assert report['available'] is False
    assert 'CREATE EXTENSION pg_stat_statements' in report['reason']
    assert report['items'] == []


@needs_psycopg2
def test_slow_queries_installed_but_not_preloaded():
    result = run({'operation': 'none', 'reports': ['slow_queries']}, FakeConnection(TABLES, preloaded=False))
    report = result['reports']['slow_queries']
    assert report['available'] is False
    assert 'shared_preload_libraries' in report['reason']
    assert 'restart' in report['reason']


@needs_psycopg2
@pytest.mark.parametrize('include, has_text', [(False, False), (True, True)])
def test_slow_queries_query_text_only_on_request(include, has_text):
    conn = FakeConnection(TABLES)
    result = run({'operation': 'none', 'reports': ['slow_queries'], 'include_query_text': include, 'top_n': 5}, conn)
    report = result['reports']['slow_queries']
    assert report['available'] is True
    assert ('query' in report['items'][0]) is has_text
    assert ('query' in report['by_total_exec_time'][0]) is has_text
    texts = [render(q) for q, dummy in conn.executed if isinstance(q, sql.Composed)]
    assert any('ORDER BY "s"."mean_exec_time" DESC' in t for t in texts)
    assert any('ORDER BY "s"."total_exec_time" DESC' in t for t in texts)
    assert all(params['top_n'] == 5 for q, params in conn.executed if isinstance(q, sql.Composed))


@needs_psycopg2
def test_slow_queries_on_old_extension_uses_old_columns():
    class Old(FakeConnection):
        def respond(self, query, params):
            if query == mt._STATEMENTS_EXTENSION_SQL:
                return [{'schema': 'monitoring', 'version': '1.7', 'columns': ['queryid', 'mean_time', 'total_time']}]
            return super().respond(query, params)

    conn = Old(TABLES)
    run({'operation': 'none', 'reports': ['slow_queries']}, conn)
    texts = [render(q) for q, dummy in conn.executed if isinstance(q, sql.Composed)]
    assert any('"s"."mean_time"' in t and 'FROM "monitoring"."pg_stat_statements" s' in t for t in texts)


@needs_psycopg2
def test_a_failing_report_is_unavailable_not_an_error():
    class Denied(FakeConnection):
        def respond(self, query, params):
            if query == mt._INVALID_INDEXES_SQL:
                raise psycopg2.ProgrammingError('permission denied for table pg_index')
            return super().respond(query, params)

    result = run({'operation': 'none'}, Denied(TABLES))
    expected = {'available': False, 'items': [], 'reason': 'query failed: permission denied for table pg_index'}
    assert result['reports']['invalid_indexes'] == expected
    assert result['reports']['unused_indexes']['available'] is True


@needs_psycopg2
def test_catalog_failure_is_a_query_error():
    class Broken(FakeConnection):
        def respond(self, query, params):
            if query == mt._DATABASE_TABLES_SQL:
                raise psycopg2.OperationalError('canceling statement due to statement timeout')
            return super().respond(query, params)

    with pytest.raises(PostgresQueryError, match='catalog lookup failed'):
        run({}, Broken(TABLES))
