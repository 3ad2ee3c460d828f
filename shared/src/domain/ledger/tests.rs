use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;
use crate::domain::canonical::EXACT_INTEGER;
use crate::domain::id::hex;

const ENV: &str = "env-1";

fn id(n: u8) -> InterventionId {
    InterventionId::from_bytes([n; 16])
}

/// A chain of `len` entries on intervention `n`, one second apart.
fn chain(n: u8, len: usize) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for k in 0..len {
        let kind = [EntryKind::Vote, EntryKind::Submission, EntryKind::Decision][k % 3];
        let decided = Decided {
            submission_id: Some(format!("s{k}")),
            reviewer_id: Some(format!("r{k}@example.com")),
            continuation_id: Some(format!("{}:s{k}", id(n))),
            vote: Some(Vote::Approve),
            verdict: (kind == EntryKind::Decision).then_some(Verdict::Approved),
            // An operator's who and why on some entries: covered by the digest like every field.
            by: (k % 2 == 0).then(|| "arn:aws:iam::123456789012:user/ops".to_owned()),
            reason: (k % 4 == 0).then(|| "the link went to the wrong person".to_owned()),
            // An extend's new expiry, likewise.
            expires_at: (k % 3 == 1).then(|| Timestamp::from_millis(1_795_700_000_000)),
        };
        let at = Timestamp::from_millis(1_795_600_800_000 + k as i64 * 1000);
        entries.push(Entry::after(entries.last().map(Entry::head).as_ref(), ENV, id(n), kind, at, decided));
    }
    entries
}

/// A link's `uses` accepted submissions on intervention `n`, each in its lane.
fn lanes(n: u8, uses: usize) -> Vec<Entry> {
    (0..uses)
        .map(|k| {
            let decided = Decided { submission_id: Some(format!("u{k}")), ..Decided::default() };
            let at = Timestamp::from_millis(1_795_600_800_000);
            Entry::in_lane(ENV, id(n), &format!("u{k}"), EntryKind::Submission, at, decided)
        })
        .collect()
}

/// An export of chains of these lengths (interventions 1, 2, …), every third intervention's entries in
/// lanes instead (a multi-use link's submissions).
fn export(lengths: &[usize]) -> String {
    let entries: Vec<Entry> = lengths
        .iter()
        .enumerate()
        .flat_map(|(n, len)| if n % 3 == 2 { lanes(n as u8 + 1, *len) } else { chain(n as u8 + 1, *len) })
        .collect();
    let checkpoint = Checkpoint::after(None, ENV, &entries, Timestamp::from_millis(1_795_700_000_000));
    export_lines(&entries, &checkpoint)
}

fn first_problem(text: &str) -> Problem {
    verify(text).expect_err("tampering must be detected").remove(0)
}

#[test]
fn the_digest_is_sha256_of_the_canonical_json_without_the_digest() {
    let entry = &chain(1, 1)[0];
    let canonical = format!(
        r#"{{"at":"2026-11-25T10:00:00.000Z","by":"arn:aws:iam::123456789012:user/ops","continuationId":"{id}:s0","environmentId":"env-1","interventionId":"{id}","kind":"vote","prev":"{prev}","reason":"the link went to the wrong person","reviewerId":"r0@example.com","seq":0,"submissionId":"s0","vote":"approve"}}"#,
        id = id(1),
        prev = genesis(ENV, &id(1).to_string(), ""),
    );
    assert_eq!(entry.digest, format!("sha256:{}", hex(&Sha256::digest(canonical.as_bytes()))));
    // Key order and whitespace do not matter: the canonical form decides.
    let reordered: Value = serde_json::from_str(&format!(" {{ \"seq\" : 0 , {} ", &canonical[1..])).unwrap();
    assert_eq!(digest_of(&reordered), entry.digest);
}

#[test]
fn an_entry_is_digested_as_its_json_line_is() {
    let odd = "r\u{1}\"é\u{1F600}\u{FFFD}";
    let decided = || Decided { reviewer_id: Some(odd.into()), verdict: Some(Verdict::Rejected), ..Decided::default() };
    let at = Timestamp::from_millis(1_795_600_800_000);
    let far = Head { seq: EXACT_INTEGER + 7, digest: "sha256:x".into() };
    let mut entries = chain(1, 4);
    entries.extend(lanes(2, 2));
    entries.push(Entry::in_lane(odd, id(3), odd, EntryKind::Unknown, at, decided()));
    entries.push(Entry::after(Some(&far), ENV, id(4), EntryKind::Cancel, at, decided()));
    for entry in &entries {
        assert_eq!(entry.digest, digest_of(&entry.to_value()), "{entry:?}");
    }
    for lane in ["", odd] {
        let mut value = serde_json::json!({"environmentId": odd, "interventionId": "i", "kind": "genesis"});
        if !lane.is_empty() {
            value["lane"] = Value::String(lane.into());
        }
        assert_eq!(genesis(odd, "i", lane), digest_of(&value));
    }
}

#[test]
fn each_chain_has_its_own_genesis() {
    let g = |env: &str, n: u8, lane: &str| genesis(env, &id(n).to_string(), lane);
    assert_ne!(g(ENV, 1, ""), g(ENV, 2, ""));
    assert_ne!(g(ENV, 1, ""), g("env-2", 1, ""));
    assert_ne!(g(ENV, 1, ""), g(ENV, 1, "s1"));
    assert_ne!(checkpoint_genesis(ENV), checkpoint_genesis("env-2"));
    let entries = chain(1, 3);
    assert_eq!(entries[0].prev, g(ENV, 1, ""));
    assert_eq!((entries[2].seq, entries[2].prev.as_str()), (2, entries[1].digest.as_str()));
}

#[test]
fn an_export_verifies_and_its_checkpoint_anchors_every_chain() {
    let text = export(&[3, 1, 2]);
    let verified = verify(&text).expect("verifies");
    assert_eq!((verified.entries, verified.chains), (6, 4));
    let heads: Vec<(String, Option<String>, u64)> =
        verified.checkpoint.heads.iter().map(|h| (h.intervention_id.clone(), h.lane.clone(), h.seq)).collect();
    let lane = |k: &str| Some(k.to_owned());
    let expected = vec![
        (id(1).to_string(), None, 2),
        (id(2).to_string(), None, 0),
        (id(3).to_string(), lane("u0"), 0),
        (id(3).to_string(), lane("u1"), 0),
    ];
    assert_eq!(heads, expected);
    assert_eq!(verify(&export(&[])).map(|v| v.entries), Ok(0), "an environment with no decisions");
}

#[test]
fn a_later_checkpoint_follows_the_one_before_and_keeps_what_it_anchored() {
    let first_entries = chain(1, 2);
    let first = Checkpoint::after(None, ENV, &first_entries, Timestamp::from_millis(1));
    let entries: Vec<Entry> = chain(1, 4).into_iter().chain(chain(2, 1)).collect();
    let second = Checkpoint::after(Some(&first), ENV, &entries, Timestamp::from_millis(2));
    let text = export_lines(&entries, &second);
    assert!(verify_after(&text, &first).is_ok());
    // A rewritten history: the second export's first chain replaced by another of the same length.
    let mut other = chain(1, 4);
    other[0] = Entry::after(None, ENV, id(1), EntryKind::Cancel, Timestamp::from_millis(5), Decided::default());
    for k in 1..4 {
        let d = Decided { submission_id: Some(format!("x{k}")), ..Decided::default() };
        other[k] = Entry::after(Some(&other[k - 1].head()), ENV, id(1), EntryKind::Vote, Timestamp::from_millis(6), d);
    }
    let rewritten: Vec<Entry> = other.into_iter().chain(chain(2, 1)).collect();
    let forged = Checkpoint::after(Some(&first), ENV, &rewritten, Timestamp::from_millis(2));
    let text = export_lines(&rewritten, &forged);
    assert!(verify(&text).is_ok(), "alone, a consistently rewritten log verifies: the anchor is what tells");
    let problems = verify_after(&text, &first).expect_err("the earlier checkpoint catches it");
    assert_eq!(problems[0].line, 2, "{problems:?}");
    let skipped = Checkpoint::after(Some(&second), ENV, &entries, Timestamp::from_millis(3));
    assert!(verify_after(&export_lines(&entries, &skipped), &first).is_err(), "a checkpoint skipped");
}

#[test]
fn a_kind_this_version_does_not_know_verifies_like_any_other() {
    let first = chain(1, 1).remove(0);
    let mut later = serde_json::json!({
        "environmentId": ENV, "interventionId": id(1).to_string(), "seq": 1, "kind": "operatorNote",
        "at": "2026-11-25T11:00:00.000Z", "note": "a field this version does not know", "prev": first.digest,
    });
    later["digest"] = Value::String(digest_of(&later));
    let read: Entry = serde_json::from_value(later.clone()).expect("an entry");
    assert_eq!(read.kind, EntryKind::Unknown);
    let checkpoint = Checkpoint::after(None, ENV, &[first.clone(), read], Timestamp::from_millis(1));
    let text = format!("{}\n{}\n{}\n", first.line(), canonical_line(&later), checkpoint.line());
    assert_eq!(verify(&text).map(|v| v.entries), Ok(2));
    // The unknown field is covered by the digest all the same.
    let edited = text.replace("does not know", "does know");
    assert_eq!(first_problem(&edited).line, 2);
}

#[test]
fn an_entry_never_holds_more_than_ids_kind_time_digests_and_an_operators_who_and_why() {
    let value = chain(1, 3)[2].to_value();
    let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    let allowed = [
        "at",
        "by",
        "continuationId",
        "digest",
        "environmentId",
        "interventionId",
        "kind",
        "prev",
        "reason",
        "reviewerId",
        "seq",
        "submissionId",
        "verdict",
        "vote",
    ];
    assert!(keys.iter().all(|k| allowed.contains(k)), "{keys:?}");
}

/// How an export is tampered with.
#[derive(Debug, Clone)]
enum Tamper {
    /// One byte of line `line` replaced by `byte`.
    Byte { line: usize, at: usize, byte: u8 },
    /// An entry's `at` changed and its digest computed again.
    Redigested { line: usize },
    /// Line `line` dropped.
    Drop { line: usize },
    /// Lines `a` < `b` swapped.
    Swap { a: usize, b: usize },
}

fn tamper(text: &str, how: &Tamper) -> Option<(String, usize)> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.len();
    let position = match *how {
        Tamper::Byte { line, at, byte } => {
            let line = line % n;
            let mut bytes = lines[line].clone().into_bytes();
            let at = at % bytes.len();
            if bytes[at] == byte {
                return None;
            }
            bytes[at] = byte;
            lines[line] = String::from_utf8(bytes).ok()?;
            line
        }
        Tamper::Redigested { line } => {
            let line = line % (n - 1);
            let mut value: Value = serde_json::from_str(&lines[line]).ok()?;
            value["at"] = Value::String("2030-01-01T00:00:00.000Z".into());
            value["digest"] = Value::String(digest_of(&value));
            lines[line] = canonical_line(&value);
            line
        }
        Tamper::Drop { line } => {
            let line = line % n;
            lines.remove(line);
            line
        }
        Tamper::Swap { a, b } => {
            let (a, b) = (a % n, b % n);
            let (a, b) = (a.min(b), a.max(b));
            if a == b {
                return None;
            }
            lines.swap(a, b);
            a
        }
    };
    Some((lines.iter().map(|l| format!("{l}\n")).collect(), position + 1))
}

fn tampering() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), 0x20u8..0x7f).prop_map(|(line, at, byte)| Tamper::Byte { line, at, byte }),
        any::<usize>().prop_map(|line| Tamper::Redigested { line }),
        any::<usize>().prop_map(|line| Tamper::Drop { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any edit, drop or reorder of an exported log (up to six chains of up to six entries) is reported,
    /// and the first problem is at the line where the file stops being the one exported.
    #[test]
    fn any_edit_drop_or_reorder_is_reported_at_its_line(
        lengths in prop::collection::vec(1usize..6, 1..6),
        how in tampering(),
    ) {
        let text = export(&lengths);
        prop_assert!(verify(&text).is_ok());
        if let Some((tampered, line)) = tamper(&text, &how) {
            let problem = first_problem(&tampered);
            prop_assert_eq!(problem.line, line, "{:?}: {}", how, problem.what);
        }
    }
}
