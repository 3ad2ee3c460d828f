use serde_json::{json, Value};

use super::*;

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-25T10:00:00Z").unwrap()
}

/// The design's example input, the one fixture the docs, the tests, the Lambda flow and the benches read.
pub(crate) fn example() -> Value {
    serde_json::from_str(include_str!("../../../../docs/examples/link-creation-input.json"))
        .expect("the example is JSON")
}

fn parse(input: &Value) -> Result<NewIntervention, ConfigError> {
    NewIntervention::parse(input.to_string().as_bytes(), now())
}

fn refused(edit: impl FnOnce(&mut Value)) -> ConfigError {
    let mut input = example();
    edit(&mut input);
    parse(&input).expect_err("should be refused")
}

#[test]
fn the_design_example_parses_with_its_settings() {
    let new = parse(&example()).unwrap();
    assert_eq!(new.tier, Tier::Shared);
    assert_eq!(new.max_uses, 1);
    assert_eq!(new.expires_at.to_rfc3339(), "2026-11-25T11:00:00.000Z");
    assert_eq!(new.link_context_key.as_str(), "approval.url");
    assert_eq!(new.form.as_ref().unwrap().fields.len(), 3);
    assert_eq!(new.on_timeout.as_ref().unwrap().rule_set_id, "refund-timeout");
}

#[test]
fn defaults_apply_when_settings_are_left_out() {
    let mut input = example();
    let object = input.as_object_mut().unwrap();
    for key in ["urlExpirationHours", "maxUrlUses", "formDocument", "secretKeys", "onTimeout"] {
        object.remove(key);
    }
    let new = parse(&input).unwrap();
    assert_eq!(new.max_uses, 1);
    assert_eq!(new.expires_at, now().plus_millis(3_600_000));
    assert!(new.form.is_none());
}

#[test]
fn fractional_hours_are_allowed() {
    let mut input = example();
    input["urlExpirationHours"] = json!(0.25);
    assert_eq!(parse(&input).unwrap().expires_at, now().plus_millis(900_000));
}

#[test]
fn each_bad_setting_is_refused_by_name() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "environmentId",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("environmentId");
            }),
        ),
        ("tier", Box::new(|v| v["tier"] = json!("Gold"))),
        ("correlationId", Box::new(|v| v["correlationId"] = json!(""))),
        (
            "ruleSetId",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("ruleSetId");
            }),
        ),
        ("runAvailableUntil", Box::new(|v| v["runAvailableUntil"] = json!("2026-11-25T12:00:00"))),
        ("runAvailableUntil", Box::new(|v| v["runAvailableUntil"] = json!("2026-11-25T09:00:00Z"))),
        ("urlExpirationHours", Box::new(|v| v["urlExpirationHours"] = json!(0))),
        ("urlExpirationHours", Box::new(|v| v["urlExpirationHours"] = json!(-1))),
        ("urlExpirationHours", Box::new(|v| v["urlExpirationHours"] = json!(3))),
        ("maxUrlUses", Box::new(|v| v["maxUrlUses"] = json!(0))),
        ("maxUrlUses", Box::new(|v| v["maxUrlUses"] = json!(1.5))),
        ("generatedUrlContextKey", Box::new(|v| v["generatedUrlContextKey"] = json!("x".repeat(51)))),
        ("context.bad key", Box::new(|v| v["context"]["bad key"] = json!(1))),
        ("context.obj", Box::new(|v| v["context"]["obj"] = json!({"a": 1}))),
        ("secretKeys[0]", Box::new(|v| v["secretKeys"] = json!(["missing"]))),
        ("formDocument.fields[0].type", Box::new(|v| v["formDocument"]["fields"][0]["type"] = json!("slider"))),
        ("formDocument.fields[1].key", Box::new(|v| v["formDocument"]["fields"][1]["key"] = json!("decision"))),
        ("formDocument.fields[2].key", Box::new(|v| v["formDocument"]["fields"][2]["key"] = json!("k".repeat(51)))),
        (
            "formDocument.fields[1].prefill",
            Box::new(|v| v["formDocument"]["fields"][1]["prefill"] = json!("order.missing")),
        ),
        (
            "formDocument.fields[1].prefill",
            Box::new(|v| v["formDocument"]["fields"][1]["prefill"] = json!("customer.email")),
        ),
        ("formDocument.show[0]", Box::new(|v| v["formDocument"]["show"] = json!(["customer.email"]))),
        ("formDocument.fields[0].options", Box::new(|v| v["formDocument"]["fields"][0]["options"] = json!([]))),
        ("formDocument.fields[2].min", Box::new(|v| v["formDocument"]["fields"][2]["min"] = json!(1))),
        (
            "formDocument.fields[2].pattern",
            Box::new(|v| v["formDocument"]["fields"][2]["pattern"] = json!("(unclosed")),
        ),
        // No Unicode classes: what the server accepts must be what a browser's `pattern` means.
        ("formDocument.fields[2].pattern", Box::new(|v| v["formDocument"]["fields"][2]["pattern"] = json!("\\p{L}+"))),
        ("formDocument.fields[1].min", Box::new(|v| v["formDocument"]["fields"][1]["min"] = json!(2000))),
        ("formDocument.fields[0].key", Box::new(|v| v["formDocument"]["fields"][0]["key"] = json!("_submissionId"))),
        ("formDocument.title", Box::new(|v| v["formDocument"]["title"] = json!(" "))),
        ("onTimeout.ruleSetId", Box::new(|v| v["onTimeout"] = json!({"context": {}}))),
        ("onTimeout.context.".to_owned().leak(), Box::new(|v| v["onTimeout"]["context"] = json!({"k".repeat(51): 1}))),
        ("onTimeout.context.x", Box::new(|v| v["onTimeout"]["context"] = json!({"x": null}))),
    ];
    for (field, edit) in cases {
        let error = refused(edit);
        assert!(error.field.starts_with(field), "expected {field}, got {error}");
        assert!(!error.message.is_empty());
    }
}

#[test]
fn unknown_settings_and_wrong_shapes_are_refused_with_a_reason() {
    let error = refused(|v| v["maxUses"] = json!(3));
    assert!(error.message.contains("maxUses"), "{error}");
    let error = NewIntervention::parse(b"not json", now()).unwrap_err();
    assert!(error.message.contains("not a valid link-creation input"));
    let error = refused(|v| v["formDocument"]["fields"][0]["colour"] = json!("red"));
    assert!(error.message.contains("colour"), "{error}");
}

#[test]
fn a_generated_link_key_that_is_a_context_or_field_key_is_refused_at_generated_url_context_key() {
    let error = refused(|v| v["generatedUrlContextKey"] = json!("order.id"));
    assert_eq!(error.field, "generatedUrlContextKey");
    assert!(error.message.contains("`order.id` is a key of context"), "{error}");
    let error = refused(|v| v["generatedUrlContextKey"] = json!("note"));
    assert_eq!(error.field, "generatedUrlContextKey");
    assert!(error.message.contains("formDocument.fields[2]"), "{error}");
}

#[test]
fn an_on_timeout_link_expiring_within_the_schedulers_minute_of_lateness_is_refused_at_on_timeout() {
    // The example: now 10:00, link for 1 h; the run available until 11:01 leaves 60 s: not enough.
    for until in ["2026-11-25T11:00:00Z", "2026-11-25T11:00:30Z", "2026-11-25T11:01:00Z"] {
        let error = refused(|v| v["runAvailableUntil"] = json!(until));
        assert_eq!(error.field, "onTimeout", "{until}");
        assert!(error.message.contains("up to 60 s late"), "{error}");
    }
    let mut input = example();
    input["runAvailableUntil"] = json!("2026-11-25T11:01:00.001Z");
    assert!(parse(&input).is_ok(), "more than 60 s left");
    input["runAvailableUntil"] = json!("2026-11-25T11:00:00Z");
    input.as_object_mut().unwrap().remove("onTimeout");
    assert!(parse(&input).is_ok(), "without onTimeout a link may expire with the run");
}

#[test]
fn a_prefill_the_field_would_refuse_is_refused_naming_the_field_and_the_context_key() {
    let cases = [
        (json!(0.30000000000000004), "15 significant digits"),
        (json!(5000), "at most 1000"),
        (json!("abc"), "Enter a number"),
        (json!(["1", "2"]), "one value"),
    ];
    for (value, says) in cases {
        let error = refused(|v| v["context"]["order.amount"] = value.clone());
        assert_eq!(error.field, "formDocument.fields[1].prefill", "{value}");
        assert!(error.message.contains("context `order.amount`"), "{error}");
        assert!(error.message.contains("field `refund.amount`"), "{error}");
        assert!(error.message.contains(says), "{value}: {error}");
    }
    let error = refused(|v| {
        v["context"]["count"] = json!("abc");
        v["formDocument"]["fields"][1] = json!({"key": "n", "label": "N", "type": "integer", "prefill": "count"});
    });
    assert_eq!(error.field, "formDocument.fields[1].prefill");
}

#[test]
fn a_default_the_field_would_refuse_is_refused_naming_the_field() {
    let error = refused(|v| v["formDocument"]["fields"][1]["default"] = json!(5000));
    assert_eq!(error.field, "formDocument.fields[1].default");
    // (prefill and default together are refused first; this one has only the default)
    let error = refused(|v| {
        v["formDocument"]["fields"][1].as_object_mut().unwrap().remove("prefill");
        v["formDocument"]["fields"][1]["default"] = json!(5000);
    });
    assert_eq!(error.field, "formDocument.fields[1].default");
    assert!(error.message.contains("field `refund.amount`") && error.message.contains("at most 1000"), "{error}");
}

#[test]
fn a_wrong_json_type_is_refused_at_its_setting_by_path() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: [(&str, Edit); 6] = [
        ("maxUrlUses", Box::new(|v| v["maxUrlUses"] = json!("3"))),
        ("secretKeys", Box::new(|v| v["secretKeys"] = json!("customer.email"))),
        ("secretKeys[0]", Box::new(|v| v["secretKeys"] = json!([1]))),
        ("formDocument.fields[2].minLength", Box::new(|v| v["formDocument"]["fields"][2]["minLength"] = json!(-1))),
        ("formDocument.title", Box::new(|v| v["formDocument"]["title"] = json!(7))),
        ("onTimeout.ruleSetId", Box::new(|v| v["onTimeout"]["ruleSetId"] = json!(false))),
    ];
    for (field, edit) in cases {
        let error = refused(edit);
        assert_eq!(error.field, field, "{error}");
        assert!(error.to_string().starts_with(&format!("{field}: invalid")), "{error}");
        assert!(!error.message.contains("line 1 column"), "{error}");
    }
    let error = refused(|v| v["maxUses"] = json!(3));
    assert_eq!(error.field, "maxUses", "an unknown setting is named too: {error}");
    // `null` for an optional setting is read as absent, secretKeys included.
    let mut input = example();
    input["secretKeys"] = Value::Null;
    assert!(parse(&input).unwrap().secret_keys.is_empty());
    let error = NewIntervention::parse(b"[1, 2]", now()).unwrap_err();
    assert_eq!(error.field, "", "a body that is not an object names no setting");
}

fn with_reviewers(input: &mut Value, ids: &[&str]) {
    input.as_object_mut().unwrap().remove("maxUrlUses");
    input["reviewers"] =
        Value::Array(ids.iter().map(|id| serde_json::json!({"id": id, "name": format!("Name of {id}")})).collect());
}

#[test]
fn reviewers_are_parsed_and_each_gets_one_use() {
    let mut input = example();
    with_reviewers(&mut input, &["ann@example.com", "bob@example.com", "cy"]);
    let new = parse(&input).unwrap();
    assert_eq!(new.reviewers.len(), 3);
    assert_eq!(new.reviewers[0].id, "ann@example.com");
    assert_eq!(new.reviewers[0].name, "Name of ann@example.com");
    assert_eq!(new.max_uses, 3);
    assert!(parse(&example()).unwrap().reviewers.is_empty(), "without reviewers: none");
}

type Edit = Box<dyn FnOnce(&mut Value)>;

#[test]
fn bad_reviewers_are_refused_naming_the_setting() {
    let cases: Vec<(Edit, &str, &str)> = vec![
        (Box::new(|v| with_reviewers(v, &[])), "reviewers", "at least one"),
        (
            Box::new(|v| {
                let many: Vec<String> = (0..21).map(|i| format!("r{i}")).collect();
                with_reviewers(v, &many.iter().map(String::as_str).collect::<Vec<_>>());
            }),
            "reviewers",
            "at most 20",
        ),
        (Box::new(|v| with_reviewers(v, &["a", "b", "a"])), "reviewers[2].id", "reviewers[0] too"),
        (Box::new(|v| with_reviewers(v, &[""])), "reviewers[0].id", "must not be empty"),
        (Box::new(|v| with_reviewers(v, &["a\u{7}b"])), "reviewers[0].id", "control characters"),
        (Box::new(|v| with_reviewers(v, &["a\u{FFFE}"])), "reviewers[0].id", "U+FFFE"),
        (Box::new(|v| with_reviewers(v, &[&"x".repeat(255)])), "reviewers[0].id", "longer than 254"),
        (
            Box::new(|v| {
                with_reviewers(v, &["a"]);
                v["reviewers"][0]["name"] = Value::Null;
            }),
            "reviewers[0].name",
            "is required",
        ),
        (
            Box::new(|v| {
                with_reviewers(v, &["a"]);
                v["reviewers"][0]["email"] = serde_json::json!("a@example.com");
            }),
            "reviewers[0].email",
            "unknown field",
        ),
        (
            Box::new(|v| {
                with_reviewers(v, &["a", "b"]);
                v["maxUrlUses"] = serde_json::json!(2);
            }),
            "maxUrlUses",
            "leave maxUrlUses out",
        ),
    ];
    for (edit, field, words) in cases {
        let error = refused(edit);
        assert_eq!(error.field, field, "{error}");
        assert!(error.to_string().contains(words), "{error}");
    }
    // 254 characters is allowed.
    let mut input = example();
    with_reviewers(&mut input, &[&"x".repeat(254)]);
    input["reviewers"][0]["name"] = serde_json::json!("y".repeat(254));
    parse(&input).unwrap();
}

fn with_quorum(input: &mut Value, approvals: Value) {
    with_reviewers(input, &["a", "b", "c"]);
    input["quorum"] =
        serde_json::json!({"approvals": approvals, "field": "decision", "approve": "approve", "reject": "reject"});
}

#[test]
fn a_quorum_is_parsed_and_refused_naming_the_setting() {
    let mut input = example();
    with_quorum(&mut input, serde_json::json!(2));
    let quorum = parse(&input).unwrap().quorum.unwrap();
    assert_eq!((quorum.approvals, quorum.field.as_str(), quorum.approve.as_str()), (2, "decision", "approve"));
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v.as_object_mut().unwrap().remove("reviewers");
            }),
            "quorum",
            "needs reviewers",
        ),
        (
            Box::new(|v| with_quorum(v, serde_json::json!(4))),
            "quorum.approvals",
            "from 1 to the number of reviewers (3)",
        ),
        (Box::new(|v| with_quorum(v, serde_json::json!(0))), "quorum.approvals", "from 1"),
        (Box::new(|v| with_quorum(v, serde_json::json!(1.5))), "quorum.approvals", "whole number"),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["quorum"]["field"] = serde_json::json!("note");
            }),
            "quorum.field",
            "required single choice field",
        ),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["quorum"]["field"] = serde_json::json!("missing");
            }),
            "quorum.field",
            "not a field of formDocument",
        ),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["formDocument"]["fields"][0]["required"] = serde_json::json!(false);
            }),
            "quorum.field",
            "required single choice",
        ),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["formDocument"]["fields"][0]["options"] = serde_json::json!(["approve", "reject", "maybe"]);
            }),
            "quorum.field",
            "exactly the two options",
        ),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["quorum"]["approve"] = serde_json::json!("yes");
            }),
            "quorum.approve",
            "`yes` is not an option",
        ),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["quorum"]["reject"] = serde_json::json!("approve");
            }),
            "quorum.reject",
            "also quorum.approve",
        ),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["quorum"].as_object_mut().unwrap().remove("reject");
            }),
            "quorum.reject",
            "is required",
        ),
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(2));
                v["quorum"]["of"] = serde_json::json!(3);
            }),
            "quorum.of",
            "unknown field",
        ),
    ];
    for (edit, field, words) in cases {
        let error = refused(edit);
        assert_eq!(error.field, field, "{error}");
        assert!(error.to_string().contains(words), "{error}");
    }
}

#[test]
fn requested_by_names_a_reviewer_whose_link_is_not_issued_and_the_quorum_stays_reachable() {
    let mut input = example();
    with_quorum(&mut input, serde_json::json!(2));
    input["requestedBy"] = serde_json::json!("a");
    let new = parse(&input).unwrap();
    assert_eq!(new.requested_by.as_deref(), Some("a"));
    assert_eq!(new.max_uses, 2, "the two other reviewers");
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(|v| {
                with_quorum(v, serde_json::json!(3));
                v["requestedBy"] = serde_json::json!("a");
            }),
            "quorum.approvals",
            "other than requestedBy `a` (2)",
        ),
        (
            Box::new(|v| {
                with_reviewers(v, &["a", "b"]);
                v["requestedBy"] = serde_json::json!("z");
            }),
            "requestedBy",
            "`z` is not the id of one of the reviewers",
        ),
        (
            Box::new(|v| {
                with_reviewers(v, &["a"]);
                v["requestedBy"] = serde_json::json!("a");
            }),
            "requestedBy",
            "the only reviewer",
        ),
        (Box::new(|v| v["requestedBy"] = serde_json::json!("a")), "requestedBy", "needs reviewers"),
    ];
    for (edit, field, words) in cases {
        let error = refused(edit);
        assert_eq!(error.field, field, "{error}");
        assert!(error.to_string().contains(words), "{error}");
    }
}

#[test]
fn an_action_is_an_object_without_secrets_and_within_its_size() {
    let mut input = example();
    input["action"] = json!({"refund": {"order": "A-1001", "amount": "120.50"}});
    assert_eq!(parse(&input).unwrap().action, Some(json!({"refund": {"order": "A-1001", "amount": "120.50"}})));
    let error = refused(|i| i["action"] = json!(["approve"]));
    assert_eq!(error.field, "action", "{error}");
    // customer.email is a secret key of the example.
    let error = refused(|i| i["action"] = json!({"notify": {"to": "Mail a@example.com today"}}));
    assert_eq!(error.field, "action.notify.to", "{error}");
    assert!(error.message.contains("secret key `customer.email`"), "{error}");
    let error = refused(|i| i["action"] = json!({"note": "x".repeat(crate::domain::proof::MAX_ACTION_BYTES)}));
    assert!(error.message.contains("at most 16384"), "{error}");
}

#[test]
fn the_creation_fingerprint_keeps_its_form() {
    // Stored fingerprints are compared with new ones: keys in byte order, numbers as serde_json writes them.
    let value: serde_json::Value = serde_json::from_str(
        r#"{"z":1,"a":[true,null,-3,1.5,"é\u0001\"\\/\n"],"é":{"b":"x","A":{"😀":0,"\uFFFD":2}},"n":18446744073709551615}"#,
    )
    .unwrap();
    assert_eq!(super::fingerprint(&value), "ed05c922aaacf2fc03e3897c7fb8100eb435d9992b7f5e26359083157e33dc05");
}

#[test]
fn the_document_kept_at_creation_is_the_one_an_intervention_read_back_writes() {
    let mut input = example();
    input["action"] = json!({"refund": {"amount": 1e30, "note": "é\u{1F600}"}});
    let created = Intervention::new(InterventionId::random().unwrap(), parse(&input).unwrap(), now());
    let kept = created.kept_shown.clone().expect("kept at creation");
    let read_back: Intervention = serde_json::from_value(serde_json::to_value(&created).unwrap()).unwrap();
    assert!(read_back.kept_shown.is_none(), "never stored");
    assert_eq!(proof::shown(&read_back), kept);
    assert_eq!(proof::shown(&read_back).canonical_json(), kept.canonical_json());
    assert_eq!(proof::shown_digest(read_back.action.as_ref(), &kept), created.decision_digest.clone().unwrap());
    assert_eq!(proof::decision_digest(read_back.action.as_ref(), &kept.to_value()), created.decision_digest.unwrap());
}
