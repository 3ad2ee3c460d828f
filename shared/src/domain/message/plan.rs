//! Which messages an intervention sends and when they are recorded: its requests at creation, again for an
//! operator's re-send or extension, and its reminders.

use super::{Message, MessageKind, MessageLinks, Notify};
use crate::domain::model::Intervention;
use crate::domain::time::Timestamp;

/// Whom the requests go to: the single link's `notify`, or each reviewer's but the requester's.
fn targets(intervention: &Intervention) -> Vec<(Option<usize>, &Notify)> {
    let mut targets: Vec<(Option<usize>, &Notify)> = Vec::new();
    if let Some(notify) = &intervention.notify {
        targets.push((None, notify));
    }
    for (index, reviewer) in intervention.reviewers.iter().enumerate() {
        if let Some(notify) = &reviewer.notify {
            if !intervention.is_requester(index) {
                targets.push((Some(index), notify));
            }
        }
    }
    targets
}

/// The messages a new intervention sends: one per channel named by each `notify` (the single link's, or
/// each reviewer's but the requester's), with the links `links` signs for that reviewer.
pub fn plan_requests(
    intervention: &Intervention,
    links: impl Fn(Option<usize>) -> MessageLinks,
    now: Timestamp,
) -> Vec<Message> {
    let chosen = targets(intervention).into_iter().map(|(reviewer, notify)| (reviewer, notify, links(reviewer)));
    requests(intervention, chosen, |n| format!("{}.r{n}", intervention.id), now)
}

/// One request message per channel of each target, numbered in order by `id`.
fn requests<'a>(
    intervention: &Intervention,
    chosen: impl IntoIterator<Item = (Option<usize>, &'a Notify, MessageLinks)>,
    id: impl Fn(usize) -> String,
    now: Timestamp,
) -> Vec<Message> {
    let mut messages = Vec::new();
    for (reviewer, notify, links) in chosen {
        for (channel, to) in notify.channels() {
            let message = Message::recorded(
                id(messages.len()),
                intervention.id,
                MessageKind::Request,
                reviewer,
                channel,
                to,
                links.clone(),
                now,
            );
            messages.push(message);
        }
    }
    messages
}

/// Whom an operator sends the links again: one target (`None`: the single link), and, if corrected, the
/// channels it is sent on instead of those it was created with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resend<'a> {
    /// Only this target (`Some(None)`: the single link's recipients); every pending one otherwise.
    pub only: Option<Option<usize>>,
    /// The corrected channels of `only`.
    pub notify: Option<&'a Notify>,
}

/// The requests again, as an operator's re-send or extend records them (ids `<interventionId>.<tag>-<n>`):
/// to every target still pending at the read (a reviewer who answered is left out), or only `resend.only`,
/// on its corrected channels if given; each with the links `links` gives for its reviewer (a target with
/// none is left out).
pub fn plan_again(
    intervention: &Intervention,
    links: impl Fn(Option<usize>) -> Option<MessageLinks>,
    resend: Resend<'_>,
    tag: &str,
    now: Timestamp,
) -> Vec<Message> {
    let mut chosen = targets(intervention);
    if let Some(only) = resend.only {
        chosen.retain(|(reviewer, _)| *reviewer == only);
        if let Some(notify) = resend.notify {
            chosen = vec![(only, notify)];
        }
    }
    let pending =
        chosen.into_iter().filter(|(reviewer, _)| !reviewer.is_some_and(|i| intervention.reviewed.contains(&i)));
    let linked = pending.filter_map(|(reviewer, notify)| Some((reviewer, notify, links(reviewer)?)));
    requests(intervention, linked, |n| format!("{}.{tag}-{n}", intervention.id), now)
}

/// The reminder's messages: each request message to a reminded reviewer who has not answered, again (the
/// same channels and links), recorded with the reminder.
pub fn plan_reminders(intervention: &Intervention, requests: &[Message], now: Timestamp) -> Vec<Message> {
    let Some(remind) = &intervention.remind else { return Vec::new() };
    let reminded = |index: usize| {
        remind.to.iter().any(|id| intervention.reviewer_index(id) == Some(index))
            && !intervention.reviewed.contains(&index)
    };
    requests
        .iter()
        .filter(|m| m.kind == MessageKind::Request && m.reviewer.is_some_and(reminded))
        .enumerate()
        .map(|(n, request)| {
            let id = format!("{}.m{n}", intervention.id);
            let (to, links) = (request.to.clone(), request.links.clone());
            Message::recorded(
                id,
                request.intervention_id,
                MessageKind::Reminder,
                request.reviewer,
                request.channel,
                to,
                links,
                now,
            )
        })
        .collect()
}
