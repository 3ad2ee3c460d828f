//! Why a timer's change queued nothing: the reasons the lifecycle's guards give, with their words.

/// Why a reminder did not queue a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderRefusal {
    /// No intervention with this id was ever stored.
    NotStored,
    /// The intervention has no `remind`.
    NoReminder,
    /// The reminder was queued already (a repeated invocation).
    AlreadyReminded,
    /// The run was cancelled (or is gone).
    Cancelled,
    /// The timeout continuation was queued.
    TimedOut,
    /// The intervention completed (a quorum decided, or every use was taken).
    Completed,
    /// The link expired.
    Expired,
    /// The reminder is not due yet (the timer fired early).
    NotDue,
    /// Every reminded reviewer answered already.
    NobodyPending,
}

impl ReminderRefusal {
    /// A short reason for logs and answers.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotStored => "the intervention was never stored",
            Self::NoReminder => "the intervention has no remind",
            Self::AlreadyReminded => "the reminder was queued already",
            Self::Cancelled => "the run was cancelled",
            Self::TimedOut => "the intervention timed out",
            Self::Completed => "the intervention completed",
            Self::Expired => "the link has expired",
            Self::NotDue => "the reminder is not due yet",
            Self::NobodyPending => "every reminded reviewer answered",
        }
    }
}

/// Why a timeout did not queue a continuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutRefusal {
    /// No intervention with this id was ever stored (its creation failed after the schedule was made).
    NotStored,
    /// The intervention has no `onTimeout`: it just expires.
    NoTimeoutContinuation,
    /// The timeout continuation was queued already (a repeated invocation).
    AlreadyTimedOut,
    /// The run was cancelled: nothing is queued.
    Cancelled,
    /// A submission was accepted: the reviewer answered in time.
    Answered,
    /// The link has not expired yet (the timer fired early, e.g. clock skew): the link keeps working.
    NotDue,
    /// The run can no longer be resumed.
    RunUnavailable,
    /// A vote was counted since the read (the decision log moved): read again and decide again.
    Moved,
}

impl TimeoutRefusal {
    /// A short reason for logs and answers.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotStored => "the intervention was never stored",
            Self::NoTimeoutContinuation => "the intervention has no onTimeout",
            Self::AlreadyTimedOut => "the timeout continuation was queued already",
            Self::Cancelled => "the run was cancelled",
            Self::Answered => "a submission was accepted",
            Self::NotDue => "the link has not expired yet",
            Self::RunUnavailable => "the run is no longer available",
            Self::Moved => "a vote was counted since the read",
        }
    }
}
