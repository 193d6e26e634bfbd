//! The tutor is the subject of its own issue ("whaletutor: lessons from
//! TOML, checked against live containers"). Until it lands this binary says
//! so plainly instead of pretending to teach.

fn main() {
    eprintln!(
        "whaletutor: the tutor is not built yet; use the engine directly, \
         e.g. `whale bootstrap busybox && whale run -it busybox sh`"
    );
    std::process::exit(2);
}
