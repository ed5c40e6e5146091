//! Windows events as evtx-dump JSON, and any other JSON record.

use sonic_rs::{JsonValueTrait, Value};
use stormwatch_core::{Event, SourceKind};

use super::access::{field, str_of};
use super::index::Obj;
use super::ual::set_ip;
use super::{FieldError, time_of};

/// `{"Event":{"System":{…},"EventData":{…}}}`.
pub(crate) fn windows(ev: &mut Event, rec: &Value) -> Result<(), FieldError> {
    ev.source = SourceKind::WindowsEvent;
    let Some(event) = rec.get("Event") else {
        return Ok(());
    };
    let system = event.get("System");
    if let Some(sys) = system {
        let created = sys.get("TimeCreated");
        let at = created.and_then(|c| c.get("#attributes")).or(created);
        if let Some(at) = at {
            ev.time = time_of(at, &["SystemTime"])?;
        }
        ev.workload = str_of(sys, &["Channel"]);
        ev.operation = sys
            .get("EventID")
            .and_then(|id| str_of(id, &["#text"]).or_else(|| super::access::text(id)));
        ev.loc.record_id = str_of(sys, &["EventRecordID"]);
    }
    if let Some(data) = event.get("EventData") {
        ev.user = str_of(data, &["TargetUserName", "SubjectUserName", "User"]);
        set_ip(
            ev,
            str_of(data, &["IpAddress", "SourceIp", "SourceAddress"]),
        );
    }
    Ok(())
}

/// Any other record: the common names for time, tenant, user, address and operation.
pub(crate) fn generic<O: Obj + ?Sized>(ev: &mut Event, rec: &O) -> Result<(), FieldError> {
    ev.source = SourceKind::Generic;
    ev.time = time_of(
        rec,
        &[
            "CreationTime",
            "TimeGenerated",
            "createdDateTime",
            "activityDateTime",
            "time",
            "timestamp",
            "Timestamp",
            "@timestamp",
            "eventTime",
            "published",
        ],
    )?;
    ev.loc.record_id = str_of(rec, &["Id", "id", "RecordId", "uuid", "ReportId"]);
    ev.tenant = str_of(
        rec,
        &["OrganizationId", "TenantId", "tenantId", "organizationId"],
    );
    ev.workload = str_of(rec, &["Workload"]);
    ev.operation = str_of(
        rec,
        &[
            "Operation",
            "operationName",
            "ActionType",
            "eventName",
            "eventType",
            "action",
        ],
    );
    ev.user = str_of(rec, &["UserId", "userPrincipalName", "AccountUpn", "user"]);
    set_ip(
        ev,
        field(
            rec,
            &[
                "ClientIP",
                "ClientIPAddress",
                "ipAddress",
                "IPAddress",
                "callerIpAddress",
                "sourceIPAddress",
            ],
        )
        .and_then(super::access::text),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::index::Rec;

    #[test]
    fn generic_reads_the_same_through_the_key_index() {
        let records = [
            r#"{"time":"2023-06-01T10:00:00Z","operationName":"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE","callerIpAddress":"203.0.113.9","tenantId":"t1","identity":{"claims":{}},"category":"Administrative","user":"u@x.example","operationName":"dup"}"#,
            r#"{"eventTime":"2023-06-01T10:00:00","eventName":"ConsoleLogin","sourceIPAddress":"198.51.100.1","uuid":"e1","action":"x"}"#,
            r#"{"@timestamp":"2023-06-01T10:00:00Z","published":"2023-05-01T00:00:00Z","eventType":"user.session.start","activityDateTime":"2023-06-02T00:00:00Z","time":null}"#,
            r#"{"time":7}"#,
        ];
        for raw in records {
            let v: Value = sonic_rs::from_str(raw).unwrap();
            let (mut plain, mut indexed) = (Event::default(), Event::default());
            let a = generic(&mut plain, &v);
            let b = generic(&mut indexed, &Rec::new(&v));
            assert_eq!(a.is_ok(), b.is_ok(), "{raw}");
            assert_eq!(format!("{plain:?}"), format!("{indexed:?}"), "{raw}");
        }
    }
}
