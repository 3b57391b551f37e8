"""The stable names of the environment: items, objects, actions, observation features, stats.

These lists never depend on a config, so a policy trained on one task reads the same
observation layout and emits the same action ids on every other task the curriculum
hands it.  Append new names at the end; never reorder.
"""

ITEM_NAMES = (
    "ore_red", "ore_blue", "ore_green",
    "battery_red", "battery_blue", "battery_green",
    "heart", "armor", "laser", "blueprint",
)  # fmt: skip
ITEM = {name: i for i, name in enumerate(ITEM_NAMES)}

# Kind 0 is an empty cell; kinds 1.. are these objects.  Converters are the kinds >= FIRST_CONVERTER.
OBJECT_NAMES = ("wall", "block", "mine_red", "generator_red", "altar", "lasery", "armory")
KIND = {name: i + 1 for i, name in enumerate(OBJECT_NAMES)}
NUM_KINDS = len(OBJECT_NAMES) + 1
FIRST_CONVERTER = KIND["mine_red"]
CONVERTER_NAMES = OBJECT_NAMES[FIRST_CONVERTER - 1 :]

# Characters of a fixed room layout (MapBuilderConfig.room_map); '@' is an agent.
ROOM_MAP_CHARS = {".": 0, "#": KIND["wall"], "b": KIND["block"], "m": KIND["mine_red"], "g": KIND["generator_red"],
                  "a": KIND["altar"], "L": KIND["lasery"], "A": KIND["armory"], "@": -1}  # fmt: skip

# Orientation: 0 up, 1 down, 2 left, 3 right.
ORIENTATION_NAMES = ("up", "down", "left", "right")

ACTION_TYPE_NAMES = ("noop", "move", "rotate", "put_items", "get_items", "attack", "swap")
ACTION_TYPE = {name: i for i, name in enumerate(ACTION_TYPE_NAMES)}
# One flat Discrete action space: (action type, argument) per id.
#   move 0 forward / 1 backward; rotate to an orientation; attack 1..9 picks a cell of the
#   3x3 block in front of the agent: distance (arg-1)//3 + 1, sideways offset (arg-1)%3 - 1.
ACTIONS = (
    [("noop", 0), ("move", 0), ("move", 1)]
    + [("rotate", o) for o in range(4)]
    + [("put_items", 0), ("get_items", 0)]
    + [("attack", k) for k in range(1, 10)]
    + [("swap", 0)]
)
ACTION_NAMES = tuple(f"{name}_{arg}" if name in ("move", "rotate", "attack") else name for name, arg in ACTIONS)
NUM_ACTIONS = len(ACTIONS)

# Per-cell observation features, in channel order.
GRID_FEATURE_NAMES = (
    "agent",  # 1 where an agent stands
    "agent:orientation",  # 1 + orientation of that agent (0 where none)
    "agent:frozen",  # 1 while that agent is frozen
    *OBJECT_NAMES,  # one channel per object kind: 1 where it stands
    "converter:output",  # output items the converter holds (0..255)
    "converter:converting",  # 1 while converting
    "converter:cooling",  # 1 while cooling down
)
GRID_FEATURE = {name: i for i, name in enumerate(GRID_FEATURE_NAMES)}
NUM_GRID_FEATURES = len(GRID_FEATURE_NAMES)
KIND_CHANNEL_OFFSET = GRID_FEATURE["wall"] - KIND["wall"]

# Features of the observing agent itself, after the window.
SELF_FEATURE_NAMES = (
    *(f"inv:{item}" for item in ITEM_NAMES),
    "last_action",  # id of the action taken last step
    "last_action_success",  # 1 if it succeeded
    "episode_progress",  # step / max_steps scaled to 0..255
)
SELF_FEATURE = {name: i for i, name in enumerate(SELF_FEATURE_NAMES)}
NUM_SELF_FEATURES = len(SELF_FEATURE_NAMES)

# Per-agent, per-episode counters; reported as means over agents named env_agent/<stat>.
STAT_NAMES = (
    *(f"{item}.{what}" for what in ("gained", "lost", "get", "put") for item in ITEM_NAMES),
    *(f"action.{name}.{result}" for name in ACTION_TYPE_NAMES for result in ("success", "failed")),
    "action.invalid",  # action id outside the action space (also counted as a failure)
    "attack.hit",
    "attack.blocked",
    "status.frozen",  # times this agent was frozen
    "status.frozen.ticks",  # steps spent frozen
)
STAT = {name: i for i, name in enumerate(STAT_NAMES)}
NUM_STATS = len(STAT_NAMES)
NUM_ITEMS = len(ITEM_NAMES)
STAT_GAINED = STAT["ore_red.gained"]
STAT_LOST = STAT["ore_red.lost"]
STAT_GET = STAT["ore_red.get"]
STAT_PUT = STAT["ore_red.put"]
STAT_ACTION = STAT["action.noop.success"]  # + 2 * type + (0 success | 1 failed)


def observation_size(obs_height: int, obs_width: int) -> int:
    """Bytes per agent: the window (rows x cols x grid features), then the self features."""
    return obs_height * obs_width * NUM_GRID_FEATURES + NUM_SELF_FEATURES
