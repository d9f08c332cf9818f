//! How far a BabyAI instruction is from done, in actions, read from the true state: the
//! potential of a training-only reward shaping (the policy never sees it; evaluation scores the
//! env's own reward).

use super::{Instr, ObjDesc, Rule};
use crate::Env;
use crate::world::{Dir, DoorState, Obj, Pos, World};
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

/// The fewest actions that complete the episode's instruction from the current state: the
/// instruction as legs (reach a pose facing a target, then act on it), each leg searched
/// breadth-first over agent poses through free cells, from every pose the previous leg can end
/// in (so a pick-up that empties a cell opens it to the next leg, exactly).
///
/// Go to: face a described object. Pick up: face one, pick it up. Open: face a described door
/// and toggle it (a locked one needs its key first: fetch the key, then the door; an open one
/// is closed and opened again). Put next to: pick the moved object up (unless carried), face
/// an empty cell beside the fixed one, drop. A sequence whose second part is a go to: the first
/// part's legs, then the go to. `None` for other instructions and rules, when carrying an
/// object the instruction cannot use, or with no path.
pub fn actions_left(env: &Env) -> Option<u32> {
    let Rule::BabyAi(instr) = &env.rule else {
        return None;
    };
    let w = &env.world;
    legs(instr, w)
        .into_iter()
        .filter_map(|plan| cost_from(w, (w.agent_pos, w.agent_dir), None, &plan))
        .min()
}

/// What a leg must end facing.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// One of these cells (a go to's positions).
    Cells(&'a [Pos]),
    /// A described object still lying in the grid.
    Object(&'a ObjDesc),
    /// This door.
    Door(Pos),
    /// A key of the door's colour.
    Key(Obj),
    /// An empty cell beside one of these positions (where a drop puts an object next to them).
    Beside(&'a [Pos]),
}

/// Reach a pose facing `target`, then `then` more actions; `frees`: the last of them (a pick-up)
/// empties the cell ahead.
#[derive(Clone, Copy)]
struct Leg<'a> {
    target: Target<'a>,
    then: u32,
    frees: bool,
}

impl Leg<'_> {
    fn reach(target: Target<'_>) -> Leg<'_> {
        Leg {
            target,
            then: 0,
            frees: false,
        }
    }

    fn act(target: Target<'_>, then: u32) -> Leg<'_> {
        Leg {
            target,
            then,
            frees: false,
        }
    }

    fn pick_up(target: Target<'_>) -> Leg<'_> {
        Leg {
            target,
            then: 1,
            frees: true,
        }
    }
}

/// The ways to complete `instr` from the world's state, each a list of legs (several when it
/// names several doors).
fn legs<'a>(instr: &'a Instr, w: &World) -> Vec<Vec<Leg<'a>>> {
    match instr {
        Instr::GoTo(d) => vec![vec![Leg::reach(Target::Cells(&d.poss))]],
        Instr::Pickup { desc, .. } if w.carrying.is_none() => {
            vec![vec![Leg::pick_up(Target::Object(desc))]]
        }
        Instr::Open(d) => d
            .objs
            .iter()
            .filter(|t| t.in_grid())
            .filter_map(|t| match w.grid.get(t.pos)? {
                Obj::Door(_, DoorState::Closed) => Some(vec![Leg::act(Target::Door(t.pos), 1)]),
                Obj::Door(_, DoorState::Open) => Some(vec![Leg::act(Target::Door(t.pos), 2)]),
                Obj::Door(c, DoorState::Locked) => {
                    let key = Obj::Key(c);
                    match w.carrying {
                        Some(k) if k == key => Some(vec![Leg::act(Target::Door(t.pos), 1)]),
                        None => Some(vec![
                            Leg::pick_up(Target::Key(key)),
                            Leg::act(Target::Door(t.pos), 1),
                        ]),
                        Some(_) => None,
                    }
                }
                _ => None,
            })
            .collect(),
        Instr::PutNext { moved, fixed } => {
            let drop = Leg::act(Target::Beside(&fixed.poss), 1);
            if moved.objs.iter().any(|t| t.carried) {
                vec![vec![drop]]
            } else if w.carrying.is_none() {
                vec![vec![Leg::pick_up(Target::Object(moved)), drop]]
            } else {
                vec![]
            }
        }
        Instr::Seq {
            first,
            second,
            first_done,
            ..
        } => {
            let Instr::GoTo(d) = &**second else {
                return vec![];
            };
            let go = Leg::reach(Target::Cells(&d.poss));
            if *first_done {
                return vec![vec![go]];
            }
            legs(first, w)
                .into_iter()
                .map(|mut plan| {
                    plan.push(go);
                    plan
                })
                .collect()
        }
        _ => vec![],
    }
}

/// Whether the cell `p` is what `target` wants, `freed` being a cell emptied by an earlier leg.
fn is_target(w: &World, target: Target, p: Pos, freed: Option<Pos>) -> bool {
    let still_there = Some(p) != freed;
    match target {
        Target::Cells(cells) => cells.contains(&p),
        Target::Object(d) => still_there && d.objs.iter().any(|t| t.in_grid() && t.pos == p),
        Target::Door(at) => p == at,
        Target::Key(key) => still_there && w.grid.get(p) == Some(key),
        Target::Beside(cells) => {
            in_bounds(w, p)
                && (w.grid.get(p).is_none() || !still_there)
                && cells.iter().any(|&b| p.manhattan(b) == 1)
        }
    }
}

fn in_bounds(w: &World, p: Pos) -> bool {
    p.x >= 0 && p.y >= 0 && p.x < w.width() && p.y < w.height()
}

/// The cost of `plan` from the pose `start`: the cheapest pose facing the first leg's target,
/// plus its actions, plus the rest of the plan from there.
fn cost_from(w: &World, start: (Pos, Dir), freed: Option<Pos>, plan: &[Leg]) -> Option<u32> {
    let (leg, rest) = plan.split_first()?;
    let mut best: Option<u32> = None;
    for (pose, n) in reachable(w, start, freed) {
        if best.is_some_and(|b| n + leg.then >= b) {
            // Poses come in order of distance: nothing later can be cheaper.
            break;
        }
        let (dx, dy) = pose.1.vec();
        let ahead = pose.0.offset(dx, dy);
        if !is_target(w, leg.target, ahead, freed) {
            continue;
        }
        let total = if rest.is_empty() {
            Some(n + leg.then)
        } else {
            let freed = if leg.frees { Some(ahead) } else { freed };
            cost_from(w, pose, freed, rest).map(|r| n + leg.then + r)
        };
        if let Some(t) = total {
            best = Some(best.map_or(t, |b| b.min(t)));
        }
    }
    best
}

/// Every pose reachable from `start` by turns and forward moves through free cells, with its
/// distance in actions, nearest first.
fn reachable(w: &World, start: (Pos, Dir), freed: Option<Pos>) -> Vec<((Pos, Dir), u32)> {
    let (width, height) = (w.width(), w.height());
    let index = |p: Pos, d: Dir| ((p.y * width + p.x) as usize) * 4 + d as usize;
    let mut seen = vec![false; (width * height) as usize * 4];
    let mut order = Vec::new();
    let mut queue = VecDeque::new();
    seen[index(start.0, start.1)] = true;
    queue.push_back((start, 0u32));
    while let Some(((p, d), n)) = queue.pop_front() {
        order.push(((p, d), n));
        let (dx, dy) = d.vec();
        let ahead = p.offset(dx, dy);
        let free = in_bounds(w, ahead)
            && (Some(ahead) == freed
                || w.grid
                    .get(ahead)
                    .is_none_or(|o| o.can_overlap() && o != Obj::Lava));
        let mut next = vec![(p, d.left()), (p, d.right())];
        if free {
            next.push((ahead, d));
        }
        for (q, e) in next {
            let i = index(q, e);
            if !seen[i] {
                seen[i] = true;
                queue.push_back(((q, e), n + 1));
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;
    use crate::world::Action;
    use alloc::collections::BTreeMap;

    /// Some action always leaves one action fewer (or completes the instruction when one is
    /// left), so following the distance completes it in exactly the number it said at the
    /// start, on every kind of GLAM's mixed level: the distance is exact, legs included. (It
    /// counts the plans that act on the instruction's objects only: moving an object out of
    /// the way can be shorter, and the shaping only needs a potential, not the optimum.)
    #[test]
    fn descending_the_distance_succeeds_in_that_many_actions() {
        let mut by_kind: BTreeMap<&str, u32> = BTreeMap::new();
        for (id, seeds) in [
            ("BabyAI-GoToObj-v0", 0..30),
            ("BabyAI-GoToLocal-v0", 0..30),
            ("BabyAI-PickupLoc-v0", 0..30),
            ("BabyAI-OpenDoor-v0", 0..30),
            ("BabyAI-PutNextLocal-v0", 0..30),
            ("BabyAI-MixedTrainLocal-v0", 0..100),
        ] {
            let spec = registry::find(id).unwrap();
            for seed in seeds {
                let mut env = Env::new(spec, seed);
                let kind = match &env.rule {
                    Rule::BabyAi(i) => i.kind().name(),
                    _ => unreachable!(),
                };
                let Some(start) = actions_left(&env) else {
                    panic!("{id} seed {seed} ({kind}): no distance at the start");
                };
                let mut taken = 0;
                let won = loop {
                    let left = actions_left(&env).unwrap();
                    let best = [
                        Action::Left,
                        Action::Right,
                        Action::Forward,
                        Action::Pickup,
                        Action::Drop,
                        Action::Toggle,
                    ]
                    .into_iter()
                    .find(|&a| {
                        let mut e = env.clone();
                        let done = e.step(a).success();
                        if left == 1 {
                            done
                        } else {
                            !done && actions_left(&e) == Some(left - 1)
                        }
                    });
                    let Some(best) = best else {
                        panic!("{id} seed {seed} ({kind}): no action leaves {}", left - 1);
                    };
                    taken += 1;
                    let t = env.step(best);
                    if t.done() {
                        break t.success();
                    }
                    assert!(
                        taken < start,
                        "{id} seed {seed} ({kind}): {taken} >= {start}"
                    );
                };
                assert!(won, "{id} seed {seed} ({kind}): failed after {taken}");
                assert_eq!(taken, start, "{id} seed {seed} ({kind})");
                *by_kind.entry(kind).or_default() += 1;
            }
        }
        // The mixed level's 100 seeds reach every kind it draws from.
        for kind in crate::tasks::babyai::mixed::KINDS {
            assert!(
                by_kind.get(kind.name()).copied().unwrap_or(0) >= 5,
                "{by_kind:?}"
            );
        }
    }

    /// A locked door's distance goes through its key, and carrying the wrong object leaves a
    /// pick-up with no distance.
    #[test]
    fn legs_follow_what_is_carried() {
        let spec = registry::find("BabyAI-MixedTrainLocal-v0").unwrap();
        let seed = (0..200)
            .find(|&s| {
                let env = Env::new(spec, s);
                matches!(&env.rule, Rule::BabyAi(Instr::Open(_)))
            })
            .unwrap();
        let mut env = Env::new(spec, seed);
        let Rule::BabyAi(Instr::Open(d)) = &env.rule else {
            unreachable!()
        };
        let door = d.objs[0].pos;
        let Some(Obj::Door(c, DoorState::Locked)) = env.world.grid.get(door) else {
            panic!("seed {seed}: the Open kind's door is locked")
        };
        let through_key = actions_left(&env).unwrap();
        env.world.carrying = Some(Obj::Key(c));
        let with_key = actions_left(&env).unwrap();
        assert!(with_key < through_key, "{with_key} vs {through_key}");
        env.world.carrying = Some(Obj::Ball(c));
        assert_eq!(actions_left(&env), None);
    }

    #[test]
    fn other_tasks_have_no_distance() {
        let env = Env::new(registry::find("SimpleDoorKey").unwrap(), 1);
        assert_eq!(actions_left(&env), None);
    }
}
