//! Properties of the engine that hold in every registered task, for random seeds and actions.

use gridmentor_core::registry;
use gridmentor_core::world::{Action, Kind, Obj, World};
use proptest::prelude::*;

/// Pickable objects in the grid, in boxes, and carried.
fn count_items(w: &World) -> usize {
    let items = |o: Obj| match o {
        Obj::Key(_) | Obj::Ball(_) => 1,
        Obj::Box(_, inner) => 1 + inner.is_some() as usize,
        _ => 0,
    };
    w.grid.objects().map(|(_, o)| items(o)).sum::<usize>() + w.carrying.map_or(0, items)
}

fn check_invariants(w: &World) -> Result<(), TestCaseError> {
    let here = w.grid.get(w.agent_pos);
    prop_assert!(w.grid.contains(w.agent_pos), "agent left the grid");
    prop_assert!(
        here.is_none_or(Obj::can_overlap),
        "agent stands on {here:?} at {:?}",
        w.agent_pos
    );
    let img = w.image();
    let v = w.view_size as usize;
    prop_assert_eq!(img.len(), v * v * 3);
    for code in img.chunks(3) {
        prop_assert!(
            Obj::decode([code[0], code[1], code[2]]).is_ok(),
            "bad code {code:?}"
        );
    }
    // The agent's own cell shows what it carries.
    let agent = ((v - 1) * v + v / 2) * 3;
    let want = w.carrying.map_or([Kind::Empty as u8, 0, 0], Obj::encode);
    prop_assert_eq!(&img[agent..agent + 3], &want[..]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_play_keeps_the_world_consistent(
        task in 0usize..1000,
        seed in any::<u64>(),
        actions in proptest::collection::vec(0u8..7, 1..300),
    ) {
        let specs: Vec<_> = registry::all().collect();
        let spec = specs[task % specs.len()];
        let mut env = registry::make(spec.id, seed).unwrap();
        check_invariants(&env.world)?;
        let again = registry::make(spec.id, seed).unwrap();
        prop_assert_eq!(&env.world, &again.world, "{} seed {} is not deterministic", spec.id, seed);
        let mut items = count_items(&env.world);
        for (i, a) in actions.into_iter().enumerate() {
            let a = Action::from_index(a).unwrap();
            let before = env.world.clone();
            let t = env.step(a);
            let w = &env.world;
            prop_assert_eq!(w.step_count, i as u32 + 1);
            prop_assert_eq!(t.truncated, w.step_count >= w.max_steps);
            prop_assert!(t.reward >= 0.0 && t.reward <= 1.0);
            prop_assert!(t.reward == 0.0 || t.terminated, "reward without the episode ending");
            if t.reward > 0.0 {
                prop_assert!((t.reward - w.success_reward()).abs() < 1e-6);
            }
            check_invariants(w)?;
            match a {
                Action::Left | Action::Right | Action::Done => {
                    prop_assert_eq!(&w.grid, &before.grid);
                    prop_assert_eq!(w.agent_pos, before.agent_pos);
                }
                Action::Forward => prop_assert_eq!(&w.grid, &before.grid),
                _ => prop_assert_eq!(w.agent_pos, before.agent_pos),
            }
            // Items are conserved except when a box is opened (it vanishes, its contents stay).
            let now = count_items(w);
            let opened_box = matches!(env.last_event().toggled, Some((_, Obj::Box(..))));
            prop_assert!(now == items || (opened_box && now + 1 == items), "items {items} -> {now} after {a:?}");
            items = now;
            if t.terminated || t.truncated {
                break;
            }
        }
    }
}

#[test]
fn every_task_resets_on_many_seeds() {
    for spec in registry::all() {
        for seed in 0..200u64 {
            let env = registry::make(spec.id, seed).unwrap();
            let w = &env.world;
            assert!(
                w.grid.get(w.agent_pos).is_none_or(Obj::can_overlap),
                "{} seed {seed}: agent starts on {:?}",
                spec.id,
                w.grid.get(w.agent_pos)
            );
            assert!(!env.mission.is_empty(), "{} has no mission", spec.id);
            assert!(w.max_steps > 0);
        }
    }
}
