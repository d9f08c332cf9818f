//! Skills in every task, from random seeds, aimed at random objects of the layout: they never
//! walk into a wall or lava, and they always end (finished or failed) within a bound.

use gridmentor_core::obs::memory_map::MemoryMap;
use gridmentor_core::registry;
use gridmentor_core::skills::{Skill, SkillRun, SkillStep, Target};
use gridmentor_core::world::{Action, Obj};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn skills_are_safe_and_terminate(task in 0usize..1000, seed in any::<u64>(), pick in 0usize..1000, kind in 0u8..5) {
        let specs: Vec<_> = registry::all().collect();
        let spec = specs[task % specs.len()];
        let mut env = registry::make(spec.id, seed).unwrap();
        let mut map = MemoryMap::new(&env.world);
        let objects: Vec<Obj> = env.world.grid.objects().map(|(_, o)| o).filter(|o| !matches!(o, Obj::Wall(_))).collect();
        let target = if objects.is_empty() { None } else {
            let o = objects[pick % objects.len()];
            Some(Target::new(o.kind(), Some(o.color())))
        };
        let skill = match (kind, target) {
            (0, _) | (_, None) => Skill::Explore,
            (1, Some(t)) => Skill::GoTo(t),
            (2, Some(t)) => Skill::PickUp(t),
            (3, Some(t)) => Skill::Toggle(t),
            _ => Skill::Drop,
        };
        let cells = (env.world.width() * env.world.height()) as u32;
        let bound = 8 * cells + 50;
        let mut run = SkillRun::new(skill);
        let mut ended = false;
        for _ in 0..bound {
            match run.next(&map, env.world.view_size) {
                SkillStep::Act(a) => {
                    if a == Action::Forward {
                        let front = env.world.front_cell();
                        prop_assert!(front.is_none_or(|o| o.can_overlap() && o != Obj::Lava), "{skill} walks into {front:?}");
                    }
                    let t = env.step(a);
                    map.update(&env.world);
                    if t.terminated || t.truncated { ended = true; break; }
                }
                SkillStep::Finished | SkillStep::Failed(_) => { ended = true; break; }
            }
        }
        prop_assert!(ended, "{} seed {}: {} ran {} steps without ending", spec.id, seed, skill, bound);
    }
}
