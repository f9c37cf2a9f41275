//! The committed spec in `openapi/` is what the code emits, and it keeps
//! the conventions the generated clients rely on.

use serde_json::Value;

const REGENERATE: &str = "cargo run -- spec --out openapi";

#[test]
fn the_committed_spec_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let emitted = tenantry::openapi::spec_json();
    assert!(
        committed == emitted,
        "openapi/openapi.json is out of date; regenerate it with `{REGENERATE}` and commit it"
    );
}

fn spec() -> Value {
    serde_json::from_str(&tenantry::openapi::spec_json()).expect("the spec is JSON")
}

/// The `/v1` operations open without a credential, and why.
const PUBLIC_OPERATIONS: &[(&str, &str)] = &[
    ("signup", "creates the credential"),
    ("login", "exchanges a password for a session"),
    ("refresh_session", "the refresh token in the body is the credential"),
];

#[test]
fn every_operation_is_named_tagged_summarised_and_documents_its_errors() {
    let spec = spec();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        assert!(!path.contains(':'), "{path}: static paths with {{params}}");
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has an operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{id} is snake_case <verb>_<resource>"
            );
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id} has a tag");
            assert!(op["summary"].is_string(), "{id} has a summary");
            if path.starts_with("/v1/") {
                let public = PUBLIC_OPERATIONS.iter().any(|(op, _)| *op == id);
                assert_eq!(
                    op["security"].as_array().is_some_and(|s| !s.is_empty()),
                    !public,
                    "{id} declares its security (unless it is one of the public operations)"
                );
                let mut expected = vec!["500", "503"];
                if !public {
                    // 400: a credential header sent twice, or both at once.
                    expected.extend(["400", "401"]);
                }
                if op["requestBody"].is_object() {
                    expected.extend(["400", "413", "415", "422"]);
                    if !public {
                        expected.push("403");
                    }
                }
                if path.contains('{') {
                    expected.extend(["400", "403", "404"]);
                }
                for status in expected {
                    let content = &op["responses"][status]["content"]["application/problem+json"];
                    assert!(content.is_object(), "{id} documents {status} as problem+json");
                }
            }
        }
    }
}

#[test]
fn input_schemas_carry_examples_and_nullable_fields_are_declared() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    for name in ["ProjectIn", "ProjectPatch", "TaskIn", "TaskPatch", "ApiKeyIn"] {
        assert!(schemas[name]["example"].is_object(), "{name} has an example");
    }
    for (schema, field) in [
        ("Project", "description"),
        ("Task", "description"),
        ("Task", "due_date"),
        ("ProjectPage", "next_cursor"),
        ("TaskPage", "next_cursor"),
        ("ApiKey", "expires_at"),
        ("ApiKey", "last_used_at"),
        ("ProjectPatch", "description"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["nullable"], true,
            "{schema}.{field} is nullable"
        );
    }
    assert_eq!(schemas["ProjectIn"]["properties"]["name"]["maxLength"], 200);
    assert_eq!(schemas["ProjectIn"]["properties"]["name"]["minLength"], 1);
    assert_eq!(schemas["TaskIn"]["properties"]["priority"]["maximum"], 4.0);
    let required: Vec<&str> = schemas["Project"]["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for field in ["id", "name", "description", "created_at", "updated_at"] {
        assert!(required.contains(&field), "Project.{field} is always present");
    }
}

#[test]
fn every_schema_and_inline_field_is_described() {
    let spec = spec();
    for (name, schema) in spec["components"]["schemas"].as_object().expect("schemas") {
        assert!(schema["description"].is_string(), "schema {name} has a description");
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            // `$ref` fields stay bare (a description would wrap them in allOf,
            // which openapi-python-client drops); their schema carries it.
            if property.get("$ref").is_none() {
                assert!(property["description"].is_string(), "{name}.{field} has a description");
            }
        }
    }
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for param in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    param["description"].is_string(),
                    "{method} {path} parameter {} has a description",
                    param["name"]
                );
            }
        }
    }
}
