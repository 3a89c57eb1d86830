import LibPQ

/// pgsweep's own tables (`job_runs`, `archive_batches`), as numbered migrations.
///
/// Migrations only ever get appended; an applied one is never edited.
public enum OwnSchema {
    /// One step of the schema, applied once and recorded in `schema_migrations`.
    public struct Migration: Sendable {
        public var version: Int
        public var summary: String
        /// SQL for the schema named by the argument (already quoted).
        public var sql: @Sendable (String) -> String
    }

    /// The newest version this build knows.
    public static var currentVersion: Int { migrations.last?.version ?? 0 }

    public static let migrations: [Migration] = [
        Migration(version: 1, summary: "job_runs and archive_batches") { schema in
            """
            CREATE TABLE \(schema).job_runs (
                id bigserial PRIMARY KEY,
                job text NOT NULL,
                job_type text NOT NULL,
                scheduled_for timestamptz,
                started_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz,
                status text NOT NULL
                    CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'interrupted')),
                rows_affected bigint NOT NULL DEFAULT 0,
                bytes_written bigint NOT NULL DEFAULT 0,
                batches integer NOT NULL DEFAULT 0,
                error text,
                details jsonb,
                host text NOT NULL,
                pid integer,
                pgsweep_version text NOT NULL
            );
            CREATE INDEX job_runs_job_started_at_idx ON \(schema).job_runs (job, started_at DESC);
            CREATE INDEX job_runs_running_idx ON \(schema).job_runs (job) WHERE status = 'running';
            -- One real run per job and fire time; skipped records may repeat.
            CREATE UNIQUE INDEX job_runs_one_run_per_fire_idx ON \(schema).job_runs (job, scheduled_for)
                WHERE scheduled_for IS NOT NULL AND status <> 'skipped';
            -- Running totals for metrics; never pruned, so counters only go up.
            CREATE TABLE \(schema).job_totals (
                job text NOT NULL,
                status text NOT NULL,
                runs bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (job, status)
            );
            CREATE TABLE \(schema).job_row_totals (
                job text NOT NULL,
                action text NOT NULL,
                rows bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (job, action)
            );
            CREATE TABLE \(schema).archive_batches (
                id bigserial PRIMARY KEY,
                run_id bigint,
                job text NOT NULL,
                table_name text NOT NULL,
                file text NOT NULL UNIQUE,
                format_version integer NOT NULL,
                row_count bigint NOT NULL CHECK (row_count >= 0),
                min_id bigint,
                max_id bigint,
                min_time timestamptz,
                max_time timestamptz,
                bytes bigint NOT NULL,
                sha256 text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX archive_batches_created_at_idx ON \(schema).archive_batches (created_at);
            """
        },
        // Several tables (and their configurations) may share one pgsweep schema: runs, totals
        // and ledger rows name their table, and ledger rows their database. Runs count their
        // rows batch by batch, so a run that fails after N batches still shows them.
        Migration(version: 2, summary: "runs, totals and ledger rows name their table and database; runs count batch by batch") { schema in
            """
            ALTER TABLE \(schema).job_runs
                ADD COLUMN table_name text,
                ADD COLUMN rows_by_action jsonb NOT NULL DEFAULT '{}',
                ADD COLUMN last_progress_at timestamptz;
            COMMENT ON COLUMN \(schema).job_runs.table_name IS 'the work-queue table, quoted and schema-qualified; NULL for runs before version 2';
            DROP INDEX \(schema).job_runs_one_run_per_fire_idx;
            CREATE UNIQUE INDEX job_runs_one_run_per_fire_idx ON \(schema).job_runs (coalesce(table_name, ''), job, scheduled_for)
                WHERE scheduled_for IS NOT NULL AND status <> 'skipped';
            ALTER TABLE \(schema).job_totals ADD COLUMN table_name text NOT NULL DEFAULT '';
            ALTER TABLE \(schema).job_totals DROP CONSTRAINT job_totals_pkey, ADD PRIMARY KEY (table_name, job, status);
            ALTER TABLE \(schema).job_row_totals ADD COLUMN table_name text NOT NULL DEFAULT '';
            ALTER TABLE \(schema).job_row_totals DROP CONSTRAINT job_row_totals_pkey, ADD PRIMARY KEY (table_name, job, action);
            ALTER TABLE \(schema).archive_batches
                ADD COLUMN database_system_id text,
                ADD COLUMN database_name text;
            CREATE INDEX archive_batches_table_name_idx ON \(schema).archive_batches (table_name);
            """
        },
        // Throttling: each run records the seconds it paused, by signal; totals feed the
        // pgsweep_job_throttled_seconds_total counter.
        Migration(version: 3, summary: "runs record the seconds they were throttled, by signal") { schema in
            """
            ALTER TABLE \(schema).job_runs
                ADD COLUMN throttled_seconds double precision NOT NULL DEFAULT 0,
                ADD COLUMN throttled_by jsonb NOT NULL DEFAULT '{}';
            COMMENT ON COLUMN \(schema).job_runs.throttled_by IS 'seconds paused by each throttle signal; "ended_by" names the signal a run stopped under at max_runtime';
            CREATE TABLE \(schema).job_throttle_totals (
                table_name text NOT NULL DEFAULT '',
                job text NOT NULL,
                signal text NOT NULL,
                seconds double precision NOT NULL DEFAULT 0,
                PRIMARY KEY (table_name, job, signal)
            );
            """
        },
        // Whole partitions: one row per partition copied out, whose state says how far its
        // detach and drop got; its files' ledger rows point at it.
        Migration(version: 4, summary: "partitions archived whole, and their files") { schema in
            """
            CREATE TABLE \(schema).archive_partitions (
                id bigserial PRIMARY KEY,
                run_id bigint,
                job text NOT NULL,
                table_name text NOT NULL,
                database_system_id text NOT NULL,
                database_name text NOT NULL,
                partition_name text NOT NULL,
                bounds text NOT NULL,
                row_count bigint NOT NULL CHECK (row_count >= 0),
                state text NOT NULL CHECK (state IN ('copied', 'dropped', 'kept')),
                detail text,
                created_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz
            );
            COMMENT ON COLUMN \(schema).archive_partitions.state IS 'copied: files durable and ledgered, the partition not yet dropped (attached, detaching or detached); dropped: gone, its rows in its files; kept: put back in the table, its files no longer ledgered';
            CREATE UNIQUE INDEX archive_partitions_one_pending_idx ON \(schema).archive_partitions (table_name, partition_name)
                WHERE state = 'copied';
            ALTER TABLE \(schema).archive_batches ADD COLUMN partition_id bigint REFERENCES \(schema).archive_partitions (id);
            """
        },
        // A run a throttle held from start to max_runtime is recorded as such, not as a success.
        Migration(version: 5, summary: "runs held by a throttle throughout are recorded as throttled") { schema in
            """
            ALTER TABLE \(schema).job_runs DROP CONSTRAINT job_runs_status_check,
                ADD CONSTRAINT job_runs_status_check
                    CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'interrupted', 'throttled'));
            """
        },
    ]

    /// The tables the current version creates.
    public static let tables = [
        "schema_migrations", "job_runs", "job_totals", "job_row_totals", "archive_batches", "job_throttle_totals", "archive_partitions",
    ]
}
