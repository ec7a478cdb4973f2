# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Durations such as 26h or 14d (_durations.py)."""

from __future__ import annotations

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._durations import parse_duration


@pytest.mark.parametrize('text, seconds', [('26h', 93600), ('14d', 1209600), ('90', 90), ('1.5h', 5400), ('2w', 1209600), (30, 30)])
def test_parse_duration(text, seconds):
    assert parse_duration(text, 'max_age') == seconds


@pytest.mark.parametrize('text', ['soon', '-5h', '0', '5 parsecs'])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match='max_age'):
        parse_duration(text, 'max_age')
