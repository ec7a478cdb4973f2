# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: apt_upgrades
author:
  - DSR Operations Team (@dsr-ops)
version_added: 0.3.0
short_description: The upgrades an apt-get simulation lists, and which of them come from a security archive
description:
  - Reads the output of C(apt-get --simulate dist-upgrade) (or C(upgrade)) - its C(Inst) lines, which apt prints in this form
    since long before Debian 10 - and gives one item per package to be upgraded or newly installed, with its installed and
    candidate versions, its archives, and whether one of them is a security archive (its name ends in C(-security), as
    Debian's C(bookworm-security) and Ubuntu's C(jammy-security) do).
  - Nothing else of the output counts. A line that looks like an C(Inst) line but cannot be read is returned in
    C(unreadable) rather than guessed at, so a list that misses something says so.
  - The weekly maintenance (M(dsr.ops.maintenance_window) gated, role C(dsr.ops.maintenance_weekly)) lists the pending security
    updates with it; the simulation changes nothing and needs no lock.
positional: _input
options:
  _input:
    description: The standard output of C(apt-get --simulate dist-upgrade).
    type: str
    required: true
'''

EXAMPLES = r'''
- name: What an upgrade would install (changes nothing)
  ansible.builtin.command:
    argv: [apt-get, --simulate, -o, Debug::NoLocking=true, dist-upgrade]
  register: simulation
  changed_when: false
  check_mode: false

- name: The pending security updates
  ansible.builtin.set_fact:
    security_updates: "{{ (simulation.stdout | dsr.ops.apt_upgrades).packages | selectattr('security') | list }}"
'''

RETURN = r'''
_value:
  description: What the simulation would do.
  type: dict
  contains:
    packages:
      description:
        - One per C(Inst) line, in the order apt gives them - C(name), C(architecture) (or null), C(current) (the installed
          version; null when the package is new), C(candidate), C(archives) (such as C(Debian-Security:12/stable-security)) and
          C(security) (true when an archive's suite ends in C(-security)).
      type: list
      elements: dict
      sample: [{name: openssl, architecture: amd64, current: 3.0.11-1~deb12u1, candidate: 3.0.13-1~deb12u1,
                archives: ["Debian-Security:12/stable-security"], security: true}]
    unreadable:
      description: C(Inst) lines that could not be read (at most 20), for the message.
      type: list
      elements: str
'''

import re

from ansible.errors import AnsibleFilterError

# Inst <name>[:<arch>] [<current>] (<candidate> <archive>[, <archive>...] [<arch>]) [...]
_INST = re.compile(r'^Inst (?P<name>[^\s:]+)(?::(?P<qualifier>\S+))? (?:\[(?P<current>[^\]\s]+)\] )?'
                   r'\((?P<candidate>\S+) (?P<archives>[^\[\)]*?)(?: \[(?P<arch>[^\]\s]+)\])?\)')
_UNREADABLE_MAX = 20


def apt_upgrades(output):
    """The upgrades of an ``apt-get --simulate`` output: ``{'packages': [...], 'unreadable': [...]}``."""
    if not isinstance(output, str):
        raise AnsibleFilterError('dsr.ops.apt_upgrades: give the standard output of apt-get --simulate (a string), got %s'
                                 % type(output).__name__)
    packages, unreadable = [], []
    for line in output.splitlines():
        if not line.startswith('Inst '):
            continue
        match = _INST.match(line)
        if match is None:
            if len(unreadable) < _UNREADABLE_MAX:
                unreadable.append(line[:200])
            continue
        archives = [item.strip() for item in match.group('archives').split(',') if item.strip()]
        packages.append({
            'name': match.group('name'),
            'architecture': match.group('arch') or match.group('qualifier'),
            'current': match.group('current'),
            'candidate': match.group('candidate'),
            'archives': archives,
            'security': any(archive.rsplit('/', 1)[-1].endswith('-security') for archive in archives),
        })
    return {'packages': packages, 'unreadable': unreadable}


class FilterModule:
    """dsr.ops filters for package updates."""

    def filters(self):
        return {'apt_upgrades': apt_upgrades}
