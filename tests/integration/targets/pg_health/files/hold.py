# Copyright: Contributors to the dsr.ops collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Create real load on the test server for pg_health: open connections, a lock wait, a long query.

Run in the background by the integration target (async). Connection settings come from
libpq's PG* environment variables. Every session is named application_name=dsr_test_hold so
the target can terminate them when it is done; the script then exits on its own.

    python hold.py connections COUNT SECONDS
    python hold.py lock TABLE SECONDS      # one session locks TABLE, a second one waits on it
    python hold.py sleep SECONDS           # one query running pg_sleep(SECONDS)
"""

from __future__ import annotations

import sys
import threading
import time

import psycopg2

APP = 'dsr_test_hold'


def _connect():
    return psycopg2.connect('', application_name=APP)


def hold_connections(count, seconds):
    """Open ``count`` idle connections and keep them for ``seconds``."""
    conns = [_connect() for dummy in range(count)]
    time.sleep(seconds)
    for conn in conns:
        conn.close()


def hold_lock(table, seconds):
    """Hold an exclusive lock on ``table`` while a second session waits for it."""
    holder = _connect()
    cur = holder.cursor()
    cur.execute('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE' % table)  # table name comes from the test itself

    def wait():
        waiter = _connect()
        try:
            waiter.cursor().execute('SELECT count(*) FROM %s' % table)
        except psycopg2.Error:
            pass

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    time.sleep(seconds)
    holder.rollback()
    thread.join(10)


def long_query(seconds):
    """Run one query that sleeps ``seconds`` on the server."""
    conn = _connect()
    conn.cursor().execute('SELECT pg_sleep(%s)', (seconds,))


def main():
    """Dispatch on the first argument; a terminated session just ends the script."""
    mode, args = sys.argv[1], sys.argv[2:]
    try:
        if mode == 'connections':
            hold_connections(int(args[0]), float(args[1]))
        elif mode == 'lock':
            hold_lock(args[0], float(args[1]))
        elif mode == 'sleep':
            long_query(float(args[0]))
        else:
            raise SystemExit('unknown mode %s' % mode)
    except psycopg2.Error:
        pass


if __name__ == '__main__':
    main()
