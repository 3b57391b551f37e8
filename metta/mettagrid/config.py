"""Environment configuration: pydantic models with ``extra="forbid"``.

A misspelt key fails at construction and pydantic's message names the field, so a bad
YAML override stops before any environment is built.  Item names and object names come
from the stable lists in :mod:`metta.mettagrid.layout`; configuring an unknown one is an
error too.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from metta.mettagrid.layout import ITEM_NAMES, OBJECT_NAMES, ROOM_MAP_CHARS


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_items(resources: dict[str, int], what: str) -> dict[str, int]:
    for name, amount in resources.items():
        if name not in ITEM_NAMES:
            raise ValueError(f"{what}: unknown item {name!r}; known items: {', '.join(ITEM_NAMES)}")
        if amount < 0:
            raise ValueError(f"{what}: amount of {name!r} must be >= 0, got {amount}")
    return resources


# One weight and one optional cap per item: `ore_red: 0.1`, `ore_red_max: 1`.  The cap counts items,
# as in converter-era MettaGrid: `ore_red_max: 1` rewards the first ore held (0.1 at most), so
# hoarding pays little and an item is worth converting as soon as a second one is held.
_reward_fields: dict = {}
for _item in ITEM_NAMES:
    _reward_fields[_item] = (float, Field(default=0.0, description=f"reward per {_item} held"))
    _reward_fields[f"{_item}_max"] = (
        Optional[float],
        Field(default=None, description=f"most {_item} items held that are rewarded (None: no cap)"),
    )
InventoryRewards = create_model("InventoryRewards", __base__=Config, **_reward_fields)
InventoryRewards.__doc__ = "Reward = sum over items of weight * min(amount held, cap); paid as it changes."


class AgentRewards(Config):
    inventory: InventoryRewards = Field(default_factory=InventoryRewards)


class AgentConfig(Config):
    default_resource_limit: int = Field(default=50, ge=0, le=255, description="inventory limit for any item")
    resource_limits: dict[str, int] = Field(
        default_factory=lambda: {"heart": 255}, description="per-item inventory limits overriding the default"
    )
    initial_inventory: dict[str, int] = Field(default_factory=dict, description="items each agent starts with")
    freeze_duration: int = Field(default=10, ge=0, description="steps an agent stays frozen after being hit")
    rewards: AgentRewards = Field(default_factory=AgentRewards)

    @field_validator("resource_limits", "initial_inventory")
    @classmethod
    def _known_items(cls, value: dict[str, int], info) -> dict[str, int]:
        for name, amount in _check_items(value, f"agent.{info.field_name}").items():
            if amount > 255:
                raise ValueError(f"agent.{info.field_name}: {name!r} is {amount}, above the uint8 maximum 255")
        return value


class ActionConfig(Config):
    enabled: bool = Field(default=True, description="a disabled action always fails")


class AttackActionConfig(ActionConfig):
    consumed_resources: dict[str, int] = Field(
        default_factory=lambda: {"laser": 1}, description="items an attack costs the attacker"
    )
    defense_resources: dict[str, int] = Field(
        default_factory=lambda: {"armor": 1}, description="items that block an attack, spent by the target"
    )

    @field_validator("consumed_resources", "defense_resources")
    @classmethod
    def _known_items(cls, value: dict[str, int], info) -> dict[str, int]:
        return _check_items(value, f"actions.attack.{info.field_name}")


class ActionsConfig(Config):
    noop: ActionConfig = Field(default_factory=ActionConfig)
    move: ActionConfig = Field(default_factory=ActionConfig)
    rotate: ActionConfig = Field(default_factory=ActionConfig)
    put_items: ActionConfig = Field(default_factory=ActionConfig)
    get_items: ActionConfig = Field(default_factory=ActionConfig)
    attack: AttackActionConfig = Field(default_factory=AttackActionConfig)
    swap: ActionConfig = Field(default_factory=ActionConfig)


class WallConfig(Config):
    swappable: bool = Field(default=False, description="the swap action can trade places with it")


class ConverterConfig(Config):
    """Takes `input_resources`, works `conversion_ticks`, then holds `output_resources`.

    A converter starts a conversion as soon as it holds its inputs, is not cooling down and
    holds fewer than `max_output` output items; after each output it waits `cooldown` steps.
    """

    input_resources: dict[str, int] = Field(default_factory=dict, description="items consumed per conversion")
    output_resources: dict[str, int] = Field(default_factory=dict, description="items produced per conversion")
    max_output: int = Field(default=5, ge=-1, description="no conversion starts while it holds this many outputs (-1: no limit)")
    conversion_ticks: int = Field(default=1, ge=0, description="steps from start of a conversion to its output")
    cooldown: int = Field(default=0, ge=0, description="steps after an output before the next conversion")
    initial_resource_count: int = Field(default=0, ge=0, le=255, description="output items held at reset")

    @field_validator("input_resources", "output_resources")
    @classmethod
    def _known_items(cls, value: dict[str, int], info) -> dict[str, int]:
        return _check_items(value, info.field_name)


class ObjectsConfig(Config):
    """Classic converter-era objects.  Timings: see docs/environment.md."""

    wall: WallConfig = Field(default_factory=WallConfig)
    block: WallConfig = Field(default_factory=lambda: WallConfig(swappable=True))
    mine_red: ConverterConfig = Field(
        default_factory=lambda: ConverterConfig(
            output_resources={"ore_red": 1}, max_output=5, conversion_ticks=50, cooldown=50
        )
    )
    generator_red: ConverterConfig = Field(
        default_factory=lambda: ConverterConfig(
            input_resources={"ore_red": 1}, output_resources={"battery_red": 1}, max_output=5,
            conversion_ticks=25, cooldown=25,
        )
    )
    altar: ConverterConfig = Field(
        default_factory=lambda: ConverterConfig(
            input_resources={"battery_red": 3}, output_resources={"heart": 1}, max_output=5,
            conversion_ticks=10, cooldown=10,
        )
    )
    lasery: ConverterConfig = Field(
        default_factory=lambda: ConverterConfig(
            input_resources={"ore_red": 1, "battery_red": 2}, output_resources={"laser": 1}, max_output=5,
            conversion_ticks=10, cooldown=10,
        )
    )
    armory: ConverterConfig = Field(
        default_factory=lambda: ConverterConfig(
            input_resources={"ore_red": 3}, output_resources={"armor": 1}, max_output=5,
            conversion_ticks=10, cooldown=10,
        )
    )


class MapBuilderConfig(Config):
    """Rooms laid out in a near-square grid, walled off, objects placed at random per room.

    With `room_map`, every room is that fixed layout instead (rows of the characters in
    ROOM_MAP_CHARS; agents '@' numbered in reading order) and the room size follows it.
    """

    num_rooms: int = Field(default=4, ge=1, description="rooms per map")
    room_width: int = Field(default=25, ge=1, description="interior width of a room")
    room_height: int = Field(default=25, ge=1, description="interior height of a room")
    agents_per_room: int = Field(default=6, ge=1, description="agents placed in each room")
    objects: dict[str, int] = Field(default_factory=dict, description="count of each object per room")
    room_map: Optional[list[str]] = Field(default=None, description="fixed room layout, one string per row")

    @model_validator(mode="before")
    @classmethod
    def _size_from_room_map(cls, data):
        if isinstance(data, dict) and data.get("room_map"):
            rows = data["room_map"]
            if len({len(r) for r in rows}) != 1:
                raise ValueError(f"map_builder.room_map: rows differ in length: {[len(r) for r in rows]}")
            bad = sorted({ch for r in rows for ch in r} - set(ROOM_MAP_CHARS))
            if bad:
                raise ValueError(f"map_builder.room_map: unknown characters {bad}; known: {''.join(ROOM_MAP_CHARS)!r}")
            data = {**data, "room_height": len(rows), "room_width": len(rows[0])}
            data["agents_per_room"] = sum(r.count("@") for r in rows)
            if data.get("objects"):
                raise ValueError("map_builder: give either room_map or objects, not both")
        return data

    @field_validator("objects")
    @classmethod
    def _known_objects(cls, value: dict[str, int]) -> dict[str, int]:
        for name, count in value.items():
            if name not in OBJECT_NAMES:
                raise ValueError(f"map_builder.objects: unknown object {name!r}; known: {', '.join(OBJECT_NAMES)}")
            if count < 0:
                raise ValueError(f"map_builder.objects.{name}: count must be >= 0, got {count}")
        return value

    @model_validator(mode="after")
    def _fits(self) -> "MapBuilderConfig":
        cells = self.room_width * self.room_height
        needed = self.agents_per_room + sum(self.objects.values())
        if needed > cells:
            raise ValueError(
                f"map_builder: {needed} agents and objects do not fit in a "
                f"{self.room_width}x{self.room_height} room ({cells} cells)"
            )
        return self


class GameConfig(Config):
    num_agents: int = Field(default=24, ge=1, description="agents per environment (num_rooms x agents_per_room)")
    max_steps: int = Field(default=1000, ge=1, description="episode length in steps")
    obs_width: int = Field(default=11, ge=3, le=31, description="observation window width (odd)")
    obs_height: int = Field(default=11, ge=3, le=31, description="observation window height (odd)")
    agent: AgentConfig = Field(default_factory=AgentConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    map_builder: MapBuilderConfig = Field(default_factory=MapBuilderConfig)

    @field_validator("obs_width", "obs_height")
    @classmethod
    def _odd(cls, value: int, info) -> int:
        if value % 2 == 0:
            raise ValueError(f"{info.field_name} must be odd so the agent sits at the centre, got {value}")
        return value

    @model_validator(mode="after")
    def _agents_match_rooms(self) -> "GameConfig":
        mb = self.map_builder
        if self.num_agents != mb.num_rooms * mb.agents_per_room:
            raise ValueError(
                f"num_agents={self.num_agents} but map_builder places "
                f"{mb.num_rooms} rooms x {mb.agents_per_room} agents = {mb.num_rooms * mb.agents_per_room}"
            )
        return self


class EnvConfig(Config):
    game: GameConfig = Field(default_factory=GameConfig)
    desync_episodes: bool = Field(
        default=True, description="give each environment's first episode a random max_steps, spreading episode ends"
    )
    reward_target: Optional[float] = Field(default=None, description="target episode reward for this task")
    label: str = Field(default="mettagrid", description="name of this task in logs")

