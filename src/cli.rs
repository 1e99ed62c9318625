//! The command line: clap definitions (doc comments are the help text) and one
//! function per subcommand. Exit codes: 0 done, 1 could not be done, 2 usage.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{self, Config};
use crate::control::client;
use crate::control::protocol::{NewUser, RenewTarget, Request, UserChanges};
use crate::domain::role::Role;
use crate::domain::secret::Secret;

mod output;

/// latchkey: sign-in, password resets, lockout and licenses for a small agency,
/// in one binary and one data file.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version)]
pub struct Cli {
    /// Config file (TOML). Default: ./latchkey.toml if it exists, else built-in defaults.
    #[arg(long, global = true, value_name = "FILE", env = "LATCHKEY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory; overrides `data_dir` from the config.
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Print machine-readable JSON (one object, or one per line for lists).
    #[arg(long, global = true)]
    pub json: bool,
    /// Log format of `serve`.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (prints a first-administrator link on an empty data directory).
    Serve,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Clear an account's lockout and failure count.
    Unlock {
        /// User name.
        user: String,
    },
    /// Manage license expiry dates.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Show security events, newest last.
    Audit {
        /// Only events about this user.
        #[arg(long)]
        user: Option<String>,
        /// How many events at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Issue a password reset link for USER and print it (works on a locked account; using it unlocks).
    ResetLink {
        user: String,
        /// Also mail it to the account's address.
        #[arg(long)]
        send: bool,
    },
    /// Mail delivery.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Groups, which apps can require of their users.
    #[command(subcommand)]
    Group(GroupCommand),
    /// The agency's apps that sign in through latchkey (OpenID Connect, forward-auth).
    #[command(subcommand)]
    App(AppCommand),
    /// The OpenID Connect provider's signing keys.
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Write a consistent online backup of all data to FILE (safe while serving; mode 0600).
    #[command(args_conflicts_with_subcommands = true)]
    Backup(BackupArgs),
    /// Replace all data with a backup after checking it (the server must be stopped).
    Restore {
        /// A file written by `latchkey backup`.
        file: PathBuf,
    },
    /// HTTPS certificates.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Write a self-signed certificate and key for a LAN deployment, and say how to trust it.
    SelfSigned {
        /// The host name staff type in the browser (e.g. latchkey.agency.lan).
        #[arg(long)]
        host: String,
        /// An IP address the certificate should also cover (repeatable).
        #[arg(long = "ip", value_name = "ADDR")]
        ips: Vec<std::net::IpAddr>,
        /// Directory for cert.pem and key.pem (default: <data_dir>/tls).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup.
    pub file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Open a backup read-only, check its digest, integrity and schema, print counts.
    Verify { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Make a group (same characters as user names).
    Add { group: String },
    /// Remove a group; its members are taken out of it.
    Remove { group: String },
    /// Every group, with how many accounts are in it.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an app; an OpenID Connect app's client secret is printed once.
    Add {
        app: String,
        /// Where the app receives its sign-in answer (repeatable; exact match).
        #[arg(long = "redirect-uri", value_name = "URI", num_args = 1..)]
        redirect_uris: Vec<String>,
        /// Where the app may send the browser after signing out (repeatable).
        #[arg(long = "logout-uri", value_name = "URI", num_args = 1..)]
        logout_uris: Vec<String>,
        /// A browser or desktop app: no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Only members of this group may use it (repeatable; none: everyone).
        #[arg(long = "group", value_name = "G", num_args = 1..)]
        groups: Vec<String>,
        /// The launcher link on the home page.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// A host name guarded by forward-auth (repeatable).
        #[arg(long = "host", value_name = "HOST", num_args = 1..)]
        hosts: Vec<String>,
    },
    /// Every app.
    List,
    /// One app (never its secret).
    Show { app: String },
    /// Change an app: each option given replaces that setting.
    Set {
        app: String,
        #[arg(long = "redirect-uri", value_name = "URI", num_args = 1..)]
        redirect_uris: Option<Vec<String>>,
        #[arg(long = "logout-uri", value_name = "URI", num_args = 1..)]
        logout_uris: Option<Vec<String>>,
        /// The whole set of groups, comma-separated (empty: everyone).
        #[arg(long, value_name = "A,B")]
        groups: Option<String>,
        /// The launcher link ("" removes it).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        #[arg(long = "host", value_name = "HOST", num_args = 1..)]
        hosts: Option<Vec<String>>,
    },
    /// Remove an app; every token it holds stops working at once.
    Remove { app: String },
    /// A new client secret, printed once; the old one stops working.
    RotateSecret { app: String },
}

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// A new signing key; the previous one stays published until its tokens expire.
    RotateKey,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send a test message now and report what the SMTP server said.
    Test {
        /// Where to send it.
        address: String,
    },
    /// Messages not yet delivered, with attempts and the last error.
    Queue,
    /// Try queued mail again now (one message by its id from `mail queue`, or all).
    Retry {
        /// The message's id; without it, every queued message.
        id: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; without --password-stdin, print a one-time setup link.
    Add(AddArgs),
    /// Create many accounts from a CSV file (username,email[,name,phone,agency,license_expires,admin]); all or nothing.
    Import {
        /// The CSV file; its first line is the header.
        file: PathBuf,
        /// Mail each new account a setup link.
        #[arg(long)]
        send_invites: bool,
    },
    /// List accounts.
    List {
        /// Only locked accounts.
        #[arg(long)]
        locked: bool,
    },
    /// Show one account.
    Show {
        /// User name.
        user: String,
    },
    /// Change an account's details (an empty value clears phone, name or agency).
    Set {
        /// User name.
        user: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        agency: Option<String>,
        /// An alias: `true` is `--role admin`, `false` is `--role user`.
        #[arg(long, value_name = "true|false", conflicts_with = "role")]
        admin: Option<bool>,
        /// What the account may do besides signing in.
        #[arg(long, value_name = "user|helpdesk|admin", value_parser = parse_role)]
        role: Option<Role>,
        /// The account's whole set of groups, comma-separated (empty: none).
        #[arg(long, value_name = "a,b")]
        groups: Option<String>,
    },
    /// Disable an account; its sessions end at once.
    Disable { user: String },
    /// Enable a disabled account.
    Enable { user: String },
    /// Delete an account, its sessions and its links.
    Delete { user: String },
    /// Require a new password at next sign-in (after a suspected compromise); ends sessions.
    ForceChange {
        /// User name.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        user: Option<String>,
        /// Every account.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// User name: 1-64 letters, digits and . _ - @.
    pub user: String,
    #[arg(long)]
    pub email: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub phone: Option<String>,
    /// Make the account an administrator.
    #[arg(long)]
    pub admin: bool,
    /// An existing group the account belongs to (repeatable).
    #[arg(long = "group", value_name = "G")]
    pub groups: Vec<String>,
    #[arg(long)]
    pub agency: Option<String>,
    /// Last licensed day (YYYY-MM-DD) or `never`; default: license.default_term from today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub license_expires: Option<String>,
    /// Read the password from the first line of standard input (never from arguments).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Set a license's last day (a past date blocks sign-in).
    Set {
        user: String,
        /// YYYY-MM-DD or `never`.
        #[arg(long)]
        expires: String,
    },
    /// Extend licenses by N years from the later of today and their current expiry.
    Renew {
        /// User name.
        #[arg(required_unless_present = "agency", conflicts_with = "agency")]
        user: Option<String>,
        /// Every account of this agency.
        #[arg(long)]
        agency: Option<String>,
        #[arg(long, default_value_t = 1)]
        years: u16,
    },
    /// List licenses by expiry.
    List {
        /// Only licenses ending within this span (e.g. 30d), expired ones included.
        #[arg(long, value_name = "SPAN")]
        expiring_within: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print the effective values (secrets masked).
    Check,
}

impl Cli {
    pub fn load_config(&self) -> Result<Config, config::LoadError> {
        config::load(self.config.as_deref(), self.data.as_deref())
    }

    /// Whether the data directory was named (`--data`, `--config`, `LATCHKEY_CONFIG`)
    /// rather than found by default in the working directory.
    fn names_data_dir(&self) -> bool {
        self.config.is_some() || self.data.is_some()
    }

    /// Whether the subcommand needs a data directory that already holds a
    /// database. Only `serve`, `restore` and, when told where, `user
    /// add`/`user import`/`tls self-signed`/`mail test` (to the pickup folder)
    /// may make one: any other command run from the wrong folder must not
    /// quietly create an empty database nobody serves and report on it.
    /// Commands that never touch the data directory need nothing.
    fn needs_existing_data(&self, config: &Config) -> bool {
        // Without SMTP, `mail test` writes to <data_dir>/mail-pickup.
        let mail_to_pickup = config.mail.smtp.is_none();
        match &self.command {
            Command::Serve | Command::Restore { .. } => false,
            Command::User(UserCommand::Add(_) | UserCommand::Import { .. })
            | Command::App(AppCommand::Add { .. })
            | Command::Tls(TlsCommand::SelfSigned { out: None, .. })
            | Command::Mail(MailCommand::Test { .. })
                if self.names_data_dir() =>
            {
                false
            }
            Command::Mail(MailCommand::Test { .. }) => mail_to_pickup,
            Command::Config(_)
            | Command::Tls(TlsCommand::SelfSigned { out: Some(_), .. })
            | Command::Backup(BackupArgs {
                command: Some(BackupCommand::Verify { .. }),
                ..
            })
            | Command::Backup(BackupArgs {
                file: None,
                command: None,
            }) => false,
            _ => true,
        }
    }
}

/// Refuses to go on when `dir` holds no database (missing or empty directory).
fn require_data(cli: &Cli, dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.join(crate::store::DB_FILE).is_file() {
        return Ok(());
    }
    let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let creates = match &cli.command {
        Command::User(UserCommand::Add(_) | UserCommand::Import { .. })
        | Command::Tls(_)
        | Command::Mail(MailCommand::Test { .. }) => {
            " (this command creates one only when --data or --config names it)"
        }
        _ => "",
    };
    anyhow::bail!(
        "no latchkey data in {}{creates}; point at the server's data with --config FILE, --data DIR or LATCHKEY_CONFIG=FILE",
        shown.display()
    )
}

/// Runs an admin subcommand and prints its result. `serve` is handled by main.
pub fn run_admin(cli: &Cli, config: &Config) -> anyhow::Result<()> {
    if cli.needs_existing_data(config) {
        require_data(cli, &config.data_dir)?;
    }
    let request = match &cli.command {
        Command::Serve => unreachable!("main handles serve"),
        Command::Config(ConfigCommand::Check) => {
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            print!("# configuration is valid\n{}", config.to_masked_toml());
            return Ok(());
        }
        Command::User(cmd) => user_request(cmd)?,
        Command::Unlock { user } => Request::Unlock {
            username: user.clone(),
        },
        Command::License(cmd) => license_request(cmd),
        Command::Audit { user, limit } => Request::Audit {
            username: user.clone(),
            limit: *limit,
        },
        Command::ResetLink { user, send } => Request::ResetLink {
            username: user.clone(),
            send: *send,
        },
        Command::Mail(MailCommand::Queue) => Request::MailQueue,
        Command::Mail(MailCommand::Retry { id }) => Request::MailRetry { id: *id },
        Command::Group(GroupCommand::Add { group }) => Request::GroupAdd {
            name: group.clone(),
        },
        Command::Group(GroupCommand::Remove { group }) => Request::GroupRemove {
            name: group.clone(),
        },
        Command::Group(GroupCommand::List) => Request::GroupList,
        Command::App(cmd) => app_request(cmd),
        Command::Oidc(OidcCommand::RotateKey) => Request::OidcRotateKey,
        Command::Mail(MailCommand::Test { address }) => return mail_test(config, address),
        Command::Backup(BackupArgs {
            command: Some(BackupCommand::Verify { file }),
            ..
        }) => {
            let counts = crate::store::backup::verify(file)?;
            output::print(
                &crate::control::protocol::Response::Backup {
                    path: file.clone(),
                    counts,
                },
                cli.json,
            );
            return Ok(());
        }
        Command::Backup(BackupArgs {
            file: Some(file), ..
        }) => Request::Backup {
            path: absolute(file)?,
        },
        Command::Backup(BackupArgs {
            file: None,
            command: None,
        }) => {
            anyhow::bail!(
                "give the backup file: `latchkey backup FILE` (or `latchkey backup verify FILE`)"
            )
        }
        Command::Restore { file } => return restore(config, file),
        Command::Tls(TlsCommand::SelfSigned { host, ips, out }) => {
            let dir = out.clone().unwrap_or_else(|| config.data_dir.join("tls"));
            return self_signed(&dir, host, ips);
        }
    };
    // The operator's one line: the message alone, not a chain of its causes.
    let response = client::run(config, request).map_err(|e| anyhow::anyhow!(e.to_string()))?;
    output::print(&response, cli.json);
    Ok(())
}

fn app_request(cmd: &AppCommand) -> Request {
    use crate::control::protocol::{AppChanges, AppSpec};
    match cmd {
        AppCommand::Add {
            app,
            redirect_uris,
            logout_uris,
            public,
            groups,
            url,
            hosts,
        } => Request::AppAdd(AppSpec {
            name: app.clone(),
            redirect_uris: redirect_uris.clone(),
            logout_uris: logout_uris.clone(),
            public: *public,
            groups: groups.clone(),
            url: url.clone(),
            hosts: hosts.clone(),
        }),
        AppCommand::List => Request::AppList,
        AppCommand::Show { app } => Request::AppShow { name: app.clone() },
        AppCommand::Set {
            app,
            redirect_uris,
            logout_uris,
            groups,
            url,
            hosts,
        } => Request::AppSet {
            name: app.clone(),
            changes: AppChanges {
                redirect_uris: redirect_uris.clone(),
                logout_uris: logout_uris.clone(),
                groups: groups.as_ref().map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        .collect()
                }),
                url: url.clone(),
                hosts: hosts.clone(),
            },
        },
        AppCommand::Remove { app } => Request::AppRemove { name: app.clone() },
        AppCommand::RotateSecret { app } => Request::AppRotateSecret { name: app.clone() },
    }
}

fn user_request(cmd: &UserCommand) -> anyhow::Result<Request> {
    Ok(match cmd {
        UserCommand::Add(a) => Request::UserAdd(NewUser {
            username: a.user.clone(),
            email: a.email.clone(),
            name: a.name.clone(),
            phone: a.phone.clone(),
            admin: a.admin,
            groups: a.groups.clone(),
            agency: a.agency.clone(),
            license_expires: a.license_expires.clone(),
            password: if a.password_stdin {
                Some(read_password()?)
            } else {
                None
            },
        }),
        UserCommand::Import { file, send_invites } => Request::UserImport {
            csv: std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?,
            send_invites: *send_invites,
        },
        UserCommand::List { locked } => Request::UserList {
            locked_only: *locked,
        },
        UserCommand::Show { user } => Request::UserShow {
            username: user.clone(),
        },
        UserCommand::Set {
            user,
            email,
            phone,
            name,
            agency,
            admin,
            role,
            groups,
        } => Request::UserSet {
            username: user.clone(),
            changes: UserChanges {
                email: email.clone(),
                phone: phone.clone(),
                name: name.clone(),
                agency: agency.clone(),
                admin: *admin,
                role: *role,
                groups: groups
                    .as_ref()
                    .map(|g| g.split(',').map(|n| n.trim().to_owned()).collect()),
            },
        },
        UserCommand::Disable { user } => Request::UserDisable {
            username: user.clone(),
        },
        UserCommand::Enable { user } => Request::UserEnable {
            username: user.clone(),
        },
        UserCommand::Delete { user } => Request::UserDelete {
            username: user.clone(),
        },
        UserCommand::ForceChange { user, .. } => Request::UserForceChange {
            username: user.clone(),
        },
    })
}

fn license_request(cmd: &LicenseCommand) -> Request {
    match cmd {
        LicenseCommand::Set { user, expires } => Request::LicenseSet {
            username: user.clone(),
            expires: expires.clone(),
        },
        LicenseCommand::Renew {
            user,
            agency,
            years,
        } => Request::LicenseRenew {
            target: match (user, agency) {
                (Some(u), _) => RenewTarget::User(u.clone()),
                (None, Some(a)) => RenewTarget::Agency(a.clone()),
                (None, None) => unreachable!("clap requires a user or --agency"),
            },
            years: *years,
        },
        LicenseCommand::List { expiring_within } => Request::LicenseList {
            within: expiring_within.clone(),
        },
    }
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<Secret> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        anyhow::bail!("--password-stdin: standard input had no password on its first line");
    }
    Ok(Secret::new(password))
}

/// Sends one message straight through the configured transport, not the queue.
fn mail_test(config: &Config, address: &str) -> anyhow::Result<()> {
    use crate::domain::email::Email;
    use crate::mail::compose::{MailKind, MailTemplates};
    use crate::mail::transport::Transport;

    let to = Email::parse(address).map_err(|e| anyhow::anyhow!("{address:?}: {e}"))?;
    let templates = MailTemplates::load().context("loading the mail templates")?;
    let when = crate::domain::clock::Clock::system()
        .now()
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string();
    let message = templates.render(
        config,
        MailKind::Test,
        to.as_str(),
        minijinja::context! { when },
    )?;
    let transport = Transport::from_config(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(transport.send(config.mail.from.as_str(), to.as_str(), &message.bytes))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "test message to {} accepted by {}",
        to.as_str(),
        transport.describe()
    );
    Ok(())
}

/// The server may run elsewhere in the file system: send it absolute paths.
fn absolute(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// `restore FILE`: only with the server stopped; checks first, keeps the old data beside.
fn restore(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    use crate::store::audit::Origin;

    if client::server_is_running(config) {
        anyhow::bail!(
            "latchkey serve is running on {}; stop it before restoring (restore replaces all data)",
            config.data_dir.display()
        );
    }
    // Holding the store proves no other process uses the directory right now.
    drop(client::open_briefly(config).map_err(|e| anyhow::anyhow!(e.to_string()))?);
    let operator = crate::control::os_user_name(nix::unistd::getuid());
    let (counts, kept) =
        crate::store::backup::restore(file, &config.data_dir, &Origin::operator(&operator))?;
    println!("restored {} accounts from {}", counts.users, file.display());
    if let Some(kept) = kept {
        println!("the previous data is kept as {}", kept.display());
    }
    Ok(())
}

fn self_signed(dir: &std::path::Path, host: &str, ips: &[std::net::IpAddr]) -> anyhow::Result<()> {
    let written = crate::tls::self_signed(dir, host, ips)?;
    let cert = std::path::absolute(&written.cert)?;
    let key = std::path::absolute(&written.key)?;
    println!(
        "wrote {} and {} (key mode 0600)",
        cert.display(),
        key.display()
    );
    println!();
    println!("Serve HTTPS with it by adding to the config:");
    println!("  [server]");
    println!("  tls_cert = \"{}\"", cert.display());
    println!("  tls_key = \"{}\"", key.display());
    println!(
        "  base_url = \"https://{host}:8443\"   # the address staff use; match server.listen's port"
    );
    println!();
    println!("Browsers warn about a self-signed certificate until each workstation trusts it:");
    println!(
        "  Windows:  certutil -addstore -f Root cert.pem   (as administrator), or Group Policy"
    );
    println!(
        "  macOS:    sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain cert.pem"
    );
    println!(
        "  Debian/Ubuntu: sudo cp cert.pem /usr/local/share/ca-certificates/latchkey.crt && sudo update-ca-certificates"
    );
    println!(
        "  Firefox keeps its own store: Settings > Privacy & Security > Certificates > Import."
    );
    println!("Copy only cert.pem to workstations; key.pem never leaves this machine.");
    Ok(())
}
