//! `MailItemsAccessed` details: access type, throttling, operation count, folders and items,
//! from every shape they come in (objects, JSON strings, PowerShell-flattened `@{…}` strings).

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};
use stormwatch_core::{FolderAccess, MailAccess, MailAccessType, MessageRef};

use super::access::{boolean, field, int, nested, str_of, str_ref, text};
use super::index::{Obj, Small};
use crate::options::Limits;

/// What PowerShell writes for an array it did not expand.
const FLATTENED: &str = "System.Object[]";

/// Parse `@{Name=MailAccessType; Value=Bind}` into its pairs.
pub(crate) fn ps_pairs(s: &str) -> Option<Vec<(&str, &str)>> {
    let inner = s.trim().strip_prefix("@{")?.strip_suffix('}')?;
    Some(
        inner
            .split("; ")
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.trim(), v.trim()))
            })
            .collect(),
    )
}

fn pair_value<'a>(pairs: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| *v)
}

/// From `OperationProperties`: the first `MailAccessType` and the first `IsThrottled` value
/// (names compared case-insensitively), read without copying.
fn operation_properties<R: Obj + ?Sized>(
    rec: &R,
    limits: &Limits,
) -> (Option<Option<MailAccessType>>, Option<bool>) {
    let mut access = None;
    let mut throttled = None;
    let Some(raw) = field(rec, &["OperationProperties"]) else {
        return (access, throttled);
    };
    let Some(list) = nested(raw, limits) else {
        return (access, throttled);
    };
    let Some(arr) = list.as_array() else {
        return (access, throttled);
    };
    let mut take = |n: &str, v: &str| {
        if access.is_none() && n.eq_ignore_ascii_case("MailAccessType") {
            access = Some(access_type(v));
        } else if throttled.is_none() && n.eq_ignore_ascii_case("IsThrottled") {
            throttled = Some(v.eq_ignore_ascii_case("true"));
        }
    };
    for item in arr.iter() {
        if item.is_object() {
            let pair = Small::new(item, &PAIR_KEYS);
            if let (Some(n), Some(v)) = (
                str_ref(&pair, &["Name", "name"]),
                str_ref(&pair, &["Value", "value"]),
            ) {
                take(&n, &v);
            }
        } else if let Some(pairs) = item.as_str().and_then(ps_pairs)
            && let (Some(n), Some(v)) = (pair_value(&pairs, "Name"), pair_value(&pairs, "Value"))
        {
            take(n, v);
        }
    }
    (access, throttled)
}

fn access_type(s: &str) -> Option<MailAccessType> {
    if s.eq_ignore_ascii_case("bind") {
        Some(MailAccessType::Bind)
    } else if s.eq_ignore_ascii_case("sync") {
        Some(MailAccessType::Sync)
    } else {
        None
    }
}

/// The keys read from a name/value pair, a folder and a message.
const PAIR_KEYS: [&str; 4] = ["Name", "name", "Value", "value"];
const FOLDER_KEYS: [&str; 9] = [
    "Id",
    "id",
    "FolderId",
    "Path",
    "path",
    "FolderPath",
    "FolderItems",
    "folderItems",
    "Items",
];
const MESSAGE_KEYS: [&str; 4] = [
    "InternetMessageId",
    "internetMessageId",
    "SizeInBytes",
    "sizeInBytes",
];

fn folder_from_object(f: &Value, limits: &Limits, items_lost: &mut bool) -> FolderAccess {
    let f = &Small::new(f, &FOLDER_KEYS);
    let mut folder = FolderAccess {
        id: str_of(f, &["Id", "id", "FolderId"]),
        path: str_of(f, &["Path", "path", "FolderPath"]).unwrap_or_default(),
        items: Vec::new(),
    };
    if let Some(items) = field(f, &["FolderItems", "folderItems", "Items"]) {
        if items.as_str().is_some_and(|s| s.trim() == FLATTENED) {
            *items_lost = true;
        } else if let Some(list) = nested(items, limits)
            && let Some(arr) = list.as_array()
        {
            folder.items.reserve(arr.len());
            for it in arr.iter() {
                let msg = Small::new(it, &MESSAGE_KEYS);
                if let Some(mid) = str_of(&msg, &["InternetMessageId", "internetMessageId"]) {
                    folder.items.push(MessageRef {
                        internet_message_id: mid,
                        size_bytes: field(&msg, &["SizeInBytes", "sizeInBytes"])
                            .and_then(int)
                            .and_then(|n| u64::try_from(n).ok()),
                    });
                } else if it.as_str().is_some_and(|s| s.starts_with("@{")) {
                    // Items flattened one level deeper: keep what is readable.
                    if let Some(pairs) = it.as_str().and_then(ps_pairs)
                        && let Some(mid) = pair_value(&pairs, "InternetMessageId")
                    {
                        folder.items.push(MessageRef {
                            internet_message_id: mid.to_owned(),
                            size_bytes: pair_value(&pairs, "SizeInBytes")
                                .and_then(|s| s.parse().ok()),
                        });
                    }
                }
            }
        }
    }
    folder
}

fn folder_from_ps(s: &str, items_lost: &mut bool) -> Option<FolderAccess> {
    let pairs = ps_pairs(s)?;
    if pair_value(&pairs, "FolderItems").is_some_and(|v| v == FLATTENED || v.is_empty()) {
        *items_lost = true;
    }
    Some(FolderAccess {
        id: pair_value(&pairs, "Id")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        path: pair_value(&pairs, "Path").unwrap_or_default().to_owned(),
        items: Vec::new(),
    })
}

/// Build the `MailItemsAccessed` part of an event from a UAL-shaped record.
pub(crate) fn mail_access<R: Obj + ?Sized>(rec: &R, limits: &Limits) -> MailAccess {
    let (prop_access, prop_throttled) = operation_properties(rec, limits);
    let access = prop_access.flatten().or_else(|| {
        str_ref(rec, &["MailAccessType"])
            .as_deref()
            .and_then(access_type)
    });
    let throttled = prop_throttled
        .or_else(|| field(rec, &["IsThrottled"]).and_then(boolean))
        .unwrap_or(false);
    let operation_count = field(rec, &["OperationCount"])
        .and_then(int)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(1);
    let mut items_lost = false;
    let mut folders = Vec::new();
    if let Some(raw) = field(rec, &["Folders"]) {
        if raw.as_str().is_some_and(|s| s.trim() == FLATTENED) {
            items_lost = true;
        } else if let Some(list) = nested(raw, limits)
            && let Some(arr) = list.as_array()
        {
            folders.reserve(arr.len());
            for f in arr.iter() {
                if f.is_object() {
                    folders.push(folder_from_object(f, limits, &mut items_lost));
                } else if let Some(folder) =
                    f.as_str().and_then(|s| folder_from_ps(s, &mut items_lost))
                {
                    folders.push(folder);
                } else if let Some(t) = text(f).filter(|t| t == FLATTENED) {
                    let _ = t;
                    items_lost = true;
                }
            }
        }
    }
    MailAccess {
        access_type: access,
        throttled,
        operation_count,
        folders,
        items_lost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powershell_flattened_strings() {
        let v: Value = sonic_rs::from_str(
            r#"{"OperationProperties":["@{Value=Bind; Name=MailAccessType}","@{Value=True; Name=IsThrottled}"],
                "Folders":["@{Id=LgAA; Path=\\Inbox; FolderItems=System.Object[]}"],"OperationCount":7}"#,
        )
        .unwrap();
        let m = mail_access(&v, &Limits::default());
        assert_eq!(m.access_type, Some(MailAccessType::Bind));
        assert!(m.throttled);
        assert_eq!(m.operation_count, 7);
        assert!(m.items_lost);
        assert_eq!(m.folders[0].path, "\\Inbox");
        assert_eq!(m.folders[0].id.as_deref(), Some("LgAA"));
    }

    #[test]
    fn json_strings_and_objects() {
        let v: Value = sonic_rs::from_str(
            r#"{"OperationProperties":"[{\"Name\":\"MailAccessType\",\"Value\":\"Sync\"}]",
                "Folders":[{"Path":"\\Sent Items","FolderItems":[{"InternetMessageId":"<a@b>","SizeInBytes":"12"}]}]}"#,
        )
        .unwrap();
        let m = mail_access(&v, &Limits::default());
        assert_eq!(m.access_type, Some(MailAccessType::Sync));
        assert_eq!(m.operation_count, 1);
        assert!(!m.items_lost);
        assert_eq!(m.folders[0].items[0].internet_message_id, "<a@b>");
        assert_eq!(m.folders[0].items[0].size_bytes, Some(12));
    }
}
