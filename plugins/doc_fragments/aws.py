# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Documentation of the S3 connection options shared by dsr.ops modules."""

from __future__ import annotations


class ModuleDocFragment:
    """S3 endpoint, credentials, retries and checksum settings (see module_utils/_s3/client.py)."""

    DOCUMENTATION = r'''
options:
  access_key:
    description:
      - AWS access key id.
      - When O(access_key), O(secret_key), O(session_token) and O(profile) are all unset, the keys are read from
        E(AWS_ACCESS_KEY_ID), E(AWS_SECRET_ACCESS_KEY) and E(AWS_SESSION_TOKEN) or E(AWS_SECURITY_TOKEN) (the name
        AWX's Amazon Web Services credential injects), then their older names E(AWS_ACCESS_KEY), E(EC2_ACCESS_KEY),
        E(AWS_SECRET_KEY), E(EC2_SECRET_KEY), E(EC2_SECURITY_TOKEN); when none is set there either, boto3's own chain
        decides (E(AWS_PROFILE), the shared credentials and config files, container and instance roles).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key. See O(access_key) for the environment. Never returned or logged.
      - Prefer the environment, injected by an AWX credential into C(ansible-playbook), to a key in a playbook;
        a secret in a task's C(environment) keyword shows on the module's command line under C(-vvv).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - Session token of temporary credentials (with O(access_key) and O(secret_key)). Never returned or logged.
    type: str
    aliases: [aws_session_token, security_token, aws_security_token]
  profile:
    description:
      - A named profile of the shared AWS config and credentials files. Cannot be combined with keys.
      - When unset and no key is given, E(AWS_PROFILE) or E(AWS_DEFAULT_PROFILE).
    type: str
    aliases: [aws_profile]
  region:
    description:
      - AWS region of the bucket. When unset, E(AWS_REGION), E(AWS_DEFAULT_REGION), E(EC2_REGION), then the profile's.
      - S3-compatible stores usually accept any region, often V(us-east-1).
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - URL of an S3-compatible store (MinIO, Ceph RGW) instead of AWS, for example V(https://minio.dsr.example:9000).
      - When unset, E(AWS_ENDPOINT_URL_S3), E(AWS_ENDPOINT_URL) or E(S3_URL), else AWS's endpoint for the region.
      - Must not contain credentials.
    type: str
    aliases: [aws_endpoint_url, s3_url]
  validate_certs:
    description:
      - Verify the endpoint's TLS certificate. Only turn off against a test store.
    type: bool
    default: true
  ca_bundle:
    description:
      - CA certificates (PEM file) to verify the endpoint with, for a store with a private CA. When unset, E(AWS_CA_BUNDLE).
    type: path
    aliases: [aws_ca_bundle]
  addressing_style:
    description:
      - V(path) puts the bucket in the URL path (most MinIO and Ceph set-ups need it), V(virtual) in the host name,
        V(auto) lets botocore choose (path style for IP addresses).
    type: str
    choices: [auto, path, virtual]
    default: auto
  checksum_calculation:
    description:
      - botocore's C(request_checksum_calculation) and C(response_checksum_validation). From botocore 1.36 on, the
        default V(when_supported) sends a CRC checksum with every upload (as an C(aws-chunked) trailer on streamed
        bodies), which older S3-compatible servers (MinIO before 2024, Ceph before Squid, many appliances) reject with
        errors such as C(XAmzContentSHA256Mismatch), C(InvalidArgument) or C(NotImplemented). Set V(when_required) for
        such a store, and O(part_checksums=false) if it also rejects SHA-256 part checksums.
      - When unset, botocore's default (E(AWS_REQUEST_CHECKSUM_CALCULATION), the config file, else V(when_supported)).
    type: str
    choices: [when_supported, when_required]
  retries:
    description:
      - How many times every S3 call is retried on a transient error (HTTP 500, 502, 503, 504, throttling, a dropped
        or timed-out connection), with exponential backoff and jitter (botocore's C(standard) retry mode). A download
        whose stream breaks resumes from the last byte received, up to this many times per range.
      - Between 0 and 50; more would keep a job against a dead endpoint waiting for hours.
    type: int
    default: 10
  connect_timeout:
    description: Seconds to wait for a connection to the endpoint.
    type: float
    default: 10
  read_timeout:
    description: Seconds to wait for data on an established connection before retrying.
    type: float
    default: 60
notes:
  - The module runs where C(ansible-playbook) runs (or in the AWX execution environment) and reaches the store over the
    network. HTTP proxies are taken from E(https_proxy) and E(no_proxy).
requirements:
  - boto3 and botocore (1.36 or later for O(checksum_calculation))
'''
