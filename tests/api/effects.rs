//! Every kind of after-commit effect, observed on a second instance within
//! its bound: sessions ended and sessions moved to a new generation after
//! that instance's next poll of the sessions (every 500 ms), keys revoked
//! and tenants deleted within the key cache's lifetime (1 s without Redis;
//! with Redis at once, see `key_cache.rs`).

use serde_json::json;
use tenantry::access::Role;

use crate::backends;
use crate::support::{Resp, TestApp, with_credential};

backends!(each_effect_reaches_a_second_instance_within_its_bound);

async fn on(app: &TestApp, base: &str, credential: &str) -> Resp {
    app.send(with_credential(app.http.get(format!("{base}/v1/tenant")), credential))
        .await
}

async fn each_effect_reaches_a_second_instance_within_its_bound(app: TestApp) {
    let ada = app.signup("ada").await;
    let member = app.person_in(&ada.tenant_slug, Role::Member).await;
    let admin = app.person_in(&ada.tenant_slug, Role::Admin).await;
    let key = app
        .post("/v1/api-keys", &admin.access, json!({"scopes": ["api_keys:manage"]}))
        .await
        .ok(201)
        .clone();
    let key = key["key"].as_str().expect("secret").to_owned();
    let other = app.sibling().await;
    for credential in [&member.access, &admin.access, &key] {
        on(&app, &other.base, credential).await.ok(200);
    }

    // Sessions moved to a new generation (a role change): refused there
    // after its next poll.
    app.patch(
        &format!("/v1/members/{}", member.user_id),
        &ada.access,
        json!({"role": "viewer"}),
    )
    .await
    .ok(200);
    other.state.poll_revocations().await;
    on(&app, &other.base, &member.access)
        .await
        .problem(401, "unauthenticated");

    // Sessions ended and keys revoked (a removal): the sessions after the
    // next poll, the key once its cache entry has lived its second.
    app.delete(&format!("/v1/members/{}", admin.user_id), &ada.access)
        .await
        .ok(204);
    other.state.poll_revocations().await;
    on(&app, &other.base, &admin.access)
        .await
        .problem(401, "unauthenticated");
    other.clock.advance(chrono::Duration::milliseconds(1001));
    on(&app, &other.base, &key).await.problem(401, "unauthenticated");

    // A tenant deleted: its keys stop working there within the same bound.
    let (operator_key, _) = app.key(ada.tenant_id, tenantry::access::Scopes::all(), None).await;
    on(&app, &other.base, &operator_key).await.ok(200);
    app.call("DELETE", "/v1/tenant", Some(&ada.access), None).await.ok(204);
    other.clock.advance(chrono::Duration::milliseconds(1001));
    on(&app, &other.base, &operator_key)
        .await
        .problem(401, "unauthenticated");
    other.state.poll_revocations().await;
    on(&app, &other.base, &ada.access).await.problem(401, "unauthenticated");
}
