//! `jenv doctor`: everything jenv depends on, checked one by one, each failure with its fix.
//! No check stops the others: an engine that does not answer still leaves the socket, ports and
//! state to be checked.

use std::fs::{self, File, TryLockError};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::engine::Engine;
use crate::engine::endpoint::Endpoint;
use crate::engine::types::{Container, EngineFacts};
use crate::error::Hinted;
use crate::manifest::{self, Project};
use crate::notebook::orphans;
use crate::notebook::ports;
use crate::state::{Loaded, STATE_FILE, STATE_LOCK_FILE, StateDir, Sub};
use crate::ui::Console;

/// An engine that takes longer than this to answer is reported as not answering.
const ENGINE_DEADLINE: Duration = Duration::from_secs(10);
/// The oldest engine API jenv works with (Docker 20.10).
const MIN_API: (u32, u32) = (1, 41);

/// One line of the report; the JSON shape is documented in docs/cli.md.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    /// False for a failure. A warning is ok, with a fix.
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, ok: true, detail: detail.into(), fix: None }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, ok: true, detail: detail.into(), fix: Some(fix.into()) }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, ok: false, detail: detail.into(), fix: Some(fix.into()) }
    }

    pub fn is_warning(&self) -> bool {
        self.ok && self.fix.is_some()
    }
}

/// Runs every check, in the order a user would fix them (warnings about config files go to
/// `console`).
pub async fn run(console: &Console) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Ok(endpoint) = Endpoint::from_env()
        && let Some(path) = endpoint.unix_path()
    {
        checks.push(socket(path));
    }
    let engine = match tokio::time::timeout(ENGINE_DEADLINE, Engine::connect(console)).await {
        Ok(Ok(engine)) => {
            let endpoint = engine.endpoint();
            checks.push(Check::pass("engine", format!("answers at {} (from {})", endpoint.host, endpoint.source)));
            Some(engine)
        }
        Ok(Err(err)) => {
            let (message, hint) = message_and_hint(&err);
            checks.push(Check::fail("engine", message, hint));
            None
        }
        Err(_) => {
            let host = Endpoint::from_env().map(|e| e.host).unwrap_or_default();
            let fix = "check that the engine runs and that nothing between jenv and it drops the connection";
            checks.push(Check::fail(
                "engine",
                format!("{host} did not answer within {}s", ENGINE_DEADLINE.as_secs()),
                fix,
            ));
            None
        }
    };
    let mut containers = None;
    if let Some(engine) = &engine {
        match engine.facts().await {
            Ok(facts) => checks.extend([version(&facts), storage(&facts)]),
            Err(err) => checks.push(Check::fail("version", format!("{err:#}"), "see the engine's log")),
        }
        checks.extend(image(engine).await);
        containers = engine.list(None).await.ok();
    }
    let state = StateDir::locate();
    checks.push(port_range(&state, containers.as_deref(), console));
    match &state {
        Ok(state) => checks.extend([state_folder(state), locks(state)]),
        Err(err) => {
            let (message, hint) = message_and_hint(err);
            checks.push(Check::fail("state", message, hint));
        }
    }
    if let (Some(engine), Ok(state)) = (&engine, &state) {
        checks.push(leftovers(engine, state).await);
    }
    checks
}

fn message_and_hint(err: &anyhow::Error) -> (String, String) {
    let hint = err.chain().find_map(|e| e.downcast_ref::<Hinted>()).map(|h| h.hint.clone());
    (format!("{err:#}"), hint.unwrap_or_else(|| "see the message above".to_string()))
}

/// Whether this user may talk to the engine through its unix socket.
fn socket(path: &str) -> Check {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Check::fail(
                "socket",
                format!("no socket at {path}: no engine listens there"),
                "start the engine (e.g. `sudo systemctl start docker`), or choose a running one with DOCKER_HOST or `docker context use`",
            );
        }
        Err(err) => {
            return Check::fail(
                "socket",
                format!("cannot look at {path}: {err}"),
                "make its folder reachable for your user",
            );
        }
    };
    if !meta.file_type().is_socket() {
        return Check::fail(
            "socket",
            format!("{path} is not a socket"),
            "point DOCKER_HOST at the engine's socket, e.g. unix:///var/run/docker.sock",
        );
    }
    let uid = current_uid();
    if accessible(Path::new(path), libc::R_OK | libc::W_OK) {
        return Check::pass("socket", format!("{path}: readable and writable by uid {uid}"));
    }
    let group = group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string());
    Check::fail(
        "socket",
        format!(
            "{path} (owner uid {}, group {group}, mode {:04o}) is not readable and writable by uid {uid}",
            meta.uid(),
            meta.mode() & 0o7777
        ),
        format!(
            "add yourself to its group: `sudo usermod -aG {group} $USER`, then log in again (or run a rootless Docker or Podman of your own)"
        ),
    )
}

fn version(facts: &EngineFacts) -> Check {
    let detail = format!(
        "{} {}, API {} (jenv speaks {} with it)",
        facts.product, facts.version, facts.api_version, facts.spoken_api_version
    );
    match parse_api(&facts.api_version) {
        Some(api) if api < MIN_API => Check::fail(
            "version",
            format!("{detail}: older than API {}.{}", MIN_API.0, MIN_API.1),
            "upgrade the engine: jenv needs API 1.41 (Docker 20.10, Podman 4) or newer",
        ),
        _ => Check::pass("version", detail),
    }
}

fn parse_api(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Snapshots are commits, and how long a commit takes is the storage driver's doing.
fn storage(facts: &EngineFacts) -> Check {
    let fix = "where the kernel allows it, run the engine on overlay2 (`\"storage-driver\": \"overlay2\"` in /etc/docker/daemon.json, then restart it; images must be pulled or built again)";
    match facts.storage_driver.as_str() {
        "fuse-overlayfs" => Check::warn(
            "storage",
            "fuse-overlayfs: snapshots are slow. With no native diff, every commit walks the container's files \
             through FUSE to find what changed: 3-6 s per `docker commit` of a notebook in docs/benchmarks.md, \
             under a second on overlay2",
            fix,
        ),
        "vfs" => Check::warn(
            "storage",
            "vfs: snapshots are slow and large. Every layer is a full copy, so every commit copies the container's \
             whole filesystem",
            fix,
        ),
        "" => Check::pass("storage", "the engine names no storage driver"),
        driver => Check::pass("storage", driver),
    }
}

/// The image `jenv up` would start this folder's notebook from, when run in a project.
async fn image(engine: &Engine) -> Option<Check> {
    let cwd = std::env::current_dir().ok()?;
    if !cwd.ancestors().any(|folder| folder.join(manifest::FILE_NAME).is_file()) {
        return None;
    }
    let project = match manifest::discover(&cwd) {
        Ok(project) => project,
        Err(err) => {
            let (message, hint) = message_and_hint(&err);
            return Some(Check::fail("manifest", message, hint));
        }
    };
    Some(image_of(engine, &project).await)
}

async fn image_of(engine: &Engine, project: &Project) -> Check {
    let own = format!("{}:latest", project.manifest.repository);
    if let Ok(Some(_)) = engine.inspect_image(&own).await {
        return Check::pass("image", format!("{own} (this folder's snapshot) is here"));
    }
    let base = &project.manifest.image;
    match engine.inspect_image(base).await {
        Ok(Some(_)) => return Check::pass("image", format!("{base} is here")),
        Ok(None) => {}
        Err(err) => return Check::fail("image", format!("cannot inspect {base}: {err:#}"), "see the engine's log"),
    }
    let fix = "check `image` in .jupyter-env, or make the image available offline (`docker load`, `docker build`)";
    match tokio::time::timeout(ENGINE_DEADLINE, engine.registry_has(base)).await {
        Ok(Ok(())) => Check::pass("image", format!("{base} is not here yet; its registry has it, `jenv up` pulls it")),
        Ok(Err(err)) => {
            Check::fail("image", format!("{base} is not here, and its registry does not give it: {err:#}"), fix)
        }
        Err(_) => Check::fail(
            "image",
            format!("{base} is not here, and its registry did not answer within {}s", ENGINE_DEADLINE.as_secs()),
            fix,
        ),
    }
}

/// Host ports left to lease: in the range, not leased, not published by a container, bindable.
fn port_range(state: &anyhow::Result<StateDir>, containers: Option<&[Container]>, console: &Console) -> Check {
    let range = match crate::manifest::user_config::UserConfig::load(console).and_then(|config| config.port_range()) {
        Ok(range) => range,
        Err(err) => {
            let (message, hint) = message_and_hint(&err);
            return Check::fail("ports", message, hint);
        }
    };
    let current = match state.as_ref().map(StateDir::read) {
        Ok(Loaded::Ok(current)) => Some(current),
        _ => None,
    };
    let taken = ports::taken(current.as_ref(), containers.unwrap_or_default(), "");
    let total = usize::from(range.high - range.low) + 1;
    let free = (range.low..=range.high).filter(|p| !taken.contains(p) && ports::is_bindable(*p)).count();
    let source =
        if std::env::var_os("JENV_PORT_RANGE").is_some_and(|v| !v.is_empty()) { " (JENV_PORT_RANGE)" } else { "" };
    let detail = format!("{free} of {total} free in {}-{}{source}", range.low, range.high);
    if free == 0 {
        return Check::fail(
            "ports",
            detail,
            "stop notebooks you do not need with `jenv down`, or widen the range with JENV_PORT_RANGE=LOW-HIGH",
        );
    }
    Check::pass("ports", detail)
}

/// The state folder and state.json: private, usable by this user, parseable.
fn state_folder(state: &StateDir) -> Check {
    let root = &state.root;
    if !root.exists() {
        return Check::pass("state", format!("{} does not exist yet; the first `jenv up` creates it", root.display()));
    }
    let mut problems = Problems::default();
    problems.check_private(root, 0o700, true);
    let file = state.path(STATE_FILE);
    let mut detail = format!("{} (0700)", root.display());
    if file.exists() {
        problems.check_private(&file, 0o600, false);
        match state.read() {
            Loaded::Ok(current) => {
                let leased = current.environments.values().filter(|r| r.leased).count();
                let count = plural(current.environments.len(), "environment");
                detail.push_str(&format!(", state.json (0600) holds {count}, {leased} leased"));
            }
            Loaded::Corrupt(reason) => problems.add(
                reason,
                format!(
                    "the next `jenv up` rebuilds it from the containers' labels; or move it away: `mv {0} {0}.bad`",
                    file.display()
                ),
            ),
        }
    }
    problems.into_check("state", detail)
}

/// The lock files: private, and who holds them now (holding is normal while a command runs).
fn locks(state: &StateDir) -> Check {
    if !state.root.exists() {
        return Check::pass("locks", "none yet");
    }
    let mut problems = Problems::default();
    let mut notes = Vec::new();
    let state_lock = state.path(STATE_LOCK_FILE);
    if state_lock.exists() {
        problems.check_private(&state_lock, 0o600, false);
        if let Ok(file) = File::options().read(true).write(true).open(&state_lock)
            && let Err(TryLockError::WouldBlock) = file.try_lock()
        {
            notes.push("state.lock is held by a jenv command right now".to_string());
        }
    }
    let dir = state.sub(Sub::Locks);
    let mut count = 0;
    if dir.exists() {
        problems.check_private(&dir, 0o700, true);
        let ops = crate::state::env_lock::EnvLocks::new(state);
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".lock")) else {
                continue;
            };
            count += 1;
            problems.check_private(&path, 0o600, false);
            if let Some(holder) = ops.busy(name) {
                notes.push(format!("{name}: {holder}"));
            }
        }
    }
    let mut detail = format!("state.lock and {} usable", plural(count, "environment lock"));
    if !notes.is_empty() {
        detail.push_str(&format!("; busy: {}", notes.join(", ")));
    }
    problems.into_check("locks", detail)
}

/// Containers left behind by folders that were deleted or moved.
async fn leftovers(engine: &Engine, state: &StateDir) -> Check {
    match orphans::find(engine, state).await {
        Ok(found) if found.is_empty() => Check::pass("orphans", "every jenv container's folder exists"),
        Ok(found) => {
            let names: Vec<String> =
                found.iter().map(|c| format!("{} ({})", manifest::container_name(&c.name), c.folder)).collect();
            Check::warn(
                "orphans",
                format!("{} container(s) whose folders are gone: {}", found.len(), names.join(", ")),
                "`jenv prune --orphans` removes them and frees their ports",
            )
        }
        Err(err) => Check::fail("orphans", format!("{err:#}"), "see the engine's log"),
    }
}

/// What is wrong with a set of files, gathered so one check reports them all.
#[derive(Default)]
struct Problems {
    details: Vec<String>,
    fixes: Vec<String>,
}

impl Problems {
    fn add(&mut self, detail: String, fix: String) {
        self.details.push(detail);
        if !self.fixes.contains(&fix) {
            self.fixes.push(fix);
        }
    }

    /// `path` must be usable by this user and closed to others: jenv keeps tokens there.
    fn check_private(&mut self, path: &Path, mode: u32, is_dir: bool) {
        let Ok(meta) = fs::metadata(path) else { return };
        let wanted = if is_dir { libc::R_OK | libc::W_OK | libc::X_OK } else { libc::R_OK | libc::W_OK };
        if !accessible(path, wanted) {
            self.add(
                format!("{} is not readable and writable by uid {}", path.display(), current_uid()),
                format!(
                    "give it back to your user: `sudo chown -R $(id -u):$(id -g) {}`, or set JENV_HOME to a folder of yours",
                    path.display()
                ),
            );
        }
        let actual = meta.mode() & 0o777;
        if actual & 0o077 != 0 {
            self.add(
                format!("{} is mode {actual:04o}, open to other users (it holds notebook tokens)", path.display()),
                format!("`chmod {mode:o} {}`", path.display()),
            );
        }
    }

    fn into_check(self, name: &'static str, detail: String) -> Check {
        if self.details.is_empty() {
            Check::pass(name, detail)
        } else {
            Check::fail(name, self.details.join("; "), self.fixes.join("; "))
        }
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

fn accessible(path: &Path, mode: libc::c_int) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::access(path.as_ptr(), mode) == 0 }
}

fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

/// The name /etc/group gives `gid`.
fn group_name(gid: u32) -> Option<String> {
    let groups = fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == gid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn facts(api: &str, driver: &str) -> EngineFacts {
        EngineFacts {
            product: "Docker Engine".into(),
            version: "20.10.24".into(),
            api_version: api.into(),
            spoken_api_version: api.into(),
            storage_driver: driver.into(),
        }
    }

    #[test]
    fn old_engines_fail_and_say_what_is_needed() {
        assert!(version(&facts("1.41", "overlay2")).ok);
        assert!(version(&facts("1.45", "overlay2")).ok);
        let old = version(&facts("1.40", "overlay2"));
        assert!(!old.ok && old.fix.unwrap().contains("1.41"), "{}", old.detail);
    }

    #[test]
    fn slow_storage_drivers_are_warnings_with_the_reason() {
        let fuse = storage(&facts("1.41", "fuse-overlayfs"));
        assert!(fuse.is_warning() && fuse.detail.contains("FUSE"), "{fuse:?}");
        assert!(storage(&facts("1.41", "vfs")).is_warning());
        let fine = storage(&facts("1.41", "overlay2"));
        assert!(fine.ok && !fine.is_warning());
    }

    #[test]
    fn a_missing_socket_fails_with_a_fix() {
        let check = socket("/nonexistent/docker.sock");
        assert!(!check.ok && check.detail.contains("no socket at /nonexistent/docker.sock"), "{check:?}");
        assert!(check.fix.unwrap().contains("start the engine"));
    }

    #[test]
    fn open_state_files_and_broken_json_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir { root: tmp.path().join("jenv") };
        assert!(state_folder(&state).ok, "a state folder not made yet is fine");
        state.lock().unwrap();
        assert!(state_folder(&state).ok);
        assert!(locks(&state).ok);

        fs::set_permissions(&state.root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(state.path(STATE_FILE), "{ not json").unwrap();
        fs::set_permissions(state.path(STATE_FILE), fs::Permissions::from_mode(0o600)).unwrap();
        let check = state_folder(&state);
        assert!(!check.ok);
        assert!(check.detail.contains("mode 0755") && check.detail.contains("unreadable"), "{}", check.detail);
        let fix = check.fix.unwrap();
        assert!(fix.contains("chmod 700") && fix.contains("rebuilds it"), "{fix}");
    }

    #[test]
    fn group_names_come_from_etc_group() {
        assert_eq!(group_name(0).as_deref(), Some("root"));
    }
}
