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
