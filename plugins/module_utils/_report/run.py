# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""One run of ops_report: parse the data, render every format, bring the files up to date, deliver, report.

Delivery happens after the files are written. With ``deliver=changed`` a channel
gets the report when its content was not yet delivered to that channel's target:
a hidden record ``.<basename>.delivered.json`` beside the files holds, per channel,
the SHA-256 of what was last delivered and where, so an unchanged report is not
sent twice, and one whose delivery failed is sent by the next run even though its
files are already there. ``deliver=always`` sends on every run. Check mode renders
and compares, and writes and sends nothing.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.dsr.ops.plugins.module_utils._report import delivery, html, markdown, output
from ansible_collections.dsr.ops.plugins.module_utils._report.data import load_file, overall, parse, to_json, today_counts
from ansible_collections.dsr.ops.plugins.module_utils._report.errors import DeliveryError, ReportDataError

FORMATS = ('html', 'markdown', 'json')
EXTENSIONS = {'html': '.html', 'markdown': '.md', 'json': '.json'}


class DeliveryFailed(DeliveryError):
    """Some channel failed; ``result`` is the run's result (files written, what was delivered)."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


def default_subject(data):
    """``DSR evening summary 2026-12-04: critical``."""
    return '%s %s: %s' % (data['title'], data['date'], overall(data))


class Report:
    """The run; ``run()`` returns the module's result or raises ReportDataError, DeliveryFailed or OSError."""

    def __init__(self, params, check_mode=False, opener=None):
        self.params = params
        self.check_mode = check_mode
        self.opener = opener

    def _data(self):
        if self.params.get('data_file') is not None:
            try:
                return parse(load_file(self.params['data_file']))
            except ReportDataError as exc:
                message = str(exc)
                raise ReportDataError(message if message.startswith('data_file') else 'data_file %s: %s'
                                      % (self.params['data_file'], message)) from None
        return parse(self.params['data'])

    def _record_path(self, basename):
        return os.path.join(self.params['dest_dir'], '.%s.delivered.json' % basename)

    @staticmethod
    def _read_record(path):
        try:
            with open(path, 'rb') as handle:
                record = json.loads(handle.read(65536).decode('utf-8'))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def run(self):
        params = self.params
        data = self._data()
        basename = params.get('basename') or 'dsr-summary-%s' % data['date']
        rendered = {'html': html.render(data), 'markdown': markdown.render(data), 'json': to_json(data)}
        content = {fmt: text.encode('utf-8') for fmt, text in rendered.items()}
        dest_dir = params['dest_dir']
        created = output.ensure_dir(dest_dir, self.check_mode)
        paths, files_changed, sizes, digests = {}, {}, {}, {}
        for fmt in params['formats']:
            path = os.path.join(dest_dir, basename + EXTENSIONS[fmt])
            paths[fmt] = path
            files_changed[fmt] = output.apply(path, content[fmt], self.check_mode)
            sizes[fmt] = len(content[fmt])
            digests[fmt] = output.sha256(content[fmt])
        result = {
            'changed': created or any(files_changed.values()),
            'dest_dir': dest_dir,
            'dest_dir_created': created,
            'paths': paths,
            'files_changed': files_changed,
            'sizes': sizes,
            'sha256': digests,
            'status': overall(data),
            'delivered': {},
        }
        failures = self._deliver(data, basename, rendered, content, result)
        result['summary'] = self._summary(data, result)
        if failures:
            raise DeliveryFailed('; '.join(failures) + ' (the files were written: %s)' % ', '.join(paths.values()), result)
        return result

    def _channels(self, data, rendered):
        params = self.params
        if params.get('smtp'):
            smtp = params['smtp']
            subject = smtp.get('subject') or default_subject(data)
            target = {'server': '%s:%d' % (smtp['host'], smtp['port']), 'recipients': list(smtp['to']), 'from': smtp['from_addr']}
            yield 'smtp', target, lambda: delivery.send_mail(smtp, subject, rendered['html'], rendered['markdown'])
        if params.get('webhook'):
            hook = params['webhook']
            target = {'url': delivery.safe_url(hook['url']), 'format': hook['format']}
            yield 'webhook', target, lambda: delivery.post_webhook(hook, rendered['markdown'], data, opener=self.opener)

    def _deliver(self, data, basename, rendered, content, result):
        digest = hashlib.sha256(b''.join(content[fmt] for fmt in FORMATS)).hexdigest()
        record_path = self._record_path(basename)
        record = self._read_record(record_path)
        failures = []
        sent_any = False
        for name, target, send in self._channels(data, rendered):
            # the record keys on where the report went, never on credentials
            key = hashlib.sha256(json.dumps(target, sort_keys=True).encode('utf-8')).hexdigest()
            previous = record.get(name) or {}
            due = self.params['deliver'] == 'always' or previous.get('content') != digest or previous.get('target') != key
            facts = dict(target, sent=False, due=due)
            if due and not self.check_mode:
                try:
                    facts.update(send())
                except DeliveryError as exc:
                    facts['error'] = str(exc)
                    failures.append(str(exc))
                else:
                    record[name] = {'content': digest, 'target': key}
                    sent_any = True
            result['delivered'][name] = facts
        if sent_any:
            result['changed'] = True
            try:
                output.write_atomic(record_path, (json.dumps(record, sort_keys=True, indent=2) + '\n').encode('utf-8'))
            except OSError as exc:
                result.setdefault('warnings', []).append('the delivery record %s could not be written (%s): the next run with '
                                                         'deliver=changed sends the report again' % (record_path, exc.strerror or exc))
        elif self.check_mode and any(facts['due'] for facts in result['delivered'].values()):
            result['changed'] = True
        return failures

    def _summary(self, data, result):
        counts = ', '.join('%d %s' % (count, name) for name, count in today_counts(data)) or 'no cells'
        changed = [fmt for fmt, flag in result['files_changed'].items() if flag]
        files = ('%s %s' % ('would write' if self.check_mode else 'wrote', ', '.join(changed))) if changed else 'files unchanged'
        sent = []
        for name, facts in result['delivered'].items():
            if facts.get('sent'):
                sent.append('%s sent' % name)
            elif facts.get('error'):
                sent.append('%s FAILED' % name)
            elif facts['due']:
                sent.append('%s due' % name)
            else:
                sent.append('%s already delivered' % name)
        incidents = len(data['incidents'])
        return '%s %s: %s today (%s), %d incident%s; %s in %s%s' % (
            data['title'], data['date'], overall(data), counts, incidents, '' if incidents == 1 else 's', files, result['dest_dir'],
            ('; ' + ', '.join(sent)) if sent else '')
