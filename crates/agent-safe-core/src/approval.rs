//! Approvals answered by an authenticated approver (the sidecar's
//! `POST /v1/approvals`).
//!
//! [`AgentSafe::record_approval`] records whatever an in-process caller says;
//! it trusts its caller. Over HTTP the approver is a remote party, so
//! [`AgentSafe::approve`] trusts nothing the request says about the decision
//! or the approver:
//!
//! * the approver is the subject of a **signed token** (a plain agent id is
//!   refused), holding one of `identity.approver_roles` (default
//!   `approver`);
//! * the decision is **looked up in the audit log** by its audit id: it must
//!   exist and be a `require_approval` decision; the action, target, params
//!   and correlation id recorded with the approval are the logged ones, not
//!   the client's;
//! * the agent that asked cannot answer its own request (the approver's id
//!   must differ from the decision's caller);
//! * a decision is answered once: a second answer is refused.
//!
//! Finding the decision reads the log (rotated files included), newest
//! information last: the cost grows with the size of the log, which is
//! acceptable for a human-paced operation.

use std::ops::ControlFlow;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::AgentSafe;
use crate::audit::{AuditEvent, EventFilter, EventKind, NewEvent, for_each_event, log_files};
use crate::identity::{looks_like_jwt, resolve_caller};

/// Serialises approvals within one process, so that two answers to the same
/// decision cannot both pass the "not answered yet" check.
static APPROVALS: Mutex<()> = Mutex::new(());

/// An approver's answer to a `require_approval` decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// The `audit_id` of the `require_approval` decision being answered.
    pub audit_id: String,
    /// `true` to approve, `false` to reject.
    pub approved: bool,
    /// Why (recorded as the event's `reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The person's name as the approving system knows them (for example the
    /// user of an approval UI that holds the approver token). Recorded as
    /// given, beside the verified approver id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_name: Option<String>,
}

/// What [`AgentSafe::approve`] recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalReceipt {
    /// The id of the `approval` event.
    pub event_id: String,
    /// The decision answered.
    pub audit_id: String,
    /// Its correlation id (shared by the approval event).
    pub correlation_id: Option<String>,
    /// The action of the decision.
    pub action: Option<String>,
    /// The target of the decision.
    pub target: Option<String>,
    /// The verified approver (the token's `agent_id`).
    pub approver: String,
    /// Approved or rejected.
    pub approved: bool,
}

/// Why an approval was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// No token, or a token that does not verify, or a plain agent id.
    #[error("{0}")]
    Unauthenticated(String),
    /// The approver may not answer this decision.
    #[error("{0}")]
    Forbidden(String),
    /// No decision with that audit id in the log.
    #[error("{0}")]
    NotFound(String),
    /// The decision is not waiting for an answer (not `require_approval`, or
    /// already answered).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is malformed.
    #[error("{0}")]
    Invalid(String),
    /// No audit log, or it cannot be read or written.
    #[error("{0}")]
    Unavailable(String),
}

/// The longest `comment` and `approver_name` accepted.
pub const MAX_APPROVAL_TEXT: usize = 4096;

impl AgentSafe {
    /// Records an authenticated approver's answer to a `require_approval`
    /// decision; see the [module docs](crate::approval) for every check made.
    ///
    /// # Errors
    /// [`ApprovalError`], one variant per kind of refusal; nothing is
    /// written then.
    pub fn approve(
        &self,
        approver_token: Option<&str>,
        req: &ApprovalRequest,
    ) -> Result<ApprovalReceipt, ApprovalError> {
        let snap = self.snapshot();
        let token = approver_token.filter(|t| !t.is_empty()).ok_or_else(|| {
            ApprovalError::Unauthenticated(
                "an approval needs the approver's signed token (`Authorization: Bearer <JWT>`)"
                    .to_owned(),
            )
        })?;
        if !looks_like_jwt(token) {
            return Err(ApprovalError::Unauthenticated(
                "an approver is identified by a signed token, not a plain agent id".to_owned(),
            ));
        }
        let now = jiff::Timestamp::now().as_second();
        let approver = match resolve_caller(&snap.identity, Some(token), now) {
            Ok(Some(c)) if c.signed => c,
            Ok(_) => {
                return Err(ApprovalError::Unauthenticated(
                    "an approver is identified by a signed token".to_owned(),
                ));
            }
            Err(e) => {
                return Err(ApprovalError::Unauthenticated(format!(
                    "the approver's token is not valid: {e}"
                )));
            }
        };
        let roles = &self.config().identity.approver_roles;
        if !approver.roles.iter().any(|r| roles.contains(r)) {
            return Err(ApprovalError::Forbidden(format!(
                "`{}` may not answer approvals: its token has none of the approver roles [{}] (identity.approver_roles)",
                approver.agent_id,
                roles.join(", ")
            )));
        }
        for (what, text) in [
            ("comment", req.comment.as_deref()),
            ("approver_name", req.approver_name.as_deref()),
        ] {
            if text.is_some_and(|t| t.len() > MAX_APPROVAL_TEXT) {
                return Err(ApprovalError::Invalid(format!(
                    "`{what}` is longer than {MAX_APPROVAL_TEXT} bytes"
                )));
            }
        }
        let Some(audit) = self.audit_log() else {
            return Err(ApprovalError::Unavailable(
                "this agent-safe has no audit log: approvals are recorded there".to_owned(),
            ));
        };
        let _guard = APPROVALS.lock().unwrap_or_else(|p| p.into_inner());
        let (decision, answered) = find(audit.path(), &req.audit_id)?;
        let Some(decision) = decision else {
            return Err(ApprovalError::NotFound(format!(
                "no decision with audit id `{}` in the audit log",
                crate::identity::sanitize(&req.audit_id)
            )));
        };
        if decision.decision.as_deref() != Some("require_approval") {
            return Err(ApprovalError::Conflict(format!(
                "decision `{}` is `{}`, not `require_approval`: there is nothing to approve",
                decision.event_id,
                decision.decision.as_deref().unwrap_or("?")
            )));
        }
        if let Some(prior) = answered {
            return Err(ApprovalError::Conflict(format!(
                "decision `{}` was already answered (approval event `{prior}`)",
                decision.event_id
            )));
        }
        if decision.caller.as_deref() == Some(approver.agent_id.as_str()) {
            return Err(ApprovalError::Forbidden(format!(
                "`{}` asked for this action and cannot approve its own request",
                approver.agent_id
            )));
        }
        let mut context = serde_json::Map::new();
        context.insert("audit_id".into(), Json::String(decision.event_id.clone()));
        context.insert("approver_verified".into(), Json::Bool(true));
        if let Some(name) = &req.approver_name {
            context.insert("approver_name".into(), Json::String(name.clone()));
        }
        let ev = NewEvent {
            kind: EventKind::Approval,
            action: decision.action.clone(),
            action_version: decision.action_version.clone(),
            target: decision.target.clone(),
            caller: Some(approver.agent_id.clone()),
            params: decision.params.clone(),
            decision: Some(if req.approved { "approve" } else { "reject" }.to_owned()),
            reason: req.comment.clone(),
            correlation_id: decision.correlation_id.clone(),
            context: Json::Object(context),
            ..NewEvent::new(EventKind::Approval)
        };
        let receipt = audit
            .append(ev)
            .map_err(|e| ApprovalError::Unavailable(format!("cannot record the approval: {e}")))?;
        Ok(ApprovalReceipt {
            event_id: receipt.event_id,
            audit_id: decision.event_id,
            correlation_id: decision.correlation_id,
            action: decision.action,
            target: decision.target,
            approver: approver.agent_id,
            approved: req.approved,
        })
    }
}

/// The decision event with id `audit_id`, and the id of an approval event
/// that already answered it, if any.
fn find(
    active: &std::path::Path,
    audit_id: &str,
) -> Result<(Option<AuditEvent>, Option<String>), ApprovalError> {
    let unavailable = |e: crate::audit::AuditError| {
        ApprovalError::Unavailable(format!("cannot read the audit log: {e}"))
    };
    let files = log_files(active).map_err(unavailable)?;
    let mut decision = None;
    let mut answered = None;
    for_each_event(&files, &EventFilter::default(), |ev| {
        match ev.kind {
            EventKind::Decision if ev.event_id == audit_id => decision = Some(ev),
            EventKind::Approval
                if ev.context.get("audit_id").and_then(Json::as_str) == Some(audit_id) =>
            {
                answered = Some(ev.event_id);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    })
    .map_err(unavailable)?;
    Ok((decision, answered))
}
