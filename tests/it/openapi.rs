//! The committed OpenAPI document is the one the code generates.

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = midori::http::openapi_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var_os("MIDORI_BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` (or MIDORI_BLESS=1 cargo test openapi)"
    );
}

#[test]
fn the_document_is_openapi_3_1_and_lists_the_ledger_endpoints() {
    let doc: serde_json::Value = serde_json::from_str(&midori::http::openapi_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/bonds",
        "/v1/bonds/{id}",
        "/v1/bonds/{id}/ledger/checkpoint",
        "/v1/bonds/{id}/ledger/proofs/inclusion",
        "/v1/bonds/{id}/ledger/proofs/consistency",
        "/v1/bonds/{id}/ledger/export",
        "/.well-known/jwks.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "missing {path}");
    }
}

/// The router serves exactly the operations the document declares: on every documented path,
/// each method the document does not list answers `405` with an `Allow` header naming the
/// documented ones, before any authentication or body parsing.
mod every_undocumented_method_on_a_documented_path_is_405 {
    use axum::body::Body;
    use axum::http::{Method, Request};

    use crate::on_both;
    use crate::support::*;

    on_both!(holds, |t: TestApp| async move {
        let doc: serde_json::Value = serde_json::from_str(&midori::http::openapi_json()).unwrap();
        let mut wrong = Vec::new();
        for (template, operations) in doc["paths"].as_object().unwrap() {
            let path = template
                .replace("{id}", "01a24ecd-087f-719c-b22c-a02f110e37de")
                .replace("{period}", "1");
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if operations.get(method.to_lowercase()).is_some() {
                    continue;
                }
                let request = Request::builder()
                    .method(Method::from_bytes(method.as_bytes()).unwrap())
                    .uri(&path)
                    .header("content-type", "application/json")
                    .body(Body::from("{}"))
                    .unwrap();
                let reply = t.raw(request).await;
                if reply.status != 405 {
                    wrong.push(format!("{method} {template}: {}", reply.status));
                }
            }
        }
        assert!(wrong.is_empty(), "undocumented methods served: {wrong:#?}");
    });
}
