# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWX / Automation Controller configuration as code (controller/, playbooks/controller_config.yml), offline.

Every awx.awx module call the playbook would make is rendered from the data the way Ansible renders it (its own
Templar, the play's vars_files, the task's loop), then given to that module's own ``main()`` with
``ControllerAPIModule`` replaced by a stand-in that only runs ansible-core's argument validation: a misspelled or
mistyped option fails here, not on the controller. The schedules are parsed with dateutil and their next runs compared
with the runbook's times in Asia/Manila (and with the maintenance_window module's own windows); the credential types'
injectors are rendered as AWX renders them and fed to the dsr.ops code that reads the environment.

awx.awx comes from the ``ansible`` wheel (scripts/lib.sh, dsr_awx_collection): scripts/test.sh exports
DSR_AWX_COLLECTIONS; a directory of ANSIBLE_COLLECTIONS_PATH that holds ansible_collections/awx/awx works too.
"""

from __future__ import annotations

import copy
import datetime
import importlib
import itertools
import json
import os
import re
import subprocess
import sys
import zoneinfo
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from dateutil import rrule as dateutil_rrule
from jinja2 import StrictUndefined, sandbox
from jinja2.exceptions import UndefinedError

from conftest import COLLECTION, _collections_root

CONTROLLER = COLLECTION / 'controller'
PROJECT = CONTROLLER / 'project'
PLAYBOOK = COLLECTION / 'playbooks' / 'controller_config.yml'
MANILA = zoneinfo.ZoneInfo('Asia/Manila')
# a fixed "now" (a Friday), so that the expected runs below are written out, not computed by the code under test
NOW = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=MANILA)

# AWX's own "OpenShift or Kubernetes API Bearer Token" credential (awx/main/models/credential injectors, kubernetes_bearer_token)
AWX_KUBERNETES_ENVIRONMENT = {'K8S_AUTH_HOST': 'host', 'K8S_AUTH_API_KEY': 'api_key', 'K8S_AUTH_VERIFY_SSL': 'validate_certs',
                              'K8S_AUTH_SSL_CA_CERT': 'ca_cert'}
# the job templates whose operator passes options the survey does not ask (the restore's and the recovery's many options)
OPERATOR_VARIABLES = {'DSR database restore', 'DSR disaster recovery'}
CHANGE_ID_TEMPLATES = {'DSR database maintenance', 'DSR database restore', 'DSR disaster recovery', 'DSR weekly maintenance',
                       'DSR monthly maintenance'}


# ---------------------------------------------------------------- loading and rendering, as Ansible does

LOADER = DataLoader()
# what a site gives with -e @site.yml (the settings controller/controller.yml leaves empty)
SITE = {'dsr_controller_project_scm_url': 'https://git.dsr.internal/dsr/ops.git', 'dsr_controller_weekly_change_id': 'CHG-2026-0101',
        'dsr_controller_monthly_change_id': 'CHG-2026-0102'}


def _plain(value):
    """Ansible's tagged values as plain JSON data (what a module receives)."""
    return json.loads(json.dumps(value))


def _play():
    return LOADER.load_from_file(str(PLAYBOOK), trusted_as_template=True)[0]


def play_variables():
    """The play's vars_files, merged in order, trusted as templates like Ansible's own (the injectors are !unsafe), then
    the site's settings as extra vars."""
    variables = {}
    for name in _play()['vars_files']:
        variables.update(LOADER.load_from_file(str((PLAYBOOK.parent / name).resolve()), trusted_as_template=True))
    variables.update(SITE)
    return variables


def render(value, variables):
    return _plain(Templar(loader=LOADER, variables=variables).template(value))


def module_tasks():
    """The play's awx.awx tasks: (task name, module short name, args, loop expression)."""
    tasks = []
    for task in _play()['tasks']:
        modules = [key for key in task if key.startswith('awx.awx.')]
        if modules:
            tasks.append((task['name'], modules[0][len('awx.awx.'):], task[modules[0]], task['loop']))
    return tasks


def module_calls():
    """Every awx.awx module call of the play: (module, label, params), rendered from the data with the task's own args."""
    variables = play_variables()
    calls = []
    for _name, module, args, loop in module_tasks():
        for item in render(loop, variables):
            params = render(args, dict(variables, item=item))
            calls.append((module, params.get('name') or params.get('identifier'), params))
    return calls


def data():
    """controller/*.yml rendered (the Jinja references to the site settings resolved, the injectors left as they are)."""
    variables = play_variables()
    return render(variables, variables)


DATA = data()
CALLS = module_calls()


# ---------------------------------------------------------------- the collections

def _awx_root():
    candidates = [os.environ.get('DSR_AWX_COLLECTIONS', '')] + os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep)
    for candidate in candidates:
        if candidate and (Path(candidate) / 'ansible_collections' / 'awx' / 'awx' / 'MANIFEST.json').is_file():
            return candidate
    return None


@pytest.fixture(scope='module')
def awx():
    """awx.awx's root on sys.path; a clear failure (never a skip) when it is not installed."""
    root = _awx_root()
    if root is None:
        pytest.fail('awx.awx is not installed: scripts/test.sh extracts it from the ansible wheel into .venv/collections '
                    '(dsr_awx_collection in scripts/lib.sh) and exports DSR_AWX_COLLECTIONS; set DSR_AWX_COLLECTIONS (or '
                    'ANSIBLE_COLLECTIONS_PATH) to a directory holding ansible_collections/awx/awx')
    if root not in sys.path:
        sys.path.insert(0, root)
    return root


@pytest.fixture(scope='module')
def dsr(tmp_path_factory):
    """dsr.ops's module_utils, imported from this checkout."""
    root = _collections_root(tmp_path_factory.mktemp('collections'))
    if root not in sys.path:
        sys.path.insert(0, root)
    base = 'ansible_collections.dsr.ops.plugins.module_utils.'
    names = ('_postgres.connection', '_s3.client', '_elastic.client', '_k8s.client', '_k8s.vaultopts', '_maintenance.window',
             '_maintenance.change')
    return {name: importlib.import_module(base + name) for name in names}


class _Validated(Exception):
    """Raised by the stand-in once the arguments are validated: main() goes no further."""


def validate_with_module(monkeypatch, module, params):
    """The errors of awx.awx's ``module``'s own argument validation of ``params`` (its main() run up to the API client)."""
    code = importlib.import_module('ansible_collections.awx.awx.plugins.modules.' + module)
    api = importlib.import_module('ansible_collections.awx.awx.plugins.module_utils.controller_api')
    found = {}

    class ArgumentsOnly:  # pylint: disable=too-few-public-methods
        def __init__(self, argument_spec, **kwargs):
            spec = dict(api.ControllerModule.AUTH_ARGSPEC)
            spec.update(argument_spec)
            validator = ArgumentSpecValidator(spec, **{key: kwargs[key] for key in (
                'mutually_exclusive', 'required_together', 'required_one_of', 'required_if', 'required_by') if key in kwargs})
            result = validator.validate(copy.deepcopy(params))
            found['errors'] = [str(error) for error in result.errors]
            raise _Validated()

    monkeypatch.setattr(code, 'ControllerAPIModule', ArgumentsOnly)
    with pytest.raises(_Validated):
        code.main()
    return found['errors']


# ---------------------------------------------------------------- every object against the awx.awx modules

def test_the_stand_in_refuses_a_misspelled_or_mistyped_option(awx, monkeypatch):
    assert validate_with_module(monkeypatch, 'job_template', {'name': 'x', 'playbook': 'a.yml', 'timeout': 60}) == []
    assert any('playbok' in error for error in validate_with_module(monkeypatch, 'job_template', {'name': 'x', 'playbok': 'a.yml'}))
    assert any('timeout' in error for error in validate_with_module(monkeypatch, 'job_template', {'name': 'x', 'timeout': 'an hour'}))
    # the node module's own required_if and mutually_exclusive take part
    assert validate_with_module(monkeypatch, 'workflow_job_template_node', {'identifier': 'a', 'workflow_job_template': 'w'})


def test_the_play_calls_every_module_in_order():
    order = [module for _name, module, _args, _loop in module_tasks()]
    assert order == ['credential_type', 'project', 'execution_environment', 'job_template', 'workflow_job_template',
                     'workflow_job_template_node', 'schedule']
    counts = {module: sum(1 for call in CALLS if call[0] == module) for module in order}
    assert counts == {'credential_type': len(DATA['dsr_controller_credential_types']), 'project': 1, 'execution_environment': 1,
                      'job_template': len(DATA['dsr_controller_job_templates']),
                      'workflow_job_template': len(DATA['dsr_controller_workflow_job_templates']),
                      'workflow_job_template_node': len(DATA['dsr_controller_workflow_nodes']),
                      'schedule': len(DATA['dsr_controller_schedules'])}


@pytest.mark.parametrize('module, label, params', CALLS, ids=['%s:%s' % (call[0], call[1]) for call in CALLS])
def test_each_call_passes_the_awx_modules_own_argument_validation(awx, monkeypatch, module, label, params):
    assert validate_with_module(monkeypatch, module, params) == [], label
    # nothing left for Ansible or the controller to render, but AWX's own injector templates
    text = json.dumps(params.get('extra_data') or {}) + json.dumps({k: v for k, v in params.items() if k != 'injectors'})
    assert '{{' not in text and '__omit_place_holder__' not in text, label


DATA_LISTS = {'credential_type': 'dsr_controller_credential_types', 'job_template': 'dsr_controller_job_templates',
              'workflow_job_template': 'dsr_controller_workflow_job_templates',
              'workflow_job_template_node': 'dsr_controller_workflow_nodes', 'schedule': 'dsr_controller_schedules'}


def test_the_play_forwards_every_key_the_data_gives():
    """A key the task does not pass on would be dropped in silence: every key of the data must reach the module."""
    variables = play_variables()
    singles = {'project': variables['dsr_controller_project'], 'execution_environment': variables['dsr_controller_execution_environment']}
    for _name, module, args, _loop in module_tasks():
        forwarded = set(re.findall(r'\bitem\.(\w+)', json.dumps(_plain(args))))
        entries = [singles[module]] if module in singles else variables[DATA_LISTS[module]]
        for entry in entries:
            assert set(entry) <= forwarded, '%s %s: not passed to awx.awx.%s: %s' % (
                module, entry.get('name') or entry.get('identifier'), module, sorted(set(entry) - forwarded))


# ---------------------------------------------------------------- schedules

def awx_rrule_problems(value):
    """AWX's own checks of a schedule's rrule (awx/api/serializers.py, SchedulePreviewSerializer.validate_rrule, AWX 24)."""
    problems = []
    dtstarts = re.findall(r'.*?(DTSTART(;[^:]+)?\:[0-9]+T[0-9]+Z?)', value)
    if not dtstarts:
        problems.append('Valid DTSTART required in rrule')
    if re.findall(r'.*?(DTSTART:[0-9]+T[0-9]+) ', value):
        problems.append('DTSTART cannot be a naive datetime')
    if len(dtstarts) > 1:
        problems.append('Multiple DTSTART is not supported')
    for rule in re.findall(r'.*?(RULE\:[^\s]*)', value):
        if 'interval' not in rule.lower():
            problems.append('INTERVAL required in rrule: ' + rule)
        if 'secondly' in rule.lower():
            problems.append('SECONDLY is not supported: ' + rule)
        if re.match(r'.*?BYDAY[\:\=][0-9]+[a-zA-Z]{2}', rule):
            problems.append('BYDAY with numeric prefix not supported: ' + rule)
        if 'COUNT' in rule and 'UNTIL' in rule:
            problems.append('RRULE may not contain both COUNT and UNTIL: ' + rule)
    return problems


def schedule(name):
    found = [entry for entry in DATA['dsr_controller_schedules'] if entry['name'] == name]
    assert len(found) == 1, name
    return found[0]


def next_runs(entry, count, since=NOW):
    return list(dateutil_rrule.rrulestr(entry['rrule']).xafter(since, count=count))


@pytest.mark.parametrize('entry', DATA['dsr_controller_schedules'], ids=[s['name'] for s in DATA['dsr_controller_schedules']])
def test_each_rrule_is_one_awx_accepts_in_asia_manila(entry):
    value = entry['rrule']
    assert awx_rrule_problems(value) == []
    assert re.match(r'^DTSTART;TZID=Asia/Manila:\d{8}T\d{6} RRULE:[^\s]+$', value), value
    # the first Sunday is BYDAY=SU;BYSETPOS=1: AWX refuses BYDAY=1SU
    assert not re.search(r'BYDAY=[^;]*\d', value), value
    rule = dateutil_rrule.rrulestr(value)
    first = rule.after(NOW)
    assert first.utcoffset() == datetime.timedelta(hours=8), value
    assert 'Asia/Manila' in str(first.tzinfo), first.tzinfo


# the runbook's times: (schedule, job or workflow, what the next runs after NOW must be, local time)
RUNBOOK = [
    ('DSR morning check 08:00', 'DSR morning check', 'daily', (8, 0)),
    ('DSR midday check 12:00', 'DSR midday check', 'daily', (12, 0)),
    ('DSR evening summary 18:00', 'DSR evening summary', 'daily', (18, 0)),
    ('DSR nightly backup 01:00', 'DSR nightly backup', 'daily', (1, 0)),
    # the monthly maintenance runs the weekly actions on the first Sunday
    ('DSR weekly maintenance Sunday 02:00', 'DSR weekly maintenance', 'later sundays', (2, 0)),
    ('DSR monthly maintenance first Sunday 01:00', 'DSR monthly maintenance', 'first sundays', (1, 0)),
]


@pytest.mark.parametrize('name, template, days, clock', RUNBOOK, ids=[r[0] for r in RUNBOOK])
def test_the_schedules_run_at_the_runbooks_times(name, template, days, clock):
    entry = schedule(name)
    assert entry['unified_job_template'] == template
    assert entry.get('enabled', True) is True
    runs = next_runs(entry, 6)
    assert all((run.hour, run.minute, run.second) == clock + (0,) for run in runs), runs
    if days == 'daily':
        assert NOW < runs[0] <= NOW + datetime.timedelta(days=1)
        assert all((b - a) == datetime.timedelta(days=1) for a, b in zip(runs, runs[1:]))
    elif days == 'later sundays':
        assert [run.date() for run in runs[:5]] == [datetime.date(2026, 12, 13), datetime.date(2026, 12, 20), datetime.date(2026, 12, 27),
                                                    datetime.date(2027, 1, 10), datetime.date(2027, 1, 17)]
        assert all(run.weekday() == 6 and run.day > 7 for run in runs)
    else:
        assert [run.date() for run in runs[:3]] == [datetime.date(2026, 12, 6), datetime.date(2027, 1, 3), datetime.date(2027, 2, 7)]
        assert all(run.weekday() == 6 and run.day <= 7 for run in runs)


def test_every_schedule_is_one_of_the_runbooks():
    assert sorted(entry['name'] for entry in DATA['dsr_controller_schedules']) == sorted(r[0] for r in RUNBOOK)


def test_the_daily_runs_next_fire_at_their_hour():
    assert next_runs(schedule('DSR morning check 08:00'), 2) == [datetime.datetime(2026, 12, 5, 8, 0, tzinfo=MANILA),
                                                                 datetime.datetime(2026, 12, 6, 8, 0, tzinfo=MANILA)]
    # NOW is noon exactly: the midday check of today has begun, the next is tomorrow's
    assert next_runs(schedule('DSR midday check 12:00'), 1) == [datetime.datetime(2026, 12, 5, 12, 0, tzinfo=MANILA)]
    assert next_runs(schedule('DSR evening summary 18:00'), 1) == [datetime.datetime(2026, 12, 4, 18, 0, tzinfo=MANILA)]
    assert next_runs(schedule('DSR nightly backup 01:00'), 1) == [datetime.datetime(2026, 12, 5, 1, 0, tzinfo=MANILA)]


def test_the_maintenance_schedules_open_with_the_maintenance_windows(dsr):
    """The weekly and monthly runs start when the maintenance_window module's own runbook windows open."""
    window = dsr['_maintenance.window']
    zone = zoneinfo.ZoneInfo(window.DEFAULT_TIMEZONE)
    assert window.DEFAULT_TIMEZONE == 'Asia/Manila'
    since = NOW.replace(tzinfo=None)
    windows, problems = window.parse_windows(list(window.DEFAULT_WINDOWS), since)
    assert problems == []
    by_name = {w.name: w for w in windows}
    monthly = [occurrence.start for occurrence in itertools.islice(by_name['monthly'].occurrences(zone, since), 12)]
    assert next_runs(schedule('DSR monthly maintenance first Sunday 01:00'), 12) == monthly
    # every weekly window but the one inside the monthly window
    weekly = [occurrence.start for occurrence in itertools.islice(by_name['weekly'].occurrences(zone, since), 60)]
    inside_monthly = [start for start in weekly if any(m <= start < m + datetime.timedelta(hours=4) for m in monthly)]
    assert len(inside_monthly) == 12 and all(start.astimezone(zone).day <= 7 for start in inside_monthly)
    assert next_runs(schedule('DSR weekly maintenance Sunday 02:00'), 40) == [start for start in weekly if start not in inside_monthly][:40]
    for schedule_name, template in (('DSR weekly maintenance Sunday 02:00', 'maintenance_weekly.yml'),
                                    ('DSR monthly maintenance first Sunday 01:00', 'maintenance_monthly.yml')):
        job = [entry for entry in DATA['dsr_controller_job_templates'] if entry['name'] == schedule(schedule_name)['unified_job_template']]
        assert job[0]['playbook'].endswith(template)
        assert set(schedule(schedule_name)['extra_data']) == {'dsr_change_id'}


def test_the_monthly_window_starts_on_the_next_three_first_sundays_at_one():
    assert next_runs(schedule('DSR monthly maintenance first Sunday 01:00'), 3) == [
        datetime.datetime(2026, 12, 6, 1, 0, tzinfo=MANILA), datetime.datetime(2027, 1, 3, 1, 0, tzinfo=MANILA),
        datetime.datetime(2027, 2, 7, 1, 0, tzinfo=MANILA)]
    # and a month that begins on a Sunday
    assert next_runs(schedule('DSR monthly maintenance first Sunday 01:00'), 1, datetime.datetime(2027, 7, 31, tzinfo=MANILA)) == [
        datetime.datetime(2027, 8, 1, 1, 0, tzinfo=MANILA)]


def test_the_settings_left_empty_are_the_ones_the_preflight_asks_for(dsr):
    settings = LOADER.load_from_file(str(CONTROLLER / 'controller.yml'))
    empty = {name for name, value in settings.items() if value == ''}
    preflight = json.dumps(_plain(_play()['tasks'][0]['ansible.builtin.assert']['that']))
    optional = {'dsr_controller_project_scm_credential', 'dsr_controller_ee_registry_credential'}
    assert empty - optional == set(SITE)
    assert all(name in preflight for name in SITE)
    # the scheduled maintenance's change ids are ones dsr.ops.change_record takes, and the preflight checks that form
    pattern = re.search(r"match\('([^']+)'\)", preflight).group(1)
    for sample in (SITE['dsr_controller_weekly_change_id'], 'CHG-2026-0042', 'CHG-2026-123456789', 'CHG-26-0042', 'CHG-2026-XXXX', 'STD-1'):
        assert bool(re.match(pattern, sample)) == bool(dsr['_maintenance.change'].CHANGE_ID_RE.match(sample)), sample
    for entry in DATA['dsr_controller_schedules']:
        if 'dsr_change_id' in (entry.get('extra_data') or {}):
            assert dsr['_maintenance.change'].CHANGE_ID_RE.match(entry['extra_data']['dsr_change_id']), entry['name']


def test_schedule_variables_are_ones_their_template_accepts():
    templates = {entry['name']: entry for entry in DATA['dsr_controller_job_templates']}
    for entry in DATA['dsr_controller_schedules']:
        template = templates.get(entry['unified_job_template'])
        given = set(entry.get('extra_data') or {})
        if template is None:
            assert entry['unified_job_template'] in {w['name'] for w in DATA['dsr_controller_workflow_job_templates']}, entry['name']
            assert not given, entry['name']
            continue
        survey = {q['variable']: q for q in (template.get('survey_spec') or {}).get('spec', [])} if template.get('survey_enabled') else {}
        if not template.get('ask_variables_on_launch'):
            assert given <= set(survey), '%s passes %s, which %s does not ask' % (entry['name'], sorted(given - set(survey)), template['name'])
        # a required survey question has no default a scheduled run could fall back on
        missing = {name for name, question in survey.items() if question['required'] and question.get('default') in (None, '')} - given
        assert not missing, '%s leaves the required %s of %s unanswered' % (entry['name'], sorted(missing), template['name'])
        for name, value in (entry.get('extra_data') or {}).items():
            question = survey.get(name)
            if question and question['type'] == 'multiplechoice':
                assert value in question['choices'], (entry['name'], name, value)
            if question and question['type'] == 'text':
                assert question.get('min', 0) <= len(value) <= question.get('max', 1024), (entry['name'], name, value)


# ---------------------------------------------------------------- job templates and their playbooks

def wrapper_target(path):
    plays = yaml.safe_load(path.read_text())
    assert isinstance(plays, list) and len(plays) == 1 and set(plays[0]) == {'name', 'ansible.builtin.import_playbook'}, path
    target = plays[0]['ansible.builtin.import_playbook']
    assert target.startswith('dsr.ops.'), path
    return target[len('dsr.ops.'):]


def test_every_playbook_of_the_collection_has_a_wrapper_that_imports_it():
    wrappers = {path.stem: wrapper_target(path) for path in PROJECT.glob('*.yml')}
    assert all(name == target for name, target in wrappers.items()), wrappers
    assert set(wrappers) == {path.stem for path in (COLLECTION / 'playbooks').glob('*.yml')}


def test_each_job_template_runs_a_wrapper_of_an_existing_playbook():
    prefix = DATA['dsr_controller_playbook_dir']
    assert prefix == 'controller/project/' and (COLLECTION / prefix).resolve() == PROJECT.resolve()
    playbooks = []
    for entry in DATA['dsr_controller_job_templates']:
        assert entry['playbook'].startswith(prefix), entry['name']
        wrapper = PROJECT / entry['playbook'][len(prefix):]
        assert wrapper.is_file(), entry['name']
        assert (COLLECTION / 'playbooks' / (wrapper_target(wrapper) + '.yml')).is_file(), entry['name']
        playbooks.append(wrapper.stem)
    # one job template per playbook; the configuration itself is run from a workstation, or by a job made by hand
    assert sorted(playbooks) == sorted({path.stem for path in PROJECT.glob('*.yml')} - {'controller_config'})
    assert len({entry['name'] for entry in DATA['dsr_controller_job_templates']}) == len(playbooks)


def test_the_wrappers_resolve_to_the_collections_playbooks(tmp_path, awx):
    """ansible-playbook --syntax-check over every wrapper: each import finds its dsr.ops playbook."""
    everything = tmp_path / 'all.yml'
    everything.write_text(yaml.safe_dump([{'ansible.builtin.import_playbook': str(path)} for path in sorted(PROJECT.glob('*.yml'))]))
    root = _collections_root(tmp_path / 'collections')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([root, awx]), ANSIBLE_NOCOLOR='1')
    done = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '--syntax-check', '-i', 'localhost,', str(everything)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_jobs_that_change_things_never_run_twice_at_once():
    changing = {'DSR database backup', 'DSR backup verification', 'DSR configuration backup', 'DSR database maintenance',
                'DSR weekly maintenance', 'DSR monthly maintenance',
                'DSR database restore', 'DSR disaster recovery', 'DSR disaster recovery test', 'DSR incident notice'}
    templates = {entry['name']: entry for entry in DATA['dsr_controller_job_templates']}
    assert changing <= set(templates)
    for name in changing:
        assert templates[name]['allow_simultaneous'] is False, name
    for entry in DATA['dsr_controller_workflow_job_templates']:
        assert entry['allow_simultaneous'] is False, entry['name']
    for entry in DATA['dsr_controller_job_templates']:
        assert isinstance(entry['timeout'], int) and 0 < entry['timeout'] <= 4 * 3600, entry['name']
        assert 'allow_simultaneous' in entry, entry['name']


def survey_problems(survey):
    """AWX's own checks of a survey spec (awx/api/views, JobTemplateSurveySpec._validate_spec_data)."""
    allowed = {'text': str, 'textarea': str, 'password': str, 'multiplechoice': str, 'multiselect': str, 'integer': int, 'float': float}
    problems = [field for field, kind in (('name', str), ('description', str), ('spec', list)) if not isinstance(survey.get(field), kind)]
    if problems or not survey['spec']:
        return problems or ['spec is empty']
    seen = set()
    for index, item in enumerate(survey['spec']):
        for field, kind in (('type', str), ('question_name', str), ('variable', str), ('required', bool)):
            if not isinstance(item.get(field), kind):
                problems.append('%d: %s' % (index, field))
        if item.get('variable') in seen:
            problems.append('%d: variable %s twice' % (index, item.get('variable')))
        seen.add(item.get('variable'))
        if item.get('type') not in allowed:
            problems.append('%d: type %s' % (index, item.get('type')))
            continue
        if item.get('default', '') != '' and not isinstance(item['default'], allowed[item['type']]):
            problems.append('%d: default' % index)
        problems += ['%d: %s' % (index, key) for key in ('min', 'max') if key in item and not isinstance(item[key], int)]
        if item['type'] in ('multiplechoice', 'multiselect'):
            if not item.get('choices'):
                problems.append('%d: choices' % index)
            elif item.get('default', '') != '' and item['default'] not in item['choices']:
                problems.append('%d: default not a choice' % index)
        problems += ['%d: unknown %s' % (index, key) for key in set(item) - {
            'type', 'question_name', 'question_description', 'variable', 'required', 'default', 'min', 'max', 'choices', 'new_question'}]
    return problems


def test_surveys_are_ones_awx_accepts_and_the_risky_jobs_ask_for_a_change_id():
    for entry in DATA['dsr_controller_job_templates']:
        if not entry.get('survey_enabled'):
            assert 'survey_spec' not in entry, entry['name']
            continue
        assert survey_problems(entry['survey_spec']) == [], entry['name']
    for name in CHANGE_ID_TEMPLATES:
        entry = [e for e in DATA['dsr_controller_job_templates'] if e['name'] == name][0]
        assert entry['survey_enabled'] is True, name
        question = [q for q in entry['survey_spec']['spec'] if q['variable'] == 'dsr_change_id']
        assert question and question[0]['required'] is True and question[0]['type'] == 'text', name
    # a restore and a recovery name their one environment: the playbooks' default is every environment
    for name in ('DSR database restore', 'DSR disaster recovery'):
        entry = [e for e in DATA['dsr_controller_job_templates'] if e['name'] == name][0]
        assert [q['required'] for q in entry['survey_spec']['spec'] if q['variable'] == 'dsr_targets'] == [True], name


def test_variables_on_launch_only_where_something_passes_them():
    passing = {node['unified_job_template'] for node in DATA['dsr_controller_workflow_nodes'] if node.get('extra_data')}
    templates = {entry['name']: entry for entry in DATA['dsr_controller_job_templates']}
    for entry in DATA['dsr_controller_schedules']:
        template = templates.get(entry['unified_job_template'])
        survey = {q['variable'] for q in (template or {}).get('survey_spec', {}).get('spec', [])}
        if set(entry.get('extra_data') or {}) - survey:
            passing.add(entry['unified_job_template'])
    asking = {entry['name'] for entry in DATA['dsr_controller_job_templates'] if entry.get('ask_variables_on_launch')}
    assert passing <= asking
    assert asking == passing | OPERATOR_VARIABLES


def test_credentials_are_the_sites_named_ones_one_of_each_kind():
    names = DATA['dsr_controller_credentials']
    by_name = {value: key for key, value in names.items()}
    assert len(by_name) == len(names)
    for entry in DATA['dsr_controller_job_templates']:
        kinds = [by_name.get(credential) for credential in entry['credentials']]
        assert None not in kinds, entry['name']
        # AWX refuses two credentials of one type on a job template
        types = ['postgresql' if kind.startswith('postgresql_') else kind for kind in kinds]
        assert len(types) == len(set(types)), entry['name']
    pg = {entry['name']: [c for c in entry['credentials'] if by_name[c].startswith('postgresql_')] for entry in DATA['dsr_controller_job_templates']}
    # each job with the login its roles use (docs/inventory.md)
    assert pg['DSR database backup'] == [names['postgresql_backup']]
    assert pg['DSR backup verification'] == [names['postgresql_restore_test']]
    for name in ('DSR database maintenance', 'DSR database restore', 'DSR disaster recovery', 'DSR disaster recovery test'):
        assert pg[name] == [names['postgresql_admin']], name
    for name in ('DSR weekly maintenance', 'DSR monthly maintenance'):
        assert pg[name] == [names['postgresql_maintenance']], name
    for name in ('DSR morning check', 'DSR midday check', 'DSR evening summary', 'DSR database health', 'DSR incident notice'):
        assert pg[name] == [names['postgresql_monitor']], name


# ---------------------------------------------------------------- the workflow

def test_the_nightly_workflow_is_backup_then_verification_with_a_failure_branch():
    workflow = DATA['dsr_controller_workflow_job_templates'][0]['name']
    nodes = DATA['dsr_controller_workflow_nodes']
    templates = {entry['name']: entry for entry in DATA['dsr_controller_job_templates']}
    by_id = {}
    for node in nodes:
        assert node['workflow_job_template'] == workflow
        assert node['unified_job_template'] in templates, node['identifier']
        # the module links a node only to nodes that already exist: those it leads to come first
        for edge in ('success_nodes', 'failure_nodes', 'always_nodes'):
            for child in node.get(edge, []):
                assert child in by_id, '%s -> %s: %s is made later' % (node['identifier'], edge, child)
        assert node['identifier'] not in by_id
        by_id[node['identifier']] = node
        if node.get('extra_data'):
            assert templates[node['unified_job_template']]['ask_variables_on_launch'] is True, node['identifier']
    job = {identifier: node['unified_job_template'] for identifier, node in by_id.items()}
    children = {identifier for node in nodes for edge in ('success_nodes', 'failure_nodes', 'always_nodes') for identifier in node.get(edge, [])}
    roots = sorted(identifier for identifier in by_id if identifier not in children)
    assert sorted(job[r] for r in roots) == ['DSR configuration backup', 'DSR database backup']
    # the S3 upload is a step of the backup playbook (roles/backup), not a node of its own
    assert 'dsr.ops.s3_backup' in (COLLECTION / 'roles' / 'backup' / 'tasks' / 'main.yml').read_text()
    backup = [by_id[r] for r in roots if job[r] == 'DSR database backup'][0]
    assert [job[n] for n in backup['success_nodes']] == ['DSR backup verification']
    notice = 'DSR incident notice'
    assert wrapper_target(PROJECT / 'incident_notice.yml') == 'incident_notice'
    for identifier, node in by_id.items():
        if job[identifier] == notice:
            continue
        # every step has a failure branch raising an incident that names it
        assert node.get('failure_nodes'), identifier
        for failed in node['failure_nodes']:
            assert job[failed] == notice
            assert by_id[failed]['extra_data']['incident_notice_job'] == job[identifier]
            assert by_id[failed]['extra_data'].get('incident_notice_status', 'critical') == 'critical'
    ok = [node for node in nodes if node.get('extra_data', {}).get('incident_notice_status') == 'ok']
    assert len(ok) == 1 and ok[0]['all_parents_must_converge'] is True
    parents = sorted(job[i] for i, node in by_id.items() if ok[0]['identifier'] in node.get('success_nodes', []))
    assert parents == ['DSR backup verification', 'DSR configuration backup']
    failed_checks = {c for node in nodes if node.get('extra_data', {}).get('incident_notice_status', 'critical') == 'critical'
                     and job[node['identifier']] == notice for c in node['extra_data']['incident_notice_checks']}
    assert set(ok[0]['extra_data']['incident_notice_checks']) == failed_checks
    # the nightly schedule runs the workflow: the daily verification is its second step
    assert schedule('DSR nightly backup 01:00')['unified_job_template'] == workflow


def _inventory(tmp_path):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(yaml.safe_dump({'dsr_environments': {
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                 'daily_ops_history_backend': 'directory', 'daily_ops_history_dir': str(tmp_path / 'history'),
                 'daily_ops_notice_dir': str(tmp_path / 'notices'), 'daily_ops_incident_time_zone': 'Asia/Manila'},
        'hosts': {'production': {}, 'staging': {'dsr_pg_database': 'dsr_staging'}}}}))
    return inventory


def _incident_notice(tmp_path, *extra):
    root = _collections_root(tmp_path / 'collections')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='default')
    env.pop('JOB_ID', None)
    done = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(_inventory(tmp_path)), 'dsr.ops.incident_notice',
                           *extra], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_failure_branch_raises_an_incident_and_the_success_path_resolves_it(tmp_path):
    """playbooks/incident_notice.yml as the workflow's nodes run it, against a history directory."""
    awx_vars = ['-e', 'awx_workflow_job_id=4711', '-e', '{"awx_workflow_job_name": "DSR nightly backup"}']
    output = _incident_notice(tmp_path, '-e', '{"incident_notice_job": "DSR database backup"}', *awx_vars)
    incidents = json.loads((tmp_path / 'history' / 'incidents.json').read_text())['incidents']
    opened = [i for i in incidents if i['status'] != 'Resolved']
    assert sorted(i['environment'] for i in opened) == ['production', 'staging']
    assert {i['severity'] for i in opened} == {'P2'}
    assert all(list(i['failing']) == ['backup'] and 'DSR database backup' in i['failing']['backup']['summary'] for i in opened)
    assert "the job 'DSR database backup' of the workflow 'DSR nightly backup' (AWX workflow job 4711) failed" in output
    notices = sorted(path.name for path in (tmp_path / 'notices').iterdir())
    assert len(notices) == 2 and all(name.endswith('-investigating.txt') for name in notices), notices
    _incident_notice(tmp_path, '-e', 'incident_notice_status=ok', '-e', '{"incident_notice_job": "DSR nightly backup"}',
                     '-e', '{"incident_notice_checks": ["backup", "config_backup"]}', *awx_vars)
    incidents = json.loads((tmp_path / 'history' / 'incidents.json').read_text())['incidents']
    assert sorted((i['environment'], i['status']) for i in incidents) == [('production', 'Resolved'), ('staging', 'Resolved')]


def test_the_incident_notice_refuses_a_failure_without_the_failed_jobs_name(tmp_path):
    root = _collections_root(tmp_path / 'collections')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_NOCOLOR='1')
    done = subprocess.run([str(Path(sys.executable).parent / 'ansible-playbook'), '-i', str(_inventory(tmp_path)), 'dsr.ops.incident_notice'],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0 and 'a failure needs incident_notice_job' in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / 'history' / 'incidents.json').exists()


# ---------------------------------------------------------------- credential types

def credential_type(name):
    found = [entry for entry in DATA['dsr_controller_credential_types'] if entry['name'] == name]
    assert len(found) == 1, name
    return found[0]


def field_ids(entry):
    return [field['id'] for field in entry['inputs']['fields']]


def input_problems(inputs):
    """AWX's own checks of a credential type's inputs (awx/main/fields.py, CredentialTypeInputField)."""
    problems = []
    keys = {'type', 'format', 'choices', 'id', 'label', 'help_text', 'multiline', 'secret', 'ask_at_runtime', 'default'}
    seen = set()
    for field in inputs['fields']:
        problems += ['%s: unknown %s' % (field.get('id'), key) for key in set(field) - keys]
        if not re.match(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$', field.get('id', '')) or field['id'] == 'tower' or 'label' not in field:
            problems.append('%s: id or label' % field.get('id'))
        if field['id'] in seen:
            problems.append('%s: twice' % field['id'])
        seen.add(field['id'])
        kind = field.get('type', 'string')
        if kind not in ('string', 'boolean'):
            problems.append('%s: type %s' % (field['id'], kind))
        if 'default' in field and not isinstance(field['default'], {'string': str, 'boolean': bool}[kind]):
            problems.append('%s: default is not a %s' % (field['id'], kind))
        problems += ['%s: %s on a %s' % (field['id'], key, kind) for key in ('choices', 'multiline', 'format', 'secret')
                     if key in field and kind != 'string']
        if 'choices' in field and field.get('default', field['choices'][0]) not in field['choices']:
            problems.append('%s: default is not a choice' % field['id'])
    problems += ['required %s is no field' % name for name in inputs.get('required', []) if name not in seen]
    problems += ['dependencies are not supported for custom credentials'] if 'dependencies' in inputs else []
    return problems


def awx_injector_problems(entry):
    """AWX's own checks of the injectors (CredentialTypeInjectorField.validate): schema, names, and every template rendered
    with StrictUndefined over the type's own inputs and ``tower.filename`` - an unknown name is an error there."""
    injectors, problems = entry['injectors'], []
    problems += ['unknown injector kind %s' % kind for kind in set(injectors) - {'file', 'env', 'extra_vars'}]
    problems += ['bad file key %s' % key for key in injectors.get('file', {}) if not re.match(r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$', key)]
    for name in injectors.get('env', {}):
        if not re.match(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$', name) or name.startswith('ANSIBLE_'):
            problems.append('env %s not allowed' % name)

    class Names:  # pylint: disable=too-few-public-methods
        pass

    tower = Names()
    tower.filename = Names()
    files = list(injectors.get('file', {}))
    if 'template' in files and len(files) > 1:
        problems.append('Must use multi-file syntax when injecting multiple files')
    for key in files:
        setattr(tower.filename, key.split('.')[1], 'EXAMPLE_FILENAME')
    namespace = dict((field, 'EXAMPLE') for field in field_ids(entry))
    namespace['tower'] = tower
    for kind, templates in injectors.items():
        for key, template in templates.items():
            if not isinstance(template, str) or not template.isascii():
                problems.append('%s %s is not an ASCII string' % (kind, key))
                continue
            try:
                sandbox.ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(template).render(namespace)
            except UndefinedError as exc:
                problems.append('%s %s uses an undefined field (%s)' % (kind, key, exc))
    return problems


def inject(entry, inputs):
    """What AWX injects for a credential with ``inputs``: ({env var: value}, {file label: content}, {env var: file label}).

    As AWX does it: an input left empty is not in the namespace (undefined), each file is rendered and named by
    ``tower.filename.<label>``, then the environment variables are rendered."""
    env = sandbox.ImmutableSandboxedEnvironment()

    class Names:  # pylint: disable=too-few-public-methods
        pass

    tower = Names()
    tower.filename = Names()
    namespace = {key: value for key, value in inputs.items() if value}
    namespace['tower'] = tower
    files, paths = {}, {}
    for label, template in entry['injectors'].get('file', {}).items():
        name = label.split('.')[1]
        files[name] = env.from_string(template).render(**namespace)
        paths['/runner/env/tmp_%s' % name] = name
        setattr(tower.filename, name, '/runner/env/tmp_%s' % name)
    environment = {key: env.from_string(template).render(**namespace) for key, template in entry['injectors'].get('env', {}).items()}
    named = {key: paths[value] for key, value in environment.items() if value in paths}
    return environment, files, named


SECRET_WORDS = ('password', 'secret', 'token', 'api_key', 'pgpass')


@pytest.mark.parametrize('entry', DATA['dsr_controller_credential_types'], ids=[e['name'] for e in DATA['dsr_controller_credential_types']])
def test_each_credential_type_is_one_awx_accepts(entry):
    assert entry['kind'] == 'cloud'
    assert entry['description']
    assert input_problems(entry['inputs']) == []
    assert awx_injector_problems(entry) == []
    # secrets travel as environment variables and files only: AWX stores extra vars with the job, Ansible prints them
    assert 'extra_vars' not in entry['injectors'], entry['name']
    # every input is used, and every one that holds a secret is secret: true
    used = set()
    for templates in entry['injectors'].values():
        for template in templates.values():
            used |= set(re.findall(r'\b[a-z_]+\b', template))
    for field in entry['inputs']['fields']:
        assert field['id'] in used, '%s: input %s is injected nowhere' % (entry['name'], field['id'])
        if any(word in field['id'] for word in SECRET_WORDS):
            assert field.get('secret') is True, '%s: %s must be secret: true' % (entry['name'], field['id'])
        else:
            assert not field.get('secret'), '%s: %s' % (entry['name'], field['id'])


def test_the_postgresql_type_writes_a_pgpass_file_and_never_the_password_to_the_environment(dsr):
    connection = dsr['_postgres.connection']
    entry = credential_type('DSR PostgreSQL')
    libpq = set(connection._LIBPQ_ENVIRONMENT.values())  # pylint: disable=protected-access
    names = set(entry['injectors']['env'])
    # what libpq reads, the names dsr.ops's own Connector gives a child program; and PGPASSFILE (libpq's .pgpass)
    assert names - {'PGPASSFILE'} <= libpq, names - libpq
    assert {'PGHOST', 'PGPORT', 'PGUSER', 'PGSSLMODE', 'PGPASSFILE'} <= names
    assert 'PGPASSWORD' not in names
    assert 'PGPASSFILE' in (connection.__doc__ or '')
    environment, files, named = inject(entry, {'host': 'pg-primary.prod.dsr.internal', 'port': '5432', 'user': 'dsr_monitor',
                                               'password': 'pa:ss\\word', 'sslmode': 'verify-full'})
    assert named == {'PGPASSFILE': 'pgpass'}
    # one line, ":" and "\" escaped as libpq's .pgpass wants them
    assert files['pgpass'] == 'pg-primary.prod.dsr.internal:5432:*:dsr_monitor:pa\\:ss\\\\word\n'
    assert environment['PGHOST'] == 'pg-primary.prod.dsr.internal' and environment['PGUSER'] == 'dsr_monitor'
    assert environment['PGPORT'] == '5432' and environment['PGSSLMODE'] == 'verify-full'
    # no CA given: no PGSSLROOTCERT file (an empty one would be a CA bundle holding nothing), libpq's default
    assert environment['PGSSLROOTCERT'] == ''
    assert not any('pa:ss' in value or 'word' in value for value in environment.values())
    # the operations database and the other environments, each a line
    environment, files, named = inject(entry, {'host': 'pg.prod', 'port': '5432', 'user': 'dsr_monitor', 'password': 'one',
                                               'sslmode': 'require', 'sslrootcert': '-----BEGIN CERTIFICATE-----\n',
                                               'ops_host': 'ops-db.dsr.internal', 'ops_password': 'two',
                                               'additional_pgpass': 'pg.staging:5432:*:dsr_monitor:three'})
    assert files['pgpass'].splitlines() == ['pg.prod:5432:*:dsr_monitor:one', 'ops-db.dsr.internal:5432:*:dsr_monitor:two',
                                            'pg.staging:5432:*:dsr_monitor:three']
    assert named == {'PGPASSFILE': 'pgpass', 'PGSSLROOTCERT': 'sslrootcert'}
    assert files['sslrootcert'].startswith('-----BEGIN CERTIFICATE-----')
    sslmodes = [f for f in entry['inputs']['fields'] if f['id'] == 'sslmode'][0]['choices']
    assert sorted(sslmodes) == sorted(connection.SSL_MODES)


def test_the_s3_type_injects_what_s3_backup_reads(dsr):
    client = dsr['_s3.client']
    entry = credential_type('DSR S3-compatible storage')
    preferred = {client.ENV_ACCESS_KEY[0], client.ENV_SECRET_KEY[0], client.ENV_SESSION_TOKEN[0], client.ENV_REGION[0],
                 client.ENV_ENDPOINT[0]}
    assert set(entry['injectors']['env']) == preferred
    environment, _files, _named = inject(entry, {'access_key': 'AKIAEXAMPLE', 'secret_key': 'wJalr/EXAMPLE', 'session_token': 'FwoG',
                                                 'region': 'eu-west-1', 'endpoint_url': 'https://minio.dsr.internal:9000'})
    params = dict.fromkeys(('access_key', 'secret_key', 'session_token', 'profile', 'region', 'endpoint_url', 'ca_bundle'))
    resolved, problems = client.resolve_connection(params, environ=environment)
    assert problems == []
    assert (resolved['access_key'], resolved['secret_key'], resolved['session_token']) == ('AKIAEXAMPLE', 'wJalr/EXAMPLE', 'FwoG')
    assert (resolved['region'], resolved['endpoint_url']) == ('eu-west-1', 'https://minio.dsr.internal:9000')
    # the optional inputs left empty are "" in the environment, which is unset to s3_backup: AWS, the default region
    environment, _files, _named = inject(entry, {'access_key': 'AKIAEXAMPLE', 'secret_key': 'wJalr/EXAMPLE'})
    resolved, problems = client.resolve_connection(params, environ=environment)
    assert problems == [] and resolved['session_token'] is None and resolved['region'] is None and resolved['endpoint_url'] is None


def test_the_elasticsearch_type_injects_what_log_search_reads(dsr, monkeypatch):
    client = dsr['_elastic.client']
    entry = credential_type('DSR Elasticsearch')
    assert set(entry['injectors']['env']) == set(client.ENVIRONMENT.values())
    environment, files, named = inject(entry, {'hosts': 'https://es1:9200,https://es2:9200', 'username': 'dsr_reader', 'password': 'pw',
                                               'ca_cert': '-----BEGIN CERTIFICATE-----\n'})
    assert named == {'ELASTICSEARCH_CA_CERT': 'ca_cert'} and files['ca_cert'].startswith('-----BEGIN')
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    validated = ArgumentSpecValidator(client.elasticsearch_argument_spec()).validate({})
    assert validated.error_messages == []
    params = validated.validated_parameters
    assert params['hosts'] == ['https://es1:9200', 'https://es2:9200'] and params['ca_cert'] == '/runner/env/tmp_ca_cert'
    secrets = client.resolve_credentials(params, environ=environment)
    assert (params['username'], params['password'], params['api_key'], params['bearer_token']) == ('dsr_reader', 'pw', None, None)
    assert secrets == ['pw']
    assert client.validate_connection_params(params) == []
    # an API key alone: the empty user and password are unset, not a second way to authenticate
    environment, _files, _named = inject(entry, {'hosts': 'https://es1:9200', 'api_key': 'id:key'})
    params = {'hosts': ['https://es1:9200'], 'username': None, 'password': None, 'api_key': None, 'bearer_token': None}
    client.resolve_credentials(params, environ=environment)
    assert params['api_key'] == 'id:key' and client.validate_connection_params(params) == []
    assert environment['ELASTICSEARCH_CA_CERT'] == ''


def test_the_configuration_backup_key_type_injects_what_the_vault_options_read(dsr, monkeypatch):
    vaultopts = dsr['_k8s.vaultopts']
    entry = credential_type('DSR configuration backup key')
    assert set(entry['injectors']['env']) == {vaultopts.PASSWORD_ENVIRONMENT}
    environment, _files, _named = inject(entry, {'vault_password': 'correct horse'})
    monkeypatch.setenv(vaultopts.PASSWORD_ENVIRONMENT, environment[vaultopts.PASSWORD_ENVIRONMENT])
    validated = ArgumentSpecValidator(vaultopts.vault_argument_spec()).validate({})
    assert validated.error_messages == [] and validated.validated_parameters['vault_password'] == 'correct horse'
    # the option the variable fills is a secret one
    assert vaultopts.vault_argument_spec()['vault_password']['no_log'] is True


def test_the_environment_variables_fill_secret_options_only_from_secret_inputs(dsr):
    """Where a dsr.ops option is no_log, the input injected into its variable is secret: true."""
    s3 = dsr['_s3.client']
    elastic = dsr['_elastic.client']
    options = {
        'DSR S3-compatible storage': {s3.ENV_ACCESS_KEY[0]: 'access_key', s3.ENV_SECRET_KEY[0]: 'secret_key',
                                      s3.ENV_SESSION_TOKEN[0]: 'session_token', s3.ENV_REGION[0]: 'region', s3.ENV_ENDPOINT[0]: 'endpoint_url'},
        'DSR Elasticsearch': {env: option for option, env in elastic.ENVIRONMENT.items()},
    }
    specs = {'DSR Elasticsearch': elastic.elasticsearch_argument_spec(), 'DSR S3-compatible storage': s3.aws_argument_spec()}
    checked = 0
    for name, spec in specs.items():
        entry = credential_type(name)
        secret = {field['id'] for field in entry['inputs']['fields'] if field.get('secret')}
        for env, template in entry['injectors']['env'].items():
            option = options[name][env]
            refers = set(re.findall(r'\b[a-z_]+\b', template)) & set(field_ids(entry))
            if spec[option].get('no_log'):
                assert refers and refers <= secret, (name, env, option)
                checked += 1
    assert checked >= 4


def test_awxs_kubernetes_credential_injects_what_the_kubernetes_client_reads(dsr):
    client = dsr['_k8s.client']
    for env, option in AWX_KUBERNETES_ENVIRONMENT.items():
        assert env in client.ENVIRONMENT[option], (env, option)
    params = dict.fromkeys(client.ENVIRONMENT)
    secrets = client.resolve_environment(params, environ={'K8S_AUTH_HOST': 'https://api.prod:6443', 'K8S_AUTH_API_KEY': 'sha256~tok',
                                                          'K8S_AUTH_VERIFY_SSL': 'False', 'K8S_AUTH_SSL_CA_CERT': '/runner/env/tmp_ca'})
    assert (params['host'], params['api_key'], params['validate_certs'], params['ca_cert']) == (
        'https://api.prod:6443', 'sha256~tok', False, '/runner/env/tmp_ca')
    assert secrets == ['sha256~tok']
    assert DATA['dsr_controller_credentials']['kubernetes'] not in {e['name'] for e in DATA['dsr_controller_credential_types']}


def test_the_projects_requirements_name_this_collection_and_the_tested_awx(awx):
    requirements = yaml.safe_load((PROJECT / 'collections' / 'requirements.yml').read_text())
    versions = {entry['name']: str(entry['version']) for entry in requirements['collections']}
    galaxy = yaml.safe_load((COLLECTION / 'galaxy.yml').read_text())
    manifest = json.loads((Path(awx) / 'ansible_collections' / 'awx' / 'awx' / 'MANIFEST.json').read_text())
    assert versions == {'dsr.ops': str(galaxy['version']), 'awx.awx': manifest['collection_info']['version']}
