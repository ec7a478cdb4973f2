# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Compression of stored backups (_backup/codec.py): round trips, damage found, levels."""

from __future__ import annotations

import io
import os

import pytest

from ansible_collections.dsr.ops.plugins.module_utils._backup import codec, files
from ansible_collections.dsr.ops.plugins.module_utils._backup.errors import BackupIntegrityError


@pytest.mark.parametrize('compression', ['zstd', 'gzip', 'none'])
def test_codec_round_trip(compression, tmp_path):
    data = os.urandom(3000) * 1000
    stored = tmp_path / 'x'
    with open(stored, 'wb') as out:
        raw, size, digest = codec.compress_stream(io.BytesIO(data), out, compression, codec.DEFAULT_LEVELS[compression] or 0, threads=2)
    assert raw == len(data) and size == stored.stat().st_size
    assert digest == files.sha256_file(str(stored))[0]
    chunks = []
    got = codec.decompress_to(str(stored), compression, chunks.append, expected_sha256=digest)
    assert b''.join(chunks) == data and got == (len(data), size, digest)


@pytest.mark.parametrize('compression', ['zstd', 'gzip'])
def test_codec_detects_damage(compression, tmp_path):
    stored = tmp_path / 'x'
    with open(stored, 'wb') as out:
        dummy, dummy2, digest = codec.compress_stream(io.BytesIO(b'registry ' * 100000), out, compression, 3)
    blob = bytearray(stored.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    stored.write_bytes(bytes(blob))
    with pytest.raises(BackupIntegrityError):
        codec.decompress_to(str(stored), compression, lambda b: None, expected_sha256=digest)


def test_codec_levels():
    assert codec.validate_level('zstd', None) == 1
    with pytest.raises(ValueError, match='between 1 and 9'):
        codec.validate_level('gzip', 12)
