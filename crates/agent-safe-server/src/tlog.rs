//! `GET /v1/audit/checkpoint` and `GET /v1/audit/proof/{audit_id}`: the
//! audit log's signed checkpoints and inclusion proofs.

use agent_safe_core::audit::{AuditError, AuditLog, CheckpointFailure};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, ErrorBody};
use crate::state::AppState;

/// An inclusion proof: the event's line, its Merkle path and the signed
/// checkpoint it is proven against (see docs/AUDIT-LOG.md).
#[derive(Serialize, ToSchema)]
pub struct InclusionProofDoc {
    /// The event's `event_id` (the decision's `audit_id`).
    pub audit_id: String,
    /// The event's `seq`; its leaf index is `seq - 1`.
    pub seq: u64,
    /// The event's canonical line without its newline: the leaf's input.
    pub line: String,
    /// The tree size of the checkpoint.
    pub tree_size: u64,
    /// Sibling hashes from the leaf up, hex (RFC 9162 §2.1.3).
    pub inclusion_path: Vec<String>,
    /// The signed checkpoint (C2SP signed note).
    pub checkpoint: String,
}

fn audit_error(e: &AuditError) -> AppError {
    match e {
        AuditError::Usage { reason, .. } => AppError::AuditUnavailable(reason.clone()),
        other => {
            tracing::error!(error = %other, "audit checkpoint or proof failed");
            AppError::Internal
        }
    }
}

fn not_configured(st: &AppState) -> Option<AppError> {
    match st.safe.audit_log() {
        Some(l) if l.checkpoint_verifier().is_some() => None,
        _ => Some(AppError::AuditUnavailable(
            "audit checkpoints are not configured on this sidecar (`audit.checkpoint`)".into(),
        )),
    }
}

/// The newest signed checkpoint of the audit log, as `text/plain` (a C2SP
/// signed note: origin, tree size, base64 root hash, signature).
#[utoipa::path(
    get,
    path = "/v1/audit/checkpoint",
    tag = "audit",
    responses(
        (status = 200, description = "The signed checkpoint", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "Checkpoints are not configured", body = ErrorBody),
        (status = 500, description = "The log or its key cannot be read", body = ErrorBody),
    )
)]
pub(crate) async fn audit_checkpoint(State(st): State<AppState>) -> Result<Response, AppError> {
    if let Some(e) = not_configured(&st) {
        return Err(e);
    }
    let note = st
        .run_as(crate::state::Execution::Blocking, |safe| {
            let log = safe.audit_log().ok_or_else(|| AuditError::Usage {
                path: std::path::PathBuf::new(),
                reason: "no audit log".into(),
            })?;
            match log.checkpoint_verifier() {
                Some(v) => match agent_safe_core::audit::latest_checkpoint(log.path(), v)? {
                    Some(n) => Ok(n),
                    None => log.checkpoint_now(),
                },
                None => log.checkpoint_now(),
            }
        })
        .await?
        .map_err(|e| audit_error(&e))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// An inclusion proof of one event in the log of a checkpoint covering it.
#[utoipa::path(
    get,
    path = "/v1/audit/proof/{audit_id}",
    tag = "audit",
    params(("audit_id" = String, Path, description = "The decision's `audit_id`")),
    responses(
        (status = 200, description = "The proof", body = InclusionProofDoc),
        (status = 404, description = "No such event, or checkpoints are not configured", body = ErrorBody),
        (status = 500, description = "The log or its key cannot be read", body = ErrorBody),
    )
)]
pub(crate) async fn audit_proof(
    State(st): State<AppState>,
    Path(audit_id): Path<String>,
) -> Result<Response, AppError> {
    if let Some(e) = not_configured(&st) {
        return Err(e);
    }
    let proof = st
        .run_as(crate::state::Execution::Blocking, move |safe| {
            match safe.audit_log() {
                Some(log) => log.prove(&audit_id, None),
                None => Err(AuditError::Usage {
                    path: std::path::PathBuf::new(),
                    reason: "no audit log".into(),
                }),
            }
        })
        .await?
        .map_err(|e| audit_error(&e))?;
    Ok(Json(proof).into_response())
}

/// Logs every checkpoint failure (a checkpoint that could not be made, a
/// failed `audit.checkpoint.command`) with its cause, as a warning under the
/// target `agent_safe_server::audit`. The failures are also counted in the
/// metrics; decisions are never held up by them.
pub(crate) fn log_checkpoint_failures(st: &AppState) {
    if let Some(log) = st.safe.audit_log() {
        log.report_checkpoint_failures(std::sync::Arc::new(|f: &CheckpointFailure| match f {
            CheckpointFailure::Make(cause) => tracing::warn!(
                target: "agent_safe_server::audit",
                cause = %cause,
                "audit checkpoint failed; decisions go on, the next checkpoint will cover these events"
            ),
            CheckpointFailure::Command { command, cause } => tracing::warn!(
                target: "agent_safe_server::audit",
                command = %command,
                cause = %cause,
                "audit.checkpoint.command failed; the checkpoint is in the checkpoints file but was not copied"
            ),
            other => tracing::warn!(target: "agent_safe_server::audit", error = %other, "audit checkpoint failed"),
        }));
    }
}

/// The timer of "a checkpoint every `every_seconds`": appends only look at
/// the clock when they happen, so without it the last events before a quiet
/// spell would stay uncovered until the next request. Ticks at a quarter of
/// the interval and stops with `stop`. `None` without checkpoints by time.
pub(crate) fn spawn_checkpoint_timer(
    st: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let tick = st.safe.audit_log()?.checkpoint_tick()?;
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = crate::serve::wait_for_ref(&mut stop) => break,
            }
            let safe = std::sync::Arc::clone(&st.safe);
            // The log's lock and file I/O: off the async workers.
            let made = tokio::task::spawn_blocking(move || {
                safe.audit_log().map(AuditLog::checkpoint_if_pending)
            })
            .await;
            if let Ok(Some(Ok(Some(note)))) = made {
                tracing::debug!(
                    target: "agent_safe_server::audit",
                    checkpoint = note.lines().nth(1).unwrap_or_default(),
                    "audit checkpoint made by the timer"
                );
            }
            // Failures were logged by the reporter.
        }
    }))
}
