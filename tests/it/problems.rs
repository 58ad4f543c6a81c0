//! Bad input never gets a 500 or a hang: always an RFC 9457 problem with a 4xx status (or a
//! 503 when the service is overloaded), and every answer carries a request id.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request};
use midori::domain::party::Role;
use midori::http::Limits;
use midori::ledger::canon::{b64url, jwk_thumbprint, sign_jcs};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

/// A request with exactly these headers and bytes (the harness's `post` always sends JSON).
fn request(
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(body.into()).unwrap()
}

fn json_post(path: &str, token: &str, body: impl Into<Body>) -> Request<Body> {
    request(
        Method::POST,
        path,
        Some(token),
        Some("application/json"),
        body,
    )
}

/// `payload` with `kid` and `nonce` set as given (any JSON), signed by `key`.
fn signed_as_is(
    mut payload: Value,
    key: &ed25519_dalek::SigningKey,
    kid: Value,
    nonce: Value,
) -> Value {
    payload["kid"] = kid;
    payload["nonce"] = nonce;
    let signature = sign_jcs(&payload, key).unwrap();
    json!({"payload": payload, "signature": signature})
}

fn register_payload() -> Value {
    json!({"type": "bond.register", "bond": green_spec()})
}

/// Assert a well-formed problem with some 4xx status, and return it.
#[track_caller]
fn client_problem(reply: &Reply, what: &str) -> Value {
    assert!(
        reply.status.is_client_error(),
        "{what}: {} {}",
        reply.status,
        reply.text()
    );
    reply.problem(
        reply.status.as_u16(),
        reply.json()["type"]
            .as_str()
            .unwrap_or("?")
            .trim_start_matches("urn:midori:problem:"),
    )
}

on_both!(
    malformed_json_is_a_400_bad_request,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        // Each is broken before any member name, so no endpoint can judge its structure first.
        let bodies: [&[u8]; 8] = [
            b"{",
            b"not json",
            b"{'payload': 1}",
            b"\xff\xfe{}",
            b"",
            b"{,}",
            b"{\"payl",
            b"\x00",
        ];
        let targets = [
            ("/v1/bonds".to_owned(), &issuer.token),
            (format!("/v1/bonds/{bond}/documents"), &issuer.token),
            ("/v1/parties".to_owned(), &operator.token),
            (format!("/v1/parties/{}/keys", issuer.id), &operator.token),
        ];
        for (path, token) in &targets {
            for body in bodies {
                let reply = t.raw(json_post(path, token, body.to_vec())).await;
                assert_eq!(
                    reply.status,
                    400,
                    "{path} {:?}: {}",
                    String::from_utf8_lossy(body),
                    reply.text()
                );
                reply.problem(400, "bad-request");
            }
        }
        // A valid signed request followed by garbage is not valid JSON either.
        let mut trailing = serde_json::to_vec(&issuer.sign(register_payload())).unwrap();
        trailing.extend_from_slice(b" }");
        t.raw(json_post("/v1/bonds", &issuer.token, trailing))
            .await
            .problem(400, "bad-request");
        assert_eq!(
            t.get("/v1/bonds", None).await.json()["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
);

on_both!(
    json_of_the_wrong_shape_is_a_422_validation_failed,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let signed = issuer.sign(register_payload());
        let cases = [
            ("/v1/bonds", &issuer.token, json!({"payload": 1})),
            (
                "/v1/bonds",
                &issuer.token,
                json!({"payload": signed["payload"]}),
            ),
            (
                "/v1/bonds",
                &issuer.token,
                json!({"signature": signed["signature"]}),
            ),
            (
                "/v1/bonds",
                &issuer.token,
                json!({"payload": signed["payload"], "signature": 5}),
            ),
            (
                "/v1/bonds",
                &issuer.token,
                json!({"payload": signed["payload"], "signature": signed["signature"], "extra": true}),
            ),
            (
                "/v1/bonds",
                &issuer.token,
                json!({"payload": 1, "signature": signed["signature"]}),
            ),
            (
                "/v1/bonds",
                &issuer.token,
                json!({"payload": [1, 2], "signature": signed["signature"]}),
            ),
            ("/v1/bonds", &issuer.token, json!([])),
            ("/v1/bonds", &issuer.token, json!("a string")),
            ("/v1/bonds", &issuer.token, json!(null)),
            ("/v1/parties", &operator.token, json!({})),
            (
                "/v1/parties",
                &operator.token,
                json!({"role": "emperor", "attributes": default_attributes(Role::Investor, "X")}),
            ),
            (
                "/v1/parties",
                &operator.token,
                json!({"role": "investor", "attributes": 7}),
            ),
        ];
        for (path, token, body) in cases {
            let reply = t.post(path, Some(token), body.clone()).await;
            let problem = reply.problem(422, "validation-failed");
            assert!(
                !problem["errors"].as_array().unwrap().is_empty(),
                "{body} -> {problem}"
            );
        }
        let keys = format!("/v1/parties/{}/keys", issuer.id);
        for body in [
            json!({}),
            json!({"public_key": 5}),
            json!({"public_key": "not-a-key"}),
            json!({"public_key": b64url(&[1; 32]), "rotate": true}),
        ] {
            t.post(&keys, Some(&issuer.token), body)
                .await
                .problem(422, "validation-failed");
        }
        // Nothing of it was applied.
        assert!(
            t.get("/v1/bonds", None).await.json()["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
);

on_both!(
    a_body_without_a_json_content_type_is_415_unsupported_media_type,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let body = serde_json::to_vec(&issuer.sign(register_payload())).unwrap();
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/jsonx"),
        ] {
            let reply = t
                .raw(request(
                    Method::POST,
                    "/v1/bonds",
                    Some(&issuer.token),
                    content_type,
                    body.clone(),
                ))
                .await;
            reply.problem(415, "unsupported-media-type");
        }
        // The same bytes as JSON are accepted.
        let reply = t
            .raw(request(
                Method::POST,
                "/v1/bonds",
                Some(&issuer.token),
                Some("application/json; charset=utf-8"),
                body,
            ))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
);

fn small_limits() -> Limits {
    Limits::new(1024, Duration::from_secs(10), 512)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413_payload_too_large() {
    // Arrange: a service that takes 1 KiB bodies.
    let t = TestApp::start_with(Backend::Sqlite, small_limits()).await;
    let operator = t.party(Role::Operator, "Exchange operations").await;
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let big = json!({"payload": {"type": "bond.register", "padding": "x".repeat(2048)}, "signature": "AAAA"});
    let small = json!({"payload": 1});
    assert!(serde_json::to_vec(&big).unwrap().len() > 2048);

    // Act + Assert
    t.post("/v1/bonds", Some(&issuer.token), big.clone())
        .await
        .problem(413, "payload-too-large");
    t.post("/v1/parties", Some(&operator.token), big.clone())
        .await
        .problem(413, "payload-too-large");
    t.post(
        &format!("/v1/parties/{}/keys", issuer.id),
        Some(&issuer.token),
        big,
    )
    .await
    .problem(413, "payload-too-large");
    // 2 KiB of bytes that are not even JSON: the size is refused first.
    t.raw(json_post("/v1/bonds", &issuer.token, vec![b'{'; 2048]))
        .await
        .problem(413, "payload-too-large");
    // Under the limit, the body is read and judged on its content.
    t.post("/v1/bonds", Some(&issuer.token), small)
        .await
        .problem(422, "validation-failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_told_the_configured_limit() {
    let t = TestApp::start_with(Backend::Sqlite, small_limits()).await;
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;

    let reply = t
        .raw(json_post("/v1/bonds", &issuer.token, vec![b' '; 2048]))
        .await;

    let problem = reply.problem(413, "payload-too-large");
    assert!(
        problem["detail"].as_str().unwrap().contains("1024"),
        "{problem}"
    );
}

on_both!(an_unknown_path_is_404_not_found, |t: TestApp| async move {
    let operator = t.party(Role::Operator, "Exchange operations").await;
    // (`/` is the bond directory, a page: tests/it/pages.rs.)
    for path in [
        "/nope",
        "/v1",
        "/v1/bondz",
        "/v1/bonds/x/y/z",
        "/v2/bonds",
        "/v1/parties/x/keys/y",
        "/.well-known/nothing",
    ] {
        t.get(path, None).await.problem(404, "not-found");
        t.get(path, Some(&operator.token))
            .await
            .problem(404, "not-found");
    }
    // Well-formed paths naming nothing.
    let missing = uuid::Uuid::now_v7();
    for path in [
        format!("/v1/bonds/{missing}"),
        format!("/v1/bonds/{missing}/ledger/checkpoint"),
        format!("/v1/bonds/{missing}/ledger/proofs/inclusion?index=0"),
        format!("/v1/parties/{missing}/keys"),
        format!("/v1/parties/{missing}"),
        format!("/v1/bonds/{missing}/ledger/entries"),
    ] {
        t.get(&path, Some(&operator.token))
            .await
            .problem(404, "not-found");
    }
    t.post(
        &format!("/v1/parties/{missing}/api-keys"),
        Some(&operator.token),
        json!({}),
    )
    .await
    .problem(404, "not-found");
});

on_both!(
    a_wrong_method_is_405_method_not_allowed,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let cases = [
            (Method::DELETE, "/v1/bonds"),
            (Method::PUT, "/v1/parties"),
            (Method::PATCH, "/v1/parties/x"),
            (Method::POST, "/healthz"),
            (Method::DELETE, "/.well-known/jwks.json"),
            (Method::PUT, "/v1/bonds/x"),
            (Method::GET, "/v1/api-keys/x"),
            (Method::DELETE, "/v1/bonds/x/documents"),
            (Method::POST, "/v1/bonds/x/ledger/export"),
        ];
        for (method, path) in cases {
            t.send(method.clone(), path, None, None)
                .await
                .problem(405, "method-not-allowed");
            t.send(method, path, Some(&operator.token), Some(json!({})))
                .await
                .problem(405, "method-not-allowed");
        }
    }
);

on_both!(
    a_malformed_query_parameter_is_400_bad_request,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let paths = [
            "/v1/bonds?limit=abc".to_owned(),
            "/v1/bonds?limit=-1".to_owned(),
            "/v1/bonds?limit=99999999999".to_owned(),
            "/v1/bonds?sdg_goal=seven".to_owned(),
            "/v1/bonds?sdg_goal=300".to_owned(),
            "/v1/bonds?kind=".to_owned(),
            "/v1/parties?limit=ten".to_owned(),
            format!("/v1/bonds/{bond}/ledger/checkpoint?size=ten"),
            format!("/v1/bonds/{bond}/ledger/checkpoint?size=-1"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=abc"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=0&size=1e3"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=18446744073709551616"),
            format!("/v1/bonds/{bond}/ledger/proofs/consistency?old_size=1.5"),
            format!("/v1/bonds/{bond}/ledger/proofs/consistency"),
            format!("/v1/bonds/{bond}/ledger/entries?start=x"),
            format!("/v1/bonds/{bond}/ledger/entries?end=%FF"),
        ];
        for path in &paths {
            let reply = t.get(path, Some(&issuer.token)).await;
            assert_eq!(reply.status, 400, "{path}: {}", reply.text());
            reply.problem(400, "bad-request");
        }
    }
);

on_both!(
    numbers_out_of_the_ledgers_range_are_4xx_not_500,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let max = u64::MAX;
        let big = 1u64 << 63;
        for path in [
            format!("/v1/bonds/{bond}/ledger/checkpoint?size={max}"),
            format!("/v1/bonds/{bond}/ledger/checkpoint?size={big}"),
            format!("/v1/bonds/{bond}/ledger/checkpoint?size=0"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index={max}"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=1"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=0&size={big}"),
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=0&size={max}"),
            format!("/v1/bonds/{bond}/ledger/proofs/consistency?old_size=0"),
            format!("/v1/bonds/{bond}/ledger/proofs/consistency?old_size={max}"),
            format!("/v1/bonds/{bond}/ledger/proofs/consistency?old_size=1&new_size={big}"),
            format!("/v1/bonds/{bond}/ledger/proofs/consistency?old_size=2&new_size=1"),
            format!("/v1/bonds/{bond}/ledger/entries?start={max}"),
            format!("/v1/bonds/{bond}/ledger/entries?end={big}"),
            format!("/v1/bonds/{bond}/ledger/entries?start=0&end={max}"),
        ] {
            let reply = t.get(&path, Some(&issuer.token)).await;
            client_problem(&reply, &path);
        }
        // Out-of-range but well-formed reads that still have an answer: a range that starts
        // at or past its end is an empty page.
        for path in [
            format!("/v1/bonds/{bond}/ledger/entries?start=2&end=1"),
            format!("/v1/bonds/{bond}/ledger/entries?start=5"),
        ] {
            let reply = t.get(&path, Some(&issuer.token)).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
            assert_eq!(reply.json()["entries"], serde_json::json!([]), "{path}");
        }
        // The largest end the document allows reads to the ledger's end.
        let reply = t
            .get(
                &format!("/v1/bonds/{bond}/ledger/entries?start=0&end=9007199254740991"),
                Some(&issuer.token),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["entries"].as_array().unwrap().len(), 1);
        // A page size past the documented maximum is refused, as the OpenAPI document says.
        let reply = t.get(&format!("/v1/bonds?limit={}", u32::MAX), None).await;
        reply.problem(400, "bad-request");
        for list in ["/v1/bonds", "/v1/labels"] {
            assert_eq!(t.get(&format!("{list}?limit=200"), None).await.status, 200);
            t.get(&format!("{list}?limit=201"), None)
                .await
                .problem(400, "bad-request");
            t.get(&format!("{list}?limit=0"), None)
                .await
                .problem(400, "bad-request");
            // An empty cursor is the same mistake on every list.
            t.get(&format!("{list}?after="), None)
                .await
                .problem(400, "bad-request");
        }
    }
);

on_both!(
    a_garbage_bearer_token_is_401_unauthenticated,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let headers: [&[u8]; 9] = [
            b"Bearer garbage",
            b"Bearer mdr_garbage",
            b"Bearer mdr_",
            b"Bearer ",
            b"Bearer",
            b"Basic dXNlcjpwYXNz",
            b"mdr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            b"Bearer \xff\xfe",
            b"Bearer mdr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ];
        for header in headers {
            for (method, path) in [(Method::GET, "/v1/parties"), (Method::POST, "/v1/bonds")] {
                let mut req = request(
                    method,
                    path,
                    None,
                    Some("application/json"),
                    serde_json::to_vec(&issuer.sign(register_payload())).unwrap(),
                );
                req.headers_mut()
                    .insert("authorization", HeaderValue::from_bytes(header).unwrap());
                t.raw(req).await.problem(401, "unauthenticated");
            }
        }
        // Another party's token with one character changed.
        let mut forged = issuer.token.clone();
        let last = if forged.ends_with('A') { "B" } else { "A" };
        forged.replace_range(forged.len() - 1.., last);
        t.get("/v1/parties", Some(&forged))
            .await
            .problem(401, "unauthenticated");
    }
);

on_both!(
    a_nonce_that_is_not_a_positive_canonical_decimal_string_is_422,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let nonces = [
            json!("0"),
            json!("01"),
            json!("-1"),
            json!("abc"),
            json!(1),
            json!(""),
            json!(" 1"),
            json!("1.0"),
            json!("1e3"),
            json!("+1"),
            json!("9223372036854775808"),
            json!("18446744073709551616"),
            json!(null),
            json!(["1"]),
        ];
        for nonce in nonces {
            let body = signed_as_is(
                register_payload(),
                &issuer.key,
                json!(issuer.kid()),
                nonce.clone(),
            );
            let reply = t.post("/v1/bonds", Some(&issuer.token), body).await;
            let problem = reply.problem(422, "validation-failed");
            assert_eq!(
                problem["errors"][0]["pointer"], "/payload/nonce",
                "nonce {nonce}: {problem}"
            );
        }
        // The largest nonce is accepted, once.
        let body = signed_as_is(
            register_payload(),
            &issuer.key,
            json!(issuer.kid()),
            json!("9223372036854775807"),
        );
        assert_eq!(
            t.post("/v1/bonds", Some(&issuer.token), body.clone())
                .await
                .status,
            201
        );
        t.post("/v1/bonds", Some(&issuer.token), body)
            .await
            .problem(409, "nonce-replayed");
    }
);

on_both!(
    a_signature_that_is_not_base64url_of_64_bytes_is_422_signature_invalid,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let signed = issuer.sign(register_payload());
        let good = signed["signature"].as_str().unwrap().to_owned();
        let standard_alphabet = good.replace('-', "+").replace('_', "/") + "+/==";
        let signatures = [
            "not base64!".to_owned(),
            String::new(),
            "====".to_owned(),
            standard_alphabet,
            format!("{good}="),
            good[..good.len() - 1].to_owned(),
            format!("{good}AA"),
            b64url(&[0u8; 64]),
            b64url(&[0xffu8; 64]),
            "\u{1F331}".repeat(43),
        ];
        for signature in signatures {
            let body = json!({"payload": signed["payload"], "signature": signature});
            t.post("/v1/bonds", Some(&issuer.token), body)
                .await
                .problem(422, "signature-invalid");
        }
        assert!(
            t.get("/v1/bonds", None).await.json()["items"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
);

on_both!(
    an_unknown_kid_is_422_signature_invalid,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let stranger = fresh_key();
        let kids = [
            json!(jwk_thumbprint(&stranger.verifying_key())),
            json!(""),
            json!("x".repeat(10_000)),
            json!("🌱"),
        ];
        for kid in kids {
            let body = signed_as_is(
                register_payload(),
                &stranger,
                kid.clone(),
                json!(issuer.next_nonce().to_string()),
            );
            let reply = t.post("/v1/bonds", Some(&issuer.token), body).await;
            assert_eq!(reply.status, 422, "kid {kid}: {}", reply.text());
            reply.problem(422, "signature-invalid");
        }
        // A kid that is not a string is a malformed payload.
        let body = signed_as_is(
            register_payload(),
            &stranger,
            json!(7),
            json!(issuer.next_nonce().to_string()),
        );
        t.post("/v1/bonds", Some(&issuer.token), body)
            .await
            .problem(422, "validation-failed");
    }
);

/// Read and write through every id-taking endpoint with `id` (already percent-encoded) as the
/// id and as a query value; return every answer that is a 5xx or not a 4xx problem.
async fn answers_to_an_odd_id(
    t: &TestApp,
    operator: &Party,
    issuer: &Party,
    id: &str,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut judge = |what: String, reply: Reply, ok: &[u16]| {
        let problem = reply.content_type() == "application/problem+json"
            && serde_json::from_slice::<Value>(&reply.body)
                .is_ok_and(|p| p["status"] == reply.status.as_u16());
        if !(ok.contains(&reply.status.as_u16()) || (reply.status.is_client_error() && problem)) {
            wrong.push(format!("{what}: {} {}", reply.status, reply.text()));
        }
    };
    for path in [
        format!("/v1/bonds/{id}"),
        format!("/v1/bonds/{id}/ledger/checkpoint"),
        format!("/v1/bonds/{id}/ledger/proofs/inclusion?index=0"),
        format!("/v1/bonds/{id}/ledger/proofs/consistency?old_size=1"),
        format!("/v1/bonds/{id}/ledger/entries"),
        format!("/v1/bonds/{id}/ledger/export"),
        format!("/v1/parties/{id}"),
        format!("/v1/parties/{id}/keys"),
        format!("/v1/bonds?issuer={id}"),
        format!("/v1/bonds?after={id}"),
        format!("/v1/parties?after={id}"),
    ] {
        let reply = t.get(&path, Some(&operator.token)).await;
        judge(format!("GET {path}"), reply, &[200]);
    }
    let doc = issuer.sign(json!({"type": "bond.add_document", "bond_id": id, "document": {"kind": "other", "uri": "https://example.org/x.pdf", "sha256": "0".repeat(64)}}));
    let path = format!("/v1/bonds/{id}/documents");
    judge(
        format!("POST {path}"),
        t.post(&path, Some(&issuer.token), doc).await,
        &[],
    );
    let path = format!("/v1/parties/{id}/api-keys");
    judge(
        format!("POST {path}"),
        t.post(&path, Some(&operator.token), json!({})).await,
        &[],
    );
    let path = format!("/v1/parties/{id}/keys");
    let key =
        json!({"public_key": b64url(fresh_key().verifying_key().as_bytes()), "activate": false});
    judge(
        format!("POST {path}"),
        t.post(&path, Some(&operator.token), key).await,
        &[],
    );
    let path = format!("/v1/api-keys/{id}");
    judge(
        format!("DELETE {path}"),
        t.send(Method::DELETE, &path, Some(&operator.token), None)
            .await,
        &[],
    );
    wrong
}

on_both!(
    odd_ids_in_paths_and_queries_are_4xx_problems_not_500,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        t.register(&issuer, green_spec()).await;
        let long = "x".repeat(4096);
        let ids = [
            "%F0%9F%8C%B1",
            "%E2%80%AE",
            "'%20OR%201=1--",
            long.as_str(),
            "..%2F..%2Fetc%2Fpasswd",
            "%25",
            "%20",
            "%0A",
        ];

        let mut wrong = Vec::new();
        for id in ids {
            wrong.extend(answers_to_an_odd_id(&t, &operator, &issuer, id).await);
        }

        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
);

/// A NUL character (U+0000) in an id, a query value or a signed `kid`: PostgreSQL cannot
/// store or compare it in TEXT, so the service must refuse it before it reaches the database.
async fn a_nul_character_is_a_4xx_problem_not_a_500(backend: Backend) {
    // Arrange
    let t = TestApp::start(backend).await;
    let operator = t.party(Role::Operator, "Exchange operations").await;
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    t.register(&issuer, green_spec()).await;

    // Act
    let mut wrong = Vec::new();
    for id in ["%00", "a%00b"] {
        wrong.extend(answers_to_an_odd_id(&t, &operator, &issuer, id).await);
    }
    let body = signed_as_is(
        register_payload(),
        &issuer.key,
        json!("kid\u{0}with-nul"),
        json!(issuer.next_nonce().to_string()),
    );
    let reply = t.post("/v1/bonds", Some(&issuer.token), body).await;
    if reply.status != 422 {
        wrong.push(format!(
            "POST /v1/bonds with a NUL in the kid: {} {}",
            reply.status,
            reply.text()
        ));
    }

    // Assert
    assert!(
        wrong.is_empty(),
        "{} answers were not 4xx problems:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

mod a_nul_character_in_an_id_a_query_or_a_kid_is_a_4xx_problem {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        a_nul_character_is_a_4xx_problem_not_a_500(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if postgres_admin_url().is_some() {
            a_nul_character_is_a_4xx_problem_not_a_500(Backend::Postgres).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_id_that_is_not_utf8_is_a_400_problem() {
    let t = TestApp::start(Backend::Sqlite).await;
    let operator = t.party(Role::Operator, "Exchange operations").await;
    for path in [
        "/v1/bonds/%FF",
        "/v1/parties/%C3%28/keys",
        "/v1/bonds/%FF/ledger/checkpoint",
    ] {
        let reply = t.get(path, Some(&operator.token)).await;
        reply.problem(400, "bad-request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_service_answers_503_overloaded_with_retry_after() {
    // Arrange: no request may be in flight.
    let t = TestApp::start_with(
        Backend::Sqlite,
        Limits::new(1024, Duration::from_secs(10), 0),
    )
    .await;
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;

    // Act
    let replies = [
        t.get("/healthz", None).await,
        t.get("/v1/bonds", None).await,
        t.get("/nope", None).await,
        t.post(
            "/v1/bonds",
            Some(&issuer.token),
            issuer.sign(register_payload()),
        )
        .await,
    ];

    // Assert
    for reply in &replies {
        reply.problem(503, "overloaded");
        let retry_after = reply
            .headers
            .get("retry-after")
            .expect("retry-after")
            .to_str()
            .unwrap();
        assert!(
            retry_after.parse::<u32>().is_ok_and(|s| s >= 1),
            "retry-after {retry_after:?}"
        );
        assert!(reply.headers.contains_key("x-request-id"));
    }
    // Nothing was done.
    assert_eq!(
        t.app
            .bonds(&midori::store::BondFilter::default(), None, None)
            .await
            .unwrap()
            .items
            .len(),
        0
    );
}

on_both!(
    every_response_carries_a_request_id_and_an_incoming_one_is_echoed,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let requests = || {
            vec![
                request(Method::GET, "/healthz", None, None, Body::empty()),
                request(Method::GET, "/v1/bonds", None, None, Body::empty()),
                request(Method::GET, "/nope", None, None, Body::empty()),
                request(Method::DELETE, "/v1/bonds", None, None, Body::empty()),
                request(Method::GET, "/v1/parties", None, None, Body::empty()),
                request(
                    Method::GET,
                    "/v1/parties",
                    Some(&issuer.token),
                    None,
                    Body::empty(),
                ),
                request(Method::POST, "/v1/bonds", Some(&issuer.token), None, "{}"),
                json_post("/v1/bonds", &issuer.token, "{"),
                json_post(
                    "/v1/bonds",
                    &issuer.token,
                    serde_json::to_vec(&issuer.sign(register_payload())).unwrap(),
                ),
            ]
        };
        let mut seen = std::collections::HashSet::new();
        for request in requests() {
            let what = format!("{} {}", request.method(), request.uri());
            let reply = t.raw(request).await;
            let id = reply
                .headers
                .get("x-request-id")
                .unwrap_or_else(|| panic!("{what}: no x-request-id"))
                .to_str()
                .unwrap()
                .to_owned();
            assert!(!id.is_empty(), "{what}");
            assert!(seen.insert(id.clone()), "{what}: request id {id} reused");
        }
        for (n, mut request) in requests().into_iter().enumerate() {
            let what = format!("{} {}", request.method(), request.uri());
            let mine = format!("client-trace-{n}");
            request
                .headers_mut()
                .insert("x-request-id", HeaderValue::from_str(&mine).unwrap());
            let reply = t.raw(request).await;
            assert_eq!(
                reply
                    .headers
                    .get("x-request-id")
                    .map(|v| v.to_str().unwrap().to_owned()),
                Some(mine),
                "{what}"
            );
        }
    }
);

/// SplitMix64: a small deterministic generator, so every run tries the same mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every JSON pointer in `value` (the root is "").
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn nested(depth: usize) -> Value {
    let mut v = json!("bottom");
    for level in 0..depth {
        v = if level % 2 == 0 {
            json!([v])
        } else {
            json!({"a": v})
        };
    }
    v
}

fn remove(root: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let key = last.replace("~1", "/").replace("~0", "~");
    match root.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&key);
        }
        Some(Value::Array(items)) => {
            let i: usize = key.parse().unwrap();
            items.remove(i);
        }
        _ => {}
    }
}

/// Mutate `payload` once at a random place; returns what was done.
fn mutate(rng: &mut Rng, payload: &mut Value) -> String {
    let mut all = Vec::new();
    pointers(payload, String::new(), &mut all);
    let inner: Vec<&String> = all.iter().filter(|p| !p.is_empty()).collect();
    let at = (*rng.pick(&inner)).clone();
    let strange = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!([]),
        json!({}),
        json!("0"),
        json!(["a", 1, null]),
    ];
    let unicode = [
        "緑の債券 大阪府",
        "🌱🌍🏙️",
        "e\u{301}\u{301}\u{301}",
        "\u{202e}dnob neerg",
        "nul\u{0}byte",
        "\u{feff}BOM",
        "\u{10ffff}\u{fffd}",
        "line\nbreak\ttab",
        "'; DROP TABLE bonds; --",
        "\\u0000",
        "JP3633400001\u{0}",
    ];
    match rng.below(7) {
        0 => {
            remove(payload, &at);
            format!("delete {at}")
        }
        1 => {
            let v = rng.pick(&strange).clone();
            *payload.pointer_mut(&at).unwrap() = v.clone();
            format!("set {at} to {v}")
        }
        2 => {
            let s = *rng.pick(&unicode);
            *payload.pointer_mut(&at).unwrap() = json!(s);
            format!("set {at} to {s:?}")
        }
        3 => {
            let n = *rng.pick(&[257, 5_000, 60_000, 300_000]);
            let c = *rng.pick(&['x', '緑', '0']);
            *payload.pointer_mut(&at).unwrap() = json!(c.to_string().repeat(n));
            format!("set {at} to {n} x {c:?}")
        }
        4 => {
            let depth = *rng.pick(&[100, 200]);
            *payload.pointer_mut(&at).unwrap() = nested(depth);
            format!("nest {at} {depth} deep")
        }
        5 => {
            let objects: Vec<&String> = all
                .iter()
                .filter(|p| payload.pointer(p).is_some_and(Value::is_object))
                .collect();
            let target = (*rng.pick(&objects)).clone();
            payload
                .pointer_mut(&target)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert("zz_unknown".into(), json!(1));
            format!("add an unknown field to {target:?}")
        }
        _ => {
            let arrays: Vec<&String> = all
                .iter()
                .filter(|p| payload.pointer(p).is_some_and(Value::is_array))
                .collect();
            if arrays.is_empty() {
                return "nothing".into();
            }
            let target = (*rng.pick(&arrays)).clone();
            let items = payload
                .pointer_mut(&target)
                .unwrap()
                .as_array_mut()
                .unwrap();
            if items.is_empty() || rng.below(2) == 0 {
                items.clear();
                format!("empty {target}")
            } else {
                let first = items[0].clone();
                for _ in 0..100 {
                    items.push(first.clone());
                }
                format!("repeat {target}[0] 100 times")
            }
        }
    }
}

on_both!(
    two_hundred_mutated_bond_requests_get_4xx_problems_or_201_and_never_5xx,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let mut rng = Rng(0x6d69_646f_7269);
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        let mut failures = Vec::new();

        for case in 0..200 {
            // Arrange: a valid signed request, then one to three mutations of its payload.
            let mut payload = register_payload();
            payload["kid"] = json!(issuer.kid());
            payload["nonce"] = json!(issuer.next_nonce().to_string());
            let original_signature = sign_jcs(&payload, &issuer.key).unwrap();
            let mut done: Vec<String> = (0..1 + rng.below(3))
                .map(|_| mutate(&mut rng, &mut payload))
                .collect();
            // Mostly re-sign what was mutated, so the validator (not only the signature check) sees it.
            let signature = match rng.below(4) {
                0 => original_signature,
                _ => sign_jcs(&payload, &issuer.key).unwrap_or(original_signature),
            };
            let mut body = json!({"payload": payload, "signature": signature});
            let bytes = match rng.below(10) {
                0 => {
                    done.push("drop the signature".into());
                    body.as_object_mut().unwrap().remove("signature");
                    serde_json::to_vec(&body).unwrap()
                }
                1 => {
                    let mut bytes = serde_json::to_vec(&body).unwrap();
                    let at = rng.below(bytes.len());
                    if rng.below(2) == 0 {
                        done.push(format!("truncate the bytes at {at}"));
                        bytes.truncate(at);
                    } else {
                        let byte = rng.next() as u8;
                        done.push(format!("set byte {at} to {byte:#04x}"));
                        bytes[at] = byte;
                    }
                    bytes
                }
                _ => serde_json::to_vec(&body).unwrap(),
            };

            // Act
            let reply = tokio::time::timeout(
                Duration::from_secs(30),
                t.raw(json_post("/v1/bonds", &issuer.token, bytes)),
            )
            .await;

            // Assert
            let what = format!("case {case}: {}", done.join(", "));
            let Ok(reply) = reply else {
                failures.push(format!("{what}: no answer in 30 s"));
                continue;
            };
            let status = reply.status.as_u16();
            let problem = serde_json::from_slice::<Value>(&reply.body).ok();
            let slug = problem
                .as_ref()
                .and_then(|p| p["type"].as_str())
                .unwrap_or("")
                .trim_start_matches("urn:midori:problem:")
                .to_owned();
            *statuses.entry(format!("{status} {slug}")).or_default() += 1;
            let well_formed = reply.content_type() == "application/problem+json"
                && problem.as_ref().is_some_and(|p| {
                    p["status"] == status
                        && p["type"]
                            .as_str()
                            .is_some_and(|t| t.starts_with("urn:midori:problem:"))
                });
            match status {
                201 => {}
                400..=499 if well_formed => {}
                _ => failures.push(format!(
                    "{what}: {status} {}",
                    reply.text().chars().take(300).collect::<String>()
                )),
            }
        }

        assert!(
            failures.is_empty(),
            "{} of 200 mutations were answered wrongly:\n{}\nstatuses: {statuses:?}",
            failures.len(),
            failures.join("\n")
        );
        // The mutations reached every layer: parsing, the signature check and the bond validator.
        for expected in [
            "400 bad-request",
            "422 signature-invalid",
            "422 validation-failed",
        ] {
            assert!(
                statuses.contains_key(expected),
                "no {expected} among {statuses:?}"
            );
        }
    }
);

on_both!(
    a_member_name_repeated_at_any_depth_of_a_body_is_refused_naming_its_pointer,
    |t: TestApp| async move {
        // Arrange: a transfer signed over quantity 100, sent with a first `"quantity":"1"`
        // that a first-wins reader (a proxy, a reviewer's tool) would have taken instead.
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
        let issued = t
            .op(
                &issuer,
                &bond,
                json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "500"}]}),
            )
            .await;
        assert_eq!(issued.status, 201, "{}", issued.text());
        let signed = a.sign(json!({"type": "token.transfer", "bond_id": bond,
            "operation_id": "dup-1", "to": b.id, "quantity": "100"}));
        let text = serde_json::to_string(&signed).unwrap().replacen(
            "\"quantity\":\"100\"",
            "\"quantity\":\"1\",\"quantity\":\"100\"",
            1,
        );
        assert!(text.contains("\"quantity\":\"1\",\"quantity\":\"100\""));

        // Act
        let reply = t
            .raw(
                Request::builder()
                    .method(Method::POST)
                    .uri(format!("/v1/bonds/{bond}/operations"))
                    .header("authorization", format!("Bearer {}", a.token))
                    .header("content-type", "application/json")
                    .body(Body::from(text))
                    .unwrap(),
            )
            .await;

        // Assert
        let problem = reply.problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["pointer"], "/payload/quantity");
        assert_eq!(problem["errors"][0]["code"], "duplicate_member");
        assert_eq!(t.balances(&issuer, &bond).await[&a.id], 500);
        // An unsigned body too, deeper down.
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let reply = t
            .raw(
                Request::builder()
                    .method(Method::POST)
                    .uri("/v1/parties")
                    .header("authorization", format!("Bearer {}", operator.token))
                    .header("content-type", "application/json")
                    .body(Body::from(
                        r#"{"role":"investor","attributes":{"name":"x","name":"y"}}"#,
                    ))
                    .unwrap(),
            )
            .await;
        let problem = reply.problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["pointer"], "/attributes/name");
    }
);

on_both!(
    a_request_id_that_is_long_or_not_plain_is_replaced_not_echoed,
    |t: TestApp| async move {
        let echoed = |id: &str| {
            let id = id.to_owned();
            let t = &t;
            async move {
                let mut request = Request::builder().uri("/healthz");
                request = request.header("x-request-id", HeaderValue::from_str(&id).unwrap());
                let reply = t.raw(request.body(Body::empty()).unwrap()).await;
                assert_eq!(reply.status, 200);
                reply.headers["x-request-id"].to_str().unwrap().to_owned()
            }
        };
        let longest = "a".repeat(64);
        assert_eq!(echoed(&longest).await, longest);
        assert_eq!(echoed("trace-1.2_3:4").await, "trace-1.2_3:4");
        for bad in [
            "a".repeat(65),
            "two words".into(),
            "<script>".into(),
            "a\"b".into(),
        ] {
            let got = echoed(&bad).await;
            assert_ne!(got, bad);
            assert!(uuid::Uuid::try_parse(&got).is_ok(), "{got}");
        }
    }
);

on_both!(
    answers_are_never_sniffed_and_answers_to_a_credential_are_never_cached,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let public = t.get("/v1/bonds", None).await;
        assert_eq!(public.headers["x-content-type-options"], "nosniff");
        assert!(!public.headers.contains_key("cache-control"));
        let private = t
            .get(&format!("/v1/parties/{}", issuer.id), Some(&issuer.token))
            .await;
        assert_eq!(private.status, 200);
        assert_eq!(private.headers["x-content-type-options"], "nosniff");
        assert_eq!(private.headers["cache-control"], "no-store");
        // Refusals too.
        let refused = t.get("/v1/parties", Some(&issuer.token)).await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.headers["cache-control"], "no-store");
        assert_eq!(refused.headers["x-content-type-options"], "nosniff");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expensive_reads_have_a_limit_of_their_own_and_do_not_take_cheap_reads_or_writes_down() {
    // Arrange: the expensive reads' permits are all taken (as by exports in progress).
    let limits = Limits::default();
    let held = limits
        .heavy
        .clone()
        .acquire_many_owned(midori::http::limits::HEAVY_READS_MAX as u32)
        .await
        .unwrap();
    let t = TestApp::start_with(Backend::Sqlite, limits).await;
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let regulator = t.party(Role::Regulator, "FSA Kinki").await;
    let bond = t.register(&issuer, green_spec()).await;

    // Act and assert: an export and an audit are refused at once, with Retry-After…
    for reply in [
        t.get(
            &format!("/v1/bonds/{bond}/ledger/export"),
            Some(&issuer.token),
        )
        .await,
        t.get("/v1/audit/ledgers", Some(&regulator.token)).await,
    ] {
        reply.problem(503, "overloaded");
        assert!(reply.headers.contains_key("retry-after"));
    }
    // …while cheap reads and writes are served.
    assert_eq!(
        t.get(&format!("/v1/bonds/{bond}/label"), None).await.status,
        200
    );
    let a = t.party(Role::Investor, "Kansai Pension Fund").await;
    created(
        &t.op(
            &issuer,
            &bond,
            json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "10"}]}),
        )
        .await,
    );
    // Once a permit is back, exports are served again.
    drop(held);
    let export = t
        .get(
            &format!("/v1/bonds/{bond}/ledger/export"),
            Some(&issuer.token),
        )
        .await;
    assert_eq!(export.status, 200);
    assert_eq!(export.text().lines().count(), 2);
}
