-- Deterministic work-queue rows in every state, for the tests and the benchmarks
-- (psql: \set rows 1000000 then \i this file; the tests bind :rows themselves).
-- Of every 50 rows (by id): 25 completed (created up to 60 days ago), 10 pending, 1
-- processing and freshly claimed (a live worker), 5 orphans (claimed 2 to 30 hours ago,
-- retry_count 0 to 4), 5 failed with retries left (retry_count 0 to 2), 4 failed with
-- retries used up (retry_count 3 to 5). Flows cycle through five names.
INSERT INTO processing_queue
    (flow_name, status, payload, retry_count, error_message, flow_instance_id,
     created_at, claimed_at, completed_at, updated_at)
SELECT (ARRAY['email-send', 'video-transcode', 'invoice-render', 'webhook-deliver', 'thumbnail'])[1 + g % 5],
       k.status,
       jsonb_build_object('n', g, 'kind', k.kind),
       k.retries,
       CASE WHEN k.status = 'failed' THEN 'worker error' END,
       CASE WHEN k.status = 'processing' THEN 'worker-' || g % 7 END,
       now() - make_interval(secs => (g * 7919) % (60 * 86400)),
       k.claimed,
       CASE WHEN k.status = 'completed' THEN now() - make_interval(secs => (g * 7919) % (60 * 86400)) + interval '2 minutes' END,
       now() - make_interval(secs => (g * 104729) % (3 * 86400))
FROM generate_series(1::bigint, :rows::bigint) g
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN g % 50 < 25 THEN 'completed' WHEN g % 50 < 35 THEN 'pending'
        WHEN g % 50 < 41 THEN 'processing' ELSE 'failed' END AS status,
        CASE
        WHEN g % 50 < 35 THEN 'other' WHEN g % 50 = 35 THEN 'live' WHEN g % 50 < 41 THEN 'orphan'
        WHEN g % 50 < 46 THEN 'retryable' ELSE 'used_up' END AS kind,
        CASE
        WHEN g % 50 = 35 THEN now() - make_interval(secs => g % 600)
        WHEN g % 50 < 41 AND g % 50 > 35 THEN now() - interval '2 hours' - make_interval(secs => (g * 31) % (28 * 3600))
        END AS claimed,
        CASE
        WHEN g % 50 BETWEEN 36 AND 40 THEN g % 5
        WHEN g % 50 BETWEEN 41 AND 45 THEN g % 3
        WHEN g % 50 >= 46 THEN 3 + g % 3
        ELSE 0 END AS retries
) k;
