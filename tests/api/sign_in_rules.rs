//! The rules on what a person sends to sign up or in, checked before any
//! expensive work: one character rule for every password (no NUL, 10 to
//! 1,024 characters) wherever one is taken, limits before argon2 or the
//! throttle, signup limits per address and per email, and one credential
//! header of each kind.

use serde_json::json;

use crate::backends;
use crate::support::{PASSWORD, TestApp};

backends!(
    a_password_with_a_nul_is_refused_wherever_a_password_is_taken,
    oversized_fields_are_refused_before_any_password_work,
    a_credential_header_sent_twice_is_a_400,
);

async fn a_password_with_a_nul_is_refused_wherever_a_password_is_taken(app: TestApp) {
    let with_nul = "plum-orbit\0lantern-47";
    let signup = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({"email": "nul@example.com", "password": with_nul, "name": "N", "tenant_name": "T"})),
        )
        .await;
    signup.problem(422, "validation_failed");
    assert_eq!(signup.fields(), ["password"]);
    assert_eq!(signup.body["errors"][0]["code"], "invalid");
    // Nothing was created: the address is still free.
    app.call(
        "POST",
        "/v1/auth/signup",
        None,
        Some(&json!({"email": "nul@example.com", "password": PASSWORD, "name": "N", "tenant_name": "T"})),
    )
    .await
    .ok(201);
    let ada = app.signup("ada").await;
    let login = app.login(&ada.email, with_nul, None).await;
    login.problem(422, "validation_failed");
    assert_eq!(login.fields(), ["password"]);
    for body in [
        json!({"current_password": with_nul, "new_password": "a-much-better-passphrase-7"}),
        json!({"current_password": PASSWORD, "new_password": with_nul}),
    ] {
        let r = app.post("/v1/auth/password", &ada.access, body).await;
        r.problem(422, "validation_failed");
    }
    // Sign-in takes any password the rule allows, without the strength
    // check: a short one is a 422, a weak one only a wrong password.
    app.login(&ada.email, "short", None)
        .await
        .problem(422, "validation_failed");
    app.login(&ada.email, "password1234", None)
        .await
        .problem(401, "unauthenticated");
    app.login(&ada.email, PASSWORD, None).await.ok(200);
}

async fn oversized_fields_are_refused_before_any_password_work(app: TestApp) {
    let ada = app.signup("ada").await;
    let argon2_runs = || app.state.auth.passwords.runs();
    let before = argon2_runs();
    // A taken email is answered before the password is hashed.
    app.call(
        "POST",
        "/v1/auth/signup",
        None,
        Some(&json!({"email": ada.email, "password": PASSWORD, "name": "Ada", "tenant_name": "Again"})),
    )
    .await
    .problem(409, "conflict");
    // Far more oversized attempts than the throttle forgives: none counts.
    let long_tenant = "t".repeat(10_000);
    let long_password = "p".repeat(1025);
    for _ in 0..25 {
        let r = app.login(&ada.email, PASSWORD, Some(&long_tenant)).await;
        r.problem(422, "validation_failed");
        assert_eq!(r.fields(), ["tenant"]);
        let r = app
            .post(
                "/v1/auth/password",
                &ada.access,
                json!({"current_password": long_password, "new_password": "a-much-better-passphrase-7"}),
            )
            .await;
        r.problem(422, "validation_failed");
        assert_eq!(r.fields(), ["current_password"]);
    }
    assert_eq!(argon2_runs(), before, "no password was hashed or checked");
    app.login(&ada.email, PASSWORD, Some(&ada.tenant_slug)).await.ok(200);
    assert_eq!(argon2_runs(), before + 1);
    let changed = app
        .post(
            "/v1/auth/password",
            &ada.access,
            json!({"current_password": PASSWORD, "new_password": "a-much-better-passphrase-7"}),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
}

async fn a_credential_header_sent_twice_is_a_400(app: TestApp) {
    let a = app.tenant("alpha").await;
    let d = app.tenant("delta").await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let twice_key = app
        .send(
            app.http
                .get(app.url("/v1/tenant"))
                .header("X-API-Key", &d.key)
                .header("X-API-Key", &a.key),
        )
        .await;
    twice_key.problem(400, "bad_request");
    for path in ["/v1/tenant", "/v1/me"] {
        let twice_bearer = app
            .send(
                app.http
                    .get(app.url(path))
                    .header("Authorization", format!("Bearer {}", bob.access))
                    .header("Authorization", format!("Bearer {}", ada.access)),
            )
            .await;
        twice_bearer.problem(400, "bad_request");
    }
    // Whatever the first one holds, on operations only people may call too.
    for path in ["/v1/me", "/v1/tenant"] {
        let r = app
            .send(
                app.http
                    .get(app.url(path))
                    .header("Authorization", "Basic YTpi")
                    .header("Authorization", format!("Bearer {}", ada.access)),
            )
            .await;
        r.problem(400, "bad_request");
    }
    // The same key twice is refused as well: the rule is about the header.
    app.send(
        app.http
            .get(app.url("/v1/api-keys/current"))
            .header("X-API-Key", &a.key)
            .header("X-API-Key", &a.key),
    )
    .await
    .problem(400, "bad_request");
    app.get("/v1/tenant", &a.key).await.ok(200);
    app.get("/v1/me", &ada.access).await.ok(200);
}

async fn signups_are_limited_per_address_and_per_email(app: TestApp) {
    let app = &app;
    let signup = |email: String| {
        let body = json!({"email": email, "password": PASSWORD, "name": "N", "tenant_name": "T"});
        async move { app.call("POST", "/v1/auth/signup", None, Some(&body)).await }
    };
    // Three attempts for one email in an hour (a taken email counts too).
    signup("ada@example.com".to_owned()).await.ok(201);
    signup("ADA@example.com".to_owned()).await.problem(409, "conflict");
    signup("ada@example.com".to_owned()).await.problem(409, "conflict");
    let limited = signup("ada@example.com".to_owned()).await;
    limited.problem(429, "too_many_requests");
    let retry: u64 = limited
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((3500..=3600).contains(&retry), "{retry}");
    // Invalid input is answered before the limit and does not count.
    let invalid = json!({"email": "x@example.com", "password": "short", "name": "N", "tenant_name": "T"});
    for _ in 0..20 {
        app.call("POST", "/v1/auth/signup", None, Some(&invalid))
            .await
            .problem(422, "validation_failed");
    }
    // Ten attempts per address: three so far, seven more pass, then 429.
    for i in 0..7 {
        signup(format!("p{i}@example.com")).await.ok(201);
    }
    signup("p7@example.com".to_owned())
        .await
        .problem(429, "too_many_requests");
    // An hour later both limits have room again.
    app.clock.advance(chrono::Duration::minutes(61));
    signup("p7@example.com".to_owned()).await.ok(201);
    signup("ada@example.com".to_owned()).await.problem(409, "conflict");
}

const DEFAULT_LIMITS: &str = "address=10,email=3";

#[tokio::test]
async fn signups_are_limited_per_address_and_per_email_on_sqlite() {
    let app = TestApp::spawn_sqlite_with(&[("TENANTRY_SIGNUP_LIMIT", DEFAULT_LIMITS.to_owned())]).await;
    signups_are_limited_per_address_and_per_email(app).await;
}

#[tokio::test]
async fn signups_are_limited_per_address_and_per_email_on_postgres() {
    let Some(app) = TestApp::spawn_postgres_with(&[("TENANTRY_SIGNUP_LIMIT", DEFAULT_LIMITS.to_owned())]).await else {
        return;
    };
    signups_are_limited_per_address_and_per_email(app).await;
}
