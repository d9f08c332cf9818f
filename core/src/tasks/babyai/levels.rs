//! The levels' `gen_mission`: what each places and which instruction it draws (goto.py,
//! pickup.py, putnext.py, open.py, unlock.py and the parts of levelgen.py they use).

use crate::env::GenError;
use crate::rules::{Instr, Loc, ObjDesc, RoomLayout, TaskKind};
use crate::tasks::builder::MAX_TRIES;
use crate::tasks::roomgrid::{OBJ_KINDS, RoomGrid};
use crate::world::{Color, Item, Kind, Obj};
use alloc::vec::Vec;

/// A BabyAI level: its room grid and how it generates a mission in it.
pub struct Level {
    pub layout: RoomLayout,
    /// The kind of task all its missions set.
    pub kind: TaskKind,
    pub gen_mission: fn(&mut RoomGrid) -> Result<Instr, GenError>,
}

/// One 8x8 room (`num_rows=1, num_cols=1`).
pub const SINGLE: RoomLayout = RoomLayout {
    room_size: 8,
    rows: 1,
    cols: 1,
};

/// RoomGrid's default 3x3 rooms of size 8.
const MAZE: RoomLayout = RoomLayout {
    room_size: 8,
    rows: 3,
    cols: 3,
};

pub const GO_TO_OBJ: Level = Level {
    layout: SINGLE,
    kind: TaskKind::GoTo,
    gen_mission: go_to_obj,
};

pub const GO_TO_LOCAL: Level = Level {
    layout: SINGLE,
    kind: TaskKind::GoTo,
    gen_mission: go_to_local,
};

pub const PICKUP_LOC: Level = Level {
    layout: SINGLE,
    kind: TaskKind::PickUp,
    gen_mission: pickup_loc,
};

pub const PUT_NEXT_LOCAL: Level = Level {
    layout: SINGLE,
    kind: TaskKind::PutNext,
    gen_mission: put_next_local,
};

pub const OPEN_DOOR: Level = Level {
    layout: MAZE,
    kind: TaskKind::Open,
    gen_mission: open_door,
};

pub const UNLOCK_LOCAL: Level = Level {
    layout: MAZE,
    kind: TaskKind::Open,
    gen_mission: unlock_local,
};

pub const KEY_IN_BOX: Level = Level {
    layout: MAZE,
    kind: TaskKind::Open,
    gen_mission: key_in_box,
};

/// The description "the <colour> <kind>" of a placed object.
pub fn desc_of(o: Obj) -> ObjDesc {
    ObjDesc::new(Some(o.kind()), Some(o.color()), None)
}

fn require_reachable(g: &RoomGrid) -> Result<(), GenError> {
    if g.objs_reachable() {
        Ok(())
    } else {
        Err(GenError(
            "an object cannot be reached without moving another",
        ))
    }
}

/// GoToObj: one object, no distractors.
fn go_to_obj(g: &mut RoomGrid) -> Result<Instr, GenError> {
    g.place_agent(None, None, true)?;
    let objs = g.add_distractors(None, None, 1, true)?;
    Ok(Instr::GoTo(desc_of(objs[0].0)))
}

/// GoToLocal: eight objects (repeats allowed), go to one of them.
fn go_to_local(g: &mut RoomGrid) -> Result<Instr, GenError> {
    g.place_agent(None, None, true)?;
    let objs = g.add_distractors(None, None, 8, false)?;
    require_reachable(g)?;
    let (obj, _) = g.b.rand_elem(&objs);
    Ok(Instr::GoTo(desc_of(obj)))
}

/// PutNextLocal: eight distinct objects, put one next to another.
fn put_next_local(g: &mut RoomGrid) -> Result<Instr, GenError> {
    g.place_agent(None, None, true)?;
    let objs = g.add_distractors(None, None, 8, true)?;
    require_reachable(g)?;
    let pair = g.b.rand_subset(&objs, 2);
    Ok(Instr::PutNext {
        moved: desc_of(pair[0].0),
        fixed: desc_of(pair[1].0),
    })
}

/// PickupLoc: `LevelGen` with one room, eight distractors, no locked room, locations on, no
/// unblocking, and only "pick up" actions.
fn pickup_loc(g: &mut RoomGrid) -> Result<Instr, GenError> {
    g.connect_all(&Color::ALL, 5000)?;
    g.add_distractors(None, None, 8, false)?;
    g.place_agent(None, None, true)?;
    require_reachable(g)?;
    Ok(Instr::Pickup {
        desc: rand_obj(g, &OBJ_KINDS, true)?,
        was_empty_handed: true,
    })
}

/// `LevelGen.rand_obj`: a random description (colour or "object"-coloured, a kind, sometimes a
/// location) that matches at least one object.
fn rand_obj(g: &mut RoomGrid, kinds: &[Kind], locations: bool) -> Result<ObjDesc, GenError> {
    let mut colors: Vec<Option<Color>> = Vec::with_capacity(Color::ALL.len() + 1);
    colors.push(None);
    colors.extend(Color::ALL.map(Some));
    for _ in 0..=100 {
        let color = g.b.rand_elem(&colors);
        let kind = g.b.rand_elem(kinds);
        let loc = if locations && g.b.rand_bool() {
            Some(g.b.rand_elem(&Loc::ALL))
        } else {
            None
        };
        let mut desc = ObjDesc::new(Some(kind), color, loc);
        desc.find(&g.b.world, Some(&g.layout));
        if !desc.objs.is_empty() {
            return Ok(desc);
        }
    }
    Err(GenError("failed to find a suitable object"))
}

/// `LevelGen.add_locked_room`: a locked door of `color` on an inner wall of a random room, and
/// its key in another room. Returns the locked room's `(i, j)`.
pub fn add_locked_room(g: &mut RoomGrid, color: Color) -> Result<(i32, i32), GenError> {
    let mut locked = None;
    for _ in 0..MAX_TRIES {
        let i = g.b.rand_int(0, g.cols());
        let j = g.b.rand_int(0, g.rows());
        let k = g.b.rand_int(0, 4) as usize;
        // Not on an outer wall.
        if g.room(i, j).neighbors[k].is_some() {
            g.add_door(i, j, Some(k), Some(color), Some(true))?;
            locked = Some((i, j));
            break;
        }
    }
    let locked = locked.ok_or(GenError("no inner wall for the locked door"))?;
    for _ in 0..MAX_TRIES {
        let i = g.b.rand_int(0, g.cols());
        let j = g.b.rand_int(0, g.rows());
        if (i, j) != locked {
            g.add_object(i, j, Some(Kind::Key), Some(color))?;
            return Ok(locked);
        }
    }
    Err(GenError("no room for the key of the locked room"))
}

/// OpenDoor: four unlocked doors of distinct colours around the middle room; open the one
/// named by colour, or any one on a given side.
fn open_door(g: &mut RoomGrid) -> Result<Instr, GenError> {
    let colors = g.b.rand_subset(&Color::ALL, 4);
    let mut doors = Vec::with_capacity(4);
    for (k, &c) in colors.iter().enumerate() {
        doors.push(g.add_door(1, 1, Some(k), Some(c), Some(false))?.0);
    }
    let desc = if g.b.rand_bool() {
        ObjDesc::new(Some(Kind::Door), Some(doors[0].color()), None)
    } else {
        let loc = g.b.rand_elem(&Loc::ALL);
        ObjDesc::new(Some(Kind::Door), None, Some(loc))
    };
    g.place_agent(Some(1), Some(1), true)?;
    Ok(Instr::Open(desc))
}

/// UnlockLocal: a locked door of the middle room and its key beside the agent.
fn unlock_local(g: &mut RoomGrid) -> Result<Instr, GenError> {
    let (door, _) = g.add_door(1, 1, None, None, Some(true))?;
    g.add_object(1, 1, Some(Kind::Key), Some(door.color()))?;
    g.place_agent(Some(1), Some(1), true)?;
    Ok(Instr::Open(ObjDesc::new(Some(Kind::Door), None, None)))
}

/// KeyInBox: as UnlockLocal, but the key is inside a box.
fn key_in_box(g: &mut RoomGrid) -> Result<Instr, GenError> {
    let (door, _) = g.add_door(1, 1, None, None, Some(true))?;
    let box_color = g.b.rand_color();
    g.place_in_room(1, 1, Obj::Box(box_color, Some(Item::Key(door.color()))))?;
    g.place_agent(Some(1), Some(1), true)?;
    Ok(Instr::Open(ObjDesc::new(Some(Kind::Door), None, None)))
}

#[cfg(test)]
mod tests {
    use super::super::SPECS;
    use crate::registry::find;
    use crate::rules::Rule;
    use crate::world::DoorState;

    #[test]
    fn missions_read_back_and_step_limits_follow_roomgridlevel() {
        for spec in SPECS {
            for seed in 0..60 {
                let s = spec.layout(seed);
                let (rule, rooms) = (spec.rule_from_layout)(&s.world, &s.mission)
                    .unwrap_or_else(|e| panic!("{} seed {seed}: {e}", spec.id));
                assert_eq!(rule, s.rule, "{} seed {seed}", spec.id);
                assert_eq!(rooms, s.rooms);
                let l = rooms.unwrap();
                // BabyAI's `num_navs_needed`: a put-next and a two-part sequence need two.
                let navs = if s.mission.starts_with("put ")
                    || s.mission.contains(" then ")
                    || s.mission.contains(" after you ")
                {
                    2
                } else {
                    1
                };
                let want = navs * 64 * l.rows * l.cols;
                assert_eq!(s.world.max_steps, want as u32, "{}", spec.id);
            }
        }
    }

    #[test]
    fn open_door_has_four_unlocked_doors_of_distinct_colours() {
        let spec = find("OpenDoor").unwrap();
        for seed in 0..50 {
            let s = spec.layout(seed);
            let mut colors: alloc::vec::Vec<_> = s
                .world
                .grid
                .objects()
                .filter_map(|(_, o)| match o {
                    crate::world::Obj::Door(c, DoorState::Closed) => Some(c),
                    _ => None,
                })
                .collect();
            colors.sort();
            colors.dedup();
            assert_eq!(colors.len(), 4);
            assert!(s.mission.starts_with("open "));
            let Rule::BabyAi(crate::rules::Instr::Open(d)) = &s.rule else {
                panic!()
            };
            assert!(!d.objs.is_empty());
        }
    }

    #[test]
    fn the_babyai_key_in_box_does_not_take_the_seed_task_name() {
        assert!(
            SPECS
                .iter()
                .all(|s| s.names().all(|n| !n.eq_ignore_ascii_case("KeyInBox")))
        );
        assert_eq!(find("BabyAI-KeyInBox").unwrap().id, "BabyAI-KeyInBox-v0");
    }
}
