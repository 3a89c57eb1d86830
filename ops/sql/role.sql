-- A least-privilege role for pgsweep. Run as the table's owner or a superuser, in the
-- database that holds the queue, with psql:
--
--   psql -v table=processing_queue -v owner_role=queue_owner -f ops/sql/role.sql
--
-- then set a password (ALTER ROLE pgsweep PASSWORD '...') or use your usual authentication.
--
-- What each grant is for:
--   SELECT, UPDATE on the table   reclaim_orphans, reset_failed, status, explain
--   DELETE                        archive (rows leave only with their archive file durable)
--   INSERT, sequence UPDATE       restore (inserts, then keeps the id sequence ahead)
--   its own schema (pgsweep)      job_runs, job_totals, job_row_totals, archive_batches
--   pg_stat_scan_tables           pgstatindex, to measure index bloat (else it is estimated)
--   pg_monitor                    the throttle signals: standbys' lag in pg_stat_replication,
--                                 the WAL archive backlog (pg_ls_archive_statusdir), other
--                                 roles' sessions in pg_stat_activity (it includes
--                                 pg_stat_scan_tables)
--   ANALYZE and REINDEX           PostgreSQL 17+: the MAINTAIN privilege. Before 17 only the
--                                 table's owner may run them, so the table should belong to a
--                                 group role (owner_role) that pgsweep is a member of.
--   the owner role (owner_role)   on every version, what MAINTAIN does not cover: dropping
--                                 an invalid `_ccnew` index a cancelled REINDEX left, creating
--                                 the (flow_name, status) statistics and the V007 indexes
--                                 (`pgsweep schema apply`), and archiving whole partitions
--                                 (ALTER TABLE ... DETACH PARTITION, DROP TABLE). Without it
--                                 those are skipped with a warning (or do them as the owner).
\set ON_ERROR_STOP on
\if :{?table}
\else
  \set table processing_queue
\endif

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pgsweep') AS need_role \gset
\if :need_role
  CREATE ROLE pgsweep LOGIN;
\endif

SELECT format('GRANT CONNECT ON DATABASE %I TO pgsweep', current_database()) \gexec
SELECT format('GRANT USAGE ON SCHEMA %I TO pgsweep', n.nspname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = :'table'::regclass \gexec
GRANT SELECT, UPDATE, DELETE, INSERT ON :table TO pgsweep;
SELECT format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO pgsweep', pg_get_serial_sequence(:'table', 'id'))
WHERE pg_get_serial_sequence(:'table', 'id') IS NOT NULL \gexec

CREATE SCHEMA IF NOT EXISTS pgsweep AUTHORIZATION pgsweep;
GRANT pg_stat_scan_tables TO pgsweep;
GRANT pg_monitor TO pgsweep;

SELECT current_setting('server_version_num')::int >= 170000 AS has_maintain \gset
\if :has_maintain
  GRANT MAINTAIN ON :table TO pgsweep;
\endif
\if :{?owner_role}
  SELECT format('GRANT %I TO pgsweep', :'owner_role') \gexec
\elif :has_maintain
  \echo 'No owner_role: leftover _ccnew indexes, the statistics and whole partitions need the table owner; rerun with -v owner_role=<role owning the table> for those'
\else
  \echo 'PostgreSQL before 17: ANALYZE and REINDEX need the table owner; rerun with -v owner_role=<role owning the table>'
\endif
