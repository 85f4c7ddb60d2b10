use std::fmt;

/// A client-side mistake in submitted data, located by its JSON path
/// (`reports[3].summary.cells[7].healthStatus`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    pub path: String,
    pub message: String,
    /// The body is not JSON at all, rather than JSON of the wrong shape.
    pub syntax: bool,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into(), syntax: false }
    }

    /// The same error seen from an enclosing value: `prefix` + `.` + path.
    pub fn within(self, prefix: &str) -> Self {
        let path = if self.path.is_empty() {
            prefix.to_owned()
        } else if self.path.starts_with('[') {
            format!("{prefix}{}", self.path)
        } else {
            format!("{prefix}.{}", self.path)
        };
        Self { path, ..self }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Deserialises JSON, locating any error by its field path (`reports[3].summary`).
pub fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, FieldError> {
    // Tracking the path costs on every value; valid bodies are the rule, so the path is only
    // worked out when there is an error to place.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." || path == "?" { String::new() } else { path };
        let inner = e.into_inner();
        let syntax = !matches!(inner.classify(), serde_json::error::Category::Data);
        FieldError { path, message: inner.to_string(), syntax }
    })
}
