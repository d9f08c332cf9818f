//! `gridmentor-expert`: core's scripted expert planner behind the chat API. It reads the text
//! observation in the last user message of the prompts core builds and answers in the prompt's
//! own style; it is deterministic, costs no tokens and is never called an LLM.

use super::{Backend, BoxFuture, Call, ChatOutput, ChatRequest, Choice, ModelCard, Usage};
use crate::error::ApiError;
use gridmentor_core::planner::{ExpertPlanner, Message, Planner, Prompt, PromptStyle, Role};

pub const MODEL: &str = "gridmentor-expert";

pub struct Expert;

/// The style of a core observation text, or `None` for text the expert cannot read.
fn style_of(observation: &str) -> Option<PromptStyle> {
    let t = observation.trim();
    if t.starts_with("observation:") {
        Some(PromptStyle::When2Ask)
    } else if t.starts_with("Agent sees") && t.contains("holds") {
        Some(PromptStyle::Llm4Teach)
    } else {
        None
    }
}

/// The expert's answers to a chat, `n` of them.
pub fn answer(req: &ChatRequest) -> Result<Vec<String>, ApiError> {
    let observation = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map_or("", |m| m.content.as_str());
    let style = style_of(observation).ok_or_else(|| {
        ApiError::bad_request(format!(
            "{MODEL} reads the observation core's prompts put in the last user message \
             (\"observation: {{observed a key, ...}}\" or \"Agent sees <key>, holds <nothing>.\"), \
             not {:?}",
            observation.chars().take(80).collect::<String>()
        ))
    })?;
    let messages = req
        .messages
        .iter()
        .filter_map(|m| {
            let role = match m.role.as_str() {
                "system" | "developer" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                _ => return None,
            };
            Some(Message {
                role,
                content: m.content.clone(),
            })
        })
        .collect();
    let prompt = Prompt { style, messages };
    let completion = ExpertPlanner::new()
        .complete(&prompt, req.n)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(completion
        .answers
        .into_iter()
        .map(|a| match style {
            PromptStyle::When2Ask => a,
            // LLM4Teach's three steps, as its worked example shows them.
            PromptStyle::Llm4Teach => {
                let plan = a.trim_start_matches("action:").trim();
                format!(
                    "1. What the agent sees and holds: {}\n2. What the agent should do: follow \
                     the plan below.\n3. Action: {plan}",
                    observation.trim()
                )
            }
        })
        .collect())
}

impl Backend for Expert {
    fn name(&self) -> &str {
        MODEL
    }

    fn is_llm(&self) -> bool {
        false
    }

    fn models(&self) -> Vec<ModelCard> {
        vec![ModelCard {
            id: MODEL.into(),
            aliases: vec!["expert".into()],
            ..ModelCard::default()
        }]
    }

    fn deterministic(&self, _req: &ChatRequest) -> bool {
        true
    }

    fn chat<'a>(
        &'a self,
        req: &'a ChatRequest,
        call: Call,
    ) -> BoxFuture<'a, Result<ChatOutput, ApiError>> {
        Box::pin(async move {
            let answers = answer(req)?;
            for (i, a) in answers.iter().enumerate() {
                call.emit(i as u32, a);
            }
            Ok(ChatOutput {
                model: MODEL.into(),
                choices: answers
                    .into_iter()
                    .map(|text| Choice {
                        text,
                        finish_reason: "stop".into(),
                    })
                    .collect(),
                usage: Usage::default(),
                raw: None,
                finish_sent: false,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmentor_core::planner::{expert::expert_plan, parse_plan};
    use serde_json::json;

    fn request(p: &Prompt) -> ChatRequest {
        let messages: Vec<_> = p
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        ChatRequest::parse(json!({"model": MODEL, "messages": messages, "n": 2})).unwrap()
    }

    #[test]
    fn answers_both_styles_with_the_plan_core_parses() {
        for (style, obs) in [
            (
                PromptStyle::When2Ask,
                "observation: {observed a key, observed a door}",
            ),
            (
                PromptStyle::Llm4Teach,
                "Agent sees <key>, <door>, holds <nothing>.",
            ),
        ] {
            let p = Prompt::build(style, "SimpleDoorKey", "", obs);
            let answers = answer(&request(&p)).unwrap();
            assert_eq!(answers.len(), 2);
            assert_eq!(
                parse_plan(&answers[0]).unwrap(),
                expert_plan(obs),
                "{}",
                answers[0]
            );
        }
    }

    #[test]
    fn refuses_text_it_cannot_read() {
        let r = ChatRequest::parse(
            json!({"model": MODEL, "messages": [{"role": "user", "content": "hello"}]}),
        )
        .unwrap();
        let e = answer(&r).unwrap_err();
        assert!(e.message.contains("Agent sees"), "{e}");
    }
}
