# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ops_metrics run: records -> families -> text -> the .prom file, and the result the module returns."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._textfile.exposition import render
from ansible_collections.dsr.ops.plugins.module_utils._textfile.records import build_families
from ansible_collections.dsr.ops.plugins.module_utils._textfile.writer import publish_text

HEADER = 'Written by dsr.ops.ops_metrics from the DSR check records; do not edit: the next run replaces it.'


def render_records(records, prefix='dsr', labels=None):
    """(text, families, facts) for ``records``; RecordError for bad input."""
    families, facts = build_families(records, prefix, labels)
    return render(families, HEADER), families, facts


def run(params, check_mode=False, diff=False):
    """Write (or in check mode, plan) the metrics file of ``params``; the module's result."""
    text, families, facts = render_records(params['records'], params['prefix'], params['labels'])
    changed, old_text = publish_text(params['path'], text, check_mode=check_mode)
    samples = sum(len(f.samples) for f in families)
    statuses = facts['statuses']
    not_ok = ', '.join('%d %s' % (statuses[s], s) for s in ('critical', 'unknown', 'warning', 'skipped') if statuses[s])
    verb = ('would write' if check_mode else 'wrote') if changed else 'unchanged:'
    summary = '%s %s: %d samples in %d families for %d checks in %d environments%s%s' % (
        verb, params['path'], samples, len(families), facts['checks'], len(facts['environments']),
        ' (%s)' % not_ok if not_ok else '',
        '; %d older records superseded' % facts['superseded'] if facts['superseded'] else '')
    result = {'path': params['path'], 'changed': changed, 'metrics': samples,
              'families': sorted(f.name for f in families), 'summary': summary}
    if diff:
        result['diff'] = {'before': old_text or '', 'after': text,
                          'before_header': params['path'] if old_text is not None else '/dev/null', 'after_header': params['path']}
    return result
