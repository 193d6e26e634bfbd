//! Docker's status strings: `Created`, `Up 2 minutes`,
//! `Exited (0) 5 seconds ago`.

use super::{RunState, Status};

fn secs_since(rfc3339: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339?).ok()?;
    Some((now - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
}

/// The `Status` column: "Created", "Up 3 seconds", "Exited (0) 5 seconds ago".
pub fn status_string(st: &RunState, now: chrono::DateTime<chrono::Utc>) -> String {
    use crate::humanize::human_duration;
    if st.removing {
        return "Removal In Progress".to_string();
    }
    match st.status {
        Status::Created => "Created".to_string(),
        Status::Running => match secs_since(st.started_at.as_deref(), now) {
            Some(s) => format!("Up {}", human_duration(s)),
            None => "Up".to_string(),
        },
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
        assert_eq!(status_string(&st, now), "Created");
        st.status = Status::Running;
        st.started_at = Some(ago(3));
        assert_eq!(status_string(&st, now), "Up 3 seconds");
        st.status = Status::Exited;
        st.exit_code = 137;
        st.finished_at = Some(ago(5));
        assert_eq!(status_string(&st, now), "Exited (137) 5 seconds ago");
        st.finished_at = Some(ago(2 * 3600));
        assert_eq!(status_string(&st, now), "Exited (137) 2 hours ago");
    }
}
