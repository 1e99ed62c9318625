//! CSV exports, safe to open in a spreadsheet (SECURITY A3).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A CSV file being written: a header row, then one row per record.
pub struct Csv {
    writer: csv::Writer<Vec<u8>>,
}

impl Csv {
    pub fn new(header: &[&str]) -> Self {
        let mut out = Self {
            writer: csv::Writer::from_writer(Vec::new()),
        };
        out.row(header);
        out
    }

    /// One row; each cell passes through [`cell`].
    pub fn row(&mut self, cells: &[&str]) {
        let cells: Vec<std::borrow::Cow<'_, str>> = cells.iter().map(|c| cell(c)).collect();
        // Writing to a Vec cannot fail.
        let _ = self.writer.write_record(cells.iter().map(|c| c.as_ref()));
    }

    /// The file as a download named `filename`.
    pub fn into_response(self, filename: &str) -> Response {
        let body = self.writer.into_inner().unwrap_or_default();
        let mut res = body.into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
        res
    }
}

/// A cell a spreadsheet will show as text: one that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return (which a spreadsheet may read as a
/// formula) gets a leading apostrophe (OWASP's advice on CSV injection).
pub fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a3_formulas_are_written_as_text() {
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(cell("+1 555"), "'+1 555");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("alice"), "alice");
        assert_eq!(cell(""), "");
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(&["=1+1", "ok, \"quoted\""]);
        let text = String::from_utf8(csv.writer.into_inner().unwrap()).unwrap();
        assert_eq!(text, "a,b\n'=1+1,\"ok, \"\"quoted\"\"\"\n");
    }
}
