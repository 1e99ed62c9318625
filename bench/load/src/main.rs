//! Load client and outside measurements for `bench/run`.
//!
//! Every subcommand prints its results as `key=value` lines on stdout, which
//! `bench/run` collects. Every network wait is bounded, every loop is bounded
//! in count or time, and only the address given with `--addr` is contacted
//! (bench/run passes 127.0.0.1 addresses only).
//!
//! Subcommands:
//!   free-port                     print a free TCP port on 127.0.0.1
//!   hash [--iterations N]         time argon2id (m=19456, t=2, p=1) on this thread
//!   wait --addr A [--path P] [--seconds S]
//!                                 poll GET P (default /healthz) until it answers 200, at most S s
//!   status --addr A --path P [--cookie C]
//!                                 print the status code of one GET
//!   session --addr A --user U --password P
//!                                 sign in once, print the session cookie
//!   login --addr A --user-prefix U --users K --password P --connections C --seconds D
//!                                 C connections sign in with correct passwords for D s
//!   flood --addr A --user-prefix U --users K --password P --connections C
//!                                 C connections each send one sign-in at the same moment
//!   attack --addr A --pid PID --names N --attempts M --connections C
//!          --user-prefix U --users K --password P [--legit-connections L]
//!                                 M wrong passwords over N unknown names while L
//!                                 connections sign in correctly; samples the server's RSS
//!   startup --bin B --config F --addr A [--idle-ms MS]
//!                                 exec `B --config F serve`, time until /healthz answers,
//!                                 then read its memory after MS idle milliseconds
//!   refresh --addr A --pid PID --user U --password P --client-id ID --secret S
//!           --redirect-uri R --tokens N --connections C --seconds D
//!                                 sign U in, get N refresh tokens through the
//!                                 authorization code flow (RssAnon before and
//!                                 after), then C connections refresh them for D s
//!   mail --bin B --config F --addr A --port P [--idle-ms MS] [--drain N]
//!                                 idle CPU and memory of `B --config F serve` with its
//!                                 outbox as it is; with N, the time to deliver N
//!                                 messages to an SMTP sink on P
//!   lock --addr A --users U1,U2,... [--attempts N]
//!                                 wrong passwords for each account until it is locked
//!                                 (403), at most N (default 10) each
//!   console --addr A (--cookie C | --user U --password P) --path P --requests N
//!           [--warmup W] [--expect TEXT] [--pid PID]
//!                                 N sequential GETs of P on one keep-alive connection
//!                                 (after W unmeasured ones), each must answer 200 (and
//!                                 contain TEXT); latency percentiles, the count a console
//!                                 list reports, and the server's RssAnon before and after

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, ExitCode, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{HeaderMap, Request, StatusCode, header};
use hyper_util::rt::TokioIo;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Upper bound on any single connect or request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound on a whole subcommand's load phase beyond its nominal length.
const PHASE_LIMIT: Duration = Duration::from_secs(600);
/// How often the attack samples the server's resident set.
const RSS_EVERY: Duration = Duration::from_millis(20);

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("usage: latchkey-bench-load COMMAND [--key value]...");
        return ExitCode::from(2);
    };
    let args = match Args::parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("latchkey-bench-load: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "free-port" => free_port(),
        "hash" => hash(&args),
        "wait" | "status" | "session" | "login" | "flood" | "attack" | "startup" | "mail"
        | "refresh" | "lock" | "console" => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("latchkey-bench-load: no runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async {
                match command.as_str() {
                    "wait" => wait(&args).await,
                    "status" => status(&args).await,
                    "session" => session(&args).await,
                    "login" => login(&args).await,
                    "flood" => flood(&args).await,
                    "attack" => attack(&args).await,
                    "mail" => mail(&args).await,
                    "refresh" => refresh(&args).await,
                    "lock" => lock(&args).await,
                    "console" => console(&args).await,
                    _ => startup(&args).await,
                }
            })
        }
        other => Err(format!("unknown command {other}").into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkey-bench-load {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--key value` pairs.
struct Args(BTreeMap<String, String>);

impl Args {
    fn parse(rest: &[String]) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        let mut it = rest.iter();
        while let Some(key) = it.next() {
            let Some(name) = key.strip_prefix("--") else {
                return Err(format!("expected --key, got {key}"));
            };
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            map.insert(name.to_owned(), value.clone());
        }
        Ok(Self(map))
    }

    fn get<T: FromStr>(&self, key: &str) -> Result<T, Error> {
        let raw = self
            .0
            .get(key)
            .ok_or_else(|| format!("--{key} is required"))?;
        raw.parse()
            .map_err(|_| format!("--{key}: cannot parse {raw:?}").into())
    }

    fn get_or<T: FromStr>(&self, key: &str, default: T) -> Result<T, Error> {
        if self.0.contains_key(key) {
            self.get(key)
        } else {
            Ok(default)
        }
    }

    fn addr(&self) -> Result<SocketAddr, Error> {
        let addr: SocketAddr = self.get("addr")?;
        if !addr.ip().is_loopback() {
            return Err(format!("--addr {addr} is not a loopback address").into());
        }
        Ok(addr)
    }
}

fn free_port() -> Result<(), Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    Ok(())
}

/// The parameters latchkey's `auth::hasher::argon2()` uses.
fn argon2() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(19 * 1024, 2, 1, None).expect("valid parameters");
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

fn hash(args: &Args) -> Result<(), Error> {
    use argon2::password_hash::PasswordHasher;
    let iterations: usize = args.get_or("iterations", 31)?;
    let hasher = argon2();
    // Warm up: page in the memory and let the CPU settle.
    for _ in 0..3 {
        let _ = hasher.hash_password(b"Kettle-Blue-42x")?;
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        let phc = hasher.hash_password(b"Kettle-Blue-42x")?;
        times.push(start.elapsed());
        std::hint::black_box(phc);
    }
    times.sort();
    println!("iterations={}", times.len());
    println!("t_hash_ms={:.3}", ms(percentile(&times, 0.5)));
    println!("t_hash_min_ms={:.3}", ms(times[0]));
    println!("t_hash_max_ms={:.3}", ms(times[times.len() - 1]));

    // The same hash into one buffer allocated once, as latchkey's hashing
    // threads compute it.
    let mut reused = hash_reused(iterations)?;
    reused.sort();
    println!("t_hash_reused_ms={:.3}", ms(percentile(&reused, 0.5)));

    // One hash per core at the same time, as a full pool computes them: they
    // share the last-level cache and memory bandwidth, which one alone does not.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers: Vec<_> = (0..cores)
        .map(|_| std::thread::spawn(move || hash_reused(iterations)))
        .collect();
    let mut together = Vec::new();
    for w in workers {
        together.extend(w.join().map_err(|_| "a hashing thread panicked")??);
    }
    together.sort();
    println!("t_hash_together_ms={:.3}", ms(percentile(&together, 0.5)));
    Ok(())
}

/// Times `iterations` hashes (after 3 to warm up) into one buffer allocated once.
fn hash_reused(iterations: usize) -> Result<Vec<Duration>, argon2::Error> {
    let hasher = argon2();
    let mut blocks = vec![argon2::Block::new(); hasher.params().block_count()];
    let mut out = [0u8; 32];
    let salt = *b"latchkey-bench-salt!";
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations.max(1) + 3 {
        let start = Instant::now();
        hasher.hash_password_into_with_memory(b"Kettle-Blue-42x", &salt, &mut out, &mut blocks)?;
        if i >= 3 {
            times.push(start.elapsed());
        }
        std::hint::black_box(out);
    }
    Ok(times)
}

/// One HTTP/1.1 keep-alive connection.
struct Conn {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Self, Error> {
        let stream =
            tokio::time::timeout(REQUEST_TIMEOUT, tokio::net::TcpStream::connect(addr)).await??;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { addr, sender })
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<String>,
    ) -> Result<Reply, Error> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.addr.to_string());
        if let Some(c) = cookie {
            builder = builder.header(header::COOKIE, c);
        }
        let body = match form {
            Some(f) => {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(f))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(body)?;
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, Error>(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange).await?
    }
}

impl Reply {
    /// `name=value` of the `Set-Cookie` for `name`, if any.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| {
                pair.split_once('=')
                    .is_some_and(|(n, v)| n == name && !v.is_empty())
            })
            .map(str::to_owned)
    }

    fn signed_in(&self) -> bool {
        self.status == StatusCode::SEE_OTHER && self.cookie("latchkey_session").is_some()
    }
}

/// The anonymous cookie and CSRF token of one login page.
struct LoginForm {
    cookie: String,
    token: String,
}

impl LoginForm {
    async fn fetch(conn: &mut Conn) -> Result<Self, Error> {
        let page = conn.send("GET", "/login", None, None).await?;
        if page.status != StatusCode::OK {
            return Err(format!("GET /login answered {}", page.status).into());
        }
        let cookie = page
            .cookie("latchkey_anon")
            .ok_or("GET /login set no latchkey_anon cookie")?;
        let html = String::from_utf8_lossy(&page.body);
        let marker = "name=\"csrf_token\" value=\"";
        let start = html.find(marker).ok_or("no csrf_token on the login page")? + marker.len();
        let len = html[start..].find('"').ok_or("unterminated csrf_token")?;
        Ok(Self {
            cookie,
            token: html[start..start + len].to_owned(),
        })
    }

    fn body(&self, user: &str, password: &str) -> String {
        format!(
            "username={}&password={}&csrf_token={}",
            encode(user),
            encode(password),
            encode(&self.token)
        )
    }

    async fn sign_in(&self, conn: &mut Conn, user: &str, password: &str) -> Result<Reply, Error> {
        conn.send(
            "POST",
            "/login",
            Some(&self.cookie),
            Some(self.body(user, password)),
        )
        .await
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p` quantile (nearest rank) of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn statuses_line(statuses: &BTreeMap<u16, usize>) -> String {
    let parts: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}:{n}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(",")
    }
}

async fn wait(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let seconds: f64 = args.get_or("seconds", 30.0)?;
    let path: String = args.get_or("path", "/healthz".to_owned())?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    loop {
        if let Ok(mut conn) = Conn::open(addr).await
            && let Ok(r) = conn.send("GET", &path, None, None).await
            && r.status == StatusCode::OK
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{addr}{path} did not answer 200 within {seconds} s").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn status(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let path: String = args.get("path")?;
    let cookie: Option<String> = args.0.get("cookie").cloned();
    let mut conn = Conn::open(addr).await?;
    let reply = conn.send("GET", &path, cookie.as_deref(), None).await?;
    println!("{}", reply.status.as_u16());
    Ok(())
}

async fn session(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let user: String = args.get("user")?;
    let password: String = args.get("password")?;
    let mut conn = Conn::open(addr).await?;
    let cookie = session_cookie(&mut conn, &user, &password).await?;
    println!("{cookie}");
    Ok(())
}

/// Signs `user` in on `conn` and checks the session with `GET /`: its cookie.
async fn session_cookie(conn: &mut Conn, user: &str, password: &str) -> Result<String, Error> {
    let form = LoginForm::fetch(conn).await?;
    let reply = form.sign_in(conn, user, password).await?;
    let cookie = reply
        .cookie("latchkey_session")
        .filter(|_| reply.status == StatusCode::SEE_OTHER)
        .ok_or_else(|| format!("sign-in as {user} answered {}", reply.status))?;
    let home = conn.send("GET", "/", Some(&cookie), None).await?;
    if home.status != StatusCode::OK {
        return Err(format!("GET / with the new session answered {}", home.status).into());
    }
    Ok(cookie)
}

/// What one load task saw.
#[derive(Default)]
struct Tally {
    ok: usize,
    failed: usize,
    errors: usize,
    statuses: BTreeMap<u16, usize>,
    latencies: Vec<Duration>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.errors += other.errors;
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.latencies.extend(other.latencies);
    }

    fn record(
        &mut self,
        started: Instant,
        reply: Result<Reply, Error>,
        want: impl Fn(&Reply) -> bool,
    ) -> bool {
        match reply {
            Ok(r) => {
                self.latencies.push(started.elapsed());
                *self.statuses.entry(r.status.as_u16()).or_default() += 1;
                if want(&r) {
                    self.ok += 1;
                } else {
                    self.failed += 1;
                }
                true
            }
            Err(_) => {
                self.errors += 1;
                self.failed += 1;
                false
            }
        }
    }

    fn print(&mut self, prefix: &str) {
        self.latencies.sort();
        println!("{prefix}ok={}", self.ok);
        println!("{prefix}failed={}", self.failed);
        println!("{prefix}errors={}", self.errors);
        println!("{prefix}statuses={}", statuses_line(&self.statuses));
        println!("{prefix}p50_ms={:.2}", ms(percentile(&self.latencies, 0.5)));
        println!(
            "{prefix}p99_ms={:.2}",
            ms(percentile(&self.latencies, 0.99))
        );
        println!(
            "{prefix}max_ms={:.2}",
            ms(self.latencies.last().copied().unwrap_or_default())
        );
    }
}

struct Accounts {
    prefix: String,
    count: usize,
    password: String,
}

impl Accounts {
    fn from(args: &Args) -> Result<Self, Error> {
        Ok(Self {
            prefix: args.get("user-prefix")?,
            count: args.get::<usize>("users")?.max(1),
            password: args.get("password")?,
        })
    }

    fn name(&self, i: usize) -> String {
        format!("{}{}", self.prefix, i % self.count)
    }
}

/// A connection with a login form, ready to sign in.
async fn ready(addr: SocketAddr) -> Result<(Conn, LoginForm), Error> {
    let mut conn = Conn::open(addr).await?;
    let form = LoginForm::fetch(&mut conn).await?;
    Ok((conn, form))
}

/// Sign-ins with correct passwords until `stop`, reconnecting after an error.
async fn sign_in_until(
    addr: SocketAddr,
    mut conn: Conn,
    form: LoginForm,
    user: String,
    password: String,
    deadline: Instant,
    stop: Option<Arc<AtomicBool>>,
) -> Tally {
    let mut tally = Tally::default();
    let hard_stop = deadline + PHASE_LIMIT;
    while Instant::now() < deadline.min(hard_stop)
        && !stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed))
    {
        let started = Instant::now();
        let reply = form.sign_in(&mut conn, &user, &password).await;
        if !tally.record(started, reply, Reply::signed_in) {
            match Conn::open(addr).await {
                Ok(c) => conn = c,
                Err(_) => break,
            }
        }
    }
    tally
}

async fn login(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let accounts = Accounts::from(args)?;
    let connections: usize = args.get("connections")?;
    let seconds: f64 = args.get("seconds")?;
    let mut prepared = Vec::new();
    for i in 0..connections {
        prepared.push((ready(addr).await?, accounts.name(i)));
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for ((conn, form), user) in prepared {
        let password = accounts.password.clone();
        tasks.push(tokio::spawn(sign_in_until(
            addr, conn, form, user, password, deadline, None,
        )));
    }
    let mut total = Tally::default();
    for t in tasks {
        total.merge(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("connections={connections}");
    println!("elapsed_s={elapsed:.3}");
    println!("rps={:.2}", total.ok as f64 / elapsed);
    total.print("");
    Ok(())
}

async fn flood(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let accounts = Arc::new(Accounts::from(args)?);
    let connections: usize = args.get("connections")?;
    let barrier = Arc::new(tokio::sync::Barrier::new(connections));
    let mut tasks = Vec::new();
    for i in 0..connections {
        let barrier = barrier.clone();
        let accounts = accounts.clone();
        tasks.push(tokio::spawn(async move {
            let prepared = ready(addr).await;
            // Every task reaches the barrier, prepared or not, so none waits forever.
            barrier.wait().await;
            let mut tally = Tally::default();
            match prepared {
                Ok((mut conn, form)) => {
                    let started = Instant::now();
                    let reply = form
                        .sign_in(&mut conn, &accounts.name(i), &accounts.password)
                        .await;
                    tally.record(started, reply, Reply::signed_in);
                }
                Err(_) => {
                    tally.errors += 1;
                    tally.failed += 1;
                }
            }
            tally
        }));
    }
    let started = Instant::now();
    let mut total = Tally::default();
    for t in tasks {
        total.merge(tokio::time::timeout(PHASE_LIMIT, t).await??);
    }
    println!("connections={connections}");
    println!("elapsed_s={:.3}", started.elapsed().as_secs_f64());
    println!(
        "busy_503={}",
        total.statuses.get(&503).copied().unwrap_or(0)
    );
    total.print("");
    Ok(())
}

/// The string value of `"key":"..."` in a flat JSON object (tokens are
/// base64url and JWTs: no escapes to undo).
fn json_string(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let marker = format!("\"{key}\":\"");
    let start = text.find(&marker)? + marker.len();
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_owned())
}

/// The OAuth client `refresh` acts as.
struct OAuthClient {
    id: String,
    secret: String,
    redirect_uri: String,
}

impl OAuthClient {
    fn credentials(&self) -> String {
        format!(
            "client_id={}&client_secret={}",
            encode(&self.id),
            encode(&self.secret)
        )
    }

    /// One authorization code flow with a signed-in session: its refresh token.
    async fn grant(&self, conn: &mut Conn, cookie: &str) -> Result<String, Error> {
        let path = format!(
            "/oauth2/authorize?response_type=code&scope=openid%20profile&client_id={}&redirect_uri={}",
            encode(&self.id),
            encode(&self.redirect_uri)
        );
        let reply = conn.send("GET", &path, Some(cookie), None).await?;
        let location = reply
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("authorize answered {} without a Location", reply.status))?;
        let code = location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("code="))
            .ok_or_else(|| format!("no code in {location}"))?
            .to_owned();
        let form = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&{}",
            encode(&self.redirect_uri),
            self.credentials()
        );
        let reply = conn.send("POST", "/oauth2/token", None, Some(form)).await?;
        json_string(&reply.body, "refresh_token")
            .ok_or_else(|| format!("the token endpoint answered {}", reply.status).into())
    }

    fn refresh_form(&self, token: &str) -> String {
        format!(
            "grant_type=refresh_token&refresh_token={token}&{}",
            self.credentials()
        )
    }
}

/// Refreshes `tokens` round-robin until `deadline`, keeping each rotated token.
async fn refresh_until(
    addr: SocketAddr,
    mut conn: Conn,
    client: Arc<OAuthClient>,
    mut tokens: Vec<String>,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let hard_stop = deadline + PHASE_LIMIT;
    let mut i = 0;
    while Instant::now() < deadline.min(hard_stop) && !tokens.is_empty() {
        let slot = i % tokens.len();
        i += 1;
        let started = Instant::now();
        let reply = conn
            .send(
                "POST",
                "/oauth2/token",
                None,
                Some(client.refresh_form(&tokens[slot])),
            )
            .await;
        let fresh = reply
            .as_ref()
            .ok()
            .filter(|r| r.status == StatusCode::OK)
            .and_then(|r| json_string(&r.body, "refresh_token"));
        let ok = fresh.is_some();
        if let Some(t) = fresh {
            tokens[slot] = t;
        }
        if !tally.record(started, reply, |_| ok) {
            match Conn::open(addr).await {
                Ok(c) => conn = c,
                Err(_) => break,
            }
        }
    }
    tally
}

async fn refresh(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let pid: u32 = args.get("pid")?;
    let user: String = args.get("user")?;
    let password: String = args.get("password")?;
    let count: usize = args.get("tokens")?;
    let connections: usize = args.get::<usize>("connections")?.max(1);
    let seconds: f64 = args.get("seconds")?;
    let client = Arc::new(OAuthClient {
        id: args.get("client-id")?,
        secret: args.get("secret")?,
        redirect_uri: args.get("redirect-uri")?,
    });
    let mut conn = Conn::open(addr).await?;
    let form = LoginForm::fetch(&mut conn).await?;
    let reply = form.sign_in(&mut conn, &user, &password).await?;
    let cookie = reply
        .cookie("latchkey_session")
        .ok_or_else(|| format!("sign-in as {user} answered {}", reply.status))?;
    // The first grant makes the signing key; memory is measured after it.
    let mut tokens = vec![client.grant(&mut conn, &cookie).await?];
    let before = memory(pid).ok_or("cannot read the server's memory")?;
    let started = Instant::now();
    while tokens.len() < count {
        tokens.push(client.grant(&mut conn, &cookie).await?);
    }
    let granting = started.elapsed();
    let after = memory(pid).ok_or("cannot read the server's memory")?;
    println!("grants={}", tokens.len());
    println!(
        "grant_ms_each={:.2}",
        ms(granting) / (count.max(2) - 1) as f64
    );
    println!("rss_anon_before_kib={}", before["rss_anon_kib"]);
    println!("rss_anon_after_kib={}", after["rss_anon_kib"]);

    let mut shares: Vec<Vec<String>> = vec![Vec::new(); connections];
    for (i, t) in tokens.into_iter().enumerate() {
        shares[i % connections].push(t);
    }
    let mut prepared = Vec::new();
    for share in shares {
        prepared.push((Conn::open(addr).await?, share));
    }
    let cpu_before = cpu_ticks(pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for (conn, share) in prepared {
        tasks.push(tokio::spawn(refresh_until(
            addr,
            conn,
            client.clone(),
            share,
            deadline,
        )));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!("rps={:.1}", tally.ok as f64 / elapsed);
    if let (Some(a), Some(b)) = (cpu_before, cpu_ticks(pid)) {
        // Clock ticks are 10 ms each.
        println!(
            "cpu_ms_each={:.3}",
            (b - a) as f64 * 10.0 / tally.ok.max(1) as f64
        );
    }
    let end = memory(pid).ok_or("cannot read the server's memory")?;
    println!("rss_anon_end_kib={}", end["rss_anon_kib"]);
    tally.print("");
    Ok(())
}

/// `VmRSS`, `RssAnon`, `RssFile`, `VmHWM` (KiB) of a process.
fn memory(pid: u32) -> Option<BTreeMap<&'static str, u64>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut out = BTreeMap::new();
    for line in status.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let key = match key {
            "VmRSS" => "rss_kib",
            "RssAnon" => "rss_anon_kib",
            "RssFile" => "rss_file_kib",
            "RssShmem" => "rss_shmem_kib",
            "VmHWM" => "hwm_kib",
            _ => continue,
        };
        let kib = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        out.insert(key, kib);
    }
    Some(out)
}

fn rss(pid: u32) -> Option<u64> {
    memory(pid).and_then(|m| m.get("rss_kib").copied())
}

async fn attack(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let pid: u32 = args.get("pid")?;
    let names: usize = args.get::<usize>("names")?.max(1);
    let attempts: usize = args.get("attempts")?;
    let connections: usize = args.get::<usize>("connections")?.max(1);
    let legit_connections: usize = args.get_or("legit-connections", 2)?;
    let accounts = Accounts::from(args)?;
    rss(pid).ok_or("cannot read the server's /proc status")?;

    // Baseline: the median of samples over half a second, before any attempt.
    let mut before = Vec::new();
    for _ in 0..25 {
        before.extend(rss(pid));
        tokio::time::sleep(RSS_EVERY).await;
    }
    before.sort_unstable();
    let rss_before = before[before.len() / 2];

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            let limit = Instant::now() + PHASE_LIMIT;
            while !stop.load(Ordering::Relaxed) && Instant::now() < limit {
                peak = peak.max(rss(pid).unwrap_or(0));
                tokio::time::sleep(RSS_EVERY).await;
            }
            peak.max(rss(pid).unwrap_or(0))
        })
    };

    let mut legit = Vec::new();
    for i in 0..legit_connections {
        let (conn, form) = ready(addr).await?;
        legit.push(tokio::spawn(sign_in_until(
            addr,
            conn,
            form,
            accounts.name(i),
            accounts.password.clone(),
            Instant::now() + PHASE_LIMIT,
            Some(stop.clone()),
        )));
    }

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut attackers = Vec::new();
    for _ in 0..connections {
        let next = next.clone();
        let (mut conn, form) = ready(addr).await?;
        attackers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= attempts || started.elapsed() > PHASE_LIMIT {
                    break;
                }
                let name = format!("nobody-{:05}", i % names);
                let t = Instant::now();
                let reply = form.sign_in(&mut conn, &name, "Wrong-Guess-17z").await;
                // A wrong password on an unknown name is answered 401 (or 403 once locked).
                let answered = tally.record(t, reply, |r| {
                    matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                });
                if !answered {
                    match Conn::open(addr).await {
                        Ok(c) => conn = c,
                        Err(_) => break,
                    }
                }
            }
            tally
        }));
    }
    let mut attack_total = Tally::default();
    for t in attackers {
        attack_total.merge(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut legit_total = Tally::default();
    for t in legit {
        legit_total.merge(t.await?);
    }
    let rss_peak = sampler.await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = rss(pid).unwrap_or(0);

    println!(
        "attempts={}",
        attack_total.latencies.len() + attack_total.errors
    );
    println!("names={names}");
    println!("elapsed_s={elapsed:.3}");
    attack_total.print("attack_");
    legit_total.print("legit_");
    println!("rss_before_kib={rss_before}");
    println!("rss_peak_kib={rss_peak}");
    println!("rss_after_kib={rss_after}");
    println!("rss_growth_kib={}", rss_peak.saturating_sub(rss_before));
    Ok(())
}

async fn startup(args: &Args) -> Result<(), Error> {
    let bin: String = args.get("bin")?;
    let config: String = args.get("config")?;
    let addr = args.addr()?;
    let idle_ms: u64 = args.get_or("idle-ms", 1000)?;
    let log: String = args.get_or("log", "/dev/null".to_owned())?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;

    let started = Instant::now();
    let mut child = Command::new(&bin)
        .args(["--config", &config, "serve"])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let pid = child.id();
    let result = async {
        let deadline = started + REQUEST_TIMEOUT;
        let up = loop {
            if let Some(status) = child.try_wait()? {
                return Err::<_, Error>(format!("the server exited at start: {status}").into());
            }
            if Instant::now() > deadline {
                return Err("/healthz did not answer within 30 s".into());
            }
            if let Ok(mut conn) = Conn::open(addr).await
                && let Ok(r) = conn.send("GET", "/healthz", None, None).await
                && r.status == StatusCode::OK
            {
                break started.elapsed();
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
        tokio::time::sleep(Duration::from_millis(idle_ms)).await;
        let mem = memory(pid).ok_or("cannot read the server's /proc status")?;
        Ok((up, mem))
    }
    .await;

    // Stop the server whatever happened: SIGTERM, then SIGKILL after 10 s.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let stop_deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait()?.is_none() {
        if Instant::now() > stop_deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (up, mem) = result?;
    println!("startup_ms={:.2}", ms(up));
    for (key, kib) in mem {
        println!("{key}={kib}");
    }
    Ok(())
}

/// `mail`: the outbox figures of issue 13. Starts `B --config F serve` (whose
/// `[mail.smtp]` points at 127.0.0.1:PORT), waits IDLE-MS, then samples the
/// server's CPU over the next IDLE-MS and reads its memory. With
/// `--drain N`, it then starts an SMTP sink on PORT, restarts the server (so
/// delivery does not wait out the backoff of the outage) and times until the
/// sink has N messages, with the server's CPU time over that drain.
async fn mail(args: &Args) -> Result<(), Error> {
    let bin: String = args.get("bin")?;
    let config: String = args.get("config")?;
    let addr = args.addr()?;
    let port: u16 = args.get("port")?;
    let idle_ms: u64 = args.get_or("idle-ms", 10_000)?;
    let drain: usize = args.get_or("drain", 0)?;

    let server = Served::start(&bin, &config, addr).await?;
    tokio::time::sleep(Duration::from_millis(idle_ms)).await;
    let before = cpu_ticks(server.pid).ok_or("cannot read the server's /proc stat")?;
    tokio::time::sleep(Duration::from_millis(idle_ms)).await;
    let after = cpu_ticks(server.pid).ok_or("cannot read the server's /proc stat")?;
    let mem = memory(server.pid).ok_or("cannot read the server's /proc status")?;
    server.stop().await;
    let idle_cpu_pct =
        (after - before) as f64 * 1000.0 / CLOCK_TICKS_PER_SEC / idle_ms as f64 * 100.0;
    println!("idle_cpu_pct={idle_cpu_pct:.3}");
    println!(
        "idle_rss_anon_kib={}",
        mem.get("rss_anon_kib").copied().unwrap_or(0)
    );
    if drain == 0 {
        return Ok(());
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let received = Arc::new(AtomicUsize::new(0));
    let sink = tokio::spawn(smtp_sink(listener, received.clone()));
    let started = Instant::now();
    let server = Served::start(&bin, &config, addr).await?;
    let deadline = started + PHASE_LIMIT;
    while received.load(Ordering::SeqCst) < drain && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained = started.elapsed();
    let ticks = cpu_ticks(server.pid).ok_or("cannot read the server's /proc stat")?;
    server.stop().await;
    sink.abort();
    println!("delivered={}", received.load(Ordering::SeqCst));
    println!("drain_ms={:.0}", ms(drained));
    println!(
        "drain_cpu_ms={:.0}",
        ticks as f64 * 1000.0 / CLOCK_TICKS_PER_SEC
    );
    Ok(())
}

/// `USER_HZ` on Linux, the unit of the CPU times in `/proc/PID/stat`.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU time of a process so far, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A server process started for a measurement, stopped with SIGTERM.
struct Served {
    child: std::process::Child,
    pid: u32,
}

impl Served {
    async fn start(bin: &str, config: &str, addr: SocketAddr) -> Result<Served, Error> {
        let child = Command::new(bin)
            .args(["--config", config, "serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        let mut served = Served { child, pid };
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            if let Some(status) = served.child.try_wait()? {
                return Err(format!("the server exited at start: {status}").into());
            }
            if Instant::now() > deadline {
                served.stop().await;
                return Err("/healthz did not answer within 30 s".into());
            }
            if let Ok(mut conn) = Conn::open(addr).await
                && let Ok(r) = conn.send("GET", "/healthz", None, None).await
                && r.status == StatusCode::OK
            {
                return Ok(served);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Accepts SMTP conversations and counts the messages it is given (a
/// minimal ESMTP dialogue: every command answered 250, DATA with 354).
async fn smtp_sink(listener: tokio::net::TcpListener, received: Arc<AtomicUsize>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    while let Ok((stream, _)) = listener.accept().await {
        let received = received.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read);
            let mut line = String::new();
            let mut in_data = false;
            if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                return;
            }
            loop {
                line.clear();
                match tokio::time::timeout(REQUEST_TIMEOUT, lines.read_line(&mut line)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => return,
                }
                let reply: &[u8] = if in_data {
                    if line != ".\r\n" {
                        continue;
                    }
                    in_data = false;
                    received.fetch_add(1, Ordering::SeqCst);
                    b"250 queued\r\n"
                } else {
                    let upper = line.to_ascii_uppercase();
                    if upper.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 OK\r\n"
                    }
                };
                if write.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// `lock`: locks accounts the way a guesser would, with wrong passwords on
/// one connection each, until the login page answers 403 (locked).
async fn lock(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let users: String = args.get("users")?;
    let attempts: usize = args.get_or("attempts", 10)?;
    let mut locked = 0;
    let mut sent = 0;
    let mut statuses = BTreeMap::new();
    for user in users.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let (mut conn, form) = ready(addr).await?;
        for _ in 0..attempts.max(1) {
            let reply = form.sign_in(&mut conn, user, "Wrong-Guess-17z").await?;
            sent += 1;
            *statuses.entry(reply.status.as_u16()).or_insert(0) += 1;
            if reply.status == StatusCode::FORBIDDEN {
                locked += 1;
                break;
            }
        }
    }
    println!("locked={locked}");
    println!("attempts={sent}");
    println!("statuses={}", statuses_line(&statuses));
    Ok(())
}

/// The count a console list page reports (`<p role="status">N accounts.</p>`).
fn listed_total(body: &[u8]) -> Option<usize> {
    let html = std::str::from_utf8(body).ok()?;
    let marker = "role=\"status\">";
    let start = html.find(marker)? + marker.len();
    let digits: String = html[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `console`: the latency of one console page, requested again and again
/// on one keep-alive connection, one request at a time.
async fn console(args: &Args) -> Result<(), Error> {
    let addr = args.addr()?;
    let path: String = args.get("path")?;
    if !path.starts_with('/') {
        return Err(format!("--path {path:?} must start with /").into());
    }
    let requests: usize = args.get::<usize>("requests")?.max(1);
    let warmup: usize = args.get_or("warmup", 0)?;
    let expect: Option<String> = args.0.get("expect").cloned();
    let pid: Option<u32> = match args.0.contains_key("pid") {
        true => Some(args.get("pid")?),
        false => None,
    };
    let mut conn = Conn::open(addr).await?;
    let cookie = match args.0.get("cookie") {
        Some(c) => c.clone(),
        None => {
            let user: String = args.get("user")?;
            let password: String = args.get("password")?;
            session_cookie(&mut conn, &user, &password).await?
        }
    };
    let wanted = |r: &Reply| {
        r.status == StatusCode::OK
            && expect
                .as_ref()
                .is_none_or(|text| String::from_utf8_lossy(&r.body).contains(text.as_str()))
    };
    for _ in 0..warmup {
        let reply = conn.send("GET", &path, Some(&cookie), None).await?;
        if !wanted(&reply) {
            return Err(format!("GET {path} answered {} (warm-up)", reply.status).into());
        }
    }
    let before = match pid {
        Some(pid) => Some(memory(pid).ok_or("cannot read the server's /proc status")?),
        None => None,
    };
    let mut tally = Tally::default();
    let mut last: Option<(usize, Option<usize>)> = None;
    let started = Instant::now();
    for _ in 0..requests {
        if started.elapsed() > PHASE_LIMIT {
            break;
        }
        let t = Instant::now();
        let reply = conn.send("GET", &path, Some(&cookie), None).await;
        if let Ok(r) = &reply {
            last = Some((r.body.len(), listed_total(&r.body)));
        }
        if !tally.record(t, reply, wanted) {
            conn = Conn::open(addr).await?;
        }
    }
    let after = match pid {
        Some(pid) => Some(memory(pid).ok_or("cannot read the server's /proc status")?),
        None => None,
    };
    let first = tally.latencies.first().copied().unwrap_or_default();
    println!("requests={}", tally.latencies.len() + tally.errors);
    println!("warmup={warmup}");
    println!("first_ms={:.2}", ms(first));
    if let Some((bytes, found)) = last {
        println!("bytes={bytes}");
        match found {
            Some(n) => println!("found={n}"),
            None => println!("found=none"),
        }
    }
    tally.print("");
    if let (Some(before), Some(after)) = (before, after) {
        println!("rss_anon_before_kib={}", before["rss_anon_kib"]);
        println!("rss_anon_after_kib={}", after["rss_anon_kib"]);
        println!("rss_before_kib={}", before["rss_kib"]);
        println!("rss_after_kib={}", after["rss_kib"]);
    }
    Ok(())
}
