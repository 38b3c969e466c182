//! The event types: what a caller hands in ([`NewEvent`]) and what a line holds
//! ([`AuditEvent`]). The line format itself is written by `canon.rs` and
//! documented in `docs/AUDIT-LOG.md`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the line schema this build writes, as `v` in every event.
///
/// v2 added `caller_identity`, `snapshot` and `shadow` (so a decision can be
/// re-decided by `agent-safe replay`); v1 lines have none of them. Readers
/// and `verify` accept every version in [`SUPPORTED_VERSIONS`].
pub const SCHEMA_VERSION: u64 = 2;

/// Every line schema version this build reads and verifies.
pub const SUPPORTED_VERSIONS: [u64; 2] = [1, 2];

/// How the caller of a decision was identified (v2 `caller_identity.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerMethod {
    /// A verified token (its header `kid`, if any, is recorded).
    Token,
    /// A plain, unsigned agent id.
    Id,
    /// No caller was given.
    Anonymous,
    /// A caller was given and refused (bad token, invalid id, unsigned
    /// while `require_signed`); the decision is a `deny`.
    Rejected,
    /// A host verified the caller by other means (policy tests, an
    /// identity passed in already resolved).
    Host,
}

impl CallerMethod {
    /// The name written in the line.
    pub fn as_str(self) -> &'static str {
        match self {
            CallerMethod::Token => "token",
            CallerMethod::Id => "id",
            CallerMethod::Anonymous => "anonymous",
            CallerMethod::Rejected => "rejected",
            CallerMethod::Host => "host",
        }
    }
}

/// Who decided a check, as verified at the time (v2 `caller_identity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerIdentity {
    /// How the caller was identified.
    pub method: CallerMethod,
    /// The token header's `kid` (only for `token`, when the header has one).
    pub kid: Option<String>,
    /// The verified roles (empty unless a token or the host gave some).
    pub roles: Vec<String>,
    /// The verified groups (empty unless a token or the host gave some).
    pub groups: Vec<String>,
    /// The Kubernetes ServiceAccount and pod of a ServiceAccount token; the
    /// key is absent for every other caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesCaller>,
}

/// The ServiceAccount and pod a ServiceAccount token names (v2
/// `caller_identity.kubernetes`), from its `sub` and `kubernetes.io` claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesCaller {
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The pod the token was issued to, when the token names one.
    pub pod: Option<String>,
    /// The pod's uid.
    pub pod_uid: Option<String>,
    /// The ServiceAccount's name.
    pub service_account: String,
    /// The ServiceAccount's uid.
    pub service_account_uid: Option<String>,
}

/// What the shadow (candidate) policy decided, recorded when it differs
/// from the enforced decision (v2 `shadow`; null when they agree or shadow
/// mode is off). The candidate is evaluated, never enforced.
///
/// Either the candidate decided (`decision` set, `error` null) or it could
/// not be evaluated (`error` set, `decision`, `policy_matched` and `reason`
/// null): the enforced decision is the same either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowInfo {
    /// The candidate's decision (`allow` / `deny` / `require_approval`), or
    /// null when it could not be evaluated.
    pub decision: Option<String>,
    /// Why the candidate could not be evaluated (it failed to load, or its
    /// evaluation failed), or null.
    pub error: Option<String>,
    /// The candidate's winning rule, or null (no rule: a default deny, an
    /// unknown action or target, …).
    pub policy_matched: Option<String>,
    /// The candidate's reason, or null.
    pub reason: Option<String>,
    /// The digest of the candidate snapshot (`sha256:…`), when it has one.
    pub snapshot: Option<String>,
}

/// `prev_hash` of the very first event of a log: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What kind of event a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A policy decision (one check, or one step of a plan).
    Decision,
    /// A writer found a torn final line, quarantined it and recorded it here.
    Recovery,
    /// The first event of every file after the first: links it to the previous file.
    Rotation,
    /// A human's answer (approve/reject) to a `require_approval` decision,
    /// linked to it by `correlation_id`.
    Approval,
}

impl EventKind {
    /// The name written in the line.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Decision => "decision",
            EventKind::Recovery => "recovery",
            EventKind::Rotation => "rotation",
            EventKind::Approval => "approval",
        }
    }
}

/// What a caller hands to [`AuditLog::append`](super::AuditLog::append).
///
/// The log adds `v`, `seq`, `event_id`, `timestamp`, `prev_hash` and `hash`.
/// Use `NewEvent::decision()` or `NewEvent::new(kind)` and set the fields you
/// have; absent values are written as `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The kind of event; callers use `Decision` or `Approval`.
    pub kind: EventKind,
    /// Action name.
    pub action: Option<String>,
    /// Action version (`X.Y.Z`).
    pub action_version: Option<String>,
    /// Target id.
    pub target: Option<String>,
    /// Caller (agent id, or the approver for an approval).
    pub caller: Option<String>,
    /// The parameters as given (must not hold integers beyond ±(2^53−1)).
    pub params: Value,
    /// `allow` / `deny` / `require_approval`; for an approval `approve` / `reject`.
    pub decision: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// The rule that decided.
    pub policy_matched: Option<String>,
    /// The action's risk class.
    pub risk_class: Option<String>,
    /// Risk class × target sensitivity.
    pub effective_risk: Option<String>,
    /// Links the steps of a plan, or an approval to its decision.
    pub correlation_id: Option<String>,
    /// Free context (must not hold integers beyond ±(2^53−1)).
    pub context: Value,
    /// Set only when the caller evaluated at an explicit time (what-if);
    /// the real time is always `timestamp`.
    pub evaluated_at: Option<String>,
    /// Index of the step in a `check_plan`.
    pub plan_step: Option<u32>,
    /// How the caller was identified, with its verified roles and groups
    /// (decisions only).
    pub caller_identity: Option<CallerIdentity>,
    /// The digest of the loaded snapshot that decided (decisions only).
    pub snapshot: Option<String>,
    /// The shadow decision, when a shadow policy disagreed.
    pub shadow: Option<ShadowInfo>,
}

impl NewEvent {
    /// An event of `kind` with every optional field absent and `params`,
    /// `context` set to `null`.
    pub fn new(kind: EventKind) -> Self {
        NewEvent {
            kind,
            action: None,
            action_version: None,
            target: None,
            caller: None,
            params: Value::Null,
            decision: None,
            reason: None,
            policy_matched: None,
            risk_class: None,
            effective_risk: None,
            correlation_id: None,
            context: Value::Null,
            evaluated_at: None,
            plan_step: None,
            caller_identity: None,
            snapshot: None,
            shadow: None,
        }
    }

    /// `NewEvent::new(EventKind::Decision)`.
    pub fn decision() -> Self {
        NewEvent::new(EventKind::Decision)
    }
}

impl Default for NewEvent {
    fn default() -> Self {
        NewEvent::decision()
    }
}

/// The kind-specific field of a `recovery` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryInfo {
    /// File name (in the log's directory) the torn bytes were moved to.
    pub quarantine_file: String,
    /// How many bytes were torn off.
    pub torn_bytes: u64,
    /// Lowercase hex SHA-256 of the torn bytes.
    pub torn_sha256: String,
    /// The length the active file was truncated back to.
    pub truncated_at: u64,
}

/// Why a new file was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationTrigger {
    /// The active file would have grown past `rotation.max_bytes`.
    Size,
    /// The active file's first event is from an earlier UTC day.
    Daily,
    /// A writer found the active file missing or empty while rotated files
    /// exist (a crash between the rename and the first write, or the file was
    /// moved away) and continued the chain from the newest rotated file.
    Resume,
}

impl RotationTrigger {
    /// The name written in the line.
    pub fn as_str(self) -> &'static str {
        match self {
            RotationTrigger::Size => "size",
            RotationTrigger::Daily => "daily",
            RotationTrigger::Resume => "resume",
        }
    }
}

/// The kind-specific field of a `rotation` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationInfo {
    /// File name of the previous file (in the same directory).
    pub previous_file: String,
    /// `hash` of the previous file's last event (equal to this event's `prev_hash`).
    pub previous_last_hash: String,
    /// `seq` of the previous file's last event.
    pub previous_last_seq: u64,
    /// Why the file was started.
    pub trigger: RotationTrigger,
}

/// One event as read back from the log (schema v1 or v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Schema version (1 or 2).
    pub v: u64,
    /// 1, 2, 3, … across rotated files.
    pub seq: u64,
    /// UUID v7.
    pub event_id: String,
    /// When the event was logged, RFC 3339 UTC with microseconds.
    pub timestamp: String,
    /// Kind of event.
    pub kind: EventKind,
    /// See [`NewEvent::action`].
    pub action: Option<String>,
    /// See [`NewEvent::action_version`].
    pub action_version: Option<String>,
    /// See [`NewEvent::target`].
    pub target: Option<String>,
    /// See [`NewEvent::caller`].
    pub caller: Option<String>,
    /// See [`NewEvent::params`].
    pub params: Value,
    /// See [`NewEvent::decision`].
    pub decision: Option<String>,
    /// See [`NewEvent::reason`].
    pub reason: Option<String>,
    /// See [`NewEvent::policy_matched`].
    pub policy_matched: Option<String>,
    /// See [`NewEvent::risk_class`].
    pub risk_class: Option<String>,
    /// See [`NewEvent::effective_risk`].
    pub effective_risk: Option<String>,
    /// See [`NewEvent::correlation_id`].
    pub correlation_id: Option<String>,
    /// See [`NewEvent::context`].
    pub context: Value,
    /// See [`NewEvent::evaluated_at`].
    pub evaluated_at: Option<String>,
    /// See [`NewEvent::plan_step`].
    pub plan_step: Option<u32>,
    /// Present on `recovery` events only.
    pub recovery: Option<RecoveryInfo>,
    /// Present on `rotation` events only.
    pub rotation: Option<RotationInfo>,
    /// See [`NewEvent::caller_identity`] (v2; absent from v1 lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_identity: Option<CallerIdentity>,
    /// See [`NewEvent::snapshot`] (v2; absent from v1 lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// See [`NewEvent::shadow`] (v2; absent from v1 lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowInfo>,
    /// The previous event's `hash` (64 zeros for the first event).
    pub prev_hash: String,
    /// SHA-256 (lowercase hex) of the canonical line without `hash`.
    pub hash: String,
}

/// A line parsed without copying its strings (used by `verify` and the reader).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventRef<'a> {
    pub v: u64,
    pub seq: u64,
    #[serde(borrow)]
    pub event_id: Cow<'a, str>,
    #[serde(borrow)]
    pub timestamp: Cow<'a, str>,
    pub kind: EventKind,
    #[serde(borrow)]
    pub action: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub action_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub target: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub caller: Option<Cow<'a, str>>,
    pub params: Value,
    #[serde(borrow)]
    pub decision: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub policy_matched: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub risk_class: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub effective_risk: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub correlation_id: Option<Cow<'a, str>>,
    pub context: Value,
    #[serde(borrow)]
    pub evaluated_at: Option<Cow<'a, str>>,
    pub plan_step: Option<u32>,
    pub recovery: Option<RecoveryInfo>,
    pub rotation: Option<RotationInfo>,
    #[serde(default)]
    pub caller_identity: Option<CallerIdentity>,
    #[serde(default, borrow)]
    pub snapshot: Option<Cow<'a, str>>,
    #[serde(default)]
    pub shadow: Option<ShadowInfo>,
    #[serde(borrow)]
    pub prev_hash: Cow<'a, str>,
    #[serde(borrow)]
    pub hash: Cow<'a, str>,
}

fn owned(s: Option<Cow<'_, str>>) -> Option<String> {
    s.map(Cow::into_owned)
}

impl EventRef<'_> {
    pub(crate) fn into_owned(self) -> AuditEvent {
        AuditEvent {
            v: self.v,
            seq: self.seq,
            event_id: self.event_id.into_owned(),
            timestamp: self.timestamp.into_owned(),
            kind: self.kind,
            action: owned(self.action),
            action_version: owned(self.action_version),
            target: owned(self.target),
            caller: owned(self.caller),
            params: self.params,
            decision: owned(self.decision),
            reason: owned(self.reason),
            policy_matched: owned(self.policy_matched),
            risk_class: owned(self.risk_class),
            effective_risk: owned(self.effective_risk),
            correlation_id: owned(self.correlation_id),
            context: self.context,
            evaluated_at: owned(self.evaluated_at),
            plan_step: self.plan_step,
            recovery: self.recovery,
            rotation: self.rotation,
            caller_identity: self.caller_identity,
            snapshot: owned(self.snapshot),
            shadow: self.shadow,
            prev_hash: self.prev_hash.into_owned(),
            hash: self.hash.into_owned(),
        }
    }

    pub(crate) fn fields(&self) -> super::canon::LineFields<'_> {
        super::canon::LineFields {
            v: self.v,
            caller_identity: self.caller_identity.as_ref(),
            snapshot: self.snapshot.as_deref(),
            shadow: self.shadow.as_ref(),
            seq: self.seq,
            event_id: &self.event_id,
            timestamp: &self.timestamp,
            kind: self.kind,
            action: self.action.as_deref(),
            action_version: self.action_version.as_deref(),
            target: self.target.as_deref(),
            caller: self.caller.as_deref(),
            params: &self.params,
            decision: self.decision.as_deref(),
            reason: self.reason.as_deref(),
            policy_matched: self.policy_matched.as_deref(),
            risk_class: self.risk_class.as_deref(),
            effective_risk: self.effective_risk.as_deref(),
            correlation_id: self.correlation_id.as_deref(),
            context: &self.context,
            evaluated_at: self.evaluated_at.as_deref(),
            plan_step: self.plan_step,
            recovery: self.recovery.as_ref(),
            rotation: self.rotation.as_ref(),
            prev_hash: &self.prev_hash,
        }
    }
}

impl AuditEvent {
    /// The event's canonical line (without the trailing newline), exactly as
    /// it is stored in the log.
    pub fn to_line(&self) -> Result<String, super::canon::CanonicalError> {
        let fields = super::canon::LineFields {
            v: self.v,
            caller_identity: self.caller_identity.as_ref(),
            snapshot: self.snapshot.as_deref(),
            shadow: self.shadow.as_ref(),
            seq: self.seq,
            event_id: &self.event_id,
            timestamp: &self.timestamp,
            kind: self.kind,
            action: self.action.as_deref(),
            action_version: self.action_version.as_deref(),
            target: self.target.as_deref(),
            caller: self.caller.as_deref(),
            params: &self.params,
            decision: self.decision.as_deref(),
            reason: self.reason.as_deref(),
            policy_matched: self.policy_matched.as_deref(),
            risk_class: self.risk_class.as_deref(),
            effective_risk: self.effective_risk.as_deref(),
            correlation_id: self.correlation_id.as_deref(),
            context: &self.context,
            evaluated_at: self.evaluated_at.as_deref(),
            plan_step: self.plan_step,
            recovery: self.recovery.as_ref(),
            rotation: self.rotation.as_ref(),
            prev_hash: &self.prev_hash,
        };
        let mut out = Vec::with_capacity(512);
        super::canon::write_line(&mut out, &fields, &self.hash)?;
        // The writer emits only UTF-8 (JSON text from `&str`s).
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
