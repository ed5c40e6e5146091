//! Log sources: which records a rule is offered to, and where its fields live in them.
//!
//! Windows categories and services follow SigmaHQ's THOR map (`tests/thor.yml`): a category
//! is a Sysmon (or Security, PowerShell, Defender) event id on a channel, a service is a
//! channel. M365 and Azure/Entra rules are offered to the record shapes stormwatch reads for
//! them; their Sentinel/CloudTrail-style field names are resolved on the UAL, Graph and Azure
//! Monitor shapes (see `docs/sigma.md`).

use rsigma_parser::LogSource;
use stormwatch_core::SourceKind;

/// The family of a rule's log source, which decides field resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Product {
    Windows,
    M365,
    Azure,
    Other,
}

/// Constraint a Windows event must satisfy for one variant of a rule's log source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WinConstraint {
    /// Lowercase channel names (empty: any channel).
    pub(crate) channels: Vec<String>,
    /// Per channel: its number in the engine's table of channels (filled when the engine's
    /// groups are built).
    pub(crate) channel_ids: Vec<u32>,
    /// Event ids (empty: any).
    pub(crate) event_ids: Vec<i64>,
    /// Extra `EventData` equalities (`EventType: CreateKey`).
    pub(crate) extra: Vec<(&'static str, &'static str)>,
}

/// One way a rule's log source maps onto records: a constraint and a field renaming.
#[derive(Debug, Clone, Default)]
pub(crate) struct Variant {
    pub(crate) constraint: Option<WinConstraint>,
    pub(crate) renames: Vec<(&'static str, &'static str)>,
}

const SERVICES: &[(&str, &[&str])] = &[
    ("application", &["Application"]),
    ("security", &["Security"]),
    ("system", &["System"]),
    ("ntlm", &["Microsoft-Windows-NTLM/Operational"]),
    ("sysmon", &["Microsoft-Windows-Sysmon/Operational"]),
    (
        "powershell",
        &[
            "Microsoft-Windows-PowerShell/Operational",
            "PowerShellCore/Operational",
        ],
    ),
    ("powershell-classic", &["Windows PowerShell"]),
    (
        "taskscheduler",
        &["Microsoft-Windows-TaskScheduler/Operational"],
    ),
    ("wmi", &["Microsoft-Windows-WMI-Activity/Operational"]),
    ("dhcp", &["Microsoft-Windows-DHCP-Server/Operational"]),
    (
        "printservice-admin",
        &["Microsoft-Windows-PrintService/Admin"],
    ),
    (
        "smbclient-security",
        &["Microsoft-Windows-SmbClient/Security"],
    ),
    (
        "smbclient-connectivity",
        &["Microsoft-Windows-SmbClient/Connectivity"],
    ),
    (
        "smbserver-connectivity",
        &["Microsoft-Windows-SMBServer/Connectivity"],
    ),
    (
        "printservice-operational",
        &["Microsoft-Windows-PrintService/Operational"],
    ),
    (
        "terminalservices-localsessionmanager",
        &["Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"],
    ),
    (
        "codeintegrity-operational",
        &["Microsoft-Windows-CodeIntegrity/Operational"],
    ),
    (
        "applocker",
        &[
            "Microsoft-Windows-AppLocker/MSI and Script",
            "Microsoft-Windows-AppLocker/EXE and DLL",
            "Microsoft-Windows-AppLocker/Packaged app-Deployment",
            "Microsoft-Windows-AppLocker/Packaged app-Execution",
        ],
    ),
    ("msexchange-management", &["MSExchange Management"]),
    (
        "windefend",
        &["Microsoft-Windows-Windows Defender/Operational"],
    ),
    (
        "firewall-as",
        &["Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"],
    ),
    (
        "bits-client",
        &["Microsoft-Windows-Bits-Client/Operational"],
    ),
    (
        "security-mitigations",
        &[
            "Microsoft-Windows-Security-Mitigations/Kernel Mode",
            "Microsoft-Windows-Security-Mitigations/User Mode",
        ],
    ),
    (
        "diagnosis-scripted",
        &["Microsoft-Windows-Diagnosis-Scripted/Operational"],
    ),
    ("shell-core", &["Microsoft-Windows-Shell-Core/Operational"]),
    ("openssh", &["OpenSSH/Operational"]),
    ("ldap", &["Microsoft-Windows-LDAP-Client/Debug"]),
    (
        "bitlocker",
        &["Microsoft-Windows-BitLocker/BitLocker Management"],
    ),
    ("vhdmp", &["Microsoft-Windows-VHDMP/Operational"]),
    (
        "appxdeployment-server",
        &["Microsoft-Windows-AppXDeploymentServer/Operational"],
    ),
    ("lsa-server", &["Microsoft-Windows-LSA/Operational"]),
    (
        "appxpackaging-om",
        &["Microsoft-Windows-AppxPackaging/Operational"],
    ),
    (
        "dns-client",
        &["Microsoft-Windows-DNS Client Events/Operational"],
    ),
    (
        "appmodel-runtime",
        &["Microsoft-Windows-AppModel-Runtime/Admin"],
    ),
    ("capi2", &["Microsoft-Windows-CAPI2/Operational"]),
    (
        "certificateservicesclient-lifecycle-system",
        &["Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"],
    ),
    (
        "kernel-shimengine",
        &[
            "Microsoft-Windows-Kernel-ShimEngine/Operational",
            "Microsoft-Windows-Kernel-ShimEngine/Diagnostic",
        ],
    ),
    (
        "application-experience",
        &[
            "Microsoft-Windows-Application-Experience/Program-Telemetry",
            "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant",
        ],
    ),
    ("ntfs", &["Microsoft-Windows-Ntfs/Operational"]),
    ("hyper-v-worker", &["Microsoft-Windows-Hyper-V-Worker"]),
    (
        "kernel-event-tracing",
        &["Microsoft-Windows-Kernel-EventTracing"],
    ),
    ("sense", &["Microsoft-Windows-SENSE/Operational"]),
    (
        "servicebus-client",
        &[
            "Microsoft-ServiceBus-Client/Admin",
            "Microsoft-ServiceBus-Client/Operational",
        ],
    ),
    (
        "iis-configuration",
        &["Microsoft-IIS-Configuration/Operational"],
    ),
];

type Cat = (
    &'static str,
    &'static str,
    &'static [i64],
    &'static [(&'static str, &'static str)],
    &'static [(&'static str, &'static str)],
);

const CATEGORIES: &[Cat] = &[
    ("process_creation", "sysmon", &[1], &[], &[]),
    (
        "process_creation",
        "security",
        &[4688],
        &[],
        &[
            ("Image", "NewProcessName"),
            ("ParentImage", "ParentProcessName"),
        ],
    ),
    ("file_change", "sysmon", &[2], &[], &[]),
    ("network_connection", "sysmon", &[3], &[], &[]),
    ("sysmon_status", "sysmon", &[4, 16], &[], &[]),
    ("process_termination", "sysmon", &[5], &[], &[]),
    ("driver_load", "sysmon", &[6], &[], &[]),
    ("image_load", "sysmon", &[7], &[], &[]),
    ("create_remote_thread", "sysmon", &[8], &[], &[]),
    ("raw_access_thread", "sysmon", &[9], &[], &[]),
    ("process_access", "sysmon", &[10], &[], &[]),
    ("file_event", "sysmon", &[11], &[], &[]),
    ("registry_event", "sysmon", &[12, 13, 14], &[], &[]),
    (
        "registry_add",
        "sysmon",
        &[12],
        &[("EventType", "CreateKey")],
        &[],
    ),
    (
        "registry_delete",
        "sysmon",
        &[12],
        &[("EventType", "DeleteKey")],
        &[],
    ),
    (
        "registry_delete",
        "sysmon",
        &[12],
        &[("EventType", "DeleteValue")],
        &[],
    ),
    ("registry_set", "sysmon", &[13], &[], &[]),
    ("registry_rename", "sysmon", &[14], &[], &[]),
    ("create_stream_hash", "sysmon", &[15], &[], &[]),
    ("pipe_created", "sysmon", &[17, 18], &[], &[]),
    ("wmi_event", "sysmon", &[19, 20, 21], &[], &[]),
    ("dns_query", "sysmon", &[22], &[], &[]),
    ("file_delete", "sysmon", &[23], &[], &[]),
    ("clipboard_change", "sysmon", &[24], &[], &[]),
    ("process_tampering", "sysmon", &[25], &[], &[]),
    ("file_delete_detected", "sysmon", &[26], &[], &[]),
    ("file_block_executable", "sysmon", &[27], &[], &[]),
    ("file_block_shredding", "sysmon", &[28], &[], &[]),
    ("file_executable_detected", "sysmon", &[29], &[], &[]),
    ("sysmon_error", "sysmon", &[255], &[], &[]),
    ("ps_module", "powershell", &[4103], &[], &[]),
    ("ps_script", "powershell", &[4104], &[], &[]),
    ("ps_classic_start", "powershell-classic", &[400], &[], &[]),
    (
        "ps_classic_provider_start",
        "powershell-classic",
        &[600],
        &[],
        &[],
    ),
    ("ps_classic_script", "powershell-classic", &[800], &[], &[]),
    (
        "antivirus",
        "windefend",
        &[
            1006, 1007, 1008, 1009, 1010, 1011, 1012, 1017, 1018, 1019, 1115, 1116,
        ],
        &[],
        &[("Signature", "ThreatName"), ("Filename", "Path")],
    ),
];

fn channels_of(service: &str) -> Option<Vec<String>> {
    SERVICES
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(service))
        .map(|(_, c)| c.iter().map(|c| c.to_ascii_lowercase()).collect())
}

fn eq(a: Option<&String>, b: &str) -> bool {
    a.is_some_and(|a| a.eq_ignore_ascii_case(b))
}

/// The product family of a log source.
pub(crate) fn product(ls: &LogSource) -> Product {
    let p = ls.product.as_deref().unwrap_or("");
    if p.eq_ignore_ascii_case("windows") {
        Product::Windows
    } else if p.eq_ignore_ascii_case("m365") || p.eq_ignore_ascii_case("microsoft365") {
        Product::M365
    } else if p.eq_ignore_ascii_case("azure") || p.eq_ignore_ascii_case("entra") {
        Product::Azure
    } else {
        Product::Other
    }
}

/// The record shapes (besides `Generic`, which every rule receives) a rule is offered to.
pub(crate) fn kinds(ls: &LogSource) -> Vec<SourceKind> {
    match product(ls) {
        Product::Windows => vec![SourceKind::WindowsEvent],
        Product::M365 => vec![
            SourceKind::Ual,
            SourceKind::SentinelOfficeActivity,
            SourceKind::DefenderCloudAppEvents,
        ],
        Product::Azure => {
            let svc = ls.service.as_ref();
            if eq(svc, "signinlogs") {
                vec![SourceKind::EntraSignIn]
            } else if eq(svc, "auditlogs") {
                vec![SourceKind::EntraAudit]
            } else {
                // activitylogs, riskdetection, pim, …: read as generic JSON.
                Vec::new()
            }
        }
        Product::Other => Vec::new(),
    }
}

/// The variants of a rule's log source (Windows: one per channel/event-id alternative).
pub(crate) fn variants(ls: &LogSource) -> Vec<Variant> {
    if product(ls) != Product::Windows {
        return vec![Variant::default()];
    }
    if let Some(cat) = ls.category.as_deref() {
        let v: Vec<Variant> = CATEGORIES
            .iter()
            .filter(|(c, ..)| c.eq_ignore_ascii_case(cat))
            .map(|(_, svc, ids, extra, renames)| Variant {
                constraint: Some(WinConstraint {
                    channels: channels_of(svc).unwrap_or_default(),
                    channel_ids: Vec::new(),
                    event_ids: ids.to_vec(),
                    extra: extra.to_vec(),
                }),
                renames: renames.to_vec(),
            })
            .collect();
        if !v.is_empty() {
            return v;
        }
    }
    if let Some(svc) = ls.service.as_deref()
        && let Some(channels) = channels_of(svc)
    {
        return vec![Variant {
            constraint: Some(WinConstraint {
                channels,
                channel_ids: Vec::new(),
                event_ids: Vec::new(),
                extra: Vec::new(),
            }),
            renames: Vec::new(),
        }];
    }
    // Unknown category/service: any Windows event.
    vec![Variant::default()]
}

/// Candidate locations of a Sigma field in the records of a product family, tried in order.
pub(crate) fn candidates(product: Product, field: &str) -> Vec<String> {
    let mut c: Vec<String> = Vec::new();
    match product {
        Product::Windows => {
            let sys = match field {
                "EventID" | "Channel" | "Computer" | "Level" | "Task" | "Opcode" | "Keywords"
                | "EventRecordID" | "Version" => Some(format!("Event.System.{field}")),
                "Provider_Name" => Some("Event.System.Provider.#attributes.Name".into()),
                "Security_UserID" => Some("Event.System.Security.#attributes.UserID".into()),
                _ => None,
            };
            if let Some(s) = sys {
                c.push(s);
            }
            c.push(format!("Event.EventData.{field}"));
            c.push(format!("Event.UserData.{field}"));
            c.push(format!("Event.UserData.*.{field}"));
            c.push(field.to_string());
            c.push(format!("EventData.{field}"));
            c.push(format!("Event.System.{field}"));
            c.push(format!("System.{field}"));
        }
        Product::M365 => {
            let mapped: &[&str] = match field {
                "eventSource" => &["Workload", "OfficeWorkload"],
                "eventName" => &["Operation"],
                "status" => &["ResultStatus"],
                _ => &[],
            };
            c.extend(mapped.iter().map(|s| (*s).to_string()));
            c.push(field.to_string());
        }
        Product::Azure => {
            let lower = field.to_ascii_lowercase();
            let mapped: &[&str] = match lower.as_str() {
                "resulttype" => &[
                    "resultType",
                    "status.errorCode",
                    "properties.status.errorCode",
                ],
                "resultdescription" => &[
                    "resultDescription",
                    "status.failureReason",
                    "properties.status.failureReason",
                ],
                "operationname" => &["operationName", "activityDisplayName"],
                "activitydisplayname" => &["activityDisplayName", "operationName"],
                "status" => &["status", "result"],
                _ => &[],
            };
            c.extend(mapped.iter().map(|s| (*s).to_string()));
            c.push(field.to_string());
            if let Some(rest) = field.strip_prefix("properties.") {
                c.push(rest.to_string());
            } else {
                for m in mapped {
                    c.push(format!("properties.{m}"));
                }
                c.push(format!("properties.{field}"));
            }
        }
        Product::Other => c.push(field.to_string()),
    }
    let mut seen = std::collections::HashSet::new();
    c.retain(|x| seen.insert(x.to_ascii_lowercase()));
    c
}
