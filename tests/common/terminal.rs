//! A real terminal for commands that ask questions: a private tmux server running one command,
//! read with `capture-pane` and answered with `send-keys`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::Sandbox;

/// Printed after the command ends, with its exit code.
const DONE: &str = "jenv-test-exit=";

pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts `jenv args` in `dir` on a fresh 200x50 terminal, with the sandbox's environment.
    pub fn run(sandbox: &Sandbox, dir: &Path, args: &[&str]) -> Terminal {
        Terminal::run_command(sandbox, dir, &sandbox.command(dir, args))
    }

    /// Starts `command` (from [`Sandbox::command`], perhaps with more variables) in `dir`.
    pub fn run_command(sandbox: &Sandbox, dir: &Path, command: &Command) -> Terminal {
        let mut script = format!("cd {}\n", quote(&dir.to_string_lossy()));
        for (name, value) in command.get_envs() {
            let name = name.to_string_lossy();
            match value {
                Some(value) => script.push_str(&format!("export {name}={}\n", quote(&value.to_string_lossy()))),
                None => script.push_str(&format!("unset {name}\n")),
            }
        }
        let words: Vec<String> = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|word| quote(&word.to_string_lossy()))
            .collect();
        script.push_str(&format!("{}\necho {DONE}$?\nsleep 600\n", words.join(" ")));
        let terminal = Terminal { socket: format!("jenv-test-{}-{}", std::process::id(), unique()) };
        let path = sandbox.root().join(format!("{}.sh", terminal.socket));
        std::fs::write(&path, script).unwrap();

        let started = terminal
            .tmux()
            .args(["new-session", "-d", "-x", "200", "-y", "50", "sh"])
            .arg(&path)
            .status()
            .expect("tmux is installed");
        assert!(started.success(), "tmux did not start");
        terminal
    }

    fn tmux(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    /// What the terminal shows, with its scrollback.
    pub fn screen(&self) -> String {
        let out = self.tmux().args(["capture-pane", "-p", "-J", "-S", "-200"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text`; fails the test with the screen when it does not.
    #[track_caller]
    pub fn expect(&self, text: &str, timeout: Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.screen().contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the terminal never showed {text:?}; it shows:\n{}", self.screen());
    }

    /// Types `line` and Enter.
    pub fn answer(&self, line: &str) {
        let sent = self.tmux().args(["send-keys", "-l", line]).status().unwrap();
        assert!(sent.success());
        assert!(self.tmux().args(["send-keys", "Enter"]).status().unwrap().success());
    }

    /// Types `keys` without Enter.
    pub fn keys(&self, keys: &str) {
        assert!(self.tmux().args(["send-keys", "-l", keys]).status().unwrap().success());
    }

    /// Waits for the command to end and returns its exit code.
    #[track_caller]
    pub fn exit_code(&self, timeout: Duration) -> i32 {
        self.expect(DONE, timeout);
        let screen = self.screen();
        let code = screen.split(DONE).nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap();
        code.parse().unwrap()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
