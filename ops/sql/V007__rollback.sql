-- Rollback of V007: drop the eight indexes and recreate the basic ones they replaced.
DROP INDEX IF EXISTS idx_processing_queue_status_created_at;
DROP INDEX IF EXISTS idx_processing_queue_flow_name_status;
DROP INDEX IF EXISTS idx_processing_queue_flow_instance_id;
DROP INDEX IF EXISTS idx_processing_queue_pending;
DROP INDEX IF EXISTS idx_processing_queue_processing_claimed_at;
DROP INDEX IF EXISTS idx_processing_queue_failed_retry;
DROP INDEX IF EXISTS idx_processing_queue_cleanup_timestamps;
DROP INDEX IF EXISTS idx_processing_queue_monitoring;

CREATE INDEX IF NOT EXISTS idx_processing_queue_status ON processing_queue (status);
CREATE INDEX IF NOT EXISTS idx_processing_queue_flow_name ON processing_queue (flow_name);
