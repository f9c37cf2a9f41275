//! People: signup, login, access tokens, refresh-token rotation, sessions,
//! password changes, throttling.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use serde_json::{Value, json};
use tenantry::auth::jwt::{AccessClaims, Keyring};
use tenantry::clock::Clock;
use uuid::Uuid;

use crate::backends;
use crate::support::{PASSWORD, TestApp, with_credential};

backends!(
    signup_creates_a_person_a_tenant_and_a_session,
    signup_refuses_weak_passwords_bad_fields_and_taken_emails,
    derived_slugs_get_a_suffix_on_collision,
    login_failures_look_the_same_for_unknown_emails_and_wrong_passwords,
    login_lands_in_the_named_or_last_used_tenant,
    repeated_failures_are_throttled_with_retry_after,
    refresh_rotates_and_a_replay_within_the_grace_window_gets_the_same_pair,
    reusing_a_rotated_refresh_token_after_the_grace_window_ends_the_session,
    sessions_expire_when_idle_and_at_their_absolute_end,
    expired_and_tampered_access_tokens_are_refused,
    sessions_are_listed_and_ended_by_their_owner_only,
    logout_and_revocation_reach_other_instances_within_a_poll,
    changing_the_password_needs_the_current_one_and_ends_other_sessions,
    either_credential_works_on_tenant_resources_but_not_both,
    a_colleague_added_from_the_cli_signs_in_with_their_role,
    two_tabs_refreshing_at_the_same_moment_share_one_new_pair,
    a_rotated_signing_key_takes_over_while_old_tokens_still_verify,
);

async fn signup_creates_a_person_a_tenant_and_a_session(app: TestApp) {
    let ada = app.signup("ada").await;
    // The access token works on tenant resources, as the tenant's owner.
    let project = app.project(&ada.access, "Engine").await;
    let list = app.get("/v1/projects", &ada.access).await;
    assert_eq!(list.ok(200)["items"][0]["id"], project["id"]);
    let tenant = app.get("/v1/tenant", &ada.access).await;
    assert_eq!(tenant.ok(200)["id"], ada.tenant_id.to_string());

    let me = app.get("/v1/me", &ada.access).await;
    let me = me.ok(200);
    assert_eq!(me["user"]["email"], ada.email);
    assert_eq!(me["user"]["id"], ada.user_id.to_string());
    assert_eq!(me["tenant_id"], ada.tenant_id.to_string());
    assert_eq!(me["session_id"], ada.session_id.to_string());
    assert_eq!(me["memberships"].as_array().map(Vec::len), Some(1));
    assert_eq!(me["memberships"][0]["role"], "owner");
    assert_eq!(me["memberships"][0]["tenant"]["slug"], ada.tenant_slug);
    assert!(me["user"].get("password_hash").is_none());

    // The email is stored lowercase: a login in any case finds it.
    let upper = ada.email.to_uppercase();
    app.login(&upper, PASSWORD, None).await.ok(200);
}

async fn signup_refuses_weak_passwords_bad_fields_and_taken_emails(app: TestApp) {
    let weak = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({"email": "nope", "password": "password123", "name": "", "tenant_name": "T", "tenant_slug": "-x-"})),
        )
        .await;
    weak.problem(422, "validation_failed");
    assert_eq!(weak.fields(), ["email", "name", "password", "tenant_slug"]);

    for (password, code) in [("short", "too_short"), ("qwertyuiop123", "too_weak")] {
        let r = app
            .call(
                "POST",
                "/v1/auth/signup",
                None,
                Some(&json!({"email": "e@example.com", "password": password, "name": "E", "tenant_name": "T"})),
            )
            .await;
        r.problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["code"], code, "{password}: {}", r.body);
    }
    // A password built from the person's own email is refused too.
    let r = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({"email": "zorblatt.quimby@example.com", "password": "zorblatt.quimby1987", "name": "Z", "tenant_name": "T"})),
        )
        .await;
    r.problem(422, "validation_failed");

    let ada = app.signup("ada").await;
    let again = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({"email": ada.email.to_uppercase(), "password": PASSWORD, "name": "Ada", "tenant_name": "Other"})),
        )
        .await;
    again.problem(409, "conflict");
    // A taken slug named explicitly is a conflict too, and nothing was written.
    let taken = app
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(&json!({"email": "new@example.com", "password": PASSWORD, "name": "N", "tenant_name": "T", "tenant_slug": ada.tenant_slug})),
        )
        .await;
    taken.problem(409, "conflict");
    app.login("new@example.com", PASSWORD, None)
        .await
        .problem(401, "unauthenticated");
}

async fn derived_slugs_get_a_suffix_on_collision(app: TestApp) {
    let body =
        |email: &str| json!({"email": email, "password": PASSWORD, "name": "N", "tenant_name": "Blue Whale Co."});
    let first = app
        .call("POST", "/v1/auth/signup", None, Some(&body("a@example.com")))
        .await;
    assert_eq!(first.ok(201)["tenant"]["slug"], "blue-whale-co");
    let second = app
        .call("POST", "/v1/auth/signup", None, Some(&body("b@example.com")))
        .await;
    assert_eq!(second.ok(201)["tenant"]["slug"], "blue-whale-co-2");
    assert_eq!(second.body["tenant"]["name"], "Blue Whale Co.");
}

async fn login_failures_look_the_same_for_unknown_emails_and_wrong_passwords(app: TestApp) {
    let ada = app.signup("ada").await;
    let wrong = app.login(&ada.email, "not-the-password-at-all", None).await;
    let unknown = app.login("nobody@example.com", PASSWORD, None).await;
    wrong.problem(401, "unauthenticated");
    unknown.problem(401, "unauthenticated");
    assert_eq!(wrong.body, unknown.body);
    let missing = app.call("POST", "/v1/auth/login", None, Some(&json!({}))).await;
    missing.problem(422, "validation_failed");
    assert_eq!(missing.fields(), ["email", "password"]);
}

async fn login_lands_in_the_named_or_last_used_tenant(app: TestApp) {
    let ada = app.signup("ada").await;
    let by_slug = app.login(&ada.email, PASSWORD, Some(&ada.tenant_slug)).await;
    assert_eq!(by_slug.ok(200)["tenant"]["id"], ada.tenant_id.to_string());
    assert_eq!(by_slug.body["role"], "owner");
    assert_eq!(by_slug.body["token_type"], "Bearer");
    assert!(by_slug.body["expires_in"].as_i64().is_some_and(|s| s > 0 && s <= 900));
    let by_id = app.login(&ada.email, PASSWORD, Some(&ada.tenant_id.to_string())).await;
    assert_eq!(by_id.ok(200)["tenant"]["slug"], ada.tenant_slug);
    // A tenant they do not belong to is not found, whether or not it exists.
    let bob = app.signup("bob").await;
    app.login(&ada.email, PASSWORD, Some(&bob.tenant_slug))
        .await
        .problem(404, "not_found");
    app.login(&ada.email, PASSWORD, Some("no-such-tenant"))
        .await
        .problem(404, "not_found");
}

async fn repeated_failures_are_throttled_with_retry_after(app: TestApp) {
    let ada = app.signup("ada").await;
    for _ in 0..5 {
        app.login(&ada.email, "wrong-password-0000", None)
            .await
            .problem(401, "unauthenticated");
    }
    // The sixth failure locks the account for a second; then it doubles.
    app.login(&ada.email, "wrong-password-0000", None)
        .await
        .problem(401, "unauthenticated");
    let locked = app.login(&ada.email, PASSWORD, None).await;
    locked.problem(429, "too_many_requests");
    assert_eq!(
        locked.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    app.clock.advance(Duration::seconds(1));
    app.login(&ada.email, "wrong-password-0000", None)
        .await
        .problem(401, "unauthenticated");
    let locked = app.login(&ada.email, PASSWORD, None).await;
    locked.problem(429, "too_many_requests");
    assert_eq!(
        locked.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("2")
    );
    app.clock.advance(Duration::seconds(2));
    // The right password after the wait gets in, and clears the count.
    app.login(&ada.email, PASSWORD, None).await.ok(200);
    app.login(&ada.email, "wrong-password-0000", None)
        .await
        .problem(401, "unauthenticated");
}

async fn refresh_rotates_and_a_replay_within_the_grace_window_gets_the_same_pair(app: TestApp) {
    let mut ada = app.signup("ada").await;
    let first = ada.refresh.clone();
    app.clock.advance(Duration::minutes(20));
    // The access token expired; the refresh token gets a new pair.
    app.get("/v1/projects", &ada.access)
        .await
        .problem(401, "unauthenticated");
    let renewed = app.refresh(&first).await;
    let renewed = renewed.ok(200).clone();
    assert_ne!(renewed["refresh_token"], first.as_str());
    assert_eq!(renewed["session_id"], ada.session_id.to_string());
    // A second tab refreshing with the same token within the window gets
    // the same refresh token and a working access token.
    app.clock.advance(Duration::seconds(9));
    let tab = app.refresh(&first).await;
    let tab = tab.ok(200).clone();
    assert_eq!(tab["refresh_token"], renewed["refresh_token"]);
    assert_eq!(tab["session_id"], renewed["session_id"]);
    app.get("/v1/projects", tab["access_token"].as_str().unwrap_or_default())
        .await
        .ok(200);
    ada.renew(&renewed);
    app.get("/v1/projects", &ada.access).await.ok(200);
    // The family goes on.
    let next = app.refresh(&ada.refresh).await;
    assert_ne!(next.ok(200)["refresh_token"], renewed["refresh_token"]);
    // Garbage is refused without a lookup.
    app.refresh("tnr_not-a-token").await.problem(401, "unauthenticated");
    app.refresh("").await.problem(422, "validation_failed");
}

async fn reusing_a_rotated_refresh_token_after_the_grace_window_ends_the_session(app: TestApp) {
    let mut ada = app.signup("ada").await;
    let stolen = ada.refresh.clone();
    let renewed = app.refresh(&stolen).await.ok(200).clone();
    ada.renew(&renewed);
    app.clock.advance(Duration::seconds(11));
    let reuse = app.refresh(&stolen).await;
    reuse.problem(401, "unauthenticated");
    assert!(
        reuse.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("already used")
    );
    // The whole family is gone: the current refresh token and access token too.
    app.refresh(&ada.refresh).await.problem(401, "unauthenticated");
    app.get("/v1/projects", &ada.access)
        .await
        .problem(401, "unauthenticated");
    // Other sessions of the person are untouched.
    let other = app.login(&ada.email, PASSWORD, None).await.ok(200).clone();
    app.get("/v1/projects", other["access_token"].as_str().unwrap_or_default())
        .await
        .ok(200);
}

async fn sessions_expire_when_idle_and_at_their_absolute_end(app: TestApp) {
    let ada = app.signup("ada").await;
    // Idle: 30 days without a refresh.
    app.clock.advance(Duration::days(30) + Duration::seconds(1));
    app.refresh(&ada.refresh).await.problem(401, "unauthenticated");

    // Absolute: refreshed every 20 days, still ends after 90.
    let mut session = app.login(&ada.email, PASSWORD, None).await.ok(200).clone();
    for _ in 0..4 {
        app.clock.advance(Duration::days(20));
        session = app
            .refresh(session["refresh_token"].as_str().unwrap_or_default())
            .await
            .ok(200)
            .clone();
    }
    app.clock.advance(Duration::days(10) + Duration::seconds(1));
    let ended = app.refresh(session["refresh_token"].as_str().unwrap_or_default()).await;
    ended.problem(401, "unauthenticated");
    assert!(ended.body["detail"].as_str().unwrap_or_default().contains("expired"));
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn parts(token: &str) -> (Value, Value, String) {
    let mut it = token.split('.');
    let mut decode = || {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(it.next().unwrap_or_default())
                .unwrap_or_default(),
        )
        .unwrap_or(Value::Null)
    };
    let header = decode();
    let claims = decode();
    (header, claims, token.rsplit('.').next().unwrap_or_default().to_owned())
}

async fn expired_and_tampered_access_tokens_are_refused(app: TestApp) {
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (header, claims, signature) = parts(&ada.access);
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    let refused = |r: &crate::support::Resp| {
        r.problem(401, "unauthenticated");
    };

    // Claims changed (another tenant), signature kept.
    let mut forged = claims.clone();
    forged["tid"] = bob.tenant_id.to_string().into();
    let token = format!("{}.{}.{signature}", b64(&header), b64(&forged));
    refused(&app.get("/v1/projects", &token).await);

    // `alg: none`, no signature.
    let none = json!({"alg": "none", "typ": "JWT", "kid": header["kid"]});
    refused(
        &app.get("/v1/projects", &format!("{}.{}.", b64(&none), b64(&claims)))
            .await,
    );

    // Signed by another key that claims the server's kid.
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other = Keyring::load_or_create(other_dir.path(), app.clock.now()).expect("keyring");
    let theirs: AccessClaims = serde_json::from_value(claims.clone()).expect("claims parse");
    let foreign = other.sign(&theirs).expect("signed");
    let (_, _, foreign_sig) = parts(&foreign);
    refused(
        &app.get(
            "/v1/projects",
            &format!("{}.{}.{foreign_sig}", b64(&header), b64(&claims)),
        )
        .await,
    );
    // … and with its own, unknown kid.
    refused(&app.get("/v1/projects", &foreign).await);

    // Signed by the server's own key but for another audience or issuer.
    for (field, value) in [("aud", "another-api"), ("iss", "someone-else")] {
        let mut claims: AccessClaims = serde_json::from_value(claims.clone()).expect("claims parse");
        match field {
            "aud" => claims.aud = value.to_owned(),
            _ => claims.iss = value.to_owned(),
        }
        let token = app.state.auth.keyring.sign(&claims).expect("signed");
        let r = app.get("/v1/projects", &token).await;
        refused(&r);
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(if field == "aud" { "audience" } else { "issuer" }),
            "{}",
            r.body
        );
    }

    // Not a JWT at all.
    refused(&app.get("/v1/projects", "eyJnot.a.token").await);

    // Expired: 15 minutes at most.
    app.get("/v1/projects", &ada.access).await.ok(200);
    app.clock.advance(Duration::minutes(15));
    let expired = app.get("/v1/projects", &ada.access).await;
    refused(&expired);
    assert!(expired.body["detail"].as_str().unwrap_or_default().contains("expired"));
}

async fn sessions_are_listed_and_ended_by_their_owner_only(app: TestApp) {
    let ada = app.signup("ada").await;
    let phone = app
        .send(
            app.http
                .post(app.url("/v1/auth/login"))
                .header("User-Agent", "TenantryPhone/1.0")
                .json(&json!({"email": ada.email, "password": PASSWORD})),
        )
        .await
        .ok(200)
        .clone();
    let phone_access = phone["access_token"].as_str().unwrap_or_default().to_owned();
    let list = app.get("/v1/auth/sessions", &ada.access).await.ok(200).clone();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    // Newest first; the current one is marked.
    assert_eq!(items[0]["id"], phone["session_id"]);
    assert_eq!(items[0]["user_agent"], "TenantryPhone/1.0");
    assert_eq!(items[0]["current"], false);
    assert_eq!(items[1]["id"], ada.session_id.to_string());
    assert_eq!(items[1]["current"], true);

    // Another person cannot see or end Ada's sessions: a 404.
    let bob = app.signup("bob").await;
    let bob_list = app.get("/v1/auth/sessions", &bob.access).await.ok(200).clone();
    assert_eq!(bob_list["items"].as_array().map(Vec::len), Some(1));
    let path = format!("/v1/auth/sessions/{}", phone["session_id"].as_str().unwrap_or_default());
    app.delete(&path, &bob.access).await.problem(404, "not_found");
    app.get("/v1/projects", &phone_access).await.ok(200);
    // API keys have no sessions.
    let key = app.tenant("keys").await.key;
    app.get("/v1/auth/sessions", &key).await.problem(401, "unauthenticated");

    // Ada ends the phone's session: its access token stops at once.
    assert_eq!(app.delete(&path, &ada.access).await.status, 204);
    app.get("/v1/projects", &phone_access)
        .await
        .problem(401, "unauthenticated");
    app.refresh(phone["refresh_token"].as_str().unwrap_or_default())
        .await
        .problem(401, "unauthenticated");
    app.delete(&path, &ada.access).await.problem(404, "not_found");
    app.delete(&format!("/v1/auth/sessions/{}", Uuid::new_v4()), &ada.access)
        .await
        .problem(404, "not_found");

    // Revoke every other session.
    let laptop = app.login(&ada.email, PASSWORD, None).await.ok(200).clone();
    let laptop_access = laptop["access_token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        app.post("/v1/auth/sessions/revoke-others", &ada.access, json!({}))
            .await
            .status,
        204
    );
    app.get("/v1/projects", &laptop_access)
        .await
        .problem(401, "unauthenticated");
    app.get("/v1/projects", &ada.access).await.ok(200);
    let list = app.get("/v1/auth/sessions", &ada.access).await.ok(200).clone();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}

async fn logout_and_revocation_reach_other_instances_within_a_poll(app: TestApp) {
    let ada = app.signup("ada").await;
    let other = app.sibling().await;
    let on_other = |token: &str| {
        let req = with_credential(app.http.get(format!("{}/v1/projects", other.base)), token);
        app.send(req)
    };
    assert_eq!(on_other(&ada.access).await.status, 200);
    assert_eq!(
        app.call("POST", "/v1/auth/logout", Some(&ada.access), None)
            .await
            .status,
        204
    );
    // This instance refuses at once; the other after its next poll (every 500 ms).
    app.get("/v1/projects", &ada.access)
        .await
        .problem(401, "unauthenticated");
    other.state.poll_revocations().await;
    on_other(&ada.access).await.problem(401, "unauthenticated");
    app.refresh(&ada.refresh).await.problem(401, "unauthenticated");
}

async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(app: TestApp) {
    let ada = app.signup("ada").await;
    let phone = app.login(&ada.email, PASSWORD, None).await.ok(200).clone();
    let change = |current: &str, new: &str| {
        app.post(
            "/v1/auth/password",
            &ada.access,
            json!({"current_password": current, "new_password": new}),
        )
    };
    change("wrong-password-0000", "a-much-better-passphrase-7")
        .await
        .problem(403, "forbidden");
    let weak = change(PASSWORD, "password1234").await;
    weak.problem(422, "validation_failed");
    assert_eq!(weak.fields(), ["new_password"]);
    assert_eq!(change(PASSWORD, "a-much-better-passphrase-7").await.status, 204);
    // Other sessions ended; this one goes on.
    app.get("/v1/projects", phone["access_token"].as_str().unwrap_or_default())
        .await
        .problem(401, "unauthenticated");
    app.get("/v1/projects", &ada.access).await.ok(200);
    app.login(&ada.email, PASSWORD, None)
        .await
        .problem(401, "unauthenticated");
    app.login(&ada.email, "a-much-better-passphrase-7", None).await.ok(200);
}

async fn either_credential_works_on_tenant_resources_but_not_both(app: TestApp) {
    let ada = app.signup("ada").await;
    let t = app.tenant("keys").await;
    let both = app
        .send(
            app.http
                .get(app.url("/v1/projects"))
                .bearer_auth(&ada.access)
                .header("X-API-Key", &t.key),
        )
        .await;
    both.problem(400, "bad_request");
    let none = app.call("GET", "/v1/projects", None, None).await;
    none.problem(401, "unauthenticated");
    let challenge = none
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        challenge.contains("Bearer") && challenge.contains("X-API-Key"),
        "{challenge}"
    );
    // A key's tenant and a person's tenant stay apart.
    let p = app.project(&t.key, "keyed").await;
    let path = format!("/v1/projects/{}", p["id"].as_str().unwrap_or_default());
    app.get(&path, &ada.access).await.problem(404, "not_found");
    // Person-only operations refuse keys.
    app.get("/v1/me", &t.key).await.problem(401, "unauthenticated");
}

async fn a_colleague_added_from_the_cli_signs_in_with_their_role(app: TestApp) {
    let ada = app.signup("ada").await;
    let out = app.cli(
        &[
            "user",
            "create",
            "--email",
            "Grace@Example.com",
            "--password-stdin",
            "--name",
            "Grace",
            "--tenant",
            &ada.tenant_slug,
            "--role",
            "viewer",
        ],
        "navy-compiler-moth-1947\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(created["email"], "grace@example.com");
    assert_eq!(created["role"], "viewer");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("navy-compiler"),
        "the password is never printed"
    );

    // The same email again is refused; so is a weak password (exit 2).
    let again = app.cli(
        &["user", "create", "--email", "grace@example.com", "--password-stdin"],
        "navy-compiler-moth-1947\n",
    );
    assert_eq!(
        again.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let weak = app.cli(
        &["user", "create", "--email", "weak@example.com", "--password-stdin"],
        "password\n",
    );
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password"));

    // Grace signs in to Ada's tenant as a viewer: she reads, she cannot write.
    app.project(&ada.access, "Shared").await;
    let grace = app
        .login("grace@example.com", "navy-compiler-moth-1947", None)
        .await
        .ok(200)
        .clone();
    assert_eq!(grace["role"], "viewer");
    assert_eq!(grace["tenant"]["id"], ada.tenant_id.to_string());
    let token = grace["access_token"].as_str().unwrap_or_default();
    assert_eq!(
        app.get("/v1/projects", token).await.ok(200)["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    app.post("/v1/projects", token, json!({"name": "nope"}))
        .await
        .problem(403, "forbidden");
    app.get("/v1/api-keys", token).await.problem(403, "forbidden");
}

async fn two_tabs_refreshing_at_the_same_moment_share_one_new_pair(app: TestApp) {
    let ada = app.signup("ada").await;
    let (a, b) = tokio::join!(app.refresh(&ada.refresh), app.refresh(&ada.refresh));
    let (a, b) = (a.ok(200).clone(), b.ok(200).clone());
    assert_eq!(
        a["refresh_token"], b["refresh_token"],
        "both tabs hold the same new refresh token"
    );
    assert_eq!(a["session_id"], b["session_id"]);
    for token in [&a["access_token"], &b["access_token"]] {
        app.get("/v1/projects", token.as_str().unwrap_or_default())
            .await
            .ok(200);
    }
    // The family goes on from the shared token, well after the window.
    app.clock.advance(Duration::seconds(11));
    let next = app.refresh(a["refresh_token"].as_str().unwrap_or_default()).await;
    app.get(
        "/v1/projects",
        next.ok(200)["access_token"].as_str().unwrap_or_default(),
    )
    .await
    .ok(200);
}

async fn a_rotated_signing_key_takes_over_while_old_tokens_still_verify(app: TestApp) {
    let ada = app.signup("ada").await;
    let (old_header, _, _) = parts(&ada.access);
    let out = app.cli(&["jwt-keys", "rotate"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rotated: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let new_kid = rotated["new_kid"].as_str().unwrap_or_default().to_owned();
    assert_ne!(new_kid, old_header["kid"].as_str().unwrap_or_default());
    app.state.auth.keyring.reload(app.clock.now()).expect("reload");
    // Published but not yet signing: tokens still come from the old key.
    let now_token = app.login(&ada.email, PASSWORD, None).await.ok(200).clone();
    let (h, _, _) = parts(now_token["access_token"].as_str().unwrap_or_default());
    assert_eq!(h["kid"], old_header["kid"]);
    // A minute later the new key signs, and the old key's tokens still verify.
    app.clock.advance(Duration::seconds(61));
    let later = app.login(&ada.email, PASSWORD, None).await.ok(200).clone();
    let later_token = later["access_token"].as_str().unwrap_or_default().to_owned();
    let (h, _, _) = parts(&later_token);
    assert_eq!(h["kid"], new_kid.as_str());
    app.get("/v1/projects", &later_token).await.ok(200);
    app.get("/v1/projects", now_token["access_token"].as_str().unwrap_or_default())
        .await
        .ok(200);
}
