//! Windows events as evtx-dump JSON, and any other JSON record.

use sonic_rs::{JsonValueTrait, Value};
use stormwatch_core::{Event, SourceKind};

use super::access::{field, str_of};
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
pub(crate) fn generic(ev: &mut Event, rec: &Value) -> Result<(), FieldError> {
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
