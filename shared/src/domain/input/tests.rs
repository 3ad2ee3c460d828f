use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::domain::context::{ContextValue, Scalar};
use crate::domain::field::check_field;
use crate::domain::id::SubmissionId;

fn form() -> FormDocument {
    serde_json::from_value(json!({
        "title": "Approve refund",
        "fields": [
            { "key": "decision", "label": "Decision", "type": "choice", "options": ["approve", "reject"], "required": true },
            { "key": "refund.amount", "label": "Amount", "type": "decimal", "min": 0, "max": 1000 },
            { "key": "note", "label": "Note", "type": "text", "multiline": true, "maxLength": 5 },
            { "key": "count", "label": "Count", "type": "integer", "min": -5, "max": 5 },
            { "key": "tags", "label": "Tags", "type": "choice", "options": ["a", "b", "c"], "multiple": true },
            { "key": "ok", "label": "OK", "type": "boolean" },
            { "key": "day", "label": "Day", "type": "date" },
            { "key": "at", "label": "At", "type": "datetime" },
            { "key": "mail", "label": "Mail", "type": "email" },
            { "key": "site", "label": "Site", "type": "url" },
            { "key": "code", "label": "Code", "type": "text", "pattern": "[A-Z]{3}" }
        ]
    }))
    .unwrap()
}

fn form_body(body: &str) -> Result<RawInput, BodyError> {
    parse_body(Some("application/x-www-form-urlencoded"), None, body.as_bytes(), Some(&form()))
}

fn field_error(body: &str, key: &str) -> Option<String> {
    let raw = form_body(body).unwrap();
    validate(Some(&form()), &raw).err().and_then(|e| e.get(key).map(str::to_owned))
}

#[test]
fn a_valid_form_post_becomes_typed_context() {
    let raw = form_body("decision=approve&refund.amount=120.50&note=hi+yo&count=-3&tags=a&tags=c&ok=true&day=2026-02-28&at=2026-11-25T10%3A30&mail=a%40example.com&site=https%3A%2F%2Fexample.com&code=ABC&_submissionId=abc_123").unwrap();
    assert_eq!(raw.submission_id().map(SubmissionId::as_str), Some("abc_123"));
    let context = validate(Some(&form()), &raw).unwrap();
    assert_eq!(
        serde_json::to_value(&context).unwrap(),
        json!({
            "decision": "approve", "refund.amount": 120.5, "note": "hi yo", "count": -3, "tags": ["a", "c"],
            "ok": true, "day": "2026-02-28", "at": "2026-11-25T10:30:00Z", "mail": "a@example.com",
            "site": "https://example.com", "code": "ABC"
        })
    );
}

#[test]
fn keys_that_are_not_fields_never_reach_the_context() {
    let raw = form_body("decision=approve&status=approved&max_uses=99&__proto__=x&constructor=y").unwrap();
    let context = validate(Some(&form()), &raw).unwrap();
    assert_eq!(serde_json::to_value(&context).unwrap(), json!({"decision": "approve", "ok": false}));
}

#[test]
fn a_scalar_field_sent_twice_is_refused() {
    assert_eq!(form_body("decision=approve&decision=reject"), Err(BodyError::DuplicateField("decision".into())));
    assert_eq!(form_body("_submissionId=a&_submissionId=b"), Err(BodyError::DuplicateField("_submissionId".into())));
    assert!(form_body("tags=a&tags=b").is_ok());
}

#[test]
fn invalid_utf8_and_bad_escapes_are_refused_not_replaced() {
    for body in ["note=%FF", "note=%C0%AF", "note=%ED%A0%80", "note=%E2%82"] {
        assert!(matches!(form_body(body), Err(BodyError::InvalidUtf8(_))), "{body}");
    }
    assert!(matches!(form_body("%FF=1"), Err(BodyError::InvalidUtf8(_))));
    assert!(matches!(form_body("note=%G1"), Err(BodyError::Malformed(_))));
    assert!(matches!(form_body("note=%4"), Err(BodyError::Malformed(_))));
}

#[test]
fn content_types_and_charsets() {
    let f = form();
    let parse = |ct: Option<&str>| parse_body(ct, None, b"decision=approve", Some(&f));
    assert!(parse(Some("application/x-www-form-urlencoded; charset=UTF-8")).is_ok());
    assert_eq!(parse(None).unwrap_err().status(), 415);
    assert_eq!(parse(Some("multipart/form-data; boundary=x")).unwrap_err().status(), 415);
    assert_eq!(parse(Some("text/plain")).unwrap_err().status(), 415);
    assert_eq!(parse(Some("application/x-www-form-urlencoded; charset=iso-8859-1")).unwrap_err().status(), 400);
}

#[test]
fn oversize_bodies_and_field_bombs_are_refused() {
    let big = vec![b'a'; MAX_BODY_BYTES + 1];
    assert_eq!(parse_body(Some("application/x-www-form-urlencoded"), None, &big, None), Err(BodyError::TooLarge));
    let bomb = "a=1&".repeat(MAX_PAIRS + 1);
    assert_eq!(parse_urlencoded(bomb.as_bytes()), Err(BodyError::TooManyFields));
}

#[test]
fn json_bodies_take_values_and_the_idempotency_key_header() {
    let body = br#"{"decision":"approve","refund.amount":12.5,"tags":["a","b"],"ok":true,"note":null}"#;
    let raw = parse_body(Some("application/json"), Some(b"key-1"), body, Some(&form())).unwrap();
    assert_eq!(raw.submission_id().map(SubmissionId::as_str), Some("key-1"));
    let context = validate(Some(&form()), &raw).unwrap();
    assert_eq!(
        serde_json::to_value(&context).unwrap(),
        json!({"decision": "approve", "refund.amount": 12.5, "tags": ["a", "b"], "ok": true})
    );
    let dup = br#"{"decision":"approve","decision":"reject"}"#;
    assert!(matches!(parse_json(dup), Err(BodyError::Malformed(m)) if m.contains("more than once")));
    assert!(matches!(parse_json(br#"{"a":{"b":1}}"#), Err(BodyError::Malformed(_))));
    assert!(matches!(parse_json(b"[1]"), Err(BodyError::Malformed(_))));
    assert!(matches!(
        parse_body(Some("application/json"), Some(b"bad key!"), b"{}", None),
        Err(BodyError::BadSubmissionId)
    ));
}

#[test]
fn required_fields_missing_empty_or_blank() {
    for body in ["", "decision=", "decision=+++"] {
        assert_eq!(field_error(body, "decision").as_deref(), Some("This field is required."), "{body:?}");
    }
}

#[test]
fn numbers_are_strict() {
    for bad in [
        "-1",
        "1e309",
        "NaN",
        "Infinity",
        "0x10",
        "%2B5",
        "+5",
        "%205",
        "1001",
        "-0",
        "1.",
        ".",
        "1e",
        "e5",
        "1.5.2",
        "1234567890.1234567",
    ] {
        assert!(field_error(&format!("decision=approve&refund.amount={bad}"), "refund.amount").is_some(), "{bad}");
    }
    for bad in ["9007199254740993", "6", "-6", "1.0", "-0", "+5", "0x10", "1e3"] {
        assert!(field_error(&format!("decision=approve&count={bad}"), "count").is_some(), "{bad}");
    }
    assert!(field_error("decision=approve&count=5&refund.amount=0", "count").is_none());
    for html_number in ["0", ".5", "1e2", "1.5E-1", "007.50", "999.999999999"] {
        assert!(
            field_error(&format!("decision=approve&refund.amount={html_number}"), "refund.amount").is_none(),
            "{html_number}"
        );
    }
}

#[test]
fn a_line_break_counts_as_one_character_as_in_the_browser() {
    let body = format!("decision=approve&note={}", "a%0D%0A".repeat(2));
    assert!(field_error(&body, "note").is_none(), "4 characters, not 6");
    let context = validate(Some(&form()), &form_body(&body).unwrap()).unwrap();
    assert_eq!(serde_json::to_value(&context).unwrap()["note"], json!("a\na\n"));
}

#[test]
fn text_length_counts_characters_not_bytes() {
    assert!(field_error("decision=approve&note=%F0%9F%98%80%F0%9F%98%80%F0%9F%98%80%F0%9F%98%80%F0%9F%98%80", "note")
        .is_none());
    assert_eq!(
        field_error("decision=approve&note=abcdef", "note").as_deref(),
        Some("Use at most 5 characters (you used 6).")
    );
    assert!(field_error("decision=approve&code=ABCD", "code").is_some());
    assert!(field_error("decision=approve&code=abc", "code").is_some());
}

#[test]
fn dates_choices_emails_urls_and_checkboxes() {
    let bad = [
        ("day", "2025-02-30"),
        ("day", "0000-01-01"),
        ("day", "2025-1-1"),
        ("at", "2025-01-01"),
        ("at", "yesterday"),
        ("decision", "maybe"),
        ("tags", "d"),
        ("mail", "not-an-email"),
        ("site", "javascript%3Aalert(1)"),
        ("site", "ftp%3A%2F%2Fexample.com"),
        ("ok", "yes"),
    ];
    for (key, value) in bad {
        let body =
            if key == "decision" { format!("decision={value}") } else { format!("decision=approve&{key}={value}") };
        assert!(field_error(&body, key).is_some(), "{key}={value}");
    }
    assert_eq!(
        field_error("decision=approve&tags=a&tags=a", "tags").as_deref(),
        Some("Choose each option at most once.")
    );
    let raw = form_body("decision=approve&at=2026-11-25T10%3A30%3A00%2B02%3A00").unwrap();
    let context = validate(Some(&form()), &raw).unwrap();
    assert_eq!(serde_json::to_value(&context).unwrap()["at"], json!("2026-11-25T08:30:00Z"));
}

#[test]
fn a_repeat_of_the_same_post_has_the_same_fingerprint() {
    let f = form();
    let a = form_body("decision=approve&note=x&_submissionId=s1").unwrap();
    let b = form_body("note=x&decision=approve&junk=1&_submissionId=s1").unwrap();
    let c = form_body("decision=reject&note=x&_submissionId=s1").unwrap();
    assert_eq!(a.fingerprint(Some(&f)), b.fingerprint(Some(&f)));
    assert_ne!(a.fingerprint(Some(&f)), c.fingerprint(Some(&f)));
    // Stored submissions keep theirs: the bytes hashed are the form's keys in order, each with its values,
    // every length as 8 big-endian bytes.
    let mut stored = sha2::Sha256::new();
    for field in &f.fields {
        let values = a.values(field.key.as_str());
        sha2::Digest::update(&mut stored, (field.key.as_str().len() as u64).to_be_bytes());
        sha2::Digest::update(&mut stored, field.key.as_str().as_bytes());
        sha2::Digest::update(&mut stored, (values.len() as u64).to_be_bytes());
        for value in values {
            sha2::Digest::update(&mut stored, (value.len() as u64).to_be_bytes());
            sha2::Digest::update(&mut stored, value.as_bytes());
        }
    }
    assert_eq!(a.fingerprint(Some(&f)), <[u8; 32]>::from(sha2::Digest::finalize(stored)));
}

#[test]
fn defaults_must_fit_their_field() {
    let parse =
        |field: serde_json::Value| serde_json::from_value::<FormDocument>(json!({"title": "t", "fields": [field]}));
    assert!(parse(json!({"key": "d", "label": "D", "type": "choice", "options": ["a"], "default": "a"})).is_ok());
    let err = parse(json!({"key": "d", "label": "D", "type": "choice", "options": ["a"], "default": "b"})).unwrap_err();
    assert!(err.to_string().contains("formDocument.fields[0].default"), "{err}");
    assert!(parse(json!({"key": "n", "label": "N", "type": "integer", "max": 3, "default": 4})).is_err());
}

proptest! {
    #[test]
    fn the_urlencoded_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_urlencoded(&body);
    }

    #[test]
    fn the_json_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_json(&body);
    }

    #[test]
    fn encoded_values_round_trip(value in "\\PC{0,40}") {
        let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
        let raw = parse_urlencoded(format!("note={encoded}").as_bytes()).unwrap();
        prop_assert_eq!(raw.values("note"), &[value][..]);
    }

    #[test]
    fn validators_never_panic(value in "\\PC{0,30}") {
        let f = form();
        for field in &f.fields {
            let _ = check_field(field, std::slice::from_ref(&value));
        }
    }

    #[test]
    fn canonical_integers_in_range_are_accepted(n in -5i64..=5) {
        let f = form();
        let field = f.field("count").unwrap();
        prop_assert_eq!(check_field(field, &[n.to_string()]), Ok(Some(ContextValue::Scalar(Scalar::Integer(n)))));
    }
}

#[test]
fn a_json_number_out_of_range_reaches_its_field_as_written_and_is_a_field_error() {
    let json = |body: &str| parse_body(Some("application/json"), None, body.as_bytes(), Some(&form()));
    let raw = json(r#"{"refund.amount": 1e400, "count": 12.50, "tags": [1e999, "a"]}"#).unwrap();
    assert_eq!(raw.values("refund.amount"), ["1e400"]);
    assert_eq!(raw.values("count"), ["12.50"], "as written, not re-printed");
    assert_eq!(raw.values("tags"), ["1e999", "a"]);
    let errors = validate(Some(&form()), &raw).unwrap_err();
    assert_eq!(errors.get("refund.amount"), Some("Enter a smaller number."));
    assert_eq!(errors.get("count"), Some("Enter a whole number, like 42."));
    assert!(matches!(json(r#"{"refund.amount": 1e}"#), Err(BodyError::Malformed(_))), "the grammar still holds");
    assert!(matches!(json(r#"{"note": {"a": 1}}"#), Err(BodyError::Malformed(_))));
    assert!(matches!(json(r#"{"note": "a", "note": "b"}"#), Err(BodyError::Malformed(_))));
}

#[test]
fn a_non_utf8_idempotency_key_and_disagreeing_ids_are_refused_by_name() {
    let parse = |key: &[u8], body: &str| {
        parse_body(Some("application/x-www-form-urlencoded"), Some(key), body.as_bytes(), Some(&form()))
    };
    assert_eq!(parse(b"k\xff1", "decision=approve"), Err(BodyError::IdempotencyKeyNotUtf8));
    assert_eq!(parse(b"k1", "decision=approve&_submissionId=k2"), Err(BodyError::SubmissionIdMismatch));
    let same = parse(b" k1 ", "decision=approve&_submissionId=k1").unwrap();
    assert_eq!(same.submission_id().map(SubmissionId::as_str), Some("k1"));
    assert_eq!(BodyError::IdempotencyKeyNotUtf8.status(), 400);
    assert!(BodyError::SubmissionIdMismatch.to_string().contains("Idempotency-Key"));
}
