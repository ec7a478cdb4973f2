# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate a DSR-shaped (Dynamic Social Registry) PostgreSQL database of a chosen size.

The Dynamic Social Registry is the Philippine national registry of households
used to target social protection programs (4Ps, UCT, Social Pension, ...).
This tool builds a synthetic but realistically shaped copy of it in the schema
``registry``: regions, provinces, households, household members, programs,
program enrollments, payments and grievances.

All rows are produced server side with set-based ``INSERT ... SELECT FROM
generate_series(...)`` statements.  Every "random" value is derived from
``hashint8extended(row key, seed)``, so a given seed always yields the same
data, independently of batch size or of the number of parallel jobs.  Keys are
derived from the household number (``member_id = household_id * 10 + k`` and so
on), which keeps them deterministic as well.

Tables are loaded without indexes or foreign keys, in batches of households
(one transaction each, printed as progress).  Primary keys, unique constraints,
secondary indexes and foreign keys are created after the load, then the tables
are analyzed.

Usage::

    python tools/dsr_datagen.py --dsn "host=127.0.0.1 port=5432 user=postgres dbname=dsr" --size 1GB
    python tools/dsr_datagen.py --dsn "..." --households 20000 --seed 7 --drop-existing --jobs 2

The password is never taken from the command line: libpq reads PGPASSWORD or
~/.pgpass as usual.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

SCHEMA = "registry"

# Measured on PostgreSQL 15 (default configuration, 8 kB pages, seed 42), --households 33600
# (about 100 MB): the database grew from 7,708,007 to 113,851,751 bytes, i.e. 3159 bytes per
# household, of which 105,930,752 bytes (3153 per household) are the registry tables, indexes and
# TOAST.  Total pg_database_size / households was 3388 at that size, because an empty database
# already takes ~7.7 MB.  A household comes with ~4.5 members, ~1.1 enrollments, ~11.8 payments
# and ~0.24 grievances.  --size 1GB (340,870 households) measured 3116 and --size 3GB 3112 bytes per household.
# --size is the target size of the registry data, so an empty database's own ~7.7 MB come on top.
BYTES_PER_HOUSEHOLD = 3150

DEFAULT_BATCH_SIZE = 50000
MIN_HOUSEHOLDS = 10
MAX_HOUSEHOLDS = 100000000  # keeps every derived key well inside bigint and PhilSys numbers inside 16 digits
MEMBER_SLOTS = 10  # member_id = household_id * 10 + k, k < 8
ENROLLMENT_SLOTS = 8  # enrollment_id = household_id * 8 + program_id, program_id < 8
PAYMENT_SLOTS = 64  # payment_id = enrollment_id * 64 + k, k < 36
GRIEVANCE_SLOTS = 4  # grievance_id = household_id * 4 + k, k < 3

# Reference date of the snapshot: nothing happens after it.
CUTOFF = "2025-06-30"
FIRST_REGISTRATION = "2009-01-01"
# Timestamps are local Philippine time (Asia/Manila, UTC+8, no daylight saving time since 1978).
UTC_OFFSET_SECONDS = 8 * 3600
# Epoch seconds of the end of the cutoff day, local time.
CUTOFF_END_EPOCH = (datetime.date.fromisoformat(CUTOFF) + datetime.timedelta(days=1) - datetime.date(1970, 1, 1)).days * 86400 - UTC_OFFSET_SECONDS

TABLES = (
    "regions",
    "provinces",
    "programs",
    "households",
    "household_members",
    "program_enrollments",
    "payments",
    "grievances",
)

# (code, name, island group, [(province, approximate 2020 population in thousands)]).
# Populations are only used as sampling weights for the households' provinces.
REGIONS = (
    ("NCR", "National Capital Region", "Luzon", [
        ("Metro Manila - City of Manila", 1847), ("Metro Manila - Quezon City", 2960), ("Metro Manila - Caloocan", 1662),
        ("Metro Manila - Taguig", 886), ("Metro Manila - Pasig", 803), ("Metro Manila - Valenzuela", 714),
        ("Metro Manila - Paranaque", 689), ("Metro Manila - Makati", 629), ("Metro Manila - Las Pinas", 606),
        ("Metro Manila - Muntinlupa", 543), ("Metro Manila - Marikina", 456), ("Metro Manila - Pasay", 440),
    ]),
    ("CAR", "Cordillera Administrative Region", "Luzon", [
        ("Abra", 250), ("Apayao", 124), ("Benguet", 827), ("Ifugao", 207), ("Kalinga", 229), ("Mountain Province", 158),
    ]),
    ("I", "Ilocos Region", "Luzon", [
        ("Ilocos Norte", 610), ("Ilocos Sur", 706), ("La Union", 822), ("Pangasinan", 3163),
    ]),
    ("II", "Cagayan Valley", "Luzon", [
        ("Batanes", 19), ("Cagayan", 1268), ("Isabela", 1697), ("Nueva Vizcaya", 497), ("Quirino", 203),
    ]),
    ("III", "Central Luzon", "Luzon", [
        ("Aurora", 235), ("Bataan", 853), ("Bulacan", 3708), ("Nueva Ecija", 2310), ("Pampanga", 2900), ("Tarlac", 1503),
        ("Zambales", 909),
    ]),
    ("IV-A", "CALABARZON", "Luzon", [
        ("Batangas", 2908), ("Cavite", 4344), ("Laguna", 3382), ("Quezon", 2230), ("Rizal", 3330),
    ]),
    ("MIMAROPA", "MIMAROPA Region", "Luzon", [
        ("Marinduque", 239), ("Occidental Mindoro", 525), ("Oriental Mindoro", 908), ("Palawan", 1246), ("Romblon", 308),
    ]),
    ("V", "Bicol Region", "Luzon", [
        ("Albay", 1374), ("Camarines Norte", 629), ("Camarines Sur", 2069), ("Catanduanes", 271), ("Masbate", 908),
        ("Sorsogon", 828),
    ]),
    ("VI", "Western Visayas", "Visayas", [
        ("Aklan", 615), ("Antique", 612), ("Capiz", 804), ("Guimaras", 187), ("Iloilo", 2509), ("Negros Occidental", 3223),
    ]),
    ("VII", "Central Visayas", "Visayas", [
        ("Bohol", 1394), ("Cebu", 5100), ("Negros Oriental", 1432), ("Siquijor", 103),
    ]),
    ("VIII", "Eastern Visayas", "Visayas", [
        ("Biliran", 179), ("Eastern Samar", 477), ("Leyte", 2028), ("Northern Samar", 639), ("Samar", 793),
        ("Southern Leyte", 429),
    ]),
    ("IX", "Zamboanga Peninsula", "Mindanao", [
        ("Zamboanga del Norte", 1047), ("Zamboanga del Sur", 2027), ("Zamboanga Sibugay", 669),
    ]),
    ("X", "Northern Mindanao", "Mindanao", [
        ("Bukidnon", 1541), ("Camiguin", 92), ("Lanao del Norte", 1086), ("Misamis Occidental", 617),
        ("Misamis Oriental", 1684),
    ]),
    ("XI", "Davao Region", "Mindanao", [
        ("Davao de Oro", 767), ("Davao del Norte", 1125), ("Davao del Sur", 2457), ("Davao Occidental", 317),
        ("Davao Oriental", 576),
    ]),
    ("XII", "SOCCSKSARGEN", "Mindanao", [
        ("Cotabato", 1490), ("Sarangani", 558), ("South Cotabato", 1673), ("Sultan Kudarat", 854),
    ]),
    ("XIII", "Caraga", "Mindanao", [
        ("Agusan del Norte", 760), ("Agusan del Sur", 739), ("Dinagat Islands", 128), ("Surigao del Norte", 534),
        ("Surigao del Sur", 642),
    ]),
    ("BARMM", "Bangsamoro Autonomous Region in Muslim Mindanao", "Mindanao", [
        ("Basilan", 556), ("Lanao del Sur", 1195), ("Maguindanao del Norte", 927), ("Maguindanao del Sur", 740),
        ("Sulu", 1000), ("Tawi-Tawi", 440),
    ]),
)

# (program_id, code, name, implementing office, launched, benefit per month, months between payments,
#  payment mode, max payments kept, base enrollment rate, minimum head age)
# "periodic" programs pay every <interval> months up to the snapshot date, keeping the last <max>
# payments; "episodic" ones pay 1..<max> times at irregular dates.
PROGRAMS = (
    (1, "4PS", "Pantawid Pamilyang Pilipino Program", "DSWD 4Ps National Program Management Office", "2008-02-01",
     1500, 2, "periodic", 36, 0.34, 0),
    (2, "UCT", "Unconditional Cash Transfer Program", "DSWD UCT National Program Management Office", "2018-01-01",
     300, 12, "periodic", 7, 0.25, 0),
    (3, "KALAHI-CIDSS", "Kapit-Bisig Laban sa Kahirapan - Comprehensive and Integrated Delivery of Social Services",
     "DSWD KALAHI-CIDSS National Program Management Office", "2003-01-01", 4000, 1, "episodic", 6, 0.10, 0),
    (4, "SLP", "Sustainable Livelihood Program", "DSWD SLP National Program Management Office", "2011-01-01",
     15000, 1, "episodic", 2, 0.12, 0),
    (5, "SOCPEN", "Social Pension for Indigent Senior Citizens", "DSWD Social Pension Program Management Office",
     "2011-01-01", 1000, 3, "periodic", 24, 0.50, 60),
    (6, "AICS", "Assistance to Individuals in Crisis Situation", "DSWD Crisis Intervention Unit", "2011-01-01",
     5000, 1, "episodic", 3, 0.20, 0),
)

MALE_FIRST = (
    "Jose", "Juan", "Mark", "John Paul", "Michael", "Christian", "Angelo", "Carlo", "Rodrigo", "Ramon", "Eduardo",
    "Ricardo", "Antonio", "Manuel", "Roberto", "Fernando", "Rogelio", "Danilo", "Ernesto", "Romeo", "Renato", "Arnel",
    "Jerome", "Jayson", "Kenneth", "Paolo", "Miguel", "Gabriel", "Rafael", "Joshua", "Nathaniel", "Emmanuel", "Noel",
    "Jun", "Bong", "Dindo", "Efren", "Ariel", "Marlon", "Rey",
)
FEMALE_FIRST = (
    "Maria", "Ana", "Rosa", "Luz", "Teresita", "Josefina", "Corazon", "Erlinda", "Gloria", "Marites", "Maricel", "Jocelyn",
    "Lorna", "Rowena", "Cristina", "Jennifer", "Mary Grace", "Angelica", "Kristine", "Princess", "Jasmine", "Nicole",
    "Andrea", "Camille", "Patricia", "Rosalinda", "Imelda", "Lourdes", "Leticia", "Milagros", "Divina", "Perla", "Nenita",
    "Edna", "Rachelle", "Sheila", "Joy", "Liza", "Analyn", "Girlie",
)
LAST_NAMES = (
    "Santos", "Reyes", "Cruz", "Bautista", "Ocampo", "Garcia", "Mendoza", "Torres", "Tomas", "Andrada", "Castillo",
    "Flores", "Villanueva", "Ramos", "Castro", "Rivera", "Aquino", "Navarro", "Salazar", "Mercado", "Dela Cruz",
    "De Leon", "Del Rosario", "Gonzales", "Lopez", "Hernandez", "Perez", "Fernandez", "Dizon", "Manalo", "Pascual",
    "Soriano", "Valdez", "Domingo", "Aguilar", "Marquez", "Santiago", "Gutierrez", "Romero", "Jimenez", "Tolentino",
    "Lim", "Tan", "Macaraeg", "Magbanua", "Dimaculangan", "Panganiban", "Sison", "Cabrera", "Espiritu", "Galang",
    "Lacson", "Padilla", "Samonte", "Bernardo", "Mangubat", "Dalisay", "Agbayani", "Malabanan", "Buenaventura",
    "Ampatuan", "Mangudadatu", "Tulawie", "Bagtas", "Dumalagan", "Pacquiao", "Ybanez", "Cabahug", "Alcantara", "Sarmiento",
)
MUNICIPALITIES = (
    "San Jose", "Santa Maria", "San Isidro", "Santa Cruz", "San Fernando", "San Miguel", "Santo Tomas", "San Pedro",
    "Rosario", "Magsaysay", "Quezon", "Roxas", "Rizal", "Mabini", "Bonifacio", "Aurora", "Kalayaan", "Del Carmen",
    "San Rafael", "Pilar", "Concepcion", "Victoria", "Santa Fe", "General Luna", "Lagonoy", "Tabuk", "Talisay",
    "Carmen", "Bayugan", "Libertad",
)
BARANGAYS = (
    "Poblacion", "San Isidro", "San Roque", "Santo Nino", "San Antonio", "Bagong Silang", "Mabini", "Rizal", "Maligaya",
    "Malinis", "Bagumbayan", "San Vicente", "Santa Cruz", "Calumpang", "Lawaan", "Dagatan", "Bucal", "Ibabao", "Looc",
    "Tabok", "Mabuhay", "Masagana", "Riverside", "Tagumpay", "Kalubihan", "Lumbangan", "Pag-asa", "Magsaysay",
)
STREETS = (
    "Rizal", "Mabini", "Bonifacio", "Luna", "Del Pilar", "Burgos", "Quezon", "Aguinaldo", "Magsaysay", "Jacinto",
    "Sampaguita", "Ilang-Ilang", "Narra", "Molave", "Acacia", "Mango", "Kamagong", "Dao",
)
OCCUPATIONS = (
    "Farmer", "Fisherfolk", "Farm laborer", "Construction worker", "Vendor", "Sari-sari store owner", "Tricycle driver",
    "Jeepney driver", "Housekeeper", "Domestic helper", "Laundry worker", "Factory worker", "Security guard", "Carpenter",
    "Dressmaker", "Barangay health worker", "Call center agent", "Teacher", "Overseas Filipino worker", "Unemployed",
)
EDUCATION = (
    "No grade completed", "Elementary undergraduate", "Elementary graduate", "High school undergraduate",
    "High school graduate", "Senior high school graduate", "Vocational", "College undergraduate", "College graduate",
)
GRIEVANCE_CATEGORIES = (
    "Payment-related", "Data update", "Exclusion error", "Inclusion error", "Misbehavior of staff", "Duplicate record",
    "Program information request", "Cash card issue",
)
GRIEVANCE_CHANNELS = ("Hotline 8888", "Walk-in", "Text message", "Email", "Social media", "Community meeting")

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b|bytes?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


class DatagenError(RuntimeError):
    """Raised when the generator refuses to run or cannot complete."""


def parse_size(text: str) -> int:
    """Parse a size such as ``5MB``, ``200 MB``, ``1GB``, ``1.5GiB``, ``800k`` or ``123456`` into bytes.

    Units are binary (1 MB = 1024 * 1024 bytes), like PostgreSQL's ``pg_size_pretty``.
    Raises ValueError for anything else, and for sizes that are not positive.
    """
    if not isinstance(text, str):
        raise ValueError(f"size must be a string such as '50MB', not {text!r}")
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(f"cannot parse size {text!r}: use a number with an optional unit, e.g. 5MB, 200MB, 1GB")
    unit = (match.group(2) or "").lower()
    if unit not in _UNITS:
        unit = unit[0]
    value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise ValueError(f"size {text!r} must be greater than zero")
    return value


def households_for_size(size_bytes: int) -> int:
    """Return the number of households whose registry data takes about ``size_bytes`` on disk."""
    return max(MIN_HOUSEHOLDS, int(round(size_bytes / BYTES_PER_HOUSEHOLD)))


# ---------------------------------------------------------------------------
# SQL building helpers.  Everything interpolated into SQL text below comes from
# the constants of this module; run time values (seed, batch bounds) are bind
# parameters.


def _rnd(key: str, salt: int) -> str:
    """SQL for a uniform pseudo-random float8 in [0, 1) derived from ``key`` (a bigint SQL expression) and the seed."""
    return f"((hashint8extended(({key})::bigint, %(seed)s::bigint * 1000 + {salt}) & 2147483647)::float8 / 2147483648.0)"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _array(values) -> str:
    return "ARRAY[" + ", ".join(_literal(v) for v in values) + "]::text[]"


def _pick(values, rnd_sql: str) -> str:
    """SQL picking one element of ``values`` with the uniform random ``rnd_sql``."""
    return f"({_array(values)})[1 + floor(({rnd_sql}) * {len(values)})::int]"


def _head_age(household_key: str) -> str:
    """Age of the household head at the cutoff date; used by members and by program eligibility."""
    return f"(25 + floor({_rnd(household_key, 20)} * 56)::int)"


def _philsys(key: str) -> str:
    """SQL for a unique 16-digit PhilSys number: a 4-round Feistel permutation of ``key`` (< 10**16) over 8-digit halves."""
    left, right = f"(({key}) / 100000000)", f"mod(({key}), 100000000)"
    for salt in (91, 92, 93, 94):
        left, right = right, f"mod({left} + mod(hashint8extended({right}, %(seed)s::bigint * 1000 + {salt}) & 2147483647, 100000000), 100000000)"
    return f"lpad(({left} * 100000000 + {right})::text, 16, '0')"


def _province_thresholds() -> list:
    """Cumulative lower bounds (0 first) of the province weights, in province_id order, for width_bucket()."""
    weights = [pop for _code, _name, _group, provinces in REGIONS for _prov, pop in provinces]
    total = float(sum(weights))
    bounds, acc = [], 0.0
    for weight in weights:
        bounds.append(acc / total)
        acc += weight
    return bounds


def _month_index(iso_date: str) -> int:
    """Month index (year * 12 + month - 1) of an ISO date."""
    day = datetime.date.fromisoformat(iso_date)
    return day.year * 12 + day.month - 1


def _programs_values() -> str:
    rows = []
    for pid, _code, _name, _office, launched, benefit, interval, mode, max_pay, rate, min_age in PROGRAMS:
        rows.append(f"({pid}, {_month_index(launched)}, {benefit}::float8, {interval}, {_literal(mode)}, {max_pay}, {rate}::float8, {min_age})")
    return "(VALUES " + ", ".join(rows) + ") AS p(program_id, launch_mi, benefit, pay_interval, pay_mode, max_pay, rate, min_head_age)"


DDL = f"""
CREATE SCHEMA {SCHEMA};

CREATE TABLE {SCHEMA}.regions (
    region_id smallint PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    island_group text NOT NULL CHECK (island_group IN ('Luzon', 'Visayas', 'Mindanao'))
);

CREATE TABLE {SCHEMA}.provinces (
    province_id smallint PRIMARY KEY,
    region_id smallint NOT NULL,
    name text NOT NULL,
    population_2020 integer NOT NULL
);

CREATE TABLE {SCHEMA}.programs (
    program_id smallint PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    implementing_office text NOT NULL,
    launched_on date NOT NULL,
    monthly_benefit numeric(12,2) NOT NULL,
    payment_interval_months smallint NOT NULL
);

CREATE TABLE {SCHEMA}.households (
    household_id bigint GENERATED BY DEFAULT AS IDENTITY,
    household_number text COLLATE "C" NOT NULL,
    province_id smallint NOT NULL,
    municipality text NOT NULL,
    barangay text NOT NULL,
    address text NOT NULL,
    registration_date date NOT NULL,
    income_monthly numeric(12,2) NOT NULL,
    pmt_score numeric(6,2) NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'inactive', 'pending', 'graduated')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE {SCHEMA}.household_members (
    member_id bigint GENERATED BY DEFAULT AS IDENTITY,
    household_id bigint NOT NULL,
    first_name text NOT NULL,
    middle_name text,
    last_name text NOT NULL,
    birth_date date NOT NULL,
    sex char(1) NOT NULL CHECK (sex IN ('M', 'F')),
    relationship_to_head text NOT NULL,
    philsys_number text COLLATE "C" NOT NULL CHECK (char_length(philsys_number) = 16),
    is_head boolean NOT NULL,
    civil_status text NOT NULL,
    highest_education text,
    occupation text,
    is_pwd boolean NOT NULL,
    is_indigenous boolean NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE {SCHEMA}.program_enrollments (
    enrollment_id bigint GENERATED BY DEFAULT AS IDENTITY,
    household_id bigint NOT NULL,
    program_id smallint NOT NULL,
    enrolled_on date NOT NULL,
    status text NOT NULL CHECK (status IN ('active', 'suspended', 'waitlisted', 'exited', 'graduated')),
    exited_on date,
    created_at timestamptz NOT NULL
);

CREATE TABLE {SCHEMA}.payments (
    payment_id bigint GENERATED BY DEFAULT AS IDENTITY,
    enrollment_id bigint NOT NULL,
    period date NOT NULL,
    amount numeric(12,2) NOT NULL,
    status text NOT NULL CHECK (status IN ('paid', 'pending', 'failed', 'reversed')),
    channel text NOT NULL,
    paid_at timestamptz,
    reference text NOT NULL
);

CREATE TABLE {SCHEMA}.grievances (
    grievance_id bigint GENERATED BY DEFAULT AS IDENTITY,
    household_id bigint NOT NULL,
    category text NOT NULL,
    channel text NOT NULL,
    description text NOT NULL,
    status text NOT NULL CHECK (status IN ('open', 'in_progress', 'escalated', 'resolved')),
    filed_at timestamptz NOT NULL,
    resolved_at timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
"""

# Per big table, in order: primary key, unique constraints, secondary indexes.
POST_LOAD_INDEXES = {
    "households": [
        "ALTER TABLE {s}.households ADD CONSTRAINT households_pkey PRIMARY KEY (household_id)",
        "ALTER TABLE {s}.households ADD CONSTRAINT households_household_number_key UNIQUE (household_number)",
        "CREATE INDEX households_province_id_idx ON {s}.households (province_id)",
        "CREATE INDEX households_status_idx ON {s}.households (status)",
        "CREATE INDEX households_registration_date_idx ON {s}.households (registration_date)",
    ],
    "household_members": [
        "ALTER TABLE {s}.household_members ADD CONSTRAINT household_members_pkey PRIMARY KEY (member_id)",
        "ALTER TABLE {s}.household_members ADD CONSTRAINT household_members_philsys_number_key UNIQUE (philsys_number)",
        "CREATE INDEX household_members_household_id_idx ON {s}.household_members (household_id)",
        "CREATE INDEX household_members_name_idx ON {s}.household_members (last_name, first_name)",
    ],
    "program_enrollments": [
        "ALTER TABLE {s}.program_enrollments ADD CONSTRAINT program_enrollments_pkey PRIMARY KEY (enrollment_id)",
        "ALTER TABLE {s}.program_enrollments ADD CONSTRAINT program_enrollments_household_id_program_id_key UNIQUE (household_id, program_id)",
        "CREATE INDEX program_enrollments_program_id_idx ON {s}.program_enrollments (program_id)",
    ],
    "payments": [
        "ALTER TABLE {s}.payments ADD CONSTRAINT payments_pkey PRIMARY KEY (payment_id)",
        "CREATE INDEX payments_enrollment_id_idx ON {s}.payments (enrollment_id)",
        "CREATE INDEX payments_period_idx ON {s}.payments (period)",
    ],
    "grievances": [
        "ALTER TABLE {s}.grievances ADD CONSTRAINT grievances_pkey PRIMARY KEY (grievance_id)",
        "CREATE INDEX grievances_household_id_idx ON {s}.grievances (household_id)",
        "CREATE INDEX grievances_open_status_idx ON {s}.grievances (status) WHERE status <> 'resolved'",
    ],
}

FOREIGN_KEYS = (
    ("provinces", "provinces_region_id_fkey", "region_id", "regions (region_id)"),
    ("households", "households_province_id_fkey", "province_id", "provinces (province_id)"),
    ("household_members", "household_members_household_id_fkey", "household_id", "households (household_id)"),
    ("program_enrollments", "program_enrollments_household_id_fkey", "household_id", "households (household_id)"),
    ("program_enrollments", "program_enrollments_program_id_fkey", "program_id", "programs (program_id)"),
    ("payments", "payments_enrollment_id_fkey", "enrollment_id", "program_enrollments (enrollment_id)"),
    ("grievances", "grievances_household_id_fkey", "household_id", "households (household_id)"),
)

IDENTITY_COLUMNS = (
    ("households", "household_id"),
    ("household_members", "member_id"),
    ("program_enrollments", "enrollment_id"),
    ("payments", "payment_id"),
    ("grievances", "grievance_id"),
)


def _month_start(month: str) -> str:
    """SQL date of the first day of a month index (year * 12 + month - 1)."""
    return f"make_date(({month}) / 12, mod(({month}), 12) + 1, 1)"


def _day_in_month(month: str, rnd_sql: str) -> str:
    """SQL date of a pseudo-random day of a month index."""
    return f"({_month_start(month)} + floor(({rnd_sql}) * ({_month_start(f'({month}) + 1')} - {_month_start(month)}))::int)"


def _epoch(date_sql: str) -> str:
    """SQL float8 epoch seconds of local (Manila, UTC+8, no DST) midnight at the start of a date."""
    return f"((({date_sql}) - DATE '1970-01-01') * 86400.0 - {UTC_OFFSET_SECONDS})"


def _batch_sql() -> str:
    """One statement that loads households [%(lo)s, %(hi)s] and every row hanging off them.

    Households and enrollments are computed once in MATERIALIZED CTEs; data-modifying CTEs and the
    main INSERT write the five big tables from them.  Month arithmetic is done on integer month
    indexes (year * 12 + month - 1) and timestamps on epoch seconds, which is much cheaper than
    extract(), intervals and time zone conversions per row.
    """
    s = SCHEMA
    cut_mi, first_mi = _month_index(CUTOFF), _month_index(FIRST_REGISTRATION)
    end_s = f"{CUTOFF_END_EPOCH}.0"

    base = f"""
h AS MATERIALIZED (
    SELECT household_id, reg_mi, reg_date, income, pmt_score, status, created_s, head_age, head_sex, has_spouse,
           family_name, indigenous, cnt
      FROM (SELECT n AS household_id, reg_mi, reg_date, income,
                   round(least(99.99, greatest(0, 80 * sqrt((income - 2500) / 120000.0) + 20 * {_rnd('n', 9)}))::numeric, 2)
                       AS pmt_score,
                   CASE WHEN r_status < 0.68 THEN 'active' WHEN r_status < 0.78 THEN 'pending'
                        WHEN r_status < 0.92 THEN 'inactive' ELSE 'graduated' END AS status,
                   {_epoch('reg_date')} + {_rnd('n', 11)} * 86400 AS created_s,
                   {_head_age('n')} AS head_age,
                   CASE WHEN {_rnd('n', 23)} < 0.74 THEN 'M' ELSE 'F' END AS head_sex,
                   {_rnd('n', 24)} < 0.8 AS has_spouse,
                   {_pick(LAST_NAMES, _rnd('n', 25))} AS family_name,
                   {_rnd('n', 26)} < 0.1 AS indigenous,
                   1 + floor({_rnd('n', 21)} * 4)::int + floor({_rnd('n', 22)} * 5)::int AS cnt
              FROM (SELECT n, reg_mi, r_status, income, {_day_in_month('reg_mi', _rnd('n', 15))} AS reg_date
                      FROM (SELECT n,
                                   {first_mi} + floor({_rnd('n', 13)} * {cut_mi - first_mi + 1})::int AS reg_mi,
                                   {_rnd('n', 12)} AS r_status,
                                   2500 + 120000 * power({_rnd('n', 14)}, 2.5) AS income
                              FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g(n)) AS h0) AS h1) AS h2
)"""

    households = f"""
hh AS (
    INSERT INTO {s}.households (household_id, household_number, province_id, municipality, barangay, address,
                                registration_date, income_monthly, pmt_score, status, created_at, updated_at)
    SELECT household_id,
           'HH-' || lpad(household_id::text, 10, '0'),
           width_bucket({_rnd('household_id', 1)}, %(province_bounds)s::float8[]),
           {_pick(MUNICIPALITIES, _rnd('household_id', 2))},
           {_pick(BARANGAYS, _rnd('household_id', 3))}
               || CASE WHEN {_rnd('household_id', 4)} < 0.3 THEN ' ' || (1 + floor({_rnd('household_id', 5)} * 6))::int ELSE '' END,
           CASE WHEN {_rnd('household_id', 6)} < 0.4
                THEN 'Purok ' || (1 + floor({_rnd('household_id', 7)} * 9))::int
                ELSE (1 + floor({_rnd('household_id', 7)} * 999))::int || ' ' || {_pick(STREETS, _rnd('household_id', 8))} || ' St.'
           END,
           reg_date,
           round(income::numeric, 2),
           pmt_score,
           status,
           to_timestamp(created_s),
           to_timestamp(created_s + ({end_s} - created_s) * {_rnd('household_id', 10)})
      FROM h
)"""

    enrollment_base = f"""
e AS MATERIALIZED (
    SELECT e_id, household_id, program_id, en_mi, enrolled_on, e_status, exited_on, benefit, pay_interval, pay_mode,
           {_epoch('enrolled_on')} + {_rnd('e_id', 62)} * 86400 AS created_s,
           coalesce(x_mi, {cut_mi}) - en_mi AS months,
           coalesce(x_mi, {cut_mi}) AS end_mi,
           CASE WHEN e_status = 'waitlisted' THEN 0
                WHEN pay_mode = 'periodic' THEN least(max_pay, (coalesce(x_mi, {cut_mi}) - en_mi) / pay_interval + 1)
                ELSE least(1 + floor({_rnd('e_id', 75)} * max_pay)::int, coalesce(x_mi, {cut_mi}) - en_mi + 1)
           END AS n_pay,
           CASE WHEN {_rnd('e_id', 76)} < 0.7 THEN 'Cash card'
                WHEN {_rnd('e_id', 76)} < 0.85 THEN 'Over-the-counter' ELSE 'E-wallet' END AS channel
      FROM (SELECT e_id, household_id, program_id, en_mi, enrolled_on, e_status, x_mi, benefit, pay_interval, pay_mode, max_pay,
                   CASE WHEN x_mi IS NOT NULL THEN greatest(enrolled_on, {_day_in_month('x_mi', _rnd('e_id', 61))}) END AS exited_on
              FROM (SELECT e_id, household_id, program_id, en_mi, e_status, benefit, pay_interval, pay_mode, max_pay,
                           greatest(reg_date, {_day_in_month('en_mi', _rnd('e_id', 65))}) AS enrolled_on,
                           CASE WHEN e_status IN ('exited', 'graduated')
                                THEN en_mi + floor({_rnd('e_id', 66)} * ({cut_mi} - en_mi + 1))::int END AS x_mi
                      FROM (SELECT e_id, household_id, program_id, reg_date, benefit, pay_interval, pay_mode, max_pay,
                                   start_mi + floor(power({_rnd('e_id', 63)}, 3) * ({cut_mi} - start_mi + 1))::int AS en_mi,
                                   CASE h_status
                                        WHEN 'graduated' THEN CASE WHEN program_id = 1 THEN 'graduated' ELSE 'exited' END
                                        WHEN 'inactive' THEN CASE WHEN r_es < 0.6 THEN 'exited' ELSE 'suspended' END
                                        ELSE CASE WHEN r_es < 0.86 THEN 'active' WHEN r_es < 0.93 THEN 'suspended'
                                                  WHEN r_es < 0.96 THEN 'waitlisted' ELSE 'exited' END
                                   END AS e_status
                              FROM (SELECT h.household_id * {ENROLLMENT_SLOTS} + p.program_id AS e_id, h.household_id,
                                           p.program_id, h.status AS h_status, h.reg_date,
                                           greatest(h.reg_mi, p.launch_mi) AS start_mi,
                                           p.benefit, p.pay_interval, p.pay_mode, p.max_pay,
                                           {_rnd(f'h.household_id * {ENROLLMENT_SLOTS} + p.program_id', 64)} AS r_es
                                      FROM h CROSS JOIN {_programs_values()}
                                     WHERE h.status <> 'pending'
                                       AND h.head_age >= p.min_head_age
                                       AND {_rnd(f'h.household_id * {ENROLLMENT_SLOTS} + p.program_id', 60)}
                                           < p.rate * (1.6 - h.pmt_score::float8 / 80)) AS e0) AS e1) AS e2) AS e3
)"""

    enrollments = f"""
enr AS (
    INSERT INTO {s}.program_enrollments (enrollment_id, household_id, program_id, enrolled_on, status, exited_on, created_at)
    SELECT e_id, household_id, program_id, enrolled_on, e_status, exited_on, to_timestamp(created_s)
      FROM e
)"""

    payments = f"""
pay AS (
    INSERT INTO {s}.payments (payment_id, enrollment_id, period, amount, status, channel, paid_at, reference)
    SELECT pid, e_id, {_month_start('pm')},
           (50 * round(benefit * pay_interval * (0.8 + 0.4 * {_rnd('pid', 71)}) / 50)::int)::numeric,
           p_status,
           channel,
           CASE WHEN p_status IN ('paid', 'reversed')
                THEN to_timestamp({_epoch(_month_start('pm'))} + (5 + floor({_rnd('pid', 72)} * 20)) * 86400
                                  + 25200 + {_rnd('pid', 73)} * 36000) END,
           'LBP-' || ((pm / 12) * 100 + mod(pm, 12) + 1) || '-' || lpad(pid::text, 12, '0')
      FROM (SELECT pid, e_id, pm, benefit, pay_interval, channel,
                   CASE WHEN k = n_pay - 1 AND pm >= {cut_mi - 1} AND r_ps < 0.6 THEN 'pending'
                        WHEN r_ps < 0.955 THEN 'paid' WHEN r_ps < 0.985 THEN 'failed' ELSE 'reversed' END AS p_status
              FROM (SELECT e.e_id * {PAYMENT_SLOTS} + k AS pid, e.e_id, e.benefit, e.pay_interval, e.channel, e.n_pay, k,
                           CASE WHEN e.pay_mode = 'periodic' THEN e.end_mi - (e.n_pay - 1 - k) * e.pay_interval
                                ELSE e.en_mi + k * (e.months / e.n_pay) END AS pm,
                           {_rnd(f'e.e_id * {PAYMENT_SLOTS} + k', 74)} AS r_ps
                      FROM e CROSS JOIN LATERAL generate_series(0, e.n_pay - 1) AS k) AS p1) AS p2
)"""

    grievances = f"""
grv AS (
    INSERT INTO {s}.grievances (grievance_id, household_id, category, channel, description, status, filed_at, resolved_at)
    SELECT gid, household_id, category,
           {_pick(GRIEVANCE_CHANNELS, _rnd('gid', 81))},
           CASE category
                WHEN 'Payment-related' THEN 'Cash grant for ' || to_char(to_timestamp(filed_s), 'Mon YYYY') || ' was not received.'
                WHEN 'Cash card issue' THEN 'Cash card was ' || CASE WHEN {_rnd('gid', 82)} < 0.5 THEN 'lost' ELSE 'retained by the ATM' END
                                            || ' and needs replacement.'
                WHEN 'Data update' THEN 'Request to update the household roster after a birth, death or transfer of a member.'
                WHEN 'Exclusion error' THEN 'Household claims it is poor but was not included in the list of beneficiaries.'
                WHEN 'Inclusion error' THEN 'Report that a non-poor household in the barangay is receiving benefits.'
                WHEN 'Duplicate record' THEN 'Member appears in two household records; asks for merging of the records.'
                WHEN 'Misbehavior of staff' THEN 'Complaint about a field worker asking for fees during the payout.'
                ELSE 'Inquiry about eligibility, schedule of payouts and program conditions.'
           END,
           g_status,
           to_timestamp(filed_s),
           CASE WHEN g_status = 'resolved'
                THEN to_timestamp(least(filed_s + (1 + {_rnd('gid', 83)} * 90) * 86400, {end_s} - 1)) END
      FROM (SELECT gid, household_id,
                   {_pick(GRIEVANCE_CATEGORIES, _rnd('gid', 84))} AS category,
                   CASE WHEN r_gs < 0.70 THEN 'resolved' WHEN r_gs < 0.82 THEN 'open'
                        WHEN r_gs < 0.94 THEN 'in_progress' ELSE 'escalated' END AS g_status,
                   created_s + ({end_s} - created_s) * {_rnd('gid', 85)} AS filed_s
              FROM (SELECT h.household_id * {GRIEVANCE_SLOTS} + k AS gid, h.household_id, h.created_s,
                           {_rnd(f'h.household_id * {GRIEVANCE_SLOTS} + k', 86)} AS r_gs
                      FROM h CROSS JOIN LATERAL generate_series(
                           0, CASE WHEN {_rnd('h.household_id', 87)} < 0.12 THEN floor({_rnd('h.household_id', 88)} * 3)::int ELSE -1 END) AS k
                   ) AS g0) AS g1
)"""

    mkey = f"h.household_id * {MEMBER_SLOTS} + k"
    members = f"""
INSERT INTO {s}.household_members (member_id, household_id, first_name, middle_name, last_name, birth_date, sex,
                                   relationship_to_head, philsys_number, is_head, civil_status, highest_education,
                                   occupation, is_pwd, is_indigenous, created_at)
SELECT m, household_id,
       CASE WHEN sex = 'M' THEN {_pick(MALE_FIRST, _rnd('m', 40))} ELSE {_pick(FEMALE_FIRST, _rnd('m', 40))} END,
       {_pick(LAST_NAMES, _rnd('m', 41))},
       CASE WHEN rel IN ('Head', 'Son', 'Daughter', 'Grandchild') OR {_rnd('m', 42)} < 0.85 THEN family_name
            ELSE {_pick(LAST_NAMES, _rnd('m', 43))} END,
       DATE '{CUTOFF}' - (age * 365 + floor({_rnd('m', 44)} * 365))::int,
       sex,
       rel,
       {_philsys('m')},
       k = 0,
       CASE WHEN age < 18 THEN 'Single'
            WHEN rel IN ('Head', 'Spouse') THEN
                 CASE WHEN r_civil < 0.62 THEN 'Married' WHEN r_civil < 0.80 THEN 'Common-law/Live-in'
                      WHEN r_civil < 0.90 THEN 'Widowed' WHEN r_civil < 0.95 THEN 'Separated' ELSE 'Single' END
            WHEN age < 25 THEN CASE WHEN r_civil < 0.85 THEN 'Single' ELSE 'Common-law/Live-in' END
            WHEN r_civil < 0.55 THEN 'Single' WHEN r_civil < 0.85 THEN 'Married' WHEN r_civil < 0.95 THEN 'Widowed'
            ELSE 'Separated' END,
       CASE WHEN age < 5 THEN NULL
            WHEN age < 12 THEN 'Elementary undergraduate'
            WHEN age < 18 THEN ({_array(EDUCATION)})[1 + floor({_rnd('m', 45)} * least(4, age - 10))::int]
            ELSE ({_array(EDUCATION)})[1 + floor(power({_rnd('m', 45)}, 1.3) * {len(EDUCATION)})::int] END,
       CASE WHEN age < 15 THEN NULL
            WHEN age < 22 AND {_rnd('m', 46)} < 0.6 THEN 'Student'
            WHEN age >= 65 AND {_rnd('m', 46)} < 0.7 THEN 'None'
            ELSE {_pick(OCCUPATIONS, _rnd('m', 47))} END,
       {_rnd('m', 48)} < 0.03,
       indigenous,
       to_timestamp(created_s)
  FROM (SELECT m, k, household_id, created_s, family_name, indigenous, rel, age, r_civil,
               CASE rel WHEN 'Head' THEN head_sex
                        WHEN 'Spouse' THEN CASE head_sex WHEN 'M' THEN 'F' ELSE 'M' END
                        WHEN 'Son' THEN 'M'
                        WHEN 'Daughter' THEN 'F'
                        ELSE CASE WHEN r_sex < 0.5 THEN 'M' ELSE 'F' END END AS sex
          FROM (SELECT m, k, household_id, created_s, family_name, indigenous, head_sex, rel, r_civil, r_sex,
                       least(100, greatest(0, CASE rel
                           WHEN 'Head' THEN head_age
                           WHEN 'Spouse' THEN greatest(18, head_age - 6 + floor(r_age * 10)::int)
                           WHEN 'Son' THEN floor(r_age * greatest(1, head_age - 17))::int
                           WHEN 'Daughter' THEN floor(r_age * greatest(1, head_age - 17))::int
                           WHEN 'Grandchild' THEN floor(r_age * greatest(1, least(16, head_age - 38)))::int
                           WHEN 'Parent' THEN head_age + 18 + floor(r_age * 15)::int
                           WHEN 'Sibling' THEN head_age - 10 + floor(r_age * 20)::int
                           ELSE floor(r_age * 70)::int END)) AS age
                  FROM (SELECT {mkey} AS m, k, h.household_id, h.created_s, h.family_name, h.indigenous, h.head_age,
                               h.head_sex,
                               {_rnd(mkey, 49)} AS r_age,
                               {_rnd(mkey, 50)} AS r_civil,
                               {_rnd(mkey, 51)} AS r_sex,
                               CASE WHEN k = 0 THEN 'Head'
                                    WHEN k = 1 AND h.has_spouse THEN 'Spouse'
                                    ELSE CASE WHEN r_role < 0.39 THEN 'Son' WHEN r_role < 0.78 THEN 'Daughter'
                                              WHEN r_role < 0.88 THEN 'Grandchild' WHEN r_role < 0.93 THEN 'Parent'
                                              WHEN r_role < 0.97 THEN 'Sibling' ELSE 'Other relative' END
                               END AS rel
                          FROM h
                         CROSS JOIN LATERAL generate_series(0, h.cnt - 1) AS k
                         CROSS JOIN LATERAL (SELECT {_rnd(mkey, 52)} AS r_role) AS rr
                       ) AS m1
               ) AS m2
       ) AS m3"""

    return "WITH " + ",".join([base, households, enrollment_base, enrollments, payments, grievances]) + members


def _connect(dsn: str):
    conn = psycopg2.connect(dsn, application_name="dsr_datagen")
    with conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET statement_timeout = 0")
        cur.execute("SET jit = off")
        cur.execute("SET TIME ZONE 'Asia/Manila'")
        cur.execute("SET maintenance_work_mem = '256MB'")
        cur.execute("SET work_mem = '64MB'")
    conn.commit()
    return conn


def _create_schema(conn, drop_existing: bool, log) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (SCHEMA,))
        if cur.fetchone():
            if not drop_existing:
                raise DatagenError(
                    f"schema {SCHEMA!r} already exists in database {conn.get_dsn_parameters().get('dbname')!r}; "
                    "use --drop-existing (drop_existing=True) to drop and rebuild it")
            log(f"dropping existing schema {SCHEMA}")
            cur.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        cur.execute(DDL)
        region_rows, province_rows = [], []
        province_id = 0
        for region_id, (code, name, group, provinces) in enumerate(REGIONS, start=1):
            region_rows.append((region_id, code, name, group))
            for province, population in provinces:
                province_id += 1
                province_rows.append((province_id, region_id, province, population * 1000))
        cur.executemany(f"INSERT INTO {SCHEMA}.regions VALUES (%s, %s, %s, %s)", region_rows)
        cur.executemany(f"INSERT INTO {SCHEMA}.provinces VALUES (%s, %s, %s, %s)", province_rows)
        cur.executemany(
            f"INSERT INTO {SCHEMA}.programs VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(pid, code, name, office, launched, benefit, interval)
             for pid, code, name, office, launched, benefit, interval, _mode, _max, _rate, _age in PROGRAMS])
    conn.commit()


def _run_parallel(dsn: str, tasks, jobs: int) -> None:
    """Run callables ``task(conn)`` on ``jobs`` connections; each task commits its own work."""
    tasks = list(tasks)
    lock = threading.Lock()
    failed = []

    def worker() -> None:
        conn = None
        try:
            conn = _connect(dsn)
            while True:
                with lock:
                    if not tasks or failed:
                        return
                    task = tasks.pop(0)
                task(conn)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # re-raised by the calling thread
            with lock:
                failed.append(exc)
        finally:
            if conn is not None:
                conn.close()  # also rolls back a failed task's transaction

    jobs = max(1, min(jobs, len(tasks)))
    if jobs == 1:
        worker()
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(worker) for _job in range(jobs)]:
                future.result()
    if failed:
        raise failed[0]


def _plan_batches(households: int, batch_size: int, jobs: int) -> list:
    """Split households 1..N into batches of at most ``batch_size``, a multiple of ``jobs`` of them of equal size."""
    count = -(-households // batch_size)
    if jobs > 1:
        count = -(-count // jobs) * jobs
    count = min(count, households)
    size = -(-households // count)
    return [(lo, min(households, lo + size - 1)) for lo in range(1, households + 1, size)]


def _load(dsn: str, households: int, seed: int, batch_size: int, jobs: int, log) -> None:
    sql = _batch_sql()
    bounds = _province_thresholds()
    batches = _plan_batches(households, batch_size, jobs)
    log(f"loading {len(batches)} batch(es) of up to {batches[0][1]} households")
    started = time.monotonic()
    progress = {"done": 0}
    lock = threading.Lock()

    def make_task(number: int, lo: int, hi: int):
        def task(conn) -> None:
            t0 = time.monotonic()
            with conn.cursor() as cur:
                cur.execute(sql, {"seed": seed, "lo": lo, "hi": hi, "province_bounds": bounds})
            conn.commit()
            with lock:
                progress["done"] += hi - lo + 1
                log(f"  batch {number}/{len(batches)}: households {lo}-{hi} in {time.monotonic() - t0:.1f}s "
                    f"({progress['done']}/{households}, {time.monotonic() - started:.0f}s elapsed)")
        return task

    _run_parallel(dsn, [make_task(i, lo, hi) for i, (lo, hi) in enumerate(batches, start=1)], jobs)


def _post_load(dsn: str, conn, jobs: int, log) -> None:
    def index_task(table: str):
        def task(c) -> None:
            t0 = time.monotonic()
            with c.cursor() as cur:
                for statement in POST_LOAD_INDEXES[table]:
                    cur.execute(statement.format(s=SCHEMA))
                    c.commit()
            log(f"  indexes on {table} in {time.monotonic() - t0:.1f}s")
        return task

    # Biggest tables first so parallel jobs finish together.
    order = ["payments", "household_members", "households", "program_enrollments", "grievances"]
    _run_parallel(dsn, [index_task(t) for t in order], jobs)

    with conn.cursor() as cur:
        for table, name, column, target in FOREIGN_KEYS:
            t0 = time.monotonic()
            cur.execute(f"ALTER TABLE {SCHEMA}.{table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {SCHEMA}.{target}")
            conn.commit()
            log(f"  foreign key {name} in {time.monotonic() - t0:.1f}s")
        for table, column in IDENTITY_COLUMNS:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), coalesce((SELECT max({column}) FROM {SCHEMA}.{table}), 0) + 1, false)",
                (f"{SCHEMA}.{table}", column))
        conn.commit()

    def analyze_task(table: str):
        def task(c) -> None:
            with c.cursor() as cur:
                cur.execute(f"ANALYZE {SCHEMA}.{table}")
            c.commit()
        return task

    t0 = time.monotonic()
    _run_parallel(dsn, [analyze_task(t) for t in order + ["regions", "provinces", "programs"]], jobs)
    log(f"  analyze in {time.monotonic() - t0:.1f}s")


def _summary(conn, households: int, seed: int, started: float) -> dict:
    rows = {}
    with conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT count(*) FROM {SCHEMA}.{table}")
            rows[table] = cur.fetchone()[0]
        cur.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            (SCHEMA,))
        registry_bytes = cur.fetchone()[0]
        cur.execute("SELECT current_database(), pg_database_size(current_database()), pg_size_pretty(pg_database_size(current_database()))")
        dbname, db_bytes, db_pretty = cur.fetchone()
    conn.commit()
    return {
        "database": dbname,
        "households": households,
        "seed": seed,
        "rows": rows,
        "registry_bytes": int(registry_bytes),
        "database_bytes": int(db_bytes),
        "database_size": db_pretty,
        "bytes_per_household": round(registry_bytes / households) if households else 0,
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }


def generate(dsn: str, households: int | None = None, size_bytes: int | None = None, seed: int = 42,
             drop_existing: bool = False, log=print, jobs: int = 1, batch_size: int = DEFAULT_BATCH_SIZE) -> dict:
    """Build the ``registry`` schema in the database at ``dsn`` and load synthetic DSR data into it.

    Either ``households`` or ``size_bytes`` (target size of the registry data, converted with
    BYTES_PER_HOUSEHOLD) must be given; ``households`` wins when both are.  The same ``seed`` always
    produces the same data.  Refuses to run (DatagenError) when the schema already exists, unless
    ``drop_existing`` is true.  ``log`` receives progress lines.  Households are loaded in batches of
    at most ``batch_size`` (one transaction each), on ``jobs`` parallel connections.  Returns a summary
    dict with the row count of every table, the database and registry sizes and the elapsed time.
    """
    started = time.monotonic()
    if households is None:
        if size_bytes is None:
            raise ValueError("give households or size_bytes")
        households = households_for_size(int(size_bytes))
    households = int(households)
    if not MIN_HOUSEHOLDS <= households <= MAX_HOUSEHOLDS:
        raise ValueError(f"households must be between {MIN_HOUSEHOLDS} and {MAX_HOUSEHOLDS}, not {households}")
    seed = int(seed)
    if not 0 <= seed < 2 ** 31:
        raise ValueError("seed must be between 0 and 2147483647")
    jobs = max(1, int(jobs))
    batch_size = max(1, int(batch_size))

    conn = _connect(dsn)
    try:
        _create_schema(conn, drop_existing, log)
        log(f"dsr_datagen: {households} households (about {households * BYTES_PER_HOUSEHOLD / 1024 ** 2:.0f} MB), "
            f"seed {seed}, {jobs} job(s)")
        t0 = time.monotonic()
        _load(dsn, households, seed, batch_size, jobs, log)
        log(f"loaded in {time.monotonic() - t0:.1f}s; creating indexes and foreign keys")
        t0 = time.monotonic()
        _post_load(dsn, conn, jobs, log)
        log(f"indexes, foreign keys and statistics in {time.monotonic() - t0:.1f}s")
        summary = _summary(conn, households, seed, started)
    finally:
        conn.close()

    for table in TABLES:
        log(f"  {table:<20} {summary['rows'][table]:>12,} rows")
    log(f"database {summary['database']}: {summary['database_size']} ({summary['database_bytes']:,} bytes), "
        f"registry data {summary['registry_bytes']:,} bytes ({summary['bytes_per_household']} bytes per household), "
        f"{summary['elapsed_seconds']}s elapsed")
    return summary


def main(argv=None) -> int:
    """Command line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(
        description="Generate a DSR-shaped PostgreSQL database (schema 'registry') of a chosen size. "
                    "The password comes from PGPASSWORD or ~/.pgpass.")
    parser.add_argument("--dsn", default="", help="libpq connection string, e.g. 'host=127.0.0.1 port=5432 user=postgres dbname=dsr'")
    parser.add_argument("--size", help="target size of the registry data (tables and indexes; an empty database adds ~7.7 MB), e.g. 5MB, 200MB, 1GB, 3GB")
    parser.add_argument("--households", type=int, help="number of households (overrides --size)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the pseudo-random data (default 42)")
    parser.add_argument("--drop-existing", action="store_true", help="drop and rebuild an existing 'registry' schema")
    parser.add_argument("--jobs", type=int, default=1, help="parallel connections for loading and indexing (default 1)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help=f"households per INSERT ... SELECT transaction (default {DEFAULT_BATCH_SIZE})")
    args = parser.parse_args(argv)

    size_bytes = None
    if args.households is None:
        if not args.size:
            parser.error("give --size or --households")
        try:
            size_bytes = parse_size(args.size)
        except ValueError as exc:
            parser.error(str(exc))
    try:
        generate(args.dsn, households=args.households, size_bytes=size_bytes, seed=args.seed,
                 drop_existing=args.drop_existing, jobs=args.jobs, batch_size=args.batch_size)
    except (DatagenError, ValueError, psycopg2.Error) as exc:
        print(f"dsr_datagen: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
