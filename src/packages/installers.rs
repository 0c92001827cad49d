//! Package managers at work in the notebook container. A snapshot commits the container while
//! the notebook keeps running, so it must not catch an install halfway: it waits while one runs.

use std::path::Path;

/// Installers whose work a snapshot must not cut in half.
const INSTALLERS: &[&str] = &["pip", "conda", "mamba", "micromamba", "apt", "apt-get", "dpkg", "uv"];

/// The installer a process command line runs, if any: `pip install x`, a script run by its
/// interpreter as the kernel shows it (`/opt/conda/bin/python3.11 /opt/conda/bin/pip install x`),
/// `python3 -m pip ...`, or one started through a shell (`/bin/sh -c pip install x`, as a
/// notebook's `!pip install` does).
pub fn installer_in(command_line: &str) -> Option<&'static str> {
    let words: Vec<&str> = command_line.split_whitespace().collect();
    let program = words.first().map(|w| base(w))?;
    if let Some(found) = known(program) {
        return Some(found);
    }
    let interpreter = program.starts_with("python") || matches!(program, "sh" | "bash" | "dash" | "zsh");
    if !interpreter {
        return None;
    }
    let args = &words[1..];
    // `python -m pip`, `sh -c 'pip install'`: the word after the flag names what runs.
    if let Some(pair) = args.windows(2).find(|w| w[0] == "-m" || w[0] == "-c") {
        return known(base(pair[1].trim_start_matches(['"', '\''])));
    }
    // `python /opt/conda/bin/pip install`: the first argument that is not an option is the script.
    args.iter().find(|w| !w.starts_with('-')).and_then(|script| known(base(script)))
}

/// `pip3.11` and `pip3` are pip; `apt-get` is itself.
fn known(program: &str) -> Option<&'static str> {
    let trimmed = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INSTALLERS.iter().copied().find(|name| *name == program || *name == trimmed)
}

fn base(word: &str) -> &str {
    Path::new(word).file_name().and_then(|n| n.to_str()).unwrap_or(word)
}

/// The first command line among `processes` that runs an installer.
pub fn first_installer(processes: &[String]) -> Option<&String> {
    processes.iter().find(|p| installer_in(p).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_installers_however_started() {
        for (line, expected) in [
            ("pip install numpy", "pip"),
            ("/opt/conda/bin/pip3.11 install ./x.whl", "pip"),
            ("/opt/conda/bin/python3.11 -m pip install -r requirements.txt", "pip"),
            ("/usr/bin/python3 -u -m pip uninstall -y six", "pip"),
            ("/opt/conda/bin/conda install -y numpy", "conda"),
            ("/opt/conda/bin/python3.11 /opt/conda/bin/pip install ./x.whl", "pip"),
            ("/usr/bin/python3 -u /usr/local/bin/mamba install numpy", "mamba"),
            ("/bin/sh /tmp/pip install x", "pip"),
            ("mamba env update -f environment.yml", "mamba"),
            ("/bin/sh -c pip install requests", "pip"),
            ("bash -c 'conda install -y scipy'", "conda"),
            ("apt-get install -y vim", "apt-get"),
            ("/usr/bin/dpkg --configure -a", "dpkg"),
        ] {
            assert_eq!(installer_in(line), Some(expected), "{line}");
        }
    }

    #[test]
    fn leaves_everything_else_alone() {
        for line in [
            "/opt/conda/bin/python3.11 /opt/conda/bin/jupyter-lab",
            "/usr/bin/python3 -m ipykernel_launcher -f /tmp/k.json",
            "python3 -",
            "python3 -c import pip",
            "/opt/conda/bin/python3.11 /opt/conda/bin/jupyter-lab --no-browser",
            "tini -g -- start.sh",
            "sleep infinity",
            "vim pip.conf",
            "grep pip",
            "pipx list",
            "",
        ] {
            assert_eq!(installer_in(line), None, "{line}");
        }
    }
}
