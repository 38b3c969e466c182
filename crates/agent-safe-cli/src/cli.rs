//! The command line, as clap derives it. Every command's `--help` ends with
//! examples; `check` and the top level also list the exit codes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::output::ColorWhen;

const ABOUT: &str =
    "Ask before acting: a policy decision point for AI agents that operate Kubernetes";

const LONG_ABOUT: &str = "\
Ask before acting: a policy decision point for AI agents that operate Kubernetes.

agent-safe answers one question: may caller C run action A on target T with
params P, now? The answer is ALLOW, DENY or REQUIRE_APPROVAL, with the reason
and the rule that decided, and every check is recorded in a hash-chained audit
log. agent-safe is advisory: it decides and logs, it never runs the action.

Configuration: --config PATH, else $AGENT_SAFE_CONFIG, else agent-safe.yaml in
the current directory or one of its parents. With no configuration at all the
built-in Kubernetes action catalogue is available and every check is denied.";

const TOP_AFTER: &str = "\
Examples:
  agent-safe init my-project && cd my-project     # scaffold a working project
  agent-safe validate && agent-safe test          # check the files, run the policy tests
  agent-safe list-actions --tag deployments
  agent-safe check restart-deployment --target staging/web --caller ops-agent \\
      --params '{\"namespace\":\"staging\",\"deployment\":\"web\"}' \\
    && kubectl -n staging rollout restart deployment/web
  agent-safe audit show --last 20 --decision deny
  agent-safe audit verify

Exit codes:
  0  ALLOW (check, check-plan), or success (every other command)
  1  the command ran and found a failure (validate errors, failed or empty test
     suite, broken audit chain), or an internal error
  2  usage or configuration error (bad flags, missing or malformed files)
  3  DENY
  4  REQUIRE_APPROVAL

Documentation: docs/CLI.md";

/// `agent-safe`.
#[derive(Debug, Parser)]
#[command(
    name = "agent-safe",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = TOP_AFTER,
    max_term_width = 100,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    /// The configuration file (default: $AGENT_SAFE_CONFIG, else agent-safe.yaml
    /// in the current directory or a parent).
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        help_heading = "Global options"
    )]
    pub config: Option<PathBuf>,

    /// When to colour the output (`auto` honours NO_COLOR and CLICOLOR_FORCE).
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN", help_heading = "Global options")]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Decide one request: may CALLER run ACTION on TARGET with PARAMS?
    #[command(after_help = CHECK_AFTER, long_about = CHECK_LONG)]
    Check(CheckArgs),
    /// Decide every step of a multi-step plan, under one correlation id.
    #[command(after_help = PLAN_AFTER, long_about = PLAN_LONG)]
    CheckPlan(PlanArgs),
    /// List the known actions (the built-in catalogue and the project's own).
    #[command(after_help = LIST_AFTER)]
    ListActions(ListArgs),
    /// Show one action definition: parameters, risk, prechecks, privileges.
    #[command(after_help = SHOW_AFTER)]
    ShowAction(ShowArgs),
    /// Load every file of the configuration and analyse the policy rules.
    #[command(after_help = VALIDATE_AFTER, long_about = VALIDATE_LONG)]
    Validate(ValidateArgs),
    /// Check one policy file against the configured actions and inventory.
    #[command(after_help = VALIDATE_POLICY_AFTER, long_about = VALIDATE_POLICY_LONG)]
    ValidatePolicy(ValidatePolicyArgs),
    /// Run the policy tests (YAML files of requests and expected decisions).
    #[command(after_help = TEST_AFTER, long_about = TEST_LONG)]
    Test(TestArgs),
    /// Verify, search and follow the audit log.
    #[command(subcommand, after_help = AUDIT_AFTER)]
    Audit(AuditCmd),
    /// Run the HTTP sidecar: the same decisions over loopback HTTP.
    #[command(after_help = SERVE_AFTER, long_about = SERVE_LONG)]
    Serve(ServeArgs),
    /// Run the MCP gateway: policy on every MCP tool call, in the path.
    #[command(after_help = crate::cmd::mcp::MCP_AFTER)]
    Mcp(crate::cmd::mcp::McpArgs),
    /// Print least-privilege Kubernetes RBAC for an agent, derived from the policies.
    #[command(after_help = RBAC_AFTER, long_about = RBAC_LONG)]
    Rbac(RbacArgs),
    /// For a review: what a caller may do, on which targets, and when.
    #[command(after_help = WHO_CAN_AFTER, long_about = WHO_CAN_LONG)]
    WhoCan(WhoCanArgs),
    /// Rewrite policy files and the inventory in one stable style, comments kept.
    #[command(after_help = FMT_AFTER, long_about = FMT_LONG)]
    Fmt(FmtArgs),
    /// Re-decide the logged decisions under a candidate policy, before enforcing it.
    #[command(after_help = REPLAY_AFTER, long_about = REPLAY_LONG)]
    Replay(ReplayArgs),
    /// Run the seed scenario end to end on a fresh example project.
    #[command(after_help = DEMO_AFTER, long_about = DEMO_LONG)]
    Demo(DemoArgs),
    /// Create a working project: policies, inventory, tests, config, signing key.
    #[command(after_help = INIT_AFTER, long_about = INIT_LONG)]
    Init(InitArgs),
    /// Convert a project of agent-safe 0.14 (the Python package), listing what differs.
    #[command(after_help = MIGRATE_AFTER, long_about = MIGRATE_LONG)]
    Migrate(MigrateArgs),
    /// Mint signed caller tokens (HS256 JWTs) with the configured key.
    #[command(subcommand, after_help = TOKEN_AFTER)]
    Token(TokenCmd),
    /// Lock the action registry: record the SHA-256 of every action file.
    #[command(subcommand, after_help = REGISTRY_AFTER)]
    Registry(RegistryCmd),
    /// Write the inventory from the cluster (read-only, through the Kubernetes API).
    #[command(subcommand, after_help = INVENTORY_AFTER)]
    Inventory(InventoryCmd),
    /// Print the JSON Schema of a file kind, for editors and CI.
    #[command(after_help = SCHEMA_AFTER)]
    Schema(SchemaArgs),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_AFTER)]
    Completions(CompletionsArgs),
}

/// `--output text|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    #[default]
    Text,
    /// For programs.
    Json,
}

/// `--output text|yaml|json` (show-action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum ShowFormat {
    /// For people.
    #[default]
    Text,
    /// The definition file as written (a starting point for a project override).
    Yaml,
    /// The definition as JSON.
    Json,
}

/// A risk class, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RiskArg {
    Low,
    Medium,
    High,
    Critical,
}

impl From<RiskArg> for agent_safe_core::RiskClass {
    fn from(r: RiskArg) -> Self {
        match r {
            RiskArg::Low => agent_safe_core::RiskClass::Low,
            RiskArg::Medium => agent_safe_core::RiskClass::Medium,
            RiskArg::High => agent_safe_core::RiskClass::High,
            RiskArg::Critical => agent_safe_core::RiskClass::Critical,
        }
    }
}

const CHECK_LONG: &str = "\
Decide one request: may CALLER run ACTION on TARGET with PARAMS, now?

The decision is printed (text, or with --output json the same JSON object as the
HTTP API and the Python SDK's to_dict()) and recorded in the audit log. The exit
code is the answer, so `agent-safe check ... && <run the action>` is safe.";

const CHECK_AFTER: &str = "\
Examples:
  agent-safe check describe-deployment --target staging/api --caller ops-agent \\
      --params '{\"namespace\":\"staging\",\"deployment\":\"api\"}'
  agent-safe check restart-deployment --caller ops-agent \\
      --params '{\"namespace\":\"staging\",\"deployment\":\"web\"}'    # target resolved from params
  agent-safe check restart-deployment --target prod/api --caller \"$TOKEN\" \\
      --params-file params.json --at 2026-03-07T02:30:00Z --explain  # what-if, with the rule trace
  agent-safe check drain-node --target prod/node-1 --caller ops-agent \\
      --params '{\"node\":\"prod-node-1\"}' --output json | jq .reason

Exit codes:
  0  ALLOW
  3  DENY (also: unknown action, invalid params, invalid token, audit log unavailable)
  4  REQUIRE_APPROVAL
  2  usage or configuration error (bad flags, invalid JSON, --params not an object,
     invalid --at, a configuration that does not load): nothing was decided
  1  internal error";

/// `check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The action: `name` (highest version) or `name@version` (an older version
    /// is denied unless `callable_old_versions` keeps it).
    #[arg(value_parser = ActionName, hide_possible_values = true)]
    pub action: String,
    /// Inventory id of the target, e.g. `staging/api` (else resolved from the params).
    #[arg(long, short = 't', value_name = "ID")]
    pub target: Option<String>,
    /// Who asks: a plain agent id or a signed token (JWT).
    #[arg(
        long,
        short = 'c',
        value_name = "ID|JWT",
        env = "AGENT_SAFE_CALLER",
        hide_env_values = true
    )]
    pub caller: Option<String>,
    /// Action parameters as a JSON object, e.g. '{"namespace":"staging"}' (a repeated key is refused).
    #[arg(long, short = 'p', value_name = "JSON", conflicts_with = "params_file")]
    pub params: Option<String>,
    /// Read the parameters (a JSON object) from a file, or `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub params_file: Option<PathBuf>,
    /// Free context recorded in the audit log, as a JSON object (e.g. the agent's run id).
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// Link this check to others in the audit log (default: a new UUID).
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// Evaluate the policy at this time instead of now (RFC 3339, e.g.
    /// 2026-03-07T02:30:00Z); the audit event records both times.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Show every rule considered, and why it did or did not decide.
    #[arg(long, short = 'e')]
    pub explain: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

const PLAN_LONG: &str = "\
Decide every step of a multi-step plan. Each step is logged under one shared
correlation id with its step index; the plan's result is the most restrictive
step result, and the exit code follows it (0 only when every step is allowed).

FILE holds a plan request, the same one the sidecar's POST /v1/check-plan and
the Python check_plan take: a list of steps, or a mapping with `steps:` and
optional `caller:` (for steps that name none), `correlation_id:`, `explain:`
and `description:`. A step has the fields of a check: `action` (required),
`target`, `caller`, `params`, `context`, `explain` (that step's trace); not
`correlation_id` (every step shares the plan's).

A `.json` file is read as the sidecar reads a body, any other file as YAML.
An empty plan, more than 1000 steps, an unknown key, and a key repeated at any
depth are errors with file:line:col; nothing is checked or logged.";

const PLAN_AFTER: &str = "\
Plan file:
  caller: deploy-agent            # optional default caller
  steps:
    - action: scale-deployment
      target: staging/api
      params: {namespace: staging, deployment: api, replicas: 3}
    - action: restart-deployment
      target: staging/api
      params: {namespace: staging, deployment: api}

Examples:
  agent-safe check-plan plan.yaml
  agent-safe check-plan plan.json --output json --correlation-id run-42

Exit codes: 0 every step ALLOW, 3 some step DENY, 4 otherwise some step
REQUIRE_APPROVAL, 2 usage or configuration error (malformed plan file).";

/// `check-plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The plan file (YAML or JSON).
    pub file: PathBuf,
    /// Shared by every step (default: the file's `correlation_id`, else a new UUID).
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// Evaluate the policy at this time instead of now (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Include the rule trace of every step (as `explain: true` in the file).
    #[arg(long, short = 'e')]
    pub explain: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

const LIST_AFTER: &str = "\
Examples:
  agent-safe list-actions
  agent-safe list-actions --tag read-only
  agent-safe list-actions --risk high --output json | jq -r '.[].name'";

/// `list-actions`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only actions with this tag.
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Only actions of this risk class.
    #[arg(long, value_enum, value_name = "RISK")]
    pub risk: Option<RiskArg>,
    /// Output format (json: the action definitions).
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

const SHOW_AFTER: &str = "\
Examples:
  agent-safe show-action restart-deployment
  agent-safe show-action restart-deployment@1.0.0 --output json
  agent-safe show-action restart-deployment --output yaml --out actions/restart-deployment.yaml
      # a project file with the same name@version replaces the built-in definition;
      # --out writes atomically (a `>` redirection into actions/ would leave an
      # empty action file there while the command runs, and it would fail)";

/// `show-action`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// `name` (highest version) or `name@version`.
    #[arg(value_parser = ActionName, hide_possible_values = true)]
    pub name: String,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ShowFormat::Text)]
    pub output: ShowFormat,
    /// Write to FILE instead of stdout, atomically (a temporary file renamed
    /// into place), so `--output yaml --out actions/NAME.yaml` starts a project
    /// override without an empty file in the actions directory.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With --out: replace FILE if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
}

const VALIDATE_LONG: &str = "\
Load every file the configuration names (actions, policies, inventory, signing
keys, the registry lock) and report every error with file:line:col. Then analyse
the rules: conflicts, rules that can never win, names of actions or target types
that do not exist, time windows that never open, selectors no target satisfies;
and flag action privileges that are not valid Kubernetes RBAC. Findings are
warnings; --strict makes them fail the run.";

const VALIDATE_AFTER: &str = "\
Examples:
  agent-safe validate
  agent-safe validate --strict            # in CI: warnings fail too
  agent-safe --config deploy/agent-safe.yaml validate --output json

Exit codes: 0 valid (warnings allowed unless --strict), 1 errors found (or
warnings with --strict), 2 the configuration file itself is missing or malformed.";

/// `validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

const VALIDATE_POLICY_LONG: &str = "\
Check one policy file on its own: load it, compile it against the configured
action registry and inventory (the configuration's other policy files are left
out), and analyse its rules, with the same output as `validate`.";

const VALIDATE_POLICY_AFTER: &str = "\
Examples:
  agent-safe validate-policy policies/10-staging.yaml
  agent-safe validate-policy new-rules.yaml --strict --output json

Exit codes: 0 valid, 1 errors in the file (or warnings with --strict),
2 the file or the configuration is missing or does not load.";

/// `validate-policy`.
#[derive(Debug, Args)]
pub(crate) struct ValidatePolicyArgs {
    /// The policy file.
    pub file: PathBuf,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

const TEST_LONG: &str = "\
Run policy tests: each case is a request and the decision expected for it.
Cases are evaluated against the configuration without writing to the audit log
(tests are not real checks), at the case's `at` time (default: now).

Prints `PASS name` or `FAIL name: why` per case, then `N passed, M failed`.
A failing case also shows the rule trace of its decision (as `check
--explain` prints it): which rules were tried in rank order, and why each did
or did not decide.

For CI: `--output json` prints one report object (every case, its status,
the decision and, for a failure, the trace); `--output junit` prints JUnit XML
(one testsuite per test file) for CI systems that show test results.
`--run PATTERN` runs only the cases whose name matches the regular
expression (unanchored, as `go test -run`).";

const TEST_AFTER: &str = "\
Test file (YAML; unknown keys are errors):
  tests:
    - name: restarting the staging web preview is allowed
      request:
        action: restart-deployment
        target: staging/web
        caller: ops-agent               # or claims: {agent_id: x, roles: [..], groups: [..]}
        params: {namespace: staging, deployment: web}
        at: \"2026-03-04T12:00:00Z\"     # evaluation time (default: now)
      expect: allow                      # allow | deny | require_approval
      policy: allow-low-risk-staging     # optional winning rule; null = default deny
      effective_risk: low                # optional
      reason_contains: Low-risk          # optional

Examples:
  agent-safe test                        # every file under tests/ beside agent-safe.yaml
  agent-safe test tests/10-staging.yaml
  agent-safe test --run 'staging|prod'   # only the cases whose name matches
  agent-safe test --output junit > policy-tests.xml
  agent-safe test --coverage --min-coverage 100   # every rule must decide a case
  agent-safe schema tests > tests.schema.json   # for editor completion

Exit codes: 0 every case passed, 1 a case failed, no case was found, or the
coverage is below --min-coverage, 2 a malformed test file or configuration.";

/// `test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Test files or directories (default: `tests/` beside the configuration).
    pub paths: Vec<PathBuf>,
    /// Run only the cases whose name matches this regular expression.
    #[arg(long, value_name = "PATTERN")]
    pub run: Option<String>,
    /// Report, per rule, how many cases it decided, whether it matched but
    /// never won, or never matched.
    #[arg(long)]
    pub coverage: bool,
    /// Exit 1 when fewer than PCT percent of the rules decide a case (implies --coverage).
    #[arg(long, value_name = "PCT")]
    pub min_coverage: Option<f64>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = TestFormat::Text)]
    pub output: TestFormat,
}

/// `--output text|json|junit` (test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum TestFormat {
    /// For people.
    #[default]
    Text,
    /// One JSON report object.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

const AUDIT_AFTER: &str = "\
Examples:
  agent-safe audit verify
  agent-safe audit show --last 20 --decision deny
  agent-safe audit tail --follow";

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// Check the hash chain: every hash, link and seq, across rotated files.
    #[command(after_help = VERIFY_AFTER)]
    Verify(VerifyArgs),
    /// Print events, oldest first, with filters.
    #[command(after_help = SHOW_EVENTS_AFTER)]
    Show(ShowEventsArgs),
    /// Print the last events, and with --follow the new ones as they come.
    #[command(after_help = TAIL_AFTER)]
    Tail(TailArgs),
    /// Print the newest signed checkpoint of the log (or make one with --new).
    #[command(after_help = CHECKPOINT_AFTER)]
    Checkpoint(CheckpointArgs),
    /// Print an inclusion proof of one event (by its audit id) as JSON.
    #[command(after_help = PROVE_AFTER)]
    Prove(ProveArgs),
    /// Check an inclusion proof offline: no log needed, only the public key.
    #[command(name = "verify-proof", after_help = VERIFY_PROOF_AFTER)]
    VerifyProof(VerifyProofArgs),
    /// Print the public key that verifies the log's checkpoints.
    #[command(after_help = KEY_AFTER)]
    Key(KeyArgs),
}

const CHECKPOINT_AFTER: &str = "\
A checkpoint is the log's Merkle tree size and root hash, signed with the
checkpoint key (a C2SP signed note). Writers make one every
`audit.checkpoint.every_events` events and/or `every_seconds` seconds and at
clean shutdown, into `<log>.checkpoints`. Keep copies elsewhere
(`audit.checkpoint.command`), then `agent-safe audit verify --checkpoint FILE`
proves the log still holds everything they cover.

Examples:
  agent-safe audit checkpoint > kept/checkpoint-$(date +%s)
  agent-safe audit checkpoint --new";

/// `audit checkpoint`.
#[derive(Debug, Args)]
pub(crate) struct CheckpointArgs {
    /// Make a checkpoint of the whole log now (when the newest one does not
    /// already cover it).
    #[arg(long)]
    pub new: bool,
}

const PROVE_AFTER: &str = "\
The proof holds the event's line, its Merkle inclusion path (RFC 9162) and the
signed checkpoint it is proven against. Anyone holding the public key
(`agent-safe audit key`) can check it offline with `agent-safe audit
verify-proof` or the pure-Python `agent_safe.tlog` module.

Examples:
  agent-safe audit prove 019cb8b8-2263-7b5f-9acd-6c058a47620a > proof.json
  agent-safe audit prove 019cb8b8-2263-7b5f-9acd-6c058a47620a --checkpoint kept/checkpoint";

/// `audit prove`.
#[derive(Debug, Args)]
pub(crate) struct ProveArgs {
    /// The event's audit id (the decision's `audit_id`, the event's `event_id`).
    pub audit_id: String,
    /// Prove against this checkpoint (a signed note of this log); default:
    /// a checkpoint of the whole log, made now if needed.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
}

const VERIFY_PROOF_AFTER: &str = "\
Examples:
  agent-safe audit verify-proof proof.json --key \"$(cat audit.pub)\"
  agent-safe audit verify-proof proof.json --checkpoint kept/checkpoint --key audit.pub

Exit codes: 0 the event is in the log the checkpoint describes, 1 it is not
(or the signature does not verify), 2 unreadable input.";

/// `audit verify-proof`.
#[derive(Debug, Args)]
pub(crate) struct VerifyProofArgs {
    /// The proof (JSON, as `agent-safe audit prove` prints it); `-` for stdin.
    pub proof: PathBuf,
    /// The checkpoint you trust (a signed note); default: the one in the proof.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// The verifier key (`<name>+<key id>+<base64 key>`), or a file holding it.
    #[arg(long, value_name = "KEY")]
    pub key: String,
}

const KEY_AFTER: &str = "\
Prints the verifier key in the C2SP signed-note form
`<origin>+<key id>+<base64 key>`. It is public: give it to whoever checks
checkpoints and proofs.

With --generate, first creates the checkpoint key file named by
`audit.checkpoint.key_file` (mode 0600; an existing file is never replaced).

Examples:
  agent-safe audit key > audit.pub
  agent-safe audit key --generate";

/// `audit key`.
#[derive(Debug, Args)]
pub(crate) struct KeyArgs {
    /// Create the checkpoint key file first (for a project made before
    /// checkpoints existed).
    #[arg(long)]
    pub generate: bool,
}

const VERIFY_AFTER: &str = "\
Examples:
  agent-safe audit verify                         # the configured log, rotated files included
  agent-safe audit verify audit/                  # a directory holding one log
  agent-safe audit verify audit/audit.jsonl --output json
  agent-safe audit verify --accept-torn-tail      # a log being written

Prints `ok: N events in K files, chain intact`, or the first break as
`file:line: error: reason`. A file that ends without a newline (a torn tail)
is a break: a crashed writer leaves one, but so does an appended or altered
last line, and a verifier cannot tell them apart. Its size is reported, and
whether it could be the beginning of an event. When a writer holds the log's
lock, verify waits for it (up to 5 s) so that a line in flight is complete.
--accept-torn-tail reports a torn tail as a warning instead. A log without
one complete event is never `ok`.

With --checkpoint FILE…, the log must also contain the Merkle tree each signed
checkpoint describes (its first N events hash to its root): removed last
events, deleted newest files and rewritten logs are reported.

Exit codes: 0 the chain holds, 1 the chain is broken (or a torn tail, or no
event, or a checkpoint is not in the log), 2 no such file or no log.";

/// `audit verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Log files or directories (default: the configured audit log).
    pub paths: Vec<PathBuf>,
    /// Report a torn final line as a warning, not a break (for a log that is
    /// being written, whose writer may have been killed mid-line).
    #[arg(long)]
    pub accept_torn_tail: bool,
    /// Also check that the log contains the tree of each of these signed
    /// checkpoints (a file may hold several, as `<log>.checkpoints` does):
    /// catches removed last events, deleted newest files, and rewrites.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub checkpoint: Vec<PathBuf>,
    /// The key that verifies the checkpoints (`<name>+<key id>+<base64 key>`,
    /// or a file holding it); default: the configured checkpoint key.
    #[arg(long, value_name = "KEY", requires = "checkpoint")]
    pub key: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// Event filters shared by `audit show` and `audit tail`.
#[derive(Debug, Args)]
pub(crate) struct EventFilterArgs {
    /// Only this decision.
    #[arg(long, value_enum, value_name = "DECISION")]
    pub decision: Option<DecisionArg>,
    /// Only this caller (agent id).
    #[arg(long, value_name = "ID")]
    pub caller: Option<String>,
    /// Only this action.
    #[arg(long, value_name = "NAME")]
    pub action: Option<String>,
    /// Only events of this correlation id (e.g. every step of a plan).
    #[arg(long, value_name = "ID")]
    pub correlation_id: Option<String>,
    /// Only events logged at or after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Only events logged at or before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    /// The log to read: a file or a directory (default: the configured audit log).
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// Output format (json: the log lines themselves, one per line).
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// A decision, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DecisionArg {
    Allow,
    Deny,
    RequireApproval,
}

impl DecisionArg {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DecisionArg::Allow => "allow",
            DecisionArg::Deny => "deny",
            DecisionArg::RequireApproval => "require_approval",
        }
    }
}

const SHOW_EVENTS_AFTER: &str = "\
Examples:
  agent-safe audit show
  agent-safe audit show --last 50 --decision deny --caller ops-agent
  agent-safe audit show --since 2026-03-01T00:00:00Z --action drain-node --output json

Text columns: time, seq, decision, action, target, caller, reason.";

/// `audit show`.
#[derive(Debug, Args)]
pub(crate) struct ShowEventsArgs {
    /// Only the newest N matching events.
    #[arg(long, short = 'n', value_name = "N")]
    pub last: Option<usize>,
    #[command(flatten)]
    pub filter: EventFilterArgs,
}

const TAIL_AFTER: &str = "\
Examples:
  agent-safe audit tail
  agent-safe audit tail -n 50 --decision deny
  agent-safe audit tail --follow --output json | jq .reason";

/// `audit tail`.
#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// How many of the newest events to print first.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 10)]
    pub lines: usize,
    /// Keep running and print new events as they are logged (across rotations).
    #[arg(long, short = 'f')]
    pub follow: bool,
    #[command(flatten)]
    pub filter: EventFilterArgs,
}

const INIT_LONG: &str = "\
Create a working project in DIR (default: the current directory): example
policies, an inventory and policy tests, an agent-safe.yaml that names them, an
actions/ directory for your own action definitions, a fresh signing key in
secrets/signing.key (mode 0600) and a .gitignore for secrets/ and audit/.

Nothing is overwritten: if any of these files exists, init refuses and writes
nothing.";

const INIT_AFTER: &str = "\
Examples:
  agent-safe init my-project
  agent-safe init                         # in the current directory";

/// `init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where to create the project (created if missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

const MIGRATE_LONG: &str = "\
Convert a project of agent-safe 0.14 (the pure-Python package) into this
version's formats: agent-safe.yaml (`registry`, `audit_log`, `signing_key`
become `actions`, `audit.path`, `identity.keys`), the policy files (rule
conditions this version does not have are dropped where they always hold, and
rules that could never match here are left out), and the flat test files
(request fields beside `expect` become a `request:`). Action files and the
inventory are copied unchanged. Nothing is ever overwritten: a destination
file that exists already is an error, and nothing is written.

Then the converted project is loaded with the real loaders, and every
converted test is decided twice: by this version, and by a model of 0.14.
The report lists every change, every setting left out, and every behaviour
difference (0.14 skips parameter checks when params are empty, never enforces
`target_types`, lets the first matching rule win, decides unknown targets as
critical) with the user's rules and tests whose outcome it changes.

Exit status: 0 when the converted project was written and loads, 1 when it
was written but does not load (the errors are listed), 2 when nothing was
written (bad source, existing destination file).";

const MIGRATE_AFTER: &str = "\
Examples:
  agent-safe migrate ./old-project --to ./new-project
  agent-safe migrate ./old-project            # writes ./old-project-migrated
  agent-safe migrate ./old-project -o json    # the report as JSON

See docs/MIGRATING.md.";

/// `migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The 0.14 project directory (with agent-safe.yaml, actions/, policies/, inventory.yaml).
    pub from: PathBuf,
    /// Where to write the converted project (default: FROM-migrated beside it);
    /// created if missing, and no file in it is ever replaced.
    #[arg(long)]
    pub to: Option<PathBuf>,
    /// Output format of the report.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

const SERVE_LONG: &str = "\
Run the HTTP sidecar: POST /v1/check and /v1/check-plan answer exactly as
`check` does (the decision JSON is the same), GET /v1/actions lists the
registry, /healthz, /readyz and /metrics serve probes and Prometheus, and
/openapi.json describes it all. The action, policy and inventory files are
watched and reloaded (a broken edit keeps the last good snapshot and shows in
/readyz and /metrics); SIGHUP reloads too. SIGTERM or Ctrl-C stops accepting
connections, lets the checks in flight finish and be logged, and exits 0.

Listens on `server.listen` from the config (default 127.0.0.1:8400: loopback
only). A caller's `Authorization: Bearer <JWT>` header is its identity. The
HTTP API never accepts an evaluation time.

Requests must name the sidecar in `Host` by an IP address, by `localhost`
(when listening on loopback or 0.0.0.0), or by a name listed in
`server.allowed_hosts` or with --allowed-host; any other name is refused with
403, which stops web pages from reaching it through DNS rebinding. A
connection must deliver each request head within `server.header_timeout_ms`
(default 10 s; idle keep-alive connections are closed after the same time),
and at most `server.max_connections` (default 512) are open at once: at the
limit, the connection idle the longest is closed to admit a new one. A
`Content-Length` above `server.max_body_bytes` is refused with 413 before the
body is read. See docs/SIDECAR.md.";

const SERVE_AFTER: &str = "\
Examples:
  agent-safe serve
  agent-safe serve --config /etc/agent-safe/agent-safe.yaml \\
      --health-listen 0.0.0.0:8401
  agent-safe serve --listen 0.0.0.0:8400 --allowed-host agent-safe.agents.svc
  curl -s localhost:8400/v1/check -H 'content-type: application/json' -d '{
    \"action\": \"rollout-status\", \"target\": \"staging/api\", \"caller\": \"demo-agent\",
    \"params\": {\"namespace\": \"staging\", \"deployment\": \"api\"}}'";

/// `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Listen address (overrides `server.listen`; default 127.0.0.1:8400).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// A second listener serving only /healthz, /readyz and /metrics (for
    /// Kubernetes probes, which reach the pod IP, not its loopback).
    #[arg(long, value_name = "ADDR")]
    pub health_listen: Option<std::net::SocketAddr>,
    /// A name clients use to reach the sidecar, accepted in the `Host` header
    /// besides IP addresses and `localhost` (repeatable; adds to
    /// `server.allowed_hosts`): `NAME` for any port, `NAME:PORT` for one.
    #[arg(long = "allowed-host", value_name = "NAME[:PORT]", value_parser = parse_allowed_host)]
    pub allowed_hosts: Vec<String>,
    /// Do not watch the files (SIGHUP still reloads).
    #[arg(long)]
    pub no_watch: bool,
    /// Log format on stderr: `json`, `compact`, or `auto` (compact on a terminal).
    #[arg(long, value_enum, default_value = "auto", value_name = "FORMAT")]
    pub log: ServeLog,
}

fn parse_allowed_host(s: &str) -> Result<String, String> {
    agent_safe_core::config::parse_allowed_host(s).map(|_| s.to_owned())
}

/// `serve --log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ServeLog {
    /// One JSON object per line.
    Json,
    /// One readable line per event.
    Compact,
    /// Compact on a terminal, else JSON.
    Auto,
}

const RBAC_LONG: &str = "\
Print the Kubernetes Roles, ClusterRole and bindings that grant an agent the
privileges (`required_privileges`) of the actions the policies could let it
run, only where they could: an action is granted in a namespace when, on some
inventory target in that namespace, an `allow` or `require_approval` rule could
decide a request by this caller (time windows count as open) before a rule
with another decision always would. Actions only `deny` rules reach are left
out, so the agent's service account can do nothing the policy would never
allow.

Namespaced resources go into a Role and RoleBinding in each namespace the
agent can act in; cluster-scoped resources (nodes, namespaces), and every
privilege of an action reachable on a cluster-scoped target (a node), into a
ClusterRole and ClusterRoleBinding. --namespace keeps one namespace (and the
cluster-scoped targets), --cluster one cluster of the inventory. --unattended
leaves out what needs approval, for setups where approved actions run with a
separate credential. Targets outside the inventory never get RBAC.";

const RBAC_AFTER: &str = "\
Examples:
  agent-safe rbac --caller deploy-agent --roles deployer --cluster prod-eu-1 | kubectl apply -f -
  agent-safe rbac --caller deploy-agent --roles deployer --namespace staging
  agent-safe rbac --caller deploy-agent --roles deployer --unattended --output json
  agent-safe rbac --caller system:serviceaccount:agents:deployer --namespace prod

A caller `system:serviceaccount:NS:NAME` (a ServiceAccount token's identity)
binds to that ServiceAccount, and without --roles/--groups gets the roles and
groups `identity.kubernetes` gives it.";

/// `rbac`.
#[derive(Debug, Args)]
pub(crate) struct RbacArgs {
    /// The agent id the policies see.
    #[arg(long, value_name = "AGENT", required_unless_present = "inventory_sync")]
    pub caller: Option<String>,
    /// Instead of an agent's RBAC: the read-only ClusterRole (get, list,
    /// watch) that `inventory sync` and the sidecar's live inventory need,
    /// bound to --service-account (default `agent-safe`) in
    /// --service-account-namespace (default `agent-safe`).
    #[arg(long, conflicts_with_all = ["caller", "roles", "groups", "unattended"])]
    pub inventory_sync: bool,
    /// The caller's roles, comma-separated (as its signed tokens carry them).
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub roles: Vec<String>,
    /// The caller's groups, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "GROUP,...")]
    pub groups: Vec<String>,
    /// Only targets in this namespace (and cluster-scoped targets such as nodes).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Only inventory targets of this cluster (and targets that name none).
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// The agent's service account (default: the agent id, DNS-safe).
    #[arg(long, value_name = "NAME")]
    pub service_account: Option<String>,
    /// The service account's namespace (default: --namespace, else `default`).
    #[arg(long, value_name = "NS")]
    pub service_account_namespace: Option<String>,
    /// Leave out actions that only `require_approval` rules reach.
    #[arg(long)]
    pub unattended: bool,
    /// `yaml` (manifests for kubectl) or `json` (the plan: actions, privileges, manifests).
    #[arg(long, value_enum, default_value = "yaml", value_name = "FORMAT")]
    pub output: RbacFormat,
}

/// `rbac --output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RbacFormat {
    /// Kubernetes manifests.
    Yaml,
    /// The whole plan as JSON.
    Json,
}

const DEMO_LONG: &str = "\
Run the seed scenario end to end: scaffold a project exactly as `init` does
(into a temporary directory unless --dir is given), mint signed caller tokens
with its fresh key, ask six questions an agent operating Kubernetes would ask
(a restart allowed in staging, the same restart needing approval in
production on a weekday and allowed in the Saturday maintenance window, a
namespace deletion denied, a node drain needing approval, params that point
elsewhere than the target denied), print each decision, and verify the audit
log. Times are fixed with the what-if clock so the output is the same
whenever it runs. Nothing is executed.";

const DEMO_AFTER: &str = "\
Examples:
  agent-safe demo
  agent-safe demo --dir my-demo && cd my-demo && agent-safe audit show";

/// `demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Keep the project in this directory (must not hold project files yet).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const TOKEN_AFTER: &str = "\
Examples:
  agent-safe token create --agent-id deploy-agent --roles deployer --groups platform
  TOKEN=$(agent-safe token create --agent-id deploy-agent --roles deployer --ttl 15m)
  agent-safe check restart-deployment --caller \"$TOKEN\" --target staging/api \\
      --params '{\"namespace\":\"staging\",\"deployment\":\"api\"}'";

/// `token ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCmd {
    /// Mint a signed caller token (prints the JWT).
    #[command(after_help = TOKEN_AFTER)]
    Create(TokenCreateArgs),
}

/// `token create`.
#[derive(Debug, Args)]
pub(crate) struct TokenCreateArgs {
    /// The `agent_id` claim.
    #[arg(long, value_name = "ID")]
    pub agent_id: String,
    /// Roles, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub roles: Vec<String>,
    /// Groups, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "GROUP,...")]
    pub groups: Vec<String>,
    /// Lifetime: seconds, or a number with s, m, h or d (e.g. 15m, 1h).
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub ttl: String,
    /// The `agent_name` claim (a human-readable name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Sign with the configured key of this kid (default: the first key).
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
}

const REGISTRY_AFTER: &str = "\
Examples:
  agent-safe registry lock && git add registry.lock

Once registry.lock exists, loading refuses any action file whose hash differs,
and any file missing from or extra to the lock. Re-run after changing actions/.";

/// `registry ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCmd {
    /// Write registry.lock beside agent-safe.yaml.
    #[command(after_help = REGISTRY_AFTER)]
    Lock,
}

const INVENTORY_AFTER: &str = "\
Examples:
  agent-safe inventory sync                         # kubeconfig's current context -> `inventory:`
  agent-safe inventory sync --context prod --out inventory/prod.yaml
  agent-safe inventory sync --check                 # in CI: exit 1 when the file is out of date
  agent-safe rbac --inventory-sync                  # the read-only RBAC the sync needs

The mapping (environment, sensitivity) is `inventory_sync:` in agent-safe.yaml;
see docs/INVENTORY.md.";

const INVENTORY_SYNC_LONG: &str = "\
Read the cluster's namespaces, Nodes, Deployments, StatefulSets, DaemonSets,
CronJobs, HPAs, ConfigMaps, Secrets (names only), NetworkPolicies (and Pods
when listed in `inventory_sync.kinds`) as metadata, map each to a target with
the `inventory_sync:` rules of agent-safe.yaml, merge the hand-written
`inventory_sync.overrides` entries over them (by id), and write the inventory
file sorted by id: the same cluster gives the same bytes, and an unchanged
file is not rewritten.

The cluster is found through --kubeconfig, $KUBECONFIG, ~/.kube/config, or
else the in-cluster ServiceAccount. Objects no rule maps get
`default_environment` (`unknown`) and `default_sensitivity` (`critical`).

Exit codes: 0 written or up to date; 1 the API server failed or refused (the
file is left as it was), or with --check, the file is out of date; 2 usage or
configuration error.";

/// `inventory ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum InventoryCmd {
    /// Write the inventory file from the cluster.
    #[command(after_help = INVENTORY_AFTER, long_about = INVENTORY_SYNC_LONG)]
    Sync(InventorySyncArgs),
}

/// `inventory sync`.
#[derive(Debug, Args)]
pub(crate) struct InventorySyncArgs {
    /// The kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Where to write (`-` for stdout; default: `inventory_sync.out`, else `inventory`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write nothing; exit 1 when the file differs from what the cluster gives.
    #[arg(long)]
    pub check: bool,
}

const SCHEMA_AFTER: &str = "\
Examples:
  agent-safe schema                       # list the kinds
  agent-safe schema policy > policy.schema.json
  # in a YAML file, for editors with the YAML language server:
  # yaml-language-server: $schema=./policy.schema.json";

/// `schema`.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// The file kind; without it, the kinds are listed.
    pub kind: Option<String>,
    /// Write every schema as DIR/<kind>.schema.json (used to refresh the
    /// committed `schemas/`).
    #[arg(long, value_name = "DIR", hide = true)]
    pub write_dir: Option<PathBuf>,
}

const COMPLETIONS_AFTER: &str = "\
Examples:
  agent-safe completions bash > ~/.local/share/bash-completion/completions/agent-safe
  agent-safe completions zsh > \"${fpath[1]}/_agent-safe\"
  agent-safe completions fish > ~/.config/fish/completions/agent-safe.fish";

/// `completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// An action name argument: any string is accepted (a project's own actions
/// and `name@version` too), but the built-in catalogue's names are offered as
/// possible values, so the generated shell completions complete them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionName;

impl clap::builder::TypedValueParser for ActionName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let registry = agent_safe_core::registry::Registry::from_sources(true, &[]).ok()?;
        let mut names: Vec<String> = registry.latest().map(|a| a.name.clone()).collect();
        names.sort();
        names.dedup();
        Some(Box::new(
            names.into_iter().map(clap::builder::PossibleValue::new),
        ))
    }
}

const WHO_CAN_LONG: &str = "\
For a review of the policies: every callable action, on every inventory target
it applies to, that the rules would allow or send to a human for CALLER (with
the given roles and groups, as its signed tokens carry them), and when: an
answer that holds only during a rule's time windows is shown with them, then
the answer at every other time. Rules are walked in rank order as a check
walks them; params are not considered (invalid params are always denied).
Actions and targets the caller can never use are left out unless --all.";

const WHO_CAN_AFTER: &str = "\
Examples:
  agent-safe who-can deploy-agent --roles deployer
  agent-safe who-can ops-agent --all --output json

Exit codes: 0 the report was printed, 2 no configuration or it does not load.";

/// `who-can`.
#[derive(Debug, Args)]
pub(crate) struct WhoCanArgs {
    /// The caller's agent id.
    pub caller: String,
    /// The caller's roles, comma-separated (as its signed tokens carry them).
    #[arg(long, value_delimiter = ',', value_name = "ROLE,...")]
    pub roles: Vec<String>,
    /// The caller's groups, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "GROUP,...")]
    pub groups: Vec<String>,
    /// Also list the action/target pairs that are always denied.
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

const FMT_LONG: &str = "\
Rewrite policy files and the inventory in one stable style, keeping every comment.

The keys of each rule are put in the documented order (name, description,
priority, match, decision, reason; actions, targets, callers, risk_classes,
time_windows inside match), and those of each inventory target likewise (id,
type, environment, sensitivity, owner, labels, cluster, namespace, name), with
two spaces per level, list dashes indented under their key, one blank line
between rules, no trailing whitespace and one final newline. Formatting twice
changes nothing.

With no PATH, the project's policy files and inventory (`policies:` and
`inventory:` in agent-safe.yaml) are formatted; a PATH is a file or a directory
of them (a file whose top-level key is `targets:` is an inventory). A file that does
not load is refused with its errors and nothing is written (exit 2). A file with
a construct fmt does not rewrite (block scalars `|` `>`, anchors and aliases,
flow collections or strings spanning lines, several documents, tabs, CRLF) is
left exactly as it is, with a note. Every result is parsed again and must hold
the same data and the same comments as the input, or it is not written.

Files are replaced atomically (a temporary file renamed over the original). A
symbolic link is followed: the file it points to is rewritten, the link stays.";

const FMT_AFTER: &str = "\
Examples:
  agent-safe fmt                           # format the project's policies and inventory
  agent-safe fmt --check                   # in CI: exit 1 if a file is not formatted
  agent-safe fmt --diff policies/10-staging.yaml

Exit codes:
  0  every file is formatted (or was just rewritten)
  1  --check or --diff: some file would change; or a result failed the safety check
  2  usage or configuration error, or a file that does not load (nothing written)";

/// `fmt [PATH...] [--check] [--diff]`.
#[derive(Debug, Args)]
pub(crate) struct FmtArgs {
    /// Policy or inventory files, or directories (default: the project's
    /// `policies:` and `inventory:`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write nothing; list the files that would change and exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// Write nothing; print a unified diff of the changes and exit 1 if any.
    #[arg(long)]
    pub diff: bool,
}

const REPLAY_LONG: &str = "\
Re-decide every logged decision under a candidate policy, to see what a change
would do before it is enforced. Each decision event is asked again of the
candidate: the same action (by name), target, params and caller, evaluated at
the time it was first evaluated. A caller identified by a verified token is
re-used with the roles and groups the event recorded; a plain id or an
anonymous caller is resolved again under the candidate's identity settings.
Events of schema v1 recorded no roles or groups: they are re-decided with the
caller id only, counted, and flagged.

The candidate is the configuration (--config, or the one found as usual) with
its policies replaced by --policies and its inventory by --inventory, when
given. LOG is a log file or a directory of rotated files (default: the
configured audit log). The log is only read, event by event (constant memory);
replay writes no audit log and no other file.

The text output is a summary (decisions logged and decided by the candidate,
each path from an old rule to a new one) and the changed decisions;
--output json prints one JSON object per changed decision, then one with the
summary.";

const REPLAY_AFTER: &str = "\
Examples:
  agent-safe replay --policies candidate-policies/ --since 7d
  agent-safe replay audit/ --config candidate.yaml --fail-on widen
  agent-safe replay --policies candidate-policies/ --action drain-node --output json

Exit codes: 0 replayed (and nothing that --fail-on names happened), 1 --fail-on
widen: a decision moved toward ALLOW (DENY→ALLOW, REQUIRE_APPROVAL→ALLOW,
DENY→REQUIRE_APPROVAL), or --fail-on change: any decision changed, or the log
cannot be read; 2 no configuration, a candidate that does not load, bad flags.";

/// `replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// Audit log files or directories (default: the configured audit log).
    #[arg(value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// The candidate policies (a file or directory), in place of the configured ones.
    #[arg(long, value_name = "PATH")]
    pub policies: Option<PathBuf>,
    /// The candidate inventory, in place of the configured one.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Exit 1 when a decision widens toward ALLOW (`widen`) or changes at all (`change`).
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
    /// Only events logged at or after this time: RFC 3339, or a span back from now (7d, 12h, 30m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events logged at or before this time: RFC 3339, or a span back from now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only this action.
    #[arg(long, value_name = "NAME")]
    pub action: Option<String>,
    /// Only this caller (agent id).
    #[arg(long, value_name = "ID")]
    pub caller: Option<String>,
    /// How many changed decisions the text output lists.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_shown: usize,
    /// Output format (json: one object per changed decision, then the summary).
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

/// `replay --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// A decision moved toward ALLOW.
    Widen,
    /// Any decision changed.
    Change,
}
