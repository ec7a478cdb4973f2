#!/usr/bin/python
# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: log_search
short_description: Search the DSR logs in Elasticsearch or OpenSearch, count against thresholds, export for investigations
version_added: 0.3.0
description:
  - Runs the runbook's log searches (System Monitoring, Log Monitoring; Security Operations, Daily Security Monitoring)
    against Elasticsearch 8.x or 9.x or OpenSearch 2.x, each with an exact hit count, terms aggregations, a date histogram
    and a sample of the newest hits, and gives each search a status against thresholds on the count and on every
    aggregation bucket (an IP with too many authentication failures).
  - "Honest about what was searched: an index pattern that matches no index is V(unknown) (O(searches[].on_no_index)),
    not 0 hits; shard failures or a timed-out search make the search at least V(warning) (C(partial results: 2 of 5 shards
    failed)); an unreachable cluster, refused credentials, a missing index or a refused query are V(unknown) with the
    server's reason."
  - With O(searches[].export_path), writes every matching hit (up to O(searches[].export_max_hits)) to an NDJSON file for an
    incident investigation, paging through a point in time with C(search_after); one page is in memory at a time, and the
    file appears under its name, mode 0600, only complete.
  - The time window is absolute in every request (computed from O(now)), so a search can be repeated and its figures checked.
author:
  - DSR Operations Team (@dsr-ops)
extends_documentation_fragment:
  - dsr.ops.elasticsearch
  - dsr.ops.attributes
  - dsr.ops.attributes.IDEMPOTENT
attributes:
  check_mode:
    support: full
    details:
      - Searches run as in a real run (they only read). An export is not written; RV(checks.export) says how many hits would be
        written and reports C(changed=true), since whether the file would differ is only known by fetching every hit.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A search changes nothing. An export reports C(changed) only when the file's content differs from what was there.
options:
  searches:
    description:
      - The searches to run; results are keyed by O(searches[].name). When unset, the three presets below.
      - "Presets (each field overridable in its entry): V(errors), C(level) matches V(ERROR) in C(dsr-logs-*) over the last
        hour; V(auth_failures), C(message) matches the phrase V(authentication failed) in C(dsr-logs-*) over the last hour
        (the runbook's C(match) would also count any message with either word); V(security_high), C(severity) matches V(high)
        in C(security-logs-*) over 24 hours."
      - An entry whose O(searches[].name) is a preset's name starts from that preset, as does one with O(searches[].preset).
    type: list
    elements: dict
    suboptions:
      name:
        description: The search's key in RV(checks).
        type: str
        required: true
      preset:
        description: The preset to start from, when O(searches[].name) is not a preset's name.
        type: str
        choices: [errors, auth_failures, security_high]
      index:
        description: Index name, pattern or comma-separated list, such as V(dsr-logs-*). Required without a preset.
        type: str
      field:
        description: The field to match, such as C(level). With O(searches[].value); or use O(searches[].query).
        type: str
      value:
        description: The value O(searches[].field) must match.
        type: raw
      match_type:
        description:
          - How O(searches[].value) is matched. V(match) is the full-text query (case-insensitive on a C(text) field, exact on a
            C(keyword) field), V(match_phrase) needs the words in order, V(term) is exact.
          - Defaults to the preset's, else V(match).
        type: str
        choices: [match, match_phrase, term]
      query:
        description:
          - "One query DSL clause instead of O(searches[].field)/O(searches[].value), such as
            C({\"bool\": {\"should\": [...], \"minimum_should_match\": 1}}). The time window is added as a filter."
        type: dict
      since:
        description: The window ends at O(searches[].to) (default O(now)) and starts this long before, such as V(1h) or V(24h).
        type: str
      from:
        description: The window's start, ISO 8601 (V(2026-12-02T08:00:00Z)); replaces a preset's O(searches[].since).
        type: str
      to:
        description: The window's end, ISO 8601. Defaults to O(now).
        type: str
      time_field:
        description: The date field the window applies to; also the sort order of samples and exports. Defaults to C(@timestamp).
        type: str
      group_by:
        description:
          - Fields to count hits by (a C(terms) aggregation each), such as C(service.keyword), C(host.keyword), C(source.ip).
            They must be keyword (or numeric, IP) fields; a C(text) field makes the search V(unknown) with the server's reason.
        type: list
        elements: str
      group_size:
        description: Buckets per O(searches[].group_by) field, the largest first. Defaults to 10.
        type: int
      histogram_interval:
        description: Also count hits per interval over the window (a C(date_histogram) with empty buckets kept), such as V(5m).
        type: str
      sample_size:
        description: How many of the newest hits to return in RV(checks.sample), 0 to 100. Defaults to 5.
        type: int
      sample_fields:
        description: The C(_source) fields of sampled hits. Defaults to the whole C(_source).
        type: list
        elements: str
      warning:
        description: Warning when the hit count is above this.
        type: float
      critical:
        description: Critical when the hit count is above this.
        type: float
      bucket_warning:
        description: Warning when any O(searches[].group_by) bucket (one service, one IP) has more hits than this.
        type: float
      bucket_critical:
        description: Critical when any O(searches[].group_by) bucket has more hits than this.
        type: float
      on_no_index:
        description:
          - The status when O(searches[].index) matches no index, so nothing was searched. Defaults to V(unknown).
          - V(ok) only for an index that may rightly not exist yet.
        type: str
        choices: [ok, warning, critical, unknown]
      export_path:
        description:
          - Write every matching hit, newest first, to this NDJSON file (one C({"_index", "_id", "_source"}) object per line),
            mode 0600. Its directory must exist.
          - The file holds personal data; keep it in a private directory and delete it when the investigation closes.
          - An export that met shard failures is not written (its hits would be incomplete); the search is then at least V(warning).
        type: path
      export_max_hits:
        description: Stop the export after this many hits (C(truncated) in RV(checks.export) says so). Defaults to 100000.
        type: int
      export_fields:
        description: The C(_source) fields to export. Defaults to the whole C(_source).
        type: list
        elements: str
      export_page_size:
        description: Hits per request while exporting, 1 to 10000. Defaults to 1000.
        type: int
  now:
    description:
      - The end of every window that has no O(searches[].to), ISO 8601. Defaults to the current time.
      - Set it to repeat yesterday's check exactly, or in tests.
    type: str
  fail_on:
    description:
      - When the task fails. V(critical) fails on an overall V(critical) or V(unknown); V(warning) on V(warning) too;
        V(never) only reports.
    type: str
    choices: [critical, warning, never]
    default: critical
notes:
  - Searches are read-only and need the C(read) index privilege (plus C(view_index_metadata) for an export's point in time).
  - Hit counts are exact (C(track_total_hits)); aggregation buckets are as exact as the cluster's terms aggregation
    (RV(checks.groups) carries C(error_bound)).
seealso:
  - module: dsr.ops.access_log_report
  - module: dsr.ops.metrics_check
  - name: Elasticsearch search API
    description: The request each search sends.
    link: https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-search
'''

EXAMPLES = r'''
- name: The runbook's log checks (errors and authentication failures in the last hour, high-severity security events in 24 h)
  dsr.ops.log_search:
    hosts: [https://elasticsearch.dsr.example:9200]
    ca_cert: /etc/pki/dsr/ca.pem
    api_key: "{{ dsr_es_api_key }}"
    searches:
      - name: errors
        group_by: [service.keyword]
        warning: 50
        critical: 500
      - name: auth_failures
        group_by: [source_ip.keyword]
        bucket_warning: 20
        bucket_critical: 100
      - name: security_high
        critical: 0
  register: logs

- name: Export one IP's failed logins of last night for an investigation
  dsr.ops.log_search:
    searches:
      - name: incident_2026_118
        index: dsr-logs-*
        query:
          bool:
            filter:
              - term: {source_ip.keyword: 203.0.113.77}
              - match_phrase: {message: authentication failed}
        from: "2026-12-01T20:00:00Z"
        to: "2026-12-02T06:00:00Z"
        export_path: /srv/incidents/2026-118/failed-logins.ndjson
        export_fields: ["@timestamp", source_ip, user, service, message]
    fail_on: never
'''

RETURN = r'''
status:
  description: Overall status, the worst of the searches.
  returned: always
  type: str
  sample: warning
summary:
  description: One line naming the overall status and every search that is not V(ok).
  returned: always
  type: str
  sample: "warning: auth_failures=warning"
failed_checks:
  description: Names of the searches whose status made the task fail under O(fail_on).
  returned: always
  type: list
  elements: str
  sample: [auth_failures]
reachable:
  description: Whether a host answered C(GET /) as Elasticsearch or OpenSearch with the credentials.
  returned: always
  type: bool
  sample: true
cluster:
  description: What C(GET /) said, null when no host answered.
  returned: always
  type: dict
  contains:
    product:
      description: V(elasticsearch) or V(opensearch).
      type: str
      sample: elasticsearch
    version:
      description: The server's version number.
      type: str
      sample: 8.19.3
    cluster_name:
      description: The cluster's name.
      type: str
      sample: dsr-logs
    url:
      description: The host that answered (without credentials).
      type: str
      sample: https://elasticsearch.dsr.example:9200
requests:
  description: HTTP requests the task sent.
  returned: always
  type: int
  sample: 4
checks:
  description: One entry per search, by name.
  returned: always
  type: dict
  contains:
    status:
      description: The search's status.
      type: str
      returned: always
      sample: warning
    msg:
      description: Why, in words.
      type: str
      returned: always
      sample: "37 hits for message match_phrase 'authentication failed' in dsr-logs-* from 2026-12-02T09:00:00.000Z to 2026-12-02T10:00:00.000Z"
    index:
      description: The index pattern searched.
      type: str
      returned: always
      sample: dsr-logs-*
    preset:
      description: The preset the search started from, or null.
      type: str
      returned: always
      sample: auth_failures
    condition:
      description: What the hits match, in words.
      type: str
      returned: always
      sample: "message match_phrase 'authentication failed'"
    window:
      description: The window, C(from) and C(to), ISO 8601 in UTC.
      type: dict
      returned: always
      sample: {from: "2026-12-02T09:00:00.000Z", to: "2026-12-02T10:00:00.000Z"}
    request:
      description: The C(_search) body sent, to repeat the search by hand.
      type: dict
      returned: always
    count:
      description: The exact number of hits in the window.
      type: int
      returned: when the cluster answered the search
      sample: 37
    count_relation:
      description: V(eq) for an exact count (always asked for).
      type: str
      returned: when the cluster answered the search
      sample: eq
    timed_out:
      description: Whether the search timed out on the server (partial results).
      type: bool
      returned: when the cluster answered the search
      sample: false
    shards:
      description: C(total), C(successful), C(skipped) and C(failed) shards; C(total) 0 means the pattern matched no index.
      type: dict
      returned: when the cluster answered the search
      sample: {total: 5, successful: 5, skipped: 0, failed: 0}
    groups:
      description:
        - Per O(searches[].group_by) field, C(buckets) (each C(key), C(count), C(status)), C(other_count) (hits in no
          returned bucket) and C(error_bound) (the terms aggregation's C(doc_count_error_upper_bound)).
      type: dict
      returned: when the search found its index
      sample: {source_ip.keyword: {buckets: [{key: 203.0.113.77, count: 31, status: warning}], other_count: 6, error_bound: 0}}
    flagged:
      description: The buckets over O(searches[].bucket_warning) or O(searches[].bucket_critical), each C(field), C(key), C(count), C(status).
      type: list
      elements: dict
      returned: when the search found its index
      sample: [{field: source_ip.keyword, key: 203.0.113.77, count: 31, status: warning}]
    histogram:
      description: Hits per O(searches[].histogram_interval), each C(time) and C(count), empty intervals included.
      type: list
      elements: dict
      returned: when O(searches[].histogram_interval) is set and the search found its index
      sample: [{time: "2026-12-02T09:00:00.000Z", count: 4}]
    sample:
      description: The newest hits, up to O(searches[].sample_size), each C(index), C(id) and C(source).
      type: list
      elements: dict
      returned: when the search found its index
    export:
      description:
        - The export, when O(searches[].export_path) is set - C(path), C(planned_hits), C(hits) written, C(truncated)
          (stopped at O(searches[].export_max_hits)), C(changed), and after a write C(sha256) and C(bytes); C(error) when
          it was not written, C(msg) in check mode.
      type: dict
      returned: when O(searches[].export_path) is set and the search found its index
      sample: {path: /srv/incidents/2026-118/failed-logins.ndjson, planned_hits: 31, hits: 31, truncated: false, changed: true, bytes: 9920}
'''

from ansible_collections.dsr.ops.plugins.module_utils._module import run_module
from ansible_collections.dsr.ops.plugins.module_utils._elastic.entry import CHECK


def main():
    run_module(CHECK)


if __name__ == '__main__':
    main()
