//! The events the cancel function reads: EventBridge's Step Functions execution status change, and an
//! operator's direct `{"interventionId": …}`.

use serde_json::Value;

use crate::aws::lambda::InvocationError;
use crate::domain::id::InterventionId;
use crate::domain::lifecycle::Operator;

/// The execution statuses after which nothing can resume the run: its interventions are cancelled.
pub const ENDED_STATUSES: [&str; 3] = ["ABORTED", "FAILED", "TIMED_OUT"];

/// Who an operator's direct cancel is recorded as when the invoker names no one (`"by"`).
pub const DIRECT_INVOKE: &str = "operator (direct invoke of the cancel function)";

/// What a cancel event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelRequest {
    /// The run with this correlation id (the execution's ARN) ended: cancel its interventions.
    Run(String),
    /// Cancel this one intervention: an operator's action, who and why.
    Intervention(InterventionId, Operator),
    /// An execution status after which the run may still be answered (e.g. SUCCEEDED, RUNNING): nothing.
    Ignored(String),
}

impl CancelRequest {
    /// Reads the event, naming what is missing.
    pub fn from_event(event: &Value) -> Result<Self, InvocationError> {
        let bad = |why: &str| InvocationError::InvalidCancelEvent(why.to_owned());
        if let Some(id) = event.get("interventionId") {
            let id = id
                .as_str()
                .and_then(InterventionId::parse)
                .ok_or_else(|| bad("interventionId is not an intervention id"))?;
            let text = |name: &str| event.get(name).and_then(Value::as_str);
            // Who: as the invoker names itself (its IAM identity is in CloudTrail's record of the Invoke).
            let operator = Operator::new(text("by").unwrap_or(DIRECT_INVOKE), text("reason"))
                .map_err(InvocationError::InvalidCancelEvent)?;
            return Ok(Self::Intervention(id, operator));
        }
        let kind = event.get("detail-type").and_then(Value::as_str);
        if event.get("source").and_then(Value::as_str) != Some("aws.states")
            || kind != Some("Step Functions Execution Status Change")
        {
            return Err(bad(
                "expected an EventBridge \"Step Functions Execution Status Change\" event from aws.states, or {\"interventionId\": …}",
            ));
        }
        let detail = event.get("detail").ok_or_else(|| bad("the event has no detail"))?;
        let status = detail.get("status").and_then(Value::as_str).ok_or_else(|| bad("detail.status is missing"))?;
        if !ENDED_STATUSES.contains(&status) {
            return Ok(Self::Ignored(status.to_owned()));
        }
        let arn = detail
            .get("executionArn")
            .and_then(Value::as_str)
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| bad("detail.executionArn is missing"))?;
        Ok(Self::Run(arn.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status_change(status: &str) -> Value {
        // The shape EventBridge sends (AWS Step Functions user guide, "Execution status change events").
        json!({
            "version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175",
            "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
            "account": "123456789012", "time": "2026-12-01T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:states:us-east-1:123456789012:execution:refund:run-1"],
            "detail": {
                "executionArn": "arn:aws:states:us-east-1:123456789012:execution:refund:run-1",
                "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:refund",
                "name": "run-1", "status": status, "startDate": 1764583200000_i64, "stopDate": 1764583260000_i64,
                "input": "{}", "output": null
            }
        })
    }

    #[test]
    fn an_ended_execution_cancels_its_run_and_a_success_does_nothing() {
        for status in ENDED_STATUSES {
            assert_eq!(
                CancelRequest::from_event(&status_change(status)).unwrap(),
                CancelRequest::Run("arn:aws:states:us-east-1:123456789012:execution:refund:run-1".into())
            );
        }
        assert_eq!(
            CancelRequest::from_event(&status_change("SUCCEEDED")).unwrap(),
            CancelRequest::Ignored("SUCCEEDED".into())
        );
        let id = InterventionId::random().unwrap();
        assert_eq!(
            CancelRequest::from_event(&json!({ "interventionId": id.to_string() })).unwrap(),
            CancelRequest::Intervention(id, Operator::new(DIRECT_INVOKE, None).unwrap())
        );
        let named =
            json!({ "interventionId": id.to_string(), "by": "ops@example.com", "reason": "sent to the wrong person" });
        assert_eq!(
            CancelRequest::from_event(&named).unwrap(),
            CancelRequest::Intervention(
                id,
                Operator::new("ops@example.com", Some("sent to the wrong person")).unwrap()
            )
        );
        for bad in [
            json!({}),
            json!({ "interventionId": "x" }),
            json!({ "interventionId": id.to_string(), "reason": "x".repeat(501) }),
            json!({ "source": "aws.states", "detail-type": "Step Functions Execution Status Change" }),
        ] {
            let error = CancelRequest::from_event(&bad).unwrap_err();
            assert_eq!(error.error_type(), "InvalidCancelEvent", "{error}");
        }
    }
}
