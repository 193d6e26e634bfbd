//! Answering a quiz in a watched lesson: the prompt names the range of
//! choices, input outside it is refused (not counted as a wrong answer),
//! a wrong choice gets its own explanation when the lesson has one, and
//! after three wrong tries the answer is shown.

use crate::lesson::Quiz;

/// Wrong tries before the tutor shows the answer.
pub(super) const TRIES: usize = 3;

/// The prompt: the question, then `(1-3)` for a multiple choice; on a
/// terminal of `width` columns wrapped to fit (the answer is typed after
/// its last line).
pub(super) fn prompt(q: &Quiz, width: Option<usize>) -> String {
    let text = if q.choices.is_empty() {
        format!("{} (your answer)", q.question)
    } else {
        format!("{} (1-{})", q.question, q.choices.len())
    };
    match width {
        Some(w) => format!("{} ", crate::render::wrap(&text, w.max(20), "")),
        None => format!("{text} "),
    }
}

/// What the student's input is, before it is judged.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Given {
    /// An answer to judge (for a multiple choice: the choice's text).
    Answer(String),
    /// Not an answer: say this and let them type again.
    Invalid(String),
}

/// Read `input` as an answer to `q`: a number in range or a choice's text.
pub(super) fn read(q: &Quiz, input: &str) -> Given {
    let input = input.trim();
    if input.is_empty() {
        return Given::Invalid("Type an answer, then Enter (Ctrl-C to leave the quiz).".into());
    }
    if q.choices.is_empty() {
        return Given::Answer(input.to_string());
    }
    if let Some(c) = q.choices.iter().find(|c| c.as_str() == input) {
        return Given::Answer(c.clone());
    }
    match input.parse::<usize>() {
        Ok(n) if (1..=q.choices.len()).contains(&n) => Given::Answer(q.choices[n - 1].clone()),
        _ => Given::Invalid(format!(
            "`{input}` is not one of the choices: type a number from 1 to {}.",
            q.choices.len()
        )),
    }
}

/// What to say to a wrong answer `given` on try `tries` (1-based); `None`
/// means reveal the answer now.
pub(super) fn wrong(q: &Quiz, given: &str, tries: usize) -> Option<String> {
    if tries >= TRIES {
        return None;
    }
    let left = TRIES - tries;
    let why = q
        .why_not
        .get(given)
        .map(|w| format!(" {w}"))
        .unwrap_or_default();
    Some(format!(
        "Not quite.{why} ({left} {} left)",
        if left == 1 { "try" } else { "tries" }
    ))
}

/// What to say to a right answer: why it is right, when the lesson says.
pub(super) fn right(q: &Quiz) -> String {
    format!("Right.{}", because(q))
}

/// The answer shown after the last wrong try, with why it is right.
pub(super) fn reveal(q: &Quiz) -> String {
    let answer = match q.choices.iter().position(|c| *c == q.answer) {
        Some(i) => format!("The answer is {}: {}.", i + 1, q.answer),
        None => format!("An answer that fits: {}.", q.answer),
    };
    format!("{answer}{}", because(q))
}

/// The quiz's `why`, led by a space (or nothing without one).
fn because(q: &Quiz) -> String {
    q.why
        .as_deref()
        .map(|w| format!(" {}", w.trim()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn q() -> Quiz {
        Quiz {
            id: "k".into(),
            question: "Which kernel?".into(),
            choices: vec!["host".into(), "image".into(), "vm".into()],
            answer: "host".into(),
            why: Some("Containers share the host's kernel.".into()),
            why_not: HashMap::from([("image".into(), "An image holds no kernel.".into())]),
        }
    }

    #[test]
    fn the_prompt_names_the_range_and_bad_input_is_not_an_answer() {
        assert_eq!(prompt(&q(), None), "Which kernel? (1-3) ");
        let long = Quiz {
            question:
                "A newer image is pushed with another tag. Which image does a run with no tag use?"
                    .into(),
            ..q()
        };
        let wrapped = prompt(&long, Some(30));
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 30),
            "{wrapped}"
        );
        assert!(wrapped.ends_with("(1-3) "), "{wrapped:?}");
        assert_eq!(read(&q(), " 2 "), Given::Answer("image".into()));
        assert_eq!(read(&q(), "vm"), Given::Answer("vm".into()));
        assert!(matches!(read(&q(), "4"), Given::Invalid(m) if m.contains("from 1 to 3")));
        assert!(matches!(read(&q(), "x"), Given::Invalid(_)));
        assert!(matches!(read(&q(), ""), Given::Invalid(_)));
    }

    #[test]
    fn a_wrong_choice_is_explained_and_the_third_reveals() {
        let w = wrong(&q(), "image", 1).unwrap();
        assert!(
            w.contains("An image holds no kernel.") && w.contains("2 tries left"),
            "{w}"
        );
        assert!(wrong(&q(), "vm", 2).unwrap().contains("1 try left"));
        assert_eq!(wrong(&q(), "vm", 3), None);
        assert_eq!(
            reveal(&q()),
            "The answer is 1: host. Containers share the host's kernel."
        );
    }

    #[test]
    fn the_third_wrong_try_reveals_the_answer_and_why() {
        // The tries a student makes, as the watch loop counts them.
        let mut said = Vec::new();
        for tries in 1..=TRIES {
            said.push(wrong(&q(), "image", tries));
        }
        assert!(said[..TRIES - 1].iter().all(Option::is_some), "{said:?}");
        assert_eq!(said[TRIES - 1], None, "the third wrong try reveals");
        assert_eq!(TRIES, 3);
        assert!(reveal(&q()).contains("host") && reveal(&q()).contains("share the host's kernel"));
        assert_eq!(right(&q()), "Right. Containers share the host's kernel.");
    }
}
