//! The cross-user walker. Every operation open only to a signed-in person
//! (bearer token, no API key) is read from the emitted spec: those that take
//! an id are called as person B with person A's ids and must answer 404
//! without any of A's data; those without one must not show A's data. A's
//! sessions are intact afterwards. New operations are covered without
//! editing this file (a new id-taking resource needs a line in `fixture_ids`).

use std::collections::HashMap;

use serde_json::Value;

use crate::backends;
use crate::support::TestApp;

backends!(person_b_never_reaches_person_a);

fn fixture_ids(a_session: &str) -> HashMap<&'static str, String> {
    HashMap::from([("sessions", a_session.to_owned())])
}

fn example_body(spec: &Value, op: &Value) -> Option<Value> {
    let schema = op["requestBody"]["content"]["application/json; charset=utf-8"]["schema"].as_object()?;
    let name = schema.get("$ref")?.as_str()?.rsplit('/').next()?;
    Some(spec["components"]["schemas"][name]["example"].clone())
}

async fn person_b_never_reaches_person_a(app: TestApp) {
    let a = app.signup("alice").await;
    let a_phone = app.login(&a.email, &a.password, None).await.ok(200).clone();
    let a_phone_session = a_phone["session_id"].as_str().unwrap_or_default().to_owned();
    let b = app.signup("bob").await;
    let ids = fixture_ids(&a_phone_session);
    let markers = [
        a.email.clone(),
        a.user_id.to_string(),
        a.session_id.to_string(),
        a_phone_session.clone(),
        a.tenant_slug.clone(),
    ];

    let spec: Value = serde_json::from_str(&tenantry::openapi::spec_json()).expect("spec is JSON");
    let mut walked = 0;
    for (template, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let op_id = op["operationId"].as_str().unwrap_or("?");
            let security = op["security"].as_array().cloned().unwrap_or_default();
            let person_only = !security.is_empty()
                && security
                    .iter()
                    .all(|r| r.get("BearerAuth").is_some() && r.get("ApiKeyAuth").is_none());
            if !person_only {
                continue;
            }
            let mut path = template.clone();
            let mut takes_id = false;
            let segments: Vec<&str> = template.split('/').collect();
            for (i, segment) in segments.iter().enumerate() {
                if segment.starts_with('{') {
                    let resource = segments[i - 1];
                    let id = ids
                        .get(resource)
                        .unwrap_or_else(|| panic!("{op_id}: no fixture id for `{resource}`; add one to fixture_ids"));
                    path = path.replace(segment, id);
                    takes_id = true;
                }
            }
            if takes_id {
                let r = app
                    .call(
                        &method.to_uppercase(),
                        &path,
                        Some(&b.access),
                        example_body(&spec, op).as_ref(),
                    )
                    .await;
                r.problem(404, "not_found");
                for m in &markers {
                    assert!(
                        !r.body.to_string().contains(m.as_str()),
                        "{op_id} leaked {m}: {}",
                        r.body
                    );
                }
                walked += 1;
            } else if method == "get" {
                let r = app.call("GET", &path, Some(&b.access), None).await;
                assert_eq!(r.status, 200, "{op_id}: {}", r.body);
                for m in &markers {
                    assert!(
                        !r.body.to_string().contains(m.as_str()),
                        "{op_id} leaked {m}: {}",
                        r.body
                    );
                }
                walked += 1;
            }
        }
    }
    assert!(walked >= 3, "the walker saw only {walked} person-only operations");

    // A's sessions are all still alive.
    let list = app.get("/v1/auth/sessions", &a.access).await.ok(200).clone();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2));
    app.get("/v1/projects", a_phone["access_token"].as_str().unwrap_or_default())
        .await
        .ok(200);
}
