//! The UAL record itself (`AuditData`), as the Management Activity API writes it.

use std::fmt::Write as _;

use crate::json::{Obj, push_str};
use crate::record::{Access, Op, Ual};
use crate::timefmt;
use crate::world::{CONSUMER_TENANT, FOLDERS, Role, World, prof};

/// How `CreationTime` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeForm {
    /// `2023-06-12T03:14:07`
    Plain,
    /// `2023-06-12T03:14:07.0000000Z`
    TicksZ,
}

/// Rendering options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    pub(crate) time: TimeForm,
    /// PowerShell `ConvertTo-Json` at low depth: nested arrays of objects become `@{...}` strings.
    pub(crate) flatten: bool,
}

impl Style {
    pub(crate) const API: Style = Style {
        time: TimeForm::Plain,
        flatten: false,
    };
    pub(crate) const TICKS: Style = Style {
        time: TimeForm::TicksZ,
        flatten: false,
    };
    pub(crate) const FLAT: Style = Style {
        time: TimeForm::TicksZ,
        flatten: true,
    };
}

/// `LogonType` names as Sentinel writes `Logon_Type`.
pub(crate) fn logon_type_name(t: u8) -> &'static str {
    match t {
        1 => "Admin",
        2 => "Delegated",
        _ => "Owner",
    }
}

/// Append the `Folders` array (canonical JSON).
pub(crate) fn push_folders(w: &World, r: &Ual, out: &mut String) {
    let Op::MailItemsAccessed {
        folders, access, ..
    } = &r.op
    else {
        out.push_str("[]");
        return;
    };
    out.push('[');
    for (i, f) in folders.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut o = Obj::open(out);
        if *access == Access::Bind {
            let items = o.key("FolderItems");
            items.push('[');
            for (j, &k) in f.items.iter().enumerate() {
                if j > 0 {
                    items.push(',');
                }
                let (imid, size) = w.message(r.mailbox, f.folder, k);
                let mut it = Obj::open(items);
                it.str("InternetMessageId", &imid);
                it.int("SizeInBytes", i64::from(size));
                it.close();
            }
            items.push(']');
        }
        o.str("Id", w.folder_id(r.mailbox, f.folder));
        o.str("Path", FOLDERS[f.folder.min(FOLDERS.len() - 1)].0);
        o.close();
    }
    out.push(']');
}

/// Append the `OperationProperties` array (canonical JSON).
pub(crate) fn push_op_props(r: &Ual, out: &mut String) {
    if let Op::MailItemsAccessed {
        access, throttled, ..
    } = &r.op
    {
        let a = if *access == Access::Bind {
            "Bind"
        } else {
            "Sync"
        };
        let t = if *throttled { "True" } else { "False" };
        let _ = write!(
            out,
            "[{{\"Name\":\"MailAccessType\",\"Value\":\"{a}\"}},{{\"Name\":\"IsThrottled\",\"Value\":\"{t}\"}}]"
        );
    } else {
        out.push_str("[]");
    }
}

fn push_time(out: &mut String, secs: i64, form: TimeForm) {
    out.push('"');
    match form {
        TimeForm::Plain => timefmt::push_plain(out, secs),
        TimeForm::TicksZ => timefmt::push_ticks_z(out, secs, 0),
    }
    out.push('"');
}

/// Append the record's `AuditData` JSON object.
pub(crate) fn audit_data(w: &World, r: &Ual, style: Style, out: &mut String) {
    let user = &w.users[r.user];
    let owner = &w.users[r.mailbox];
    let tenant = &w.tenants[owner.tenant];
    let profile = &w.profiles[r.profile];
    let mut o = Obj::open(out);
    push_time(o.key("CreationTime"), r.time, style.time);
    o.guid("Id", r.id);
    o.str("Operation", r.operation());
    o.str("OrganizationId", &tenant.id_str);
    o.int("RecordType", i64::from(r.record_type()));
    let ip = r.ip.to_string();
    match &r.op {
        Op::UserLoggedIn => {
            o.str("ResultStatus", "Success");
            o.guid("UserKey", user.object_id);
            o.int("UserType", 0);
            o.int("Version", 1);
            o.str("Workload", r.workload());
            o.str("ClientIP", &ip);
            o.str("ObjectId", &profile.app_id);
            o.str("UserId", &user.upn);
            o.int("AzureActiveDirectoryEventType", 1);
            let ext = o.key("ExtendedProperties");
            ext.push_str("[{\"Name\":\"ResultStatusDetail\",\"Value\":\"Success\"},{\"Name\":\"UserAgent\",\"Value\":");
            push_str(ext, &profile.user_agent);
            ext.push_str("},{\"Name\":\"RequestType\",\"Value\":\"OAuth2:Authorize\"}]");
            o.raw("ModifiedProperties", "[]");
            let actor = o.key("Actor");
            let _ = write!(
                actor,
                "[{{\"ID\":\"{}\",\"Type\":0}},{{\"ID\":\"{}\",\"Type\":5}}]",
                user.object_id, user.upn
            );
            o.str("ActorContextId", &tenant.id_str);
            o.str("ActorIpAddress", &ip);
            o.guid("InterSystemsId", r.session);
            o.guid("IntraSystemId", r.id);
            o.str("SupportTicketId", "");
            let target = o.key("Target");
            let _ = write!(target, "[{{\"ID\":\"{}\",\"Type\":0}}]", profile.app_id);
            o.str("TargetContextId", &tenant.id_str);
            o.str("ApplicationId", &profile.client_app_id);
            o.str("ErrorNumber", "0");
            o.close();
            return;
        }
        Op::FileAccessed { file } => {
            let site = format!(
                "https://{}.sharepoint.com/sites/teams",
                tenant.domain.replace(".example", "")
            );
            let name = format!("Report-{:04}.docx", file % 10_000);
            o.str(
                "UserKey",
                &format!("i:0h.f|membership|{}@live.com", user.puid.to_lowercase()),
            );
            o.int("UserType", 0);
            o.int("Version", 1);
            o.str("Workload", "SharePoint");
            o.str("ClientIP", &ip);
            o.str("ObjectId", &format!("{site}/Shared Documents/{name}"));
            o.str("UserId", &user.upn);
            o.guid("CorrelationId", r.session);
            o.str("EventSource", "SharePoint");
            o.str("ItemType", "File");
            o.str("Site", &tenant.id_str);
            o.str("UserAgent", &profile.user_agent);
            o.str("SourceFileExtension", "docx");
            o.str("SiteUrl", &format!("{site}/"));
            o.str("SourceFileName", &name);
            o.str("SourceRelativeUrl", "Shared Documents");
            o.close();
            return;
        }
        Op::Discovery { operation, case } => {
            discovery(w, r, operation, *case, &ip, &mut o);
            o.close();
            return;
        }
        _ => {}
    }
    o.str("ResultStatus", "Succeeded");
    o.str("UserKey", &user.puid);
    let admin = matches!(r.op, Op::Cmdlet { .. });
    let app_only = user.role == Role::BackupApp;
    o.int(
        "UserType",
        if admin {
            2
        } else if app_only {
            5
        } else {
            0
        },
    );
    o.int("Version", 1);
    o.str("Workload", "Exchange");
    if admin {
        o.str("ClientIP", &ip);
    }
    if let Op::Cmdlet {
        name,
        target,
        grantee,
    } = &r.op
    {
        let t = &w.users[*target];
        let grantee = &w.users[grantee.unwrap_or(r.user)];
        o.str("ObjectId", &t.upn);
        o.str("UserId", &user.upn);
        o.str("AppId", &profile.client_app_id);
        o.str("ClientAppId", "");
        o.bool("ExternalAccess", false);
        o.str("OrganizationName", &tenant.org_name);
        o.str("OriginatingServer", w.server(r.user));
        let p = o.key("Parameters");
        if *name == "New-ManagementRoleAssignment" {
            p.push_str("[{\"Name\":\"Name\",\"Value\":\"Migration-Impersonation\"},{\"Name\":\"Role\",\"Value\":\"ApplicationImpersonation\"},{\"Name\":\"User\",\"Value\":");
            push_str(p, &grantee.upn);
            p.push_str("}]");
        } else {
            p.push_str("[{\"Name\":\"Identity\",\"Value\":");
            push_str(p, &t.upn);
            match *name {
                "Add-MailboxPermission" => {
                    p.push_str("},{\"Name\":\"User\",\"Value\":");
                    push_str(p, &grantee.upn);
                    p.push_str("},{\"Name\":\"AccessRights\",\"Value\":\"FullAccess\"},{\"Name\":\"InheritanceType\",\"Value\":\"All\"}]");
                }
                "Set-Mailbox" => {
                    p.push_str("},{\"Name\":\"AuditEnabled\",\"Value\":\"True\"}]");
                }
                "Set-MailboxAuditBypassAssociation" => {
                    p.push_str("},{\"Name\":\"AuditBypassEnabled\",\"Value\":\"True\"}]");
                }
                _ => p.push_str("}]"),
            }
        }
        o.guid("SessionId", r.session);
        o.close();
        return;
    }
    o.str("UserId", &user.upn);
    o.str("AppId", &profile.app_id);
    o.str("ClientAppId", &profile.client_app_id);
    o.str("ClientIPAddress", &ip);
    o.str("ClientInfoString", &profile.client_info);
    o.bool("ExternalAccess", false);
    o.int("InternalLogonType", i64::from(r.logon_type));
    o.int("LogonType", i64::from(r.logon_type));
    o.str("LogonUserSid", &user.sid);
    o.guid("MailboxGuid", owner.mailbox_guid);
    o.str("MailboxOwnerSid", &owner.sid);
    o.str("MailboxOwnerUPN", &owner.upn);
    o.str("OrganizationName", &tenant.org_name);
    o.str("OriginatingServer", w.server(r.mailbox));
    // App-only tokens (client credentials) carry no Entra session.
    if !app_only {
        o.guid("SessionId", r.session);
    }
    if profile.actor_info {
        o.str("ActorInfoString", &profile.user_agent);
    }
    if tenant.token_fields {
        o.guid("TokenObjectId", user.object_id);
        if r.foreign_token_tenant {
            o.str("TokenTenantId", CONSUMER_TENANT);
        } else {
            o.str("TokenTenantId", &tenant.id_str);
        }
    }
    if tenant.app_context && r.profile != prof::ADMIN_PS {
        let k = o.key("AppAccessContext");
        if style.flatten {
            let mut tmp = String::new();
            if !app_only {
                let _ = write!(tmp, "@{{AADSessionId={}; ", r.session);
            } else {
                tmp.push_str("@{");
            }
            let _ = write!(
                tmp,
                "UniqueTokenId={}; IssuedAtTime=",
                crate::ids::token_id(r.uti)
            );
            timefmt::push_plain(&mut tmp, r.iat);
            let _ = write!(tmp, "; ClientAppId={}}}", profile.client_app_id);
            push_str(k, &tmp);
        } else {
            if app_only {
                k.push_str("{\"UniqueTokenId\":\"");
            } else {
                k.push_str("{\"AADSessionId\":\"");
                r.session.write_to(k);
                k.push_str("\",\"UniqueTokenId\":\"");
            }
            k.push_str(&crate::ids::token_id(r.uti));
            k.push_str("\",\"IssuedAtTime\":\"");
            timefmt::push_plain(k, r.iat);
            k.push_str("\",\"ClientAppId\":\"");
            k.push_str(&profile.client_app_id);
            k.push_str("\"}");
        }
    }
    match &r.op {
        Op::MailItemsAccessed {
            access,
            throttled,
            folders,
            count,
        } => {
            if style.flatten {
                let a = if *access == Access::Bind {
                    "Bind"
                } else {
                    "Sync"
                };
                let t = if *throttled { "True" } else { "False" };
                let p = o.key("OperationProperties");
                let _ = write!(
                    p,
                    "[\"@{{Value={a}; Name=MailAccessType}}\",\"@{{Value={t}; Name=IsThrottled}}\"]"
                );
                let f = o.key("Folders");
                f.push('[');
                for (i, fr) in folders.iter().enumerate() {
                    if i > 0 {
                        f.push(',');
                    }
                    let mut s = format!(
                        "@{{Id={}; Path={}",
                        w.folder_id(r.mailbox, fr.folder),
                        FOLDERS[fr.folder.min(FOLDERS.len() - 1)].0
                    );
                    if *access == Access::Bind {
                        s.push_str("; FolderItems=System.Object[]");
                    }
                    s.push('}');
                    push_str(f, &s);
                }
                f.push(']');
            } else {
                push_op_props(r, o.key("OperationProperties"));
                push_folders(w, r, o.key("Folders"));
            }
            o.int("OperationCount", i64::from(*count));
        }
        Op::Send { item } => {
            let (imid, size) = w.message(r.mailbox, 1, *item);
            let it = o.key("Item");
            it.push_str("{\"Id\":\"");
            it.push_str(&w.folder_id(r.mailbox, 1).replace("AAAB", "AAAC"));
            it.push_str("\",\"InternetMessageId\":");
            push_str(it, &imid);
            it.push_str(",\"ParentFolder\":{\"Id\":\"");
            it.push_str(w.folder_id(r.mailbox, 1));
            it.push_str("\",\"Path\":\"\\\\Sent Items\"},\"SizeInBytes\":");
            let _ = write!(it, "{size}}}");
        }
        _ => {}
    }
    o.close();
}

/// The fields of an eDiscovery (content search) record: the case, the search over every
/// mailbox of the tenant, and the export where the step is one.
fn discovery(w: &World, r: &Ual, operation: &str, case: u32, ip: &str, o: &mut Obj<'_>) {
    let user = &w.users[r.user];
    let tenant = &w.tenants[user.tenant];
    let search = format!("Legal hold review {case:03}");
    o.str("ResultStatus", "Success");
    o.str("UserKey", &user.object_id.to_string());
    o.int("UserType", 0);
    o.int("Version", 1);
    o.str("Workload", "SecurityComplianceCenter");
    o.str("ClientIP", ip);
    o.str("ObjectId", &search);
    o.str("UserId", &user.upn);
    let case_id =
        crate::ids::Guid::from_bits(u128::from(tenant.bits) << 64 | u128::from(case) << 8 | 0x24);
    o.guid("CaseId", case_id);
    o.str("CaseName", &format!("Matter {case:03}"));
    o.guid("Object1Id", crate::ids::Guid::from_bits(case_id.0 ^ 0x5e));
    o.str("Object1Name", &search);
    o.str("Object1Type", "Search");
    let sources = o.key("DataSources");
    sources.push('[');
    let mut first = true;
    for u in w.tenant_users(user.tenant) {
        if !w.users[u].role.has_mailbox() {
            continue;
        }
        if !first {
            sources.push(',');
        }
        first = false;
        push_str(sources, &w.users[u].upn);
    }
    sources.push(']');
    o.str(
        "QueryText",
        "(sent>=2023-01-01) AND (subject:\"contract\" OR \"tender\")",
    );
    if operation.contains("Export") {
        o.str("ExportName", &format!("{search}_Export"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Guid;
    use crate::record::{FolderRef, Tag};
    use crate::world::TenantPlan;

    pub(crate) fn sample() -> (World, Ual) {
        let plan = TenantPlan {
            staff: 2,
            executive: false,
            admin: false,
            service: false,
            migration: false,
            extras: &[],
        };
        let w = World::build(3, &[plan]);
        let r = Ual {
            id: Guid::from_bits(42),
            time: timefmt::secs(2023, 6, 12, 3, 14, 7),
            user: 0,
            mailbox: 0,
            logon_type: 0,
            profile: prof::ACTOR,
            ip: "51.89.156.153".parse().unwrap(),
            session: Guid::from_bits(7),
            uti: 9,
            iat: timefmt::secs(2023, 6, 12, 3, 0, 0),
            foreign_token_tenant: true,
            op: Op::MailItemsAccessed {
                access: Access::Bind,
                throttled: false,
                folders: vec![FolderRef {
                    folder: 0,
                    items: vec![1, 2],
                }],
                count: 2,
            },
            tag: Tag::Actor,
            seq: 0,
        };
        (w, r)
    }

    #[test]
    fn mail_items_accessed_shape() {
        let (w, r) = sample();
        let mut s = String::new();
        audit_data(&w, &r, Style::API, &mut s);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["CreationTime"], "2023-06-12T03:14:07");
        assert_eq!(v["RecordType"], 50);
        assert_eq!(v["ClientInfoString"], "Client=REST;Client=RESTSystem;;");
        assert_eq!(v["OperationProperties"][0]["Value"], "Bind");
        assert_eq!(v["Folders"][0]["Path"], "\\Inbox");
        assert_eq!(v["Folders"][0]["FolderItems"].as_array().unwrap().len(), 2);
        assert_eq!(v["TokenTenantId"], CONSUMER_TENANT);
        assert!(v["AppAccessContext"]["UniqueTokenId"].is_string());
        let mut f = String::new();
        audit_data(&w, &r, Style::FLAT, &mut f);
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["CreationTime"], "2023-06-12T03:14:07.0000000Z");
        assert_eq!(
            v["OperationProperties"][0],
            "@{Value=Bind; Name=MailAccessType}"
        );
        assert!(
            v["Folders"][0]
                .as_str()
                .unwrap()
                .ends_with("FolderItems=System.Object[]}")
        );
    }
}
