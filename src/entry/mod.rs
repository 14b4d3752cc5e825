//! What a bundle runs: the entry point located in the distributions (`point.rs`), the scripts a
//! distribution installs and the commands of a multi-call bundle (`script.rs`), and here the
//! launch step of a build that ties them together: the entry (an entry point or a script) and,
//! with `--multicall`, the commands; the distributions extracted because a script of theirs is
//! executed from the cache; and the `__main__.py` literals and manifest entries of what the
//! bundle runs once the distributions are placed. Nothing here prints but the warning of a
//! command left out (`script::commands`).

mod point;
pub mod script;

pub use point::{EntryError, Located, locate};

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;

use crate::analyze::{self, Analyzed, Reason};
use crate::config::{BuildPlan, Overrides};
use crate::layout::main::EntryLiteral;

use crate::install::InstalledDist;
use crate::layout::EntryInfo;
use crate::name::normalize_name;
use crate::pack::Placed;
use script::{Command, Launch, Script};

/// What the bundle runs, before the distributions are placed.
pub struct Launched {
    /// The entry of the bundle.
    pub entry: Launch,
    /// Every script the distributions install.
    pub scripts: Vec<Script>,
    /// The commands of a multi-call bundle (empty without `--multicall`).
    pub commands: Vec<Command>,
    /// The distributions extracted only because a script of theirs is executed from the cache:
    /// normalised name → the script's name.
    forced: BTreeMap<String, String>,
}

/// The `__main__.py` literals and the manifest entries of the entry and the commands.
pub struct Literals {
    /// The entry's `ENTRY` literal.
    pub main_entry: EntryLiteral,
    /// The entry's manifest record.
    pub entry: EntryInfo,
    /// The commands' `COMMANDS` literals, by name.
    pub main_commands: Vec<(String, EntryLiteral)>,
    /// The commands' manifest records, by name.
    pub commands: BTreeMap<String, EntryInfo>,
}

/// Finds the entry and the commands, and makes the scripts they run part of their
/// distributions (see [`script::attach`]).
pub fn prepare(plan: &BuildPlan, dists: &mut Vec<InstalledDist>) -> Result<Launched> {
    let mut scripts = script::collect(dists, &plan.site_packages)?;
    let entry = script::locate_entry(&plan.entry, dists, &scripts)?;
    let commands = if plan.multicall {
        script::commands(dists, &scripts)?
    } else {
        Vec::new()
    };
    let used: BTreeSet<usize> = std::iter::once(&entry)
        .chain(commands.iter().map(|c| &c.launch))
        .filter_map(|l| match l {
            Launch::Script(i) => Some(*i),
            Launch::EntryPoint(_) => None,
        })
        .collect();
    script::attach(dists, &mut scripts, &used);
    let forced = script::extraction_needed(dists, &scripts, &used);
    Ok(Launched {
        entry,
        scripts,
        commands,
        forced,
    })
}

impl Launched {
    /// Returns the entry point when the entry is one (not a script).
    pub fn entry_point(&self) -> Option<&Located> {
        match &self.entry {
            Launch::EntryPoint(located) => Some(located),
            Launch::Script(_) => None,
        }
    }

    /// Returns the entry's manifest record, with the script's path as installed (`bin/NAME`)
    /// for a script, before the distributions are placed.
    pub fn info(&self) -> EntryInfo {
        match &self.entry {
            Launch::EntryPoint(located) => located.info.clone(),
            Launch::Script(i) => script::script_entry(&self.scripts[*i], "").1,
        }
    }

    /// Decides zip or extract with the distributions whose scripts are executed from the cache
    /// added to `--extract`, and gives those a reason that says so.
    pub fn analyze<'a>(
        &self,
        dists: &'a [InstalledDist],
        user: &Overrides,
    ) -> Result<Analyzed<'a>> {
        let mut overrides = user.clone();
        overrides.extract.extend(self.forced.keys().cloned());
        let mut analyzed = analyze::decide_all(dists, &overrides)?;
        for (dist, decision) in &mut analyzed.decisions {
            let name = normalize_name(&dist.name);
            if let Some(script) = self.forced.get(&name)
                && decision.reason == Reason::ExtractFlag
                && !user.extract.contains(&name)
            {
                decision.reason = Reason::ScriptExecuted(script.clone());
            }
        }
        Ok(analyzed)
    }

    /// Returns the scripts of `dist` (one of `dists`, the distributions the entry was prepared
    /// with) that the entry or a multi-call command executes from the cache, by path relative
    /// to its root.
    pub fn executed_scripts(
        &self,
        dists: &[InstalledDist],
        dist: &InstalledDist,
    ) -> BTreeSet<String> {
        std::iter::once(&self.entry)
            .chain(self.commands.iter().map(|c| &c.launch))
            .filter_map(|launch| match launch {
                Launch::Script(i) => Some(&self.scripts[*i]),
                Launch::EntryPoint(_) => None,
            })
            .filter(|s| s.kind.needs_extraction())
            .filter(|s| s.owner.is_some_and(|o| std::ptr::eq(&dists[o], dist)))
            .map(|s| s.rel.clone())
            .collect()
    }

    /// Returns the literals and manifest entries of the entry and the commands.
    pub fn literals(&self, placed: &[Placed<'_>]) -> Literals {
        let (main_entry, entry) = self.literal(&self.entry, placed);
        let mut main_commands = Vec::new();
        let mut commands = BTreeMap::new();
        for command in &self.commands {
            let (literal, info) = self.literal(&command.launch, placed);
            main_commands.push((command.name.clone(), literal));
            commands.insert(command.name.clone(), info);
        }
        Literals {
            main_entry,
            entry,
            main_commands,
            commands,
        }
    }

    /// Returns the `__main__.py` literal and the manifest entry of `launch`.
    fn literal(&self, launch: &Launch, placed: &[Placed<'_>]) -> (EntryLiteral, EntryInfo) {
        match launch {
            Launch::EntryPoint(located) => {
                let info = located.info.clone();
                (
                    (
                        info.kind.as_str().to_string(),
                        info.module.clone(),
                        info.attr.clone(),
                    ),
                    info,
                )
            }
            Launch::Script(i) => {
                let script = &self.scripts[*i];
                let owner = script
                    .owner
                    .expect("attach gave every used script an owner");
                script::script_entry(script, &placed[owner].archive_dir())
            }
        }
    }
}
