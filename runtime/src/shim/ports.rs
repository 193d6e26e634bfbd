//! Published ports without bridges: a user-space proxy, as docker-proxy is,
//! but one that never needs an address outside the container's loopback.
//!
//! The shim binds the listeners in the host's network namespace (so a port
//! in use fails the start, with Docker's message), then forks the proxy: a
//! child of the shim that joins the container's network namespace. Sockets
//! keep the namespace they were made in, so the listeners stay on the host
//! while every connection the proxy opens reaches 127.0.0.1:CPORT inside the
//! container. The shim kills the proxy when the init exits (the listeners
//! close: connection refused), and the kernel kills it should the shim die.
//!
//! The proxy is a child, not a thread of the shim: the shim forks its execs
//! and must stay single-threaded; the proxy never forks and runs a thread
//! per connection direction.
//!
//! UDP has no connections: as docker-proxy does, each client address gets
//! its own socket inside the container (so replies find their way back),
//! with a thread relaying the replies, forgotten after `UDP_IDLE` without
//! one.

use super::spec::PortBinding;
use super::{failure, ShimFailure};
use crate::linux::{process, procfs};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a UDP client's flow lives without a reply (docker-proxy's
/// UDPConnTrackTimeout).
const UDP_IDLE: Duration = Duration::from_secs(90);

/// One bound host socket: a TCP listener or a UDP socket.
enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl Listener {
    fn fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Udp(u) => u.as_raw_fd(),
        }
    }
}

/// The running proxy of a container.
pub(crate) struct Proxy {
    pid: i32,
}

impl Proxy {
    /// Stop it: its listeners close with it.
    pub(crate) fn stop(self) {
        let _ = process::kill(self.pid, libc::SIGKILL);
        let _ = process::reap(self.pid);
    }
}

/// Bind every published port on the host, in the shim's (the host's)
/// network namespace. Returns the listeners with their container ports, and
/// the bindings as bound (ephemeral ports filled in).
#[allow(clippy::type_complexity)]
fn bind(ports: &[PortBinding]) -> Result<(Vec<(Listener, u16)>, Vec<PortBinding>), ShimFailure> {
    let mut listeners = Vec::new();
    let mut bound = Vec::new();
    for p in ports {
        let ip: IpAddr = p.host_ip.parse().map_err(|_| {
            failure(
                125,
                format!(
                    "invalid host IP {:?} for port {}/{}",
                    p.host_ip,
                    p.container_port,
                    p.proto()
                ),
            )
        })?;
        let family = format!("{}{}", p.proto(), if ip.is_ipv4() { 4 } else { 6 });
        let addr = SocketAddr::new(ip, p.host_port);
        let listener = if p.udp {
            UdpSocket::bind(addr).map(Listener::Udp)
        } else {
            TcpListener::bind(addr).map(Listener::Tcp)
        };
        let listener = listener.map_err(|e| {
            // Docker's words (its userland proxy's), so scripts that look
            // for them find them.
            let why = if e.kind() == io::ErrorKind::AddrInUse {
                "bind: address already in use".to_string()
            } else {
                format!("bind: {e}")
            };
            let shown = match ip {
                IpAddr::V6(_) => format!("[{ip}]:{}", p.host_port),
                IpAddr::V4(_) => format!("{ip}:{}", p.host_port),
            };
            failure(
                125,
                format!("driver failed programming external connectivity: Error starting userland proxy: listen {family} {shown}: {why}"),
            )
        })?;
        let local = match &listener {
            Listener::Tcp(l) => l.local_addr(),
            Listener::Udp(u) => u.local_addr(),
        };
        let port = local
            .map_err(|e| failure(125, format!("published port {addr}: {e}")))?
            .port();
        bound.push(PortBinding {
            container_port: p.container_port,
            host_ip: p.host_ip.clone(),
            host_port: port,
            udp: p.udp,
        });
        listeners.push((listener, p.container_port));
    }
    Ok((listeners, bound))
}

/// Bind the ports and start the proxy for the container whose init is
/// `init_pid`. Nothing to publish: no proxy.
pub(crate) fn start(
    ports: &[PortBinding],
    init_pid: i32,
) -> Result<(Option<Proxy>, Vec<PortBinding>), ShimFailure> {
    if ports.is_empty() {
        return Ok((None, Vec::new()));
    }
    let (listeners, bound) = bind(ports)?;
    let netns = File::open(procfs::ns_path(init_pid, "net")).map_err(|e| {
        failure(
            125,
            format!("cannot open the container's network namespace: {e}"),
        )
    })?;
    let shim = process::getpid();
    match process::fork() {
        Ok(process::Forked::Child) => proxy_main(listeners, netns, shim),
        Ok(process::Forked::Parent(pid)) => Ok((Some(Proxy { pid }), bound)),
        Err(e) => Err(failure(125, format!("cannot start the port proxy: {e}"))),
    }
    // The shim's copies of the listeners close here: only the proxy holds
    // them, so they close when it stops.
}

/// The proxy process: never returns.
fn proxy_main(listeners: Vec<(Listener, u16)>, netns: File, shim: i32) -> ! {
    if process::die_with_parent(libc::SIGKILL).is_err() || process::getppid() != shim {
        process::exit_now(0);
    }
    let mut keep: Vec<_> = listeners.iter().map(|(l, _)| l.fd()).collect();
    keep.push(netns.as_raw_fd());
    // Not the shim's socket, pipes or the container's stdio; stdin and
    // stdout (the daemon's handshake pipes) become /dev/null; stderr stays
    // the shim's log.
    let _ = process::close_all_except(&keep);
    if let Ok(null) = File::open("/dev/null") {
        let _ = process::dup2(null.as_raw_fd(), 0);
        let _ = process::dup2(null.as_raw_fd(), 1);
    }
    if let Err(e) = process::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) {
        eprintln!("whale shim: port proxy: cannot join the container's network namespace: {e}");
        process::exit_now(1);
    }
    drop(netns);
    for (listener, port) in listeners {
        // Threads inherit the namespace of the thread that makes them.
        match listener {
            Listener::Tcp(l) => std::thread::spawn(move || accept_loop(l, port)),
            Listener::Udp(u) => std::thread::spawn(move || udp_loop(u, port)),
        };
    }
    loop {
        std::thread::park();
    }
}

fn accept_loop(listener: TcpListener, port: u16) {
    loop {
        match listener.accept() {
            Ok((client, _)) => {
                std::thread::spawn(move || relay(client, port));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("whale shim: port proxy: accept on {port}/tcp: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// One connection: the other end is the container's own loopback. Nobody
/// listening there closes the client's connection, as docker-proxy does.
fn relay(client: TcpStream, port: u16) {
    let Ok(upstream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return;
    };
    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || copy(u2, c2));
    copy(client, upstream);
    let _ = back.join();
}

/// One direction, until EOF: then half-close, so the other side sees the
/// end of the request and can still answer. An error ends both directions.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    match io::copy(&mut from, &mut to) {
        Ok(_) => {
            let _ = to.shutdown(Shutdown::Write);
        }
        Err(_) => {
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        }
    }
}

/// The UDP flows of one published port, by client address: the socket
/// inside the container that speaks for that client.
type Flows = Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>>;

/// Datagrams from the host's side to 127.0.0.1:PORT in the container, each
/// client through its own flow.
fn udp_loop(host: UdpSocket, port: u16) {
    let host = Arc::new(host);
    let flows: Flows = Arc::default();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, client) = match host.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("whale shim: port proxy: receive on {port}/udp: {e}");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let known = flows.lock().ok().and_then(|f| f.get(&client).cloned());
        let flow = match known {
            Some(f) => f,
            None => match udp_flow(&host, &flows, client, port) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("whale shim: port proxy: a flow to {port}/udp: {e}");
                    continue;
                }
            },
        };
        // Nobody listening inside: the datagram is lost, as on a network.
        let _ = flow.send(&buf[..n]);
    }
}

/// A new flow for `client`: a socket on the container's loopback connected
/// to PORT, and a thread sending its replies back to the client until it
/// has been idle for `UDP_IDLE` (or the port refuses).
fn udp_flow(
    host: &Arc<UdpSocket>,
    flows: &Flows,
    client: SocketAddr,
    port: u16,
) -> io::Result<Arc<UdpSocket>> {
    let inner = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    inner.connect((Ipv4Addr::LOCALHOST, port))?;
    inner.set_read_timeout(Some(UDP_IDLE))?;
    let inner = Arc::new(inner);
    if let Ok(mut f) = flows.lock() {
        f.insert(client, inner.clone());
    }
    let (host, flows, replies) = (host.clone(), flows.clone(), inner.clone());
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_536];
        loop {
            match replies.recv(&mut buf) {
                Ok(n) => {
                    let _ = host.send_to(&buf[..n], client);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Idle, or ICMP port unreachable: forget the flow.
                Err(_) => break,
            }
        }
        if let Ok(mut f) = flows.lock() {
            f.remove(&client);
        }
    });
    Ok(inner)
}
