//! Subjects joined from a CSV.

use std::io::Write;

use stormwatch_impact::{ImpactError, ImpactOptions, load_subjects_csv};

use crate::build::*;
use crate::exposure::{X, scenario};

#[test]
fn subjects_are_joined_by_message_id() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "\u{feff}InternetMessageId,Subject,Sender").unwrap();
    writeln!(f, "<M1@x>,\"Budget, Q3\",someone").unwrap();
    writeln!(f, "m2@x,Travel plans,someone").unwrap();
    f.flush().unwrap();
    let subjects = load_subjects_csv(f.path()).unwrap();
    assert_eq!(subjects.len(), 2);
    let opts = ImpactOptions {
        subjects: Some(subjects),
        ..ImpactOptions::default()
    };
    let r = run(&scenario(), &seeds_ip(X), &opts);
    let inbox = &r.organizations[0].mailboxes[0].folders[0];
    let by_id = |id: &str| {
        inbox
            .messages
            .iter()
            .find(|m| m.internet_message_id == id)
            .unwrap()
            .subject
            .clone()
    };
    assert_eq!(by_id("<m1@x>").as_deref(), Some("Budget, Q3"));
    assert_eq!(by_id("<m2@x>").as_deref(), Some("Travel plans"));
}

#[test]
fn subjects_file_errors_are_located() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "Id,Title").unwrap();
    f.flush().unwrap();
    let e = load_subjects_csv(f.path()).unwrap_err();
    assert!(
        matches!(
            e,
            ImpactError::MissingColumn {
                column: "InternetMessageId",
                ..
            }
        ),
        "{e}"
    );
    let e = load_subjects_csv(std::path::Path::new("/nonexistent/subjects.csv")).unwrap_err();
    assert!(matches!(e, ImpactError::Io { .. }));
}
