//! One field of the form as its controls: a checkbox, a group of radios or checkboxes, a drop-down, a
//! textarea or a one-line input, each with its label, hint and error message tied to it.

use maud::{html, Markup, PreEscaped};

use crate::domain::field::{Field, FieldKind, MAX_TEXT_CHARS};
use crate::web::pages::input::{datetime_local, holds, InputAttrs};

/// Most options a single choice shows as radio buttons; more become a drop-down.
const MAX_RADIO_OPTIONS: usize = 5;

/// One field as the reviewer sees it now.
#[derive(Debug, Clone)]
pub struct FieldView<'a> {
    /// The field's definition.
    pub field: &'a Field,
    /// Current value(s), as typed or prefilled (several only for a multiple choice; boolean: "true" is checked).
    pub values: Vec<String>,
    /// The message shown at this field.
    pub error: Option<String>,
}

/// How a field is laid out.
enum Shape<'f> {
    /// A label above one control.
    Single,
    /// A checkbox with its label beside it.
    Checkbox,
    /// A fieldset of radio buttons (`multiple: false`) or checkboxes.
    Group { options: &'f [String], multiple: bool },
    /// A drop-down.
    Select { options: &'f [String] },
}

fn shape(field: &Field) -> Shape<'_> {
    match &field.kind {
        FieldKind::Boolean => Shape::Checkbox,
        FieldKind::Choice { options, multiple: true } => Shape::Group { options, multiple: true },
        FieldKind::Choice { options, multiple: false } if options.len() <= MAX_RADIO_OPTIONS => {
            Shape::Group { options, multiple: false }
        }
        FieldKind::Choice { options, .. } => Shape::Select { options },
        _ => Shape::Single,
    }
}

/// The element the error summary links to: the control itself, or a group's first option.
pub(super) fn focus_id(index: usize, field: &Field) -> String {
    match shape(field) {
        Shape::Group { .. } => format!("f-{index}-0"),
        _ => format!("f-{index}"),
    }
}

/// The field at position `index`, laid out by its shape.
pub(super) fn field(index: usize, view: &FieldView) -> Markup {
    let control = Control::of(index, view);
    match shape(view.field) {
        Shape::Checkbox => checkbox(&control),
        Shape::Group { options, multiple } => group(&control, options, multiple),
        Shape::Select { options } => select(&control, options),
        Shape::Single => single(&control),
    }
}

/// What every layout of one field shares: its ids, its current values and the hint and error tied to it.
struct Control<'v> {
    field: &'v Field,
    values: &'v [String],
    /// Ids come from the position, never from author text.
    id: String,
    /// The ids of the hint and the error, when there are any.
    described_by: Option<String>,
    /// `aria-invalid`, set only on a field with an error.
    invalid: Option<&'static str>,
    hint: Markup,
    error: Markup,
}

impl<'v> Control<'v> {
    fn of(index: usize, view: &'v FieldView) -> Self {
        let field = view.field;
        let id = format!("f-{index}");
        // Only the ids that are used: every page view renders every field.
        let help_id = field.help.as_ref().map(|_| format!("{id}-help"));
        let error_id = view.error.as_ref().map(|_| format!("{id}-error"));
        let described_by = match (&help_id, &error_id) {
            (Some(help), Some(error)) => Some(format!("{help} {error}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        let hint = match (&field.help, &help_id) {
            (Some(help), Some(help_id)) => html! { p.hint id=(help_id) { (help) } },
            _ => PreEscaped(String::new()),
        };
        let error = match (&view.error, &error_id) {
            (Some(error), Some(error_id)) => {
                html! { p.error-message id=(error_id) { span.visually-hidden { "Error: " } (error) } }
            }
            _ => PreEscaped(String::new()),
        };
        let invalid = view.error.as_ref().map(|_| "true");
        Self { field, values: &view.values, id, described_by, invalid, hint, error }
    }

    fn key(&self) -> &'v str {
        self.field.key.as_str()
    }

    /// The first current value, or "".
    fn first(&self) -> &'v str {
        self.values.first().map(String::as_str).unwrap_or("")
    }

    /// Whether `option` is among the current values.
    fn has(&self, option: &str) -> bool {
        self.values.iter().any(|v| v == option)
    }
}

/// A boolean: one checkbox, its label beside it.
fn checkbox(c: &Control) -> Markup {
    let field = c.field;
    html! {
        div.field.field-invalid[c.invalid.is_some()] {
            (c.error)
            div.choice {
                input type="checkbox" id=(c.id) name=(c.key()) value="true" checked[c.has("true")] required[field.required]
                    aria-describedby=[c.described_by.as_deref()] aria-invalid=[c.invalid];
                label for=(c.id) { (label_text(field)) }
            }
            (c.hint)
        }
    }
}

/// A choice shown whole: a fieldset of radio buttons, or of checkboxes when several may be chosen.
fn group(c: &Control, options: &[String], multiple: bool) -> Markup {
    let field = c.field;
    html! {
        fieldset.field.field-invalid[c.invalid.is_some()] aria-describedby=[c.described_by.as_deref()] {
            legend { (label_text(field)) }
            (c.hint)
            (c.error)
            div.choices {
                @for (j, option) in options.iter().enumerate() {
                    @let option_id = format!("{}-{j}", c.id);
                    div.choice {
                        // `required` on checkboxes would demand every one be ticked, so only radios get it.
                        input type=(if multiple { "checkbox" } else { "radio" }) id=(option_id) name=(c.key()) value=(option)
                            checked[c.has(option)] required[field.required && !multiple] aria-invalid=[c.invalid];
                        label for=(option_id) { (field.option_label(option)) }
                    }
                }
            }
        }
    }
}

/// A single choice with too many options for radio buttons: a drop-down.
fn select(c: &Control, options: &[String]) -> Markup {
    let field = c.field;
    let first = c.first();
    html! {
        div.field.field-invalid[c.invalid.is_some()] {
            label for=(c.id) { (label_text(field)) }
            (c.hint)
            (c.error)
            select id=(c.id) name=(c.key()) required[field.required] aria-describedby=[c.described_by.as_deref()] aria-invalid=[c.invalid] {
                // Without a current choice a required select starts empty too, so nothing is chosen by accident.
                @if !field.required || !options.iter().any(|o| o == first) {
                    option value="" { "Choose…" }
                }
                @for option in options {
                    option value=(option) selected[option == first] { (field.option_label(option)) }
                }
            }
        }
    }
}

/// A label above one control: a textarea for multiline text, else a one-line input.
fn single(c: &Control) -> Markup {
    html! {
        div.field.field-invalid[c.invalid.is_some()] {
            label for=(c.id) { (label_text(c.field)) }
            (c.hint)
            (c.error)
            @match &c.field.kind {
                FieldKind::Text { multiline: true, min_length, max_length, .. } => {
                    (textarea(c, *min_length, *max_length))
                }
                kind => { (input(c, kind)) }
            }
        }
    }
}

fn textarea(c: &Control, min_length: Option<u32>, max_length: Option<u32>) -> Markup {
    html! {
        // The parser drops one newline straight after `<textarea>`; this one, so a value's own survives.
        textarea id=(c.id) name=(c.key()) rows="5" minlength=[min_length] maxlength=(max_length.unwrap_or(MAX_TEXT_CHARS as u32))
            required[c.field.required] aria-describedby=[c.described_by.as_deref()] aria-invalid=[c.invalid] { "\n" (c.first()) }
    }
}

fn input(c: &Control, kind: &FieldKind) -> Markup {
    let a = InputAttrs::of(kind);
    let first = c.first();
    let value = if matches!(kind, FieldKind::DateTime) { datetime_local(first) } else { first.to_owned() };
    // A typed control blanks a value it cannot hold (`12x` in a number, `2026-13-45` in a date): such a
    // value is shown in a text input, as typed, beside its error.
    let kind_shown = if holds(a.kind, &value) { a.kind } else { "text" };
    html! {
        input type=(kind_shown) id=(c.id) name=(c.key()) value=(value)
            step=[a.step] inputmode=[a.inputmode] min=[a.min] max=[a.max] minlength=[a.min_length] maxlength=[a.max_length]
            pattern=[a.pattern] autocomplete=[a.autocomplete] required[c.field.required]
            aria-describedby=[c.described_by.as_deref()] aria-invalid=[c.invalid];
    }
}

fn label_text(field: &Field) -> Markup {
    html! {
        (field.label)
        @if matches!(field.kind, FieldKind::DateTime) { " (UTC)" }
        @if field.required { " " span.required { "(required)" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::form::FormDocument;
    use serde_json::json;

    #[test]
    fn a_value_a_typed_control_would_blank_is_shown_in_a_text_input_as_typed() {
        for (kind, kept, blanked) in [
            (
                "number",
                ["12", "-0.5", "1e3", ".5", ""].as_slice(),
                ["12x", "1,5", "+5", "0x10", "1e", "Infinity"].as_slice(),
            ),
            ("date", &["2026-02-28", "2024-02-29"], &["2026-13-45", "2025-02-29", "26-01-01", "2026-1-01"]),
            (
                "datetime-local",
                &["2026-11-25T10:00", "2026-11-25T10:00:59.123"],
                &["2026-11-25 10:00", "2026-11-25T24:00", "2026-13-01T10:00"],
            ),
        ] {
            for value in kept {
                assert!(holds(kind, value), "{kind} keeps {value:?}");
            }
            for value in blanked {
                assert!(!holds(kind, value), "{kind} blanks {value:?}");
            }
        }
        let form: FormDocument = serde_json::from_value(json!({"title": "T", "fields": [
            {"key": "n", "label": "N", "type": "integer"}, {"key": "d", "label": "D", "type": "date"}
        ]}))
        .unwrap();
        let views: Vec<FieldView> = form
            .fields
            .iter()
            .zip(["12x", "2026-13-45"])
            .map(|(field, value)| FieldView { field, values: vec![value.to_owned()], error: Some("Bad.".into()) })
            .collect();
        let html = field(0, &views[0]).into_string() + &field(1, &views[1]).into_string();
        assert!(html.contains(r#"type="text" id="f-0" name="n" value="12x""#), "{html}");
        assert!(html.contains(r#"type="text" id="f-1" name="d" value="2026-13-45""#), "{html}");
        let good = FieldView { field: &form.fields[0], values: vec!["12".into()], error: None };
        assert!(field(0, &good).into_string().contains(r#"type="number""#));
    }
}
