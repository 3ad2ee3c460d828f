use proptest::prelude::*;

use super::*;

/// `make test` replays every fuzz corpus: each file of `shared/fuzz/corpus/<target>/` through its target.
#[test]
fn every_fuzz_corpus_replays_without_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = Vec::new();
    for target in targets() {
        let dir = root.join(&target);
        let mut files = 0usize;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a corpus entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            assert!(run(&target, &data), "{target} is not a target");
            files += 1;
        }
        assert!(files > 0, "the corpus of {target} is empty");
        replayed.push((target, files));
    }
    // Every corpus folder is some target's: none is left unreplayed.
    for entry in std::fs::read_dir(&root).expect("the corpus folder") {
        let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
        assert!(replayed.iter().any(|(t, _)| *t == name), "corpus {name} belongs to no target");
    }
}

#[test]
fn a_datetime_past_year_9999_in_utc_is_refused_at_the_field_not_a_panic() {
    for kind_field in fields("datetime") {
        let error = check_field(kind_field, &["9999-12-31T23:59:59-01:00".to_owned()]).unwrap_err();
        assert_eq!(error, "Enter a date and time before the year 10000 (UTC).");
    }
    let accepted = check_field(&fields("datetime")[0], &["9999-12-31T23:59:59+01:00".to_owned()]).unwrap();
    assert_eq!(accepted.unwrap().display_parts(), ["9999-12-31T22:59:59Z"]);
}

fn date_like() -> impl Strategy<Value = String> {
    "[+-]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2}(\\.[0-9]{1,12})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
}

fn number_like() -> impl Strategy<Value = String> {
    "[+-]?[0-9]{0,30}(\\.[0-9]{0,30})?([eE][+-]?[0-9]{0,6})?"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Every field kind's value parser answers any string (Ok or a message, never a panic), and what it
    /// accepts it accepts again as stored.
    #[test]
    fn every_field_kind_answers_any_string(text in any::<String>()) {
        for kind in FIELD_KINDS {
            field_value(kind, text.as_bytes());
        }
    }

    #[test]
    fn every_field_kind_answers_any_date_like_string(text in date_like()) {
        for kind in FIELD_KINDS {
            field_value(kind, text.as_bytes());
        }
    }

    #[test]
    fn every_field_kind_answers_any_number_like_string(text in number_like()) {
        for kind in FIELD_KINDS {
            field_value(kind, text.as_bytes());
        }
    }
}
