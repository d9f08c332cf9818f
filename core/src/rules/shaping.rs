//! How far a BabyAI instruction is from done, in actions, read from the true state: the
//! potential of a training-only reward shaping (the policy never sees it; evaluation scores the
//! env's own reward).

use super::{Instr, Rule};
use crate::Env;
use crate::world::{Dir, DoorState, Obj, Pos, World};
use alloc::collections::VecDeque;
use alloc::vec;

/// The fewest actions that complete the episode's instruction from the current state, by a
/// breadth-first search over agent poses through free cells: go to (face a described object),
/// pick up (face one, then pick it up), open (face a described closed door, then toggle).
/// `None` for other instructions and rules, a pick-up while carrying, a locked door, or no path.
pub fn actions_left(env: &Env) -> Option<u32> {
    let Rule::BabyAi(instr) = &env.rule else {
        return None;
    };
    let w = &env.world;
    match instr {
        // The verifier's own positions: it succeeds when the cell ahead is one of them.
        Instr::GoTo(d) => steps_to_face(w, |p| d.poss.contains(&p)),
        Instr::Pickup { desc, .. } if w.carrying.is_none() => {
            steps_to_face(w, |p| desc.objs.iter().any(|t| t.in_grid() && t.pos == p)).map(|s| s + 1)
        }
        Instr::Open(d) => steps_to_face(w, |p| {
            matches!(w.grid.get(p), Some(Obj::Door(_, DoorState::Closed)))
                && d.objs.iter().any(|t| t.in_grid() && t.pos == p)
        })
        .map(|s| s + 1),
        _ => None,
    }
}

/// Turns and forward moves from the agent's pose to the nearest pose whose cell ahead satisfies
/// `target` (0: it already does).
fn steps_to_face(w: &World, target: impl Fn(Pos) -> bool) -> Option<u32> {
    let (width, height) = (w.width(), w.height());
    let index = |p: Pos, d: Dir| ((p.y * width + p.x) as usize) * 4 + d as usize;
    let mut seen = vec![false; (width * height) as usize * 4];
    let mut queue = VecDeque::new();
    seen[index(w.agent_pos, w.agent_dir)] = true;
    queue.push_back((w.agent_pos, w.agent_dir, 0u32));
    while let Some((p, d, n)) = queue.pop_front() {
        let (dx, dy) = d.vec();
        let ahead = p.offset(dx, dy);
        if target(ahead) {
            return Some(n);
        }
        let free = ahead.x >= 0
            && ahead.y >= 0
            && ahead.x < width
            && ahead.y < height
            && w.grid
                .get(ahead)
                .is_none_or(|o| o.can_overlap() && o != Obj::Lava);
        let mut next = vec![(p, d.left()), (p, d.right())];
        if free {
            next.push((ahead, d));
        }
        for (q, e) in next {
            let i = index(q, e);
            if !seen[i] {
                seen[i] = true;
                queue.push_back((q, e, n + 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;
    use crate::world::Action;

    /// Acting by the distance alone (the move after which the fewest actions are left, or the
    /// pick-up or toggle that completes the instruction) completes it in exactly the number it
    /// said at the start. (A pick-up that clears the way can make a path shorter than the
    /// search through today's free cells: the shaping only needs a potential, not the optimum.)
    #[test]
    fn descending_the_distance_succeeds_in_that_many_actions() {
        for id in [
            "BabyAI-GoToObj-v0",
            "BabyAI-GoToLocal-v0",
            "BabyAI-PickupLoc-v0",
            "BabyAI-OpenDoor-v0",
        ] {
            let spec = registry::find(id).unwrap();
            let mut solved = 0;
            for seed in 0..40 {
                let mut env = Env::new(spec, seed);
                let Some(start) = actions_left(&env) else {
                    continue;
                };
                let mut taken = 0;
                let won = loop {
                    let best = [
                        Action::Left,
                        Action::Right,
                        Action::Forward,
                        Action::Pickup,
                        Action::Toggle,
                    ]
                    .into_iter()
                    .min_by_key(|&a| {
                        let mut e = env.clone();
                        let t = e.step(a);
                        match (t.success(), a) {
                            (true, _) => 0,
                            (false, Action::Pickup | Action::Toggle) => u32::MAX,
                            (false, _) => actions_left(&e).map_or(u32::MAX, |n| n + 1),
                        }
                    })
                    .unwrap();
                    taken += 1;
                    let t = env.step(best);
                    if t.done() {
                        break t.success();
                    }
                    assert!(taken <= start, "{id} seed {seed}: {taken} > {start}");
                };
                assert!(won, "{id} seed {seed}: failed after {taken}");
                assert_eq!(taken, start, "{id} seed {seed}");
                solved += 1;
            }
            assert!(solved >= 30, "{id}: only {solved}/40 had a distance");
        }
    }

    #[test]
    fn other_tasks_have_no_distance() {
        let env = Env::new(registry::find("SimpleDoorKey").unwrap(), 1);
        assert_eq!(actions_left(&env), None);
        let env = Env::new(registry::find("BabyAI-PutNextLocal-v0").unwrap(), 1);
        assert_eq!(actions_left(&env), None);
    }
}
