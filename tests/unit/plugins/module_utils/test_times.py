# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Points in time in options."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._times import parse_time

UTC = datetime.timezone.utc


@pytest.mark.parametrize('text, expected', [
    ('2026-12-02T10:00:00Z', datetime.datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
    ('2026-12-02T12:00:00+02:00', datetime.datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
    ('2026-12-02 10:00', datetime.datetime(2026, 12, 2, 10, 0, tzinfo=UTC)),
])
def test_iso_forms_become_aware_utc(text, expected):
    value = parse_time(text, 'now')
    assert value == expected and value.tzinfo is UTC


def test_what_is_not_iso_names_the_option():
    with pytest.raises(ValueError, match=r"searches\[0\]\.from: cannot read 'noon' as a time"):
        parse_time('noon', 'searches[0].from')
