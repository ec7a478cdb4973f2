# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Delivery of the report: by SMTP (standard library smtplib and email) and to a webhook (module_utils._http).

The mail is multipart/alternative: the Markdown as text/plain, the HTML page as
text/html. The webhook gets the Markdown (text/markdown) or a JSON object
``{"text": <markdown>, "data": <the report data>}``. Every failure is a
DeliveryError whose text names the server and the reason and never holds the
password or a header value (they are scrubbed from server answers too).
"""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ansible_collections.dsr.ops.plugins.module_utils._http import HttpConnectionError, JsonHttpClient, safe_url, snippet
from ansible_collections.dsr.ops.plugins.module_utils._report.errors import DeliveryError


def scrub(text, secrets):
    """``text`` with every secret replaced by ``********``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, '********')
    return text


def one_line(text, limit=250):
    """Header-safe text: one line, no control characters, at most ``limit`` characters."""
    flat = ' '.join(''.join(ch if ch.isprintable() else ' ' for ch in str(text)).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + '...'


def build_message(options, subject, html_text, markdown_text):
    """The EmailMessage: From, To, Subject, Date, Message-ID; text/plain (Markdown) and text/html parts."""
    message = EmailMessage()
    message['Subject'] = one_line(subject)
    message['From'] = options['from_addr']
    message['To'] = ', '.join(options['to'])
    message['Date'] = formatdate(usegmt=True)
    domain = options['from_addr'].rsplit('@', 1)[-1].strip('> ') or 'localhost'
    message['Message-ID'] = make_msgid(domain=domain)
    message.set_content(markdown_text, subtype='plain', charset='utf-8')
    message.add_alternative(html_text, subtype='html', charset='utf-8')
    return message


def _context(options):
    try:
        return ssl.create_default_context(cafile=options.get('ca_cert'))
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError('smtp: cannot load smtp.ca_cert %s: %s' % (options.get('ca_cert'), getattr(exc, 'strerror', None) or exc)) from None


def send_mail(options, subject, html_text, markdown_text):
    """Send the report; returns the delivery facts (server, recipients, subject). DeliveryError on any failure."""
    server = '%s:%d' % (options['host'], options['port'])
    secrets = [options.get('password')]
    message = build_message(options, subject, html_text, markdown_text)
    security = options['security']
    context = _context(options) if security != 'none' else None
    try:
        if security == 'ssl':
            client = smtplib.SMTP_SSL(options['host'], options['port'], timeout=options['timeout'], context=context)
        else:
            client = smtplib.SMTP(options['host'], options['port'], timeout=options['timeout'])
        try:
            client.ehlo()
            if security == 'starttls':
                if not client.has_extn('starttls'):
                    raise DeliveryError('smtp: %s does not offer STARTTLS; use smtp.security=ssl for implicit TLS '
                                        '(usually port 465), or none only on a trusted network' % server)
                client.starttls(context=context)
                client.ehlo()
            if options.get('username'):
                client.login(options['username'], options.get('password') or '')
            refused = client.send_message(message, options['from_addr'], list(options['to']))
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    except DeliveryError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError('smtp: %s refused the login of %s: %s %s' % (
            server, options.get('username'), exc.smtp_code, scrub(_text(exc.smtp_error), secrets))) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError('smtp: %s refused every recipient: %s' % (server, _refused(exc.recipients, secrets))) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError('smtp: %s answered %s %s' % (server, exc.smtp_code, scrub(_text(exc.smtp_error), secrets))) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError('smtp: the certificate of %s is not trusted (%s); set smtp.ca_cert to the CA that signed it'
                            % (server, exc.verify_message or exc.reason)) from None
    except (socket.timeout, TimeoutError):
        raise DeliveryError('smtp: no answer from %s within %s s (smtp.timeout)' % (server, options['timeout'])) from None
    except smtplib.SMTPException as exc:
        raise DeliveryError('smtp: delivery through %s failed: %s' % (server, scrub(str(exc), secrets))) from None
    except OSError as exc:
        raise DeliveryError('smtp: cannot connect to %s: %s' % (server, exc.strerror or exc)) from None
    if refused:
        raise DeliveryError('smtp: %s refused some recipients (the others got the report): %s' % (server, _refused(refused, secrets)))
    return {'sent': True, 'server': server, 'recipients': list(options['to']), 'subject': message['Subject']}


def _text(value):
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)


def _refused(recipients, secrets):
    return ', '.join('%s (%s %s)' % (address, code, scrub(_text(text), secrets)) for address, (code, text) in sorted(recipients.items()))


def webhook_body(options, markdown_text, data):
    """``(bytes, content type)`` of the webhook request."""
    if options['format'] == 'json':
        body = json.dumps({'text': markdown_text, 'data': data}, sort_keys=True, ensure_ascii=False).encode('utf-8')
        return body, 'application/json'
    return markdown_text.encode('utf-8'), 'text/markdown; charset=utf-8'


def post_webhook(options, markdown_text, data, opener=None):
    """POST the report to the webhook; returns the delivery facts (url without credentials or query, status)."""
    headers = dict(options.get('headers') or {})
    secrets = list(headers.values())
    url = safe_url(options['url'])
    client = JsonHttpClient(options['url'], 'webhook', ca_cert=options.get('ca_cert'), validate_certs=options['validate_certs'],
                            timeout=options['timeout'], headers=headers, opener=opener)
    body, content_type = webhook_body(options, markdown_text, data)
    try:
        status, _parsed, raw, _headers = client.request('POST', '', body=body, content_type=content_type)
    except HttpConnectionError as exc:
        raise DeliveryError('webhook: %s' % scrub(str(exc), secrets)) from None
    except ValueError as exc:  # http.client refuses a malformed URL or header here
        raise DeliveryError('webhook: cannot send to %s: %s' % (url, scrub(str(exc), secrets))) from None
    if not 200 <= status < 300:
        raise DeliveryError('webhook: %s answered HTTP %d: %s' % (url, status, scrub(snippet(raw), secrets)))
    return {'sent': True, 'url': url, 'status': status, 'format': options['format']}
