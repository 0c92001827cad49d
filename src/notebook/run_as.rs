//! Who the notebook runs as, so files it writes into the folder belong to the host user.
//!
//! docker-stacks images start as root and their `start.sh` switches to `NB_UID`/`NB_GID`, adding
//! the user to the image's `users` group (100) that owns `/opt/conda`. jenv hands them the host
//! user's ids and runs `exec` as that uid *by number alone*: the engine then takes the user's
//! primary and supplementary groups from the container's remapped `/etc/passwd` and `/etc/group`,
//! exactly the groups the notebook server has. A root host user is mapped the way docker-stacks
//! documents for rootless engines: `NB_USER=root NB_UID=0 NB_GID=0`.
//!
//! Any other image is simply run as the host user's `uid:gid`. Jupyter refuses to run as root
//! unless told to, so for a root host user jenv mounts a small config that allows it
//! (notebook/jupyter_config.rs).

/// Jupyter's runtime files (kernel connections, server info) go here: writable by any uid,
/// and outside the image's home so they are runtime noise, not part of the environment.
const RUNTIME_DIR: (&str, &str) = ("JUPYTER_RUNTIME_DIR", "/tmp/jupyter-runtime");
/// docker-stacks' `start.sh` gives `NB_USER=root` this home. It must exist before `start.sh`
/// runs, or the script copies `/home/jovyan` there, the mounted folder included.
const STACKS_ROOT_HOME: &str = "/home/root";
/// Runs the image's command in the folder `$1` once the start script is done with its own.
const START_IN: &str = "cd \"$1\" && shift && exec \"$@\"";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// The container's `User`.
    pub user: String,
    /// The user `jenv exec`, `jenv shell`, the watcher and rebuilds run commands as.
    pub exec_user: String,
    /// Variables the notebook and the commands jenv runs in it get (see state/run_env.rs).
    pub env: Vec<(String, String)>,
    pub allow_root: bool,
    /// The container's working folder when it cannot be the mounted folder (docker-stacks as
    /// root); Jupyter is then pointed at the mounted folder by its config, and started in it by
    /// [`RunAs::command`].
    pub working_dir: Option<String>,
    /// A folder to hand to the host user before the container starts: the image's home, which a
    /// plain image's own user owns, so that pip's cache and `--user` installs work.
    pub claim: Option<HomeClaim>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeClaim {
    pub path: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct HostIds {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// The image's command as the notebook runs it: in the mounted folder. Where the container
    /// cannot start there, the command changes folder itself after the image's start script:
    /// the server's folder is where kernels started without a notebook path run and write.
    pub fn command(&self, cmd: &[String], mount: &str) -> Vec<String> {
        if self.working_dir.is_none() || cmd.is_empty() {
            return cmd.to_vec();
        }
        ["/bin/sh", "-c", START_IN, "jenv-start-in", mount]
            .map(String::from)
            .into_iter()
            .chain(cmd.iter().cloned())
            .collect()
    }
}

pub fn host_ids() -> HostIds {
    // SAFETY: getuid and getgid cannot fail and touch no memory.
    unsafe { HostIds { uid: libc::getuid(), gid: libc::getgid() } }
}

/// A docker-stacks image: its start script remaps the notebook user from `NB_UID`/`NB_GID`.
pub fn is_docker_stacks(image_env: &[String]) -> bool {
    image_env.iter().any(|e| e.starts_with("NB_UID="))
}

pub fn decide(image_env: &[String], host: HostIds) -> RunAs {
    let HostIds { uid, gid } = host;
    let var = |name: &str, value: &str| (name.to_string(), value.to_string());
    let mut env = vec![var(RUNTIME_DIR.0, RUNTIME_DIR.1)];
    if uid == 0 {
        // pip's advice against root installs is about the host's system Python, not a container.
        env.push(var("PIP_ROOT_USER_ACTION", "ignore"));
    }
    if !is_docker_stacks(image_env) {
        let ids = format!("{uid}:{gid}");
        let home = image_env.iter().find_map(|e| e.strip_prefix("HOME=")).filter(|h| h.starts_with('/') && *h != "/");
        let claim = match home {
            // Root's own home, so pip finds its cache owned by root.
            _ if uid == 0 => {
                env.push(var("HOME", "/root"));
                None
            }
            Some(path) => Some(HomeClaim { path: path.to_string(), uid, gid }),
            None => None,
        };
        return RunAs { user: ids.clone(), exec_user: ids, env, allow_root: uid == 0, working_dir: None, claim };
    }
    let mut working_dir = None;
    if uid == 0 {
        env.extend(
            [("NB_USER", "root"), ("NB_UID", "0"), ("NB_GID", "0"), ("CHOWN_HOME", "yes")].map(|(n, v)| var(n, v)),
        );
        env.push(var("HOME", STACKS_ROOT_HOME));
        working_dir = Some(STACKS_ROOT_HOME.to_string());
    } else {
        env.extend([var("NB_UID", &uid.to_string()), var("NB_GID", &gid.to_string()), var("CHOWN_HOME", "yes")]);
    }
    RunAs { user: "root".to_string(), exec_user: uid.to_string(), env, allow_root: uid == 0, working_dir, claim: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACKS_ENV: &[&str] = &["PATH=/opt/conda/bin", "NB_USER=jovyan", "NB_UID=1000", "NB_GID=100"];

    fn env(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// `NAME=value` as the pair `RunAs::env` holds.
    fn pair(text: &str) -> (String, String) {
        let (name, value) = text.split_once('=').unwrap();
        (name.to_string(), value.to_string())
    }

    #[test]
    fn plain_image_runs_as_the_host_user_who_gets_its_home() {
        let run_as = decide(&env(&["PATH=/usr/bin", "HOME=/home/jovyan"]), HostIds { uid: 1234, gid: 1234 });
        assert_eq!(run_as.user, "1234:1234");
        assert_eq!(run_as.exec_user, "1234:1234");
        assert!(!run_as.allow_root);
        assert_eq!(run_as.working_dir, None);
        assert_eq!(run_as.claim, Some(HomeClaim { path: "/home/jovyan".into(), uid: 1234, gid: 1234 }));
        assert_eq!(decide(&env(&["HOME=/"]), HostIds { uid: 1234, gid: 1234 }).claim, None);
        assert_eq!(decide(&[], HostIds { uid: 1234, gid: 1234 }).claim, None);
    }

    #[test]
    fn docker_stacks_image_switches_user_itself_and_exec_gets_its_groups() {
        let run_as = decide(&env(STACKS_ENV), HostIds { uid: 1234, gid: 50 });
        assert_eq!(run_as.user, "root");
        assert!(run_as.env.contains(&pair("NB_UID=1234")));
        assert!(run_as.env.contains(&pair("NB_GID=50")));
        // A bare uid: the engine looks the user up in the remapped /etc/passwd and /etc/group.
        assert_eq!(run_as.exec_user, "1234");
        assert_eq!(run_as.working_dir, None);
    }

    #[test]
    fn docker_stacks_as_root_uses_the_documented_root_mapping() {
        let run_as = decide(&env(STACKS_ENV), HostIds { uid: 0, gid: 0 });
        for expected in ["NB_USER=root", "NB_UID=0", "NB_GID=0", "HOME=/home/root", "PIP_ROOT_USER_ACTION=ignore"] {
            assert!(run_as.env.contains(&pair(expected)), "{expected} in {:?}", run_as.env);
        }
        assert_eq!(run_as.exec_user, "0");
        assert!(run_as.allow_root);
        assert_eq!(run_as.working_dir.as_deref(), Some("/home/root"));
        let cmd = ["start-notebook.py".to_string()];
        let command = run_as.command(&cmd, "/home/jovyan/work");
        assert_eq!(command[..2], ["/bin/sh", "-c"]);
        assert_eq!(command[3..], ["jenv-start-in", "/home/jovyan/work", "start-notebook.py"]);
        assert_eq!(run_as.command(&[], "/home/jovyan/work"), Vec::<String>::new());
    }

    #[test]
    fn the_command_runs_in_the_mounted_folder_after_the_start_script() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("a folder");
        std::fs::create_dir(&folder).unwrap();
        let run_as = decide(&env(STACKS_ENV), HostIds { uid: 0, gid: 0 });
        let cmd =
            ["sh".to_string(), "-c".to_string(), "pwd; echo \"$1\"".to_string(), "sh".to_string(), "x y".to_string()];
        let command = run_as.command(&cmd, &folder.to_string_lossy());
        let out = std::process::Command::new(&command[0]).args(&command[1..]).current_dir("/").output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{}\nx y\n", folder.display()));
    }

    #[test]
    fn a_container_that_starts_in_the_mounted_folder_keeps_the_images_command() {
        let cmd = ["start-notebook.py".to_string()];
        for host in [HostIds { uid: 1234, gid: 1234 }, HostIds { uid: 0, gid: 0 }] {
            assert_eq!(decide(&env(&["HOME=/home/jovyan"]), host).command(&cmd, "/w"), cmd);
        }
        assert_eq!(decide(&env(STACKS_ENV), HostIds { uid: 1234, gid: 100 }).command(&cmd, "/w"), cmd);
    }

    #[test]
    fn root_host_user_runs_plain_images_as_root() {
        let plain = decide(&env(&["HOME=/home/jovyan"]), HostIds { uid: 0, gid: 0 });
        assert!(plain.allow_root);
        assert_eq!(plain.user, "0:0");
        assert_eq!(plain.claim, None);
        assert!(plain.env.contains(&pair("HOME=/root")));
    }
}
