//! Reading an LLM's answer as a plan: tolerant of case, punctuation, `<key>` brackets, numbering
//! and surrounding prose; an answer that names no skill is rejected with the reason.

use super::Plan;
use crate::skills::{Skill, Target};
use crate::world::{Color, Kind};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Markers after which LLMs (and the seed prompts' examples) put the plan itself.
const MARKERS: [&str; 6] = [
    "plan:", "plans:", "action:", "actions:", "answer:", "skills:",
];

/// Verbs in the order they are tried (longer phrases first).
const VERBS: [(&str, Verb); 17] = [
    ("explore", Verb::Explore),
    ("look around", Verb::Explore),
    ("search", Verb::Explore),
    ("go to", Verb::GoTo),
    ("goto", Verb::GoTo),
    ("move to", Verb::GoTo),
    ("walk to", Verb::GoTo),
    ("navigate to", Verb::GoTo),
    ("approach", Verb::GoTo),
    ("pick up", Verb::PickUp),
    ("pickup", Verb::PickUp),
    ("grab", Verb::PickUp),
    ("drop", Verb::Drop),
    ("put down", Verb::Drop),
    ("toggle", Verb::Toggle),
    ("open", Verb::Toggle),
    ("unlock", Verb::Toggle),
];

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Verb {
    Explore,
    GoTo,
    PickUp,
    Drop,
    Toggle,
}

/// Parse an answer into a plan, or say why it cannot be read.
pub fn parse_plan(answer: &str) -> Result<Plan, String> {
    let lower = answer.to_lowercase();
    let body = MARKERS
        .iter()
        .filter_map(|m| lower.rfind(m).map(|i| i + m.len()))
        .max()
        .map_or(lower.as_str(), |i| &lower[i..]);
    let cleaned: String = body
        .chars()
        .map(|c| match c {
            '<' | '>' | '{' | '}' | '[' | ']' | '(' | ')' | '"' | '\'' | '*' | '`' | '_' => ' ',
            ';' | '\n' | '.' | '!' | '?' => ',',
            c => c,
        })
        .collect();
    let mut skills = Vec::new();
    for clause in split_clauses(&cleaned) {
        skills.extend(parse_clause(&clause)?);
    }
    if skills.is_empty() {
        let shown: String = answer.chars().take(80).collect();
        return Err(format!(
            "no skill (explore, go to, pick up, drop, toggle) in the answer {shown:?}"
        ));
    }
    Ok(Plan(skills))
}

fn split_clauses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        for piece in part.split(" then ").flat_map(|p| p.split(" and ")) {
            let words: Vec<&str> = piece
                .split_whitespace()
                // Numbering: "1", "2:", "step", "first", "next", "finally"...
                .filter(|w| {
                    !w.trim_end_matches([':', ')'])
                        .chars()
                        .all(|c| c.is_ascii_digit())
                })
                .collect();
            if !words.is_empty() {
                out.push(words.join(" "));
            }
        }
    }
    out
}

/// Every skill in a clause, in order: each verb starts a skill that runs to the next verb. A
/// clause without a verb is prose and gives nothing; a verb without its object is an error.
fn parse_clause(clause: &str) -> Result<Vec<Skill>, String> {
    let padded = format!(" {clause} ");
    let mut found: Vec<(usize, &str, Verb)> = Vec::new();
    let mut from = 0;
    while let Some((i, phrase, verb)) = VERBS
        .iter()
        .filter_map(|&(phrase, verb)| {
            padded[from..]
                .find(&format!(" {phrase}"))
                .map(|i| (from + i, phrase, verb))
        })
        .min_by_key(|&(i, phrase, _)| (i, usize::MAX - phrase.len()))
    {
        found.push((i, phrase, verb));
        from = i + 1 + phrase.len();
    }
    let mut skills = Vec::new();
    for (n, &(i, phrase, verb)) in found.iter().enumerate() {
        let end = found.get(n + 1).map_or(padded.len(), |f| f.0);
        let rest = &padded[i + 1 + phrase.len()..end];
        skills.push(match verb {
            Verb::Explore => Skill::Explore,
            Verb::Drop => Skill::Drop,
            Verb::GoTo | Verb::PickUp | Verb::Toggle => {
                let Some(t) = parse_target(rest) else {
                    return Err(format!(
                        "{phrase:?} names no object (key, door, box, ball, goal) in {clause:?}"
                    ));
                };
                match verb {
                    Verb::GoTo => Skill::GoTo(t),
                    Verb::PickUp => Skill::PickUp(t),
                    _ => Skill::Toggle(t),
                }
            }
        });
    }
    Ok(skills)
}

/// The first object word after the verb, with a colour word just before it if there is one.
fn parse_target(text: &str) -> Option<Target> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        let singular = w.strip_suffix('s').filter(|s| *s != "bo").unwrap_or(w);
        let kind = match singular {
            "key" => Kind::Key,
            "door" | "door1" | "door2" => Kind::Door,
            "box" | "boxe" => Kind::Box,
            "ball" => Kind::Ball,
            "goal" => Kind::Goal,
            _ => continue,
        };
        let color = i.checked_sub(1).and_then(|j| {
            Color::from_name(words[j]).or(if words[j] == "gray" {
                Some(Color::Grey)
            } else {
                None
            })
        });
        return Some(Target::new(kind, color));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn plan(s: &str) -> String {
        parse_plan(s).unwrap().to_string()
    }

    #[test]
    fn reads_the_seed_styles() {
        assert_eq!(
            plan("{go to <key>, pick up <key>}"),
            "go to the key, pick up the key"
        );
        assert_eq!(
            plan("Agent plans: go to the yellow door, toggle the yellow door."),
            "go to the yellow door, toggle the yellow door"
        );
        assert_eq!(plan("action: {explore}"), "explore");
    }

    #[test]
    fn reads_real_looking_answers() {
        let verbose = "Sure! Since the agent sees a red key and a locked red door but holds nothing, \
                       it should first get the key.\n\nPlan:\n1. Go to the RED KEY\n2. Pick up the red key\n\
                       3. Go to the red door\n4. Toggle the red door";
        assert_eq!(
            plan(verbose),
            "go to the red key, pick up the red key, go to the red door, toggle the red door"
        );
        assert_eq!(plan("**Open** the Blue Door"), "toggle the blue door");
        assert_eq!(
            plan("1) explore 2) go to the box then toggle the box"),
            "explore, go to the box, toggle the box"
        );
        assert_eq!(
            plan("pickup key; goto door; unlock door"),
            "pick up the key, go to the door, toggle the door"
        );
        assert_eq!(
            plan("Drop the ball and pick up the purple key"),
            "drop, pick up the purple key"
        );
        assert_eq!(plan("Go to the grey box."), "go to the grey box");
        assert_eq!(plan("go to the gray box."), "go to the grey box");
    }

    #[test]
    fn rejects_what_it_cannot_read_with_a_reason() {
        let e = parse_plan("I am not sure what to do here.").unwrap_err();
        assert!(e.contains("no skill"), "{e}");
        let e = parse_plan("Plan: pick up").unwrap_err();
        assert!(e.contains("names no object"), "{e}");
        assert!(parse_plan("").is_err());
    }
}
