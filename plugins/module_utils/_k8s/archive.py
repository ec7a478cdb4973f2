# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The configuration archive: deterministic YAML in a deterministic tar.gz, Secrets in ansible-vault format.

One file per object, ``<resource>/<name>.yaml`` (``deployments.apps/payment-service.yaml``),
``secrets/<name>.yaml.vault`` for a Secret. The same configuration always gives
the same bytes: keys sorted, members sorted by name, every member owned by
uid 0 with mode 0600 and time 0, a gzip header without name or time. A
Secret's ciphertext changes with every encryption (vault uses a random salt),
so the backup reuses the previous archive's ciphertext when the plaintext
under it is the same; then an unchanged namespace gives an archive with the
same SHA-256, and ``changed`` means the configuration changed.

Why ansible-vault and not sops/age: every Ansible user and AWX already hold
vault passwords (AWX has a Vault credential type and a custom credential can
hand the same password to this module), and ``ansible-vault view`` opens a
file by hand with nothing else installed. sops/age would add a binary and a
key distribution that the DSR team does not run today. The format is written
with ``cryptography`` (see :class:`Vault` for why not ansible-core's code).

Reading an archive back is reading untrusted input: :func:`read_archive`
accepts only regular members that the manifest lists, of the size and SHA-256
it records, and never more bytes than it records (a gzip bomb stops at the
first oversized member). Nothing is extracted to disk.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import hmac
import io
import os
import tarfile

from ansible_collections.dsr.ops.plugins.module_utils._k8s.client import K8sError

# the biggest object the API server stores is about 1.5 MiB (etcd's request limit); anything much bigger is not ours
MAX_MEMBER_BYTES = 8 * 1024 * 1024
VAULT_SUFFIX = '.vault'
DEFAULT_VAULT_ID = 'dsr-k8s-config'


class ConfigArchiveError(K8sError):
    """An archive that cannot be written or read back as written; ``str()`` is safe to show."""


def dump_yaml(obj):
    """The object as YAML with sorted keys, the same bytes for the same object."""
    import yaml  # pylint: disable=import-outside-toplevel
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True, width=120).encode('utf-8')


def load_yaml(data, where):
    """One YAML document, parsed safely; ConfigArchiveError naming ``where`` otherwise."""
    import yaml  # pylint: disable=import-outside-toplevel
    try:
        return yaml.safe_load(data.decode('utf-8'))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigArchiveError('%s is not YAML: %s' % (where, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)) from None


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def build(files):
    """``(tar.gz bytes, tar size)`` of ``files`` (name -> bytes), deterministic."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o600
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ''
            tar.addfile(info, io.BytesIO(files[name]))
    tar_bytes = raw.getvalue()
    packed = io.BytesIO()
    # no file name and time 0 in the gzip header: the same tar gives the same bytes
    with gzip.GzipFile(filename='', mode='wb', fileobj=packed, mtime=0, compresslevel=9) as handle:
        handle.write(tar_bytes)
    return packed.getvalue(), len(tar_bytes)


def read_archive(path, objects):
    """The members of the archive at ``path`` (name -> bytes), each proven against ``objects`` (the manifest's list).

    ConfigArchiveError for a member that is not a regular file, not listed, of
    another size or SHA-256, or a listed file that is missing.
    """
    expected = {entry['file']: entry for entry in objects}
    found = {}
    try:
        with tarfile.open(path, mode='r|gz') as tar:
            for member in tar:
                entry = expected.get(member.name)
                if entry is None:
                    raise ConfigArchiveError('%s holds %s, which its manifest does not list: not an archive as k8s_config_backup writes it'
                                             % (path, member.name))
                if not member.isreg():
                    raise ConfigArchiveError('%s: member %s is not a regular file' % (path, member.name))
                if member.name in found:
                    raise ConfigArchiveError('%s holds %s twice' % (path, member.name))
                if member.size != entry['size_bytes'] or member.size > MAX_MEMBER_BYTES:
                    raise ConfigArchiveError('%s: %s is %d bytes, its manifest says %d' % (path, member.name, member.size, entry['size_bytes']))
                data = tar.extractfile(member).read(member.size + 1)
                if len(data) != entry['size_bytes'] or sha256(data) != entry['sha256']:
                    raise ConfigArchiveError('%s: %s does not match the SHA-256 in its manifest: the archive is damaged' % (path, member.name))
                found[member.name] = data
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, OSError) as exc:
        raise ConfigArchiveError('cannot read %s as a tar.gz archive: %s' % (path, exc)) from None
    missing = sorted(set(expected) - set(found))
    if missing:
        raise ConfigArchiveError('%s lacks %s, which its manifest lists' % (path, ', '.join(missing[:5]) + (' ...' if len(missing) > 5 else '')))
    return found


class Vault:
    """ansible-vault format 1.2, AES256, with one password and vault id.

    Written from the format's published description (docs.ansible.com, "Ansible Vault format"): PBKDF2-HMAC-SHA256 over
    a random 32-byte salt, 10000 iterations, 80 bytes of key material (AES key, HMAC key, counter block); the plaintext
    PKCS#7-padded and encrypted with AES-256-CTR; HMAC-SHA256 of the ciphertext; salt, HMAC and ciphertext in hex on
    three lines, that hexlified again and wrapped at 80 columns under the header. ansible-core's own implementation
    (``ansible.parsing.vault``) cannot be imported by a module: under AnsiballZ it clashes with the module's bundled
    ``ansible.module_utils``. The tests prove the format both ways against the real ``ansible-vault``.
    """

    ITERATIONS = 10000

    def __init__(self, password, vault_id=DEFAULT_VAULT_ID):
        self.vault_id = vault_id
        self._password = password.encode('utf-8')

    def _keys(self, salt):
        from cryptography.hazmat.primitives import hashes  # pylint: disable=import-outside-toplevel
        from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC  # pylint: disable=import-outside-toplevel
        material = PBKDF2HMAC(algorithm=hashes.SHA256(), length=80, salt=salt, iterations=self.ITERATIONS).derive(self._password)
        return material[:32], material[32:64], material[64:]

    @staticmethod
    def _cipher(key, counter):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # pylint: disable=import-outside-toplevel
        return Cipher(algorithms.AES(key), modes.CTR(counter))

    def encrypt(self, data):
        from cryptography.hazmat.primitives import padding  # pylint: disable=import-outside-toplevel
        salt = os.urandom(32)
        key, hmac_key, counter = self._keys(salt)
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = self._cipher(key, counter).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        signature = hmac.new(hmac_key, ciphertext, hashlib.sha256).hexdigest()
        body = binascii.hexlify(b'\n'.join((binascii.hexlify(salt), signature.encode('ascii'), binascii.hexlify(ciphertext))))
        lines = [body[i:i + 80] for i in range(0, len(body), 80)]
        return b'\n'.join([('$ANSIBLE_VAULT;1.2;AES256;%s' % self.vault_id).encode('ascii')] + lines) + b'\n'

    def decrypt(self, data, where):
        """The plaintext; ConfigArchiveError naming ``where`` when the password does not open it."""
        from cryptography.hazmat.primitives import padding  # pylint: disable=import-outside-toplevel
        lines = data.strip().split(b'\n')
        header = lines[0].split(b';') if lines else []
        if len(header) < 3 or header[0] != b'$ANSIBLE_VAULT' or header[1] not in (b'1.1', b'1.2'):
            raise ConfigArchiveError('%s is not in ansible-vault format' % where)
        if header[2].strip() != b'AES256':
            raise ConfigArchiveError('%s is encrypted with %s; only AES256 vault files are read' % (where, header[2].decode('ascii', 'replace')))
        try:
            salt, signature, ciphertext = binascii.unhexlify(b''.join(line.strip() for line in lines[1:])).split(b'\n', 2)
            salt, ciphertext = binascii.unhexlify(salt), binascii.unhexlify(ciphertext)
        except (binascii.Error, ValueError):
            raise ConfigArchiveError('%s is not in ansible-vault format: its body is not hexadecimal' % where) from None
        key, hmac_key, counter = self._keys(salt)
        if not hmac.compare_digest(hmac.new(hmac_key, ciphertext, hashlib.sha256).hexdigest().encode('ascii'), signature.strip()):
            raise ConfigArchiveError('%s cannot be decrypted with this vault_password (vault id %s): it was encrypted with another '
                                     'password, or the file is damaged' % (where, self.vault_id))
        decryptor = self._cipher(key, counter).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise ConfigArchiveError('%s: the plaintext is not padded as ansible-vault pads it' % where) from None
