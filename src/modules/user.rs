//! `user`: local user accounts (useradd/usermod/userdel): uid, primary and supplementary
//! groups (`append`), shell, home, comment, system accounts, hashed password and locking.

use super::args::Presence;
use std::collections::BTreeSet;

use super::query::{Db, Query};
use super::{Args, CmdRef, Command, Module, ModuleEnv, Observed, Plan, Planner, Probes, Step};
use crate::error::Result;

pub struct User;

const OPTIONS: &[&str] = &[
    "name",
    "state",
    "uid",
    "group",
    "groups",
    "append",
    "shell",
    "home",
    "create_home",
    "createhome",
    "system",
    "comment",
    "password",
    "update_password",
    "password_lock",
    "remove",
    "force",
    "move_home",
    "non_unique",
    "expires",
    "local",
    "generate_ssh_key",
    "ssh_key_bits",
    "ssh_key_type",
    "ssh_key_file",
    "ssh_key_comment",
    "ssh_key_passphrase",
    "skeleton",
    "password_expire_min",
    "password_expire_max",
    "password_expire_warn",
    "password_expire_account_disable",
    "umask",
    "seuser",
    "hidden",
    "login_class",
];

impl Module for User {
    fn path_options(&self) -> &'static [&'static str] {
        &["home", "ssh_key_file"]
    }
    fn name(&self) -> &'static str {
        "user"
    }
    fn options(&self) -> Option<&'static [&'static str]> {
        Some(OPTIONS)
    }
    fn prepare(&self, a: Args, env: &ModuleEnv) -> Result<Box<dyn Planner>> {
        super::file::unsupported(
            &a,
            &[
                "generate_ssh_key",
                "seuser",
                "hidden",
                "login_class",
                "ssh_key_passphrase",
            ],
        )?;
        let groups = match a.get(&["groups"]) {
            None => None,
            Some(_) => Some(a.list(&["groups"])?),
        };
        Ok(Box::new(UserPlan {
            passwd_at: Default::default(),
            groups_at: Default::default(),
            members_at: Default::default(),
            shadow_at: Default::default(),
            ageing_at: None,
            expire_min: a.int(&["password_expire_min"])?,
            expire_max: a.int(&["password_expire_max"])?,
            expire_warn: a.int(&["password_expire_warn"])?,
            expire_inactive: a.int(&["password_expire_account_disable"])?,
            name: a.req_str(&["name"])?,
            present: a.choose(&["state"], Presence::Present)? == Presence::Present,
            uid: a.int(&["uid"])?,
            group: a.str(&["group"])?,
            groups,
            predicted_groups: env.predicted.groups.clone(),
            append: a.bool(&["append"], false)?,
            shell: a.str(&["shell"])?,
            home: a.str(&["home"])?,
            create_home: a.bool(&["create_home", "createhome"], true)?,
            system: a.bool(&["system"], false)?,
            comment: a.str(&["comment"])?,
            password: a.str(&["password"])?,
            update_always: a
                .choice(
                    &["update_password"],
                    &["always", "on_create"],
                    Some("always"),
                )?
                .as_deref()
                == Some("always"),
            password_lock: a.opt_bool(&["password_lock"])?,
            remove: a.bool(&["remove"], false)?,
            force: a.bool(&["force"], false)?,
            move_home: a.bool(&["move_home"], false)?,
            non_unique: a.bool(&["non_unique"], false)?,
            skeleton: a.str(&["skeleton"])?,
        }))
    }
}

struct UserPlan {
    /// Where a probe's answer is (asked in `ask`).
    passwd_at: CmdRef,
    groups_at: CmdRef,
    members_at: Option<CmdRef>,
    shadow_at: Option<CmdRef>,
    /// The shadow entry, for password ageing.
    ageing_at: Option<CmdRef>,
    expire_min: Option<i64>,
    expire_max: Option<i64>,
    expire_warn: Option<i64>,
    expire_inactive: Option<i64>,
    name: String,
    present: bool,
    uid: Option<i64>,
    group: Option<String>,
    groups: Option<Vec<String>>,
    /// Groups earlier tasks of this dry run would create (check mode).
    predicted_groups: std::collections::BTreeSet<String>,
    append: bool,
    shell: Option<String>,
    home: Option<String>,
    create_home: bool,
    system: bool,
    comment: Option<String>,
    password: Option<String>,
    update_always: bool,
    password_lock: Option<bool>,
    remove: bool,
    force: bool,
    move_home: bool,
    non_unique: bool,
    skeleton: Option<String>,
}

/// usermod options with a before/after description.
#[derive(Default)]
struct Changes {
    before: String,
    after: String,
    opts: Vec<String>,
}

impl Changes {
    fn note(&mut self, field: &str, old: &str, new: &str) {
        self.before.push_str(&format!("{field}: {old}\n"));
        self.after.push_str(&format!("{field}: {new}\n"));
    }
    fn change(&mut self, flag: &str, field: &str, old: &str, new: &str) {
        self.note(field, old, new);
        self.opts.push(flag.to_string());
        self.opts.push(new.to_string());
    }
}

fn run(argv: Vec<String>) -> Step {
    Step::Run {
        cmd: Command {
            argv: Some(argv),
            ..Default::default()
        },
        ok_rcs: vec![0],
    }
}

impl UserPlan {
    /// The groups the task names (`groups` and `group`), whose entries are asked for.
    fn named_groups(&self) -> Vec<String> {
        let mut wanted: Vec<String> = self.groups.clone().unwrap_or_default();
        wanted.extend(self.group.iter().cloned());
        wanted
    }

    /// Whether the password hash is asked for (the task sets one, or locks it).
    /// The ageing options as `chage` flags with the shadow field each one is (4: min, 5: max,
    /// 6: warn, 7: inactive).
    fn ageing(&self) -> Vec<(&'static str, usize, i64)> {
        [
            ("-m", 3, self.expire_min),
            ("-M", 4, self.expire_max),
            ("-W", 5, self.expire_warn),
            ("-I", 6, self.expire_inactive),
        ]
        .into_iter()
        .filter_map(|(flag, field, v)| v.map(|v| (flag, field, v)))
        .collect()
    }

    /// `chage` for the ageing options that differ from the shadow entry (`None`: a new
    /// account, every option given).
    fn chage(&self, entry: Option<&str>) -> Option<Vec<String>> {
        let fields: Vec<&str> = entry.map(|e| e.split(':').collect()).unwrap_or_default();
        let mut argv = vec!["chage".to_string()];
        for (flag, field, want) in self.ageing() {
            let have = fields.get(field).and_then(|v| v.parse::<i64>().ok());
            if entry.is_none() || have != Some(want) {
                argv.extend([flag.to_string(), want.to_string()]);
            }
        }
        (argv.len() > 1).then(|| {
            argv.push(self.name.clone());
            argv
        })
    }

    fn reads_shadow(&self) -> bool {
        self.password.is_some() || self.password_lock.is_some()
    }

    /// The output of a probe, or nothing when it was not asked for.
    fn optional(obs: &Observed, at: Option<CmdRef>) -> Result<&str> {
        Ok(match at {
            Some(at) => &obs.cmd(at)?.stdout,
            None => "",
        })
    }
}

impl Planner for UserPlan {
    fn ask(&mut self, p: &mut Probes) {
        self.passwd_at = p.query(Query::Getent {
            db: Db::Passwd,
            keys: vec![self.name.clone()],
        });
        self.groups_at = p.query(Query::GroupNames(self.name.clone()));
        let wanted = self.named_groups();
        if !wanted.is_empty() {
            self.members_at = Some(p.query(Query::Getent {
                db: Db::Group,
                keys: wanted,
            }));
        }
        if self.reads_shadow() {
            self.shadow_at = Some(p.query(Query::ShadowHash(self.name.clone())));
        }
        if !self.ageing().is_empty() {
            self.ageing_at = Some(p.query(Query::ShadowEntry(self.name.clone())));
        }
    }

    fn plan(self: Box<Self>, obs: &Observed) -> Result<Plan> {
        let group_entries = Self::optional(obs, self.members_at)?.to_string();
        let shadow = Self::optional(obs, self.shadow_at)?.trim().to_string();
        let passwd = obs.cmd(self.passwd_at)?.stdout.trim().to_string();
        let exists = !passwd.is_empty();
        let mut plan = Plan::ok().with("name", self.name.as_str());
        let label = format!("user {}", self.name);
        if !self.present {
            if exists {
                let mut argv = vec!["userdel".to_string()];
                if self.remove {
                    argv.push("-r".into());
                }
                if self.force {
                    argv.push("-f".into());
                }
                argv.push(self.name.clone());
                plan.diffs.push(super::Diff::new(
                    &label,
                    "state: present\n",
                    "state: absent\n",
                ));
                plan.step(run(argv));
            }
            return Ok(plan.with("state", "absent"));
        }
        let known_groups: Vec<(String, String)> = group_entries
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 3).then(|| (f[0].to_string(), f[2].to_string()))
            })
            .collect();
        let wanted: Vec<String> = self
            .groups
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|g| !g.is_empty())
            .collect();
        for g in wanted.iter().chain(self.group.iter()) {
            if !known_groups.iter().any(|(n, id)| n == g || id == g)
                && !self.predicted_groups.contains(g)
            {
                return Ok(Plan::fail(format!("Group {g} does not exist")));
            }
        }
        let f: Vec<&str> = passwd.split(':').collect();
        let mut c = Changes::default();
        if !exists {
            let mut argv = vec!["useradd".to_string()];
            if let Some(u) = self.uid {
                argv.extend(["-u".into(), u.to_string()]);
                if self.non_unique {
                    argv.push("-o".into());
                }
            }
            if let Some(g) = &self.group {
                argv.extend(["-g".into(), g.clone()]);
            }
            if !wanted.is_empty() {
                argv.extend(["-G".into(), wanted.join(",")]);
            }
            if let Some(s) = &self.shell {
                argv.extend(["-s".into(), s.clone()]);
            }
            if let Some(c) = &self.comment {
                argv.extend(["-c".into(), c.clone()]);
            }
            if let Some(h) = &self.home {
                argv.extend(["-d".into(), h.clone()]);
            }
            if let Some(k) = &self.skeleton {
                argv.extend(["-k".into(), k.clone()]);
            }
            if let Some(p) = &self.password {
                argv.extend(["-p".into(), p.clone()]);
            }
            if self.system {
                argv.push("-r".into());
            }
            argv.push(if self.create_home {
                "-m".into()
            } else {
                "-M".into()
            });
            argv.push(self.name.clone());
            plan.diffs.push(super::Diff::new(
                &label,
                "state: absent\n",
                format!(
                    "state: present\ngroups: {}\nshell: {}\n",
                    wanted.join(","),
                    self.shell.clone().unwrap_or_default()
                ),
            ));
            plan.step(run(argv));
            plan.predictions.push(super::Prediction::User {
                name: self.name.clone(),
                home: self
                    .home
                    .clone()
                    .unwrap_or_else(|| format!("/home/{}", self.name)),
            });
            if self.password_lock == Some(true) {
                plan.step(run(vec!["usermod".into(), "-L".into(), self.name.clone()]));
            }
            // A new account gets its ageing after useradd, as Ansible's set_password_expire.
            if let Some(argv) = self.chage(None) {
                plan.step(run(argv));
            }
            return Ok(plan.with("state", "present"));
        }
        let (cur_uid, cur_gid, cur_comment, cur_home, cur_shell) = (
            f.get(2).copied().unwrap_or(""),
            f.get(3).copied().unwrap_or(""),
            f.get(4).copied().unwrap_or(""),
            f.get(5).copied().unwrap_or(""),
            f.get(6).copied().unwrap_or(""),
        );
        if let Some(u) = self.uid
            && u.to_string() != cur_uid
        {
            c.change("-u", "uid", cur_uid, &u.to_string());
            if self.non_unique {
                c.opts.push("-o".into());
            }
        }
        if let Some(g) = &self.group {
            let want_gid = known_groups
                .iter()
                .find(|(n, id)| n == g || id == g)
                .map(|(_, id)| id.clone())
                .unwrap_or_default();
            if want_gid != cur_gid {
                c.change("-g", "group", cur_gid, g);
            }
        }
        if self.groups.is_some() {
            let ids: Vec<String> = obs
                .cmd(self.groups_at)?
                .stdout
                .split_whitespace()
                .map(str::to_string)
                .collect();
            // `id -Gn`'s order: the primary group first, whether or not the user is a member
            // of it by name. Ansible compares the groups that list the user as a member, the
            // primary one only when it does (`user_group_membership(exclude_primary=False)`).
            let primary = ids.first().cloned();
            let listed_in_primary = group_entries.lines().any(|l| {
                let f: Vec<&str> = l.split(':').collect();
                f.len() >= 4
                    && Some(f[0]) == primary.as_deref()
                    && f[3].split(',').any(|m| m == self.name)
            });
            let current: BTreeSet<String> = ids
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i > 0 || listed_in_primary)
                .map(|(_, g)| g)
                .collect();
            let want: BTreeSet<String> = wanted.iter().cloned().collect();
            let differs = if self.append {
                !want.is_subset(&current)
            } else {
                want != current
            };
            if differs {
                let new: Vec<String> = if self.append {
                    current.union(&want).cloned().collect()
                } else {
                    want.iter().cloned().collect()
                };
                c.note(
                    "groups",
                    &current.iter().cloned().collect::<Vec<_>>().join(","),
                    &new.join(","),
                );
                if self.append {
                    c.opts.push("-a".into());
                }
                c.opts.push("-G".into());
                c.opts
                    .push(want.iter().cloned().collect::<Vec<_>>().join(","));
            }
        }
        if let Some(s) = &self.shell
            && s != cur_shell
        {
            c.change("-s", "shell", cur_shell, s);
        }
        if let Some(comment) = &self.comment
            && comment != cur_comment
        {
            c.change("-c", "comment", cur_comment, comment);
        }
        if let Some(h) = &self.home
            && h != cur_home
        {
            c.change("-d", "home", cur_home, h);
            if self.move_home {
                c.opts.push("-m".into());
            }
        }
        let cur_hash = shadow.trim_start_matches('!');
        if let Some(p) = &self.password
            && self.update_always
            && p.trim_start_matches('!') != cur_hash
        {
            c.note("password", "(changed)", "(new hash)");
            c.opts.push("-p".into());
            c.opts.push(p.clone());
        }
        match self.password_lock {
            Some(true) if !shadow.starts_with('!') => {
                c.note("locked", "false", "true");
                c.opts.push("-L".into());
            }
            Some(false) if shadow.starts_with('!') => {
                c.note("locked", "true", "false");
                c.opts.push("-U".into());
            }
            _ => {}
        }
        if !c.opts.is_empty() {
            let mut argv = vec!["usermod".to_string()];
            argv.extend(c.opts);
            argv.push(self.name.clone());
            plan.diffs.push(super::Diff::new(&label, c.before, c.after));
            plan.step(run(argv));
        }
        let entry = Self::optional(obs, self.ageing_at)?.trim().to_string();
        if let Some(argv) = self.chage(Some(&entry)) {
            let fields: Vec<&str> = entry.split(':').collect();
            let (mut before, mut after) = (String::new(), String::new());
            for (flag, field, want) in self.ageing() {
                let have = fields.get(field).copied().unwrap_or("");
                if have.parse::<i64>().ok() != Some(want) {
                    let name = match flag {
                        "-m" => "password_expire_min",
                        "-M" => "password_expire_max",
                        "-W" => "password_expire_warn",
                        _ => "password_expire_account_disable",
                    };
                    before.push_str(&format!("{name}: {have}\n"));
                    after.push_str(&format!("{name}: {want}\n"));
                }
            }
            plan.diffs.push(super::Diff::new(&label, before, after));
            plan.step(run(argv));
        }
        Ok(plan
            .with("state", "present")
            .with("uid", cur_uid)
            .with("home", cur_home)
            .with("shell", cur_shell))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Probe;
    use crate::modules::testing::{args, cmd, plan_answers};
    use minijinja::Value;

    fn a() -> Args {
        args(
            "user",
            &[
                ("name", Value::from("boxp")),
                ("shell", Value::from("/bin/bash")),
                ("groups", Value::from("sudo")),
                ("append", Value::from(true)),
            ],
        )
    }

    #[test]
    fn creates_then_converges() {
        let p = plan_answers(
            &User,
            a(),
            vec![cmd(0, ""), cmd(0, ""), cmd(0, "sudo:x:27:\n"), cmd(0, "")],
        );
        let Step::Run { cmd: c, .. } = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            c.argv.as_deref().unwrap(),
            ["useradd", "-G", "sudo", "-s", "/bin/bash", "-m", "boxp"]
        );
        let p = plan_answers(
            &User,
            a(),
            vec![
                cmd(0, "boxp:x:1000:1000::/home/boxp:/bin/bash\n"),
                cmd(0, "boxp sudo\n"),
                cmd(0, "sudo:x:27:boxp\n"),
                cmd(0, ""),
            ],
        );
        assert!(!p.changed, "{p:?}");
        let p = plan_answers(
            &User,
            a(),
            vec![
                cmd(0, "boxp:x:1000:1000::/home/boxp:/bin/sh\n"),
                cmd(0, "boxp\n"),
                cmd(0, "sudo:x:27:\n"),
                cmd(0, ""),
            ],
        );
        let Step::Run { cmd: c, .. } = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            c.argv.as_deref().unwrap(),
            ["usermod", "-a", "-G", "sudo", "-s", "/bin/bash", "boxp"]
        );
    }

    /// Without named groups the password hash is the third probe, not the fourth.
    #[test]
    fn the_password_hash_is_read_where_it_was_asked_for() {
        let with_password = |hash: &str| {
            args(
                "user",
                &[
                    ("name", Value::from("boxp")),
                    ("password", Value::from(hash)),
                ],
            )
        };
        let probes = crate::modules::testing::probes_of(&User, with_password("$6$a"));
        assert_eq!(
            probes[2],
            Probe::Query(Query::ShadowHash("boxp".into())),
            "{probes:?}"
        );
        let answers = || {
            vec![
                cmd(0, "boxp:x:1000:1000::/home/boxp:/bin/sh\n"),
                cmd(0, "boxp\n"),
                cmd(0, "$6$a\n"),
            ]
        };
        assert!(!plan_answers(&User, with_password("$6$a"), answers()).changed);
        assert!(plan_answers(&User, with_password("$6$b"), answers()).changed);
        // Ansible compares hashes without their lock marks: `password: "!"` on an account
        // whose hash is `!` (or `!!`) is no change.
        let locked = || {
            vec![
                cmd(0, "boxp:x:1000:1000::/home/boxp:/bin/sh\n"),
                cmd(0, "boxp\n"),
                cmd(0, "!\n"),
            ]
        };
        assert!(!plan_answers(&User, with_password("!"), locked()).changed);
        assert!(!plan_answers(&User, with_password("!!"), locked()).changed);
        assert!(plan_answers(&User, with_password("$6$a"), locked()).changed);
    }

    /// `group: users, groups: [users]`: once the user is listed as a member of its primary
    /// group, that group is one of its memberships (Ansible's `exclude_primary=False`), so the
    /// second run is unchanged; before, it is added.
    #[test]
    fn a_named_primary_group_counts_once_the_user_is_listed_in_it() {
        let dave = || {
            args(
                "user",
                &[
                    ("name", Value::from("dave")),
                    ("group", Value::from("users")),
                    ("groups", Value::from(vec!["users"])),
                ],
            )
        };
        let answers = |members: &str| {
            vec![
                cmd(0, "dave:x:1001:100::/home/dave:/bin/sh\n"),
                cmd(0, "users\n"),
                cmd(0, &format!("users:x:100:{members}\n")),
            ]
        };
        let p = plan_answers(&User, dave(), answers("dave"));
        assert!(!p.changed, "{p:?}");
        let p = plan_answers(&User, dave(), answers(""));
        let Step::Run { cmd: c, .. } = &p.steps[0] else {
            panic!("{p:?}")
        };
        assert_eq!(
            c.argv.as_deref().unwrap(),
            ["usermod", "-G", "users", "dave"]
        );
    }

    /// `groups:` without `group:`: the primary group (here the user's own, which the task does
    /// not name) is not a supplementary group to remove, so the second run is unchanged.
    #[test]
    fn an_unnamed_primary_group_is_not_a_difference() {
        let alice = || {
            args(
                "user",
                &[
                    ("name", Value::from("alice")),
                    ("groups", Value::from(vec!["developers", "ops"])),
                ],
            )
        };
        let members = "developers:x:1002:alice\nops:x:1003:alice\n";
        let answers = |ids: &str| {
            vec![
                cmd(0, "alice:x:1001:1001::/home/alice:/bin/sh\n"),
                cmd(0, ids),
                cmd(0, members),
                cmd(0, ""),
            ]
        };
        let p = plan_answers(&User, alice(), answers("alice developers ops\n"));
        assert!(!p.changed, "{p:?}");
        let p = plan_answers(&User, alice(), answers("alice developers ops wheel\n"));
        let Step::Run { cmd: c, .. } = &p.steps[0] else {
            panic!()
        };
        assert_eq!(
            c.argv.as_deref().unwrap(),
            ["usermod", "-G", "developers,ops", "alice"]
        );
    }

    /// Password ageing: `chage` with the fields that differ from the shadow entry.
    #[test]
    fn password_ageing_changes_only_what_differs() {
        let a = || {
            args(
                "user",
                &[
                    ("name", Value::from("boxp")),
                    ("password_expire_max", Value::from(90)),
                    ("password_expire_min", Value::from(1)),
                    ("password_expire_warn", Value::from(7)),
                ],
            )
        };
        let answers = |shadow: &str| {
            vec![
                cmd(0, "boxp:x:1000:1000::/home/boxp:/bin/sh\n"),
                cmd(0, "boxp\n"),
                cmd(0, shadow),
            ]
        };
        let p = plan_answers(&User, a(), answers("boxp:$6$x:19000:0:99999:7:::\n"));
        let Step::Run { cmd: c, .. } = &p.steps[0] else {
            panic!("{p:?}")
        };
        assert_eq!(
            c.argv.as_deref().unwrap(),
            ["chage", "-m", "1", "-M", "90", "boxp"]
        );
        assert_eq!(
            p.diffs[0].after,
            "password_expire_min: 1\npassword_expire_max: 90\n"
        );
        let p = plan_answers(&User, a(), answers("boxp:$6$x:19000:1:90:7:::\n"));
        assert!(!p.changed, "{p:?}");
        // A new account: useradd, then every option.
        let p = plan_answers(&User, a(), vec![cmd(0, ""), cmd(0, ""), cmd(0, "")]);
        let Step::Run { cmd: c, .. } = &p.steps[1] else {
            panic!("{p:?}")
        };
        assert_eq!(
            c.argv.as_deref().unwrap(),
            ["chage", "-m", "1", "-M", "90", "-W", "7", "boxp"]
        );
    }

    #[test]
    fn missing_group_fails() {
        let p = plan_answers(
            &User,
            a(),
            vec![cmd(0, ""), cmd(0, ""), cmd(0, ""), cmd(0, "")],
        );
        assert_eq!(p.failed.as_deref(), Some("Group sudo does not exist"));
    }
}
