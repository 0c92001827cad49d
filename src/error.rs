//! User-facing errors: every failure jenv reports can carry a `hint:` with the next step.

use std::fmt;

/// An error with a hint telling the user what to do about it.
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Hinted {
        Hinted { message: message.into(), hint: hint.into() }
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// Returns a [`Hinted`] error: the message (format string and arguments), then `;` and the hint,
/// in the order [`Hinted::new`] takes them: `hinted!("{name} is not running"; "start it first")`.
macro_rules! hinted {
    ($fmt:literal $(, $arg:expr)* $(,)? ; $hint:expr $(,)?) => {
        return Err($crate::error::Hinted::new(format!($fmt $(, $arg)*), $hint).into())
    };
}
pub(crate) use hinted;

/// Renders an error chain as jenv prints it: the error, its causes, then the hint if any.
pub fn render(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}");
    for cause in err.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    if let Some(hinted) = err.chain().find_map(|e| e.downcast_ref::<Hinted>()) {
        out.push_str(&format!("\nhint: {}", hinted.hint));
    }
    out
}
