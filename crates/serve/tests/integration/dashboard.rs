//! The dashboard through the router: every route's auth, role and CSRF checks (the routes read
//! from the router's source, so a new one is checked as soon as it is added), the login and
//! its rate limit, the session cookie, the security headers, each page rendering with hostile
//! values shown as text, triage actions, impact downloads, and the OpenAPI document against
//! the router.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::util::{Resp, Server};

pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const XSS_SCRIPT: &str = "<script>window.xssFired=1</script>";
pub(crate) const XSS_IMG: &str = "\"><img src=x onerror=window.xssFired=2>";

/// `(method, path)` of every `.route(…)` in a router's source: the paths as written, the
/// methods from the handlers chained on it (`get(…).post(…)`).
pub(crate) fn routes_in(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let Some(q1) = rest.find('"') else { break };
        let after = &rest[q1 + 1..];
        let Some(q2) = after.find('"') else { break };
        let path = after[..q2].to_owned();
        // The handler expression runs to the call's closing parenthesis.
        let tail = &after[q2 + 1..];
        let mut depth = 1i32;
        let mut end = tail.len();
        for (k, c) in tail.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let handlers = &tail[..end];
        for m in ["get", "post", "delete", "put", "patch"] {
            let plain = format!("{m}(");
            let chained = format!(".{m}(");
            let starts = handlers
                .trim_start_matches([',', ' ', '\n'])
                .starts_with(&plain);
            if starts || handlers.contains(&chained) {
                out.push((m.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    out
}

const API_SOURCE: &str = include_str!("../../src/api/mod.rs");
const DASH_SOURCE: &str = include_str!("../../src/dashboard/mod.rs");

/// Every route of the service.
fn all_routes() -> Vec<(String, String)> {
    let mut v = routes_in(API_SOURCE);
    v.extend(routes_in(DASH_SOURCE));
    v
}

fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('x');
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(c),
        }
    }
    if out.ends_with("/static/x") {
        out = out.replace("/static/x", "/static/app.css");
    }
    out
}

/// Routes open without a login: health, and the login page with its style and script.
fn open_route(path: &str) -> bool {
    matches!(path, "/healthz" | "/login" | "/static/{name}")
}

/// Requests that change nothing though sent with POST.
fn read_only_post(path: &str) -> bool {
    matches!(path, "/tokens" | "/logout")
}

/// A logged-in browser: its cookie and CSRF token.
pub(crate) struct Session {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) fn add_user(s: &Server, name: &str, role: &str) {
    stormwatch_serve::add_user(
        &s.dir.path().join("data"),
        name,
        role.parse().expect("role"),
        PASSWORD,
    )
    .expect("add user");
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

pub(crate) fn login(s: &Server, user: &str, password: &str) -> Resp {
    s.call(
        "POST",
        "/login",
        None,
        &[FORM],
        form(&[
            ("user", user),
            ("password", password),
            ("next", "/incidents"),
        ]),
    )
}

pub(crate) fn session(s: &Server, user: &str) -> Session {
    let r = login(s, user, PASSWORD);
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let set = r.headers["set-cookie"].to_str().expect("cookie").to_owned();
    let cookie = set.split(';').next().expect("pair").to_owned();
    let page = page(
        s,
        &Session {
            cookie: cookie.clone(),
            csrf: String::new(),
        },
        "/tokens",
    );
    let csrf = between(&page, "name=\"csrf\" value=\"", "\"").expect("csrf in the page");
    Session { cookie, csrf }
}

fn between(s: &str, a: &str, b: &str) -> Option<String> {
    let i = s.find(a)? + a.len();
    let j = s[i..].find(b)? + i;
    Some(s[i..j].to_owned())
}

pub(crate) fn page(s: &Server, sess: &Session, path: &str) -> String {
    let r = s.call("GET", path, None, &[("cookie", &sess.cookie)], Vec::new());
    assert_eq!(
        r.status,
        StatusCode::OK,
        "GET {path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    String::from_utf8(r.body).expect("utf-8")
}

fn post_form(s: &Server, sess: &Session, path: &str, pairs: &[(&str, &str)]) -> Resp {
    let mut all: Vec<(&str, &str)> = vec![("csrf", &sess.csrf)];
    all.extend_from_slice(pairs);
    s.call(
        "POST",
        path,
        None,
        &[FORM, ("cookie", &sess.cookie)],
        form(&all),
    )
}

#[test]
fn the_route_table_is_read_from_the_router() {
    let r = all_routes();
    for want in [
        ("GET", "/healthz"),
        ("POST", "/api/v1/ingest"),
        ("GET", "/api/v1/admin/tokens"),
        ("POST", "/api/v1/admin/tokens"),
        ("DELETE", "/api/v1/admin/tokens/{name}"),
        ("GET", "/incidents/{id}"),
        ("POST", "/incidents/{id}/status"),
        ("GET", "/tokens"),
        ("POST", "/tokens"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/api/openapi.json"),
    ] {
        assert!(
            r.iter().any(|(m, p)| m == want.0 && p == want.1),
            "{want:?} not found in {r:?}"
        );
    }
    assert!(r.len() >= 30, "{r:?}");
}

#[test]
fn every_route_needs_auth_viewers_cannot_change_and_changes_need_the_csrf_token() {
    let s = Server::start("");
    add_user(&s, "vera", "viewer");
    add_user(&s, "ann", "analyst");
    add_user(&s, "ada", "admin");
    let viewer = session(&s, "vera");
    let admin = session(&s, "ada");
    let routes = all_routes();
    let mut checked = 0;
    for (method, path) in &routes {
        let url = concrete(path);
        let none = s.call(method, &url, None, &[], Vec::new());
        if open_route(path) {
            // Open: answered by its handler (a failed login is its own 401, with the form).
            let body = String::from_utf8_lossy(&none.body);
            assert!(
                none.status == StatusCode::OK || body.contains("Wrong user name or password"),
                "{method} {path} is open: {} {body}",
                none.status
            );
            continue;
        }
        checked += 1;
        // No token, no cookie; a wrong token; a cookie of no session.
        assert_eq!(
            none.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without auth"
        );
        let wrong = s.call(method, &url, Some("sw_wrong"), &[], Vec::new());
        assert_eq!(
            wrong.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} wrong token"
        );
        let stale = s.call(
            method,
            &url,
            None,
            &[("cookie", "sw_session=not-a-session")],
            Vec::new(),
        );
        assert_eq!(
            stale.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} stale cookie"
        );
        // Every response carries the security headers, 401s included.
        assert!(
            none.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(none.headers["x-content-type-options"], "nosniff");
        if method == "GET" {
            continue;
        }
        // A state-changing request with the session but without its CSRF token: refused,
        // even for an admin.
        for headers in [vec![], vec![("x-csrf-token", "wrong")]] {
            let mut h = vec![("cookie", admin.cookie.as_str()), FORM];
            h.extend(headers.iter().copied());
            let r = s.call(method, &url, None, &h, b"csrf=wrong".to_vec());
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {path} without CSRF"
            );
            assert!(
                String::from_utf8_lossy(&r.body).contains("CSRF"),
                "{method} {path}: {}",
                String::from_utf8_lossy(&r.body)
            );
        }
        // A viewer with the right CSRF token may still not change anything.
        if !read_only_post(path) {
            let r = s.call(
                method,
                &url,
                None,
                &[
                    ("cookie", viewer.cookie.as_str()),
                    ("x-csrf-token", viewer.csrf.as_str()),
                    FORM,
                ],
                form(&[
                    ("csrf", &viewer.csrf),
                    ("status", "acknowledged"),
                    ("text", "n"),
                ]),
            );
            assert_eq!(r.status, StatusCode::FORBIDDEN, "viewer {method} {path}");
        }
    }
    assert!(checked >= 28, "{checked} routes checked");
    // A viewer's API token on every state-changing API route: 403 as well.
    let r = s.post(
        "/api/v1/admin/tokens",
        json!({"name": "v", "role": "viewer"}).to_string(),
    );
    let token = r.json()["token"].as_str().unwrap().to_owned();
    for (method, path) in routes
        .iter()
        .filter(|(m, p)| m != "GET" && p.starts_with("/api/"))
    {
        let r = s.call(method, &concrete(path), Some(&token), &[], Vec::new());
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "viewer token {method} {path}"
        );
    }
}

#[test]
fn login_sets_a_strict_http_only_cookie_is_rate_limited_and_logout_ends_the_session() {
    let s = Server::start("");
    add_user(&s, "ann", "analyst");
    // The login page is open and has the form.
    let r = s.call("GET", "/login", None, &[], Vec::new());
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.body).contains("name=\"password\""));
    // A page without a session: 401 and the way to the login page.
    let r = s.call("GET", "/incidents", None, &[], Vec::new());
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers["refresh"]
            .to_str()
            .unwrap()
            .contains("/login?next=/incidents")
    );
    // Wrong password, unknown user: 401, no cookie.
    for (u, p) in [("ann", "not the password!"), ("nobody", PASSWORD)] {
        let r = login(&s, u, p);
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.headers.get("set-cookie").is_none());
    }
    // The right one: a session cookie, HttpOnly and SameSite=Strict (not Secure without TLS).
    let r = login(&s, "ann", PASSWORD);
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "/incidents");
    let c = r.headers["set-cookie"].to_str().unwrap();
    assert!(c.starts_with("sw_session="), "{c}");
    assert!(
        c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"),
        "{c}"
    );
    assert!(!c.contains("Secure"), "{c}");
    let sess = session(&s, "ann");
    assert!(page(&s, &sess, "/incidents").contains("ann (analyst)"));
    // The session works for the API too (reads; changes need X-CSRF-Token).
    let r = s.call(
        "GET",
        "/api/v1/incidents",
        None,
        &[("cookie", &sess.cookie)],
        Vec::new(),
    );
    assert_eq!(r.status, StatusCode::OK);
    // Logout ends it.
    let r = post_form(&s, &sess, "/logout", &[]);
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = s.call(
        "GET",
        "/incidents",
        None,
        &[("cookie", &sess.cookie)],
        Vec::new(),
    );
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Five failures for a name: the sixth attempt is refused before the password is checked,
    // even the right password; other names are not held up.
    add_user(&s, "bob", "viewer");
    for _ in 0..5 {
        assert_eq!(
            login(&s, "bob", "wrong password 123").status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login(&s, "bob", PASSWORD);
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(login(&s, "ann", PASSWORD).status, StatusCode::SEE_OTHER);
    // A removed user's sessions end at once.
    let ann = session(&s, "ann");
    assert!(stormwatch_serve::remove_user(&s.dir.path().join("data"), "ann").unwrap());
    let r = s.call(
        "GET",
        "/incidents",
        None,
        &[("cookie", &ann.cookie)],
        Vec::new(),
    );
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A login posted from another site is refused.
    let r = s.call(
        "POST",
        "/login",
        None,
        &[
            FORM,
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8514"),
        ],
        form(&[("user", "bob"), ("password", PASSWORD)]),
    );
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Records that make an incident whose values are hostile: a user name and an inbox rule
/// parameter holding markup. They come from a Storm-0558 indicator IP inside its window, so
/// the analytics make an incident of them (an old one: it ranks below a newer intrusion).
pub(crate) fn hostile_records() -> String {
    let mut out = String::new();
    for (k, op) in [
        (0, "MailItemsAccessed"),
        (1, "New-InboxRule"),
        (2, "MailItemsAccessed"),
    ] {
        let rec = json!({
            "CreationTime": format!("2023-03-10T03:1{k}:07"),
            "Id": format!("hostile-{k}"),
            "Operation": op,
            "RecordType": if op == "New-InboxRule" { 1 } else { 50 },
            "UserId": format!("{XSS_IMG}@agency.example"),
            "MailboxOwnerUPN": "envoy@agency.example",
            "OrganizationId": "t1",
            "Workload": "Exchange",
            "ClientIPAddress": "51.89.156.153",
            "SessionId": "s-hostile",
            "ClientInfoString": XSS_SCRIPT,
            "Parameters": [{"Name": "Name", "Value": XSS_SCRIPT}],
        });
        out.push_str(&rec.to_string());
        out.push('\n');
    }
    out
}

fn assert_escaped(html: &str, what: &str) {
    assert!(
        !html.contains(XSS_SCRIPT),
        "{what}: a raw <script> from a log value"
    );
    assert!(
        !html.contains("<img src=x"),
        "{what}: a raw <img> from a log value"
    );
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&lt;img"),
        "{what}: the hostile value is not shown at all"
    );
}

#[test]
fn pages_render_escape_log_values_and_triage_works() {
    let s = Server::start("");
    add_user(&s, "ann", "analyst");
    add_user(&s, "vera", "viewer");
    s.ingest(hostile_records());
    s.flush();
    let ann = session(&s, "ann");
    let list = page(&s, &ann, "/incidents");
    let id = between(&list, "href=\"/incidents/", "\"").expect("an incident is listed");
    assert!(list.contains("id=\"counts\""));
    let url = format!("/incidents/{id}");
    let inc = page(&s, &ann, &url);
    assert_escaped(&inc, "incident page");
    for want in [
        "envoy@agency.example",
        "51.89.156.153",
        "s-hostile",
        "<svg",
        "id=\"acknowledge\"",
        "record id",
    ] {
        assert!(inc.contains(want), "incident page lacks {want}");
    }
    // Filters: by mailbox (found), by another tenant (none), a bad level (400).
    assert!(page(&s, &ann, "/incidents?mailbox=ENVOY%40agency.example").contains(&id));
    assert!(page(&s, &ann, "/incidents?tenant=other").contains("no-incidents"));
    let r = s.call(
        "GET",
        "/incidents?level=severe",
        None,
        &[("cookie", &ann.cookie)],
        Vec::new(),
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The live part alone, for the script.
    let r = s.call(
        "GET",
        "/incidents",
        None,
        &[("cookie", &ann.cookie), ("x-fragment", "live")],
        Vec::new(),
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("<html"));
    // Every other page renders, hostile values escaped where they show.
    for p in [
        "/incidents?level=low&status=new&since=2023-06-01&until=2023-07-01".to_owned(),
        format!("{url}/impact"),
        "/mailboxes/envoy%40agency.example".to_owned(),
        "/health".to_owned(),
        "/rules".to_owned(),
        "/tokens".to_owned(),
    ] {
        let html = page(&s, &ann, &p);
        assert!(
            !html.contains(XSS_SCRIPT) && !html.contains("<img src=x"),
            "{p}"
        );
    }
    assert!(page(&s, &ann, "/mailboxes/envoy%40agency.example").contains("MailItemsAccessed"));
    assert!(page(&s, &ann, "/rules").contains("Inbox rule made"));
    // Impact downloads in the three formats.
    for (f, ctype) in [
        ("html", "text/html"),
        ("csv", "text/csv"),
        ("json", "application/json"),
    ] {
        let r = s.call(
            "GET",
            &format!("{url}/impact/download?format={f}"),
            None,
            &[("cookie", &ann.cookie)],
            Vec::new(),
        );
        assert_eq!(r.status, StatusCode::OK, "{f}");
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ctype)
        );
        assert!(
            r.headers["content-disposition"]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        if f == "json" {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            assert!(
                v["actor"]["ips"].to_string().contains("51.89.156.153"),
                "{v}"
            );
        }
    }
    // A viewer sees no actions and is refused them.
    let vera = session(&s, "vera");
    assert!(!page(&s, &vera, &url).contains("id=\"acknowledge\""));
    let r = post_form(
        &s,
        &vera,
        &format!("{url}/status"),
        &[("status", "acknowledged")],
    );
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The analyst acknowledges, notes, assigns; the API and the page show it, by name.
    for (path, pairs) in [
        ("status", vec![("status", "acknowledged")]),
        ("notes", vec![("text", XSS_SCRIPT)]),
        ("assign", vec![("assignee", "ann")]),
    ] {
        let r = post_form(&s, &ann, &format!("{url}/{path}"), &pairs);
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let api = s.get(&format!("/api/v1/incidents/{id}")).json();
    assert_eq!(api["incident"]["status"], "acknowledged");
    assert_eq!(api["incident"]["status_by"], "ann");
    let inc = page(&s, &ann, &url);
    assert!(inc.contains("id=\"assignee\">ann<"));
    assert_escaped(&inc, "incident page with a hostile note");
    // The session acts on the API with its CSRF token.
    let r = s.call(
        "POST",
        &format!("/api/v1/incidents/{id}/notes"),
        None,
        &[("cookie", &ann.cookie), ("x-csrf-token", &ann.csrf)],
        json!({"text": "from the script"}).to_string(),
    );
    assert_eq!(r.status, StatusCode::CREATED);
    // Tokens: a pasted JWT gets the verdict.
    let r = post_form(
        &s,
        &ann,
        "/tokens",
        &[("token", "eyJhbGciOiJub25lIn0.e30.")],
    );
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.body).contains("id=\"verdict\">invalid<"));
    // Unknown incident: 404 page.
    let r = s.call(
        "GET",
        "/incidents/nope",
        None,
        &[("cookie", &ann.cookie)],
        Vec::new(),
    );
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[test]
fn openapi_documents_every_api_route_and_only_those() {
    let s = Server::start("");
    let doc = s.get("/api/openapi.json").json();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_ascii_uppercase(), p.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let routed: BTreeSet<(String, String)> = routes_in(API_SOURCE).into_iter().collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes without documentation: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );
    // Each documented operation reaches a handler (not the fallback), and names its role.
    for (method, path) in &documented {
        let r = s.call(
            method,
            &concrete(path),
            Some(&s.token.clone()),
            &[],
            Vec::new(),
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains("no such route"), "{method} {path}: {body}");
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        assert!(
            op["x-role"].is_string() && op["summary"].is_string(),
            "{method} {path}"
        );
        for p in path.split('/').filter(|s| s.starts_with('{')) {
            let name = p.trim_matches(['{', '}']);
            assert!(
                op["parameters"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["name"] == name && x["in"] == "path")),
                "{method} {path}: path parameter {name} undocumented"
            );
        }
    }
}
