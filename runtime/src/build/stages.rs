//! Multi-stage Dockerfiles: the ARGs before the first FROM, the stages
//! (`FROM image [AS name]` and what follows), which stage is the target
//! (`--target`, else the last) and which stages it needs (`FROM <stage>`,
//! `COPY --from=<stage|index>`). Stages the target does not need are not
//! built.

use super::dockerfile::{Dockerfile, Instruction, Kind};
use super::BuildError;

/// One `FROM` and the instructions up to the next.
#[derive(Debug)]
pub struct Stage<'a> {
    /// `AS name`, lower-cased as Docker compares them.
    pub name: Option<String>,
    pub from: &'a Instruction,
    pub instructions: Vec<&'a Instruction>,
}

#[derive(Debug)]
pub struct Plan<'a> {
    /// ARG instructions before the first FROM.
    pub meta_args: Vec<&'a Instruction>,
    pub stages: Vec<Stage<'a>>,
    pub target: usize,
    /// `needed[i]`: stage i is the target or something it uses.
    pub needed: Vec<bool>,
}

/// Split the Dockerfile into stages and work out what the target needs.
/// `subst_meta` substitutes the meta ARGs into a FROM image or a
/// `--from` value.
pub fn plan<'a>(
    df: &'a Dockerfile,
    target: Option<&str>,
    subst_meta: &dyn Fn(&str) -> Result<String, BuildError>,
) -> Result<Plan<'a>, BuildError> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage<'a>> = Vec::new();
    for ins in &df.instructions {
        match (&ins.kind, stages.last_mut()) {
            (Kind::From { alias, .. }, _) => {
                if let Some(a) = alias {
                    if stages.iter().any(|s| s.name.as_deref() == Some(a)) {
                        return Err(BuildError::Invalid(format!(
                            "duplicate name {a:?}: two build stages are named {a} (line {}); give each stage its own name",
                            ins.line
                        )));
                    }
                }
                stages.push(Stage {
                    name: alias.clone(),
                    from: ins,
                    instructions: Vec::new(),
                });
            }
            (_, Some(stage)) => stage.instructions.push(ins),
            (Kind::Arg { .. }, None) => meta_args.push(ins),
            (k, None) => {
                return Err(BuildError::Invalid(format!(
                    "line {}: {} before FROM: only ARG may come before the first FROM",
                    ins.line,
                    k.keyword()
                )))
            }
        }
    }
    if stages.is_empty() {
        return Err(BuildError::Invalid(
            "the Dockerfile has no FROM: nothing to build".into(),
        ));
    }
    let target = match target.filter(|t| !t.is_empty()) {
        None => stages.len() - 1,
        Some(t) => {
            let t = t.to_ascii_lowercase();
            stages
                .iter()
                .position(|s| s.name.as_deref() == Some(t.as_str()))
                .ok_or_else(|| {
                    BuildError::Invalid(format!(
                        "failed to reach build target {t} in Dockerfile: no stage is named {t} (FROM image AS {t})"
                    ))
                })?
        }
    };
    // What each stage uses, earlier stages only.
    let names: Vec<Option<String>> = stages.iter().map(|s| s.name.clone()).collect();
    let mut deps: Vec<Vec<usize>> = Vec::new();
    for (i, s) in stages.iter().enumerate() {
        let mut d = Vec::new();
        if let Kind::From { image, .. } = &s.from.kind {
            if let Some(j) = stage_index(&names[..i], &subst_meta(image)?, false) {
                d.push(j);
            }
        }
        for ins in &s.instructions {
            if let Kind::Copy(spec) = &ins.kind {
                if let Some(from) = &spec.from {
                    if let Some(j) = stage_index(&names[..i], &subst_meta(from)?, true) {
                        d.push(j);
                    }
                }
            }
        }
        deps.push(d);
    }
    let mut needed = vec![false; stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed[i] {
            needed[i] = true;
            todo.extend(deps[i].iter().copied());
        }
    }
    Ok(Plan {
        meta_args,
        stages,
        target,
        needed,
    })
}

/// The earlier stage `name` refers to, given the earlier stages' names:
/// its `AS` name, or (for `COPY --from`, `by_index`) its number.
pub fn stage_index(earlier: &[Option<String>], name: &str, by_index: bool) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    if let Some(i) = earlier
        .iter()
        .rposition(|n| n.as_deref() == Some(lower.as_str()))
    {
        return Some(i);
    }
    if by_index {
        return name.parse::<usize>().ok().filter(|i| *i < earlier.len());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::dockerfile::parse;

    fn plan_of(text: &str, target: Option<&str>) -> Result<(Vec<bool>, usize, usize), String> {
        let df = parse("Dockerfile", text).unwrap();
        let p =
            plan(&df, target, &|s| Ok(s.replace("$BASE", "busybox"))).map_err(|e| e.to_string())?;
        Ok((p.needed, p.target, p.meta_args.len()))
    }

    #[test]
    fn target_and_the_stages_it_needs() {
        let df = "ARG BASE=busybox\nFROM $BASE AS a\nRUN x\nFROM busybox AS unused\nRUN y\nFROM a AS b\nFROM busybox\nCOPY --from=b /x /x\nCOPY --from=0 /y /y\n";
        assert_eq!(
            plan_of(df, None).unwrap(),
            (vec![true, false, true, true], 3, 1)
        );
        assert_eq!(
            plan_of(df, Some("B")).unwrap(),
            (vec![true, false, true, false], 2, 1)
        );
        assert_eq!(
            plan_of(df, Some("unused")).unwrap(),
            (vec![false, true, false, false], 1, 1)
        );
        let e = plan_of(df, Some("nope")).unwrap_err();
        assert!(e.contains("failed to reach build target nope"), "{e}");
    }

    #[test]
    fn only_earlier_stages_count_and_names_are_unique() {
        // `FROM later` names an image, not the later stage.
        let (needed, _, _) = plan_of("FROM later\nFROM busybox AS later\n", Some("later")).unwrap();
        assert_eq!(needed, vec![false, true]);
        // An index beyond the earlier stages is an image name.
        let (needed, _, _) =
            plan_of("FROM busybox\nCOPY --from=1 /a /b\nFROM busybox\n", None).unwrap();
        assert_eq!(needed, vec![false, true]);
        let e = plan_of("FROM a AS x\nFROM b AS X\n", None).unwrap_err();
        assert!(e.contains("duplicate name"), "{e}");
        let e = plan_of("ARG A\nRUN x\n", None);
        assert!(e.is_err());
    }
}
