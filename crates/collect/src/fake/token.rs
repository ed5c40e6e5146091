//! The Entra token endpoint: client credentials with a secret or a client assertion checked
//! against the registered certificate.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State as Ax};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::routes::{json_response, lock, param};
use super::{Audience, Shared, Token};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description, "error_codes": [],
            "timestamp": crate::options::now().to_string()}),
    )
}

pub(super) async fn token(Ax(st): Ax<Shared>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let f = |k: &str| param(&form, k).unwrap_or("").to_owned();
    let mut s = lock(&st);
    let Some(t) = s.scenario.tenants.iter().find(|t| t.id == tenant).cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS90002: Tenant '{tenant}' not found."),
        );
    };
    if f("grant_type") != "client_credentials" {
        s.violations
            .push(format!("grant_type {:?}", f("grant_type")));
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003",
        );
    }
    let audience = match f("scope").as_str() {
        "https://manage.office.com/.default" => Audience::Manage,
        "https://graph.microsoft.com/.default" => Audience::Graph,
        other => {
            s.violations.push(format!("scope {other:?}"));
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "AADSTS1002012: The provided value for scope is not valid.",
            );
        }
    };
    if f("client_id") != t.client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{}' was not found in the directory.",
                f("client_id")
            ),
        );
    }
    if s.scenario.inject.echo_credentials {
        let sent = if f("client_secret").is_empty() {
            f("client_assertion")
        } else {
            f("client_secret")
        };
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!("AADSTS7000215: Invalid client secret provided. Received: {sent}"),
        );
    }
    let ok = if !f("client_secret").is_empty() {
        match &t.secret {
            Some(secret) if *secret == f("client_secret") => Ok(()),
            _ => Err("AADSTS7000215: Invalid client secret provided.".to_owned()),
        }
    } else if !f("client_assertion").is_empty() {
        if f("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
            s.violations.push("client_assertion_type".to_owned());
        }
        verify_assertion(&t, &tenant, &f("client_assertion"))
    } else {
        s.violations
            .push("a token request without a credential".to_owned());
        Err(
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required."
                .to_owned(),
        )
    };
    if let Err(description) = ok {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &description);
    }
    let value = format!("fake.{}.{}", s.rng.guid(), s.rng.guid());
    let lifetime = s.scenario.token_lifetime_secs;
    s.tokens.insert(
        value.clone(),
        Token {
            tenant: tenant.clone(),
            audience,
            expires: Instant::now() + Duration::from_secs(lifetime),
            uses: 0,
        },
    );
    s.issued += 1;
    json_response(
        StatusCode::OK,
        &json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": value}),
    )
}

fn verify_assertion(t: &super::FakeTenant, tenant: &str, jwt: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "AADSTS700027: Client assertion failed signature validation ({why})."
        ))
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts.as_slice() else {
        return bad("not a JWS");
    };
    let decode = |x: &str| URL_SAFE_NO_PAD.decode(x).ok();
    let Some(header) = decode(h).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return bad("header");
    };
    let Some(claims) = decode(c).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return bad("claims");
    };
    let (Some(cert), Some(key)) = (&t.certificate_der, &t.public_key_der) else {
        return bad("no certificate registered");
    };
    if header["alg"] != "RS256" {
        return bad("alg");
    }
    let x5t = URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert).as_ref());
    if header["x5t"] != x5t.as_str() {
        return bad("x5t does not name the registered certificate");
    }
    let Some(signature) = decode(sig) else {
        return bad("signature encoding");
    };
    let pk = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        key.as_slice(),
    );
    if pk
        .verify(format!("{h}.{c}").as_bytes(), &signature)
        .is_err()
    {
        return bad("signature");
    }
    let aud = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    if claims["aud"] != aud.as_str() {
        return Err("AADSTS700021: Client assertion audience claim does not match.".to_owned());
    }
    if claims["iss"] != t.client_id.as_str() || claims["sub"] != t.client_id.as_str() {
        return Err(
            "AADSTS700021: Client assertion application identifier doesn't match 'client_id'."
                .to_owned(),
        );
    }
    let now = crate::options::now().unix_seconds();
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let nbf = claims["nbf"].as_i64().unwrap_or(i64::MAX);
    if exp <= now || nbf > now + 300 || claims["jti"].as_str().is_none_or(str::is_empty) {
        return Err(
            "AADSTS700024: Client assertion is not within its valid time range.".to_owned(),
        );
    }
    Ok(())
}
