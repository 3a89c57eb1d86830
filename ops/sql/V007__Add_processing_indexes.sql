-- V007: performance indexes for processing_queue (see the seed's
-- processing-queue-indexes.md). `pgsweep schema apply` creates any of these that are
-- missing with CREATE INDEX CONCURRENTLY; this file is the plain migration for tools such
-- as Flyway. Its rollback is V007__rollback.sql.

-- Primary indexes
CREATE INDEX IF NOT EXISTS idx_processing_queue_status_created_at ON processing_queue (status, created_at);
CREATE INDEX IF NOT EXISTS idx_processing_queue_flow_name_status ON processing_queue (flow_name, status);
CREATE INDEX IF NOT EXISTS idx_processing_queue_flow_instance_id ON processing_queue (flow_instance_id) WHERE flow_instance_id IS NOT NULL;

-- Partial indexes (status-specific)
CREATE INDEX IF NOT EXISTS idx_processing_queue_pending ON processing_queue (created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS idx_processing_queue_processing_claimed_at ON processing_queue (claimed_at) WHERE status = 'processing';
CREATE INDEX IF NOT EXISTS idx_processing_queue_failed_retry ON processing_queue (retry_count, created_at) WHERE status = 'failed';

-- Specialized indexes
CREATE INDEX IF NOT EXISTS idx_processing_queue_cleanup_timestamps ON processing_queue (completed_at, created_at, status);
CREATE INDEX IF NOT EXISTS idx_processing_queue_monitoring ON processing_queue (flow_name, status, created_at);

-- The composite indexes above replace the old single-column ones.
DROP INDEX IF EXISTS idx_processing_queue_status;
DROP INDEX IF EXISTS idx_processing_queue_flow_name;

ANALYZE processing_queue;
