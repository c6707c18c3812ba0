"""Table names, the versioned schema (``PRAGMA user_version``) and the mark of a
pynenc-sqlite database (``PRAGMA application_id``).

Every table holds the rows of all apps that share the file, keyed by a small
integer ``app_key`` (see ``orchestrator_apps``): app ids are always bound as
parameters and never become part of an SQL identifier.
"""

from typing import Final

#: ``PRAGMA application_id`` of a pynenc-sqlite database ("pnsq"): it tells our files
#: from other SQLite files, which are refused untouched.
APPLICATION_ID: Final = int.from_bytes(b"pnsq", "big")


#: Settings that belong to the file, not to a process: ``name -> value`` (the journal
#: mode, recorded by the process that created the file).
FILE_SETTINGS: Final = "pynenc_sqlite_file_settings"


class Tables:
    """Names of the orchestrator's tables (one set per database file)."""

    APPS: Final = "orchestrator_apps"
    INVOCATIONS: Final = "orchestrator_invocations"
    INVOCATION_ARGS: Final = "orchestrator_invocation_args"
    BLOCKING_EDGES: Final = "orchestrator_blocking_edges"
    RUNNER_HEARTBEATS: Final = "orchestrator_runner_heartbeats"
    ATOMIC_SERVICE_EXECUTIONS: Final = "orchestrator_atomic_service_executions"
    #: When each app's next retention pass is due.
    RETENTION: Final = "orchestrator_retention"

    #: Tables holding per-app rows, in the order ``purge`` empties them.
    APP_SCOPED: Final = (
        INVOCATION_ARGS,
        BLOCKING_EDGES,
        INVOCATIONS,
        RUNNER_HEARTBEATS,
        ATOMIC_SERVICE_EXECUTIONS,
        RETENTION,
    )


class StateTables:
    """Names of the state backend's tables."""

    INVOCATIONS: Final = "state_invocations"
    HISTORY: Final = "state_history"
    RESULTS: Final = "state_results"
    RUNNER_CONTEXTS: Final = "state_runner_contexts"
    WORKFLOWS: Final = "state_workflows"
    WORKFLOW_DATA: Final = "state_workflow_data"
    WORKFLOW_SUB_INVOCATIONS: Final = "state_workflow_sub_invocations"
    APP_INFO: Final = "state_app_info"

    #: Tables holding per-app rows, emptied by the state backend's ``purge``.
    APP_SCOPED: Final = (
        INVOCATIONS,
        HISTORY,
        RESULTS,
        RUNNER_CONTEXTS,
        WORKFLOWS,
        WORKFLOW_DATA,
        WORKFLOW_SUB_INVOCATIONS,
        APP_INFO,
    )


class MessageTables:
    """Names of the broker's and the client data store's tables."""

    BROKER_MESSAGES: Final = "broker_messages"
    CLIENT_DATA: Final = "client_data"


class TriggerTables:
    """Names of the trigger's tables."""

    CONDITIONS: Final = "trigger_conditions"
    SOURCE_TASK_CONDITIONS: Final = "trigger_source_task_conditions"
    DEFINITIONS: Final = "trigger_definitions"
    DEFINITION_CONDITIONS: Final = "trigger_definition_conditions"
    VALID_CONDITIONS: Final = "trigger_valid_conditions"
    RUN_CLAIMS: Final = "trigger_run_claims"
    EVENTS: Final = "trigger_events"
    EVENT_INVOCATIONS: Final = "trigger_event_invocations"
    RUNS: Final = "trigger_runs"
    RUN_LINKS: Final = "trigger_run_links"

    #: Tables holding per-app rows, emptied by the trigger's ``purge``.
    APP_SCOPED: Final = (
        CONDITIONS,
        SOURCE_TASK_CONDITIONS,
        DEFINITIONS,
        DEFINITION_CONDITIONS,
        VALID_CONDITIONS,
        RUN_CLAIMS,
        EVENTS,
        EVENT_INVOCATIONS,
        RUNS,
        RUN_LINKS,
    )


T = Tables
S = StateTables
M = MessageTables
G = TriggerTables

#: Migration ``n`` (1-based) brings a database from ``user_version`` n-1 to n.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: invocations, argument index and blocking edges.
    (
        f"""CREATE TABLE {T.APPS} (
            app_key INTEGER PRIMARY KEY,
            app_id TEXT NOT NULL UNIQUE
        )""",
        f"""CREATE TABLE {T.INVOCATIONS} (
            seq INTEGER PRIMARY KEY,
            app_key INTEGER NOT NULL,
            invocation_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            call_id TEXT NOT NULL,
            status TEXT NOT NULL,
            owner_id TEXT,
            status_time REAL NOT NULL,
            registered_time REAL NOT NULL,
            retries INTEGER NOT NULL DEFAULT 0,
            auto_purge_time REAL,
            UNIQUE (app_key, invocation_id)
        )""",
        f"CREATE INDEX {T.INVOCATIONS}_task ON {T.INVOCATIONS}"
        "(app_key, task_id, status, registered_time, seq)",
        f"CREATE INDEX {T.INVOCATIONS}_call ON {T.INVOCATIONS}(app_key, call_id)",
        f"CREATE INDEX {T.INVOCATIONS}_status ON {T.INVOCATIONS}(app_key, status, status_time)",
        f"CREATE INDEX {T.INVOCATIONS}_registered ON {T.INVOCATIONS}"
        "(app_key, registered_time, seq)",
        f"CREATE INDEX {T.INVOCATIONS}_auto_purge ON {T.INVOCATIONS}"
        "(app_key, auto_purge_time) WHERE auto_purge_time IS NOT NULL",
        f"""CREATE TABLE {T.INVOCATION_ARGS} (
            app_key INTEGER NOT NULL,
            invocation_id TEXT NOT NULL,
            arg_key TEXT NOT NULL,
            arg_value TEXT NOT NULL,
            PRIMARY KEY (app_key, invocation_id, arg_key)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {T.INVOCATION_ARGS}_value ON {T.INVOCATION_ARGS}"
        "(app_key, arg_key, arg_value)",
        f"""CREATE TABLE {T.BLOCKING_EDGES} (
            app_key INTEGER NOT NULL,
            waiter_id TEXT NOT NULL,
            waited_id TEXT NOT NULL,
            PRIMARY KEY (app_key, waiter_id, waited_id)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {T.BLOCKING_EDGES}_waited ON {T.BLOCKING_EDGES}(app_key, waited_id)",
    ),
    # 2: runner heartbeats and atomic-service execution records (pynenc 0.4).
    (
        f"""CREATE TABLE {T.RUNNER_HEARTBEATS} (
            app_key INTEGER NOT NULL,
            runner_id TEXT NOT NULL,
            creation_time REAL NOT NULL,
            last_heartbeat REAL NOT NULL,
            can_run_atomic_service INTEGER NOT NULL,
            consumed_queues TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (app_key, runner_id)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {T.RUNNER_HEARTBEATS}_order ON {T.RUNNER_HEARTBEATS}"
        "(app_key, creation_time, runner_id)",
        f"""CREATE TABLE {T.ATOMIC_SERVICE_EXECUTIONS} (
            app_key INTEGER NOT NULL,
            run_id TEXT NOT NULL,
            runner_id TEXT NOT NULL,
            start_time REAL NOT NULL,
            end_time REAL,
            status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (app_key, run_id)
        ) WITHOUT ROWID""",
        f"CREATE UNIQUE INDEX {T.ATOMIC_SERVICE_EXECUTIONS}_one_running "
        f"ON {T.ATOMIC_SERVICE_EXECUTIONS}(app_key) WHERE status = 'running'",
        f"CREATE INDEX {T.ATOMIC_SERVICE_EXECUTIONS}_start "
        f"ON {T.ATOMIC_SERVICE_EXECUTIONS}(app_key, start_time)",
    ),
    # 3: edges carry their waited invocation's registration order, so that the blocking
    # look-up walks edges oldest first and stops at its limit instead of sorting them all.
    (
        f"ALTER TABLE {T.BLOCKING_EDGES} ADD COLUMN waited_registered_time REAL",
        f"ALTER TABLE {T.BLOCKING_EDGES} ADD COLUMN waited_seq INTEGER",
        f"""UPDATE {T.BLOCKING_EDGES} AS e SET (waited_registered_time, waited_seq) = (
            SELECT i.registered_time, i.seq FROM {T.INVOCATIONS} AS i
            WHERE i.app_key = e.app_key AND i.invocation_id = e.waited_id)""",
        f"CREATE INDEX {T.BLOCKING_EDGES}_waited_order ON {T.BLOCKING_EDGES}"
        "(app_key, waited_registered_time, waited_seq, waited_id)",
    ),
    # 4: the state backend: invocations and their calls, status history, results and
    # exceptions, runner contexts, workflows and app info.
    (
        f"""CREATE TABLE {S.INVOCATIONS} (
            app_key INTEGER NOT NULL,
            invocation_id TEXT NOT NULL,
            call_id TEXT NOT NULL,
            serialized_arguments TEXT NOT NULL,
            parent_invocation_id TEXT,
            parent_event_id TEXT,
            workflow_id TEXT,
            workflow_type TEXT,
            parent_workflow_id TEXT,
            PRIMARY KEY (app_key, invocation_id)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {S.INVOCATIONS}_parent ON {S.INVOCATIONS}(app_key, parent_invocation_id)",
        f"CREATE INDEX {S.INVOCATIONS}_event ON {S.INVOCATIONS}(app_key, parent_event_id)",
        f"CREATE INDEX {S.INVOCATIONS}_workflow ON {S.INVOCATIONS}"
        "(app_key, workflow_id, workflow_type)",
        f"CREATE INDEX {S.INVOCATIONS}_workflow_type ON {S.INVOCATIONS}(app_key, workflow_type)",
        f"""CREATE TABLE {S.HISTORY} (
            seq INTEGER PRIMARY KEY,
            app_key INTEGER NOT NULL,
            invocation_id TEXT NOT NULL,
            ts REAL NOT NULL,
            status TEXT NOT NULL,
            entry TEXT NOT NULL,
            UNIQUE (app_key, invocation_id, ts, status)
        )""",
        f"CREATE INDEX {S.HISTORY}_time ON {S.HISTORY}(app_key, ts)",
        f"""CREATE TABLE {S.RESULTS} (
            app_key INTEGER NOT NULL,
            invocation_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('result', 'exception')),
            data TEXT NOT NULL,
            PRIMARY KEY (app_key, invocation_id, kind)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {S.RUNNER_CONTEXTS} (
            app_key INTEGER NOT NULL,
            runner_id TEXT NOT NULL,
            runner_cls TEXT NOT NULL,
            parent_runner_id TEXT,
            pid INTEGER NOT NULL,
            hostname TEXT NOT NULL,
            thread_id INTEGER NOT NULL,
            PRIMARY KEY (app_key, runner_id)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {S.WORKFLOWS} (
            app_key INTEGER NOT NULL,
            workflow_id TEXT NOT NULL,
            workflow_type TEXT NOT NULL,
            parent_workflow_id TEXT,
            PRIMARY KEY (app_key, workflow_id)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {S.WORKFLOWS}_type ON {S.WORKFLOWS}(app_key, workflow_type)",
        f"""CREATE TABLE {S.WORKFLOW_DATA} (
            app_key INTEGER NOT NULL,
            workflow_id TEXT NOT NULL,
            data_key TEXT NOT NULL,
            data_value TEXT NOT NULL,
            PRIMARY KEY (app_key, workflow_id, data_key)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {S.WORKFLOW_SUB_INVOCATIONS} (
            app_key INTEGER NOT NULL,
            workflow_id TEXT NOT NULL,
            sub_invocation_id TEXT NOT NULL,
            PRIMARY KEY (app_key, workflow_id, sub_invocation_id)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {S.APP_INFO} (
            app_key INTEGER PRIMARY KEY,
            app_info TEXT NOT NULL
        )""",
    ),
    # 5: the broker's queues (highest priority first, then oldest) and the client data
    # store.
    (
        f"""CREATE TABLE {M.BROKER_MESSAGES} (
            seq INTEGER PRIMARY KEY,
            app_key INTEGER NOT NULL,
            queue_name TEXT NOT NULL,
            priority REAL NOT NULL,
            invocation_id TEXT NOT NULL
        )""",
        f"CREATE INDEX {M.BROKER_MESSAGES}_next ON {M.BROKER_MESSAGES}"
        "(app_key, queue_name, priority DESC, seq)",
        f"""CREATE TABLE {M.CLIENT_DATA} (
            app_key INTEGER NOT NULL,
            data_key TEXT NOT NULL,
            data_value TEXT NOT NULL,
            PRIMARY KEY (app_key, data_key)
        ) WITHOUT ROWID""",
    ),
    # 6: the trigger's conditions and definitions, the conditions found valid, claims
    # of trigger runs, and the monitoring records of events and trigger runs (with a
    # run's links: the events, source invocations and valid conditions it names).
    # Times to filter or order by are seconds since the epoch; a cron's last execution
    # is whole microseconds, so that comparing it with an expected value is exact.
    (
        f"""CREATE TABLE {G.CONDITIONS} (
            app_key INTEGER NOT NULL,
            condition_id TEXT NOT NULL,
            condition_json TEXT NOT NULL,
            last_cron_execution_us INTEGER,
            PRIMARY KEY (app_key, condition_id)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {G.SOURCE_TASK_CONDITIONS} (
            app_key INTEGER NOT NULL,
            task_id TEXT NOT NULL,
            condition_id TEXT NOT NULL,
            PRIMARY KEY (app_key, task_id, condition_id)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {G.DEFINITIONS} (
            app_key INTEGER NOT NULL,
            trigger_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            logic TEXT NOT NULL,
            argument_provider_json TEXT,
            PRIMARY KEY (app_key, trigger_id)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {G.DEFINITIONS}_task ON {G.DEFINITIONS}(app_key, task_id)",
        f"""CREATE TABLE {G.DEFINITION_CONDITIONS} (
            app_key INTEGER NOT NULL,
            trigger_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            condition_id TEXT NOT NULL,
            PRIMARY KEY (app_key, trigger_id, position)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {G.DEFINITION_CONDITIONS}_condition "
        f"ON {G.DEFINITION_CONDITIONS}(app_key, condition_id)",
        f"""CREATE TABLE {G.VALID_CONDITIONS} (
            app_key INTEGER NOT NULL,
            valid_condition_id TEXT NOT NULL,
            valid_condition_json TEXT NOT NULL,
            PRIMARY KEY (app_key, valid_condition_id)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {G.RUN_CLAIMS} (
            app_key INTEGER NOT NULL,
            trigger_run_id TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (app_key, trigger_run_id)
        ) WITHOUT ROWID""",
        f"""CREATE TABLE {G.EVENTS} (
            app_key INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            event_code TEXT NOT NULL,
            ts REAL NOT NULL,
            matched INTEGER NOT NULL,
            triggered INTEGER NOT NULL,
            emitted_by_invocation_id TEXT,
            emitted_by_task_id TEXT,
            emitted_by_runner_context_id TEXT,
            event_json TEXT NOT NULL,
            PRIMARY KEY (app_key, event_id)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {G.EVENTS}_time ON {G.EVENTS}(app_key, ts)",
        f"CREATE INDEX {G.EVENTS}_code ON {G.EVENTS}(app_key, event_code, ts)",
        f"CREATE INDEX {G.EVENTS}_emitter ON {G.EVENTS}(app_key, emitted_by_invocation_id)",
        f"""CREATE TABLE {G.EVENT_INVOCATIONS} (
            seq INTEGER PRIMARY KEY,
            app_key INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            invocation_id TEXT NOT NULL,
            trigger_run_id TEXT,
            UNIQUE (app_key, event_id, invocation_id)
        )""",
        f"""CREATE TABLE {G.RUNS} (
            app_key INTEGER NOT NULL,
            trigger_run_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            executed_at REAL,
            claimed_at REAL,
            triggered_invocation_id TEXT,
            atomic_service_run_id TEXT,
            run_json TEXT NOT NULL,
            PRIMARY KEY (app_key, trigger_run_id)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {G.RUNS}_time ON {G.RUNS}(app_key, executed_at)",
        f"CREATE INDEX {G.RUNS}_invocation ON {G.RUNS}(app_key, triggered_invocation_id)",
        f"""CREATE TABLE {G.RUN_LINKS} (
            app_key INTEGER NOT NULL,
            trigger_run_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('event', 'source', 'valid')),
            ref TEXT NOT NULL,
            PRIMARY KEY (app_key, trigger_run_id, kind, ref)
        ) WITHOUT ROWID""",
        f"CREATE INDEX {G.RUN_LINKS}_ref ON {G.RUN_LINKS}(app_key, kind, ref)",
    ),
    # 7: every history entry is kept: the unique (app_key, invocation_id, ts, status) of
    # migration 4 made an entry replace an earlier one with the same time and status
    # (a frozen or coarse clock), losing a retry's second PENDING and RUNNING. SQLite
    # cannot drop a constraint, so the table is rebuilt with its rows and their order.
    (
        f"""CREATE TABLE {S.HISTORY}_kept (
            seq INTEGER PRIMARY KEY,
            app_key INTEGER NOT NULL,
            invocation_id TEXT NOT NULL,
            ts REAL NOT NULL,
            status TEXT NOT NULL,
            entry TEXT NOT NULL
        )""",
        f"INSERT INTO {S.HISTORY}_kept (seq, app_key, invocation_id, ts, status, entry) "
        f"SELECT seq, app_key, invocation_id, ts, status, entry FROM {S.HISTORY}",
        f"DROP TABLE {S.HISTORY}",
        f"ALTER TABLE {S.HISTORY}_kept RENAME TO {S.HISTORY}",
        f"CREATE INDEX {S.HISTORY}_time ON {S.HISTORY}(app_key, ts)",
        f"CREATE INDEX {S.HISTORY}_invocation ON {S.HISTORY}(app_key, invocation_id, ts)",
    ),
    # 8: the file's identity: its mark as a pynenc-sqlite database (files of earlier
    # versions are known by their schema version and the apps table), and the settings
    # that belong to it, such as the journal mode, which every process must then use.
    (
        f"PRAGMA application_id = {APPLICATION_ID}",
        f"""CREATE TABLE {FILE_SETTINGS} (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 9: retention: when each value of the client data store was last stored (a value
    # not stored again within the retention period and named by no row is removed),
    # and when each app's next retention pass is due; messages by invocation, for
    # retention and for recovery of invocations whose message is gone.
    (
        f"ALTER TABLE {M.CLIENT_DATA} ADD COLUMN stored_time REAL NOT NULL DEFAULT 0",
        f"CREATE INDEX {M.CLIENT_DATA}_stored ON {M.CLIENT_DATA}(app_key, stored_time)",
        f"CREATE INDEX {M.BROKER_MESSAGES}_invocation ON {M.BROKER_MESSAGES}"
        "(app_key, invocation_id)",
        f"""CREATE TABLE {T.RETENTION} (
            app_key INTEGER PRIMARY KEY,
            next_pass REAL NOT NULL
        )""",
    ),
    # 10: heartbeats also by ``time.monotonic`` and this host's boot, so that liveness
    # is judged by a clock that wall-clock steps (NTP, a resume) do not move.
    (
        f"ALTER TABLE {T.RUNNER_HEARTBEATS} ADD COLUMN heartbeat_monotonic REAL",
        f"ALTER TABLE {T.RUNNER_HEARTBEATS} ADD COLUMN boot_id TEXT",
    ),
)

SCHEMA_VERSION: Final = len(MIGRATIONS)
