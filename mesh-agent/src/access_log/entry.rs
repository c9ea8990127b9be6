//! One access-log entry with Envoy's default fields, and its two encodings: a JSON object per
//! line, or Istio's default TEXT line. Only the named fields exist: no header is ever dumped.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// One request or TCP connection, as logged.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AccessLogEntry {
    /// RFC 3339, UTC, milliseconds.
    pub start_time: String,
    /// HTTP method (`None` for TCP).
    pub method: Option<String>,
    /// Path and query (`None` for TCP).
    pub path: Option<String>,
    /// `HTTP/1.1`, `HTTP/2` or `TCP`.
    pub protocol: String,
    /// Status sent to the client (0 for TCP).
    pub response_code: u16,
    /// Envoy's response flags (`-` for none).
    pub response_flags: String,
    /// Bytes received from the client.
    pub bytes_received: u64,
    /// Bytes sent to the client.
    pub bytes_sent: u64,
    /// Milliseconds from arrival to the end of the response (or connection).
    pub duration: u64,
    /// The endpoint the proxy sent to.
    pub upstream_host: Option<String>,
    /// Envoy's cluster name for it.
    pub upstream_cluster: Option<String>,
    /// The client's address as the proxy saw it.
    pub downstream_remote_address: Option<String>,
    /// `x-request-id`.
    pub x_request_id: Option<String>,
    /// `:authority` / `Host`.
    pub authority: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `source` or `destination`.
    pub reporter: String,
    /// Client workload.
    pub source_workload: Option<String>,
    /// Client workload's namespace.
    pub source_namespace: Option<String>,
    /// Server workload.
    pub destination_workload: Option<String>,
    /// Server workload's namespace.
    pub destination_namespace: Option<String>,
    /// Why the proxy answered itself (`rbac_access_denied_matched_policy[...]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code_details: Option<String>,
    /// Why the proxy closed a TCP connection (`rbac_access_denied_matched_policy[...]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_termination_details: Option<String>,
}

impl AccessLogEntry {
    /// The JSON line (without its newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain strings and numbers serialize")
    }

    /// Istio's default TEXT line (without its newline).
    pub fn to_text(&self) -> String {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let mut line = format!(
            "[{}] \"{} {} {}\" {} {} {} {} {}",
            self.start_time,
            dash(&self.method),
            dash(&self.path),
            self.protocol,
            self.response_code,
            self.response_flags,
            self.bytes_received,
            self.bytes_sent,
            self.duration,
        );
        let _ = write!(
            line,
            " \"{}\" \"{}\" \"{}\" \"{}\" {} {} {}/{} {}/{}",
            dash(&self.user_agent),
            dash(&self.x_request_id),
            dash(&self.authority),
            dash(&self.upstream_host),
            dash(&self.upstream_cluster),
            dash(&self.downstream_remote_address),
            dash(&self.source_namespace),
            dash(&self.source_workload),
            dash(&self.destination_namespace),
            dash(&self.destination_workload),
        );
        line
    }
}

/// `time` as RFC 3339 in UTC with milliseconds: `2024-05-01T12:34:56.789Z`.
pub fn rfc3339_millis(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Year, month and day of the `days`-th day after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let table = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (1_714_566_896_789, "2024-05-01T12:34:56.789Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
        ];
        for (millis, text) in table {
            let time = UNIX_EPOCH + Duration::from_millis(millis);
            assert_eq!(rfc3339_millis(time), text);
        }
    }

    #[test]
    fn text_lines_dash_what_is_missing() {
        let entry = AccessLogEntry {
            start_time: "T".into(),
            protocol: "TCP".into(),
            response_flags: "-".into(),
            reporter: "source".into(),
            ..Default::default()
        };
        assert_eq!(
            entry.to_text(),
            "[T] \"- - TCP\" 0 - 0 0 0 \"-\" \"-\" \"-\" \"-\" - - -/- -/-"
        );
    }
}
