# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The harness's S3 server (moto in server mode) answers the S3 API over HTTP.

Only what later modules rely on is checked here: buckets, a multipart upload with
SHA-256 part checksums, metadata, ranged reads and listing. moto is a stand-in
for S3, not S3: its quirks are not asserted.
"""

from __future__ import annotations

import hashlib
import os

import boto3
import pytest
from botocore.config import Config


@pytest.fixture
def s3(s3_service):
    return s3_service


def client(state):
    return boto3.client('s3', endpoint_url=state['endpoint_url'], region_name=state['region'], aws_access_key_id=state['access_key'],
                        aws_secret_access_key=state['secret_key'], config=Config(retries={'max_attempts': 2}))


def test_multipart_upload_round_trip(s3):
    s3c = client(s3)
    s3c.create_bucket(Bucket='dsr-backups')
    part = os.urandom(5 * 1024 * 1024)
    whole = part + part[:1000]
    upload = s3c.create_multipart_upload(Bucket='dsr-backups', Key='database/x.dump.zst', ChecksumAlgorithm='SHA256',
                                         Metadata={'sha256': hashlib.sha256(whole).hexdigest()})
    parts = []
    for number, body in enumerate((part, part[:1000]), start=1):
        answer = s3c.upload_part(Bucket='dsr-backups', Key='database/x.dump.zst', UploadId=upload['UploadId'], PartNumber=number, Body=body,
                                 ChecksumAlgorithm='SHA256')
        parts.append({'PartNumber': number, 'ETag': answer['ETag'], 'ChecksumSHA256': answer['ChecksumSHA256']})
    s3c.complete_multipart_upload(Bucket='dsr-backups', Key='database/x.dump.zst', UploadId=upload['UploadId'], MultipartUpload={'Parts': parts})

    head = s3c.head_object(Bucket='dsr-backups', Key='database/x.dump.zst')
    assert head['ContentLength'] == len(whole)
    assert head['Metadata']['sha256'] == hashlib.sha256(whole).hexdigest()
    body = s3c.get_object(Bucket='dsr-backups', Key='database/x.dump.zst')['Body'].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(whole).hexdigest()
    ranged = s3c.get_object(Bucket='dsr-backups', Key='database/x.dump.zst', Range='bytes=10-19')['Body'].read()
    assert ranged == whole[10:20]
    listed = s3c.list_objects_v2(Bucket='dsr-backups', Prefix='database/')
    assert [o['Key'] for o in listed['Contents']] == ['database/x.dump.zst']


def test_missing_object_is_a_404(s3):
    s3c = client(s3)
    s3c.create_bucket(Bucket='dsr-empty')
    with pytest.raises(s3c.exceptions.ClientError) as caught:
        s3c.head_object(Bucket='dsr-empty', Key='nope')
    assert caught.value.response['Error']['Code'] in ('404', 'NoSuchKey')
