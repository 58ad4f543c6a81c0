//! The pages for people, through the real router on SQLite and PostgreSQL: what an investor and
//! a regulator read, in which language, and who may read it. (The same pages are driven in a
//! real headless Chromium by tests/browser, which `.ci/run` runs against the README's tour.)

use axum::body::Body;
use axum::http::{Method, Request};
use midori::domain::party::Role;
use serde_json::json;

use crate::on_both;
use crate::support::*;

const V1: &str = include_str!("../../sandbox/osaka-ifc-green-st-v1.toml");

/// GET `path` with these request headers.
async fn page(t: &TestApp, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder().method(Method::GET).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    t.raw(request.body(Body::empty()).unwrap()).await
}

/// POST a form (`application/x-www-form-urlencoded`) with these request headers.
async fn form(t: &TestApp, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    t.raw(request.body(Body::from(body)).unwrap()).await
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value a response's `Set-Cookie` gives cookie `name`, and the whole header.
fn set_cookie(reply: &Reply, name: &str) -> Option<(String, String)> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v[name.len() + 1..].split(';').next().unwrap().to_owned();
            (value, v.to_owned())
        })
}

/// The value of the hidden `csrf` field of the page's first form that has one.
fn csrf_field(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

on_both!(
    an_investor_reads_the_bond_and_its_label_in_japanese_or_english,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        // A document added after registration (an annual report), listed with its date.
        t.set_time(time::macros::datetime!(2026-06-30 15:30 UTC));
        let added = issuer.sign(json!({"type": "bond.add_document", "bond_id": bond, "document": {
            "kind": "other", "uri": "https://example.org/osaka/annual-2026.pdf", "sha256": "ab".repeat(32)}}));
        let reply = t
            .post(
                &format!("/v1/bonds/{bond}/documents"),
                Some(&issuer.token),
                added,
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());

        let en = page(&t, "/", &[("accept-language", "en-GB,en;q=0.9")]).await;
        assert_eq!(en.status, 200);
        assert!(en.content_type().starts_with("text/html"));
        let html = en.text();
        assert!(html.contains(r#"<html lang="en">"#));
        assert!(html.contains(&format!(r#"href="/bonds/{bond}""#)), "{html}");
        assert!(html.contains(r#"class="badge status-"#));

        // Japanese by Accept-Language, with the amount as Japanese readers write it.
        let ja = page(
            &t,
            &format!("/bonds/{bond}"),
            &[("accept-language", "ja,en;q=0.5")],
        )
        .await;
        assert_eq!(ja.status, 200);
        let html = ja.text();
        assert!(html.contains(r#"<html lang="ja">"#));
        assert!(html.contains("調達資金の充当状況"));
        assert!(html.contains("発行条件"));
        // The example bond: 10,000 tokens of ¥1,000,000, issued 20 June 2025.
        assert!(html.contains("100億円"), "{html}");
        assert!(html.contains("2025年6月20日"));
        // Added on 1 July in Japan (30 June 15:30 UTC is 00:30 JST the next day).
        assert!(
            html.contains(r#"<li data-entry="1">"#) && html.contains("annual-2026.pdf"),
            "{html}"
        );
        assert!(html.contains("2026年7月1日追加"), "{html}");

        // The reader's choice, once made with the switch, wins over Accept-Language.
        let switched = page(
            &t,
            &format!("/lang?to=en&back=/bonds/{bond}"),
            &[("accept-language", "ja")],
        )
        .await;
        assert_eq!(switched.status, 303);
        assert_eq!(switched.headers["location"], format!("/bonds/{bond}"));
        let (lang, header) = set_cookie(&switched, "lang").unwrap();
        assert_eq!(lang, "en");
        // A preference: kept when the reader arrives by a link from another site.
        assert!(header.contains("SameSite=Lax"), "{header}");
        let en = page(
            &t,
            &format!("/bonds/{bond}"),
            &[("accept-language", "ja"), ("cookie", "lang=en")],
        )
        .await;
        let html = en.text();
        assert!(html.contains("Allocation of proceeds"));
        assert!(html.contains("¥10,000,000,000"));
        assert!(html.contains("20 Jun 2025"));
        // The switch never sends a reader off the site, however the address is dressed up
        // (browsers drop tabs and newlines and read a backslash as a slash).
        for back in [
            "//evil.example/",
            "/%09/evil.example",
            "/%0A/evil.example",
            "/%5Cevil.example",
            "%2F%2Fevil.example",
            "https://evil.example/",
        ] {
            let away = page(&t, &format!("/lang?to=ja&back={back}"), &[]).await;
            assert_eq!(away.status, 303, "{back}");
            assert_eq!(away.headers["location"], "/", "{back}");
        }
        // A page reads by language: caches must keep them apart.
        let vary = en.headers["vary"].to_str().unwrap().to_owned();
        assert!(
            vary.contains("accept-language") && vary.contains("cookie"),
            "{vary}"
        );

        // The addresses a person tries by hand.
        for (path, to) in [
            ("/bonds", "/"),
            ("/labels", "/"),
            ("/audit", "/regulator/audit"),
        ] {
            let reply = page(&t, path, &[]).await;
            assert_eq!(reply.status, 303, "{path}");
            assert_eq!(reply.headers["location"], to);
        }

        // A page for a bond that does not exist is a page, with the API's status.
        let missing = page(&t, "/bonds/0190a6c2-0000-7000-8000-000000000000", &[]).await;
        assert_eq!(missing.status, 404);
        assert!(missing.content_type().starts_with("text/html"));
        let bad = page(&t, "/bonds/not-an-id", &[("accept-language", "ja")]).await;
        assert!(bad.status.is_client_error());
        assert!(bad.text().contains(r#"<html lang="ja">"#));
    }
);

on_both!(
    every_page_forbids_scripts_and_framing,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        for path in [
            "/".to_owned(),
            format!("/bonds/{bond}"),
            "/labels/verify".into(),
            "/regulator/".into(),
        ] {
            let reply = page(&t, &path, &[]).await;
            let csp = reply.headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"));
            assert!(!csp.contains("script-src"), "{path}: no script allowed");
            assert!(!reply.text().contains("<script"), "{path}");
        }
        let css = page(&t, "/assets/midori.css", &[]).await;
        assert_eq!(css.status, 200);
        assert!(css.content_type().starts_with("text/css"));
    }
);

on_both!(
    the_label_checker_says_what_a_label_certifies_and_until_when,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let label = t.get(&format!("/v1/bonds/{bond}/label"), None).await.json();
        let jws = label["jws"].as_str().unwrap();

        let checked = form(
            &t,
            "/labels/verify",
            &[("jws", jws)],
            &[("accept-language", "en")],
        )
        .await;
        assert_eq!(checked.status, 200);
        let html = checked.text();
        assert!(html.contains(r#"data-valid="true""#), "{html}");
        assert!(html.contains("Osaka Prefecture Green Bond"));
        assert!(
            html.contains(" JST"),
            "valid until as a date and time: {html}"
        );

        // One byte of the claims changed: not a label.
        let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
        let mid = parts[1].len() / 2;
        let flipped = if &parts[1][mid..=mid] == "A" {
            "B"
        } else {
            "A"
        };
        parts[1].replace_range(mid..=mid, flipped);
        let forged = form(&t, "/labels/verify", &[("jws", &parts.join("."))], &[]).await;
        assert!(forged.text().contains(r#"data-valid="false""#));
    }
);

on_both!(
    a_signed_out_visitor_never_sees_a_trial_or_an_audit,
    |t: TestApp| async move {
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let created = t
            .post(
                "/v1/trials",
                Some(&regulator.token),
                regulator.sign(json!({"type": "trial.create", "trial": {"title": "Secret trial title", "rulebook": V1}})),
            )
            .await;
        let trial = created.json()["trial"]["id"].as_str().unwrap().to_owned();
        for path in [
            "/regulator/".to_owned(),
            "/regulator/audit".into(),
            format!("/regulator/trials/{trial}"),
        ] {
            // No cookie, a made-up session, or an API key in a header: the sign-in form, 401.
            for headers in [
                vec![],
                vec![("cookie", "midori_session=made-up")],
                vec![("authorization", "Bearer nothing")],
            ] {
                let reply = page(&t, &path, &headers).await;
                assert_eq!(reply.status, 401, "{path}");
                let html = reply.text();
                assert!(html.contains(r#"action="/regulator/sign-in""#));
                assert!(!html.contains("Secret trial title"), "{path}");
                assert!(!html.contains("table class=\"audit\""), "{path}");
                assert_eq!(reply.headers["cache-control"], "no-store");
            }
        }
    }
);

on_both!(
    a_regulator_signs_in_works_and_signs_out_and_every_form_needs_its_token,
    |t: TestApp| async move {
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let issuer = t.party(Role::Issuer, "Osaka Green Energy K.K.").await;
        let created = t
            .post(
                "/v1/trials",
                Some(&regulator.token),
                regulator.sign(json!({"type": "trial.create", "trial": {"title": "Osaka IFC ST green bond trial", "rulebook": V1}})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let trial = created.json()["trial"]["id"].as_str().unwrap().to_owned();

        // The sign-in page sets its own CSRF token (double submit).
        let signin = page(&t, "/regulator/", &[]).await;
        let (pre, header) = set_cookie(&signin, "midori_csrf").unwrap();
        assert!(header.contains("HttpOnly") && header.contains("SameSite=Strict"));
        assert_eq!(csrf_field(&signin.text()), pre);
        let pre_cookie = format!("midori_csrf={pre}");

        // Without the token, or with another one: refused, even with a good key.
        for fields in [
            vec![("api_key", regulator.token.as_str())],
            vec![("api_key", regulator.token.as_str()), ("csrf", "forged")],
        ] {
            let reply = form(
                &t,
                "/regulator/sign-in",
                &fields,
                &[("cookie", &pre_cookie)],
            )
            .await;
            assert_eq!(reply.status, 403);
            assert!(set_cookie(&reply, "midori_session").is_none());
        }
        // Another role's key, or an unknown one: not signed in.
        for key in [issuer.token.as_str(), "mdr_unknown"] {
            let reply = form(
                &t,
                "/regulator/sign-in",
                &[("api_key", key), ("csrf", &pre)],
                &[("cookie", &pre_cookie)],
            )
            .await;
            assert_eq!(reply.status, 401);
            assert!(set_cookie(&reply, "midori_session").is_none());
        }

        // The regulator's key: a session cookie that scripts cannot read and other sites
        // cannot send; Secure when the service is reached over TLS.
        let reply = form(
            &t,
            "/regulator/sign-in",
            &[("api_key", &regulator.token), ("csrf", &pre)],
            &[("cookie", &pre_cookie), ("x-forwarded-proto", "https")],
        )
        .await;
        assert_eq!(reply.status, 303, "{}", reply.text());
        let (session, header) = set_cookie(&reply, "midori_session").unwrap();
        for attribute in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(header.contains(attribute), "{header} lacks {attribute}");
        }
        let cookie = format!("midori_session={session}");

        let home = page(&t, "/regulator/", &[("cookie", &cookie)]).await;
        assert_eq!(home.status, 200);
        let html = home.text();
        assert!(html.contains("Osaka IFC ST green bond trial"));
        assert!(html.contains(&format!("/regulator/trials/{trial}")));
        // Its standing, from the state kept for it (no replay): active, nothing judged yet.
        assert!(
            html.contains(r#"<td class="status" data-status="active">Active</td>"#),
            "{html}"
        );
        assert_eq!(home.headers["cache-control"], "no-store");
        let csrf = csrf_field(&html);
        assert_ne!(csrf, pre, "the session has a token of its own");

        let report = page(
            &t,
            &format!("/regulator/trials/{trial}"),
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(report.status, 200, "{}", report.text());
        assert!(report.text().contains(r#"id="chart-outstanding""#));
        let audit = page(&t, "/regulator/audit", &[("cookie", &cookie)]).await;
        assert_eq!(audit.status, 200);
        assert!(
            audit.text().contains(r#"data-failed="0""#),
            "{}",
            audit.text()
        );

        // The replay form: refused without the session's token, answered with it.
        let replay = format!("/regulator/trials/{trial}/replay");
        for fields in [
            vec![("rulebook", "")],
            vec![("rulebook", ""), ("csrf", pre.as_str())],
        ] {
            let reply = form(&t, &replay, &fields, &[("cookie", &cookie)]).await;
            assert_eq!(reply.status, 403);
        }
        let replayed = form(
            &t,
            &replay,
            &[("rulebook", ""), ("csrf", &csrf)],
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(replayed.status, 200, "{}", replayed.text());
        assert!(replayed.text().contains(r#"data-consistent="true""#));
        let bad = form(
            &t,
            &replay,
            &[("rulebook", "not = [toml"), ("csrf", &csrf)],
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(bad.status, 422);

        // Sign out needs the token too; then the session is gone.
        let reply = form(&t, "/regulator/sign-out", &[], &[("cookie", &cookie)]).await;
        assert_eq!(reply.status, 403);
        let reply = form(
            &t,
            "/regulator/sign-out",
            &[("csrf", &csrf)],
            &[("cookie", &cookie)],
        )
        .await;
        assert_eq!(reply.status, 303);
        let (cleared, _) = set_cookie(&reply, "midori_session").unwrap();
        assert_eq!(cleared, "");
        let after = page(&t, "/regulator/", &[("cookie", &cookie)]).await;
        assert_eq!(after.status, 401);
        assert!(!after.text().contains("Osaka IFC ST green bond trial"));
    }
);

on_both!(
    revoking_the_api_key_ends_its_console_sessions,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let extra = t
            .post(
                &format!("/v1/parties/{}/api-keys", regulator.id),
                Some(&operator.token),
                json!({}),
            )
            .await
            .json();
        let key = extra["api_key"].as_str().unwrap();
        let signin = page(&t, "/regulator/", &[]).await;
        let (pre, _) = set_cookie(&signin, "midori_csrf").unwrap();
        let reply = form(
            &t,
            "/regulator/sign-in",
            &[("api_key", key), ("csrf", &pre)],
            &[("cookie", &format!("midori_csrf={pre}"))],
        )
        .await;
        let (session, _) = set_cookie(&reply, "midori_session").unwrap();
        let cookie = format!("midori_session={session}");
        assert_eq!(
            page(&t, "/regulator/audit", &[("cookie", &cookie)])
                .await
                .status,
            200
        );

        let revoked = t
            .send(
                Method::DELETE,
                &format!("/v1/api-keys/{}", extra["api_key_id"].as_str().unwrap()),
                Some(&operator.token),
                None,
            )
            .await;
        assert_eq!(revoked.status, 204);
        assert_eq!(
            page(&t, "/regulator/audit", &[("cookie", &cookie)])
                .await
                .status,
            401
        );
    }
);

on_both!(
    problems_keep_their_codes_and_speak_japanese_when_asked,
    |t: TestApp| async move {
        use midori::http::pages::i18n::Lang;
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let cases: Vec<(Request<Body>, &str)> = vec![
            (
                Request::get("/v1/bonds/0190a6c2-0000-7000-8000-000000000000")
                    .body(Body::empty())
                    .unwrap(),
                "not-found",
            ),
            (
                Request::get("/v1/parties").body(Body::empty()).unwrap(),
                "unauthenticated",
            ),
            (
                Request::get("/v1/bonds?limit=0")
                    .body(Body::empty())
                    .unwrap(),
                "bad-request",
            ),
            (
                Request::delete("/v1/bonds").body(Body::empty()).unwrap(),
                "method-not-allowed",
            ),
            (
                Request::post("/v1/parties")
                    .header("authorization", format!("Bearer {}", operator.token))
                    .header("content-type", "text/plain")
                    .body(Body::from("x"))
                    .unwrap(),
                "unsupported-media-type",
            ),
        ];
        for (request, slug) in cases {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1024).await.unwrap();
            let mut english = Request::from_parts(parts.clone(), Body::from(body.clone()));
            english
                .headers_mut()
                .insert("accept-language", "en".parse().unwrap());
            let en = t.raw(english).await;
            let en_body = en.problem(en.status.as_u16(), slug);
            assert_eq!(
                en_body["title"],
                Lang::En.t(&format!("problem.{slug}")),
                "en.toml says what the code says"
            );
            assert!(
                en.headers["vary"]
                    .to_str()
                    .unwrap()
                    .contains("accept-language")
            );

            let mut japanese = Request::from_parts(parts, Body::from(body));
            japanese
                .headers_mut()
                .insert("accept-language", "ja-JP,ja;q=0.9".parse().unwrap());
            let ja = t.raw(japanese).await;
            let ja_body = ja.problem(en.status.as_u16(), slug);
            assert_eq!(ja_body["title"], Lang::Ja.t(&format!("problem.{slug}")));
            assert_ne!(ja_body["title"], en_body["title"]);
            assert_eq!(
                ja_body["detail"], en_body["detail"],
                "detail and codes unchanged"
            );
            assert_eq!(ja.headers["content-language"], "ja");
        }
    }
);
