# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Checks of ops_report's options (not of the data: see data.py), each message naming the option and the fix.

No message holds a password or a header value.
"""

from __future__ import annotations

import re
import urllib.parse

from ansible_collections.dsr.ops.plugins.module_utils._http import safe_url

BASENAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$')
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_LINE_BREAK = re.compile(r'[\r\n\0]')


def _address_problem(option, address):
    if not isinstance(address, str) or not address.strip():
        return '%s is empty: give an address such as operations@example.org' % option
    if _LINE_BREAK.search(address) or '@' not in address:
        return '%s %r is not a mail address such as operations@example.org' % (option, address.replace('\n', ' ').replace('\r', ' '))
    return None


def smtp_problems(smtp):
    """Messages for the ``smtp`` suboptions."""
    problems = []
    if not smtp['host'] or not smtp['host'].strip():
        problems.append('smtp.host is empty: give the SMTP server name')
    if not 1 <= smtp['port'] <= 65535:
        problems.append('smtp.port must be 1 to 65535, got %d' % smtp['port'])
    if smtp['timeout'] <= 0:
        problems.append('smtp.timeout must be more than 0 seconds')
    if smtp.get('password') and not smtp.get('username'):
        problems.append('smtp.password is set without smtp.username; set the login too, or remove the password')
    problems.extend(p for p in [_address_problem('smtp.from_addr', smtp['from_addr'])] if p)
    if not smtp['to']:
        problems.append('smtp.to is empty: list at least one recipient')
    for index, address in enumerate(smtp['to'] or []):
        problem = _address_problem('smtp.to[%d]' % index, address)
        if problem:
            problems.append(problem)
    if smtp.get('subject') and _LINE_BREAK.search(smtp['subject']):
        problems.append('smtp.subject must be one line')
    if smtp.get('ca_cert') == '':
        problems.append('smtp.ca_cert is empty: give a path or leave it out')
    return problems


def webhook_problems(webhook):
    """Messages for the ``webhook`` suboptions (the URL is shown without credentials or query)."""
    problems = []
    url = webhook['url'] or ''
    parsed = urllib.parse.urlsplit(url)
    try:
        port_ok = parsed.port is None or parsed.port > 0
    except ValueError:
        port_ok = False
    if parsed.scheme not in ('http', 'https') or not parsed.hostname or not port_ok or _LINE_BREAK.search(url) or ' ' in url:
        problems.append('webhook.url must be an http:// or https:// URL such as https://chat.example.org/hooks/dsr-ops, got %r'
                        % safe_url(url))
    elif parsed.username is not None or parsed.password is not None:
        problems.append('webhook.url must not hold credentials: put a token in webhook.headers (such as Authorization)')
    for name, value in sorted((webhook.get('headers') or {}).items()):
        if not HEADER_NAME.match(str(name)):
            problems.append('webhook.headers: %r is not a header name (letters, digits and -)' % name)
        elif not isinstance(value, str) or _LINE_BREAK.search(value):
            problems.append('webhook.headers.%s must be one line of text' % name)
    if webhook['timeout'] <= 0:
        problems.append('webhook.timeout must be more than 0 seconds')
    if webhook.get('ca_cert') == '':
        problems.append('webhook.ca_cert is empty: give a path or leave it out')
    return problems


def option_problems(params):
    """Messages for every option of ops_report that cannot work."""
    problems = []
    if params.get('basename') is not None and not BASENAME.match(params['basename']):
        problems.append('basename %r must be letters, digits, ".", "_" and "-", not starting with a dot, at most 200 characters, '
                        'such as dsr-summary-2026-12-04' % params['basename'])
    if not params.get('formats'):
        problems.append('formats is empty: list at least one of html, markdown, json')
    elif len(set(params['formats'])) != len(params['formats']):
        problems.append('formats lists a format twice')
    if params.get('smtp'):
        problems.extend(smtp_problems(params['smtp']))
    if params.get('webhook'):
        problems.extend(webhook_problems(params['webhook']))
    return problems
