//! The little HTTP/1.1 client midori needs: the service submitting checkpoints to witnesses,
//! and `midori verify --tiles` reading a ledger's tiles. Plain `http://` (a TLS-terminating
//! proxy in front where a party serves https), one request per connection, bounded in time and
//! in the size of the answer.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// An answer: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

/// One request to an `http://` URL: `method`, an optional bearer token, an optional body with
/// its content type; the answer's body is read up to `limit` bytes, all within `timeout`.
pub async fn request(
    method: hyper::Method,
    url: &str,
    bearer: Option<&str>,
    body: Option<(&'static str, Bytes)>,
    limit: usize,
    timeout: Duration,
) -> Result<Answer, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| format!("connecting to {authority}: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority);
        if let Some(token) = bearer {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (content_type, bytes) = body.unwrap_or(("", Bytes::new()));
        if !content_type.is_empty() {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
        }
        let request = request.body(Full::new(bytes)).map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = http_body_util::Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .to_bytes();
        Ok::<_, String>(Answer {
            status,
            content_type,
            body,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer from {authority} within {timeout:?}"))?
}
