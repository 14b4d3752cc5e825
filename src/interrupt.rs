//! SIGINT and SIGTERM during a build: what the build has on disk or running is registered here
//! (the staging directory, the temporary output, the output's new parent directories, pip and the
//! compiler), and a signal stops the children, removes the files, prints one line and exits with
//! 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports a process a
//! signal ended.
//!
//! The signals are taken by a thread of their own ([`install`]), so the rest of the build needs no
//! checks: a registration is a guard ([`Guard`]) that unregisters what it names when dropped (the
//! normal end of a stage, or an error, where the owner cleans up itself). A leaf: it imports only
//! [`crate::ui`].

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};

/// One thing to undo on a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A directory removed with everything in it (the staging directory).
    Tree(PathBuf),
    /// A file (the temporary output).
    File(PathBuf),
    /// A directory removed only when empty (a parent created for `-o`).
    EmptyDir(PathBuf),
    /// A child process that leads its own process group ([`own_group`]): the group is sent
    /// SIGINT (pip then removes its temporary directories, as on Ctrl-C), and SIGKILL if it is
    /// still there after [`GRACE`].
    Child(u32),
}

/// How long the children get to exit after SIGINT before they are killed.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

static ITEMS: Mutex<Vec<(u64, Item)>> = Mutex::new(Vec::new());
static NEXT: Mutex<u64> = Mutex::new(0);
static RECEIVED: AtomicBool = AtomicBool::new(false);

/// Unregisters its item when dropped.
#[derive(Debug)]
#[must_use = "the item is unregistered when the guard is dropped"]
pub struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut items) = ITEMS.lock() {
            items.retain(|(id, _)| *id != self.0);
        }
    }
}

fn register(item: Item) -> Guard {
    let id = {
        let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        *next
    };
    ITEMS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((id, item));
    Guard(id)
}

/// Registers a directory to remove with its content.
pub fn tree(path: impl Into<PathBuf>) -> Guard {
    register(Item::Tree(path.into()))
}

/// Registers a file to remove.
pub fn file(path: impl Into<PathBuf>) -> Guard {
    register(Item::File(path.into()))
}

/// Registers a directory to remove if it is empty by then.
pub fn empty_dir(path: impl Into<PathBuf>) -> Guard {
    register(Item::EmptyDir(path.into()))
}

/// Makes the child of `cmd` lead a process group of its own, so that a signal reaches it and its
/// own children (pip's build backends) through the handler, once, and [`child`] can stop them
/// all.
pub fn own_group(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0)
}

/// Registers a child process started with [`own_group`] to stop.
pub fn child(pid: u32) -> Guard {
    register(Item::Child(pid))
}

/// Returns true if and only if a signal arrived: the signal thread is cleaning up and will end
/// the process, so an error the signal caused (pip killed by the same Ctrl-C) is not reported.
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst)
}

/// Waits for the signal thread to end the process (called instead of reporting an error once
/// [`received`] is true).
pub fn wait_for_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// Starts the thread that handles SIGINT and SIGTERM for the rest of the process. Fails only
/// when the handlers cannot be installed.
pub fn install() -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                RECEIVED.store(true, Ordering::SeqCst);
                let removed = undo_all();
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                let what = if removed {
                    "; its staging directory and partial output were removed"
                } else {
                    ""
                };
                crate::ui::print_error(&anyhow::anyhow!(
                    "the build was interrupted by {name}{what}"
                ));
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Stops every registered child, then removes the registered files and directories (newest
/// first). Returns true if and only if something was removed.
fn undo_all() -> bool {
    let items: Vec<Item> = {
        let items = ITEMS.lock().unwrap_or_else(|e| e.into_inner());
        items.iter().rev().map(|(_, item)| item.clone()).collect()
    };
    stop_children(&items);
    let mut removed = false;
    for item in &items {
        removed |= match item {
            Item::Tree(path) => remove_tree(path),
            Item::File(path) => std::fs::remove_file(path).is_ok(),
            Item::EmptyDir(path) => std::fs::remove_dir(path).is_ok(),
            Item::Child(_) => false,
        };
    }
    removed
}

/// Sends SIGINT to the process group of every registered child, waits up to [`GRACE`] for the
/// groups to be gone, then kills what is left.
fn stop_children(items: &[Item]) {
    use nix::sys::signal::{Signal, killpg};
    let groups: Vec<nix::unistd::Pid> = items
        .iter()
        .filter_map(|item| match item {
            Item::Child(pid) => i32::try_from(*pid).ok(),
            _ => None,
        })
        .map(nix::unistd::Pid::from_raw)
        .collect();
    for group in &groups {
        let _ = killpg(*group, Signal::SIGINT);
    }
    let start = std::time::Instant::now();
    while start.elapsed() < GRACE && groups.iter().any(|g| killpg(*g, None).is_ok()) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for group in &groups {
        let _ = killpg(*group, Signal::SIGKILL);
    }
}

/// Removes `path` and everything in it, retrying while the build's other threads (or a child
/// that is still exiting) create files in it.
fn remove_tree(path: &std::path::Path) -> bool {
    for _ in 0..50 {
        match std::fs::remove_dir_all(path) {
            Ok(()) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_unregister_and_undo_removes_what_is_registered() {
        let dir = tempfile::tempdir().unwrap();
        let stage = dir.path().join("stage");
        std::fs::create_dir_all(stage.join("a/b")).unwrap();
        std::fs::write(stage.join("a/b/c"), b"x").unwrap();
        let out = dir.path().join(".app.pyz.tmp");
        std::fs::write(&out, b"x").unwrap();
        let kept = dir.path().join("kept");
        std::fs::write(&kept, b"x").unwrap();
        let _stage = tree(&stage);
        let _out = file(&out);
        drop(file(&kept));
        assert!(undo_all());
        assert!(!stage.exists());
        assert!(!out.exists());
        assert!(kept.exists(), "an unregistered file stays");
    }
}
