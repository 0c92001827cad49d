//! Opening a URL in the user's browser: `$BROWSER` first (as Python's `webbrowser` and `man`
//! read it: commands separated by `:`, `%s` standing for the URL), then the platform's opener.

use std::io::ErrorKind;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A browser started in the foreground (`firefox URL` when none runs yet) lives as long as its
/// window; one still running after this is taken to have opened the page.
const GRACE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(50);

/// What opened the URL, or why nothing did (one reason per opener tried).
pub type Outcome = Result<String, Vec<String>>;

/// Tries each opener in turn until one works.
pub fn open(url: &str) -> Outcome {
    let browser = std::env::var("BROWSER").ok();
    let mut failures = Vec::new();
    for argv in openers(browser.as_deref(), std::env::consts::OS, url) {
        let shown = argv.join(" ").replace(url, "URL");
        match run(&argv) {
            Ok(()) => return Ok(shown),
            Err(reason) => failures.push(format!("`{shown}` {reason}")),
        }
    }
    Err(failures)
}

/// The commands to try, in order, each with the URL in place.
fn openers(browser: Option<&str>, os: &str, url: &str) -> Vec<Vec<String>> {
    let mut openers: Vec<Vec<String>> = browser
        .unwrap_or_default()
        .split(':')
        .filter_map(|entry| {
            let mut words: Vec<String> = entry.split_whitespace().map(str::to_string).collect();
            if words.is_empty() {
                return None;
            }
            if words.iter().any(|w| w.contains("%s")) {
                words.iter_mut().for_each(|w| *w = w.replace("%s", url));
            } else {
                words.push(url.to_string());
            }
            Some(words)
        })
        .collect();
    let platform: &[&str] = match os {
        "macos" => &["open"],
        // `start`'s first quoted argument is a window title, so an empty one goes first.
        "windows" => &["cmd", "/c", "start", ""],
        _ => &["xdg-open"],
    };
    openers.push(platform.iter().map(|s| s.to_string()).chain([url.to_string()]).collect());
    openers
}

fn run(argv: &[String]) -> Result<(), String> {
    let mut child = match Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(err) if err.kind() == ErrorKind::NotFound => return Err("is not installed".to_string()),
        Err(err) => return Err(format!("could not start: {err}")),
    };
    let deadline = Instant::now() + GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("failed ({status})")),
            Ok(None) if Instant::now() >= deadline => return Ok(()),
            Ok(None) => std::thread::sleep(POLL),
            Err(err) => return Err(format!("could not be waited for: {err}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:8888/lab?token=abc";

    fn words(openers: &[Vec<String>]) -> Vec<String> {
        openers.iter().map(|argv| argv.join(" ")).collect()
    }

    #[test]
    fn the_platform_opener_comes_last_or_alone() {
        assert_eq!(words(&openers(None, "linux", URL)), [format!("xdg-open {URL}")]);
        assert_eq!(words(&openers(Some(""), "macos", URL)), [format!("open {URL}")]);
        assert_eq!(openers(None, "windows", URL), [vec!["cmd", "/c", "start", "", URL]]);
        assert_eq!(words(&openers(None, "freebsd", URL)), [format!("xdg-open {URL}")]);
    }

    #[test]
    fn browser_entries_come_first_with_the_url_appended_or_in_place_of_percent_s() {
        let got = openers(Some("firefox --new-tab:w3m %s::"), "linux", URL);
        assert_eq!(words(&got), [format!("firefox --new-tab {URL}"), format!("w3m {URL}"), format!("xdg-open {URL}")]);
    }

    #[test]
    fn a_missing_or_failing_opener_says_why() {
        assert_eq!(run(&["/nonexistent/browser".to_string(), URL.to_string()]), Err("is not installed".into()));
        let failed = run(&["false".to_string()]).unwrap_err();
        assert!(failed.starts_with("failed (exit status: 1"), "{failed}");
        assert_eq!(run(&["true".to_string()]), Ok(()));
    }
}
