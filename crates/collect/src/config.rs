//! Tenants as people give them: command-line flags, or a tenants file (TOML) for many tenants,
//! checked into [`TenantSpec`]s. Secrets are never read from the file: it names the environment
//! variable that holds each one, or a certificate file.
//!
//! ```toml
//! # Defaults for every tenant below.
//! client_id = "11111111-2222-3333-4444-555555555555"
//! client_secret_env = "STORMWATCH_CLIENT_SECRET"
//! sources = "default"
//!
//! [[tenant]]
//! tenant = "41463f53-8812-40f4-890f-865bf6e35190"
//! name = "Contoso"
//!
//! [[tenant]]
//! tenant = "f28ab78a-d401-4060-8012-736e373933eb"
//! name = "Fabrikam (GCC High)"
//! cloud = "gcc-high"
//! certificate = "certs/fabrikam.pem"
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::auth::CertificateKey;
use crate::cloud::{Cloud, Endpoints};
use crate::error::CollectError;
use crate::options::{Credential, TenantSpec, tenant_id};
use crate::secret::Secret;
use crate::source::SourceSelection;

/// One tenant's settings, each optional: a layer of flags, file defaults or a file entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    /// Directory (tenant) id.
    pub tenant: Option<String>,
    /// Label.
    pub name: Option<String>,
    /// Application (client) id.
    pub client_id: Option<String>,
    /// Environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// PEM file with the certificate and its private key.
    pub certificate: Option<PathBuf>,
    /// `commercial`, `gcc`, `gcc-high`, `dod`.
    pub cloud: Option<String>,
    /// Entra sign-in host override.
    pub login_url: Option<String>,
    /// Management Activity API host override.
    pub manage_url: Option<String>,
    /// Microsoft Graph host override.
    pub graph_url: Option<String>,
    /// `PublisherIdentifier` for the Activity API.
    pub publisher_id: Option<String>,
    /// Sources, comma-separated (see [`SourceSelection::parse`]).
    pub sources: Option<String>,
}

impl TenantEntry {
    /// This layer over `under`: its settings where it has them, `under`'s elsewhere. A
    /// credential is taken whole from one layer.
    #[must_use]
    pub fn over(&self, under: &TenantEntry) -> TenantEntry {
        let has_credential = self.client_secret_env.is_some() || self.certificate.is_some();
        let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
        TenantEntry {
            tenant: pick(&self.tenant, &under.tenant),
            name: pick(&self.name, &under.name),
            client_id: pick(&self.client_id, &under.client_id),
            client_secret_env: if has_credential {
                self.client_secret_env.clone()
            } else {
                under.client_secret_env.clone()
            },
            certificate: if has_credential {
                self.certificate.clone()
            } else {
                under.certificate.clone()
            },
            cloud: pick(&self.cloud, &under.cloud),
            login_url: pick(&self.login_url, &under.login_url),
            manage_url: pick(&self.manage_url, &under.manage_url),
            graph_url: pick(&self.graph_url, &under.graph_url),
            publisher_id: pick(&self.publisher_id, &under.publisher_id),
            sources: pick(&self.sources, &under.sources),
        }
    }

    /// Check it into a [`TenantSpec`]: reads the secret's environment variable or the
    /// certificate file.
    ///
    /// # Errors
    /// [`CollectError`] naming what is missing or wrong.
    pub fn resolve(&self) -> Result<TenantSpec, CollectError> {
        let tenant = tenant_id(self.tenant.as_deref().ok_or_else(|| {
            CollectError::Invalid(
                "no tenant: give --tenant (the directory id) or --config".to_owned(),
            )
        })?)?;
        let client_id = self
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                CollectError::Invalid(format!(
                    "tenant {tenant}: no client id (--client-id, the app registration's application id)"
                ))
            })?
            .to_owned();
        let credential = match (&self.client_secret_env, &self.certificate) {
            (Some(var), None) => Credential::Secret(Secret::from_env(var)?),
            (None, Some(pem)) => Credential::Certificate(Arc::new(CertificateKey::load(pem)?)),
            (Some(_), Some(_)) => {
                return Err(CollectError::Invalid(format!(
                    "tenant {tenant}: give a client secret or a certificate, not both"
                )));
            }
            (None, None) => {
                return Err(CollectError::Invalid(format!(
                    "tenant {tenant}: no credential: --client-secret-env VAR (the variable holding the secret) or --certificate PEM"
                )));
            }
        };
        let cloud: Cloud = match &self.cloud {
            Some(c) => c.parse()?,
            None => Cloud::default(),
        };
        let endpoints = Endpoints::new(
            cloud,
            self.login_url.as_deref(),
            self.manage_url.as_deref(),
            self.graph_url.as_deref(),
        )?;
        let publisher_id = match &self.publisher_id {
            Some(p) => tenant_id(p).map_err(|_| {
                CollectError::Invalid(format!("publisher id {p:?}: the publisher's tenant GUID"))
            })?,
            None => tenant.clone(),
        };
        let sources = match &self.sources {
            Some(s) => SourceSelection::parse(s)?,
            None => SourceSelection::default(),
        };
        Ok(TenantSpec {
            tenant,
            name: self.name.clone(),
            client_id,
            credential,
            endpoints,
            publisher_id,
            sources,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantsFile {
    client_id: Option<String>,
    client_secret_env: Option<String>,
    certificate: Option<PathBuf>,
    cloud: Option<String>,
    login_url: Option<String>,
    manage_url: Option<String>,
    graph_url: Option<String>,
    publisher_id: Option<String>,
    sources: Option<String>,
    #[serde(default)]
    tenant: Vec<TenantEntry>,
}

/// Read a tenants file; `flags` (settings given on the command line) override what it says.
///
/// # Errors
/// [`CollectError::Config`] naming the file, or the error of the tenant that cannot be used.
pub fn tenants_file(path: &Path, flags: &TenantEntry) -> Result<Vec<TenantSpec>, CollectError> {
    let err = |reason: String| CollectError::Config {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let raw: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.to_string()))?;
    let has_secret = raw.contains_key("client_secret")
        || raw
            .get("tenant")
            .and_then(toml::Value::as_array)
            .is_some_and(|a| {
                a.iter().any(|t| {
                    t.as_table()
                        .is_some_and(|t| t.contains_key("client_secret"))
                })
            });
    if has_secret {
        return Err(err(
            "secrets are not read from a tenants file: put each in an environment variable and name it with client_secret_env"
                .to_owned(),
        ));
    }
    let file: TenantsFile = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    if file.tenant.is_empty() {
        return Err(err("no [[tenant]] entry".to_owned()));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let relative = |p: &Option<PathBuf>| p.as_ref().map(|p| dir.join(p));
    let defaults = TenantEntry {
        tenant: None,
        name: None,
        client_id: file.client_id,
        client_secret_env: file.client_secret_env,
        certificate: relative(&file.certificate),
        cloud: file.cloud,
        login_url: file.login_url,
        manage_url: file.manage_url,
        graph_url: file.graph_url,
        publisher_id: file.publisher_id,
        sources: file.sources,
    };
    file.tenant
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let mut entry = entry.clone();
            entry.certificate = relative(&entry.certificate);
            if entry.tenant.is_none() {
                return Err(err(format!("[[tenant]] number {} has no tenant id", i + 1)));
            }
            flags.over(&entry.over(&defaults)).resolve()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tenants.toml");
        // A variable every environment has stands in for the secret's.
        let var = "PATH";
        let secret = std::env::var(var).unwrap();
        std::fs::write(
            &p,
            format!(
                r#"client_id = "app"
client_secret_env = "{var}"
sources = "activity"
[[tenant]]
tenant = "41463F53-8812-40F4-890F-865BF6E35190"
name = "Contoso"
[[tenant]]
tenant = "f28ab78a-d401-4060-8012-736e373933eb"
cloud = "gcc-high"
sources = "signIns"
"#
            ),
        )
        .unwrap();
        let flags = TenantEntry {
            manage_url: Some("http://127.0.0.1:9".into()),
            ..TenantEntry::default()
        };
        let t = tenants_file(&p, &flags).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].tenant, "41463f53-8812-40f4-890f-865bf6e35190");
        assert_eq!(t[0].publisher_id, t[0].tenant);
        assert_eq!(t[0].endpoints.manage.as_str(), "http://127.0.0.1:9/");
        assert_eq!(t[0].sources.sources.len(), 4);
        assert_eq!(t[1].endpoints.cloud, Cloud::GccHigh);
        assert_eq!(t[1].endpoints.graph.as_str(), "https://graph.microsoft.us/");
        assert!(format!("{:?}", t[0].credential).contains("[redacted]"));
        assert!(!format!("{:?}", t[0]).contains(&secret));

        std::fs::write(&p, "client_secret = \"oops\"\n[[tenant]]\ntenant = \"x\"\n").unwrap();
        let e = tenants_file(&p, &TenantEntry::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("client_secret_env") && !e.contains("oops"),
            "{e}"
        );
        std::fs::write(
            &p,
            "[[tenant]]\ntenant = \"41463f53-8812-40f4-890f-865bf6e35190\"\nbogus = 1\n",
        )
        .unwrap();
        let e = tenants_file(&p, &TenantEntry::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn a_tenant_needs_one_credential() {
        let base = TenantEntry {
            tenant: Some("41463f53-8812-40f4-890f-865bf6e35190".into()),
            client_id: Some("app".into()),
            ..TenantEntry::default()
        };
        let e = base.resolve().unwrap_err().to_string();
        assert!(e.contains("no credential"), "{e}");
        let unset = TenantEntry {
            client_secret_env: Some("STORMWATCH_COLLECT_SURELY_UNSET".into()),
            ..base.clone()
        };
        assert!(
            unset
                .resolve()
                .unwrap_err()
                .to_string()
                .contains("is not set")
        );
        let both = TenantEntry {
            client_secret_env: Some("A".into()),
            certificate: Some("b.pem".into()),
            ..base
        };
        assert!(both.resolve().unwrap_err().to_string().contains("not both"));
    }
}
