//! Any body, under each content type, against a form with every field type: never a panic, and only the
//! form's fields ever reach the context.
#![no_main]

use std::sync::OnceLock;

use human_intervention::domain::form::FormDocument;
use human_intervention::domain::input::{parse_body, validate};
use libfuzzer_sys::fuzz_target;

fn form() -> &'static FormDocument {
    static FORM: OnceLock<FormDocument> = OnceLock::new();
    FORM.get_or_init(|| {
        serde_json::from_value(serde_json::json!({
            "title": "Every type",
            "fields": [
                { "key": "t", "label": "T", "type": "text", "maxLength": 20, "pattern": "[a-z ]*" },
                { "key": "m", "label": "M", "type": "text", "multiline": true },
                { "key": "i", "label": "I", "type": "integer", "min": -10, "max": 10 },
                { "key": "d", "label": "D", "type": "decimal", "min": 0, "max": 1000 },
                { "key": "b", "label": "B", "type": "boolean" },
                { "key": "c", "label": "C", "type": "choice", "options": ["x", "y"] },
                { "key": "cm", "label": "CM", "type": "choice", "options": ["x", "y", "z"], "multiple": true },
                { "key": "day", "label": "Day", "type": "date" },
                { "key": "at", "label": "At", "type": "datetime" },
                { "key": "e", "label": "E", "type": "email" },
                { "key": "u", "label": "U", "type": "url" }
            ]
        }))
        .expect("the fuzz form parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let content_type = match selector % 3 {
        0 => "application/x-www-form-urlencoded",
        1 => "application/json",
        _ => "application/x-www-form-urlencoded; charset=utf-8",
    };
    let Ok(raw) = parse_body(Some(content_type), None, body, Some(form())) else { return };
    let _ = raw.fingerprint(Some(form()));
    if let Ok(context) = validate(Some(form()), &raw) {
        for (key, _) in context.iter() {
            assert!(form().field(key.as_str()).is_some(), "{key} is not a field");
        }
    }
});
