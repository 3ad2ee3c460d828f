//! Verifying an export: every line canonical JSON with its digest recomputed, each chain contiguous from
//! its genesis, the lines in their one order (by chain, then `seq`), and the checkpoint last,
//! anchoring exactly the chains the file holds. A changed, dropped or reordered line is reported at the
//! line where the file stops being what was exported.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use super::checkpoint::CHECKPOINT_KIND;
use super::{canonical_line, checkpoint_genesis, describe, digest_of, genesis, ChainKey, Checkpoint, Entry};

/// What is wrong, and where (1-based line number; one past the last line for what is missing at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line.
    pub line: usize,
    /// What is wrong there.
    pub what: String,
}

/// An export that verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: usize,
    /// Chains (interventions) checked.
    pub chains: usize,
    /// The checkpoint that anchors them.
    pub checkpoint: Checkpoint,
}

enum Line {
    Entry(Box<Entry>),
    Checkpoint(Box<Checkpoint>),
}

/// Checks an export on its own: see the module's rules. A checkpoint after the first is checked against
/// its predecessor only by [`verify_after`].
pub fn verify(text: &str) -> Result<Verified, Vec<Problem>> {
    let (lines, mut problems) = read_all(text);
    let checkpoints: Vec<(usize, &Checkpoint)> = lines
        .iter()
        .filter_map(|(n, line)| match line {
            Line::Checkpoint(c) => Some((*n, c.as_ref())),
            Line::Entry(_) => None,
        })
        .collect();
    let checkpoint = match checkpoints.as_slice() {
        [] => {
            problems.push(Problem {
                line: text.lines().count() + 1,
                what: "no checkpoint: the log's end is missing".into(),
            });
            None
        }
        [(n, checkpoint), rest @ ..] => {
            problems.extend(rest.iter().map(|(m, _)| Problem { line: *m, what: "a second checkpoint".into() }));
            problems.extend(own_checks(*n, checkpoint));
            Some((*n, *checkpoint))
        }
    };
    let walked = walk(&lines, checkpoint, &mut problems);
    problems.sort_by_key(|p| p.line);
    match (problems.is_empty(), checkpoint) {
        (true, Some((_, checkpoint))) => {
            Ok(Verified { entries: walked.entries, chains: walked.chains, checkpoint: checkpoint.clone() })
        }
        _ => Err(problems),
    }
}

/// Checks an export and that its checkpoint follows `previous` (the last export's): the next `seq`, its
/// `prev` that checkpoint's digest, and every chain `previous` anchored still holding the entry it anchored.
pub fn verify_after(text: &str, previous: &Checkpoint) -> Result<Verified, Vec<Problem>> {
    let verified = verify(text)?;
    let checkpoint_line = text.lines().count();
    let mut problems = Vec::new();
    let current = &verified.checkpoint;
    if current.seq != previous.seq + 1 || current.prev != previous.digest {
        let what = format!("the checkpoint does not follow checkpoint {} ({})", previous.seq, previous.digest);
        problems.push(Problem { line: checkpoint_line, what });
    }
    let mut at: BTreeMap<(ChainKey, u64), (usize, String)> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if let Ok(entry) = serde_json::from_str::<Entry>(line) {
            at.insert((entry.chain(), entry.seq), (n + 1, entry.digest));
        }
    }
    for head in &previous.heads {
        match at.get(&(head.chain(), head.seq)) {
            Some((_, digest)) if *digest == head.digest => {}
            Some((n, _)) => problems
                .push(Problem { line: *n, what: format!("changed since checkpoint {} anchored it", previous.seq) }),
            None => problems.push(Problem {
                line: checkpoint_line,
                what: format!(
                    "entry {} of {} (anchored by checkpoint {}) is gone",
                    head.seq,
                    describe(&head.chain()),
                    previous.seq
                ),
            }),
        }
    }
    problems.sort_by_key(|p| p.line);
    if problems.is_empty() {
        Ok(verified)
    } else {
        Err(problems)
    }
}

/// Every line read (canonical form, digest, shape), with the problems of those that could not be.
fn read_all(text: &str) -> (Vec<(usize, Line)>, Vec<Problem>) {
    let (mut lines, mut problems) = (Vec::new(), Vec::new());
    for (n, text) in text.lines().enumerate() {
        match read(text) {
            Ok(line) => lines.push((n + 1, line)),
            Err(what) => problems.push(Problem { line: n + 1, what }),
        }
    }
    (lines, problems)
}

fn read(text: &str) -> Result<Line, String> {
    let value: Value = serde_json::from_str(text).map_err(|_| "not JSON".to_owned())?;
    if canonical_line(&value) != text {
        return Err("not in its canonical form (RFC 8785): the line was edited".into());
    }
    if value.get("digest").and_then(Value::as_str) != Some(digest_of(&value).as_str()) {
        return Err("its digest does not match its content: the line was edited".into());
    }
    if value.get("kind").and_then(Value::as_str) == Some(CHECKPOINT_KIND) {
        let checkpoint = serde_json::from_value(value).map_err(|e| format!("not a checkpoint: {e}"))?;
        return Ok(Line::Checkpoint(Box::new(checkpoint)));
    }
    let entry = serde_json::from_value(value).map_err(|e| format!("not an entry: {e}"))?;
    Ok(Line::Entry(Box::new(entry)))
}

/// The checkpoint's own rules: heads in order, one per chain, and the first one's genesis.
fn own_checks(line: usize, checkpoint: &Checkpoint) -> Vec<Problem> {
    let mut problems = Vec::new();
    if checkpoint.heads.windows(2).any(|w| w[0].chain() >= w[1].chain()) {
        problems.push(Problem { line, what: "the checkpoint's heads are not in chain order".into() });
    }
    if checkpoint.seq == 0 && checkpoint.prev != checkpoint_genesis(&checkpoint.environment_id) {
        problems.push(Problem { line, what: "the first checkpoint does not start from its genesis".into() });
    }
    problems
}

/// The chain being read.
struct Open {
    key: ChainKey,
    seq: u64,
    digest: String,
    line: usize,
}

/// The walk through the entries, in file order, against the checkpoint's heads.
struct Walk<'a> {
    environment_id: Option<String>,
    heads: VecDeque<&'a super::ChainHead>,
    /// Whether there is a checkpoint to hold the chains' ends to.
    anchored: bool,
    open: Option<Open>,
    problems: Vec<Problem>,
    entries: usize,
    chains: usize,
}

/// What the walk counted.
struct Walked {
    entries: usize,
    chains: usize,
}

fn walk(lines: &[(usize, Line)], checkpoint: Option<(usize, &Checkpoint)>, problems: &mut Vec<Problem>) -> Walked {
    let mut walk = Walk {
        environment_id: checkpoint.map(|(_, c)| c.environment_id.clone()),
        heads: checkpoint.map(|(_, c)| c.heads.iter().collect()).unwrap_or_default(),
        anchored: checkpoint.is_some(),
        open: None,
        problems: Vec::new(),
        entries: 0,
        chains: 0,
    };
    let end = checkpoint.map(|(n, _)| n);
    for (n, line) in lines {
        if let Line::Entry(entry) = line {
            if end.is_some_and(|end| *n > end) {
                walk.problems.push(Problem { line: *n, what: "an entry after the checkpoint".into() });
            } else {
                walk.entry(*n, entry);
            }
        }
    }
    if let Some(end) = end {
        walk.close(end);
        walk.missing_before(None, end);
    }
    problems.append(&mut walk.problems);
    Walked { entries: walk.entries, chains: walk.chains }
}

impl Walk<'_> {
    fn problem(&mut self, line: usize, what: String) {
        self.problems.push(Problem { line, what });
    }

    fn entry(&mut self, n: usize, entry: &Entry) {
        self.entries += 1;
        let environment_id = self.environment_id.get_or_insert_with(|| entry.environment_id.clone()).clone();
        if entry.environment_id != environment_id {
            self.problem(n, format!("an entry of environment {}, not {environment_id}", entry.environment_id));
        }
        let key = entry.chain();
        match self.open.take() {
            Some(open) if open.key == key => self.follow(n, entry, open),
            open => {
                if let Some(open) = open {
                    let earlier = open.key > key;
                    self.open = Some(open);
                    self.close(n);
                    if earlier {
                        self.problem(n, format!("{} is out of order: lines are by chain", describe(&key)));
                    }
                }
                self.start(n, entry, key, &environment_id);
            }
        }
    }

    /// The next entry of the open chain: the next `seq`, chained to the one before.
    fn follow(&mut self, n: usize, entry: &Entry, open: Open) {
        if entry.seq != open.seq + 1 {
            let what = format!("seq {} follows seq {}: an entry was dropped or moved", entry.seq, open.seq);
            self.problem(n, what);
        } else if entry.prev != open.digest {
            // The line itself verifies, so the entry before it is not the one it was chained to.
            self.problem(open.line, "changed: its digest is not the next entry's prev".into());
        }
        self.open = Some(Open { key: open.key, seq: entry.seq, digest: entry.digest.clone(), line: n });
    }

    /// A chain's first line: from `seq` 0 and its genesis, every chain anchored before it accounted for.
    fn start(&mut self, n: usize, entry: &Entry, key: ChainKey, environment_id: &str) {
        self.chains += 1;
        self.missing_before(Some(&key), n);
        let name = describe(&key);
        if entry.seq != 0 {
            self.problem(n, format!("{name} starts at seq {}: an entry was dropped or moved", entry.seq));
        } else if entry.prev != genesis(environment_id, &key.0, &key.1) {
            self.problem(n, format!("{name}'s first entry does not start from its genesis"));
        }
        self.open = Some(Open { key, seq: entry.seq, digest: entry.digest.clone(), line: n });
    }

    /// Heads of chains before `key` (all remaining: `None`) that no line held: reported at `n`.
    fn missing_before(&mut self, key: Option<&ChainKey>, n: usize) {
        while let Some(head) = self.heads.front().copied() {
            if key.is_some_and(|key| head.chain() >= *key) {
                return;
            }
            self.heads.pop_front();
            let what = format!("{} (to seq {}) is missing", describe(&head.chain()), head.seq);
            self.problem(n, what);
        }
    }

    /// The open chain ends before line `n`: it must end at its checkpoint head.
    fn close(&mut self, n: usize) {
        let Some(open) = self.open.take().filter(|_| self.anchored) else { return };
        self.missing_before(Some(&open.key), n);
        let name = describe(&open.key);
        match self.heads.front().copied().filter(|h| h.chain() == open.key) {
            None => self.problem(n, format!("{name} is not anchored by the checkpoint")),
            Some(head) => {
                self.heads.pop_front();
                if head.seq > open.seq {
                    self.problem(
                        n,
                        format!("{name}: entries after seq {} are missing (anchored to {})", open.seq, head.seq),
                    );
                } else if head.seq < open.seq {
                    self.problem(n, format!("{name} goes past its anchored seq {}", head.seq));
                } else if head.digest != open.digest {
                    self.problem(open.line, "changed: not the entry the checkpoint anchored".into());
                }
            }
        }
    }
}
