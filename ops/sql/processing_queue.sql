-- The work-queue table pgsweep maintains, as the seed's indexes and queries imply.
-- Rows move pending -> processing (claimed by a worker) -> completed, or -> failed and,
-- while retries remain, back to pending.
CREATE TABLE IF NOT EXISTS processing_queue (
    id               bigserial PRIMARY KEY,
    flow_name        text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    payload          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    retry_count      integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    error_message    text,
    flow_instance_id text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    claimed_at       timestamptz,
    completed_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
