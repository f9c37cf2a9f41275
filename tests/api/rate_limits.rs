//! Request budgets: one per tenant, shared by all its keys and people; one
//! per client address for the operations no credential opens; the
//! `RateLimit` headers on the way; `X-Forwarded-For` believed only from a
//! trusted proxy. In process on both backends, and in Redis (shared by
//! every instance, counted in process while Redis is away).

use chrono::Duration;
use serde_json::json;

use crate::support::{Resp, TestApp, redis_settings, with_credential};

fn header<'a>(resp: &'a Resp, name: &str) -> &'a str {
    resp.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no `{name}` on a {}: {}", resp.status, resp.body))
}

/// The `r` of a `RateLimit` header.
fn remaining(resp: &Resp) -> u64 {
    let value = header(resp, "ratelimit");
    value
        .split(';')
        .find_map(|p| p.trim().strip_prefix("r="))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no remaining count in `{value}`"))
}

#[track_caller]
fn assert_limited(resp: &Resp, budget: &str) {
    resp.problem(429, "rate_limited");
    let retry: u64 = header(resp, "retry-after").parse().expect("whole seconds");
    assert!((1..=12).contains(&retry), "one request in 12 s comes back: {retry}");
    assert!(header(resp, "ratelimit-policy").starts_with(&format!("\"{budget}\";q=5;w=60")));
    assert_eq!(remaining(resp), 0);
}

/// `None` only where the PostgreSQL tests may be skipped (see
/// `support::postgres`).
async fn spawn(sqlite: bool, extra: &[(&str, String)]) -> Option<TestApp> {
    if sqlite {
        Some(TestApp::spawn_sqlite_with(extra).await)
    } else {
        TestApp::spawn_postgres_with(extra).await
    }
}

/// Two keys and a person of one tenant draw on one budget of 5 a minute;
/// another tenant's is its own; 401 comes before 429; a spent budget
/// refuses before the body is read (429 before 400), and comes back one
/// request per 12 s.
async fn a_tenants_keys_and_people_share_one_budget(sqlite: bool) {
    let Some(app) = spawn(sqlite, &[("TENANTRY_RATE_LIMIT", "5/min".to_owned())]).await else {
        return;
    };
    let a = app.tenant("budget").await;
    let second_key = app.key_with(&a, &[tenantry::access::Scope::ProjectsRead]).await;
    let person = app.person_in(&a.slug, tenantry::access::Role::Member).await;
    let b = app.tenant("other").await;

    let mut left = Vec::new();
    for credential in [&a.key, &second_key, &person.access, &a.key, &second_key] {
        let resp = app.get("/v1/projects", credential).await;
        resp.ok(200);
        assert_eq!(header(&resp, "ratelimit-policy"), "\"tenant\";q=5;w=60");
        left.push(remaining(&resp));
    }
    assert_eq!(left, [4, 3, 2, 1, 0], "one budget, whichever credential");
    for credential in [&a.key, &second_key, &person.access] {
        assert_limited(&app.get("/v1/projects", credential).await, "tenant");
    }
    // Refused before the body is parsed, after the credential is checked.
    let malformed = app
        .send(
            with_credential(app.http.post(app.url("/v1/projects")), &a.key)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_limited(&malformed, "tenant");
    app.get("/v1/projects", "tnt_unknownunknownunknownunknown00")
        .await
        .problem(401, "unauthenticated");
    // Another tenant is untouched.
    let other = app.get("/v1/projects", &b.key).await;
    other.ok(200);
    assert_eq!(remaining(&other), 4);

    // One request comes back every 12 s (in process, on the test's clock).
    app.clock.advance(Duration::seconds(12));
    app.get("/v1/projects", &second_key).await.ok(200);
    assert_limited(&app.get("/v1/projects", &a.key).await, "tenant");
}

/// The operations no credential opens share a budget per client address:
/// failed sign-ins spend it as much as good ones. `X-Forwarded-For` is
/// ignored from an untrusted peer; from a trusted proxy its rightmost
/// untrusted entry is the client, and entries forged to its left change
/// nothing.
async fn the_anonymous_budget_is_per_client_address(sqlite: bool) {
    let login = |app: &TestApp, forwarded: Option<&str>, n: usize| {
        let mut req = app.http.post(app.url("/v1/auth/login")).json(&json!({
            "email": format!("nobody{n}@example.com"),
            "password": "not-the-password-0000",
        }));
        if let Some(forwarded) = forwarded {
            req = req.header("x-forwarded-for", forwarded);
        }
        req
    };
    let Some(direct) = spawn(sqlite, &[("TENANTRY_RATE_LIMIT_ANONYMOUS", "5/min".to_owned())]).await else {
        return;
    };
    for n in 0..5 {
        let resp = direct.send(login(&direct, None, n)).await;
        resp.problem(401, "unauthenticated");
        assert_eq!(header(&resp, "ratelimit-policy"), "\"address\";q=5;w=60");
        assert_eq!(remaining(&resp), 4 - n as u64);
    }
    assert_limited(&direct.send(login(&direct, None, 5)).await, "address");
    // A header of the client's own choosing buys nothing.
    assert_limited(&direct.send(login(&direct, Some("198.51.100.7"), 6)).await, "address");
    let signup = direct
        .send(
            direct
                .http
                .post(direct.url("/v1/auth/signup"))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_limited(&signup, "address");

    let Some(proxied) = spawn(
        sqlite,
        &[
            ("TENANTRY_RATE_LIMIT_ANONYMOUS", "5/min".to_owned()),
            ("TENANTRY_TRUSTED_PROXIES", "127.0.0.0/8, ::1".to_owned()),
        ],
    )
    .await
    else {
        return;
    };
    for n in 0..5 {
        // Whatever the client put before the proxy's entry.
        let forwarded = format!("203.0.113.{n}, 198.51.100.7");
        proxied
            .send(login(&proxied, Some(&forwarded), n))
            .await
            .problem(401, "unauthenticated");
    }
    assert_limited(
        &proxied.send(login(&proxied, Some("1.1.1.1, 198.51.100.7"), 5)).await,
        "address",
    );
    let other = proxied.send(login(&proxied, Some("198.51.100.8"), 6)).await;
    other.problem(401, "unauthenticated");
    assert_eq!(remaining(&other), 4, "another client behind the proxy");
    // The proxy itself (no header) is a client of its own.
    let itself = proxied.send(login(&proxied, None, 7)).await;
    assert_eq!(remaining(&itself), 4);
}

/// The `r` of each budget in a `RateLimit` header, by name.
fn standings(resp: &Resp) -> Vec<(String, u64)> {
    header(resp, "ratelimit")
        .split(',')
        .map(|item| {
            let mut parts = item.trim().split(';');
            let name = parts.next().unwrap_or_default().trim_matches('"').to_owned();
            let r = parts
                .find_map(|p| p.strip_prefix("r="))
                .and_then(|r| r.parse().ok())
                .unwrap_or_else(|| panic!("no remaining count in `{item}`"));
            (name, r)
        })
        .collect()
}

/// Waits (up to 5 s; every instance reads a new plan within about one)
/// until a request of the tenant's shows `policy`, or no policy at all for
/// `None`; returns that response.
async fn until_policy(app: &TestApp, key: &str, policy: Option<&str>) -> Resp {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let resp = app.get("/v1/tenant", key).await;
        let shown = resp.headers.get("ratelimit-policy").and_then(|v| v.to_str().ok());
        if shown == policy {
            resp.ok(200);
            return resp;
        }
        // Refused by the old budgets, until the new ones apply.
        assert!(
            resp.status == 200 || resp.status == 429,
            "{}: {}",
            resp.status,
            resp.body
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the policy is still {shown:?}, not {policy:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A tenant's plan sets its budgets: the operator puts it on one
/// (`tenant update --plan`, checked against the configuration's plans),
/// every instance applies it within its next poll, the tenant resource
/// shows it, and a plan's budget per credential holds each key and person
/// within the tenant's. Another tenant keeps the default.
async fn a_plan_sets_the_tenants_budgets(sqlite: bool) {
    let plans = [
        ("TENANTRY_RATE_LIMIT", "1000/min".to_owned()),
        ("TENANTRY_PLANS__SMALL__RATE_LIMIT", "5/min".to_owned()),
        ("TENANTRY_PLANS__SMALL__CREDENTIAL_RATE_LIMIT", "3/min".to_owned()),
        ("TENANTRY_PLANS__UNLIMITED__RATE_LIMIT", "off".to_owned()),
    ];
    let Some(app) = spawn(sqlite, &plans).await else {
        return;
    };
    let a = app.tenant("planned").await;
    let b = app.tenant("unplanned").await;
    let second_key = app.key_with(&a, &[tenantry::access::Scope::ProjectsRead]).await;
    let person = app.person_in(&a.slug, tenantry::access::Role::Member).await;
    let default = "\"tenant\";q=1000;w=60";
    let shown = until_policy(&app, &a.key, Some(default)).await;
    assert_eq!(shown.body["plan"], serde_json::Value::Null);

    let update = |args: &[&str]| {
        let mut all = vec!["tenant", "update", a.slug.as_str()];
        all.extend_from_slice(args);
        app.cli_with(&plans, &all, "")
    };
    let unknown = update(&["--plan", "bogus"]);
    assert_eq!(unknown.status.code(), Some(2), "an unknown plan is refused");
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("bogus") && said.contains("`small`, `unlimited`"),
        "{said}"
    );
    let out = update(&["--plan", "small"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed["plan"], "small");

    let shown = until_policy(&app, &a.key, Some("\"tenant\";q=5;w=60, \"credential\";q=3;w=60")).await;
    assert_eq!(shown.body["plan"], "small");
    // Every budget full again, on the test's clock.
    app.clock.advance(Duration::seconds(61));
    for left in [[4, 2], [3, 1], [2, 0]] {
        let resp = app.get("/v1/projects", &second_key).await;
        resp.ok(200);
        let got: Vec<u64> = standings(&resp).into_iter().map(|(_, r)| r).collect();
        assert_eq!(got, left, "the tenant's budget and the key's own");
    }
    let spent = app.get("/v1/projects", &second_key).await;
    spent.problem(429, "rate_limited");
    assert!(
        spent.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("credential budget")),
        "{}",
        spent.body
    );
    // The others still have the tenant's two requests left, then no more.
    app.get("/v1/projects", &person.access).await.ok(200);
    app.get("/v1/projects", &a.key).await.ok(200);
    let spent = app.get("/v1/projects", &person.access).await;
    spent.problem(429, "rate_limited");
    assert!(
        spent.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("tenant budget")),
        "{}",
        spent.body
    );
    // Another tenant keeps the default budget.
    let other = app.get("/v1/projects", &b.key).await;
    other.ok(200);
    assert_eq!(header(&other, "ratelimit-policy"), default);

    // A plan without limits, then back to none.
    assert!(update(&["--plan", "unlimited"]).status.success());
    until_policy(&app, &a.key, None).await;
    let out = update(&["--no-plan", "--name", "Planned again"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // (The spent budget is the same one, at its new rate: full again later.)
    app.clock.advance(Duration::seconds(61));
    let shown = until_policy(&app, &a.key, Some(default)).await;
    assert_eq!(shown.body["plan"], serde_json::Value::Null);
    assert_eq!(shown.body["name"], "Planned again");
}

/// Each test on both backends, with limits of its own.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(true).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::$name(false).await;
            }
        }
    )*};
}

on_both!(
    a_tenants_keys_and_people_share_one_budget,
    a_plan_sets_the_tenants_budgets,
    the_anonymous_budget_is_per_client_address,
);

/// With Redis, two instances draw on one budget (the script reads Redis's
/// clock, so the test's clock does not matter).
#[tokio::test]
async fn with_redis_every_instance_draws_on_one_budget() {
    let mut settings = redis_settings(1_000).await;
    settings.push(("TENANTRY_RATE_LIMIT", "5/min".to_owned()));
    let Some(app) = TestApp::spawn_postgres_with(&settings).await else {
        return;
    };
    let other = app.sibling().await;
    let tenant = app.tenant("shared-budget").await;
    let mut left = Vec::new();
    for base in [&app.base, &other.base, &app.base, &other.base, &app.base] {
        let resp = list_at(&app, base, &tenant.key).await;
        resp.ok(200);
        left.push(remaining(&resp));
    }
    assert_eq!(left, [4, 3, 2, 1, 0]);
    for base in [&app.base, &other.base] {
        let refused = list_at(&app, base, &tenant.key).await;
        assert_limited(&refused, "tenant");
    }
}

/// With Redis unreachable, each instance counts on its own: requests are
/// served (never a 5xx), within the budget per instance.
#[tokio::test]
async fn with_redis_away_each_instance_counts_on_its_own() {
    let app = TestApp::spawn_sqlite_with(&[
        ("REDIS_URL", "redis://127.0.0.1:1".to_owned()),
        ("TENANTRY_RATE_LIMIT", "5/min".to_owned()),
    ])
    .await;
    let other = app.sibling().await;
    let tenant = app.tenant("no-redis").await;
    for base in [&app.base, &other.base] {
        let mut left = Vec::new();
        for _ in 0..5 {
            let resp = list_at(&app, base, &tenant.key).await;
            resp.ok(200);
            left.push(remaining(&resp));
        }
        assert_eq!(left, [4, 3, 2, 1, 0], "{base} counts alone");
        let refused = list_at(&app, base, &tenant.key).await;
        assert_limited(&refused, "tenant");
    }
}

/// `GET /v1/projects` on the instance at `base`.
async fn list_at(app: &TestApp, base: &str, key: &str) -> crate::support::Resp {
    app.send(with_credential(app.http.get(format!("{base}/v1/projects")), key))
        .await
}
