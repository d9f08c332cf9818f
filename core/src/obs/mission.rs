//! A BabyAI instruction as a few small integers, for networks that read symbols rather than
//! text: the planes that `nn::ObsKind::ViewMission` adds to the view.

use crate::rules::{Instr, Loc, ObjDesc, Rule, TaskKind};

/// Numbers in a mission code: the task kind, then the type, colour and location of the first
/// and of the second object the instruction names.
pub const MISSION_CHANNELS: usize = 7;

/// The instruction `rule` sets, as [`MISSION_CHANNELS`] indices (all 0 for a rule that is not a
/// BabyAI instruction).
///
/// Why: a mixed level (MixedTrainLocal) draws a new task every episode and the view alone does
/// not say which, so a symbolic agent needs the mission. BabyAI's own agents read its words with
/// a GRU; our CNN reads raw MiniGrid indices, so the instruction goes in the same way, as indices
/// on constant planes. They come from the verifier's [`Instr`], not from the text, so "A, then B"
/// and "B after you A" (one task) get one code.
///
/// Each index is 0 for "none" or "any":
/// - 0: the task kind, 1 + its place in [`TaskKind::ALL`] (go to 1, pick up 2, open 3,
///   put next 4, pick up then go to 5, other sequence 6);
/// - 1, 2, 3: the first object's type (MiniGrid's `OBJECT_TO_IDX`; 0 for BabyAI's "object"),
///   colour (1 + `COLOR_TO_IDX`, since red is 0 there) and location (1 + its place in
///   [`Loc::ALL`]: left, right, front, behind);
/// - 4, 5, 6: the same for the second object: what a pick-up-then-go-to goes to, what a
///   put-next puts the object next to.
///
/// For a sequence the objects are its first part's and its second part's first ones, in task
/// order; with the kind that is the whole instruction for every sequence BabyAI's local levels
/// and GLAM's mixes draw (pick up A then go to B). A sequence of other actions (Synth, Boss)
/// keeps only its kind and those two objects.
pub fn mission_code(rule: &Rule) -> [u8; MISSION_CHANNELS] {
    match rule {
        Rule::BabyAi(instr) => instr_code(instr),
        _ => [0; MISSION_CHANNELS],
    }
}

/// [`mission_code`] of one instruction.
pub fn instr_code(instr: &Instr) -> [u8; MISSION_CHANNELS] {
    let (first, second) = match instr {
        Instr::GoTo(d) | Instr::Open(d) | Instr::Pickup { desc: d, .. } => (Some(d), None),
        Instr::PutNext { moved, fixed } => (Some(moved), Some(fixed)),
        Instr::Seq { first, second, .. } => (first_desc(first), first_desc(second)),
    };
    let kind = instr.kind();
    let mut code = [0; MISSION_CHANNELS];
    code[0] = 1 + TaskKind::ALL.iter().position(|&k| k == kind).unwrap_or(0) as u8;
    code[1..4].copy_from_slice(&desc_code(first));
    code[4..7].copy_from_slice(&desc_code(second));
    code
}

fn first_desc(instr: &Instr) -> Option<&ObjDesc> {
    match instr {
        Instr::GoTo(d) | Instr::Open(d) | Instr::Pickup { desc: d, .. } => Some(d),
        Instr::PutNext { moved, .. } => Some(moved),
        Instr::Seq { first, .. } => first_desc(first),
    }
}

fn desc_code(desc: Option<&ObjDesc>) -> [u8; 3] {
    let Some(d) = desc else { return [0; 3] };
    [
        d.kind.map_or(0, |k| k as u8),
        d.color.map_or(0, |c| 1 + c as u8),
        d.loc
            .and_then(|l| Loc::ALL.iter().position(|&x| x == l))
            .map_or(0, |i| 1 + i as u8),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::SeqForm;
    use crate::world::{Color, Kind};

    fn desc(kind: Kind, color: Color) -> ObjDesc {
        ObjDesc::new(Some(kind), Some(color), None)
    }

    fn pickup(d: ObjDesc) -> Instr {
        Instr::Pickup {
            desc: d,
            was_empty_handed: true,
        }
    }

    #[test]
    fn each_part_of_an_instruction_has_its_index() {
        let goto = Instr::GoTo(desc(Kind::Ball, Color::Red));
        assert_eq!(instr_code(&goto), [1, 6, 1, 0, 0, 0, 0]);
        let put = Instr::PutNext {
            moved: desc(Kind::Box, Color::Blue),
            fixed: ObjDesc::new(None, None, Some(Loc::Behind)),
        };
        assert_eq!(instr_code(&put), [4, 7, 3, 0, 0, 0, 4]);
        let open = Instr::Open(ObjDesc::new(Some(Kind::Door), None, Some(Loc::Left)));
        assert_eq!(instr_code(&open), [3, 4, 0, 1, 0, 0, 0]);
        assert_eq!(mission_code(&Rule::ReachGoal), [0; MISSION_CHANNELS]);
        assert_eq!(mission_code(&Rule::BabyAi(goto.clone())), instr_code(&goto));
    }

    /// Missions that differ only in colour, or only in what is asked, get different codes; the
    /// two wordings of one sequence get the same.
    #[test]
    fn missions_differing_in_colour_or_kind_differ() {
        let red = Instr::GoTo(desc(Kind::Key, Color::Red));
        let green = Instr::GoTo(desc(Kind::Key, Color::Green));
        let pick_red = pickup(desc(Kind::Key, Color::Red));
        assert_ne!(instr_code(&red), instr_code(&green));
        assert_ne!(instr_code(&red), instr_code(&pick_red));
        let seq = |form| {
            Instr::seq(
                form,
                pickup(desc(Kind::Key, Color::Red)),
                Instr::GoTo(desc(Kind::Ball, Color::Grey)),
            )
        };
        let then = instr_code(&seq(SeqForm::Then));
        assert_eq!(then, instr_code(&seq(SeqForm::AfterYou)));
        assert_eq!(then, [5, 5, 1, 0, 6, 6, 0]);
        // The parsed text gives the same code as the built instruction.
        let parsed = Instr::parse("go to the grey ball after you pick up the red key").unwrap();
        assert_eq!(instr_code(&parsed), then);
    }
}
