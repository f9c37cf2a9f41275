//! The sign-in throttle on the cache: with Redis, every instance counts the
//! same failures; with Redis away, each instance still counts on its own.
//! The throttle touches no database, so these run on SQLite only.

use chrono::Duration;
use serde_json::json;

use crate::support::{PASSWORD, Resp, TestApp, redis_settings, redis_url};

const WRONG: &str = "wrong-password-0000";

async fn login_on(app: &TestApp, base: &str, email: &str, password: &str) -> Resp {
    app.send(
        app.http
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({ "email": email, "password": password })),
    )
    .await
}

fn retry_after(resp: &Resp) -> Option<&str> {
    resp.headers.get("retry-after").and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn with_redis_failures_on_one_instance_lock_the_account_on_every_instance() {
    let settings = redis_settings(1_000).await;
    let prefix = settings
        .iter()
        .find(|(name, _)| *name == "TENANTRY_REDIS_PREFIX")
        .map(|(_, value)| value.clone())
        .expect("the test's prefix");
    let app = TestApp::spawn_sqlite_with(&settings).await;
    let other = app.sibling().await;
    let ada = app.signup("ada").await;

    // Five free failures and a sixth that locks, all on the first instance.
    for _ in 0..6 {
        login_on(&app, &app.base, &ada.email, WRONG)
            .await
            .problem(401, "unauthenticated");
    }
    // The second instance refuses even the right password for the lock's second.
    let locked = login_on(&app, &other.base, &ada.email, PASSWORD).await;
    locked.problem(429, "too_many_requests");
    assert_eq!(retry_after(&locked), Some("1"));

    // What Redis holds names no email: an account by a keyed hash, the
    // address by itself, both under the instance's prefix.
    let client = redis::Client::open(redis_url().await.as_str()).expect("a Redis URL");
    let mut conn = client.get_multiplexed_async_connection().await.expect("Redis");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}throttle:*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    let account = format!("{prefix}throttle:account:");
    assert!(
        keys.iter().any(|k| k
            .strip_prefix(&account)
            .is_some_and(|hash| hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()))),
        "{keys:?}"
    );
    assert!(
        keys.contains(&format!("{prefix}throttle:address:127.0.0.1")),
        "{keys:?}"
    );
    for key in &keys {
        let value: String = redis::cmd("GET").arg(key).query_async(&mut conn).await.expect("GET");
        assert!(
            !key.contains(&ada.email) && !value.contains(&ada.email),
            "{key} = {value}"
        );
        let ttl: i64 = redis::cmd("PTTL").arg(key).query_async(&mut conn).await.expect("PTTL");
        assert!(ttl > 0, "{key} expires");
    }

    // After the wait, a success on the second instance clears the account
    // for the first one too: its next failure is a plain 401 again.
    other.clock.advance(Duration::seconds(1));
    app.clock.advance(Duration::seconds(1));
    login_on(&app, &other.base, &ada.email, PASSWORD).await.ok(200);
    for _ in 0..5 {
        login_on(&app, &app.base, &ada.email, WRONG)
            .await
            .problem(401, "unauthenticated");
    }
}

#[tokio::test]
async fn with_redis_a_burst_across_instances_gets_no_more_guesses_than_a_sequence() {
    let app = TestApp::spawn_sqlite_with(&redis_settings(1_000).await).await;
    let other = app.sibling().await;
    let ada = app.signup("ada").await;
    // Twenty wrong guesses at once, half on each instance: the five free
    // failures and one more are checked, the rest refused unchecked.
    let attempts = (0..20).map(|i| {
        let base = if i % 2 == 0 { &app.base } else { &other.base };
        login_on(&app, base, &ada.email, WRONG)
    });
    let answers = futures_util::future::join_all(attempts).await;
    let checked = answers.iter().filter(|r| r.status == 401).count();
    let refused = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!(checked + refused, 20, "only 401 and 429");
    assert!((1..=6).contains(&checked), "{checked} guesses were checked");
}

#[tokio::test]
async fn with_redis_away_each_instance_still_throttles_on_its_own() {
    let app = TestApp::spawn_sqlite_with(&[
        // Nothing listens on the discard port.
        ("REDIS_URL", "redis://127.0.0.1:9".to_owned()),
    ])
    .await;
    let ada = app.signup("ada").await;
    for _ in 0..6 {
        login_on(&app, &app.base, &ada.email, WRONG)
            .await
            .problem(401, "unauthenticated");
    }
    let locked = login_on(&app, &app.base, &ada.email, PASSWORD).await;
    locked.problem(429, "too_many_requests");
    assert_eq!(retry_after(&locked), Some("1"));
    app.clock.advance(Duration::seconds(1));
    login_on(&app, &app.base, &ada.email, PASSWORD).await.ok(200);
}
