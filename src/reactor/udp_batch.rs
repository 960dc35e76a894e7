//! Reading many datagrams per system call (`recvmmsg`, Linux): a sensor
//! network's datagrams are small and many, and one `recvfrom` each costs
//! more than the gateway's own work on them. Elsewhere, one `recv_from`
//! per datagram.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

/// Datagrams read per call.
pub(super) const BATCH: usize = 32;
/// Room for the largest datagram MQTT-SN can describe (a 16-bit length).
const SLOT: usize = 65_536;

/// Buffers for one batch. Allocated zeroed and written only as far as each
/// datagram reaches, so what stays resident is about a page per slot used.
pub(super) struct Batch {
    buf: Vec<u8>,
    lens: [usize; BATCH],
    froms: [Option<SocketAddr>; BATCH],
    count: usize,
}

impl Batch {
    pub(super) fn new() -> Batch {
        Batch {
            buf: vec![0; SLOT * BATCH],
            lens: [0; BATCH],
            froms: [None; BATCH],
            count: 0,
        }
    }

    /// The datagrams of the last read, with their senders (those whose
    /// address could not be read are left out).
    pub(super) fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        (0..self.count).filter_map(move |i| {
            let from = self.froms[i]?;
            let start = i * SLOT;
            self.buf
                .get(start..start + self.lens[i])
                .map(|bytes| (from, bytes))
        })
    }

    /// Reads up to [`BATCH`] datagrams from `socket`; returns how many
    /// (`WouldBlock` when there were none).
    #[cfg(target_os = "linux")]
    pub(super) fn read(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        use std::os::unix::io::AsRawFd;
        // SAFETY: zeroed C structs (plain data) are valid values.
        let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let base = self.buf.as_mut_ptr();
        for i in 0..BATCH {
            // SAFETY: slot `i` lies within `buf` (SLOT * BATCH bytes).
            iovecs[i].iov_base = unsafe { base.add(i * SLOT) }.cast();
            iovecs[i].iov_len = SLOT;
            headers[i].msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            headers[i].msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            headers[i].msg_hdr.msg_iov = &mut iovecs[i];
            headers[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `headers` points at BATCH initialised headers whose name
        // and iovec pointers stay valid (locals and `buf`) for the call;
        // the descriptor is the socket's own.
        let count = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if count < 0 {
            self.count = 0;
            return Err(io::Error::last_os_error());
        }
        let count = usize::try_from(count).unwrap_or(0).min(BATCH);
        for i in 0..count {
            let header = &headers[i];
            // A datagram cut to the slot cannot be MQTT-SN: left empty, the
            // gateway counts it malformed.
            let truncated = header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            self.lens[i] = if truncated {
                0
            } else {
                header.msg_len as usize
            };
            self.froms[i] = socket_addr(&addrs[i]);
        }
        self.count = count;
        Ok(count)
    }

    /// Reads one datagram from `socket`; returns 1.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn read(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.count = 0;
        let (len, from) = socket.recv_from(&mut self.buf[..SLOT])?;
        self.lens[0] = len;
        self.froms[0] = Some(from);
        self.count = 1;
        Ok(1)
    }
}

/// The IPv4 or IPv6 address the kernel wrote into `storage`.
#[cfg(target_os = "linux")]
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in, which fits in
            // (and is aligned like) a sockaddr_storage.
            let v4 =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for a sockaddr_in6.
            let v6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Sends `datagrams` from `socket`, many per system call (`sendmmsg`) on
/// Linux; returns how many went out. A datagram the kernel refuses ends
/// the call: the caller drops it (UDP is lossy; retransmission covers what
/// must arrive) and goes on with the rest.
#[cfg(target_os = "linux")]
pub(super) fn send_batch(
    socket: &UdpSocket,
    datagrams: &[(SocketAddr, &[u8])],
) -> io::Result<usize> {
    use std::os::unix::io::AsRawFd;
    let count = datagrams.len().min(BATCH);
    let addrs: Vec<socket2::SockAddr> = datagrams[..count]
        .iter()
        .map(|(to, _)| socket2::SockAddr::from(*to))
        .collect();
    // SAFETY: zeroed C structs (plain data) are valid values.
    let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..count {
        let bytes = datagrams[i].1;
        iovecs[i].iov_base = bytes.as_ptr() as *mut libc::c_void;
        iovecs[i].iov_len = bytes.len();
        headers[i].msg_hdr.msg_name = addrs[i].as_ptr() as *mut libc::c_void;
        headers[i].msg_hdr.msg_namelen = addrs[i].len();
        headers[i].msg_hdr.msg_iov = &mut iovecs[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the first `count` headers point at addresses (`addrs`) and
    // bytes (`datagrams`) that outlive the call; the kernel only reads
    // them. The descriptor is the socket's own.
    let sent = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            count as libc::c_uint,
            libc::MSG_DONTWAIT,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(sent).unwrap_or(0))
}

/// Sends the first of `datagrams`; returns 1.
#[cfg(not(target_os = "linux"))]
pub(super) fn send_batch(
    socket: &UdpSocket,
    datagrams: &[(SocketAddr, &[u8])],
) -> io::Result<usize> {
    match datagrams.first() {
        Some((to, bytes)) => socket.send_to(bytes, *to).map(|_| 1),
        None => Ok(0),
    }
}
