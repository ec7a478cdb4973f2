#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ops_report
short_description: Render the DSR evening summary report (HTML, Markdown, JSON) and deliver it by SMTP or to a webhook
version_added: 0.3.0
description:
  - Renders the report data of the daily operations (the evening summary of the runbook's Daily Operations, built from
    the check history) as one self-contained HTML page, a Markdown version for email and chat, and the JSON behind both,
    and writes them to O(dest_dir).
  - "The HTML page shows a status matrix of environments by checks for today and for each of the last days (a status is a
    colour and a symbol and a word, so it reads without colour; a cell without a record says C(no data), never V(ok)), one
    chart per series (database size, backup duration and size, errors per day, certificate days left, DR-test RPO and RTO;
    one line per environment, each point's value in its tooltip, the last value as text), the trends (database growth per
    day, days until the disk threshold), the day's incidents with their notice text, what is scheduled next, and notes."
  - The page needs no network - inline CSS and inline SVG, no script, no font, image or style sheet by URL, and a
    Content-Security-Policy that forbids any fetch - and is readable on a desktop and on a phone (the wide matrices scroll
    inside their own box). Every string of the data is escaped; the data is untrusted.
  - Files are written atomically (a temporary file in O(dest_dir), fsync, rename) with mode C(0640); O(dest_dir) is
    created with mode C(0750) when missing. A file whose content is already there is not rewritten.
  - Delivery, after the files are written - by SMTP (O(smtp), the HTML page as the C(text/html) part and the Markdown as
    the C(text/plain) part of one message) and/or to a webhook (O(webhook)). A delivery failure fails the task with the
    reason; the files stay written.
  - SMTP is spoken with Python's standard library (C(smtplib), C(email)), not through community.general's mail module -
    that collection cannot be installed here without Ansible Galaxy, and the message body is built in Python anyway.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.attributes
  - dsr.ops.attributes.IDEMPOTENT
attributes:
  check_mode:
    support: full
    details:
      - Parses and renders the data, compares each file with the one on disk, and reports the paths, the sizes, which files
        would change and which deliveries are due (RV(delivered)); writes, creates and sends nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - With the default O(deliver=changed), the same data writes nothing and sends nothing a second time.
options:
  data:
    description:
      - The report data, an object with C(title), C(generated_at), C(date), C(environments), C(checks), C(today), C(days),
        C(series), C(incidents) and the optional C(trends), C(upcoming) and C(notes); see the collection's
        C(docs/reporting.md) for every field.
      - It is checked strictly before anything is written - an unknown key, a wrong type, a status outside V(ok),
        V(warning), V(critical), V(unknown), V(skipped), an environment or check not listed - and the message names the
        field, such as C(data.series[1].points.production[3][1]).
      - Mutually exclusive with O(data_file); one of them is required.
    type: dict
  data_file:
    description:
      - A JSON file holding the report data (at most 16 MiB), in the form of O(data).
    type: path
  dest_dir:
    description:
      - The directory the files are written to; created with mode C(0750) (and its missing parents) when it does not exist.
    type: path
    required: true
  basename:
    description:
      - The file name without its extension; the files are C(<basename>.html), C(<basename>.md) and C(<basename>.json).
      - Letters, digits, C(.), C(_) and C(-), not starting with a dot. Defaults to C(dsr-summary-<date>) with the data's
        C(date), such as C(dsr-summary-2026-12-04).
    type: str
  formats:
    description:
      - The files to write. Delivery renders what it needs whatever is written.
    type: list
    elements: str
    choices: [html, markdown, json]
    default: [html, markdown, json]
  deliver:
    description:
      - When O(smtp) and O(webhook) send. V(changed) sends the report to a channel when that content has not been
        delivered to that channel's target yet - a new or changed report, or one whose last delivery failed - so running
        the task again with the same data sends nothing; V(always) sends on every run.
      - What was delivered where is recorded in C(.<basename>.delivered.json) in O(dest_dir) (a SHA-256 of the content
        and of the target, no credential).
    type: str
    choices: [changed, always]
    default: changed
  smtp:
    description:
      - Send the report by mail. The message is C(multipart/alternative) - the Markdown as C(text/plain), the HTML page as
        C(text/html).
    type: dict
    suboptions:
      host:
        description: The SMTP server.
        type: str
        required: true
      port:
        description: Its port; usually V(587) for O(smtp.security=starttls) on a submission port, V(465) for O(smtp.security=ssl).
        type: int
        default: 25
      security:
        description:
          - V(starttls) upgrades the connection and refuses a server that does not offer STARTTLS; V(ssl) is TLS from
            the first byte; V(none) sends in clear (only on a trusted network).
          - The server certificate is always verified, against O(smtp.ca_cert) or the system's CAs.
        type: str
        choices: [none, starttls, ssl]
        default: starttls
      username:
        description: The login, when the server needs one (the password is O(smtp.password)).
        type: str
      password:
        description: The password of O(smtp.username). Never shown in a message or a result.
        type: str
      from_addr:
        description: The sender address, such as V(dsr-ops@example.org).
        type: str
        required: true
      to:
        description: The recipients' addresses.
        type: list
        elements: str
        required: true
      subject:
        description:
          - "The subject. Defaults to the data's title, date and today's overall status, such as
            C(DSR evening summary 2026-12-04: critical)."
        type: str
      ca_cert:
        description: A CA bundle (PEM) to verify the server certificate with, instead of the system's CAs.
        type: path
      timeout:
        description: Seconds to wait for the server at each step.
        type: float
        default: 30
  webhook:
    description:
      - POST the report to a webhook (a chat service's incoming webhook, an internal endpoint). Any C(2xx) answer is success.
    type: dict
    suboptions:
      url:
        description:
          - The webhook URL, V(http://) or V(https://), without credentials in it (put a token in O(webhook.headers)).
            Results and messages show it without its query string.
        type: str
        required: true
      format:
        description:
          - 'V(markdown) posts the Markdown text as C(text/markdown); V(json) posts C({"text": <markdown>, "data": <the report data>})
            as C(application/json), the shape Slack- and Mattermost-style webhooks read C(text) from.'
        type: str
        choices: [markdown, json]
        default: markdown
      headers:
        description:
          - Extra request headers, such as C(Authorization). Their values are secrets - never shown in a message or a result.
        type: dict
      ca_cert:
        description: A CA bundle (PEM) to verify the server certificate with, instead of the system's CAs.
        type: path
      validate_certs:
        description: Verify the server certificate of an V(https://) URL. Only turn it off for a test endpoint.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for the answer.
        type: float
        default: 30
notes:
  - The rendering is deterministic - the page holds no time of its own, only the data's C(generated_at) - so the same
    data gives the same files, byte for byte.
seealso:
  - name: The collection's reporting documentation
    description: docs/reporting.md, the report data's fields and how the page is tested in a browser.
    link: https://github.com/dsr-ops/dsr.ops/blob/main/docs/reporting.md
'''

EXAMPLES = r'''
- name: Write the evening summary next to the history
  dsr.ops.ops_report:
    data_file: /var/lib/dsr-ops/reports/summary-data.json
    dest_dir: /var/lib/dsr-ops/reports
  register: report

- name: Mail it to the operations team and post it to the chat
  dsr.ops.ops_report:
    data: "{{ daily_ops_report_data }}"
    dest_dir: /var/lib/dsr-ops/reports
    smtp:
      host: smtp.example.org
      port: 587
      username: dsr-ops
      password: "{{ vault_smtp_password }}"
      from_addr: dsr-ops@example.org
      to: [operations@example.org]
    webhook:
      url: https://chat.example.org/hooks/dsr-ops
      format: json
      headers:
        Authorization: "Bearer {{ vault_chat_token }}"

- name: Show where the page is
  ansible.builtin.debug:
    msg: "{{ report.summary }} - {{ report.paths.html }}"
'''

RETURN = r'''
summary:
  description: One line - today's overall status and counts, the incidents, which files were written and what was sent.
  returned: always
  type: str
  sample: "DSR evening summary 2026-12-04: critical today (1 critical, 1 warning, 9 ok, 1 no data), 1 incident; wrote html, markdown,
    json in /var/lib/dsr-ops/reports; smtp sent"
status:
  description: Today's overall status, the worst cell of today's matrix (V(unknown) when a cell has no data and none is worse).
  returned: always
  type: str
  sample: critical
paths:
  description: The path of each file of O(formats), by format.
  returned: always
  type: dict
  sample: {html: /var/lib/dsr-ops/reports/dsr-summary-2026-12-04.html, markdown: /var/lib/dsr-ops/reports/dsr-summary-2026-12-04.md,
           json: /var/lib/dsr-ops/reports/dsr-summary-2026-12-04.json}
files_changed:
  description: Per format, whether the file was (in check mode, would be) written or its mode fixed.
  returned: always
  type: dict
  sample: {html: true, markdown: true, json: false}
sizes:
  description: Per format, the size of the file in bytes.
  returned: always
  type: dict
  sample: {html: 51200, markdown: 4210, json: 9800}
sha256:
  description: Per format, the SHA-256 of the file's content.
  returned: always
  type: dict
  sample: {html: 3f5a0c1e9b7d4a2f8e6c5b4a3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e}
dest_dir:
  description: The directory of the files.
  returned: always
  type: str
  sample: /var/lib/dsr-ops/reports
dest_dir_created:
  description: Whether O(dest_dir) was (in check mode, would be) created.
  returned: always
  type: bool
  sample: false
delivered:
  description:
    - One entry per configured channel, C(smtp) and/or C(webhook) (empty without O(smtp) and O(webhook)).
    - C(sent) (bool, false in check mode), C(due) (whether this run sends, or in check mode would send, see O(deliver)),
      C(error) (the reason, when sending failed).
    - For C(smtp) - C(server) (host:port), C(recipients), C(from) and, once sent, C(subject); for C(webhook) - C(url)
      (without credentials or query string), C(format) and, once sent, C(status) (the HTTP status). No password and no
      header value, ever.
  returned: always
  type: dict
  sample: {smtp: {sent: true, due: true, server: "smtp.example.org:587", recipients: [operations@example.org], from: dsr-ops@example.org,
           subject: "DSR evening summary 2026-12-04: critical"},
           webhook: {sent: false, due: false, url: "https://chat.example.org/hooks/dsr-ops", format: json}}
'''


from ansible_collections.dsr.ops.plugins.module_utils._module import DsrModule
from ansible_collections.dsr.ops.plugins.module_utils._options import empty_problems
from ansible_collections.dsr.ops.plugins.module_utils._report.errors import ReportError
from ansible_collections.dsr.ops.plugins.module_utils._report.run import FORMATS, DeliveryFailed, Report
from ansible_collections.dsr.ops.plugins.module_utils._report.validate import option_problems


def argument_spec():
    """The module's options."""
    return {
        'data': dict(type='dict'),
        'data_file': dict(type='path'),
        'dest_dir': dict(type='path', required=True),
        'basename': dict(type='str'),
        'formats': dict(type='list', elements='str', choices=list(FORMATS), default=list(FORMATS)),
        'deliver': dict(type='str', choices=['changed', 'always'], default='changed'),
        'smtp': dict(type='dict', options=dict(
            host=dict(type='str', required=True),
            port=dict(type='int', default=25),
            security=dict(type='str', choices=['none', 'starttls', 'ssl'], default='starttls'),
            username=dict(type='str'),
            password=dict(type='str', no_log=True),
            from_addr=dict(type='str', required=True),
            to=dict(type='list', elements='str', required=True),
            subject=dict(type='str'),
            ca_cert=dict(type='path'),
            timeout=dict(type='float', default=30),
        )),
        'webhook': dict(type='dict', options=dict(
            url=dict(type='str', required=True),
            format=dict(type='str', choices=['markdown', 'json'], default='markdown'),
            headers=dict(type='dict', no_log=True),
            ca_cert=dict(type='path'),
            validate_certs=dict(type='bool', default=True),
            timeout=dict(type='float', default=30),
        )),
    }


def validate(params):
    """Messages naming the option and the fix."""
    return empty_problems(params, ('dest_dir', 'data_file')) + option_problems(params)


def main():
    module = DsrModule(argument_spec(), validate=validate, mutually_exclusive=[('data', 'data_file')],
                       required_one_of=[('data', 'data_file')])

    def describe(exc):
        if isinstance(exc, DeliveryFailed):
            return dict(exc.result, msg='report delivery failed: %s' % exc)
        if isinstance(exc, OSError):
            return {'msg': 'report files: %s%s' % (exc.strerror or exc, ': %s' % exc.filename if exc.filename else ''), 'changed': False}
        return {'msg': 'report: %s' % exc, 'changed': False}

    result = module.run(lambda: Report(module.params, check_mode=module.check_mode).run(), (ReportError, OSError), describe)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
