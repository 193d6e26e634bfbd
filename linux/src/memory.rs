//! The daemon's memory: glibc's allocator tuned for a long-lived process
//! that now and then handles something big (a long build, a big log, an
//! image load), so that what it used comes back to the system afterwards.
//!
//! Measured with `bench/daemon_memory.sh 300 100`: untuned, the daemon
//! kept 66 MB after serving a 100 MB log (9.8 MB idle). Two allocator
//! habits hold it: a freed large buffer raises glibc's mmap threshold, so
//! later big buffers come from the heap and stay in it; and every thread
//! that allocates (blocking tasks: builds, loads) gets an arena of its own,
//! which only `malloc_trim` gives back.

/// Fix the mmap and trim thresholds at glibc's initial 128 KiB (setting
/// them turns off the dynamic raise), and keep the arenas to two.
pub fn tune_for_daemon() {
    const THRESHOLD: libc::c_int = 128 * 1024;
    for (param, value) in [
        (libc::M_MMAP_THRESHOLD, THRESHOLD),
        (libc::M_TRIM_THRESHOLD, THRESHOLD),
        (libc::M_ARENA_MAX, 2),
    ] {
        // SAFETY: mallopt only sets allocator parameters; it takes plain
        // integers and fails by returning 0, which leaves the default.
        unsafe { libc::mallopt(param, value) };
    }
}

/// Give the free memory of every arena back to the kernel.
pub fn release_free_memory() {
    // SAFETY: malloc_trim walks the allocator's own free lists under its
    // locks; it takes a plain integer (the padding to keep).
    unsafe { libc::malloc_trim(0) };
}
