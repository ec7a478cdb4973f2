# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The ops_metrics run: records -> families -> text -> the .prom file, and the result the module returns."""

from __future__ import annotations

import os
import re

from ansible_collections.dsr.ops.plugins.module_utils._textfile.exposition import render
from ansible_collections.dsr.ops.plugins.module_utils._textfile.records import build_families
from ansible_collections.dsr.ops.plugins.module_utils._textfile.writer import publish_text

HEADER = 'Written by dsr.ops.ops_metrics from the DSR check records; do not edit: the next run replaces it.'


def render_records(records, prefix='dsr', labels=None):
    """(text, families, facts) for ``records``; RecordError for bad input."""
    families, facts = build_families(records, prefix, labels)
    return render(families, HEADER), families, facts


PLACEHOLDER = '{environment}'


def file_name_of(environment):
    """The environment's name as it appears in a file name: [A-Za-z0-9_] only."""
    return re.sub('[^A-Za-z0-9_]', '_', environment)


def split_problem(path, records):
    """Why the records cannot be split into one file per environment by ``path``, or None."""
    if PLACEHOLDER in os.path.dirname(path):
        return 'path: %s may appear in the file name only, not in the directory (got %s)' % (PLACEHOLDER, path)
    owners = {}
    for record in records:
        environment = record.get('environment')
        if isinstance(environment, str):
            owners.setdefault(file_name_of(environment), set()).add(environment)
    shared = sorted(' and '.join(sorted(names)) for names in owners.values() if len(names) > 1)
    if shared:
        return 'path: the environments %s would share one file (names differ only in characters other than A-Z, a-z, 0-9 and _); ' \
               'rename one, or write them to one file without %s' % ('; '.join(shared), PLACEHOLDER)
    return None


def run(params, check_mode=False, diff=False):
    """Write (or in check mode, plan) the metrics file of ``params`` - or with {environment} in the path, one file per
    environment of the records; the module's result."""
    if PLACEHOLDER not in params['path']:
        return run_one(params, check_mode, diff)
    # every record validated first, so that a problem names its index in the records given
    render_records(params['records'], params['prefix'], params['labels'])
    groups = {}
    for record in params['records']:
        groups.setdefault(record['environment'], []).append(record)
    results = [run_one(dict(params, path=params['path'].replace(PLACEHOLDER, file_name_of(environment)), records=records), check_mode, diff)
               for environment, records in sorted(groups.items())]
    changed = [r for r in results if r['changed']]
    verb = 'would write' if check_mode else 'wrote'
    summary = '%s %d of %d files (%s): %d samples' % (verb, len(changed), len(results), params['path'], sum(r['metrics'] for r in results))
    result = {'path': params['path'], 'changed': bool(changed), 'metrics': sum(r['metrics'] for r in results),
              'families': sorted({name for r in results for name in r['families']}), 'summary': summary,
              'files': [{key: r[key] for key in ('path', 'changed', 'metrics', 'summary')} for r in results]}
    if diff:
        result['diff'] = [r['diff'] for r in changed]
    return result


def run_one(params, check_mode=False, diff=False):
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
