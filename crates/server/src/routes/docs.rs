//! `/docs`: a readable API reference rendered on the server from the OpenAPI document, with
//! no scripts and nothing loaded from elsewhere.

use serde_json::Value;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Light markdown: `code` spans and paragraphs.
fn md(s: &str) -> String {
    esc(s)
        .split("\n\n")
        .map(|p| {
            let mut out = String::new();
            for (i, part) in p.split('`').enumerate() {
                if i % 2 == 1 {
                    out.push_str(&format!("<code>{part}</code>"));
                } else {
                    out.push_str(part);
                }
            }
            format!("<p>{out}</p>")
        })
        .collect()
}

fn schema_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{name}\">{name}</a>");
    }
    if let Some(items) = v.get("items") {
        return format!("array of {}", schema_name(items));
    }
    v.get("type").map_or_else(|| "object".to_owned(), |t| esc(&t.to_string().replace('"', "")))
}

pub fn render(openapi: &utoipa::openapi::OpenApi) -> String {
    let doc = serde_json::to_value(openapi).unwrap_or_default();
    let mut body = String::new();
    let title = doc.pointer("/info/title").and_then(Value::as_str).unwrap_or("API");
    body.push_str(&format!("<h1>{}</h1>", esc(title)));
    body.push_str(&md(doc.pointer("/info/description").and_then(Value::as_str).unwrap_or("")));
    body.push_str(
        "<h2>Errors</h2><p>Every error is JSON: <code>{\"error\": \"&lt;code&gt;\", \"message\": \"&lt;what to do&gt;\"}</code>, \
         plus <code>fields</code> with <code>validation_failed</code>, <code>requiredScope</code> with <code>insufficient_scope</code>, \
         and <code>retryAfter</code> (seconds) with <code>rate_limit_exceeded</code> and <code>too_many_attempts</code>.</p>\
         <h2>Rate limits</h2><p>Responses to requests made with a key carry <code>X-RateLimit-Limit</code>, \
         <code>X-RateLimit-Remaining</code> and <code>X-RateLimit-Reset</code> (Unix seconds). Windows are aligned to Unix time.</p>\
         <p>The machine-readable document: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>",
    );
    let mut toc = String::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        body.push_str("<h2>Endpoints</h2>");
        for (path, item) in paths {
            for method in ["get", "post", "patch", "put", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let anchor = format!("{method}-{}", path.replace(['/', '{', '}'], "-"));
                let summary = op.get("summary").and_then(Value::as_str).unwrap_or("");
                toc.push_str(&format!(
                    "<li><a href=\"#{anchor}\"><span class=\"m {method}\">{}</span> {}</a></li>",
                    method.to_uppercase(),
                    esc(path)
                ));
                body.push_str(&format!(
                    "<section id=\"{anchor}\"><h3><span class=\"m {method}\">{}</span> <code>{}</code></h3><p><strong>{}</strong></p>",
                    method.to_uppercase(),
                    esc(path),
                    esc(summary)
                ));
                if let Some(d) = op.get("description").and_then(Value::as_str) {
                    body.push_str(&md(d));
                }
                let auth = op.get("security").map(|s| s.to_string()).unwrap_or_default();
                body.push_str(if auth.contains("apiKey") {
                    "<p class=\"auth\">Authentication: API key in <code>Authorization: Bearer</code> and the workspace ID in <code>X-Workspace-Id</code>.</p>"
                } else if auth.contains("session") {
                    "<p class=\"auth\">Authentication: session token in <code>Authorization: Bearer</code>.</p>"
                } else {
                    "<p class=\"auth\">No authentication.</p>"
                });
                if let Some(params) = op.get("parameters").and_then(Value::as_array) {
                    body.push_str("<table><tr><th>Parameter</th><th>In</th><th>Description</th></tr>");
                    for p in params {
                        let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                        let required = if p.get("required").and_then(Value::as_bool).unwrap_or(false) {
                            " (required)"
                        } else {
                            ""
                        };
                        body.push_str(&format!(
                            "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td></tr>",
                            esc(&text("name")),
                            esc(&text("in")),
                            esc(&text("description"))
                        ));
                    }
                    body.push_str("</table>");
                }
                if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") {
                    body.push_str(&format!("<p>Body: {}</p>", schema_name(schema)));
                }
                if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                    body.push_str("<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>");
                    for (status, r) in responses {
                        let desc = r.get("description").and_then(Value::as_str).unwrap_or("");
                        let schema =
                            r.pointer("/content/application~1json/schema").map(schema_name).unwrap_or_default();
                        body.push_str(&format!(
                            "<tr><td>{}</td><td>{}</td><td>{schema}</td></tr>",
                            esc(status),
                            md(desc)
                        ));
                    }
                    body.push_str("</table>");
                }
                body.push_str("</section>");
            }
        }
    }
    if let Some(schemas) = doc.pointer("/components/schemas").and_then(Value::as_object) {
        body.push_str("<h2>Types</h2>");
        for (name, schema) in schemas {
            let description = schema.get("description").and_then(Value::as_str).map(md).unwrap_or_default();
            body.push_str(&format!("<section id=\"schema-{name}\"><h3>{name}</h3>{description}"));
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                body.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
                for (field, p) in props {
                    let opt = if required.contains(&field.as_str()) { "" } else { " (optional)" };
                    let ty = p
                        .get("oneOf")
                        .and_then(Value::as_array)
                        .and_then(|o| o.iter().find(|s| s.get("type") != Some(&Value::from("null"))))
                        .map_or_else(|| schema_name(p), schema_name);
                    let desc = p.get("description").and_then(Value::as_str).map(md).unwrap_or_default();
                    body.push_str(&format!(
                        "<tr><td><code>{}</code>{opt}</td><td>{ty}</td><td>{desc}</td></tr>",
                        esc(field)
                    ));
                }
                body.push_str("</table>");
            } else if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                let list: Vec<String> =
                    values.iter().map(|v| format!("<code>{}</code>", esc(v.as_str().unwrap_or("")))).collect();
                body.push_str(&format!("<p>One of: {}</p>", list.join(", ")));
            }
            body.push_str("</section>");
        }
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{CSS}</style></head><body><nav><h2>Endpoints</h2><ul>{toc}</ul></nav><main>{body}</main></body></html>",
        esc(title)
    )
}

const CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;display:flex;color:#1d2430;background:#fff}\
nav{width:280px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f5f6f8;padding:0 16px;border-right:1px solid #e1e4e8}\
nav ul{list-style:none;padding:0}nav li{margin:4px 0}nav a{text-decoration:none;color:inherit;font-size:13px}\
main{max-width:900px;padding:0 32px 64px}section{border-top:1px solid #e1e4e8;padding:8px 0}\
table{border-collapse:collapse;margin:8px 0;width:100%}td,th{border:1px solid #e1e4e8;padding:4px 8px;text-align:left;vertical-align:top}td p{margin:0}\
code{background:#f0f2f4;padding:1px 4px;border-radius:3px}.m{font:bold 11px monospace;padding:2px 6px;border-radius:3px;color:#fff;background:#57606a}\
.get{background:#1a7f37}.post{background:#0969da}.patch{background:#9a6700}.delete{background:#cf222e}.auth{color:#57606a}\
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}nav{background:#161b22;border-color:#30363d}code{background:#21262d}td,th,section{border-color:#30363d}a{color:#58a6ff}}";
