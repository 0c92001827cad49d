//! Numbers as a person reads them.

/// Bytes in decimal units, as docker shows image sizes: `512 B`, `1.5 kB`, `52.4 MB`.
pub fn human_bytes(bytes: i64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value.abs() >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

/// How long ago, as a person says it: `just now`, `45 s ago`, `3 min ago`, `2 h ago`, `4 days ago`.
pub fn ago(secs: u64) -> String {
    if secs < 10 { "just now".to_string() } else { format!("{} ago", span(secs)) }
}

/// A length of time in its largest whole unit: `45 s`, `3 min`, `2 h`, `1 day`, `4 days`.
pub fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ if secs < 2 * 86_400 => "1 day".to_string(),
        _ => format!("{} days", secs / 86_400),
    }
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart; the last
/// column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| if i == last { cell.to_string() } else { format!("{cell:<0$}", widths[i]) })
            .collect();
        format!("{}\n", padded.join("  "))
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(45), "45 s ago");
        assert_eq!(ago(185), "3 min ago");
        assert_eq!(ago(7300), "2 h ago");
        assert_eq!(ago(90_000), "1 day ago");
        assert_eq!(ago(400_000), "4 days ago");
        assert_eq!(span(5), "5 s");
    }

    #[test]
    fn tables_line_up() {
        let rows = vec![vec!["a".to_string(), "running".to_string(), "/x".to_string()]];
        assert_eq!(table(&["NAME", "STATE", "FOLDER"], &rows), "NAME  STATE    FOLDER\na     running  /x\n");
    }

    #[test]
    fn sizes_read_like_docker_shows_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(52_428_800), "52.4 MB");
        assert_eq!(human_bytes(1_500), "1.5 kB");
    }
}
