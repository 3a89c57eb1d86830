-- Sample rows for the demo: five flows, all four states, spread over 60 days, including
-- orphans (processing, claimed hours ago), failed rows with retries left and with retries
-- used up (retry_count >= 3). Deterministic: the same rows every run.
DO $$ BEGIN PERFORM setseed(0.42); END $$;

WITH plan(status, n, max_age, claim_age_min, claim_age_max, retry_min, retry_max) AS (
    VALUES
        ('completed',  12000, interval '60 days', NULL::interval, NULL::interval, 0, 1),
        ('pending',     3000, interval '2 days',  NULL, NULL, 0, 0),
        ('processing',   300, interval '15 minutes', interval '0 minutes', interval '10 minutes', 0, 0),
        ('processing',   400, interval '3 days', interval '2 hours', interval '30 hours', 0, 3),
        ('failed',       800, interval '20 days', NULL, NULL, 0, 2),
        ('failed',       500, interval '60 days', NULL, NULL, 3, 5)
), rows AS (
    SELECT p.*, g,
           (ARRAY['email-send', 'video-transcode', 'invoice-render', 'webhook-deliver', 'thumbnail'])
               [1 + floor(random() * 5)::int] AS flow,
           now() - p.max_age * random() AS created
    FROM plan p, generate_series(1, p.n) g
)
INSERT INTO processing_queue
    (flow_name, status, payload, retry_count, error_message, flow_instance_id,
     created_at, claimed_at, completed_at, updated_at)
SELECT flow,
       status,
       jsonb_build_object('order', g, 'flow', flow, 'attempt', retry_min,
                          'tags', jsonb_build_array('demo', status)),
       retry_min + floor(random() * (retry_max - retry_min + 1))::int,
       CASE WHEN status = 'failed' THEN 'worker error: upstream timed out after 30s' END,
       CASE WHEN status = 'processing' THEN 'worker-' || (g % 7) END,
       created,
       CASE
           WHEN status = 'processing' THEN now() - (claim_age_min + (claim_age_max - claim_age_min) * random())
           WHEN status IN ('completed', 'failed') THEN created + interval '1 minute' * random()
       END,
       CASE WHEN status = 'completed' THEN created + interval '2 minutes' * (1 + random()) END,
       CASE WHEN status = 'completed' THEN created + interval '3 minutes' ELSE created END
FROM rows;

ANALYZE processing_queue;
