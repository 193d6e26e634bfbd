//! UDP published ports (`-p 127.0.0.1::PORT/udp`) through the shim's
//! user-space proxy: datagrams reach a server on the container's loopback,
//! each client's replies come back to that client, `port`/`inspect`/`ps`
//! show `/udp`, and the port closes with the container. The server is a
//! small static C program (busybox has no UDP server applet). No dockerd
//! comparison: dockerd publishes only through a bridge, which this machine
//! never makes.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;
use whale_e2e::{wait_for, World};

/// Echoes every datagram back to its sender, prefixed with "echo:".
const ECHO_C: &str = r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
int main(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(8053);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    puts("listening"); fflush(stdout);
    for (;;) {
        char buf[2048] = "echo:";
        struct sockaddr_in from; socklen_t len = sizeof from;
        ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &len);
        if (n < 0) continue;
        sendto(s, buf, n + 5, 0, (struct sockaddr *)&from, len);
    }
}
"#;

fn build_echo_image(w: &World) {
    let ctx = w.base().join("udp-echo");
    std::fs::create_dir_all(&ctx).unwrap();
    let src = ctx.join("echo.c");
    std::fs::write(&src, ECHO_C).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(ctx.join("echo"))
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!("the UDP echo server needs a C compiler: cannot run `cc` ({e}); install gcc and libc6-dev")
        });
    assert!(
        out.status.success(),
        "cc -static echo.c failed (needs gcc and libc6-dev):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&src).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY echo /echo\nCMD [\"/echo\"]\n",
    )
    .unwrap();
    w.whale_ok(&["build", "-q", "-t", "udpecho", ctx.to_str().unwrap()]);
}

/// Send `msg` from `sock` to 127.0.0.1:port until an answer comes (the
/// server starts a moment after `run -d`; a datagram sent before is lost).
fn ask(sock: &UdpSocket, port: u16, msg: &[u8]) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    wait_for(Duration::from_secs(15), || {
        sock.send_to(msg, ("127.0.0.1", port)).ok()?;
        let mut buf = [0u8; 2048];
        let (n, _) = sock.recv_from(&mut buf).ok()?;
        Some(buf[..n].to_vec())
    })
}

#[test]
fn udp_datagrams_reach_the_container_and_answers_find_each_client() {
    let w = World::with_busybox();
    build_echo_image(&w);
    w.run_d(&["--name", "echo", "-p", "127.0.0.1::8053/udp", "udpecho"]);
    let shown = w.whale_ok(&["port", "echo"]);
    let line = shown.out().trim().to_string();
    let port: u16 = line
        .strip_prefix("8053/udp -> 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("`port` should show 8053/udp -> 127.0.0.1:PORT: {shown}"));
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(ask(&a, port, b"one").as_deref(), Some(&b"echo:one"[..]));
    // A second client has its own flow: its answer comes to it, not to a.
    assert_eq!(ask(&b, port, b"two").as_deref(), Some(&b"echo:two"[..]));
    assert_eq!(ask(&a, port, b"three").as_deref(), Some(&b"echo:three"[..]));
    let ports = w.inspect("echo")["NetworkSettings"]["Ports"].clone();
    assert_eq!(
        ports["8053/udp"][0]["HostPort"],
        port.to_string(),
        "{ports}"
    );
    let ps = w.ps_line(false, "echo").expect("echo in ps");
    assert!(ps.contains(&format!("127.0.0.1:{port}->8053/udp")), "{ps}");
    w.whale_ok(&["rm", "-f", "echo"]);
    // The proxy went with the container: the host port is free again.
    let again = wait_for(Duration::from_secs(10), || {
        UdpSocket::bind(("127.0.0.1", port)).ok()
    });
    assert!(again.is_some(), "127.0.0.1:{port}/udp still bound after rm");
}
