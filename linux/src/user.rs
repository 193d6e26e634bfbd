//! Docker's `User` ("", "uid", "uid:gid", "name", "name:group"), resolved
//! against the container's /etc/passwd and /etc/group, and applied.

use std::io;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    // Docker's wording, so scripts that match on it keep working.
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    /// `--group-add`, as dockerd words it.
    #[error("Unable to find group {0}: no matching entries in group file")]
    NoExtraGroup(String),
    #[error("invalid user {0:?}: expected uid, uid:gid, name or name:group")]
    Invalid(String),
}

/// Who the container's init runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Home directory from passwd ("/" when unknown).
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 4 || l.starts_with('#') {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f.get(5).copied().unwrap_or("/"),
        })
    })
}

/// (name, gid, members)
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || l.starts_with('#') {
            return None;
        }
        let members = f
            .get(3)
            .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// Resolve `spec` with the contents of the container's passwd and group
/// files (empty strings when the files are missing).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser, UserError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if group_part.is_some_and(|g| g.is_empty() || g.contains(':')) {
        return Err(UserError::Invalid(spec.to_string()));
    }
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let (uid, mut gid, name, home) = match user_part.parse::<u32>() {
        Ok(uid) => match passwd_entries(passwd).find(|e| e.uid == uid) {
            Some(e) => (uid, e.gid, Some(e.name.to_string()), e.home.to_string()),
            None => (uid, 0, None, "/".to_string()),
        },
        Err(_) => match passwd_entries(passwd).find(|e| e.name == user_part) {
            Some(e) => (e.uid, e.gid, Some(e.name.to_string()), e.home.to_string()),
            None => return Err(UserError::NoUser(user_part.to_string())),
        },
    };
    let groups = match group_part {
        Some(g) => {
            gid = match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => group_entries(group)
                    .find(|(n, _, _)| *n == g)
                    .map(|(_, id, _)| id)
                    .ok_or_else(|| UserError::NoGroup(g.to_string()))?,
            };
            vec![gid]
        }
        None => {
            let mut gs = vec![gid];
            if let Some(name) = &name {
                for (_, id, members) in group_entries(group) {
                    if members.contains(&name.as_str()) && !gs.contains(&id) {
                        gs.push(id);
                    }
                }
            }
            gs
        }
    };
    Ok(ExecUser {
        uid,
        gid,
        groups,
        home: if home.is_empty() {
            "/".to_string()
        } else {
            home
        },
    })
}

/// setgroups, setgid, setuid, in that order (each needs the privileges the
/// next one drops).
/// `--group-add`: each a number, or a group name in the container's
/// /etc/group. Docker (runc) refuses a name it cannot find.
pub fn resolve_groups(names: &[String], group: &str) -> Result<Vec<u32>, UserError> {
    names
        .iter()
        .map(|g| match g.parse::<u32>() {
            Ok(n) => Ok(n),
            Err(_) => group_entries(group)
                .find(|(name, _, _)| name == g)
                .map(|(_, gid, _)| gid)
                .ok_or_else(|| UserError::NoExtraGroup(g.clone())),
        })
        .collect()
}

/// Add `extra` to the user's supplementary groups (once each).
pub fn add_groups(u: &mut ExecUser, extra: &[u32]) {
    for g in extra {
        if !u.groups.contains(g) {
            u.groups.push(*g);
        }
    }
}

pub fn switch_to(u: &ExecUser) -> io::Result<()> {
    use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
    let groups: Vec<Gid> = u.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    // Rootless with a single-id map the kernel denies setgroups for good
    // (it could drop a group that guards a file); there are no other
    // groups to join then anyway.
    if !super::userns::setgroups_denied() {
        setgroups(&groups)?;
    }
    setgid(Gid::from_raw(u.gid))?;
    setuid(Uid::from_raw(u.uid))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        nobody:x:65534:65534:nobody:/home:/bin/false\n\
        app:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root,app\nstaff:x:50:app\napp:x:1000:\n\
        nogroup:x:65534:\n";

    #[test]
    fn extra_groups_by_name_or_number() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            resolve_groups(&v(&["staff", "4242", "wheel"]), GROUP),
            Ok(vec![50, 4242, 10])
        );
        assert_eq!(
            resolve_groups(&v(&["nosuch"]), GROUP),
            Err(UserError::NoExtraGroup("nosuch".into()))
        );
        let mut u = resolve("", PASSWD, GROUP).unwrap();
        add_groups(&mut u, &[10, 50]);
        assert_eq!(u.groups, vec![0, 10, 50]);
    }

    #[test]
    fn empty_is_root_with_member_groups() {
        let u = resolve("", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.groups, vec![0, 10]);
    }

    #[test]
    fn names_and_numbers() {
        let u = resolve("app", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1000));
        assert_eq!(u.groups, vec![1000, 10, 50]);
        let u = resolve("nobody:staff", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.groups.clone()), (65534, 50, vec![50]));
        let u = resolve("1234:99", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.groups.clone()), (1234, 99, vec![99]));
        let u = resolve("1234", "", "").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1234, 0, "/"));
        let u = resolve("1", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1, 1, "/usr/sbin"));
    }

    #[test]
    fn unknown_names_say_what_is_missing() {
        assert_eq!(
            resolve("ghost", PASSWD, GROUP).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            resolve("app:ghosts", PASSWD, GROUP).unwrap_err(),
            UserError::NoGroup("ghosts".into())
        );
        assert!(matches!(
            resolve("app:", PASSWD, GROUP),
            Err(UserError::Invalid(_))
        ));
    }
}
