//! What a creation refuses because a continuation of it could never be queued: its context, and a
//! quorum's worst-case deciding continuation.

use crate::domain::context::Context;
use crate::domain::continuation::{Continuation, Verdict, MAX_MESSAGE_BYTES};
use crate::domain::error::ConfigError;
use crate::domain::field::{FieldKind, LARGEST_JSON_CHAR, MAX_TEXT_CHARS};
use crate::domain::id::{SubmissionId, MAX_SUBMISSION_ID_CHARS};
use crate::domain::model::{Intervention, Quorum, Submission};

/// Refuses an intervention whose continuation could never be sent: its run context (with the `onTimeout`
/// defaults, or with no input at all) is already over SQS's message size.
pub fn check_sendable(intervention: &Intervention) -> Result<(), ConfigError> {
    let mut probe = Submission::probe(intervention.id);
    probe.reviewer_id = intervention.reviewers.iter().map(|r| r.id.clone()).max_by_key(String::len);
    let probes = [
        Some(Continuation::for_submission(intervention, &probe)),
        Continuation::for_timeout(intervention),
        Continuation::for_reminder(intervention),
    ];
    for probe in probes.into_iter().flatten() {
        let bytes = probe.message_bytes().map_err(|e| ConfigError::new("context", e.to_string()))?;
        if bytes > MAX_MESSAGE_BYTES {
            return Err(ConfigError::new(
                "context",
                format!(
                    "makes a continuation of {bytes} bytes before any input; a continuation message carries at most {MAX_MESSAGE_BYTES} (SQS's limit)"
                ),
            ));
        }
    }
    check_quorum_sendable(intervention)
}

/// Refuses a quorum whose deciding continuation could outgrow a message: it carries every vote's input,
/// and once stored votes fill it no vote could decide (each would be refused as too large). Sized by
/// building that continuation at its worst: every voter answering with the largest input the form allows.
fn check_quorum_sendable(intervention: &Intervention) -> Result<(), ConfigError> {
    let (Some(quorum), Some(form)) = (&intervention.quorum, &intervention.form) else { return Ok(()) };
    let limits: Vec<Option<usize>> = form.fields.iter().map(|f| f.max_chars()).collect();
    let bytes = worst_decision_bytes(intervention, quorum, &limits)?;
    if bytes <= MAX_MESSAGE_BYTES {
        return Ok(());
    }
    let voters = intervention.voters();
    let worst = format!(
        "with {voters} voters each answering with the largest input the form allows, the deciding continuation (every vote's input) could be {bytes} bytes; a continuation message carries at most {MAX_MESSAGE_BYTES} (SQS's limit)"
    );
    // The text field that allows the most is the one to shorten: the longest maxLength that fits, the
    // other fields as they are (found by building the continuation again, so it is what would be sent).
    let longest =
        limits.iter().enumerate().filter_map(|(i, l)| l.map(|l| (i, l))).max_by_key(|&(i, l)| (l, usize::MAX - i));
    if let Some((i, current)) = longest {
        let fits = |chars: usize| -> Result<bool, ConfigError> {
            let mut shorter = limits.clone();
            shorter[i] = Some(chars);
            Ok(worst_decision_bytes(intervention, quorum, &shorter)? <= MAX_MESSAGE_BYTES)
        };
        if fits(1)? {
            let (mut low, mut high) = (1, current);
            while high - low > 1 {
                let middle = low + (high - low) / 2;
                if fits(middle)? {
                    low = middle;
                } else {
                    high = middle;
                }
            }
            let field = &form.fields[i];
            let now = match &field.kind {
                FieldKind::Text { max_length: Some(m), .. } => format!("its maxLength {m}"),
                _ => format!("no maxLength, so {current}"),
            };
            return Err(ConfigError::new(
                format!("formDocument.fields[{i}].maxLength"),
                format!(
                    "{worst}; `{}` allows {now} characters, each up to {} bytes as JSON: set maxLength to at most {low}, or name fewer reviewers",
                    field.key,
                    serde_json::to_string(&LARGEST_JSON_CHAR.to_string()).map_or(0, |j| j.len() - 2),
                ),
            ));
        }
    }
    Err(ConfigError::new("quorum", format!("{worst}: name fewer reviewers, or make the context or the form smaller")))
}

/// The size of a quorum's deciding continuation at its worst: every voter (the requester excepted) with
/// the longest submission id and the largest input the form allows (text field `i` at `limits[i]`
/// characters), the longer verdict.
fn worst_decision_bytes(
    intervention: &Intervention,
    quorum: &Quorum,
    limits: &[Option<usize>],
) -> Result<usize, ConfigError> {
    // The form as it would be with these limits: the continuation's `shown` document names each maxLength.
    // (Its decision digest stays the one made at creation: only the size is wanted, and that is the same.)
    let mut intervention = intervention.clone();
    // The document kept at creation is the form as it is: written again from the changed one.
    intervention.kept_shown = None;
    let mut input = Context::default();
    for (field, limit) in intervention.form.iter_mut().flat_map(|f| &mut std::sync::Arc::make_mut(f).fields).zip(limits)
    {
        if let (FieldKind::Text { max_length, .. }, Some(limit)) = (&mut field.kind, limit) {
            if max_length.is_some() || *limit != MAX_TEXT_CHARS {
                *max_length = Some(*limit as u32);
            }
        }
        input.insert(field.key.clone(), field.largest_value(limit.unwrap_or(0)));
    }
    let intervention = &intervention;
    let longest_id = SubmissionId::parse(&"x".repeat(MAX_SUBMISSION_ID_CHARS))
        .ok_or_else(|| ConfigError::new("quorum", "no submission id of the longest length"))?;
    let votes: Vec<Submission> = intervention
        .reviewers
        .iter()
        .filter(|r| intervention.requested_by.as_ref() != Some(&r.id))
        .map(|r| Submission {
            submission_id: longest_id.clone(),
            input: input.clone(),
            reviewer_id: Some(r.id.clone()),
            ..Submission::probe(intervention.id)
        })
        .collect();
    let Some(deciding) = votes.iter().max_by_key(|v| v.reviewer_id.as_ref().map_or(0, String::len)) else {
        return Ok(0);
    };
    let mut most = 0;
    for verdict in [Verdict::Approved, Verdict::Rejected] {
        let continuation = Continuation::for_decision(intervention, deciding, &votes, &quorum.field, verdict);
        most = most.max(continuation.message_bytes().map_err(|e| ConfigError::new("quorum", e.to_string()))?);
    }
    Ok(most)
}
