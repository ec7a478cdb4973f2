# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._textfile.exposition import (
    Family,
    escape_help,
    escape_label_value,
    format_value,
    gauge_name_problem,
    label_name_problem,
    render,
)


@pytest.mark.parametrize('raw, escaped', [
    ('plain', 'plain'),
    ('back\\slash', 'back\\\\slash'),
    ('a "quoted" word', 'a \\"quoted\\" word'),
    ('two\nlines', 'two\\nlines'),
    ('\\"\n', '\\\\\\"\\n'),
    ('tab\tand ünïcode', 'tab\tand ünïcode'),
])
def test_label_values_escape_backslash_quote_and_newline(raw, escaped):
    assert escape_label_value(raw) == escaped


def test_help_escapes_backslash_and_newline_but_not_quotes():
    assert escape_help('a\\b\n"c"') == 'a\\\\b\\n"c"'


@pytest.mark.parametrize('value, text', [(0, '0'), (12, '12'), (2.0, '2'), (0.1, '0.1'), (842.5, '842.5'), (1e-05, '1e-05'),
                                         (1234567890123456789, '1234567890123456789'), (-3.25, '-3.25'), (1e20, '1e+20')])
def test_values(value, text):
    assert format_value(value) == text
    assert (int(text) if isinstance(value, int) else float(text)) == value


@pytest.mark.parametrize('value', [float('nan'), float('inf'), float('-inf')])
def test_non_finite_values_are_refused(value):
    with pytest.raises(ValueError):
        format_value(value)


@pytest.mark.parametrize('value', [True, '1', None])
def test_non_numbers_are_refused(value):
    with pytest.raises(TypeError):
        format_value(value)


def test_families_and_samples_are_sorted_with_help_and_type_once():
    b = Family('dsr_b', 'B.')
    a = Family('dsr_a', 'A\nhelp.')
    assert b.add({'z': '1', 'a': 'x'}, 2)
    assert b.add({'a': 'w', 'z': '9'}, 1)
    assert not b.add({'z': '1', 'a': 'x'}, 3), 'a second sample with the same labels is refused'
    a.add({}, 5)
    assert render([b, a], 'header') == (
        '# header\n'
        '# HELP dsr_a A\\nhelp.\n# TYPE dsr_a gauge\ndsr_a 5\n'
        '# HELP dsr_b B.\n# TYPE dsr_b gauge\n'
        'dsr_b{a="w",z="9"} 1\n'
        'dsr_b{a="x",z="1"} 2\n')
    assert render([a, b], 'header') == render([b, a], 'header')


def test_an_empty_file():
    assert render([]) == ''
    assert render([], 'only a header') == '# only a header\n'


@pytest.mark.parametrize('name', ['dsr_check_status', 'dsr_database_growth_bytes_per_day', 'dsr_http_5xx_ratio', '_x'])
def test_good_gauge_names(name):
    assert gauge_name_problem(name) is None


@pytest.mark.parametrize('name, words', [
    ('5xx', 'pattern'), ('a-b', 'pattern'), ('', 'pattern'), ('a:b', 'colon'), ('dsr_Bytes', 'snake_case'),
    ('dsr_errors_total', '_total'), ('dsr_error_count', '_count'), ('dsr_x_sum', '_sum'), ('dsr_x_bucket', '_bucket'),
    ('dsr_latency_ms', "abbreviated unit 'ms'"), ('dsr_size_b', "abbreviated unit 'b'"),
    ('dsr_age_days', "base unit 'seconds', not 'days'"), ('dsr_size_megabytes', "base unit 'bytes'"),
])
def test_names_promtool_would_lint_are_refused(name, words):
    assert words in gauge_name_problem(name)


@pytest.mark.parametrize('name, problem', [('endpoint', None), ('_x', None), ('__name__', '__'), ('1a', 'pattern'), ('a-b', 'pattern'),
                                           (3, 'pattern')])
def test_label_names(name, problem):
    result = label_name_problem(name)
    assert (result is None) if problem is None else (problem in result)
