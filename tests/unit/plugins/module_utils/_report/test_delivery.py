# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import io
import json
import urllib.error

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._report import delivery, validate
from ansible_collections.dsr.ops.plugins.module_utils._report.errors import DeliveryError

SMTP = {'host': 'mail.example.org', 'port': 25, 'security': 'starttls', 'username': None, 'password': None,
        'from_addr': 'dsr-ops@example.org', 'to': ['a@example.org', 'b@example.org'], 'subject': None, 'ca_cert': None, 'timeout': 30.0}
HOOK = {'url': 'https://chat.example.org/hooks/x?token=t0ken', 'format': 'json', 'headers': {'Authorization': 'Bearer s3cret-token'},
        'ca_cert': None, 'validate_certs': True, 'timeout': 5.0}


def test_message_has_both_parts():
    message = delivery.build_message(SMTP, 'Report\nBcc: evil@example.org', '<p>html</p>', '# markdown')
    assert message['Subject'] == 'Report Bcc: evil@example.org'
    assert message['To'] == 'a@example.org, b@example.org'
    assert message.get_content_type() == 'multipart/alternative'
    parts = [(part.get_content_type(), part.get_content()) for part in message.iter_parts()]
    assert parts == [('text/plain', '# markdown\n'), ('text/html', '<p>html</p>\n')]


class _Answer(io.BytesIO):
    status = 200
    headers = {}


def test_webhook_json_body_and_headers():
    seen = {}

    def opener(request, timeout):
        seen.update(url=request.full_url, body=request.data, headers=dict(request.header_items()), timeout=timeout)
        return _Answer(b'ok')

    facts = delivery.post_webhook(HOOK, '# md', {'date': '2026-12-04'}, opener=opener)
    assert json.loads(seen['body']) == {'text': '# md', 'data': {'date': '2026-12-04'}}
    assert seen['headers']['Authorization'] == 'Bearer s3cret-token'
    assert seen['headers']['Content-type'] == 'application/json'
    assert facts == {'sent': True, 'url': 'https://chat.example.org/hooks/x', 'status': 200, 'format': 'json'}


def test_webhook_error_is_scrubbed():
    def opener(request, timeout):
        raise urllib.error.HTTPError(request.full_url, 500, 'err', {}, io.BytesIO(b'bad token Bearer s3cret-token'))

    with pytest.raises(DeliveryError) as info:
        delivery.post_webhook(HOOK, '# md', {}, opener=opener)
    assert 'HTTP 500' in str(info.value) and 's3cret-token' not in str(info.value) and 't0ken' not in str(info.value)


def test_option_problems_name_the_option():
    bad_smtp = dict(SMTP, to=['not-an-address'], port=0, password='pw')
    problems = validate.option_problems({'basename': '.hidden', 'formats': [], 'smtp': bad_smtp,
                                         'webhook': dict(HOOK, url='ftp://user:pw@host/x', headers={'X-A': 'a\nb'})})
    text = '; '.join(problems)
    for needle in ('basename', 'formats is empty', 'smtp.port', 'smtp.to[0]', 'smtp.password is set without smtp.username',
                   'webhook.url must be an http', 'webhook.headers.X-A must be one line'):
        assert needle in text
    assert "user:pw" not in text
    assert validate.option_problems({'basename': None, 'formats': ['html'], 'smtp': None,
                                     'webhook': dict(HOOK, url='https://u:p@h/x')}) == [
        'webhook.url must not hold credentials: put a token in webhook.headers (such as Authorization)']
