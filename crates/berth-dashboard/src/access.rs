//! Who may do what. On loopback anyone on the machine may read, as with any
//! local port; a request that changes state must carry the token in
//! `X-Berth-Token` (a header another site's page cannot set without a CORS
//! grant, which the dashboard never gives) and, where the browser says, come
//! from the dashboard's own origin. Every request must name the dashboard's own
//! host, so a DNS name rebound to 127.0.0.1 reaches nothing. Bound beyond
//! loopback, reading needs the token too: once through `?token=`, which sets a
//! same-site cookie.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error;

const TOKEN_HEADER: &str = "x-berth-token";
const TOKEN_COOKIE: &str = "berth_token";

/// The secret that lets a request change state.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// 128 random bits, as hex.
    pub fn generate() -> std::io::Result<Token> {
        let mut bytes = [0u8; 16];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
        Ok(Token(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The token in `path`, its first line; one too short to be guessed hard is refused.
    pub fn from_file(path: &Path) -> Result<Token, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
        let token = text.lines().next().unwrap_or("").trim();
        if token.len() < 16 {
            return Err(format!(
                "the token in {} is shorter than 16 characters\n  help: write a longer one, e.g. `head -c 16 /dev/urandom | xxd -p > {}`",
                path.display(),
                path.display()
            ));
        }
        Ok(Token(token.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compared in time that does not depend on where the first difference is.
    fn is(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
    }
}

/// The checks for one bound dashboard.
pub struct Access {
    token: Token,
    /// `Host` values a request may carry on loopback.
    hosts: Vec<String>,
    reading_needs_token: bool,
}

impl Access {
    pub fn new(token: Token, bound: SocketAddr) -> Access {
        let port = bound.port();
        let hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        let loopback = bound.ip().is_loopback();
        Access {
            token,
            hosts,
            reading_needs_token: !loopback,
        }
    }

    /// On loopback, the host must be a loopback name with the port; bound
    /// beyond it, whatever name reaches it, since every request needs the token.
    fn host_is_ours(&self, headers: &HeaderMap) -> bool {
        header_text(headers, header::HOST.as_str()).is_some_and(|host| {
            self.reading_needs_token || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
        })
    }

    /// No browser says the request came from elsewhere: an `Origin` names the
    /// host the request was sent to.
    fn same_origin(headers: &HeaderMap) -> bool {
        let host = header_text(headers, header::HOST.as_str()).unwrap_or("");
        let origin_ok = header_text(headers, header::ORIGIN.as_str()).is_none_or(|origin| {
            origin
                .strip_prefix("http://")
                .is_some_and(|origin| origin.eq_ignore_ascii_case(host))
        });
        let site_ok = header_text(headers, "sec-fetch-site")
            .is_none_or(|site| site == "same-origin" || site == "none");
        origin_ok && site_ok
    }

    fn token_given(&self, headers: &HeaderMap) -> bool {
        header_text(headers, TOKEN_HEADER).is_some_and(|t| self.token.is(t))
    }

    fn cookie_given(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == TOKEN_COOKIE && self.token.is(value))
    }
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The access checks, before any route.
pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if !access.host_is_ours(headers) {
        return error(
            StatusCode::MISDIRECTED_REQUEST,
            "this dashboard answers only to its own address",
        );
    }
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    if reading {
        if access.reading_needs_token
            && !access.cookie_given(headers)
            && !access.token_given(headers)
        {
            return log_in(&access, &request);
        }
        return next.run(request).await;
    }
    if !Access::same_origin(headers) {
        return error(
            StatusCode::FORBIDDEN,
            "refused: the request comes from another site",
        );
    }
    if !access.token_given(headers) {
        return error(
            StatusCode::UNAUTHORIZED,
            "refused: this needs the dashboard's token (printed when it started, or in --token-file)",
        );
    }
    next.run(request).await
}

/// `?token=` that matches sets the cookie and goes on to the page without it.
fn log_in(access: &Access, request: &Request) -> Response {
    let given = request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "token"))
        .map(|(_, v)| v);
    match given {
        Some(token) if access.token.is(&token) => {
            let cookie = format!(
                "{TOKEN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                access.token.as_str()
            );
            let to = format!("{}#token={}", request.uri().path(), access.token.as_str());
            ([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response()
        }
        _ => error(
            StatusCode::UNAUTHORIZED,
            "this dashboard is bound beyond loopback: open it with the URL it printed (`?token=…`)",
        ),
    }
}
