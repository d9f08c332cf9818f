//! Prompts in the seeds' styles. The system prompt and the examples go with every request (the
//! originals sent them once to stateful chat servers; OpenAI-compatible servers are stateless).

use super::expert::expert_plan;
use crate::obs::text::Naming;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

/// How the planner is asked.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PromptStyle {
    /// When2Ask: a task description, few-shot `observation: {...}, action: {...}` examples, and
    /// the observation "observation: {observed a key, carry nothing}".
    When2Ask,
    /// LLM4Teach: a task description with the three-step instruction (what the agent sees and
    /// holds, what it should do, the action), one worked example, and "Agent sees <key>, ...".
    Llm4Teach,
}

impl PromptStyle {
    pub fn name(self) -> &'static str {
        match self {
            PromptStyle::When2Ask => "when2ask",
            PromptStyle::Llm4Teach => "llm4teach",
        }
    }

    pub fn from_name(s: &str) -> Option<PromptStyle> {
        match s {
            "when2ask" => Some(PromptStyle::When2Ask),
            "llm4teach" => Some(PromptStyle::Llm4Teach),
            _ => None,
        }
    }
}

/// A chat prompt: system prompt with examples, then the observation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prompt {
    pub style: PromptStyle,
    pub messages: Vec<Message>,
}

const ACTIONS: &str = "The agent can: explore, go to <object>, pick up <object>, drop, \
                       toggle <object> (toggling opens a door or a box).";

/// What the task asks, in the words a planner needs.
fn task_description(env_id: &str, mission: &str) -> String {
    let id = env_id.to_ascii_lowercase();
    let body = if id.contains("keyinbox") {
        "The agent is in a 2D grid room with a locked door. The key that opens it is hidden in a \
         box. The task is to open the door."
    } else if id.contains("randomboxkey") {
        "The agent is in a 2D grid room with a locked door. The key that opens it may be hidden in \
         a box. The task is to open the door."
    } else if id.contains("coloreddoorkey") {
        "The agent is in a 2D grid room with a locked door. Only a key of the same colour as the \
         door opens it, and the agent can hold one object at a time. The task is to open the door."
    } else if id.contains("lavadoorkey") {
        "The agent is in a 2D grid room with a locked door and lava; stepping on lava ends the \
         episode. The door opens only while the agent holds the key. The task is to open the door."
    } else if id.contains("twodoor") {
        "The agent is in a 2D grid room with two locked doors. A door opens only while the agent \
         holds the key. The task is to open a door."
    } else if id.contains("simpledoorkey") {
        "The agent is in a 2D grid room with a locked door. The door opens only while the agent \
         holds the key. The task is to open the door."
    } else {
        return format!(
            "The agent is in a 2D grid world. Its mission: {mission}. A locked door opens only while \
             the agent holds a key of the door's colour; the agent holds one object at a time."
        );
    };
    String::from(body)
}

/// Situations for the few-shot examples; their answers come from the expert, so the examples
/// are right by construction and match the observation format of the task.
fn example_situations(naming: Naming) -> Vec<&'static str> {
    match naming {
        Naming::Colored => vec![
            "Agent sees <red key>, <blue key>, <blue door>, holds <nothing>.",
            "Agent sees <green door>, holds <red key>.",
            "Agent sees <red key>, <red door>, holds <yellow key>.",
            "Agent sees <nothing>, holds <nothing>.",
        ],
        Naming::Detailed => vec![
            "Agent sees <yellow key>, <locked yellow door>, holds <nothing>.",
            "Agent sees <locked yellow door>, holds <yellow key>.",
            "Agent sees <open yellow door>, <goal>, holds <nothing>.",
            "Agent sees <nothing>, holds <nothing>.",
        ],
        _ => vec![
            "Agent sees <key>, <door>, holds <nothing>.",
            "Agent sees <door>, holds <key>.",
            "Agent sees <box>, holds <nothing>.",
            "Agent sees <door>, holds <nothing>.",
            "Agent sees <nothing>, holds <nothing>.",
        ],
    }
}

/// "Agent sees <key>, <door>, holds <nothing>." as When2Ask writes it.
fn as_when2ask(llm4teach_text: &str) -> String {
    let (seen, held) = split_sees_holds(llm4teach_text);
    let mut items: Vec<String> = seen.iter().map(|o| format!("observed a {o}")).collect();
    if items.is_empty() {
        items.push(String::from("observed nothing"));
    }
    if let Some(h) = held {
        items.push(format!("carry {h}"));
    }
    format!("observation: {{{}}}", items.join(", "))
}

/// The objects named in an LLM4Teach text and what the agent holds.
pub(crate) fn split_sees_holds(text: &str) -> (Vec<&str>, Option<&str>) {
    let mut seen = Vec::new();
    let mut held = None;
    let (sees, holds) = text.split_once("holds").unwrap_or((text, ""));
    for part in sees.split('<').skip(1) {
        if let Some((name, _)) = part.split_once('>')
            && name != "nothing"
        {
            seen.push(name);
        }
    }
    if let Some(part) = holds.split('<').nth(1)
        && let Some((name, _)) = part.split_once('>')
        && name != "nothing"
    {
        held = Some(name);
    }
    (seen, held)
}

impl Prompt {
    /// The prompt for one decision. `observation` is the task's text observation in the
    /// style's own form ([`crate::obs::text::when2ask_observation`] or
    /// [`crate::obs::text::llm4teach`]).
    pub fn build(style: PromptStyle, env_id: &str, mission: &str, observation: &str) -> Prompt {
        let naming = Naming::for_task(env_id);
        let description = task_description(env_id, mission);
        let examples = example_situations(naming);
        let system = match style {
            PromptStyle::When2Ask => {
                let mut s = format!(
                    "{description} {ACTIONS} Plan the agent's next actions from its observation. \
                     Answer with the actions as a list in braces, like action: {{go to the key, \
                     pick up the key}}. Do not explain.\nExamples:"
                );
                for e in examples {
                    let plan = expert_plan(e);
                    s.push_str(&format!("\n{}, action: {{{plan}}}.", as_when2ask(e)));
                }
                s
            }
            PromptStyle::Llm4Teach => {
                let e = examples[0];
                let plan = expert_plan(e);
                format!(
                    "{description} {ACTIONS} First, say which objects the agent sees and holds. \
                     Second, infer what the agent should do now. Third, give the actions as \
                     Action: {{...}}.\nExample:\n{e}\n1. What the agent sees and holds: as given.\n\
                     2. What the agent should do: follow the plan below.\n3. Action: {{{plan}}}"
                )
            }
        };
        Prompt {
            style,
            messages: vec![
                Message {
                    role: Role::System,
                    content: system,
                },
                Message {
                    role: Role::User,
                    content: String::from(observation),
                },
            ],
        }
    }

    /// The observation this prompt asks about (its last user message).
    pub fn observation(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map_or("", |m| m.content.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_carry_system_examples_and_observation() {
        let p = Prompt::build(
            PromptStyle::When2Ask,
            "SimpleDoorKey",
            "",
            "observation: {observed a key, observed a door}",
        );
        assert_eq!(p.messages.len(), 2);
        let sys = &p.messages[0].content;
        assert!(sys.contains("observation: {observed a key, observed a door}, action: {go to the key, pick up the key, go to the door, toggle the door}."), "{sys}");
        assert!(sys.contains("observation: {observed nothing}, action: {explore}."));
        assert_eq!(
            p.observation(),
            "observation: {observed a key, observed a door}"
        );
        let p = Prompt::build(
            PromptStyle::Llm4Teach,
            "ColoredDoorKey",
            "",
            "Agent sees <red key>, holds <nothing>.",
        );
        assert!(p.messages[0].content.contains("Action: {go to the blue key, pick up the blue key, go to the blue door, toggle the blue door}"), "{}", p.messages[0].content);
    }

    #[test]
    fn reads_sees_and_holds() {
        let (s, h) = split_sees_holds("Agent sees <red key>, <locked red door>, holds <blue key>.");
        assert_eq!(s, ["red key", "locked red door"]);
        assert_eq!(h, Some("blue key"));
        let (s, h) = split_sees_holds("Agent sees <nothing>, holds <nothing>.");
        assert!(s.is_empty() && h.is_none());
    }
}
