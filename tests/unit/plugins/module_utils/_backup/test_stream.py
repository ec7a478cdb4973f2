# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Decompress-and-prove (_backup/stream.py): the copy a restore reads is the backup, or there is no copy."""

from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import codec, stream
from ansible_collections.dsr.ops.plugins.module_utils._backup import manifest as mf
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupIntegrityError


def _stored(tmp_path, compression, raw):
    source = tmp_path / 'raw'
    source.write_bytes(raw)
    stored = tmp_path / codec.stored_name('dsr_db_20261127T020000Z', compression)
    with open(source, 'rb') as src, open(stored, 'wb') as dst:
        dummy, size, sha = codec.compress_stream(src, dst, compression, codec.validate_level(compression, None))
    data = {'manifest_version': 1, 'database': 'dsr_db', 'file': stored.name, 'format': 'custom', 'compression': compression,
            'started_at': '2026-11-27T02:00:00+00:00', 'sha256': sha, 'stored_size_bytes': size, 'raw_size_bytes': len(raw),
            'pg_dump_version': 'pg_dump (PostgreSQL) 15.18', 'row_counts': {}}
    return str(stored), mf.parse(data, 'test manifest')


@pytest.mark.parametrize('compression', ['zstd', 'gzip', 'none'])
def test_decompress_verified_round_trip(compression, tmp_path):
    raw = os.urandom(3 * codec.CHUNK // 2) + b'PGDMP' * 500000
    path, manifest = _stored(tmp_path, compression, raw)
    temp_dir = tmp_path / 'temp'
    temp_dir.mkdir()
    temp, seconds = stream.decompress_verified(path, manifest, str(temp_dir))
    assert seconds >= 0
    with open(temp.path, 'rb') as handle:
        assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(raw).digest()
    assert os.stat(temp.path).st_mode & 0o777 == 0o600
    # held by this process: another run's clean-up leaves it alone, even though the name says "temporary"
    assert stream.remove_stale_copies(str(temp_dir), 'dsr_db') == []
    temp.remove()
    assert not os.listdir(temp_dir)


def test_decompress_verified_removes_the_file_on_a_bad_checksum(tmp_path):
    path, manifest = _stored(tmp_path, 'zstd', b'registry data\n' * 100000)
    manifest = dataclasses.replace(manifest, sha256='0' * 64)
    temp_dir = tmp_path / 'temp'
    temp_dir.mkdir()
    with pytest.raises(BackupIntegrityError, match='SHA-256'):
        stream.decompress_verified(path, manifest, str(temp_dir))
    assert not os.listdir(temp_dir)


def test_decompress_verified_removes_the_file_when_writing_fails(tmp_path, monkeypatch):
    path, manifest = _stored(tmp_path, 'zstd', os.urandom(3 * codec.CHUNK))
    temp_dir = tmp_path / 'temp'
    temp_dir.mkdir()

    class Full:
        def __init__(self, target):
            self.target = target

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.target.close()

        def write(self, block):
            raise OSError(28, 'No space left on device')

    real_writer = stream.files.TempFile.writer
    monkeypatch.setattr(stream.files.TempFile, 'writer', lambda self: Full(real_writer(self)))
    with pytest.raises(OSError, match='No space left') as caught:
        stream.decompress_verified(path, manifest, str(temp_dir))
    # the message names the file that could not be written, which a bare ENOSPC does not
    assert str(temp_dir) in str(caught.value) and caught.value.errno == 28
    assert not os.listdir(temp_dir)
