# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._report import data as report_data
from ansible_collections.dsr.ops.plugins.module_utils._report import markdown, text


def test_content(raw):
    out = markdown.render(report_data.parse(raw))
    assert out.startswith('# DSR evening summary, 2026-12-04\n')
    assert '**Today overall: \u2717 critical** (1 critical, 1 warning, 7 ok, 3 no data)' in out
    assert '| staging | \u2713 ok | \u2717 critical | ! warning | \u00b7 no data | \u00b7 no data | \u00b7 no data |' in out
    assert '| Database size | production | 1.12 GiB (2026-11-28) | 1.17 GiB (2026-12-04) |' in out
    assert '| DR test RTO | production | no data | no data |' in out
    assert '| production | 9.54 MiB/day | 41.5 days |' in out
    assert '### INC-2026-0001 - P2 - Investigating - staging' in out
    assert '```text\n' not in out and '``` text\nINCIDENT NOTICE\nIncident ID: INC-2026-0001\nSeverity: P2\nStatus: Investigating\n```' in out
    assert '- 2026-12-06 02:00 UTC: Maintenance window: database vacuum' in out


def test_untrusted_text_makes_no_link_image_html_or_column(raw):
    raw['notes'] = ['![x](http://evil.example/t.png) <img src=x> a|b *bold*']
    raw['today']['staging']['database']['summary'] = '[click](http://evil.example)'
    out = markdown.render(report_data.parse(raw))
    assert '\\!\\[x\\]' not in out  # "!" is harmless once "[" is escaped
    assert '!\\[x\\](http://evil.example/t.png) \\<img src=x\\> a\\|b \\*bold\\*' in out
    assert '\\[click\\](http://evil.example)' in out


def test_notice_fence_outgrows_backticks(raw):
    raw['incidents'][0]['notice'] = 'before\n````\nafter'
    out = markdown.render(report_data.parse(raw))
    assert '````` text\nbefore\n````\nafter\n`````' in out


def test_control_characters_are_replaced():
    assert text.clean('a\x00b\x1bc\r\nd') == 'a\ufffdb\ufffdc\nd'
    assert text.md('line one\nline two') == 'line one line two'
