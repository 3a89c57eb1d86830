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
}
