//! Power settings as experiment axes: apply a power mode, `jetson_clocks`, a cpufreq governor or
//! a maximum CPU clock, read it back, and restore what the board had when the run ends.
//!
//! A run that touches settings first takes a [`Snapshot`] of every knob it will touch and writes
//! it to a **note file** beside the results, before any change. Each experiment then asks for
//! its [`Requested`] settings; every knob it leaves unset goes back to the snapshot's value, so
//! experiments do not inherit each other's settings. When the run ends, fails or is stopped, the
//! [`SettingsGuard`] applies the snapshot again and removes the note. A run killed with SIGKILL
//! leaves the note behind, and the next run restores it before anything else
//! ([`restore_note`]). A signal handler restores every active guard with [`restore_active`].
//!
//! Order of application (and of restoring): power mode (`nvpmodel -m ID`), `jetson_clocks`
//! (pin, or `--restore` what `--store` saved), governor, maximum clock, since a power mode
//! resets the clocks that the later knobs set. Each change is read back and a mismatch is an
//! error. Changes that need root say which file or command and how to run it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::Board;
use crate::command::{CommandError, run};
use crate::settings::{cpufreq_dirs, parse_jetson_clocks_show, parse_nvpmodel_query};

/// What an experiment asks of the board; `None` leaves a knob as the run found it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    /// A Jetson power mode by name (`7W`) or id (`1`).
    pub power_mode: Option<String>,
    /// Pin the clocks at the mode's maximum (`true`) or leave DVFS on (`false`).
    pub jetson_clocks: Option<bool>,
    /// A cpufreq governor for every policy.
    pub governor: Option<String>,
    /// The maximum CPU clock of every policy, kHz.
    pub max_freq_khz: Option<u64>,
}

impl Requested {
    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        *self == Requested::default()
    }

    /// The knobs it touches.
    pub fn knobs(&self) -> Knobs {
        Knobs {
            power_mode: self.power_mode.is_some(),
            jetson_clocks: self.jetson_clocks.is_some(),
            governor: self.governor.is_some(),
            max_freq: self.max_freq_khz.is_some(),
        }
    }

    /// A short label for experiment ids: `7W`, `clocks`, `performance`, `1500000kHz`, joined
    /// with `/`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.power_mode {
            parts.push(m.clone());
        }
        match self.jetson_clocks {
            Some(true) => parts.push("clocks".into()),
            Some(false) => parts.push("dvfs".into()),
            None => {}
        }
        if let Some(g) = &self.governor {
            parts.push(g.clone());
        }
        if let Some(f) = self.max_freq_khz {
            parts.push(format!("{f}kHz"));
        }
        parts.join("/")
    }
}

/// Which knobs a run touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Knobs {
    /// The power mode.
    pub power_mode: bool,
    /// jetson_clocks.
    pub jetson_clocks: bool,
    /// The governors.
    pub governor: bool,
    /// The maximum clocks.
    pub max_freq: bool,
}

impl Knobs {
    /// Both sets of knobs.
    pub fn union(self, o: Knobs) -> Knobs {
        Knobs {
            power_mode: self.power_mode || o.power_mode,
            jetson_clocks: self.jetson_clocks || o.jetson_clocks,
            governor: self.governor || o.governor,
            max_freq: self.max_freq || o.max_freq,
        }
    }

    /// Whether any knob is touched.
    pub fn any(self) -> bool {
        self.power_mode || self.jetson_clocks || self.governor || self.max_freq
    }
}

/// One cpufreq policy's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// `policy0` or `cpu3`.
    pub name: String,
    /// Its folder (under the board's root).
    pub dir: PathBuf,
    /// `scaling_governor`.
    pub governor: Option<String>,
    /// `scaling_max_freq`, kHz.
    pub max_freq_khz: Option<u64>,
}

/// The board's state for the knobs a run touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The knobs it holds.
    pub knobs: Knobs,
    /// The power mode's id.
    pub power_mode: Option<u32>,
    /// Whether the clocks were pinned.
    pub jetson_clocks: Option<bool>,
    /// The cpufreq policies.
    pub policies: Vec<Policy>,
}

/// The note a run leaves while it has settings changed: the board and the settings to put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// The board's root.
    pub root: PathBuf,
    /// Its tools' `PATH`.
    pub path: Option<String>,
    /// What to put back.
    pub snapshot: Snapshot,
}

/// One change made (or, in a dry run, to be made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The setting (`power mode`, `policy0 governor`).
    pub what: String,
    /// Its value before.
    pub from: String,
    /// Its value after.
    pub to: String,
    /// The command or file that changes it.
    pub how: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} -> {} ({})", self.what, self.from, self.to, self.how)
    }
}

const ROOT_FIX: &str = "run joulebench as root (sudo), or leave the setting out of the manifest";

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// The power modes of `/etc/nvpmodel.conf` under the board's root: `(id, name)`.
pub fn nvpmodel_modes(board: &Board) -> Vec<(u32, String)> {
    let Some(conf) = read(&board.file("/etc/nvpmodel.conf")) else { return Vec::new() };
    conf.lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix('<')?.strip_suffix('>')?.trim();
            let rest = l.strip_prefix("POWER_MODEL")?;
            let mut id = None;
            let mut name = None;
            for w in rest.split_whitespace() {
                if let Some(v) = w.strip_prefix("ID=") {
                    id = v.parse().ok();
                } else if let Some(v) = w.strip_prefix("NAME=") {
                    name = Some(v.to_string());
                }
            }
            Some((id?, name?))
        })
        .collect()
}

/// The id of power mode `mode` (a name from `/etc/nvpmodel.conf`, or an id).
pub fn mode_id(board: &Board, mode: &str) -> Result<u32, String> {
    let modes = nvpmodel_modes(board);
    if let Some((id, _)) = modes.iter().find(|(_, n)| n == mode) {
        return Ok(*id);
    }
    if let Ok(id) = mode.parse::<u32>() {
        if modes.is_empty() || modes.iter().any(|(i, _)| *i == id) {
            return Ok(id);
        }
    }
    if modes.is_empty() {
        Err(format!(
            "power mode {mode:?}: {} is missing, so its id is unknown; give the id instead \
             (`nvpmodel -q` prints the current one)",
            board.file("/etc/nvpmodel.conf").display()
        ))
    } else {
        let known: Vec<String> = modes.iter().map(|(i, n)| format!("{n} (id {i})")).collect();
        Err(format!(
            "power mode {mode:?} is not in /etc/nvpmodel.conf; this board has {}",
            known.join(", ")
        ))
    }
}

fn mode_name(board: &Board, id: Option<u32>) -> String {
    match id {
        Some(id) => match nvpmodel_modes(board).into_iter().find(|(i, _)| *i == id) {
            Some((_, n)) => format!("{n} (id {id})"),
            None => format!("id {id}"),
        },
        None => "unknown".into(),
    }
}

fn query_mode(board: &Board) -> Result<u32, String> {
    let reply = run(&["nvpmodel", "-q"], board.path.as_deref()).map_err(|e| match e {
        CommandError::NotFound(m) => format!("{m}: a power mode needs a Jetson with nvpmodel"),
        CommandError::Failed(m) => m,
    })?;
    parse_nvpmodel_query(&reply)
        .and_then(|(_, id)| id)
        .ok_or_else(|| format!("`nvpmodel -q` replied {:?}: no mode id", reply.trim()))
}

fn query_pinned(board: &Board) -> Result<bool, String> {
    let reply = run(&["jetson_clocks", "--show"], board.path.as_deref()).map_err(|e| match e {
        CommandError::NotFound(m) => format!("{m}: jetson_clocks needs a Jetson"),
        CommandError::Failed(m) => format!("{m}; jetson_clocks needs root: {ROOT_FIX}"),
    })?;
    let show = parse_jetson_clocks_show(&reply);
    if show.cpus.is_empty() {
        return Err(format!("`jetson_clocks --show` listed no CPU: {:?}", reply.trim()));
    }
    Ok(show.pinned())
}

/// Reads the state of `knobs` on `board`.
pub fn snapshot(board: &Board, knobs: Knobs) -> Result<Snapshot, String> {
    let mut s = Snapshot { knobs, ..Snapshot::default() };
    if knobs.power_mode {
        s.power_mode = Some(query_mode(board)?);
    }
    if knobs.jetson_clocks {
        s.jetson_clocks = Some(query_pinned(board)?);
    }
    if knobs.governor || knobs.max_freq {
        for (name, dir) in cpufreq_dirs(board) {
            let governor = if knobs.governor { read(&dir.join("scaling_governor")) } else { None };
            let max_freq_khz = if knobs.max_freq {
                read(&dir.join("scaling_max_freq")).and_then(|v| v.parse().ok())
            } else {
                None
            };
            s.policies.push(Policy { name, dir, governor, max_freq_khz });
        }
        if s.policies.is_empty() {
            return Err(format!(
                "no cpufreq policy under {}: this kernel has no CPU frequency scaling to set",
                board.file("/sys/devices/system/cpu/cpufreq").display()
            ));
        }
    }
    Ok(s)
}

/// The full target of `req` on a board whose run started at `original`: every touched knob the
/// request leaves unset goes back to the original.
pub fn target(board: &Board, original: &Snapshot, req: &Requested) -> Result<Snapshot, String> {
    let mut t = original.clone();
    if let Some(mode) = &req.power_mode {
        t.power_mode = Some(mode_id(board, mode)?);
    }
    if let Some(pin) = req.jetson_clocks {
        t.jetson_clocks = Some(pin);
    }
    for p in &mut t.policies {
        if let Some(g) = &req.governor {
            let available = read(&p.dir.join("scaling_available_governors")).unwrap_or_default();
            if !available.is_empty() && !available.split_whitespace().any(|a| a == g) {
                return Err(format!(
                    "governor {g:?} is not available on {} (it offers: {available})",
                    p.name
                ));
            }
            p.governor = Some(g.clone());
        }
        if let Some(f) = req.max_freq_khz {
            let min = read(&p.dir.join("cpuinfo_min_freq")).and_then(|v| v.parse::<u64>().ok());
            let max = read(&p.dir.join("cpuinfo_max_freq")).and_then(|v| v.parse::<u64>().ok());
            if min.is_some_and(|m| f < m) || max.is_some_and(|m| f > m) {
                return Err(format!(
                    "max_freq_khz {f} is outside {}'s range {}-{} kHz",
                    p.name,
                    min.map_or("?".into(), |v| v.to_string()),
                    max.map_or("?".into(), |v| v.to_string())
                ));
            }
            p.max_freq_khz = Some(f);
        }
    }
    Ok(t)
}

/// What applying `target` to a board now in state `now` changes, in order.
pub fn plan(board: &Board, now: &Snapshot, target: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    if target.power_mode != now.power_mode
        && let Some(id) = target.power_mode
    {
        out.push(Change {
            what: "power mode".into(),
            from: mode_name(board, now.power_mode),
            to: mode_name(board, Some(id)),
            how: format!("nvpmodel -m {id}"),
        });
    }
    if target.jetson_clocks != now.jetson_clocks
        && let Some(pin) = target.jetson_clocks
    {
        let word = |b: Option<bool>| match b {
            Some(true) => "pinned",
            Some(false) => "dvfs",
            None => "unknown",
        };
        out.push(Change {
            what: "jetson_clocks".into(),
            from: word(now.jetson_clocks).into(),
            to: word(Some(pin)).into(),
            how: if pin { "jetson_clocks".into() } else { "jetson_clocks --restore".into() },
        });
    }
    for (p, n) in target.policies.iter().zip(&now.policies) {
        if p.governor != n.governor
            && let Some(g) = &p.governor
        {
            out.push(Change {
                what: format!("{} governor", p.name),
                from: n.governor.clone().unwrap_or_else(|| "unknown".into()),
                to: g.clone(),
                how: p.dir.join("scaling_governor").display().to_string(),
            });
        }
    }
    for (p, n) in target.policies.iter().zip(&now.policies) {
        if p.max_freq_khz != n.max_freq_khz
            && let Some(f) = p.max_freq_khz
        {
            out.push(Change {
                what: format!("{} max clock", p.name),
                from: n.max_freq_khz.map_or("unknown".into(), |v| format!("{v} kHz")),
                to: format!("{f} kHz"),
                how: p.dir.join("scaling_max_freq").display().to_string(),
            });
        }
    }
    out
}

fn write_sysfs(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, format!("{value}\n")).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            format!("cannot write {value:?} to {}: {e}; {ROOT_FIX}", path.display())
        } else {
            format!("cannot write {value:?} to {}: {e}", path.display())
        }
    })?;
    let back = read(path).unwrap_or_default();
    if back != value {
        return Err(format!("wrote {value:?} to {}, but it reads back {back:?}", path.display()));
    }
    Ok(())
}

/// Applies `target` to the board, from state `now`, reading every change back. Returns what it
/// changed.
pub fn apply(board: &Board, now: &Snapshot, target: &Snapshot) -> Result<Vec<Change>, String> {
    let changes = plan(board, now, target);
    for c in &changes {
        match c.what.as_str() {
            "power mode" => {
                let id = target.power_mode.unwrap_or_default();
                let arg = id.to_string();
                run(&["nvpmodel", "-m", &arg], board.path.as_deref())
                    .map_err(|e| format!("{e}; setting the power mode needs root: {ROOT_FIX}"))?;
                let got = query_mode(board)?;
                if got != id {
                    return Err(format!(
                        "`nvpmodel -m {id}` ran, but `nvpmodel -q` reports {}",
                        mode_name(board, Some(got))
                    ));
                }
            }
            "jetson_clocks" => {
                let pin = target.jetson_clocks.unwrap_or(false);
                let args: &[&str] =
                    if pin { &["jetson_clocks"] } else { &["jetson_clocks", "--restore"] };
                run(args, board.path.as_deref())
                    .map_err(|e| format!("{e}; jetson_clocks needs root: {ROOT_FIX}"))?;
                if query_pinned(board)? != pin {
                    return Err(format!(
                        "`{}` ran, but `jetson_clocks --show` disagrees",
                        args.join(" ")
                    ));
                }
            }
            _ => {}
        }
    }
    for p in &target.policies {
        let n = now.policies.iter().find(|n| n.dir == p.dir);
        if let Some(g) = &p.governor
            && n.and_then(|n| n.governor.as_ref()) != Some(g)
        {
            write_sysfs(&p.dir.join("scaling_governor"), g)?;
        }
    }
    for p in &target.policies {
        let n = now.policies.iter().find(|n| n.dir == p.dir);
        if let Some(f) = p.max_freq_khz
            && n.and_then(|n| n.max_freq_khz) != Some(f)
        {
            write_sysfs(&p.dir.join("scaling_max_freq"), &f.to_string())?;
        }
    }
    Ok(changes)
}

/// Reads the note at `note`, if a run left one.
pub fn read_note(note: &Path) -> Result<Option<Note>, String> {
    match std::fs::read_to_string(note) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: not a settings note ({e}); delete it after checking the board's settings by hand", note.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", note.display())),
    }
}

/// Restores what a killed run's note holds, then removes the note. Returns what changed.
pub fn restore_note(note: &Path) -> Result<Vec<Change>, String> {
    let Some(n) = read_note(note)? else { return Ok(Vec::new()) };
    let board = Board { root: n.root.clone(), path: n.path.clone() };
    let now = snapshot(&board, n.snapshot.knobs)?;
    let changes = apply(&board, &now, &n.snapshot)
        .map_err(|e| format!("restoring the settings noted in {}: {e}", note.display()))?;
    std::fs::remove_file(note).map_err(|e| format!("cannot remove {}: {e}", note.display()))?;
    Ok(changes)
}

/// The guards active in this process, by note path: what a signal handler restores.
static ACTIVE: Mutex<Vec<(PathBuf, Board, Snapshot)>> = Mutex::new(Vec::new());

/// Restores every active guard's settings (for a Ctrl-C or SIGTERM handler); returns what it
/// changed and the errors it met. Each guard restored here is done: it restores nothing again.
pub fn restore_active() -> (Vec<Change>, Vec<String>) {
    let active = std::mem::take(&mut *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()));
    let mut changes = Vec::new();
    let mut errors = Vec::new();
    for (note, board, original) in active {
        match snapshot(&board, original.knobs).and_then(|now| apply(&board, &now, &original)) {
            Ok(c) => {
                changes.extend(c);
                let _ = std::fs::remove_file(&note);
            }
            Err(e) => errors.push(e),
        }
    }
    (changes, errors)
}

/// The settings of one run: the snapshot taken before any change, the note that records it,
/// and the restore at the end (or when dropped, on any error path).
pub struct SettingsGuard {
    board: Board,
    original: Snapshot,
    note: PathBuf,
    done: bool,
}

impl SettingsGuard {
    /// Takes the snapshot of `knobs` and writes the note, before any change.
    pub fn begin(board: Board, knobs: Knobs, note: PathBuf) -> Result<Self, String> {
        let original = snapshot(&board, knobs)?;
        // `jetson_clocks --restore` puts back what `--store` saved: save the DVFS settings now.
        if original.jetson_clocks == Some(false) {
            run(&["jetson_clocks", "--store"], board.path.as_deref())
                .map_err(|e| format!("{e}; jetson_clocks needs root: {ROOT_FIX}"))?;
        }
        let n =
            Note { root: board.root.clone(), path: board.path.clone(), snapshot: original.clone() };
        if let Some(dir) = note.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&n).map_err(|e| e.to_string())?;
        std::fs::write(&note, text).map_err(|e| format!("cannot write {}: {e}", note.display()))?;
        ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).push((
            note.clone(),
            board.clone(),
            original.clone(),
        ));
        Ok(Self { board, original, note, done: false })
    }

    /// The settings the run found.
    pub fn original(&self) -> &Snapshot {
        &self.original
    }

    /// Applies what an experiment asks (and the original for what it leaves unset).
    pub fn apply(&mut self, req: &Requested) -> Result<Vec<Change>, String> {
        let target = target(&self.board, &self.original, req)?;
        let now = snapshot(&self.board, self.original.knobs)?;
        apply(&self.board, &now, &target)
    }

    /// Puts the original settings back and removes the note.
    pub fn restore(&mut self) -> Result<Vec<Change>, String> {
        self.done = true;
        {
            let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
            let before = active.len();
            active.retain(|(n, _, _)| *n != self.note);
            if active.len() == before {
                // A signal handler restored it already ([`restore_active`]).
                return Ok(Vec::new());
            }
        }
        let now = snapshot(&self.board, self.original.knobs)?;
        let changes = apply(&self.board, &now, &self.original)?;
        std::fs::remove_file(&self.note)
            .map_err(|e| format!("cannot remove {}: {e}", self.note.display()))?;
        Ok(changes)
    }
}

impl Drop for SettingsGuard {
    fn drop(&mut self) {
        if !self.done
            && let Err(e) = self.restore()
        {
            eprintln!(
                "error: could not restore the board's settings: {e}; the note {} says what they were",
                self.note.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_each_axis() {
        let r = Requested {
            power_mode: Some("7W".into()),
            jetson_clocks: Some(true),
            governor: Some("performance".into()),
            max_freq_khz: Some(1_500_000),
        };
        assert_eq!(r.label(), "7W/clocks/performance/1500000kHz");
        assert!(r.knobs().any());
        assert!(Requested::default().is_empty());
        assert!(!Requested::default().knobs().any());
    }
}
