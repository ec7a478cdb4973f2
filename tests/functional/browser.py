# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A test tool: headless Chromium (Debian's ``chromium``) driven over the DevTools protocol.

It exists so tests can look at a rendered page the way a person would: load a file
at a given viewport size, take a PNG screenshot, evaluate JavaScript in the page,
and collect console messages, exceptions and every network request the page made.

Chromium is started with ``--remote-debugging-port=0`` in a throwaway
``--user-data-dir`` and the port it chose is read from ``DevToolsActivePort`` there;
the protocol is spoken with websocket-client. ``--no-sandbox`` is added when running
as root (Chromium refuses to start otherwise).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websocket

CANDIDATES = ('chromium', 'chromium-browser', 'google-chrome')


def find_chromium():
    """The path of a Chromium binary, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(Exception):
    """Chromium did not start or did not answer."""


class Chromium:
    """One headless Chromium process; use as a context manager. ``page()`` opens a tab."""

    def __init__(self, binary=None, timeout=30.0):
        self.binary = binary or find_chromium()
        if not self.binary:
            raise BrowserError('no chromium on the PATH (Debian: apt-get install chromium)')
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix='dsr-chromium-')
        args = [self.binary, '--headless', '--remote-debugging-port=0', '--user-data-dir=' + self.profile,
                '--no-first-run', '--no-default-browser-check', '--disable-gpu', '--disable-extensions',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--disable-default-apps', '--metrics-recording-only', '--hide-scrollbars', '--mute-audio', 'about:blank']
        if os.geteuid() == 0:
            args.insert(1, '--no-sandbox')
        self.log_path = os.path.join(self.profile, 'chromium.log')
        self._log = open(self.log_path, 'wb')  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)  # pylint: disable=consider-using-with
        try:
            self.port = self._wait_port()
        except BaseException:
            self.close()
            raise

    def _wait_port(self):
        marker = os.path.join(self.profile, 'DevToolsActivePort')
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError('chromium exited with %s: %s' % (self.proc.returncode, self._tail()))
            try:
                with open(marker, encoding='ascii') as handle:
                    first = handle.readline().strip()
                if first.isdigit():
                    return int(first)
            except OSError:
                pass
            time.sleep(0.05)
        raise BrowserError('chromium wrote no DevToolsActivePort within %s s: %s' % (self.timeout, self._tail()))

    def _tail(self):
        try:
            with open(self.log_path, 'rb') as handle:
                return handle.read()[-2000:].decode('utf-8', 'replace')
        except OSError:
            return ''

    def page(self):
        """A new tab (a :class:`Page`)."""
        request = urllib.request.Request('http://127.0.0.1:%d/json/new?about:blank' % self.port, method='PUT')
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            target = json.loads(answer.read().decode('utf-8'))
        return Page(target['webSocketDebuggerUrl'], self.timeout)

    def close(self):
        """Kill Chromium (its whole process group) and remove the profile."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Page:
    """One tab: DevTools commands, with the page's console messages, exceptions and requests recorded."""

    def __init__(self, ws_url, timeout):
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.timeout = timeout
        self._next = 0
        self.events = []
        self.console = []
        self.exceptions = []
        self.log_entries = []
        self.requests = []
        for domain in ('Page', 'Runtime', 'Log', 'Network'):
            self.call(domain + '.enable')

    def call(self, method, **params):
        """Send a command and return its result (events that arrive meanwhile are recorded)."""
        self._next += 1
        ident = self._next
        self.ws.send(json.dumps({'id': ident, 'method': method, 'params': params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get('id') == ident:
                if 'error' in message:
                    raise BrowserError('%s failed: %s' % (method, message['error']))
                return message.get('result', {})
            self._record(message)
        raise BrowserError('%s: no answer within %s s' % (method, self.timeout))

    def _record(self, message):
        method = message.get('method')
        params = message.get('params', {})
        self.events.append(method)
        if method == 'Runtime.consoleAPICalled':
            self.console.append({'type': params.get('type'),
                                 'text': ' '.join(str(arg.get('value', arg.get('description', ''))) for arg in params.get('args', []))})
        elif method == 'Runtime.exceptionThrown':
            self.exceptions.append(params.get('exceptionDetails', {}).get('text'))
        elif method == 'Log.entryAdded':
            entry = params.get('entry', {})
            self.log_entries.append({'level': entry.get('level'), 'source': entry.get('source'), 'text': entry.get('text'),
                                     'url': entry.get('url')})
        elif method == 'Network.requestWillBeSent':
            self.requests.append(params.get('request', {}).get('url'))

    def wait_event(self, name, timeout=None):
        """Wait until event ``name`` arrives (or has arrived since the last call)."""
        if name in self.events:
            self.events.remove(name)
            return
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self._record(message)
            if message.get('method') == name:
                self.events.remove(name)
                return
        raise BrowserError('no %s within %s s' % (name, timeout or self.timeout))

    def set_viewport(self, width, height, mobile=False, scale=1):
        """Emulate a viewport of ``width`` x ``height`` CSS pixels (``mobile`` for a phone)."""
        self.call('Emulation.setDeviceMetricsOverride', width=width, height=height, deviceScaleFactor=scale, mobile=mobile)

    def load(self, url):
        """Navigate and wait for the load event, then let layout settle."""
        self.events.clear()
        answer = self.call('Page.navigate', url=url)
        if answer.get('errorText'):
            raise BrowserError('navigation to %s failed: %s' % (url, answer['errorText']))
        self.wait_event('Page.loadEventFired')
        self.evaluate('new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))')

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (promises awaited, result as JSON)."""
        answer = self.call('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True)
        if answer.get('exceptionDetails'):
            raise BrowserError('evaluating %r threw: %s' % (expression[:80], answer['exceptionDetails'].get('text')))
        return answer.get('result', {}).get('value')

    def screenshot(self, path, full_page=True):
        """Save a PNG of the page (the whole page when ``full_page``); returns its path."""
        params = {'format': 'png'}
        if full_page:
            params['captureBeyondViewport'] = True
            size = self.evaluate('[document.documentElement.scrollWidth, document.documentElement.scrollHeight]')
            params['clip'] = {'x': 0, 'y': 0, 'width': size[0], 'height': size[1], 'scale': 1}
        answer = self.call('Page.captureScreenshot', **params)
        with open(path, 'wb') as handle:
            handle.write(base64.b64decode(answer['data']))
        return path

    def close(self):
        """Close the DevTools connection."""
        self.ws.close()
