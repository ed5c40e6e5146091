//! Cmdlet parameters of Exchange admin records (`Parameters: [{Name, Value}]`).

use serde_json::Value;

/// The boolean value of parameter `name` in a record's `Parameters` (an array, or a JSON
/// string holding one as Sentinel writes it). `None` when absent or not a boolean.
pub(crate) fn flag(raw: &str, name: &str) -> Option<bool> {
    let v: Value = serde_json::from_str(raw).ok()?;
    let params = v.get("Parameters")?;
    let parsed;
    let list = match params {
        Value::Array(a) => a,
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            parsed.as_array()?
        }
        _ => return None,
    };
    let p = list.iter().find(|p| {
        p.get("Name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })?;
    match p.get("Value")? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s
            .trim()
            .trim_start_matches('$')
            .to_ascii_lowercase()
            .as_str()
        {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_array_and_string_forms() {
        let a = r#"{"Parameters":[{"Name":"Identity","Value":"x"},{"Name":"AuditEnabled","Value":"False"}]}"#;
        assert_eq!(flag(a, "AuditEnabled"), Some(false));
        let b = r#"{"Parameters":"[{\"Name\":\"AuditBypassEnabled\",\"Value\":\"$true\"}]"}"#;
        assert_eq!(flag(b, "AuditBypassEnabled"), Some(true));
        assert_eq!(flag(a, "Other"), None);
        assert_eq!(flag("not json", "AuditEnabled"), None);
    }
}
