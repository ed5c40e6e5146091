//! Message subjects from a mail trace or eDiscovery export, joined into the report.

use std::collections::HashMap;
use std::path::Path;

use crate::error::ImpactError;

/// Longest subject kept (characters); longer ones are cut with `…`.
const MAX_SUBJECT_CHARS: usize = 500;

/// Read `InternetMessageId,Subject,...` (header names case-insensitive; `MessageId` and
/// `Message ID` are accepted for the id). Later rows for the same id keep the first subject.
///
/// # Errors
/// [`ImpactError::Io`] when the file cannot be opened, [`ImpactError::Csv`] for a row that
/// cannot be read, [`ImpactError::MissingColumn`] when either column is absent.
pub fn load_subjects_csv(path: &Path) -> Result<HashMap<String, String>, ImpactError> {
    let file = std::fs::File::open(path).map_err(|source| ImpactError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(std::io::BufReader::new(file));
    let headers = rdr
        .headers()
        .map_err(|source| ImpactError::Csv {
            path: path.to_path_buf(),
            line: 1,
            source,
        })?
        .clone();
    let norm = |h: &str| {
        h.trim_start_matches('\u{feff}')
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&norm(h).as_str()))
    };
    let found = || headers.iter().collect::<Vec<_>>().join(",");
    let id_col =
        find(&["internetmessageid", "messageid"]).ok_or_else(|| ImpactError::MissingColumn {
            path: path.to_path_buf(),
            column: "InternetMessageId",
            found: found(),
        })?;
    let subj_col = find(&["subject"]).ok_or_else(|| ImpactError::MissingColumn {
        path: path.to_path_buf(),
        column: "Subject",
        found: found(),
    })?;
    let mut out = HashMap::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(source) => {
                let line = source.position().map_or(0, csv::Position::line);
                return Err(ImpactError::Csv {
                    path: path.to_path_buf(),
                    line,
                    source,
                });
            }
        }
        let (Some(id), Some(subject)) = (rec.get(id_col), rec.get(subj_col)) else {
            continue;
        };
        let key = subject_key(id);
        if key.is_empty() {
            continue;
        }
        out.entry(key).or_insert_with(|| cut(subject));
    }
    Ok(out)
}

/// The lookup form of a message id: trimmed, without angle brackets, lowercase.
pub(crate) fn subject_key(id: &str) -> String {
    let t = id.trim();
    let t = t.strip_prefix('<').unwrap_or(t);
    let t = t.strip_suffix('>').unwrap_or(t);
    t.to_lowercase()
}

/// Find the subject of a message id in a map read by [`load_subjects_csv`] or built by hand
/// (keys in any form: with or without brackets, any case).
pub(crate) fn lookup<'a>(subjects: &'a HashMap<String, String>, id: &str) -> Option<&'a str> {
    subjects
        .get(id)
        .or_else(|| subjects.get(&subject_key(id)))
        .map(String::as_str)
}

/// Normalise the keys of a hand-built map so that [`lookup`] finds them.
pub(crate) fn normalise(subjects: &HashMap<String, String>) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::with_capacity(subjects.len());
    let mut keys: Vec<&String> = subjects.keys().collect();
    keys.sort();
    for k in keys {
        if let Some(v) = subjects.get(k) {
            out.entry(subject_key(k)).or_insert_with(|| cut(v));
        }
    }
    out
}

fn cut(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= MAX_SUBJECT_CHARS {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(MAX_SUBJECT_CHARS).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_brackets_and_case() {
        let mut m = HashMap::new();
        m.insert("<ABC@x>".to_owned(), "Hello".to_owned());
        let n = normalise(&m);
        assert_eq!(lookup(&n, "<abc@X>"), Some("Hello"));
        assert_eq!(lookup(&n, "abc@x"), Some("Hello"));
        assert_eq!(lookup(&n, "<other@x>"), None);
    }
}
