//! Requirement files the watcher follows: what kind each is, how to install it, and how a
//! pip requirements file compares with what the notebook has installed.

use std::fmt;

use crate::packages::{Installed, Manager, normalize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `requirements*.txt` and other pip requirement files.
    Pip,
    /// conda's `environment.yml`.
    Conda,
    /// A Python project: `pip install .` installs it with its dependencies.
    Project,
}

impl Kind {
    pub fn of(file_name: &str) -> Kind {
        match file_name {
            "environment.yml" | "environment.yaml" => Kind::Conda,
            "pyproject.toml" | "setup.py" | "setup.cfg" => Kind::Project,
            _ => Kind::Pip,
        }
    }

    /// The installer command, run in the file's folder inside the container.
    pub fn install_command(self, file_name: &str) -> Vec<String> {
        let words: &[&str] = match self {
            Kind::Pip => &["python3", "-m", "pip", "install", "--no-input", "-r", file_name],
            Kind::Conda => &["conda", "env", "update", "--file", file_name],
            Kind::Project => &["python3", "-m", "pip", "install", "--no-input", "."],
        };
        words.iter().map(|w| w.to_string()).collect()
    }
}

/// One line of a requirements file and how the notebook stands against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Satisfied,
    Missing,
    /// Installed, but at another version than the line pins.
    Other(String),
    /// jenv cannot tell (ranges, options, includes): the installer decides.
    Unknown,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Status::Satisfied => write!(f, "  = {} (installed)", self.text),
            Status::Missing => write!(f, "  + {} (not installed)", self.text),
            Status::Other(version) => write!(f, "  ~ {} (installed: {version})", self.text),
            Status::Unknown => write!(f, "  ? {}", self.text),
        }
    }
}

/// Compares each requirement line with the installed packages.
pub fn compare(text: &str, installed: &Installed) -> Vec<Line> {
    text.lines()
        .map(|line| line.split(" #").next().unwrap_or("").trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| Line { text: line.to_string(), status: status(line, installed) })
        .collect()
}

fn status(line: &str, installed: &Installed) -> Status {
    let Some((name, pinned)) = parse(line) else { return Status::Unknown };
    match (installed.get(&(Manager::Pip, normalize(&name))), pinned) {
        (None, _) => Status::Missing,
        (Some(found), Some(version)) if found.version != version => Status::Other(found.version.clone()),
        (Some(_), Some(_)) => Status::Satisfied,
        // Unpinned, or a URL: installed under that name is as much as jenv can check.
        (Some(_), None) => Status::Satisfied,
    }
}

/// The package name and pinned version a line asks for, when it is simple enough to tell:
/// `name`, `name==1.0`, `name[extra]==1.0`, `name @ URL`, or a path to a wheel.
fn parse(line: &str) -> Option<(String, Option<String>)> {
    if line.starts_with('-') {
        return None;
    }
    if let Some((name, _url)) = line.split_once(" @ ") {
        return Some((strip_extras(name.trim()), None));
    }
    if line.ends_with(".whl") {
        let file = line.rsplit('/').next()?;
        let mut parts = file.split('-');
        return Some((parts.next()?.to_string(), Some(parts.next()?.to_string())));
    }
    let line = line.split(';').next()?.trim();
    if let Some((name, version)) = line.split_once("==") {
        return Some((strip_extras(name.trim()), Some(version.trim().to_string())));
    }
    let is_plain_name =
        line.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '[' | ']' | ','));
    is_plain_name.then(|| (strip_extras(line), None))
}

fn strip_extras(name: &str) -> String {
    name.split('[').next().unwrap_or(name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::parse_listing;

    fn installed() -> Installed {
        let site = "/usr/lib/python3/dist-packages";
        parse_listing(&format!("{site}/jenv_probe-1.0.dist-info\n{site}/six-1.16.0.dist-info\n"), "/w")
    }

    #[test]
    fn each_line_against_what_is_installed() {
        let text = "# data tools\nsix==1.16.0\njenv-probe==2.0  # newer\nnumpy\n./dist/extra_tool-0.3-py3-none-any.whl\nscipy>=1.0\n-r other.txt\n";
        let lines: Vec<String> = compare(text, &installed()).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "  = six==1.16.0 (installed)",
                "  ~ jenv-probe==2.0 (installed: 1.0)",
                "  + numpy (not installed)",
                "  + ./dist/extra_tool-0.3-py3-none-any.whl (not installed)",
                "  ? scipy>=1.0",
                "  ? -r other.txt",
            ]
        );
    }

    #[test]
    fn names_are_compared_normalised_and_without_extras() {
        let lines = compare("Jenv_Probe[fast]==1.0\nsix @ file:///w/six.whl\n", &installed());
        assert!(lines.iter().all(|l| l.status == Status::Satisfied), "{lines:?}");
    }

    #[test]
    fn kinds_and_installers() {
        assert_eq!(Kind::of("requirements-dev.txt"), Kind::Pip);
        assert_eq!(Kind::of("environment.yml"), Kind::Conda);
        assert_eq!(
            Kind::Pip.install_command("requirements.txt").join(" "),
            "python3 -m pip install --no-input -r requirements.txt"
        );
        assert_eq!(Kind::Project.install_command("pyproject.toml").join(" "), "python3 -m pip install --no-input .");
    }
}
