//! Where the lab's database is and how to reach it: a `postgres://` URL completed from the
//! environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`,
//! `PGSSLROOTCERT`, `PGPASSFILE`) and `~/.pgpass`, the way libpq does it, and TLS through rustls.
//!
//! The password never leaves this module: [`Target`]'s `Display` (what every message shows) is
//! the URL without it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls};

/// Whether `s` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// A PostgreSQL database to connect to.
#[derive(Clone)]
pub struct Target {
    config: Config,
    root_cert: Option<PathBuf>,
}

impl fmt::Display for Target {
    /// `postgres://user@host:port/db`, never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "postgres://{}@{}/{}", self.user(), self.host(), self.dbname())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Target {
    /// Parses a `postgres://` URL and fills what it leaves out from the environment and
    /// `.pgpass`. libpq's `sslrootcert` parameter is understood; `sslmode=verify-ca` and
    /// `verify-full` are accepted as `require` (the server's certificate is always verified).
    pub fn parse(url: &str) -> Result<Target> {
        let shown = redact(url);
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut root_cert = env("PGSSLROOTCERT").map(PathBuf::from);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslrootcert", v)) => root_cert = Some(PathBuf::from(v)),
                Some(("sslmode", "verify-ca" | "verify-full")) => kept.push("sslmode=require"),
                _ => kept.push(pair),
            }
        }
        let url =
            if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        let mut config = Config::from_str(&url)
            .map_err(|e| anyhow::anyhow!("{shown}: not a usable PostgreSQL URL: {e}"))?;
        let sslmode_in_url = kept.iter().any(|p| p.starts_with("sslmode="));
        if config.get_hosts().is_empty() {
            config.host(&env("PGHOST").unwrap_or_else(|| "localhost".into()));
        }
        if config.get_ports().is_empty()
            && let Some(port) = env("PGPORT")
        {
            config.port(port.parse().with_context(|| format!("PGPORT={port:?} is not a port"))?);
        }
        if config.get_user().is_none() {
            let user = env("PGUSER").or_else(|| env("USER")).unwrap_or_else(|| "postgres".into());
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let db = env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or("").into());
            config.dbname(&db);
        }
        if !sslmode_in_url && let Some(mode) = env("PGSSLMODE") {
            config.ssl_mode(match mode.as_str() {
                "disable" => SslMode::Disable,
                "allow" | "prefer" => SslMode::Prefer,
                "require" | "verify-ca" | "verify-full" => SslMode::Require,
                other => bail!("PGSSLMODE={other:?}: expected disable, prefer, require, verify-ca or verify-full"),
            });
        }
        let mut target = Target { config, root_cert };
        if target.config.get_password().is_none() {
            if let Some(p) = env("PGPASSWORD") {
                target.config.password(p);
            } else if let Some(p) = target.pgpass_password() {
                target.config.password(p);
            }
        }
        target.config.connect_timeout(Duration::from_secs(10));
        target.config.application_name("joulebench");
        Ok(target)
    }

    fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// `host:port` (or the socket folder) for messages.
    pub fn host(&self) -> String {
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => format!("{h}:{port}"),
            Some(Host::Unix(dir)) => format!("{}:{port}", dir.display()),
            None => format!("localhost:{port}"),
        }
    }

    /// The password `.pgpass` (or `$PGPASSFILE`) holds for this host, port, database and user.
    /// Like libpq, a file others can read is ignored.
    fn pgpass_password(&self) -> Option<String> {
        let file = env("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
        let text = std::fs::read_to_string(&file).ok()?;
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).ok()?.permissions().mode();
            if mode & 0o077 != 0 {
                return None;
            }
        }
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            _ => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432).to_string();
        let want = [host.as_str(), port.as_str(), self.dbname(), self.user()];
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| {
                let fields = split_pgpass(l);
                (fields.len() == 5).then_some(fields)
            })
            .find(|f| f.iter().zip(want).all(|(have, want)| have == "*" || have == want))
            .map(|f| f[4].clone())
    }

    /// Connects, with TLS when the URL or `PGSSLMODE` asks for it (or the server offers it
    /// under the default `prefer`).
    pub fn connect(&self) -> Result<Client> {
        let client = if self.config.get_ssl_mode() == SslMode::Disable {
            self.config.connect(NoTls)
        } else {
            self.config.connect(self.tls()?)
        };
        client.map_err(|e| {
            let hint = if e.to_string().contains("certificate") {
                " (give the CA that signed the server's certificate with sslrootcert=FILE or PGSSLROOTCERT)"
            } else {
                ""
            };
            anyhow::anyhow!("cannot reach the results database at {}: {e}{hint}", self)
        })
    }

    fn tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        match &self.root_cert {
            Some(file) => {
                for cert in rustls_pki_types::CertificateDer::pem_file_iter(file)
                    .with_context(|| format!("cannot read sslrootcert {}", file.display()))?
                {
                    let cert = cert.with_context(|| {
                        format!("sslrootcert {}: not a PEM certificate", file.display())
                    })?;
                    roots.add(cert).with_context(|| {
                        format!("sslrootcert {}: unusable certificate", file.display())
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("rustls refused its own default protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}

/// One `.pgpass` line split on unescaped colons, with `\:` and `\\` unescaped.
fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("one field").push(n);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// `url` with any password replaced by `***`, for messages about a URL that did not parse.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k == "password" => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect::<Vec<_>>()
                .join("&");
            format!("{path}?{query}")
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        let t = Target::parse("postgres://lab:s3cret@db.example:6543/results").unwrap();
        assert_eq!(t.to_string(), "postgres://lab@db.example:6543/results");
        assert_eq!(format!("{t:?}"), "Target(postgres://lab@db.example:6543/results)");
        assert_eq!(
            redact("postgres://lab:s3cret@db.example/results?password=x&sslmode=require"),
            "postgres://lab:***@db.example/results?password=***&sslmode=require"
        );
        let bad = Target::parse("postgres://lab:s3cret@db.example:notaport/x").err().unwrap();
        assert!(!format!("{bad:#}").contains("s3cret"), "{bad:#}");
    }

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        assert_eq!(split_pgpass(r"h:5432:*:u:pa\:ss"), ["h", "5432", "*", "u", "pa:ss"]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "# comment\nother:*:*:*:no\ndb.example:*:results:lab:from-pgpass\n")
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let t = Target {
            config: Config::from_str("postgres://lab@db.example/results").unwrap(),
            root_cert: None,
        };
        // SAFETY-free: the variable is read back by this test alone.
        unsafe { std::env::set_var("PGPASSFILE", &file) };
        assert_eq!(t.pgpass_password().as_deref(), Some("from-pgpass"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(t.pgpass_password(), None, "a file others can read is ignored, as libpq does");
        unsafe { std::env::remove_var("PGPASSFILE") };
    }
}
