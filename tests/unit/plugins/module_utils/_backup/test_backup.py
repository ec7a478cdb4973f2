# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The backup run's pure parts (_backup/backup.py): what killed runs left."""

from __future__ import annotations

from ansible_collections.dsr.ops.plugins.module_utils._backup import backup, files


def test_leftovers_only_of_this_database(tmp_path):
    names = {
        files.temp_path(str(tmp_path), 'dsr_db_20261127T020000Z.dump'): True,
        files.temp_path(str(tmp_path), 'dsr_db_x_20261127T020000Z.dump'): False,  # another database
        str(tmp_path / 'dsr_db_20261126T020000Z.dump.zst'): True,  # published, no manifest
        str(tmp_path / 'dsr_db_20261125T020000Z.dump.zst'): False,  # complete backup
        str(tmp_path / 'dsr_db_20261125T020000Z.dump.zst.manifest.json'): False,
    }
    for path in names:
        open(path, 'w').close()
    removed = backup.clean_leftovers([str(tmp_path)], 'dsr_db')
    assert sorted(removed) == sorted(p for p, gone in names.items() if gone)
