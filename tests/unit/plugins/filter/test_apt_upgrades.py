# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dsr.ops.apt_upgrades over apt-get --simulate output as Debian 12's apt 2.6 prints it (copied from a run on this machine)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dsr.ops.plugins.filter.apt_upgrades import apt_upgrades

SIMULATION = '''NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
      Keep also in mind that locking is deactivated,
      so don't depend on the relevance to the real current situation!
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following packages will be upgraded:
  base-files bash libgcrypt20 libgcrypt20-dev liblzma-dev
Inst base-files [12.4+deb12u11] (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
Inst libgcrypt20-dev [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64]) []
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst liblzma-dev [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64]) []
Inst linux-image-6.1.0-29-amd64 (6.1.123-1 Debian-Security:12/oldstable-security [amd64])
Inst python3-jwt [2.6.0-1] (2.6.0-1+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [all])
Inst libc6:i386 [2.36-9+deb12u9] (2.36-9+deb12u10 Debian:12.15/oldstable [i386])
Conf base-files (12.4+deb12u15 Debian:12.15/oldstable [amd64])
Conf bash (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
'''


def test_every_inst_line_is_a_package_with_its_versions_and_archives():
    packages = apt_upgrades(SIMULATION)['packages']
    assert [package['name'] for package in packages] == [
        'base-files', 'bash', 'libgcrypt20-dev', 'libgcrypt20', 'liblzma-dev', 'linux-image-6.1.0-29-amd64', 'python3-jwt', 'libc6']
    assert packages[2] == {'name': 'libgcrypt20-dev', 'architecture': 'amd64', 'current': '1.10.1-3', 'candidate': '1.10.1-3+deb12u1',
                           'archives': ['Debian:12.15/oldstable', 'Debian-Security:12/oldstable-security'], 'security': True}


def test_security_is_an_archive_whose_suite_ends_in_security():
    result = apt_upgrades(SIMULATION)
    assert [package['name'] for package in result['packages'] if package['security']] == [
        'libgcrypt20-dev', 'libgcrypt20', 'liblzma-dev', 'linux-image-6.1.0-29-amd64', 'python3-jwt']
    assert result['unreadable'] == []


def test_a_new_package_has_no_current_version_and_a_qualified_name_keeps_its_architecture():
    packages = {package['name']: package for package in apt_upgrades(SIMULATION)['packages']}
    assert packages['linux-image-6.1.0-29-amd64']['current'] is None
    assert packages['libc6']['architecture'] == 'i386' and packages['libc6']['security'] is False


def test_ubuntu_security_pockets_count():
    line = 'Inst openssl [3.0.2-0ubuntu1.15] (3.0.2-0ubuntu1.18 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])'
    (package,) = apt_upgrades(line)['packages']
    assert package['security'] is True and package['candidate'] == '3.0.2-0ubuntu1.18'


def test_a_suite_merely_mentioning_security_does_not_count():
    (package,) = apt_upgrades('Inst tool [1] (2 Vendor:1/security-tools-backports [amd64])')['packages']
    assert package['security'] is False


def test_nothing_to_upgrade_is_an_empty_list():
    assert apt_upgrades('Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n') == {
        'packages': [], 'unreadable': []}


def test_an_inst_line_it_cannot_read_is_reported_not_guessed():
    result = apt_upgrades('Inst broken line without versions\n')
    assert result == {'packages': [], 'unreadable': ['Inst broken line without versions']}


def test_not_a_string_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match='give the standard output of apt-get --simulate'):
        apt_upgrades(None)
