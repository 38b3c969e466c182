//! The hash-chained, append-only audit log.
//!
//! One canonical (RFC 8785) JSON line per event, each carrying the SHA-256 of
//! its own content and its predecessor's hash. Any number of threads and
//! processes may append ([`AuditLog`]); [`verify`] checks a log (or a
//! directory of rotated files); [`read_events`] and [`Follower`] read it back
//! for `audit tail`. The line schema, the guarantees and their limits are
//! documented in `docs/AUDIT-LOG.md`.

mod canon;
mod checkpoint;
mod error;
mod event;
mod files;
mod log;
mod lookup;
pub mod merkle;
mod note;
mod reader;
mod report;
mod scan;
mod tree;
mod verify;

pub use canon::{CanonicalError, MAX_SAFE_INTEGER, MAX_VALUE_DEPTH, recorded_form};
pub use checkpoint::{
    CheckpointCheck, CheckpointConfig, CheckpointFailure, CheckpointReport, CheckpointReporter,
    CheckpointStats, ConsistencyProof, DEFAULT_CHECKPOINT_EVENTS, DEFAULT_CHECKPOINT_SECONDS,
    InclusionProof, ProofError, checkpoints_path, create_signer_key, latest_checkpoint,
    read_checkpoints, read_signer_key, split_notes, verify_checkpoints,
};
pub use error::AuditError;
pub use event::{
    AuditEvent, CallerIdentity, CallerMethod, EventKind, GENESIS_HASH, KubernetesCaller, NewEvent,
    RecoveryInfo, RotationInfo, RotationTrigger, SCHEMA_VERSION, SUPPORTED_VERSIONS, ShadowInfo,
};
pub use files::{
    RotatedName, SEQ_WIDTH, lock_path, log_files, parse_rotated_name, resolve_paths,
    rotated_file_name,
};
pub(crate) use log::format_timestamp;
pub use log::{
    AppendReceipt, AuditConfig, AuditLog, AuditStats, Clock, DEFAULT_LOCK_TIMEOUT, Durability,
    Rotation,
};
pub use note::{Checkpoint, NoteError, NoteSigner, NoteVerifier};
pub(crate) use reader::for_each_line_batch;
pub use reader::{EventFilter, Follower, for_each_event, read_events};
pub use report::{FileReport, ProblemKind, TornTail, VerifyOptions, VerifyProblem, VerifyReport};
pub use tree::{TreeStore, tree_dir};
pub use verify::{verify, verify_with, verify_with_checkpoints};
