//! `user import`: many accounts from CSV, all or nothing.
//!
//! Every row is checked before anything is written; the first bad row fails
//! the whole import with its line number in the file (the header is line 1).

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::Date;

use super::ops::{Ops, clean_text, parse_email, parse_phone};
use super::protocol::{ImportError, OpError, Response};
use crate::domain::license;
use crate::domain::role::Role;
use crate::domain::username::Username;
use crate::store::audit::Event;
use crate::store::users::UserRecord;

const REQUIRED: [&str; 2] = ["username", "email"];
const OPTIONAL: [&str; 6] = [
    "name",
    "phone",
    "agency",
    "license_expires",
    "admin",
    "groups",
];

pub fn run(ops: &Ops<'_>, csv_text: &str, send_invites: bool) -> Result<Response, OpError> {
    let mut records = parse(csv_text, ops.default_expiry(), ops.store.now())?;
    let count = records.len();
    ops.store.write(|tx| {
        let mut users_t = tx.users()?;
        let groups_t = tx.groups()?;
        // Checked again inside the transaction: the table may have changed since parsing.
        let mut bad = Vec::new();
        for (line, user) in &mut records {
            if let Err(e) = ops.may_act_on(user) {
                bad.push(e.at_line(*line));
                continue;
            }
            if let Some(existing) = users_t.get(&user.key())? {
                bad.push(OpError::AlreadyExists(existing.username.into()).at_line(*line));
                continue;
            }
            match super::ops::resolve_groups(&groups_t, &user.groups) {
                Ok(groups) => user.groups = groups,
                Err(e) => bad.push(e.at_line(*line)),
            }
        }
        if !bad.is_empty() {
            return Err(OpError::BadLines(bad));
        }
        let mut audit_t = tx.audit()?;
        for (_, user) in &records {
            users_t.put(user)?;
            audit_t.append(
                Event::UserCreated,
                Some(user.username.as_str()),
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

/// Checks every row and builds the records, keyed by their line in the
/// file; every bad line is reported at once ([`OpError::BadLines`]).
fn parse(
    csv_text: &str,
    default_expiry: Date,
    now: Timestamp,
) -> Result<Vec<(u64, UserRecord)>, OpError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let columns = Columns::read(&mut reader).map_err(|e| OpError::from(e).at_line(1))?;
    let mut lines = LineCounter::new(csv_text);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                bad.push(OpError::from(ImportError::Row(e)).at_line(line));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let row = Row {
            columns: &columns,
            record: &record,
        };
        let username = match row.username() {
            Ok(u) => u,
            Err(e) => {
                bad.push(e.at_line(line));
                continue;
            }
        };
        if let Some(first) = seen.insert(username.key().to_owned(), line) {
            let name = username.as_str().to_owned();
            bad.push(OpError::from(ImportError::RepeatedUser { name, first }).at_line(line));
            continue;
        }
        match row.user(&username, default_expiry, now) {
            Ok(user) => out.push((line, user)),
            Err(e) => bad.push(e.at_line(line)),
        }
    }
    if !bad.is_empty() {
        return Err(OpError::BadLines(bad));
    }
    if out.is_empty() {
        return Err(ImportError::NoRows.into());
    }
    Ok(out)
}

/// Where each known column is, from the header row (names in any case).
struct Columns(HashMap<String, usize>);

impl Columns {
    fn read(reader: &mut csv::Reader<&[u8]>) -> Result<Self, ImportError> {
        let mut column = HashMap::new();
        for (i, h) in reader
            .headers()
            .map_err(ImportError::Header)?
            .iter()
            .enumerate()
        {
            let h = h.to_ascii_lowercase();
            if !REQUIRED.contains(&h.as_str()) && !OPTIONAL.contains(&h.as_str()) {
                return Err(ImportError::UnknownColumn(h));
            }
            if column.insert(h.clone(), i).is_some() {
                return Err(ImportError::RepeatedColumn(h));
            }
        }
        match REQUIRED.into_iter().find(|r| !column.contains_key(*r)) {
            Some(missing) => Err(ImportError::MissingColumn(missing)),
            None => Ok(Self(column)),
        }
    }
}

/// One data row, read through the header's columns.
struct Row<'a> {
    columns: &'a Columns,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The cell under `name`; an empty cell counts as none.
    fn field(&self, name: &str) -> Option<&str> {
        self.columns
            .0
            .get(name)
            .and_then(|&i| self.record.get(i))
            .filter(|v| !v.is_empty())
    }

    fn username(&self) -> Result<Username, OpError> {
        Username::parse(self.field("username").unwrap_or("")).map_err(OpError::Username)
    }

    /// The account this row describes. Whatever the column order, the
    /// fields are checked email, phone, name, agency, license, admin.
    fn user(
        &self,
        username: &Username,
        default_expiry: Date,
        now: Timestamp,
    ) -> Result<UserRecord, OpError> {
        let email = parse_email(self.field("email").unwrap_or(""))?;
        let phone = self.field("phone").map(parse_phone).transpose()?;
        let name = self.text("name")?;
        let agency = self.text("agency")?;
        let license_expires = match self.field("license_expires") {
            Some(v) => license::parse_expiry(v).map_err(OpError::Expiry)?,
            None => Some(default_expiry),
        };
        Ok(UserRecord {
            name,
            email: Some(email),
            phone,
            role: if self.admin()? {
                Role::Admin
            } else {
                Role::User
            },
            groups: self.groups()?,
            agency,
            license_expires,
            ..UserRecord::new(username.clone(), now)
        })
    }

    fn text(&self, name: &'static str) -> Result<Option<String>, OpError> {
        self.field(name).map(|v| clean_text(name, v)).transpose()
    }

    /// The `groups` cell: group names separated by commas (quote the cell).
    fn groups(&self) -> Result<Vec<String>, OpError> {
        let names = self.field("groups").unwrap_or("").split(',');
        Ok(super::ops::group_names(names)?
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect())
    }

    fn admin(&self) -> Result<bool, ImportError> {
        match self.field("admin").map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "no" | "0") => Ok(false),
            Some("true" | "yes" | "1") => Ok(true),
            Some(other) => Err(ImportError::Admin(other.to_owned())),
        }
    }
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
    use super::*;

    fn parsed(text: &str) -> Result<Vec<(u64, UserRecord)>, OpError> {
        let expiry = jiff::civil::date(2030, 1, 31);
        parse(text, expiry, Timestamp::UNIX_EPOCH)
    }

    /// The refusal of a file, or of its one bad line.
    fn refusal(text: &str) -> String {
        match parsed(text) {
            Ok(_) => panic!("accepted: {text:?}"),
            Err(OpError::BadLines(lines)) if lines.len() == 1 => lines[0].to_string(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a3_every_bad_line_is_named_at_once() {
        let text = "username,email\nann,nope\nbob,b@x.org\n,c@x.org\nann,a@x.org\n";
        let Err(OpError::BadLines(lines)) = parsed(text) else {
            panic!("refused line by line");
        };
        let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("line 2: email \"nope\""), "{lines:?}");
        assert!(lines[1].starts_with("line 4: user name"), "{lines:?}");
        assert_eq!(lines[2], "line 5: user name \"ann\" repeats line 2");
        let message = OpError::BadLines(Vec::new()).to_string();
        assert!(message.contains("nothing was imported"), "{message}");
        assert_eq!(refusal(text).lines().count(), 1, "one line for the CLI");
    }

    #[test]
    fn rows_become_accounts_keyed_by_their_line() {
        let text = "Email,username,admin,license_expires\r\na@x.org,ann,yes,never\r\n\r\nb@x.org,bob,,\r\n";
        let Ok(users) = parsed(text) else {
            panic!("refused: {text:?}");
        };
        assert_eq!(users.len(), 2);
        let (line, ann) = &users[0];
        assert_eq!((*line, ann.username.as_str()), (2, "ann"));
        assert!(ann.is_admin());
        assert_eq!(ann.license_expires, None);
        let (line, bob) = &users[1];
        assert_eq!(
            (
                *line,
                bob.email.as_ref().map(crate::domain::email::Email::as_str)
            ),
            (4, Some("b@x.org"))
        );
        assert!(!bob.is_admin());
        assert_eq!(bob.license_expires, Some(jiff::civil::date(2030, 1, 31)));
    }

    #[test]
    fn a_bad_header_is_line_1() {
        assert!(matches!(
            parsed("username,colour\n"),
            Err(OpError::AtLine { line: 1, error }) if matches!(*error, OpError::Import(ImportError::UnknownColumn(_)))
        ));
        assert_eq!(
            refusal("username,email,EMAIL\n"),
            "line 1: column \"email\" appears twice"
        );
        assert_eq!(
            refusal("username,name\na,A\n"),
            "line 1: the header must have a \"email\" column"
        );
    }

    #[test]
    fn a_bad_row_names_its_line_and_field() {
        assert_eq!(
            refusal("username,email\nann,a@x.org\nAnn,b@x.org\n"),
            "line 3: user name \"Ann\" repeats line 2"
        );
        assert_eq!(
            refusal("username,email\nann,nope\n"),
            "line 2: email \"nope\": enter an email address like name@example.org"
        );
        assert_eq!(
            refusal("username,email,admin\nann,a@x.org,maybe\n"),
            "line 2: admin must be true or false, not \"maybe\""
        );
        assert_eq!(
            refusal("username,email,agency\nann,a@x.org,\"a\tb\"\n"),
            "line 2: agency must be one line of printable text"
        );
    }

    #[test]
    fn a_repeated_name_is_found_before_the_rest_of_its_row_is_checked() {
        assert_eq!(
            refusal("username,email\nann,a@x.org\nann,nope\n"),
            "line 3: user name \"ann\" repeats line 2"
        );
    }

    #[test]
    fn a_header_alone_is_refused() {
        assert!(matches!(
            parsed("username,email\n"),
            Err(OpError::Import(ImportError::NoRows))
        ));
    }

    #[test]
    fn line_numbers_survive_crlf_and_blank_lines() {
        let text = "username,email\r\na,a@x.org\r\n\r\nb,b@x.org\r\n";
        let mut lines = LineCounter::new(text);
        assert_eq!(lines.line_at(16), 2);
        assert_eq!(lines.line_at(text.find("b,").unwrap() as u64), 4);
    }
}
