//! The TCP addresses of a mosquitto listener: its host resolved to every
//! address (as mosquitto's `getaddrinfo`), or, without one, every
//! interface in both IP versions; `socket_domain` keeps one version.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::model::Domain;

/// Every address `host` resolves to, of `domain`'s IP version when given.
///
/// # Errors
/// Why it cannot be used, for the caller to name the line.
pub fn resolve(host: &str, port: u16, domain: Option<Domain>) -> Result<Vec<SocketAddr>, String> {
    let all = crate::config_file::resolve_bind(host, port)?;
    let kept: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|addr| match domain {
            Some(Domain::Ipv4) => addr.is_ipv4(),
            Some(Domain::Ipv6) => addr.is_ipv6(),
            None => true,
        })
        .collect();
    if kept.is_empty() {
        return Err(format!(
            "`{host}` has no {} address (socket_domain)",
            if domain == Some(Domain::Ipv4) {
                "IPv4"
            } else {
                "IPv6"
            }
        ));
    }
    Ok(kept)
}

/// Every interface on `port`: what mosquitto's listener without an
/// address binds (both `0.0.0.0` and `::`). When IPv6 sockets accept IPv4
/// too (Linux's default, `net.ipv6.bindv6only = 0`) `[::]` alone does, as
/// a second socket on `0.0.0.0` would then be refused as in use; without
/// IPv6, `0.0.0.0` alone.
pub fn wildcard(port: u16, domain: Option<Domain>) -> Vec<SocketAddr> {
    let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    match domain {
        Some(Domain::Ipv4) => vec![v4],
        Some(Domain::Ipv6) => vec![v6],
        None => match ipv6_dual_stack() {
            None => vec![v4],
            Some(true) => vec![v6],
            Some(false) => vec![v4, v6],
        },
    }
}

/// Whether this machine has IPv6 sockets (`None`: no), and whether a new
/// one accepts IPv4 too (`IPV6_V6ONLY` off by default).
fn ipv6_dual_stack() -> Option<bool> {
    // SAFETY: a socket is made, asked one option into a local int whose
    // size is passed, and closed; no memory is shared with the kernel
    // beyond those two locals.
    unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return None;
        }
        let mut only_v6: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&mut only_v6 as *mut libc::c_int).cast::<libc::c_void>(),
            &mut len,
        );
        libc::close(fd);
        Some(rc == 0 && only_v6 == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(
            wildcard(1883, Some(Domain::Ipv4)),
            vec!["0.0.0.0:1883".parse().unwrap()]
        );
        assert_eq!(
            wildcard(1883, Some(Domain::Ipv6)),
            vec!["[::]:1883".parse().unwrap()]
        );
        let both = wildcard(1883, None);
        assert!(!both.is_empty() && both.len() <= 2, "{both:?}");
        assert!(both
            .iter()
            .all(|a| a.ip().is_unspecified() && a.port() == 1883));
        assert_eq!(
            resolve("127.0.0.1", 1, Some(Domain::Ipv4)).unwrap(),
            vec!["127.0.0.1:1".parse().unwrap()]
        );
        let error = resolve("127.0.0.1", 1, Some(Domain::Ipv6)).unwrap_err();
        assert!(error.contains("no IPv6"), "{error}");
        assert!(resolve("localhost", 1, Some(Domain::Ipv4))
            .unwrap()
            .iter()
            .all(|a| a.is_ipv4()));
    }
}
