//! A private PostgreSQL cluster for the lab's tests: initdb into a temporary folder, a server
//! on a free 127.0.0.1 port with password authentication, stopped when dropped (a failing test
//! included). PostgreSQL refuses to run as root: under root the cluster runs as `nobody`. When
//! the server programs are missing and the test runs as root, they are installed with apt
//! (Debian's `postgresql` package).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cluster's password: the tests check it never reaches results, provenance or logs.
pub const PASSWORD: &str = "lab-pw-7c1e9a";

/// A running private cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    owner: Option<(u32, u32)>,
}

fn find_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = rd.flatten().map(|v| v.path().join("bin")).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev());
    }
    candidates.into_iter().find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
}

fn server_bin() -> PathBuf {
    if let Some(bin) = find_bin() {
        return bin;
    }
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "PostgreSQL's server programs (initdb, pg_ctl) are missing: install them with \
         `sudo apt-get install -y postgresql` (cargo xtask test does it)"
    );
    for args in [&["update", "-qq"][..], &["install", "-y", "-qq", "postgresql"][..]] {
        let ok = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "apt-get {args:?} failed: install PostgreSQL by hand");
    }
    find_bin().expect("PostgreSQL installed, but no initdb found")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    /// Creates and starts a cluster with superuser `joulebench` (password [`PASSWORD`]).
    pub fn start() -> Cluster {
        let bin = server_bin();
        let dir = tempfile::tempdir().unwrap();
        let owner = (unsafe { libc::geteuid() } == 0).then_some((65534, 65534));
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        let cluster = Cluster { dir, bin, port: free_port(), owner };
        cluster.chown(cluster.dir.path());
        cluster.chown(&pwfile);
        let out = cluster
            .command("initdb")
            .args(["-U", "joulebench", "-E", "UTF8", "--no-sync", "--auth-local=trust"])
            .arg("--auth-host=scram-sha-256")
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(cluster.data())
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        cluster.start_server();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn chown(&self, path: &Path) {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd.current_dir(self.dir.path()).env_remove("PGPASSWORD");
        cmd
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = self.command("pg_ctl").arg("-D").arg(self.data()).args(args).output().unwrap();
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "pg_ctl {args:?} failed: {}\n{log}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again).
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.pg_ctl(&["-w", "-t", "60", "-l", &log, "-o", &options, "start"]);
    }

    /// Stops the server (fast: open connections are cut).
    pub fn stop_server(&self) {
        self.pg_ctl(&["-w", "-m", "fast", "stop"]);
    }

    /// The URL of database `db`, without the password (the tests pass it as `PGPASSWORD`).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://joulebench@127.0.0.1:{}/{db}", self.port)
    }

    /// The URL of database `db` with the password in it.
    pub fn url_with_password(&self, db: &str) -> String {
        format!("postgres://joulebench:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// A connection to database `db`.
    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url_with_password(db), postgres::NoTls).unwrap()
    }

    /// Creates database `db`.
    pub fn create_db(&self, db: &str) {
        self.client("postgres").batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "immediate", "stop"])
            .output();
    }
}
