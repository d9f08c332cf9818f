//! Text observations: the seed repositories' abstract texts read off the memory map (When2Ask,
//! LLM4Teach) and BabyAI-Text's sentences about the egocentric view (GLAM).

use super::memory_map::MemoryMap;
use crate::world::object::EMPTY_CODE;
use crate::world::view::View;
use crate::world::{Color, DoorState, Kind, Obj, World};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// How the abstract texts name objects; each seed mediator picks one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Naming {
    /// "key", "box", "door" (SimpleDoorKey, KeyInBox, RandomBoxKey, LavaDoorKey).
    Plain,
    /// "red key", "blue door" (ColoredDoorKey in both papers).
    Colored,
    /// "key", and doors numbered in map order: "door1", "door2" (LLM4Teach's TwoDoor).
    NumberedDoors,
    /// gridmentor's own, for tasks the seed code never had (MiniGrid, BabyAI): colours, door
    /// states ("locked yellow door", "open red door") and goals, so a planner can finish them.
    Detailed,
}

impl Naming {
    /// The naming the seed mediator of task `id` uses.
    pub fn for_task(id: &str) -> Naming {
        let seed_task = crate::registry::find(id).is_ok_and(|s| s.family == "seed");
        let id = id.to_ascii_lowercase();
        if !seed_task {
            Naming::Detailed
        } else if id.contains("coloreddoorkey") {
            Naming::Colored
        } else if id.contains("twodoor") {
            Naming::NumberedDoors
        } else {
            Naming::Plain
        }
    }

    fn name(self, o: Obj) -> String {
        match self {
            Naming::Detailed => match o {
                Obj::Door(c, DoorState::Closed) => format!("closed {c} door"),
                Obj::Goal => String::from("goal"),
                o => o.describe(),
            },
            Naming::Colored => format!("{} {}", o.color(), o.kind().name()),
            _ => String::from(o.kind().name()),
        }
    }
}

/// The objects the abstract texts talk about, in the order they list them: keys, then boxes,
/// then doors (and, with [`Naming::Detailed`], goals), each group in map order (by x, then y).
struct Sighting {
    /// Name, and whether it sits right in front of the agent.
    keys: Vec<(String, bool)>,
    boxes: Vec<String>,
    doors: Vec<String>,
    carrying: Option<String>,
}

fn sight(map: &MemoryMap, naming: Naming) -> Sighting {
    let front = map.agent_dir().step(map.agent_pos());
    let mut s = Sighting {
        keys: Vec::new(),
        boxes: Vec::new(),
        doors: Vec::new(),
        carrying: map.carrying().map(|o| naming.name(o)),
    };
    for (p, o) in map.objects() {
        match o.kind() {
            Kind::Key => s.keys.push((naming.name(o), p == front)),
            Kind::Box => s.boxes.push(naming.name(o)),
            Kind::Door if naming == Naming::NumberedDoors => {
                s.doors.push(format!("door{}", s.doors.len() + 1))
            }
            Kind::Door => s.doors.push(naming.name(o)),
            Kind::Goal if naming == Naming::Detailed => s.doors.push(naming.name(o)),
            _ => {}
        }
    }
    s
}

/// When2Ask's observation text (LLM4RL `mediator.py`, `RL2LLM`): "observed a key, observed a
/// door, carry key"; "observed nothing" when no key, box or door has been seen. With
/// [`Naming::Colored`] (their ColoredDoorKey mediator) a key right in front of the agent adds
/// "block by red key" after the doors.
///
/// Deviation: the seed code only recognises a carried *key*; a carried box there reads
/// "observed a box". Here whatever the agent carries is "carry ...".
pub fn when2ask(map: &MemoryMap, naming: Naming) -> String {
    let s = sight(map, naming);
    let mut items: Vec<String> = Vec::new();
    let mut block = None;
    for (name, in_front) in &s.keys {
        items.push(format!("observed a {name}"));
        if *in_front {
            block = Some(name);
        }
    }
    items.extend(s.boxes.iter().map(|b| format!("observed a {b}")));
    items.extend(s.doors.iter().map(|d| format!("observed a {d}")));
    if naming == Naming::Colored
        && let Some(k) = block
    {
        items.push(format!("block by {k}"));
    }
    if items.is_empty() {
        items.push(String::from("observed nothing"));
    }
    if let Some(c) = &s.carrying {
        items.push(format!("carry {c}"));
    }
    items.join(", ")
}

/// [`when2ask`] framed as in When2Ask's prompt examples: "observation: {observed a door, carry
/// key}". (Their four mediators frame it four slightly different ways; the examples agree.)
pub fn when2ask_observation(map: &MemoryMap, naming: Naming) -> String {
    format!("observation: {{{}}}", when2ask(map, naming))
}

/// LLM4Teach's abstract observation (`mediator.py`, `RL2LLM`): "Agent sees <key>, <door>, holds
/// <nothing>." This is the key of the teacher's plan cache, so it must be stable.
///
/// Boxes, which no LLM4Teach task has, are listed after keys so KeyInBox reads sensibly; every
/// LLM4Teach task gives the seed code's exact string.
pub fn llm4teach(map: &MemoryMap, naming: Naming) -> String {
    let s = sight(map, naming);
    let mut out = String::from("Agent sees ");
    let seen = s
        .keys
        .iter()
        .map(|(k, _)| k)
        .chain(&s.boxes)
        .chain(&s.doors);
    let mut any = false;
    for name in seen {
        out.push_str(&format!("<{name}>, "));
        any = true;
    }
    if !any {
        out.push_str("<nothing>, ");
    }
    let holds = s.carrying.as_deref().unwrap_or("nothing");
    out.push_str(&format!("holds <{holds}>."));
    out
}

fn door_state(s: DoorState) -> &'static str {
    match s {
        DoorState::Open => "open",
        DoorState::Closed => "closed",
        DoorState::Locked => "locked",
    }
}

fn steps(n: i32, direction: &str) -> String {
    format!("{n} step{} {direction}", if n > 1 { "s" } else { "" })
}

/// BabyAI-Text's descriptions of what the agent sees (GLAM's `babyai-text`, `gen_graph` in its
/// gym-minigrid fork), in its order:
/// 1. "You carry a blue ball" when carrying;
/// 2. walls in straight lines, only when the first non-empty visible cell on that line is a wall:
///    "You see a wall 2 steps forward", then left, then right (along the agent's own row);
/// 3. every other visible object, by view column from the left then by row from the farthest:
///    "You see a red key 1 step left and 2 steps forward", "You see a green box 2 steps right".
///
/// Doors read "You see a locked red door ..."; an open one reads "You see a open red door ..."
/// as in the original (its `"open" != 0` test never picks "an").
pub fn babyai(world: &World) -> Vec<String> {
    let view = View::of(world);
    let v = view.size;
    let mut image = vec![0u8; v * v * 3];
    view.encode_into(world.carrying, &mut image);
    let code = |col: usize, row: usize| {
        let i = (row * v + col) * 3;
        [image[i], image[i + 1], image[i + 2]]
    };
    let (ax, ay) = (v / 2, v - 1);
    let mut out = Vec::new();

    if let Some(c) = world.carrying {
        out.push(format!("You carry a {} {}", c.color(), c.kind().name()));
    }

    // Straight lines from the agent: forward, left, right. Unseen and empty cells are passed.
    let wall = Kind::Wall as u8;
    let lines: [(&str, Vec<(usize, usize)>); 3] = [
        ("forward", (0..ay).rev().map(|row| (ax, row)).collect()),
        ("left", (0..ax).rev().map(|col| (col, ay)).collect()),
        ("right", (ax + 1..v).map(|col| (col, ay)).collect()),
    ];
    for (direction, cells) in lines {
        let first = cells.into_iter().enumerate().find(|&(_, (col, row))| {
            let k = code(col, row)[0];
            k != Kind::Unseen as u8 && k != EMPTY_CODE[0]
        });
        if let Some((d, (col, row))) = first
            && code(col, row)[0] == wall
        {
            out.push(format!("You see a wall {}", steps(d as i32 + 1, direction)));
        }
    }

    for col in 0..v {
        for row in 0..v {
            let [k, c, s] = code(col, row);
            if k <= wall || (col, row) == (ax, ay) {
                continue;
            }
            let kind = Kind::from_index(k).map_or("object", Kind::name);
            let color = Color::from_index(c).map_or("", Color::name);
            let mut line = if k == Kind::Door as u8 {
                let state = DoorState::from_index(s).map_or("", door_state);
                format!("You see a {state} {color} {kind} ")
            } else {
                format!("You see a {color} {kind} ")
            };
            let (dx, dy) = (col as i32 - ax as i32, (ay - row) as i32);
            let side = if dx > 0 { "right" } else { "left" };
            let parts = if dx == 0 {
                vec![steps(dy, "forward")]
            } else if dy == 0 {
                vec![steps(dx.abs(), side)]
            } else {
                vec![steps(dx.abs(), side), steps(dy, "forward")]
            };
            line.push_str(&parts.join(" and "));
            out.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Action, Dir, Pos};

    /// A 6x6 room at the top-left of a 10x10 grid (seed-task style), view 3, the agent at
    /// (3, 2) facing east with a yellow key ahead, a red key beside it and a locked yellow door
    /// on the east wall.
    fn seed_room() -> World {
        let mut w = World::new(10, 10, 100);
        w.grid.wall_rect(0, 0, 6, 6);
        w.grid.set(
            Pos::new(5, 2),
            Some(Obj::Door(Color::Yellow, DoorState::Locked)),
        );
        w.grid.set(Pos::new(4, 2), Some(Obj::Key(Color::Yellow)));
        w.grid.set(Pos::new(4, 3), Some(Obj::Key(Color::Red)));
        w.view_size = 3;
        w.agent_pos = Pos::new(3, 2);
        w.agent_dir = Dir::East;
        w
    }

    #[test]
    fn when2ask_texts() {
        let mut w = seed_room();
        let mut m = MemoryMap::new(&w);
        assert_eq!(
            when2ask(&m, Naming::Plain),
            "observed a key, observed a key, observed a door"
        );
        assert_eq!(
            when2ask(&m, Naming::Colored),
            "observed a yellow key, observed a red key, observed a yellow door, block by yellow key"
        );
        w.step(Action::Pickup);
        m.update(&w);
        assert_eq!(
            when2ask_observation(&m, Naming::Plain),
            "observation: {observed a key, observed a door, carry key}"
        );
        assert_eq!(
            when2ask(&m, Naming::Colored),
            "observed a red key, observed a yellow door, carry yellow key"
        );

        // Nothing of interest in sight: facing the west wall from the room's corner.
        let mut w = seed_room();
        w.agent_pos = Pos::new(1, 1);
        w.agent_dir = Dir::West;
        let m = MemoryMap::new(&w);
        assert_eq!(when2ask(&m, Naming::Plain), "observed nothing");
        w.carrying = Some(Obj::Key(Color::Yellow));
        let m = MemoryMap::new(&w);
        assert_eq!(
            when2ask_observation(&m, Naming::Plain),
            "observation: {observed nothing, carry key}"
        );
    }

    #[test]
    fn when2ask_names_boxes_between_keys_and_doors() {
        let mut w = seed_room();
        w.grid.set(
            Pos::new(4, 2),
            Some(Obj::Box(
                Color::Yellow,
                Some(crate::world::Item::Key(Color::Yellow)),
            )),
        );
        w.grid.set(Pos::new(4, 3), None);
        w.grid.set(Pos::new(3, 1), Some(Obj::Key(Color::Yellow)));
        let m = MemoryMap::new(&w);
        assert_eq!(
            when2ask(&m, Naming::Plain),
            "observed a key, observed a box, observed a door"
        );
        assert_eq!(
            llm4teach(&m, Naming::Plain),
            "Agent sees <key>, <box>, <door>, holds <nothing>."
        );
    }

    #[test]
    fn llm4teach_texts() {
        let mut w = seed_room();
        let mut m = MemoryMap::new(&w);
        assert_eq!(
            llm4teach(&m, Naming::Plain),
            "Agent sees <key>, <key>, <door>, holds <nothing>."
        );
        assert_eq!(
            llm4teach(&m, Naming::Colored),
            "Agent sees <yellow key>, <red key>, <yellow door>, holds <nothing>."
        );
        w.step(Action::Pickup);
        m.update(&w);
        assert_eq!(
            llm4teach(&m, Naming::Colored),
            "Agent sees <red key>, <yellow door>, holds <yellow key>."
        );
        // The red key, once seen, stays in the text after the agent turns away from it.
        w.step(Action::Left);
        m.update(&w);
        assert_eq!(
            llm4teach(&m, Naming::Plain),
            "Agent sees <key>, <door>, holds <key>."
        );

        let mut w = seed_room();
        w.agent_pos = Pos::new(1, 1);
        w.agent_dir = Dir::North;
        assert_eq!(
            llm4teach(&MemoryMap::new(&w), Naming::Plain),
            "Agent sees <nothing>, holds <nothing>."
        );

        // TwoDoor names doors by map order.
        let mut w = World::new(3, 4, 150);
        w.grid.wall_rect(0, 0, 3, 4);
        w.grid.set(
            Pos::new(2, 2),
            Some(Obj::Door(Color::Green, DoorState::Locked)),
        );
        w.grid.set(
            Pos::new(0, 2),
            Some(Obj::Door(Color::Green, DoorState::Locked)),
        );
        w.view_size = 3;
        w.agent_pos = Pos::new(1, 2);
        w.agent_dir = Dir::North;
        w.carrying = Some(Obj::Key(Color::Green));
        let m = MemoryMap::new(&w);
        assert_eq!(
            llm4teach(&m, Naming::NumberedDoors),
            "Agent sees <door1>, <door2>, holds <key>."
        );
    }

    #[test]
    fn naming_follows_the_task() {
        assert_eq!(Naming::for_task("ColoredDoorKey"), Naming::Colored);
        assert_eq!(
            Naming::for_task("ColoredDoorKey-LLM4Teach"),
            Naming::Colored
        );
        assert_eq!(Naming::for_task("TwoDoor"), Naming::NumberedDoors);
        assert_eq!(Naming::for_task("LavaDoorKey"), Naming::Plain);
        assert_eq!(
            Naming::for_task("MiniGrid-DoorKey-8x8-v0"),
            Naming::Detailed
        );
        assert_eq!(
            Naming::for_task("MiniGrid-KeyInBox-Min5-Max10-View3"),
            Naming::Plain
        );
    }

    /// A 9x9 room, view 7, the agent at (2, 5) facing north carrying a blue ball; a wall piece
    /// at (2, 3), a red key at (1, 3), an open red door in the north wall at (3, 0), a green box
    /// at (4, 4), a purple ball at (4, 5) and the goal at (5, 1).
    #[test]
    fn babyai_text_sentences() {
        let mut w = World::new(9, 9, 100);
        w.grid.wall_rect(0, 0, 9, 9);
        w.grid.set(Pos::new(2, 3), Some(Obj::WALL));
        w.grid.set(Pos::new(1, 3), Some(Obj::Key(Color::Red)));
        w.grid
            .set(Pos::new(3, 0), Some(Obj::Door(Color::Red, DoorState::Open)));
        w.grid
            .set(Pos::new(4, 4), Some(Obj::Box(Color::Green, None)));
        w.grid.set(Pos::new(4, 5), Some(Obj::Ball(Color::Purple)));
        w.grid.set(Pos::new(5, 1), Some(Obj::Goal));
        w.agent_pos = Pos::new(2, 5);
        w.agent_dir = Dir::North;
        w.carrying = Some(Obj::Ball(Color::Blue));
        assert_eq!(
            babyai(&w),
            [
                "You carry a blue ball",
                "You see a wall 2 steps forward",
                "You see a wall 2 steps left",
                "You see a red key 1 step left and 2 steps forward",
                "You see a open red door 1 step right and 5 steps forward",
                "You see a green box 2 steps right and 1 step forward",
                "You see a purple ball 2 steps right",
                "You see a green goal 3 steps right and 4 steps forward",
            ]
        );
    }

    #[test]
    fn babyai_text_walls_doors_and_occlusion() {
        // A 3-wide room; the agent at (2, 3) faces east toward a locked door at (4, 3).
        let mut w = World::new(5, 7, 100);
        w.grid.wall_rect(0, 0, 5, 7);
        w.grid.set(
            Pos::new(4, 3),
            Some(Obj::Door(Color::Grey, DoorState::Locked)),
        );
        w.grid.set(Pos::new(3, 1), Some(Obj::Key(Color::Yellow)));
        w.agent_pos = Pos::new(2, 3);
        w.agent_dir = Dir::East;
        assert_eq!(
            babyai(&w),
            [
                "You see a wall 3 steps left",
                "You see a wall 3 steps right",
                "You see a yellow key 2 steps left and 1 step forward",
                "You see a locked grey door 2 steps forward",
            ]
        );
        // Facing the wall one step away; the closed door behind the agent is out of sight.
        w.grid.set(
            Pos::new(4, 3),
            Some(Obj::Door(Color::Grey, DoorState::Closed)),
        );
        w.agent_pos = Pos::new(1, 3);
        w.agent_dir = Dir::West;
        let text = babyai(&w);
        assert_eq!(text[0], "You see a wall 1 step forward");
        assert!(text.iter().all(|t| !t.contains("door")), "{text:?}");
        w.agent_dir = Dir::East;
        assert!(babyai(&w).contains(&String::from("You see a closed grey door 3 steps forward")));
    }
}
