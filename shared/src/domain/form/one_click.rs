//! Which forms can be answered in one click, and which field a message's buttons choose.
//!
//! A form is one-click when its only required field is a single choice: choosing an option is then a
//! complete answer, so each option can have a link of its own (the option signed into the token) that opens
//! a confirm page. Any other required field (a required boolean must be ticked) needs the form.

use crate::domain::field::{Field, FieldKind};
use crate::domain::form::FormDocument;

/// One option of a one-click form: its index (what a one-click link signs), its value and what the
/// reviewer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneClickOption<'a> {
    /// The option's position in the field's options (the token's option byte).
    pub index: u8,
    /// The value submitted.
    pub value: &'a str,
    /// What the reviewer reads: the option's label, else its value.
    pub label: &'a str,
}

fn single_choice_options(field: &Field) -> Option<&[String]> {
    match &field.kind {
        FieldKind::Choice { options, multiple: false } => Some(options),
        _ => None,
    }
}

impl FormDocument {
    /// The field a one-click link answers: `Some` when the form's one required field is a single choice
    /// and every other field is optional; `None` otherwise (the form is needed).
    pub fn one_click_field(&self) -> Option<&Field> {
        let mut required = self.fields.iter().filter(|f| f.required);
        let field = required.next()?;
        let options = single_choice_options(field)?;
        // An index is one byte; forms hold at most MAX_OPTIONS (200), so this only guards the invariant.
        (required.next().is_none() && options.len() <= usize::from(u8::MAX) + 1).then_some(field)
    }

    /// The one-click form's options as (index, value, label), in the field's order; empty for a form that
    /// is not one-click.
    pub fn one_click_options(&self) -> Vec<OneClickOption<'_>> {
        let Some(field) = self.one_click_field() else { return Vec::new() };
        single_choice_options(field)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter_map(|(i, value)| {
                Some(OneClickOption { index: u8::try_from(i).ok()?, value, label: field.option_label(value) })
            })
            .collect()
    }

    /// The one-click field and the value of its option at `index`: what a one-click link decides. `None`
    /// when the form is not one-click or has no such option (that link was never issued).
    pub fn one_click_option(&self, index: u8) -> Option<(&Field, &str)> {
        let field = self.one_click_field()?;
        let value = single_choice_options(field)?.get(usize::from(index))?;
        Some((field, value.as_str()))
    }

    /// The field a message's buttons choose and `?option=` preselects on the form: the one-click field,
    /// else the form's first single choice.
    pub fn button_field(&self) -> Option<&Field> {
        self.one_click_field().or_else(|| self.fields.iter().find(|f| single_choice_options(f).is_some()))
    }

    /// `value` as a choice of [`Self::button_field`]: that field and the option, if it is one of its options.
    pub fn preselect(&self, value: &str) -> Option<(&Field, &str)> {
        let field = self.button_field()?;
        let option = single_choice_options(field)?.iter().find(|o| *o == value)?;
        Some((field, option.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::domain::form::FormDocument;

    fn form(fields: Value) -> FormDocument {
        serde_json::from_value(json!({"title": "T", "fields": fields})).unwrap()
    }

    fn decision(required: bool) -> Value {
        json!({"key": "decision", "label": "Decision", "type": "choice", "required": required,
               "options": [{"value": "approve", "label": "Approve"}, "reject"]})
    }

    #[test]
    fn one_required_single_choice_with_optional_fields_is_one_click() {
        let note = json!({"key": "note", "label": "Note", "type": "text"});
        let flag = json!({"key": "flag", "label": "Flag", "type": "boolean"});
        let form = form(json!([note, decision(true), flag]));
        assert_eq!(form.one_click_field().map(|f| f.key.as_str()), Some("decision"));
        let options: Vec<_> = form.one_click_options().iter().map(|o| (o.index, o.value, o.label)).collect();
        assert_eq!(options, [(0, "approve", "Approve"), (1, "reject", "reject")]);
        assert_eq!(form.one_click_option(1).map(|(f, v)| (f.key.as_str(), v)), Some(("decision", "reject")));
        assert!(form.one_click_option(2).is_none());
        assert_eq!(form.preselect("reject").map(|(_, v)| v), Some("reject"));
        assert!(form.preselect("maybe").is_none());
    }

    #[test]
    fn any_other_required_field_or_a_multiple_or_optional_choice_needs_the_form() {
        let ticked = json!({"key": "sure", "label": "Sure", "type": "boolean", "required": true});
        let text = json!({"key": "why", "label": "Why", "type": "text", "required": true});
        let multiple = json!({"key": "tags", "label": "Tags", "type": "choice", "options": ["a", "b"],
                              "multiple": true, "required": true});
        let second = json!({"key": "other", "label": "Other", "type": "choice", "options": ["x"], "required": true});
        for fields in [
            json!([decision(true), ticked]),
            json!([text, decision(true)]),
            json!([multiple]),
            json!([decision(false)]),
            json!([decision(true), second]),
            json!([]),
        ] {
            let form = form(fields.clone());
            assert!(form.one_click_field().is_none(), "{fields}");
            assert!(form.one_click_options().is_empty(), "{fields}");
            assert!(form.one_click_option(0).is_none(), "{fields}");
        }
        // Not one-click, yet its buttons still choose its first single choice (opening the form).
        let form = form(json!([decision(false), ticked]));
        assert_eq!(form.button_field().map(|f| f.key.as_str()), Some("decision"));
        assert_eq!(form.preselect("approve").map(|(_, v)| v), Some("approve"));
    }
}
