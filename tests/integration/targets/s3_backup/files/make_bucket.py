# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Create the bucket the s3_backup target works in (the module never creates buckets).

    python make_bucket.py ENDPOINT_URL REGION BUCKET

The credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never the command line.
"""

from __future__ import annotations

import sys

import boto3


def main():
    """Create BUCKET at ENDPOINT_URL; an existing bucket of ours is fine."""
    endpoint_url, region, bucket = sys.argv[1:4]
    client = boto3.client('s3', endpoint_url=endpoint_url, region_name=region)
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    print(bucket)


if __name__ == '__main__':
    main()
