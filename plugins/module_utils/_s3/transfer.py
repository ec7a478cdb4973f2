# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Moving one backup file to and from S3, with SHA-256 proof at every step.

Upload: the file is read once, in order; each part goes to S3 with its own
SHA-256 (S3 checks it on arrival and refuses a part that differs) while the
whole file's SHA-256 is computed from the same bytes and compared with the
manifest's before the multipart upload is completed. A failed upload is
aborted, so no partial object ever appears under the key. After the upload,
what S3 stored is confirmed (size, the file's SHA-256 in the metadata, S3's own
checksum when the store returns one).

Download: ranged GETs in parallel into a hidden temporary file beside the
destination, each range retried from where it stopped when a connection drops,
pinned to the object's ETag (a replaced object fails the download instead of
mixing two versions); the file's SHA-256 is compared with the manifest's, and
only then is the file fsynced and renamed to its final name.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.dsr.ops.plugins.module_utils._backup import files
from ansible_collections.dsr.ops.plugins.module_utils._s3.client import STREAM_ERRORS
from ansible_collections.dsr.ops.plugins.module_utils._s3.errors import S3IntegrityError, S3RequestError

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_PARTS = 10000  # S3's maximum number of parts
READ_CHUNK = 1024 * 1024


def b64(digest):
    """S3's base64 form of a binary digest."""
    return base64.b64encode(digest).decode('ascii')


def part_size_for(size, part_size):
    """The part size to use: ``part_size``, raised so the file fits in S3's 10,000 parts (whole MiB)."""
    needed = -(-size // MAX_PARTS)
    if needed > part_size:
        mib = 1024 * 1024
        part_size = -(-needed // mib) * mib
    return part_size


def composite_sha256(part_digests):
    """S3's checksum of a multipart object: SHA-256 of the parts' binary SHA-256s, base64, ``-N``."""
    return '%s-%d' % (b64(hashlib.sha256(b''.join(part_digests)).digest()), len(part_digests))


def confirm_stored(head, size, sha256_hex, part_digests=None):
    """Compare a HEAD answer with what was sent; return the confirmation, raise when it differs.

    For a SHA-256 multipart upload a store may return the composite checksum
    (``<base64>-<parts>``, as S3 does) or a checksum of the whole object; either
    is accepted when it matches. For a multipart object found already there (an
    unchanged re-run), the part layout is unknown, so S3's checksum cannot be
    recomputed and ``s3_checksum`` stays None, as it does when the store returns
    no checksum; size and the ``sha256`` metadata are always compared.
    """
    confirmation = {'size': False, 'sha256_metadata': False, 's3_checksum': None}
    if head is None:
        raise S3IntegrityError('the object is not there after the upload')
    if head.get('ContentLength') != size:
        raise S3IntegrityError('S3 holds %s bytes, the file has %d' % (head.get('ContentLength'), size))
    confirmation['size'] = True
    stored_sha = (head.get('Metadata') or {}).get('sha256')
    if stored_sha != sha256_hex:
        raise S3IntegrityError('the object\'s sha256 metadata is %r, the file\'s SHA-256 is %s' % (stored_sha, sha256_hex))
    confirmation['sha256_metadata'] = True
    returned = head.get('ChecksumSHA256')
    if not returned:
        return confirmation
    whole = b64(bytes.fromhex(sha256_hex))
    multipart = '-' in (head.get('ETag') or '') or '-' in returned
    if returned == whole:
        confirmation['s3_checksum'] = True
    elif part_digests:
        composite = composite_sha256(part_digests)
        if returned not in (composite, composite.rsplit('-', 1)[0]):
            raise S3IntegrityError('S3\'s SHA-256 checksum of the object (%s) matches neither the file nor its parts' % returned)
        confirmation['s3_checksum'] = True
    elif not multipart:
        raise S3IntegrityError('S3\'s SHA-256 checksum of the object (%s) is not the file\'s (%s)' % (returned, whole))
    return confirmation


class _Transfer:
    """One object moved in parts of ``part_size``, ``concurrency`` at a time."""

    def __init__(self, store, bucket, key, part_size, concurrency):
        self.store = store
        self.bucket = bucket
        self.key = key
        self.part_size = part_size
        self.concurrency = concurrency

    def where(self):
        """``s3://bucket/key`` for messages."""
        return 's3://%s/%s' % (self.bucket, self.key)


class Uploader(_Transfer):
    """Upload one local file to ``bucket``/``key``."""

    def __init__(self, store, bucket, key, part_size, threshold, concurrency, part_checksums=True, extra_args=None):
        super().__init__(store, bucket, key, part_size, concurrency)
        self.threshold = threshold
        self.part_checksums = part_checksums
        self.extra_args = dict(extra_args or {})

    def upload(self, path, expected_sha256, metadata):
        """Upload ``path``; raise S3IntegrityError when its bytes do not hash to ``expected_sha256``.

        Returns ``{etag, version_id, parts, multipart, sha256, part_digests, seconds}``.
        """
        size = os.path.getsize(path)
        started = time.monotonic()
        if size < self.threshold:
            result = self._single(path, size, expected_sha256, metadata)
        else:
            result = self._multipart(path, size, expected_sha256, metadata)
        result['seconds'] = time.monotonic() - started
        result['size'] = size
        return result

    def _single(self, path, size, expected_sha256, metadata):
        sha256_hex, hashed = files.sha256_file(path)
        if sha256_hex != expected_sha256 or hashed != size:
            raise S3IntegrityError('%s does not match its manifest (SHA-256 %s, manifest %s): the local backup is damaged; '
                                   'nothing was uploaded' % (path, sha256_hex, expected_sha256))
        kwargs = dict(Bucket=self.bucket, Key=self.key, Metadata=metadata, **self.extra_args)
        if self.part_checksums:
            kwargs['ChecksumSHA256'] = b64(bytes.fromhex(sha256_hex))
        with open(path, 'rb') as body:
            response = self.store.call('put_object', 'upload of %s' % self.where(), Body=body, ContentLength=size, **kwargs)
        return {'etag': response.get('ETag'), 'version_id': response.get('VersionId'), 'parts': 1, 'multipart': False,
                'sha256': sha256_hex, 'part_digests': None}

    def _multipart(self, path, size, expected_sha256, metadata):
        part_size = part_size_for(size, self.part_size)
        kwargs = dict(Bucket=self.bucket, Key=self.key, Metadata=metadata, **self.extra_args)
        if self.part_checksums:
            kwargs['ChecksumAlgorithm'] = 'SHA256'
        upload_id = self.store.call('create_multipart_upload', 'start of the upload of %s' % self.where(), **kwargs)['UploadId']
        try:
            parts, digests, sha256_hex = self._send_parts(path, upload_id, part_size)
            if sha256_hex != expected_sha256:
                raise S3IntegrityError('%s does not match its manifest (SHA-256 %s, manifest %s): the local backup is damaged; '
                                       'the upload was aborted' % (path, sha256_hex, expected_sha256))
            response = self.store.call('complete_multipart_upload', 'completion of the upload of %s' % self.where(),
                                       Bucket=self.bucket, Key=self.key, UploadId=upload_id, MultipartUpload={'Parts': parts})
        except BaseException:
            self._abort(upload_id)
            raise
        return {'etag': response.get('ETag'), 'version_id': response.get('VersionId'), 'parts': len(parts), 'multipart': True,
                'sha256': sha256_hex, 'part_digests': digests}

    def _abort(self, upload_id):
        """Abort a multipart upload so its parts are not kept (and billed); best effort."""
        try:
            self.store.call('abort_multipart_upload', 'abort of the upload of %s' % self.where(),
                            Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except S3RequestError:
            pass

    def _send_parts(self, path, upload_id, part_size):
        """Read the file in order, hash it whole, send the parts ``concurrency`` at a time.

        At most ``concurrency + 1`` parts are in memory at once.
        """
        whole = hashlib.sha256()
        slots = threading.BoundedSemaphore(self.concurrency + 1)
        failed = threading.Event()
        futures = []

        def release(future):
            if future.exception() is not None:
                failed.set()
            slots.release()

        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix='dsr-s3-part') as pool:
            with open(path, 'rb') as source:
                number = 0
                while not failed.is_set():
                    slots.acquire()
                    data = source.read(part_size)
                    if not data:
                        slots.release()
                        break
                    whole.update(data)
                    number += 1
                    future = pool.submit(self._send_part, upload_id, number, data)
                    future.add_done_callback(release)
                    futures.append(future)
                    del data
        results = [future.result() for future in futures]  # raises the first part's error
        parts = [part for part, _digest in results]
        digests = [digest for _part, digest in results]
        return parts, digests, whole.hexdigest()

    def _send_part(self, upload_id, number, data):
        digest = hashlib.sha256(data).digest()
        kwargs = dict(Bucket=self.bucket, Key=self.key, UploadId=upload_id, PartNumber=number, Body=data, ContentLength=len(data))
        if self.part_checksums:
            kwargs['ChecksumSHA256'] = b64(digest)
        response = self.store.call('upload_part', 'upload of part %d of %s' % (number, self.where()), **kwargs)
        part = {'PartNumber': number, 'ETag': response['ETag']}
        if self.part_checksums:
            returned = response.get('ChecksumSHA256')
            if returned and returned != kwargs['ChecksumSHA256']:
                raise S3IntegrityError('S3 stored part %d of %s with SHA-256 %s, sent %s' % (number, self.where(), returned, kwargs['ChecksumSHA256']))
            part['ChecksumSHA256'] = kwargs['ChecksumSHA256']
        return part, digest


class Downloader(_Transfer):
    """Download one object to a local file, atomically, checking its SHA-256."""

    def __init__(self, store, bucket, key, part_size, concurrency, retries):
        super().__init__(store, bucket, key, part_size, concurrency)
        self.retries = retries

    def download(self, dest, size, etag, expected_sha256, overwrite=True, keep=True):
        """Fetch the object (``size`` bytes, ``etag``) to ``dest``; publish it only if its SHA-256 matches.

        Returns ``{sha256, seconds}``. The temporary file is removed on any failure,
        and also after the check when ``keep`` is false (a download only to prove the object).
        """
        started = time.monotonic()
        directory = os.path.dirname(os.path.abspath(dest))
        # held by this run's lock until it is published or removed (see files.TempFile)
        with files.TempFile(directory, os.path.basename(dest)) as temp:
            fd = os.open(temp.path, os.O_RDWR)
            try:
                with files.naming(temp.path):
                    sha256_hex = self._fetch(fd, size, etag)
            finally:
                os.close(fd)
            if sha256_hex != expected_sha256:
                raise S3IntegrityError('%s is corrupted: its SHA-256 is %s, the manifest says %s; nothing was '
                                       'kept or restored' % (self.where(), sha256_hex, expected_sha256))
            if keep:
                temp.publish(dest, overwrite=overwrite)
        return {'sha256': sha256_hex, 'seconds': time.monotonic() - started}

    def _fetch(self, fd, size, etag):
        """Fetch every range into ``fd``; return the SHA-256 of the file, read back from it.

        Ranges are hashed in order as soon as each one and those before it are
        written, so hashing overlaps the transfer of the ranges after it. The
        bytes hashed are those in the file (read back), not those received.
        """
        digest = hashlib.sha256()
        ranges = [(start, min(start + self.part_size, size)) for start in range(0, size, self.part_size)]
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix='dsr-s3-range') as pool:
            futures = [pool.submit(self._fetch_range, fd, start, end, etag) for start, end in ranges]
            for (start, end), future in zip(ranges, futures):
                future.result()
                offset = start
                while offset < end:
                    block = os.pread(fd, min(4 * READ_CHUNK, end - offset), offset)
                    if not block:
                        raise S3IntegrityError('%s: the downloaded file ends at byte %d of %d' % (self.where(), offset, size))
                    digest.update(block)
                    offset += len(block)
        return digest.hexdigest()

    def _fetch_range(self, fd, start, end, etag):
        """GET bytes [start, end) into ``fd`` at their offset; resume from where a dropped stream stopped."""
        offset = start
        attempt = 0
        while offset < end:
            response = self.store.call('get_object', 'download of %s' % self.where(), Bucket=self.bucket, Key=self.key,
                                       Range='bytes=%d-%d' % (offset, end - 1), IfMatch=etag)
            body = response['Body']
            reason = None
            try:
                while offset < end:
                    block = body.read(min(READ_CHUNK, end - offset))
                    if not block:
                        reason = 'the stream ended'
                        break
                    os.pwrite(fd, block, offset)
                    offset += len(block)
            except STREAM_ERRORS as exc:
                reason = str(exc)
            finally:
                body.close()
            if offset < end:
                # a dropped or short stream: resume from the last byte written
                attempt += 1
                if attempt > self.retries:
                    raise S3RequestError('download of %s stopped at byte %d of %d after %d retries: %s'
                                         % (self.where(), offset, end, self.retries, reason))
                self.store.backoff(attempt)
