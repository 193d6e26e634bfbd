//! Docker's status strings: `Created`, `Up 2 minutes`,
//! `Exited (0) 5 seconds ago`.

use super::{RunState, Status};
use bollard::models::HealthStatusEnum;

fn secs_since(rfc3339: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339?).ok()?;
    Some((now - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
}

/// The `Status` column: "Created", "Up 3 seconds", "Up 2 minutes
/// (Paused)", "Up 1 second (health: starting)", "Restarting (1) 2 seconds
/// ago", "Exited (0) 5 seconds ago".
pub fn status_string(
    st: &RunState,
    health: Option<HealthStatusEnum>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    use crate::humanize::human_duration;
    if st.removing {
        return "Removal In Progress".to_string();
    }
    if st.restarting {
        return match secs_since(st.finished_at.as_deref(), now) {
            Some(s) => format!("Restarting ({}) {} ago", st.exit_code, human_duration(s)),
            None => format!("Restarting ({})", st.exit_code),
        };
    }
    match st.status {
        Status::Created => "Created".to_string(),
        Status::Running => {
            let up = match secs_since(st.started_at.as_deref(), now) {
                Some(s) => format!("Up {}", human_duration(s)),
                None => "Up".to_string(),
            };
            match health {
                _ if st.paused => format!("{up} (Paused)"),
                Some(HealthStatusEnum::STARTING) => format!("{up} (health: starting)"),
                Some(h @ (HealthStatusEnum::HEALTHY | HealthStatusEnum::UNHEALTHY)) => {
                    format!("{up} ({h})")
                }
                _ => up,
            }
        }
        Status::Exited => match secs_since(st.finished_at.as_deref(), now) {
            Some(s) => format!("Exited ({}) {} ago", st.exit_code, human_duration(s)),
            None => format!("Exited ({})", st.exit_code),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_strings_read_like_docker() {
        let now = chrono::Utc::now();
        let ago = |secs: i64| (now - chrono::Duration::seconds(secs)).to_rfc3339();
        let mut st = RunState::created();
        assert_eq!(status_string(&st, None, now), "Created");
        st.status = Status::Running;
        st.started_at = Some(ago(3));
        assert_eq!(status_string(&st, None, now), "Up 3 seconds");
        let starting = Some(HealthStatusEnum::STARTING);
        assert_eq!(
            status_string(&st, starting, now),
            "Up 3 seconds (health: starting)"
        );
        let healthy = Some(HealthStatusEnum::HEALTHY);
        assert_eq!(status_string(&st, healthy, now), "Up 3 seconds (healthy)");
        st.paused = true;
        assert_eq!(status_string(&st, healthy, now), "Up 3 seconds (Paused)");
        st.paused = false;
        st.status = Status::Exited;
        st.exit_code = 137;
        st.finished_at = Some(ago(5));
        assert_eq!(status_string(&st, None, now), "Exited (137) 5 seconds ago");
        st.restarting = true;
        assert_eq!(
            status_string(&st, None, now),
            "Restarting (137) 5 seconds ago"
        );
        st.restarting = false;
        st.finished_at = Some(ago(2 * 3600));
        assert_eq!(status_string(&st, None, now), "Exited (137) 2 hours ago");
    }
}
