//! `env_file = ".env"`: the dotenv syntax people already keep secrets in.
//!
//! `KEY=value` per line; blank lines and `#` comments are skipped; `export KEY=value` is
//! accepted; values may be 'single-quoted' (taken literally) or "double-quoted" (with `\n`, `\"`
//! and `\\` escapes); an unquoted value ends at ` #`. A line that is none of these is an error
//! naming the file and line, never a silently skipped secret. Values are never echoed in errors.

use std::path::Path;

use anyhow::Result;

use crate::error::Hinted;
use crate::manifest::keys::validate_env_name;

/// Reads `path` (a dotenv file) into `(name, value)` pairs, in file order.
pub fn read(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        Hinted::new(
            format!("cannot read the env file {}: {err}", path.display()),
            "create it, or fix `env_file` in .jupyter-env",
        )
    })?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{}:{}", path.display(), index + 1);
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(malformed(&at, "expected NAME=value"));
        };
        let name = name.trim();
        validate_env_name(name, &at)?;
        pairs.push((name.to_string(), value_of(value.trim(), &at)?));
    }
    Ok(pairs)
}

fn value_of(text: &str, at: &str) -> Result<String> {
    if let Some(rest) = text.strip_prefix('\'') {
        let (value, after) = rest.split_once('\'').ok_or_else(|| malformed(at, "the ' quote is not closed"))?;
        ensure_only_comment(after, at)?;
        return Ok(value.to_string());
    }
    if let Some(rest) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    ensure_only_comment(chars.as_str(), at)?;
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some(other) => value.push(other),
                    None => break,
                },
                other => value.push(other),
            }
        }
        return Err(malformed(at, "the \" quote is not closed (values span one line)"));
    }
    let value = match text.find(" #") {
        Some(comment) => &text[..comment],
        None => text,
    };
    Ok(value.trim_end().to_string())
}

fn ensure_only_comment(after: &str, at: &str) -> Result<()> {
    let after = after.trim();
    if after.is_empty() || after.starts_with('#') { Ok(()) } else { Err(malformed(at, "text after the closing quote")) }
}

fn malformed(at: &str, what: &str) -> anyhow::Error {
    Hinted::new(format!("{at}: {what}"), "write one NAME=value per line (quotes optional, # starts a comment)").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(String, String)> {
        parse(text, Path::new("/p/.env")).unwrap()
    }

    fn error(text: &str) -> String {
        let err = parse(text, Path::new("/p/.env")).unwrap_err();
        format!("{err}")
    }

    #[test]
    fn reads_the_common_forms() {
        let text = "# secrets\n\nAPI_KEY=abc123\nexport REGION = eu-west-1 \nQUOTED=\"a b # not a comment\\n\"\nLITERAL='x\\ny $HOME'\nEMPTY=\nTRAILING=value # comment\nURL=https://x.org/?a=b\n";
        let pairs = parsed(text);
        let expected = [
            ("API_KEY", "abc123"),
            ("REGION", "eu-west-1"),
            ("QUOTED", "a b # not a comment\n"),
            ("LITERAL", "x\\ny $HOME"),
            ("EMPTY", ""),
            ("TRAILING", "value"),
            ("URL", "https://x.org/?a=b"),
        ];
        let got: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn malformed_lines_name_file_and_line_but_not_the_value() {
        assert_eq!(error("A=1\nthis is not an assignment\n"), "/p/.env:2: expected NAME=value");
        assert_eq!(error("A=\"secret-value\n"), "/p/.env:1: the \" quote is not closed (values span one line)");
        assert_eq!(error("A='secret' trailing\n"), "/p/.env:1: text after the closing quote");
        let bad_name = error("\n\n1ABC=secret-value\n");
        assert!(bad_name.contains("/p/.env:3: `1ABC` is not a variable name"), "{bad_name}");
        for text in [error("A=\"secret-value\n"), error("A='secret-value' x\n")] {
            assert!(!text.contains("secret-value"), "a value leaked into an error: {text}");
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = read(Path::new("/nonexistent/.env")).unwrap_err();
        assert!(format!("{err}").starts_with("cannot read the env file /nonexistent/.env"), "{err}");
    }
}
