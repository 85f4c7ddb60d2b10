//! The pure core of Clef Pro: what a report is, how it is validated, and how alerts follow
//! from the head report. Nothing here does I/O or reads a clock; time comes in as a parameter.
#![forbid(unsafe_code)]

pub mod alert;
pub mod check;
pub mod commit;
pub mod error;
pub mod evaluation;
pub mod health;
pub mod ids;
pub mod matrix;
pub mod net;
pub mod notification;
pub mod policy;
pub mod report;
pub mod scope;
pub mod severity;
pub mod text;
pub mod trends;

pub use alert::{Acknowledgement, Alert, AlertKey, AlertStatus};
pub use check::{CheckCount, CheckGroup, CheckKind, CheckRun};
pub use commit::CommitSha;
pub use error::{FieldError, from_json};
pub use evaluation::{EvalInput, EvalOutcome, Evaluation, HistoryEntry, evaluate, failing_results};
pub use health::Health;
pub use ids::{
    AlertId, ApiKeyId, ChannelId, DeliveryId, IntegrationId, InvitationId, OrgId, ReportId, SessionId,
    TokenId, UserId,
};
pub use matrix::{Matrix, MatrixRow};
pub use policy::{PolicyRule, PolicySet};
pub use report::{Cell, CiContext, Drift, IssueCounts, PolicyResult, Report, ReportSource, Summary};
pub use scope::{Scope, ScopeError};
pub use severity::{Severity, SeverityCounts};

/// Milliseconds since the Unix epoch, the one time representation the core uses.
pub type Millis = i64;
