//! The `Host` check: which names a request may use to reach a listener.
//!
//! A web page in a browser on the same machine can reach a loopback port by
//! DNS rebinding: the attacker's name first resolves to the attacker's server,
//! which serves the page, then to `127.0.0.1`, and the page's requests go to
//! the sidecar. The browser still sends the attacker's *name* in `Host`, so
//! refusing names the sidecar is not known by stops the attack.
//!
//! Accepted:
//! * an IP address (`127.0.0.1:8400`, `[::1]:8400`, the pod IP): an address
//!   cannot be re-pointed, so it cannot carry a rebinding;
//! * `localhost`, when the listener is on a loopback address or on every
//!   interface (`0.0.0.0`, `::`);
//! * the names configured in `server.allowed_hosts` or with `--allowed-host`:
//!   `name` (any port) or `name:port` (that port only).
//!
//! The port is not otherwise checked: a port-forward or a Kubernetes Service
//! may present another port than the one bound, and the name is what a
//! rebinding cannot fake.

use std::net::{IpAddr, SocketAddr};

use axum::http::uri::Authority;
use axum::http::{HeaderMap, Uri, Version, header};

use crate::error::AppError;

/// The names one listener answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    localhost: bool,
    names: Vec<(String, Option<u16>)>,
}

impl AllowedHosts {
    /// The names a listener bound to `addr` answers to, plus `extra` entries
    /// (`name` or `name:port`, as `server.allowed_hosts`).
    pub fn new(addr: SocketAddr, extra: &[String]) -> Result<AllowedHosts, String> {
        let ip = addr.ip();
        let mut names = Vec::with_capacity(extra.len());
        for entry in extra {
            let parsed = agent_safe_core::config::parse_allowed_host(entry)
                .map_err(|why| format!("invalid allowed host `{entry}`: {why}"))?;
            names.push(parsed);
        }
        Ok(AllowedHosts {
            localhost: ip.is_loopback() || ip.is_unspecified(),
            names,
        })
    }

    /// Checks the names a request presents: its `Host` header and, for an
    /// absolute-form request target (`GET http://name/path`), the URI's
    /// authority. Several `Host` headers, or none on HTTP/1.1, are a 400.
    pub fn check(&self, version: Version, uri: &Uri, headers: &HeaderMap) -> Result<(), AppError> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = hosts.next();
        if hosts.next().is_some() {
            return Err(AppError::BadRequest(
                "send one Host header, not several".to_owned(),
            ));
        }
        if let Some(authority) = uri.authority() {
            self.check_one(authority.as_str())?;
        }
        match host {
            Some(value) => {
                let text = value.to_str().map_err(|_| {
                    AppError::BadRequest("the Host header is not printable ASCII".to_owned())
                })?;
                self.check_one(text)
            }
            // HTTP/1.0 does not require Host; browsers, whose requests are
            // the reason for this check, always send one.
            None if version == Version::HTTP_10 || uri.authority().is_some() => Ok(()),
            None => Err(AppError::BadRequest(
                "an HTTP/1.1 request must carry a Host header".to_owned(),
            )),
        }
    }

    fn check_one(&self, text: &str) -> Result<(), AppError> {
        let shown = crate::clip(text, 100);
        let refused = || AppError::HostNotAllowed(shown.to_owned());
        let authority: Authority = text.parse().map_err(|_| {
            AppError::BadRequest(format!("the Host `{shown}` is not a valid host[:port]"))
        })?;
        if authority.as_str().contains('@') {
            return Err(AppError::BadRequest(format!(
                "the Host `{shown}` must not carry user information"
            )));
        }
        // `Authority::port` is `None` for a port that is not a u16.
        let after_host = text.rsplit_once(']').map_or(text, |(_, rest)| rest);
        let port_text = after_host.rsplit_once(':').map(|(_, p)| p);
        if port_text.is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_err()) {
            return Err(AppError::BadRequest(format!(
                "the Host `{shown}` has an invalid port"
            )));
        }
        let host = authority.host();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(());
        }
        let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if self.localhost && name == "localhost" {
            return Ok(());
        }
        let port = authority.port_u16();
        let allowed = self.names.iter().any(|(n, p)| {
            *n == name
                && match p {
                    None => true,
                    // No port in Host means the scheme's default, 80.
                    Some(p) => *p == port.unwrap_or(80),
                }
        });
        if allowed { Ok(()) } else { Err(refused()) }
    }
}

#[cfg(test)]
#[expect(
    clippy::unwrap_used,
    reason = "tests fail loudly: a panic is the failure report"
)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn hosts(addr: &str, extra: &[&str]) -> AllowedHosts {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        AllowedHosts::new(addr.parse().unwrap(), &extra).unwrap()
    }

    fn check(h: &AllowedHosts, host: Option<&str>) -> Result<(), String> {
        let mut headers = HeaderMap::new();
        if let Some(v) = host {
            headers.insert(header::HOST, HeaderValue::from_str(v).unwrap());
        }
        h.check(Version::HTTP_11, &"/v1/check".parse().unwrap(), &headers)
            .map_err(|e| e.code().to_owned())
    }

    #[test]
    fn loopback_listener() {
        let h = hosts("127.0.0.1:8400", &[]);
        for ok in [
            "127.0.0.1:8400",
            "127.0.0.1",
            "localhost:8400",
            "LOCALHOST.:8400",
            "[::1]:8400",
            "localhost:9000",
        ] {
            assert_eq!(check(&h, Some(ok)), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example:8400",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8400",
            "2130706433:8400",
            "agent-safe",
        ] {
            assert_eq!(
                check(&h, Some(bad)),
                Err("host_not_allowed".to_owned()),
                "{bad}"
            );
        }
        assert_eq!(check(&h, None), Err("bad_request".to_owned()));
        for bad in ["user@localhost:8400", "a b", "localhost:99999", ""] {
            assert_eq!(check(&h, Some(bad)), Err("bad_request".to_owned()), "{bad}");
        }
    }

    #[test]
    fn configured_names_and_ports() {
        let h = hosts(
            "10.1.2.3:8400",
            &[
                "agent-safe.agents.svc",
                "agent-safe.agents.svc.cluster.local:8400",
            ],
        );
        assert_eq!(check(&h, Some("10.1.2.3:8400")), Ok(()));
        assert_eq!(check(&h, Some("10.9.9.9")), Ok(()));
        assert_eq!(
            check(&h, Some("localhost:8400")),
            Err("host_not_allowed".to_owned())
        );
        assert_eq!(check(&h, Some("Agent-Safe.agents.svc")), Ok(()));
        assert_eq!(check(&h, Some("agent-safe.agents.svc:1234")), Ok(()));
        assert_eq!(
            check(&h, Some("agent-safe.agents.svc.cluster.local:8400")),
            Ok(())
        );
        assert_eq!(
            check(&h, Some("agent-safe.agents.svc.cluster.local")),
            Err("host_not_allowed".to_owned())
        );
    }

    #[test]
    fn every_interface_accepts_localhost_and_addresses() {
        let h = hosts("0.0.0.0:8401", &[]);
        assert_eq!(check(&h, Some("10.244.1.17:8401")), Ok(()));
        assert_eq!(check(&h, Some("localhost:8401")), Ok(()));
        assert_eq!(
            check(&h, Some("metrics.example")),
            Err("host_not_allowed".to_owned())
        );
    }

    #[test]
    fn several_hosts_absolute_form_and_http10() {
        let h = hosts("127.0.0.1:8400", &[]);
        let mut two = HeaderMap::new();
        two.append(header::HOST, HeaderValue::from_static("localhost"));
        two.append(header::HOST, HeaderValue::from_static("localhost"));
        let uri: Uri = "/healthz".parse().unwrap();
        assert!(h.check(Version::HTTP_11, &uri, &two).is_err());
        let absolute: Uri = "http://evil.example/healthz".parse().unwrap();
        let mut one = HeaderMap::new();
        one.insert(header::HOST, HeaderValue::from_static("localhost"));
        assert!(matches!(
            h.check(Version::HTTP_11, &absolute, &one),
            Err(AppError::HostNotAllowed(_))
        ));
        assert!(h.check(Version::HTTP_10, &uri, &HeaderMap::new()).is_ok());
    }
}
