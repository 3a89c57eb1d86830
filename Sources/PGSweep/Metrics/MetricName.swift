import Prometheus

/// Every metric pgsweep exports, in one place. Names follow Prometheus conventions.
public enum MetricName {
    /// Counter `pgsweep_job_runs_total{job,status}`: runs per job and final status.
    public static var jobRuns: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "job", metricName: "runs", unitName: "total",
        helpText: "Job runs by final status (succeeded, failed, skipped, interrupted).")
    }
    /// Gauge `pgsweep_job_last_success_timestamp_seconds{job}`.
    public static var lastSuccess: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "job", metricName: "last_success_timestamp", unitName: "seconds",
        helpText: "Unix time of the job's last successful run.")
    }
    /// Gauge `pgsweep_job_duration_seconds{job}`: the last finished run.
    public static var duration: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "job", metricName: "duration", unitName: "seconds",
        helpText: "Duration of the job's last finished run.")
    }
    /// Counter `pgsweep_job_rows_total{job,action}`.
    public static var rows: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "job", metricName: "rows", unitName: "total",
        helpText: "Rows changed by the job, by action (reclaimed, failed, reset, archived...).")
    }
    /// Counter `pgsweep_job_throttled_seconds_total{job,reason}`: time paused by each throttle signal.
    public static var throttled: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "job", metricName: "throttled_seconds", unitName: "total",
        helpText: "Seconds the job spent paused by each throttle signal (replica_lag, slot_unreserved, query...).")
    }

    /// Gauge `pgsweep_queue_rows{table,flow,status}`.
    public static var queueRows: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "pgsweep", subsystem: "queue", metricName: "rows", unitName: "", helpText: "Rows of the queue by flow and status.")
    }
    /// Gauge `pgsweep_queue_oldest_pending_age_seconds{table,flow}`.
    public static var oldestPending: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "oldest_pending_age", unitName: "seconds",
        helpText: "Age of the flow's oldest pending row (0 when none is pending).")
    }
    /// Gauge `pgsweep_queue_orphans{table,flow}`: rows in processing claimed longer ago than the reclaim threshold.
    public static var orphans: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "orphans", unitName: "",
        helpText: "Rows in processing claimed longer ago than the reclaim_orphans threshold.")
    }
    /// Gauge `pgsweep_queue_failed_rows{table,flow,retries}`: `retries` is `left` or `used_up`.
    public static var failed: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "failed_rows", unitName: "",
        helpText: "Failed rows with retries left or used up (retry_count >= max_retries).")
    }
    /// Gauge `pgsweep_queue_completed_recently{table,flow}`: completions in the last five minutes.
    public static var completedRecently: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "completed_last_5m", unitName: "",
        helpText: "Rows completed in the last five minutes (throughput).")
    }
    /// Gauge `pgsweep_queue_archivable_rows{table,flow,estimated}`.
    public static var archivable: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "archivable_rows", unitName: "",
        helpText: "Rows the archive job would take now; estimated=\"true\" when above the exact-count threshold.")
    }
    /// Gauge `pgsweep_queue_oldest_archivable_age_seconds{table,flow}`: how far behind the archive is.
    public static var oldestArchivable: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "oldest_archivable_age", unitName: "seconds",
        helpText: "Age of the oldest row the archive job would take now.")
    }
    /// Gauge `pgsweep_queue_table_bytes{table}`.
    public static var tableBytes: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "pgsweep", subsystem: "queue", metricName: "table", unitName: "bytes", helpText: "Size of the table (its partitions summed).")
    }
    /// Gauge `pgsweep_queue_index_bytes{table}`.
    public static var indexBytes: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "pgsweep", subsystem: "queue", metricName: "index", unitName: "bytes", helpText: "Size of the table's indexes.")
    }
    /// Gauge `pgsweep_queue_gauges_read_seconds{table}`: what reading these gauges cost.
    public static var gaugeReadSeconds: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "gauges_read", unitName: "seconds",
        helpText: "Time taken to read the queue gauges.")
    }
    /// Gauge `pgsweep_queue_index_bloat_ratio{table,index}`: from the last reindex run's measurement.
    public static var indexBloat: MetricNameDescriptor {
        MetricNameDescriptor(
        namespace: "pgsweep", subsystem: "queue", metricName: "index_bloat", unitName: "ratio",
        helpText: "Share of each index's file holding no live entries, as the last reindex run measured it.")
    }
}
