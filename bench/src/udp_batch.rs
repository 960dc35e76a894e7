//! [`Batch`]: datagrams for one connected UDP socket, sent with one
//! `sendmmsg` call.

use std::io::ErrorKind;

/// Datagrams for one socket, sent with one `sendmmsg`: one `send` per
/// datagram held the generator to about 130 k msg/s against the fake
/// gateway of `sn_fake.rs` (QoS 0, 2 cores shared with it); batches of a
/// quarter window with `sendmmsg` reach about 200-260 k.
#[derive(Default)]
pub struct Batch {
    buf: Vec<u8>,
    /// Where each datagram ends in `buf`.
    ends: Vec<usize>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl Batch {
    /// Empties the batch (keeping its memory).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Appends one datagram, written by `encode`.
    pub fn push<F>(&mut self, encode: F) -> Result<(), String>
    where
        F: FnOnce(&mut Vec<u8>) -> Result<(), String>,
    {
        encode(&mut self.buf)?;
        self.ends.push(self.buf.len());
        Ok(())
    }

    /// Sends the datagrams in order on the connected socket; returns how
    /// many went (fewer when its send buffer filled up).
    pub fn send(&mut self, sock: &mio::net::UdpSocket) -> std::io::Result<u64> {
        use std::os::fd::AsRawFd;
        self.iovs.clear();
        let mut start = 0;
        for &end in &self.ends {
            self.iovs.push(libc::iovec {
                iov_base: self.buf[start..end].as_ptr() as *mut libc::c_void,
                iov_len: end - start,
            });
            start = end;
        }
        self.msgs.clear();
        for iov in self.iovs.iter_mut() {
            // SAFETY: an all-zero msghdr is valid (no name, no control).
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            self.msgs.push(m);
        }
        let mut done = 0;
        while done < self.msgs.len() {
            let rest = &mut self.msgs[done..];
            // SAFETY: every mmsghdr points at one iovec of `self.iovs`,
            // each of which points into `self.buf`; none of them is moved
            // or freed before the call returns.
            let n = unsafe {
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    rest.as_mut_ptr(),
                    rest.len().min(1024) as libc::c_uint,
                    0,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                if done > 0 && e.kind() == ErrorKind::WouldBlock {
                    break;
                }
                return Err(e);
            }
            if n == 0 {
                break;
            }
            done += n as usize;
        }
        Ok(done as u64)
    }
}
