# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The writer thread of the restore path (_backup/writer.py)."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup.writer import BackgroundWriter


def test_background_writer_keeps_order_and_writes_everything():
    written = []
    writer = BackgroundWriter(written.append, depth=2)
    blocks = [bytes([i]) * (i + 1) for i in range(200)]
    for block in blocks:
        writer.write(block)
    writer.close()
    assert written == blocks


def test_background_writer_writes_in_another_thread():
    threads = set()
    writer = BackgroundWriter(lambda block: threads.add(threading.current_thread().name))
    writer.write(b'x')
    writer.close()
    assert threads == {'dsr-ops-writer'}


def test_background_writer_reports_the_first_error_and_never_blocks_the_producer():
    calls = []

    def write(block):
        calls.append(block)
        if len(calls) == 3:
            raise OSError(28, 'No space left on device')

    writer = BackgroundWriter(write, depth=1)
    with pytest.raises(OSError, match='No space left'):
        for index in range(1000):
            writer.write(b'%d' % index)
        writer.close()
    writer.abandon()
    assert len(calls) == 3


def test_background_writer_abandon_never_raises():
    def write(block):
        raise OSError('broken')

    writer = BackgroundWriter(write)
    writer.write(b'x')
    writer.abandon()
    writer.abandon()
