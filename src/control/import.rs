//! `user import`: many accounts from CSV, all or nothing.
//!
//! Every row is checked before anything is written; the first bad row fails
//! the whole import with its line number in the file (the header is line 1).

use std::collections::HashMap;

use jiff::Timestamp;

use super::ops::{Ops, clean_text, parse_email, parse_phone};
use super::protocol::{ImportError, OpError, Response};
use crate::domain::license;
use crate::domain::username::Username;
use crate::store::audit::Event;
use crate::store::users::UserRecord;

const REQUIRED: [&str; 2] = ["username", "email"];
const OPTIONAL: [&str; 5] = ["name", "phone", "agency", "license_expires", "admin"];

pub fn run(ops: &Ops<'_>, csv_text: &str, send_invites: bool) -> Result<Response, OpError> {
    let records = parse(ops, csv_text)?;
    let count = records.len();
    ops.store.write(|tx| {
        let mut users_t = tx.users()?;
        // Checked again inside the transaction: the table may have changed since parsing.
        for (line, user) in &records {
            if let Some(existing) = users_t.get(&user.key())? {
                return Err(OpError::AlreadyExists(existing.username).at_line(*line));
            }
        }
        let mut audit_t = tx.audit()?;
        for (_, user) in &records {
            users_t.put(user)?;
            audit_t.append(
                Event::UserCreated,
                Some(&user.username),
                &ops.origin,
                Some("imported from CSV".into()),
            )?;
        }
        drop((users_t, audit_t));
        if send_invites {
            for (_, user) in &records {
                ops.invite(tx, user)?;
            }
        }
        Ok::<_, OpError>(())
    })?;
    ops.mailer.wake();
    let message = if send_invites {
        format!("imported {count} accounts; each was mailed a setup link")
    } else {
        format!(
            "imported {count} accounts; they have no password yet: send each a link with `latchkey reset-link USER --send`"
        )
    };
    Ok(Response::Done { message })
}

/// Checks every row and builds the records, keyed by their line in the file.
fn parse(ops: &Ops<'_>, csv_text: &str) -> Result<Vec<(u64, UserRecord)>, OpError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| OpError::from(ImportError::Header(e)).at_line(1))?
        .clone();
    let mut column = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.to_ascii_lowercase();
        if !REQUIRED.contains(&h.as_str()) && !OPTIONAL.contains(&h.as_str()) {
            return Err(OpError::from(ImportError::UnknownColumn(h)).at_line(1));
        }
        if column.insert(h.clone(), i).is_some() {
            return Err(OpError::from(ImportError::RepeatedColumn(h)).at_line(1));
        }
    }
    for required in REQUIRED {
        if !column.contains_key(required) {
            return Err(OpError::from(ImportError::MissingColumn(required)).at_line(1));
        }
    }
    let default_expiry = ops.default_expiry();
    let now = Timestamp::now();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::new();
    let mut lines = LineCounter::new(csv_text);
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
            OpError::from(ImportError::Row(e)).at_line(line)
        })?;
        let line = row.position().map_or(0, |p| lines.line_at(p.byte()));
        let field = |name: &str| {
            column
                .get(name)
                .and_then(|&i| row.get(i))
                .filter(|v| !v.is_empty())
        };
        let at = |e: OpError| e.at_line(line);
        let username = Username::parse(field("username").unwrap_or(""))
            .map_err(|e| at(OpError::Username(e)))?;
        if let Some(first) = seen.insert(username.key().to_owned(), line) {
            return Err(at(ImportError::RepeatedUser {
                name: username.as_str().to_owned(),
                first,
            }
            .into()));
        }
        let email = parse_email(field("email").unwrap_or("")).map_err(at)?;
        let phone = field("phone").map(parse_phone).transpose().map_err(at)?;
        let name = field("name")
            .map(|v| clean_text("name", v))
            .transpose()
            .map_err(at)?;
        let agency = field("agency")
            .map(|v| clean_text("agency", v))
            .transpose()
            .map_err(at)?;
        let license_expires = match field("license_expires") {
            Some(v) => license::parse_expiry(v).map_err(|e| at(OpError::Expiry(e)))?,
            None => Some(default_expiry),
        };
        let admin = match field("admin").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "no" | "0") => false,
            Some("true" | "yes" | "1") => true,
            Some(other) => {
                return Err(at(ImportError::Admin(other.to_owned()).into()));
            }
        };
        out.push((
            line,
            UserRecord {
                username: username.as_str().to_owned(),
                name,
                email: Some(email.as_str().to_owned()),
                phone: phone.map(|p| p.as_str().to_owned()),
                admin,
                agency,
                license_expires,
                created_at: now,
                ..UserRecord::default()
            },
        ));
    }
    if out.is_empty() {
        return Err(ImportError::NoRows.into());
    }
    Ok(out)
}

/// Line numbers from byte offsets. The csv crate's own `Position::line` is off
/// after CRLF line endings and blank lines; offsets are exact. Offsets only
/// grow, so counting resumes where the last call stopped.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record starting at `byte` (line breaks before it skipped).
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut at = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        if at >= self.offset {
            self.line += self.text[self.offset..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.offset = at;
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::LineCounter;

    #[test]
    fn line_numbers_survive_crlf_and_blank_lines() {
        let text = "username,email\r\na,a@x.org\r\n\r\nb,b@x.org\r\n";
        let mut lines = LineCounter::new(text);
        assert_eq!(lines.line_at(16), 2);
        assert_eq!(lines.line_at(text.find("b,").unwrap() as u64), 4);
    }
}
