//! The links a reviewer is sent: the link to the form, and a message's buttons — each option's one-click
//! link where the form is one-click, else the form link with that option chosen (`?option=`). Written
//! once here, so the creation output, reminders and every channel's message carry the same links.

use super::Service;
use crate::domain::model::Intervention;
use crate::domain::token::LinkKeys;

/// One button of a message: an option and the link it opens (never one that decides on opening).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionLink {
    /// The option's value (what is submitted).
    pub value: String,
    /// What the reviewer reads: the option's label, else its value.
    pub label: String,
    /// The link: a one-click link (its confirm page), or the form link with `?option=<value>`.
    pub url: String,
    /// Whether `url` is a one-click link.
    pub one_click: bool,
}

/// The link to the form of the single link (`reviewer` `None`) or of the reviewer at that index.
pub(super) fn form_url(base_url: &str, keys: &LinkKeys, intervention: &Intervention, reviewer: Option<u8>) -> String {
    let (id, at) = (&intervention.id, intervention.expires_at);
    let token = match reviewer {
        None => keys.sign(id, at),
        Some(index) => keys.sign_for_reviewer(id, at, index),
    };
    format!("{base_url}/i/{token}")
}

/// The buttons of the single link's (or a reviewer's) message: one per option of the form's button field.
fn option_urls(base_url: &str, keys: &LinkKeys, intervention: &Intervention, reviewer: Option<u8>) -> Vec<OptionLink> {
    let Some(form) = intervention.form.as_deref() else { return Vec::new() };
    let one_click = form.one_click_options();
    if !one_click.is_empty() {
        let (id, at) = (&intervention.id, intervention.expires_at);
        return one_click
            .into_iter()
            .map(|option| OptionLink {
                value: option.value.to_owned(),
                label: option.label.to_owned(),
                url: format!("{base_url}/i/{}", keys.sign_option(id, at, reviewer, option.index)),
                one_click: true,
            })
            .collect();
    }
    let Some(field) = form.button_field() else { return Vec::new() };
    let form_link = form_url(base_url, keys, intervention, reviewer);
    let options = match &field.kind {
        crate::domain::field::FieldKind::Choice { options, .. } => options.as_slice(),
        _ => &[],
    };
    options
        .iter()
        .map(|value| OptionLink {
            value: value.clone(),
            label: field.option_label(value).to_owned(),
            url: format!(
                "{form_link}?option={}",
                url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            ),
            one_click: false,
        })
        .collect()
}

impl Service {
    /// The buttons of the message to the single link's recipients (`reviewer` `None`) or to the reviewer at
    /// that index: each option's one-click link where the form is one-click, else the form link with the
    /// option chosen; empty without a single choice to offer, or on a service without link keys.
    pub fn option_links(&self, intervention: &Intervention, reviewer: Option<u8>) -> Vec<OptionLink> {
        match &self.keys {
            Some(keys) => option_urls(&self.base_url, keys, intervention, reviewer),
            None => Vec::new(),
        }
    }

    /// The link to the form of the single link (`reviewer` `None`) or of the reviewer at that index, as the
    /// creation output gives it; `None` on a service without link keys.
    pub fn form_link(&self, intervention: &Intervention, reviewer: Option<u8>) -> Option<String> {
        Some(form_url(&self.base_url, self.keys.as_ref()?, intervention, reviewer))
    }
}
