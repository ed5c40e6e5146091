//! The inline stylesheet shared by the HTML reports (no external fonts or scripts).

pub(crate) const CSS: &str = r#"
:root{--ink:#1d2430;--muted:#5b6472;--line:#d9dde3;--bg:#f6f7f9;--card:#fff;--accent:#1f4e8c;
--warn:#b45309;--warnbg:#fff7e6;--bad:#b42318;--badbg:#fdecea;--ok:#1e7a46}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#14233a;color:#fff;padding:22px 32px 16px}
header h1{margin:0 0 4px;font-size:24px;font-weight:650}
header p{margin:0;color:#c9d3e3}
nav{background:#1d3150;padding:6px 32px;position:sticky;top:0;z-index:2}
nav a{color:#dce6f5;text-decoration:none;margin-right:18px;font-size:13px}
nav a:hover{text-decoration:underline}
main{max-width:1280px;margin:0 auto;padding:8px 32px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:18px 0}
h2{margin:0 0 10px;font-size:19px}
h3{margin:16px 0 8px;font-size:15px}
p.lead{font-size:17px;margin:4px 0 14px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 0;min-width:120px;border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fbfcfd}
.card .n{font-size:26px;font-weight:700;color:var(--accent)}
.card .l{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card.warn{background:var(--warnbg);border-color:#f0c36d}.card.warn .n{color:var(--warn)}
.card.bad{background:var(--badbg);border-color:#f3b1aa}.card.bad .n{color:var(--bad)}
section.limits{border:2px solid #e49b2f;background:var(--warnbg)}
section.limits h2{color:var(--warn)}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
section.limits th{background:#fbe7c4}
section.limits h3{margin:18px 0 2px;color:#7a3e05}
section.limits h3 .count{font-weight:400;color:var(--muted)}
section.limits p.meaning{margin:2px 0 6px;color:#4a3a22;font-size:13px}
section.limits td.scope{white-space:nowrap;font-size:12px}
section.limits table{background:#fffdf8}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tw{overflow-x:auto}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
td.t{white-space:nowrap}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:nowrap}
tr.group td{background:#eef1f5;font-weight:600;padding-top:8px}
.status{white-space:nowrap}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;margin:1px 0;font-size:12px;font-weight:600;white-space:nowrap}
.b-read{background:#e3ecf9;color:var(--accent)}
.b-exposed{background:var(--warnbg);color:var(--warn);border:1px solid #f0c36d}
.b-none{background:var(--badbg);color:var(--bad);border:1px solid #f3b1aa}
.b-critical{background:#7a0916;color:#fff}.b-high{background:var(--bad);color:#fff}
.b-medium{background:#e49b2f;color:#fff}.b-low{background:#3c7dc4;color:#fff}.b-informational{background:#d9dde3;color:var(--ink)}
.muted{color:var(--muted)}
.small{font-size:11px}
details{margin:6px 0}
summary{cursor:pointer;font-weight:600}
.chart{overflow-x:auto}
.legend span{display:inline-block;margin-right:16px;font-size:12px;color:var(--muted)}
.sw{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:middle;border-radius:2px}
tr.warnrow td{background:var(--warnbg)}
footer{color:var(--muted);font-size:12px;text-align:center;padding:12px}
@media print{nav{display:none}section{break-inside:avoid}body{background:#fff}}
"#;
