//! API keys never outlive the authority that made them: each key records
//! who made it and is rooted in a person (its maker, or the root of the key
//! that made it); a person removed, leaving or demoted takes their keys (or
//! those beyond the new role) with them, on every instance; and a
//! credential revokes only keys within its own scopes.

use serde_json::{Value, json};
use tenantry::access::{Principal, Role, Scope, Scopes};
use tenantry::clock::Clock;
use tenantry::domain::{self, api_keys};

use crate::backends;
use crate::support::{Resp, TestApp};

backends!(
    keys_record_who_made_them,
    a_key_manager_sees_every_key_but_revokes_only_those_within_its_scopes,
    a_demoted_or_removed_person_takes_their_keys_with_them,
    leaving_or_handing_over_ownership_revokes_what_the_person_no_longer_holds,
    a_key_is_never_minted_on_authority_that_has_ended,
);

async fn create_key(app: &TestApp, credential: &str, body: Value) -> Value {
    app.post("/v1/api-keys", credential, body).await.ok(201).clone()
}

fn secret(key: &Value) -> String {
    key["key"].as_str().expect("the secret").to_owned()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

async fn works(app: &TestApp, key: &str) -> Resp {
    app.get("/v1/tenant", key).await
}

async fn keys_record_who_made_them(app: TestApp) {
    let ada = app.signup("ada").await;
    let (operator_key, operator_id) = app.key(ada.tenant_id, Scopes::all(), None).await;
    let by_person = create_key(
        &app,
        &ada.access,
        json!({"name": "ada's", "scopes": ["api_keys:manage"]}),
    )
    .await;
    assert_eq!(by_person["created_by"], json!({"kind": "user", "id": ada.user_id}));
    let by_key = create_key(&app, &secret(&by_person), json!({"scopes": ["api_keys:manage"]})).await;
    assert_eq!(by_key["created_by"], json!({"kind": "api_key", "id": id(&by_person)}));
    let by_operator_key = create_key(&app, &operator_key, json!({"name": "from the CLI's"})).await;
    assert_eq!(
        by_operator_key["created_by"],
        json!({"kind": "api_key", "id": operator_id})
    );

    let listed = app.get("/v1/api-keys?limit=100", &ada.access).await.ok(200).clone();
    let made_by = |key_id: &str| -> Value {
        listed["items"]
            .as_array()
            .and_then(|items| items.iter().find(|k| k["id"] == key_id))
            .map(|k| k["created_by"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        made_by(&operator_id.to_string()),
        json!({"kind": "operator", "id": null})
    );
    assert_eq!(made_by(&id(&by_person))["kind"], "user");
    assert_eq!(made_by(&id(&by_key))["kind"], "api_key");
    let current = app.get("/v1/api-keys/current", &secret(&by_key)).await.ok(200).clone();
    assert_eq!(current["api_key"]["created_by"]["id"], id(&by_person));
}

async fn a_key_manager_sees_every_key_but_revokes_only_those_within_its_scopes(app: TestApp) {
    let t = app.tenant("acme").await;
    let manager = app.key_with(&t, &[Scope::ApiKeysManage]).await;
    let (_, reader_id) = app.key(t.id, [Scope::ProjectsRead].into_iter().collect(), None).await;
    let (_, peer_id) = app.key(t.id, [Scope::ApiKeysManage].into_iter().collect(), None).await;

    // The listing (never a secret) holds every key, the all-scope one too.
    let listed = app.get("/v1/api-keys?limit=100", &manager).await.ok(200).clone();
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|k| k["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(ids.contains(&t.key_id.to_string().as_str()));
    assert!(
        listed["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|k| k.get("key").is_none()))
    );

    // Keys with scopes beyond the manager's stay, with a 403.
    for beyond in [t.key_id, reader_id] {
        let r = app.delete(&format!("/v1/api-keys/{beyond}"), &manager).await;
        r.problem(403, "forbidden");
    }
    works(&app, &t.key).await.ok(200);
    // A key within them goes; another tenant's is a 404, not a 403.
    app.delete(&format!("/v1/api-keys/{peer_id}"), &manager).await.ok(204);
    let other = app.tenant("other").await;
    app.delete(&format!("/v1/api-keys/{}", other.key_id), &manager)
        .await
        .problem(404, "not_found");

    // An admin (no tenant:manage) cannot revoke the owner's all-scope key.
    let ada = app.signup("ada").await;
    let admin = app.person_in(&ada.tenant_slug, Role::Admin).await;
    let owners = create_key(&app, &ada.access, json!({"name": "owner's"})).await;
    app.delete(&format!("/v1/api-keys/{}", id(&owners)), &admin.access)
        .await
        .problem(403, "forbidden");
    app.delete(&format!("/v1/api-keys/{}", id(&owners)), &ada.access)
        .await
        .ok(204);
}

async fn a_demoted_or_removed_person_takes_their_keys_with_them(app: TestApp) {
    let ada = app.signup("ada").await;
    let admin = app.person_in(&ada.tenant_slug, Role::Admin).await;
    let managing = create_key(
        &app,
        &admin.access,
        json!({"name": "manages", "scopes": ["api_keys:manage", "projects:read"]}),
    )
    .await;
    let reading = create_key(
        &app,
        &admin.access,
        json!({"name": "reads", "scopes": ["projects:read"]}),
    )
    .await;
    // Made by a key: rooted in the admin all the same.
    let grandchild = create_key(&app, &secret(&managing), json!({"scopes": ["api_keys:manage"]})).await;
    let (operator_key, _) = app.key(ada.tenant_id, Scopes::all(), None).await;
    let other_instance = app.sibling().await;
    let on_sibling = |key: String| {
        let req = app
            .http
            .get(format!("{}/v1/tenant", other_instance.base))
            .header("X-API-Key", key);
        app.send(req)
    };
    on_sibling(secret(&managing)).await.ok(200);

    // Demoted to member: the keys holding api_keys:manage go, the reader stays.
    app.patch(
        &format!("/v1/members/{}", admin.user_id),
        &ada.access,
        json!({"role": "member"}),
    )
    .await
    .ok(200);
    works(&app, &secret(&managing)).await.problem(401, "unauthenticated");
    works(&app, &secret(&grandchild)).await.problem(401, "unauthenticated");
    works(&app, &secret(&reading)).await.ok(200);
    // Another instance forgets it within its cache's lifetime (1 s here).
    other_instance.clock.advance(chrono::Duration::milliseconds(1001));
    on_sibling(secret(&managing)).await.problem(401, "unauthenticated");

    // Removed: every key rooted in them goes; the operator's stays.
    app.delete(&format!("/v1/members/{}", admin.user_id), &ada.access)
        .await
        .ok(204);
    works(&app, &secret(&reading)).await.problem(401, "unauthenticated");
    works(&app, &operator_key).await.ok(200);
    let listed = app.get("/v1/api-keys?limit=100", &ada.access).await.ok(200).clone();
    let rooted_left = listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|k| [id(&managing), id(&reading), id(&grandchild)].contains(&id(k)))
        .count();
    assert_eq!(rooted_left, 0, "revoked keys leave the listing");
}

async fn leaving_or_handing_over_ownership_revokes_what_the_person_no_longer_holds(app: TestApp) {
    let ada = app.signup("ada").await;
    let bob = app.person_in(&ada.tenant_slug, Role::Admin).await;
    let bobs = create_key(&app, &bob.access, json!({"scopes": ["tasks:write"]})).await;
    app.call("POST", "/v1/members/leave", Some(&bob.access), None)
        .await
        .ok(204);
    works(&app, &secret(&bobs)).await.problem(401, "unauthenticated");

    // The owner hands over ownership and becomes an admin: a key holding
    // tenant:manage goes, one within an admin's scopes stays.
    let cy = app.person_in(&ada.tenant_slug, Role::Admin).await;
    let full = create_key(&app, &ada.access, json!({"name": "everything"})).await;
    let within = create_key(&app, &ada.access, json!({"scopes": ["members:manage"]})).await;
    app.post(
        "/v1/tenant/transfer-ownership",
        &ada.access,
        json!({"user_id": cy.user_id}),
    )
    .await
    .ok(204);
    works(&app, &secret(&full)).await.problem(401, "unauthenticated");
    works(&app, &secret(&within)).await.ok(200);
}

/// A credential checked a moment before its authority ended (an access
/// token another instance has not refused yet, a key revoked meanwhile)
/// mints nothing: the maker's membership and the parent key are read again,
/// locked, inside the transaction that creates the key.
async fn a_key_is_never_minted_on_authority_that_has_ended(app: TestApp) {
    let ada = app.signup("ada").await;
    let admin = app.person_in(&ada.tenant_slug, Role::Admin).await;
    let parent = create_key(
        &app,
        &admin.access,
        json!({"scopes": ["api_keys:manage", "projects:read"]}),
    )
    .await;
    let parent_id: uuid::Uuid = id(&parent).parse().expect("uuid");
    let db = app.state.db.scoped(&Principal::operator(ada.tenant_id).authenticated());
    let mint = |creator: api_keys::Creator, scopes: &[Scope]| {
        let input = api_keys::NewApiKey {
            name: None,
            scopes: Some(scopes.to_vec()),
            expires_in_days: None,
        }
        .validate()
        .expect("valid input");
        // What the stale credential still claims: the admin's scopes.
        api_keys::create(
            &db,
            &app.state.keys.api_key,
            app.clock.now(),
            creator,
            Role::Admin.scopes(),
            input,
        )
    };
    mint(api_keys::Creator::User(admin.user_id.into()), &[Scope::MembersManage])
        .await
        .expect("while an admin");

    app.patch(
        &format!("/v1/members/{}", admin.user_id),
        &ada.access,
        json!({"role": "viewer"}),
    )
    .await
    .ok(200);
    let demoted = mint(api_keys::Creator::User(admin.user_id.into()), &[Scope::MembersManage]).await;
    assert!(matches!(demoted, Err(domain::Error::Forbidden(_))), "{demoted:?}");
    // Within the new role it may, and by default gets no more than the role.
    let within = mint(api_keys::Creator::User(admin.user_id.into()), &[Scope::ProjectsRead]).await;
    assert!(within.is_ok(), "{within:?}");
    // The parent key was revoked with the demotion: it mints nothing either.
    let orphan = mint(api_keys::Creator::ApiKey(parent_id), &[Scope::ProjectsRead]).await;
    assert!(matches!(orphan, Err(domain::Error::Unauthenticated(_))), "{orphan:?}");

    app.delete(&format!("/v1/members/{}", admin.user_id), &ada.access)
        .await
        .ok(204);
    let removed = mint(api_keys::Creator::User(admin.user_id.into()), &[Scope::ProjectsRead]).await;
    assert!(matches!(removed, Err(domain::Error::Unauthenticated(_))), "{removed:?}");
}
