//! Waiting runs in memory, as strict as Step Functions and Lambda's callbacks: a token is answered once; a
//! second answer, or one to a token it never issued or has let go, is refused as its service refuses it.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::domain::task::{TaskGone, TaskToken, WaitKind};
use crate::ports::tasks::{TaskError, TaskNotifier};

#[derive(Default)]
struct Tasks {
    /// Tokens issued and still open.
    open: Vec<String>,
    /// Tokens whose timeout passed.
    timed_out: std::collections::HashSet<String>,
    /// Tokens answered, with the output.
    answered: HashMap<String, String>,
    /// Tokens failed, with the error's name.
    failed: HashMap<String, String>,
    /// Calls of `succeed`, answered or refused.
    succeed_calls: usize,
    /// Failures to answer with before behaving again (e.g. throttling).
    unavailable: usize,
}

/// Step Functions' task tokens and durable functions' callback ids in memory.
#[derive(Default)]
pub struct MemoryTasks {
    tasks: Mutex<Tasks>,
}

impl MemoryTasks {
    /// No task waits yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A waiting task's token, as a `.waitForTaskToken` step hands it out.
    pub fn issue(&self, token: &str) {
        self.tasks().open.push(token.to_owned());
    }

    /// The task's timeout passed (or its execution stopped): answers to it are refused from now on.
    pub fn time_out(&self, token: &str) {
        let mut tasks = self.tasks();
        tasks.open.retain(|t| t != token);
        tasks.timed_out.insert(token.to_owned());
    }

    /// The next `n` calls fail as if Step Functions throttled.
    pub fn fail_next(&self, n: usize) {
        self.tasks().unavailable = n;
    }

    /// The output a token was answered with.
    pub fn output(&self, token: &str) -> Option<String> {
        self.tasks().answered.get(token).cloned()
    }

    /// The error a token was failed with.
    pub fn failure(&self, token: &str) -> Option<String> {
        self.tasks().failed.get(token).cloned()
    }

    /// How many times `succeed` was called, whatever the answer.
    pub fn succeed_calls(&self) -> usize {
        self.tasks().succeed_calls
    }

    fn check(tasks: &mut Tasks, token: &TaskToken) -> Result<(), TaskError> {
        if tasks.unavailable > 0 {
            tasks.unavailable -= 1;
            return Err(TaskError::Unavailable("ThrottlingException (in memory)".into()));
        }
        // Each service's own refusal: a closed callback is `CallbackTimeoutException`, as on Lambda.
        let (closed, unknown) = match token.kind() {
            WaitKind::StepFunctions => (TaskGone::TimedOut, TaskGone::DoesNotExist),
            WaitKind::DurableFunction => (TaskGone::CallbackTimedOut, TaskGone::CallbackNotFound),
        };
        if tasks.answered.contains_key(token.expose()) || tasks.failed.contains_key(token.expose()) {
            return Err(TaskError::Gone(closed));
        }
        if !tasks.open.iter().any(|t| t == token.expose()) {
            // Lambda answers a callback that timed out as one closed; one it never issued is not found.
            let timed_out = token.kind() == WaitKind::DurableFunction && tasks.timed_out.contains(token.expose());
            return Err(TaskError::Gone(if timed_out { closed } else { unknown }));
        }
        Ok(())
    }
}

#[async_trait]
impl TaskNotifier for MemoryTasks {
    async fn heartbeat(&self, token: &TaskToken) -> Result<(), TaskError> {
        Self::check(&mut self.tasks(), token)
    }

    async fn succeed(&self, token: &TaskToken, output: &str) -> Result<(), TaskError> {
        let mut tasks = self.tasks();
        tasks.succeed_calls += 1;
        Self::check(&mut tasks, token)?;
        tasks.open.retain(|t| t != token.expose());
        tasks.answered.insert(token.expose().to_owned(), output.to_owned());
        Ok(())
    }

    async fn fail(&self, token: &TaskToken, error: &str, _cause: &str) -> Result<(), TaskError> {
        let mut tasks = self.tasks();
        Self::check(&mut tasks, token)?;
        tasks.open.retain(|t| t != token.expose());
        tasks.failed.insert(token.expose().to_owned(), error.to_owned());
        Ok(())
    }
}
